"""`vap summarize VIDEO|FOLDER --out DIR` as a user runs it, on videos the test writes (tiny backbone)."""

from __future__ import annotations

import json

import numpy as np
import pytest
import torch

from pipeline.cli import main
from pipeline.data.backends import open_video
from pipeline.data.writer import write_video
from pipeline.errors import ConfigError
from pipeline.models.backbones import build_backbone
from pipeline.models.summary import knapsack


def _scenes(colors: list[tuple[int, int, int]], lengths: list[int]) -> torch.Tensor:
    """uint8 (T, 3, 32, 48): solid-colour scenes with a little texture, one colour per scene."""
    frames = []
    for (r, g, b), n in zip(colors, lengths, strict=True):
        for t in range(n):
            f = torch.tensor([r, g, b], dtype=torch.int16).view(3, 1, 1).expand(3, 32, 48).clone()
            f[:, :, (t % 48)] = 255 - f[:, :, (t % 48)]  # a moving line
            frames.append(f.clamp(0, 255).to(torch.uint8))
    return torch.stack(frames)


@pytest.fixture()
def videos(tmp_path, monkeypatch):
    monkeypatch.setattr("pipeline.inference.summarize.video.default_backbone", lambda: build_backbone("tiny").eval())
    folder = tmp_path / "in"
    write_video(folder / "a.mp4", _scenes([(200, 30, 30), (30, 200, 30), (30, 30, 200)], [40, 20, 40]), fps=10)
    write_video(folder / "sub" / "b.mkv", _scenes([(90, 90, 90), (250, 250, 0)], [30, 30]), fps=10, lossless=True)
    (folder / "c.mp4").write_bytes(b"\x00\x00\x00\x18ftypmp42" + bytes(300))  # corrupt
    return folder, tmp_path / "out"


def test_summarize_folder_writes_every_output(videos, capsys):
    folder, out = videos
    assert main(["summarize", str(folder), "--out", str(out)]) == 1  # one corrupt video
    err = capsys.readouterr().err
    errors = [line for line in err.splitlines() if "error" in line]
    assert len(errors) == 1 and "c.mp4" in errors[0] and errors[0].startswith("vap summarize: error:")

    a = out / "in" / "a"
    s = json.loads((a / "summary.json").read_text())
    assert s["num_frames"] == 100 and s["fps"] == pytest.approx(10)
    assert s["indices"] == list(range(0, 100, 5))  # 2 fps of 10 fps: every 5th frame
    assert s["timestamps"] == pytest.approx([i / 10 for i in range(0, 100, 5)])
    assert len(s["scores"]) == 20 and s["method"] == "coverage" and s["settings"]["ratio"] == 0.15
    shots = s["shots"]
    assert shots[0][0] == 0 and shots[-1][1] == 99
    assert all(b[0] == a_[1] + 1 for a_, b in zip(shots, shots[1:], strict=False))  # contiguous cover
    kept = sum(b - a_ + 1 for a_, b in s["clips"])
    assert 0 < kept <= 15  # floor(0.15 * 100)
    assert all(shots[k][0] <= a_ <= b <= shots[k][1] for k, (a_, b) in zip(s["selected"], s["clips"], strict=True))
    assert len(s["keyframes"]) == len(s["selected"])
    for k, f in zip(s["selected"], s["keyframes"], strict=True):
        assert shots[k][0] <= f <= shots[k][1] and f in s["indices"]
        in_shot = [sc for i, sc in zip(s["indices"], s["scores"], strict=True) if shots[k][0] <= i <= shots[k][1]]
        assert s["scores"][s["indices"].index(f)] == max(in_shot)  # the shot's best-scored sampled frame
    assert len(list((a / "keyframes").glob("*.jpg"))) == len(s["selected"])
    assert (a / "contact_sheet.jpg").stat().st_size > 0 and (a / "scores.png").stat().st_size > 0
    with open_video(a / "summary.mp4") as v:
        assert v.meta.num_frames == kept
    assert (out / "in" / "sub" / "b" / "summary.json").exists()  # mkv in a sub-folder
    assert not (out / "in" / "c").joinpath("summary.json").exists()


def test_rerun_skips_finished_videos(videos, capsys):
    folder, out = videos
    (folder / "c.mp4").unlink()
    assert main(["summarize", str(folder / "a.mp4"), "--out", str(out), "--no-video"]) == 0
    done = out / "a" / "summary.json"
    first = done.stat().st_mtime_ns
    assert not (out / "a" / "summary.mp4").exists()
    capsys.readouterr()
    assert main(["summarize", "--out", str(out), str(folder / "a.mp4")]) == 0  # options first work too
    assert done.stat().st_mtime_ns == first
    out = capsys.readouterr().out
    assert "skipped" in out and [c.strip() for c in out.strip().splitlines()[-1].split("│")] == ["1", "0", "0", "1"]


def test_shot_value_and_max_distance_reach_summary_json(videos):
    folder, out = videos
    a = folder / "a.mp4"
    assert main(["summarize", str(a), "--out", str(out / "default"), "--no-video", "--method", "rl"]) == 0
    assert main(["summarize", str(a), "--out", str(out / "paper"), "--no-video", "--method", "rl",
                 "--shot-value", "mean", "--max-distance", "20"]) == 0  # fmt: skip
    default, paper = (json.loads((out / d / "a" / "summary.json").read_text()) for d in ("default", "paper"))
    assert default["settings"]["shot_value"] == "sum" and default["settings"]["max_distance"] is None
    assert paper["settings"]["shot_value"] == "mean" and paper["settings"]["max_distance"] == 20
    for s in (default, paper):
        idx = s["indices"]
        sums = [sum(sc for i, sc in zip(idx, s["scores"], strict=True) if a_ <= i <= b) for a_, b in s["shots"]]
        counts = [sum(a_ <= i <= b for i in idx) for a_, b in s["shots"]]
        means = [t / n for t, n in zip(sums, counts, strict=True)]
        assert s["shot_scores"] == pytest.approx(means)
        assert s["shot_values"] == pytest.approx(sums if s is default else means)  # what the knapsack maximised
        lengths = np.minimum([b - a_ + 1 for a_, b in s["shots"]], 15)  # a longer shot is cut to the budget
        kept = knapsack(np.array(s["shot_values"]), lengths, 15).tolist()  # floor(0.15 * 100)
        values = np.array(s["shot_values"])
        assert s["selected"] and lengths[s["selected"]].sum() <= 15  # within the budget, never empty
        # the knapsack's best, or less where a key frame duplicated a better one's
        assert values[s["selected"]].sum() <= values[kept].sum() + 1e-9


def test_negative_scores_are_lifted_before_sum_valued_shots(videos):
    from pipeline.inference.summarize.summarizers import Summarizer
    from pipeline.inference.summarize.video import summarize_video

    class Negative(Summarizer):
        def score(self, features, encoded=None):
            return -np.linspace(1.0, 2.0, len(features))  # (T,) all below 0

    folder, _ = videos
    s = summarize_video(folder / "a.mp4", summarizer=Negative(), backbone=build_backbone("tiny").eval())
    assert s.settings["shot_value"] == "sum" and min(s.shot_values) >= 0 and s.selected  # not an empty summary
    assert min(s.scores) == pytest.approx(-2.0)  # the recorded scores are the summarizer's own
    with pytest.raises(ConfigError, match="shot value must be one of"):
        summarize_video(folder / "a.mp4", summarizer=Negative(), shot_value="max")


def test_max_distance_is_refused_where_it_does_not_apply(videos, tmp_path, capsys):
    folder, out = videos
    for extra in (["--method", "attention", "--checkpoint", str(tmp_path / "x.ckpt")],
                  ["--checkpoint", str(tmp_path / "x.pt")], []):  # fmt: skip
        argv = ["summarize", str(folder / "a.mp4"), "--out", str(out), "--max-distance", "-1" if not extra else "20"]
        assert main(argv + extra) != 0
        err = capsys.readouterr().err.strip().splitlines()
        assert len(err) == 1 and "--max-distance (>= 0) sets DR-DSN's training on each video" in err[0]


def test_help_and_bad_input(capsys, tmp_path):
    with pytest.raises(SystemExit) as e:
        main(["summarize", "videos", "--help"])
    assert e.value.code == 0
    out = capsys.readouterr().out
    assert (
        "examples:" in out
        and "--ratio" in out
        and "{attention,coverage,rl,supervised}" in out
        and "--checkpoint" in out
    )
    assert main(["summarize", str(tmp_path / "missing.mp4"), "--out", str(tmp_path)]) == 1
    assert "no such file or folder" in capsys.readouterr().err


def test_vap_list_shows_the_summarizers(capsys):
    assert main(["list", "summarizer"]) == 0
    assert "rl" in capsys.readouterr().out


def _write_with_audio(path, frames: torch.Tensor, fps: int = 10, rate: int = 16000):
    """H.264 + AAC mono: a 440 Hz tone whose amplitude steps up every second (0.1, 0.2, ...)."""
    import av
    import numpy as np

    with av.open(str(path), "w") as c:
        v = c.add_stream("libx264", rate=fps)
        v.width, v.height, v.pix_fmt = frames.shape[3], frames.shape[2], "yuv420p"
        a = c.add_stream("aac", rate=rate, layout="mono")
        for f in frames:
            for p in v.encode(av.VideoFrame.from_ndarray(f.permute(1, 2, 0).numpy(), format="rgb24")):
                c.mux(p)
        for p in v.encode():
            c.mux(p)
        t = np.arange(int(len(frames) / fps * rate)) / rate
        tone = ((0.1 + 0.1 * np.floor(t)) * np.sin(2 * np.pi * 440 * t)).astype(np.float32)[None]  # (1, n)
        for s in range(0, tone.shape[1], 1024):
            fr = av.AudioFrame.from_ndarray(np.ascontiguousarray(tone[:, s : s + 1024]), format="fltp", layout="mono")
            fr.sample_rate, fr.pts = rate, s
            for p in a.encode(fr):
                c.mux(p)
        for p in a.encode(None):
            c.mux(p)
    return path


def test_summary_video_keeps_the_audio_of_the_selected_shots(tmp_path, monkeypatch):
    import av
    import numpy as np

    monkeypatch.setattr("pipeline.inference.summarize.video.default_backbone", lambda: build_backbone("tiny").eval())
    src = _write_with_audio(tmp_path / "talk.mp4", _scenes([(200, 30, 30), (30, 200, 30)], [50, 50]))
    assert main(["summarize", str(src), "--out", str(tmp_path / "out")]) == 0
    s = json.loads((tmp_path / "out" / "talk" / "summary.json").read_text())
    first = s["clips"][0]
    kept = sum(b - a + 1 for a, b in s["clips"])
    with av.open(str(tmp_path / "out" / "talk" / "summary.mp4")) as c:
        assert [st.type for st in c.streams] == ["video", "audio"]
        audio = np.concatenate([f.to_ndarray() for f in c.decode(audio=0)], axis=1)[0]  # (n,)
    assert abs(audio.size / 16000 - kept / 10) < 0.15  # as long as the selected shots (AAC pads a frame)
    # The first selected shot starts at first[0] / 10 s: its tone has that second's amplitude.
    expected = 0.1 + 0.1 * np.floor(first[0] / 10 + 0.15)  # 0.1-0.2 s in: clips start on a tenth of a second
    middle = audio[int(0.1 * 16000) : int(0.2 * 16000)]  # inside the first shot, past the codec's start-up
    assert np.sqrt(2) * np.sqrt(np.mean(middle**2)) == pytest.approx(expected, abs=0.03)
