"""Where `vap summarize` writes: inside --out whatever the names, one folder per video, a rerun never
mistakes another video's summary for this one's, and a failed write fails the video."""

from __future__ import annotations

import errno
import json
import os
from pathlib import Path

import pytest
import torch

from pipeline.data.writer import write_video
from pipeline.inference.summarize.outputs import finished, output_folders
from pipeline.models.backbones import build_backbone


def _touch(path: Path) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(b"")
    return path


def test_names_of_dots_stay_inside_the_output_folder(tmp_path):
    out = tmp_path / "out"
    files = [_touch(tmp_path / "in" / name) for name in ("...mp4", "..mp4", ".hidden.mp4", "ok.mp4")]
    jobs = output_folders([*files, tmp_path / "in"], out)
    for video, folder in jobs:
        assert os.path.commonpath([out, folder]) == str(out) and folder != out, (video, folder)
        assert ".." not in folder.relative_to(out).parts and "." not in folder.relative_to(out).parts
    assert len({folder for _, folder in jobs}) == len(jobs)
    assert output_folders([tmp_path / "in" / ".." / "in"], out)[0][1].parent == out / "in"  # not OUT/..


def test_two_videos_never_share_a_folder(tmp_path):
    a, b = _touch(tmp_path / "a" / "clip.mp4"), _touch(tmp_path / "b" / "clip.mp4")
    x_avi, x_mp4 = _touch(tmp_path / "c" / "x.avi"), _touch(tmp_path / "c" / "x.mp4")
    jobs = dict(output_folders([a, b, tmp_path / "c"], tmp_path / "out"))
    assert len(set(jobs.values())) == 4
    assert jobs[x_avi].name == "x.avi" and jobs[x_mp4].name == "x.mp4"  # told apart by their suffix
    assert jobs[a].name.startswith("clip.mp4-") and jobs[a] != jobs[b]  # and by their path
    assert output_folders([a, b, tmp_path / "c"], tmp_path / "out") == list(jobs.items())  # the same on a rerun


def test_a_folder_holding_another_videos_summary_is_not_done(tmp_path):
    from pipeline.errors import ConfigError

    video, other, folder = tmp_path / "clip.mp4", tmp_path / "old" / "clip.mp4", tmp_path / "out" / "clip"
    assert not finished(video, folder)
    folder.mkdir(parents=True)
    (folder / "summary.json").write_text(json.dumps({"path": str(other)}))
    with pytest.raises(ConfigError, match="holds the summary of .*old/clip.mp4"):
        finished(video, folder)
    (folder / "summary.json").write_text(json.dumps({"path": str(video)}))
    assert finished(video, folder)


@pytest.fixture
def tiny(monkeypatch):
    monkeypatch.setattr("pipeline.inference.summarize.video.default_backbone", lambda: build_backbone("tiny").eval())


def _clip(path: Path, shade: int) -> Path:
    frames = torch.full((30, 3, 32, 48), shade, dtype=torch.uint8)
    frames[:, :, :, :8] = torch.arange(30, dtype=torch.uint8).view(30, 1, 1, 1) * 8  # something that changes
    return write_video(path, frames, fps=10)


def test_same_stems_get_their_own_summaries_end_to_end(tmp_path, tiny, capsys):
    from pipeline.cli import main

    a, b = _clip(tmp_path / "a" / "clip.mp4", 60), _clip(tmp_path / "b" / "clip.mp4", 200)
    out = tmp_path / "out"
    assert main(["summarize", str(a), str(b), "--out", str(out), "--no-video", "--ratio", "0.3"]) == 0
    recorded = sorted(json.loads(p.read_text())["path"] for p in out.rglob("summary.json"))
    assert recorded == sorted([str(a), str(b)])  # two summaries, each of its own video
    assert "skipped (done)" not in capsys.readouterr().out


def test_a_full_disk_fails_the_video_and_a_rerun_tries_again(tmp_path, tiny, monkeypatch, capsys):
    from pipeline.cli import main
    from pipeline.inference.summarize import splice

    def full(*args, **kwargs):
        raise OSError(errno.ENOSPC, "No space left on device")

    video = _clip(tmp_path / "talk.mp4", 90)
    out = tmp_path / "out"
    monkeypatch.setattr(splice, "_write", full)  # muxing the audio beside the video: where a disk filled up
    monkeypatch.setattr(splice, "mux_audio", lambda *a, **k: full())
    assert main(["summarize", str(video), "--out", str(out), "--ratio", "0.3"]) == 1
    err = capsys.readouterr().err
    assert "No space left on device" in err and str(video) in err and len(err.split()) > 3
    assert len([line for line in err.splitlines() if line.strip()]) == 1
    assert not (out / "talk" / "summary.json").exists() and not (out / "talk" / "summary.mp4").exists()
    assert [p.name for p in (out / "talk").iterdir() if p.name.startswith(".")] == []
    monkeypatch.undo()
    monkeypatch.setattr("pipeline.inference.summarize.video.default_backbone", lambda: build_backbone("tiny").eval())
    assert main(["summarize", str(video), "--out", str(out), "--ratio", "0.3"]) == 0  # not skipped as done
    assert (out / "talk" / "summary.json").exists()
