"""`vap summarize VIDEO --method attention|supervised --checkpoint CKPT`, offline, with a tiny checkpoint
trained here, and `vap summarize features` -> `train` -> `--method supervised` on videos the test writes."""

from __future__ import annotations

import json

import h5py
import numpy as np
import pytest
import torch
import torchvision.transforms.v2.functional as TF
from conftest import train_tiny_checkpoint

from pipeline.cli import main
from pipeline.data.backends import open_video
from pipeline.data.summary_h5 import SummaryVideo, read_summary_h5, write_summary_h5
from pipeline.data.writer import write_video
from pipeline.models.backbones import build_backbone
from pipeline.models.checkpoint import load_model


def tiny_backbone() -> torch.nn.Module:
    """The same random tiny backbone at every call (a stand-in for ImageNet MobileNetV2)."""
    torch.manual_seed(0)
    return build_backbone("tiny").eval()


@pytest.fixture(scope="module")
def attention_ckpt(tmp_path_factory):
    """A `vap train` checkpoint: tiny backbone, tsn head with attention consensus, 8 segments, size 32,
    two SGD steps on moving-digits; and the same model with avg consensus (no temporal attention)."""
    root = tmp_path_factory.mktemp("attn")
    ckpt = train_tiny_checkpoint(root, make_args={"num_train": 8, "num_val": 2, "num_test": 2}, num_segments=8)
    raw = torch.load(ckpt, weights_only=True)
    # Its own mean/std, unlike ImageNet's, so the test sees whether the summarizer reads them.
    raw["vap"]["preprocessing"].update(mean=[0.3, 0.5, 0.7], std=[0.2, 0.3, 0.4])
    torch.save(raw, ckpt)
    raw["vap"]["model"]["head_args"] = {"consensus": "avg"}
    raw["state_dict"] = {k: v for k, v in raw["state_dict"].items() if ".head.pool." not in k}
    avg = root / "avg.ckpt"
    torch.save(raw, avg)
    return ckpt, avg


def _scenes(lengths: list[int], seed: int = 0) -> torch.Tensor:
    """uint8 (T, 3, 48, 64): one random textured scene per length, a moving bar in each."""
    g = torch.Generator().manual_seed(seed)
    frames = []
    for n in lengths:
        base = torch.randint(0, 256, (3, 6, 8), generator=g).float()
        scene = torch.nn.functional.interpolate(base[None], size=(48, 64), mode="bilinear")[0]
        for t in range(n):
            f = scene.clone()
            f[:, :, (4 * t) % 64] = 255
            frames.append(f.clamp(0, 255).to(torch.uint8))
    return torch.stack(frames)


def test_attention_scores_are_the_checkpoints_attention(attention_ckpt, tmp_path, monkeypatch):
    monkeypatch.setattr("pipeline.inference.summarize.video.default_backbone", tiny_backbone)
    ckpt, _ = attention_ckpt
    # 40 frames at 10 fps -> 8 sampled frames (2 fps) = exactly one clip of the checkpoint's 8 segments
    short = write_video(tmp_path / "short.mp4", _scenes([20, 20]), fps=10)
    long = write_video(tmp_path / "long.mp4", _scenes([50, 30, 40], seed=1), fps=10)
    out = tmp_path / "out"
    assert main(["summarize", str(short), str(long), "--out", str(out), "--method", "attention",
                 "--checkpoint", str(ckpt), "--no-video"]) == 0  # fmt: skip
    s = json.loads((out / "short" / "summary.json").read_text())
    assert s["method"] == "attention" and s["settings"]["checkpoint"] == str(ckpt)
    assert s["settings"]["window"] == 8 and s["settings"]["size"] == 32 and s["settings"]["head"] == "tsn"

    # The same numbers by hand: the checkpoint's eval preprocessing (short side 8/7 * 32, centre crop 32,
    # its own mean/std), its backbone, its head's attention on the one clip, scaled to max 1.
    model, meta = load_model(ckpt)
    with open_video(short) as v:
        frames = v.get_frames(s["indices"])  # (8, 3, 48, 64)
    x = TF.center_crop(TF.resize(frames, [round(32 * 8 / 7)], antialias=True), [32, 32]).float() / 255
    mean = torch.tensor(meta.preprocessing["mean"]).view(1, 3, 1, 1)
    std = torch.tensor(meta.preprocessing["std"]).view(1, 3, 1, 1)
    with torch.no_grad():
        a = model.head(model.backbone((x - mean) / std)[None]).attention[0].double()  # (8,)
    assert s["scores"] == pytest.approx((a / a.max()).tolist(), abs=1e-5)
    assert not np.allclose(s["scores"], s["scores"][0])  # a learned attention, not uniform

    long_s = json.loads((out / "long" / "summary.json").read_text())  # 24 sampled frames, 17 windows
    scores = np.array(long_s["scores"])
    assert scores.shape == (24,) and scores.max() == pytest.approx(1.0) and (scores > 0).all()
    assert long_s["selected"] and long_s["settings"]["features"] == "tiny"


def test_attention_and_supervised_errors(attention_ckpt, tmp_path, capsys, monkeypatch):
    monkeypatch.setattr("pipeline.inference.summarize.video.default_backbone", tiny_backbone)
    ckpt, avg = attention_ckpt
    video = write_video(tmp_path / "v.mp4", _scenes([20, 20]), fps=10)
    run = ["summarize", str(video), "--out", str(tmp_path / "o")]
    cases = [
        (["--method", "attention"], "--method attention needs --checkpoint"),
        (["--method", "supervised"], "--method supervised needs --checkpoint"),
        (["--method", "attention", "--checkpoint", str(avg)], "consensus avg (uniform weights"),
        (["--method", "rl", "--checkpoint", str(ckpt)], "a `vap train` checkpoint (use --method attention)"),
        (["--checkpoint", str(ckpt)], "--method coverage takes no --checkpoint"),
        (["--method", "supervised", "--checkpoint", str(ckpt)], "a `vap train` checkpoint (use --method attention)"),
        (["--method", "attention", "--checkpoint", str(tmp_path / "no.ckpt")], "checkpoint not found"),
    ]
    for extra, message in cases:
        assert main([*run, *extra]) == 1, extra
        err = capsys.readouterr().err
        assert message in err and len(err.strip().splitlines()) == 1, err
    assert not (tmp_path / "o").exists()


def test_features_then_train_then_supervised_on_own_videos(tmp_path, capsys, monkeypatch):
    monkeypatch.setattr("pipeline.inference.summarize.video.default_backbone", tiny_backbone)
    videos_dir = tmp_path / "videos"
    annotated = []
    for i in range(4):  # 60 frames at 30 fps, picks every 15th frame as in the ECCV16 files
        path = write_video(videos_dir / f"clip {i}.mp4", _scenes([30, 30], seed=i), fps=30)
        users = np.zeros((2, 60), np.float32)
        users[:, 30 * (i % 2) : 30 * (i % 2) + 9] = 1
        annotated.append(SummaryVideo(
            key=f"video_{i + 1}", features=np.zeros((4, 1024), np.float32), gtscore=np.array([0.1, 0.2, 0.9, 0.3]),
            user_summary=users, change_points=np.array([[0, 29], [30, 59]]), n_frame_per_seg=np.array([30, 30]),
            n_frames=60, picks=np.arange(0, 60, 15), video_name=path.stem,
        ))  # fmt: skip
    google = write_summary_h5(tmp_path / "eccv16_dataset_summe_google_pool5.h5", annotated)
    own = tmp_path / "summe_own.h5"
    assert main(["summarize", "features", str(google), str(videos_dir), "--out", str(own)]) == 0
    mine = read_summary_h5(own)
    backbone = tiny_backbone()
    from pipeline.inference.summarize.video import frame_features

    with open_video(videos_dir / "clip 2.mp4") as v:
        expected = frame_features(v.get_frames([0, 15, 30, 45]), backbone).numpy()  # (4, 128)
    assert mine[2].features == pytest.approx(expected, abs=1e-5)
    assert mine[2].user_summary == pytest.approx(annotated[2].user_summary) and mine[2].video_name == "clip 2"
    with h5py.File(own) as f:
        assert f.attrs["features"] == "tiny" and f.attrs["source"] == google.name

    ckpt = tmp_path / "own.pt"
    assert main(["summarize", "train", str(own), "--out", str(ckpt), "--splits", "2", "--epochs", "2", "--metric",
                 "max", "--attn-dim", "8"]) == 0  # fmt: skip
    out = tmp_path / "out"
    assert main(["summarize", str(videos_dir / "clip 1.mp4"), "--out", str(out), "--method", "supervised",
                 "--checkpoint", str(ckpt), "--no-video"]) == 0  # fmt: skip
    s = json.loads((out / "clip 1" / "summary.json").read_text())
    assert s["method"] == "supervised" and s["settings"]["trained_features"] == "tiny" and len(s["scores"]) == 4
    assert s["settings"]["folds"] == 2

    # A model trained on the h5 file's own (GoogLeNet-like) features does not apply to a video: one line.
    capsys.readouterr()
    google_ckpt = tmp_path / "google.pt"
    assert main(["summarize", "train", str(google), "--out", str(google_ckpt), "--splits", "2", "--epochs", "1",
                 "--attn-dim", "8"]) == 0  # fmt: skip
    capsys.readouterr()
    assert main(["summarize", str(videos_dir / "clip 1.mp4"), "--out", str(tmp_path / "o2"), "--method",
                 "supervised", "--checkpoint", str(google_ckpt)]) == 1  # fmt: skip
    err = capsys.readouterr().err
    assert "cannot be reproduced" in err and "vap summarize features" in err and len(err.strip().splitlines()) == 1
