"""`vap summarize` decodes a video once for its analysis and its key frames, and no file writer changes the
summary it is given: the record of summary.json is composed from the summary and what the writers did."""

from __future__ import annotations

import json
import os
from collections import Counter

import pytest
import torch

from pipeline.data.writer import write_video
from pipeline.models.backbones import build_backbone


def _video(path):
    frames = torch.zeros(60, 3, 32, 48, dtype=torch.uint8)
    for t in range(60):
        frames[t, t // 20] = 60 + 60 * (t // 20)  # three scenes, one colour channel each
        frames[t, :, :, t % 48] = 255  # a moving line
    return write_video(path, frames, fps=10)


@pytest.fixture
def opened(monkeypatch):
    """Every `open_video` the summarize modules make, by path."""
    import pipeline.data.backends as backends
    import pipeline.inference.summarize.splice as splice
    import pipeline.inference.summarize.video as video

    real, seen, real_mux = backends.open_video, Counter(), splice.mux_audio

    def counting(path, *args, **kwargs):
        seen[str(path)] += 1
        return real(path, *args, **kwargs)

    def mux_audio(video_only, source, *args, **kwargs):  # what the audio is read from: a path is a new open
        seen["audio from a path"] += isinstance(source, str | os.PathLike)
        return real_mux(video_only, source, *args, **kwargs)

    for module in (backends, splice, video):
        monkeypatch.setattr(module, "open_video", counting)
    monkeypatch.setattr(splice, "mux_audio", mux_audio)
    monkeypatch.setattr(video, "default_backbone", lambda: build_backbone("tiny").eval())
    return seen


def test_key_frames_come_from_the_analysis_pass(tmp_path, opened, capsys):
    from pipeline.cli import main

    src = _video(tmp_path / "three scenes.mp4")
    assert main(["summarize", str(src), "--out", str(tmp_path / "out"), "--no-video", "--ratio", "0.3"]) == 0
    assert opened[str(src)] == 1  # features, scores, shots and key frames from one decode
    folder = tmp_path / "out" / "three scenes"
    s = json.loads((folder / "summary.json").read_text())
    assert len(list((folder / "keyframes").glob("*.jpg"))) == len(s["keyframes"]) > 0
    assert s["settings"]["summary_video"] is False
    table = capsys.readouterr().out
    assert "three scenes.mp4" in table and "ok" in table  # the row names the video, not its folder's prefix


def test_the_writers_leave_the_summary_as_it_was(tmp_path, opened):
    from pipeline.inference.summarize.keyframes import SampledFrames
    from pipeline.inference.summarize.outputs import write_outputs
    from pipeline.inference.summarize.video import summarize_video

    src = _video(tmp_path / "v.mp4")
    with SampledFrames() as frames:
        s = summarize_video(src, backbone=build_backbone("tiny").eval(), ratio=0.3, method="rl",
                            method_args={"epochs": 1}, keep=frames)  # fmt: skip
        before = json.dumps(s.__dict__, sort_keys=True, default=str)
        final = write_outputs(s, tmp_path / "out", frames=frames)
    assert json.dumps(s.__dict__, sort_keys=True, default=str) == before
    with pytest.raises(AttributeError):
        s.keyframes = []  # a frozen record
    written = json.loads((tmp_path / "out" / "summary.json").read_text())
    assert written["settings"]["summary_audio"] == final.settings["summary_audio"] == "none"
    assert "summary.mp4" in written["seconds"] and "summary_audio" not in s.settings
    assert opened[str(src)] == 2  # the analysis, then the selected shots for summary.mp4 ...
    assert opened["audio from a path"] == 0  # ... whose audio is read through the same open file
