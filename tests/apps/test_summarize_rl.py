"""`vap summarize train --method rl VIDEO|FOLDER --out POLICY.pt` and `vap summarize VIDEO --method rl
--checkpoint POLICY.pt`, as a user runs them, on videos the test writes (tiny backbone)."""

from __future__ import annotations

import json

import numpy as np
import pytest
import torch

from pipeline.cli import main
from pipeline.data.writer import write_video
from pipeline.inference.summarize.video import video_features
from pipeline.models.backbones import build_backbone
from pipeline.models.summary.dsn import dsn_scores, load_dsn


def _scenes(colors: list[tuple[int, int, int]], length: int = 20) -> torch.Tensor:
    """uint8 (T, 3, 32, 48): solid-colour scenes of `length` frames with a moving line."""
    frames = []
    for rgb in colors:
        for t in range(length):
            f = torch.tensor(rgb, dtype=torch.uint8).view(3, 1, 1).expand(3, 32, 48).clone()
            f[:, :, t % 48] = 255 - f[:, :, t % 48]
            frames.append(f)
    return torch.stack(frames)


TINY = build_backbone("tiny").eval()  # one instance: training and applying see the same features


@pytest.fixture()
def folder(tmp_path, monkeypatch):
    monkeypatch.setattr("pipeline.inference.summarize.video.default_backbone", lambda: TINY)
    root = tmp_path / "clips"
    write_video(root / "a.mp4", _scenes([(200, 30, 30), (30, 200, 30), (200, 30, 30)]), fps=10)
    write_video(root / "sub" / "b.mp4", _scenes([(30, 30, 200), (250, 250, 0)]), fps=10)
    (root / "broken.mp4").write_bytes(b"\x00\x00\x00\x18ftypmp42" + bytes(300))
    return root


def test_train_on_a_folder_then_apply(folder, tmp_path, capsys):
    ckpt = tmp_path / "rl.pt"
    args = ["summarize", "train", "--method", "rl", str(folder), "--out", str(ckpt), "--epochs", "3", "--hidden", "16"]
    assert main(args) == 1  # one video skipped
    err = [line for line in capsys.readouterr().err.splitlines() if "error" in line]
    assert len(err) == 1 and "broken.mp4" in err[0] and err[0].startswith("vap summarize train: error:")
    model, record = load_dsn(ckpt)
    assert [v["path"] for v in record["videos"]] == [str(folder / "a.mp4"), str(folder / "sub" / "b.mp4")]
    assert [v["steps"] for v in record["videos"]] == [12, 8]  # 2 fps of 10 fps: every 5th frame
    assert record["skipped"][0]["path"] == str(folder / "broken.mp4") and len(record["reward_per_epoch"]) == 3
    assert record["features"] == "tiny" and record["sample_fps"] == 2.0 and record["model"]["hidden"] == 16
    assert record["config"]["max_distance"] is None  # R_div over all pairs, the default everywhere

    out = tmp_path / "out"
    assert (
        main(
            [
                "summarize",
                str(folder / "a.mp4"),
                "--out",
                str(out),
                "--method",
                "rl",
                "--checkpoint",
                str(ckpt),
                "--no-video",
            ]
        )
        == 0
    )
    s = json.loads((out / "a" / "summary.json").read_text())
    assert s["settings"]["checkpoint"] == str(ckpt) and s["settings"]["trained_on_videos"] == 2
    assert s["settings"]["max_distance"] is None and s["settings"]["shot_value"] == "sum"
    x = video_features(folder / "a.mp4", TINY).features
    assert np.allclose(s["scores"], dsn_scores(model, x).numpy(), atol=1e-6)  # the saved policy, as trained


def test_mismatches_are_refused_with_one_line(folder, tmp_path, capsys):
    ckpt = tmp_path / "rl.pt"
    video = folder / "a.mp4"
    args = ["summarize", "train", "--method", "rl", str(video), "--out", str(ckpt), "--epochs", "1", "--hidden", "8"]
    assert main(args) == 0
    capsys.readouterr()

    def refused(argv: list[str], message: str) -> None:
        assert main(argv) != 0
        lines = capsys.readouterr().err.strip().splitlines()
        assert len(lines) == 1 and message in lines[0], lines

    out = str(tmp_path / "out")
    refused(["summarize", str(video), "--out", out, "--method", "rl", "--checkpoint", str(ckpt), "--sample-fps", "4"],
            "trained on frames sampled at 2 fps; pass --sample-fps 2")  # fmt: skip
    refused(["summarize", str(video), "--out", out, "--method", "supervised", "--checkpoint", str(ckpt)],
            "use --method rl")  # fmt: skip
    refused(["summarize", "train", str(video), "--out", str(tmp_path / "x.pt")],
            "not an h5 file; to train on videos (no labels): vap summarize train --method rl")  # fmt: skip
    (tmp_path / "d.h5").write_bytes(b"")
    refused(["summarize", "train", "--method", "rl", str(tmp_path / "d.h5"), "--out", str(tmp_path / "x.pt")],
            "an h5 file trains the supervised model")  # fmt: skip
    # Nothing readable: the video's own error line, then the one saying there is nothing to train on.
    assert main(["summarize", "train", "--method", "rl", str(folder / "broken.mp4"), "--out", str(tmp_path / "x.pt")])
    err = [line for line in capsys.readouterr().err.splitlines() if line.strip()]
    assert err[0].startswith("vap summarize train: error:") and "broken.mp4" in err[0]
    assert err[1:] == ["vap summarize: error: no video could be read: nothing to train on"]
    assert not (tmp_path / "x.pt").exists()


def test_train_help_names_both_forms(capsys):
    with pytest.raises(SystemExit):
        main(["summarize", "train", "--help"])
    assert "--method rl holidays/ --out rl_policy.pt" in capsys.readouterr().out
    with pytest.raises(SystemExit):
        main(["summarize", "train", "--method", "rl", "--help"])
    text = capsys.readouterr().out
    assert "--max-distance" in text and "vap summarize holiday.mp4 --out summaries --method rl --checkpoint" in text
