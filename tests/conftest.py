"""Tiny videos the tests write themselves, in real containers, with frames known exactly."""

from __future__ import annotations

import shutil
from fractions import Fraction
from pathlib import Path

import av
import numpy as np
import pytest
import torch

from pipeline.data.writer import write_video

REPO = Path(__file__).resolve().parents[1]
SAMPLES = REPO / "datasets" / "samples"
SAMPLE_VIDEOS = sorted(SAMPLES.glob("*.mp4"))


def pattern_frames(num_frames: int = 30, height: int = 36, width: int = 40, seed: int = 0) -> torch.Tensor:
    """uint8 (T, C, H, W): a moving gradient plus a per-frame bar code, so every frame is unique."""
    g = torch.Generator().manual_seed(seed)
    yy, xx = torch.meshgrid(torch.arange(height), torch.arange(width), indexing="ij")
    noise = torch.randint(0, 24, (3, height, width), generator=g)
    frames = []
    for t in range(num_frames):
        r = (xx * 5 + 7 * t) % 256
        gch = (yy * 6 + 3 * t) % 256
        b = torch.full_like(xx, (t * 37) % 256)
        f = torch.stack([r, gch, b]) + noise
        bits = [(t >> k) & 1 for k in range(8)]
        for k, bit in enumerate(bits):  # an 8-bit frame number in the top rows
            f[:, :4, k * 4 : k * 4 + 4] = 255 * bit - 24 * (1 - bit)
        frames.append(f.clamp(0, 255).to(torch.uint8))
    return torch.stack(frames)  # (T, C, H, W)


@pytest.fixture(scope="session")
def video_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return tmp_path_factory.mktemp("videos")


@pytest.fixture(scope="session")
def lossless_video(video_dir: Path) -> tuple[Path, torch.Tensor]:
    """FFV1 RGB with a keyframe every 6 frames: every backend must return these exact pixels."""
    frames = pattern_frames(30, 36, 40)
    return write_video(video_dir / "lossless.mkv", frames, fps=25, lossless=True, gop=6), frames


@pytest.fixture(scope="session")
def lossy_video(video_dir: Path) -> tuple[Path, torch.Tensor]:
    """Ordinary H.264 yuv420p in mp4, GOP 8, B-frames on."""
    frames = pattern_frames(40, 48, 64, seed=1)
    return write_video(video_dir / "lossy.mp4", frames, fps=24, gop=8, preset="medium"), frames


def write_audio_only(path: Path, seconds: float = 0.5) -> Path:
    with av.open(str(path), mode="w") as c:
        s = c.add_stream("aac", rate=16000)
        samples = int(16000 * seconds)
        frame = av.AudioFrame.from_ndarray(np.zeros((1, samples), dtype=np.float32), format="fltp", layout="mono")
        frame.sample_rate = 16000
        frame.time_base = Fraction(1, 16000)
        frame.pts = 0
        for p in s.encode(frame):
            c.mux(p)
        for p in s.encode():
            c.mux(p)
    return path


@pytest.fixture(scope="session")
def bad_videos(video_dir: Path, lossy_video: tuple[Path, torch.Tensor]) -> dict[str, Path]:
    """The inputs a new user trips over, each as a file (or a path that is not there)."""
    d = video_dir / "bad"
    d.mkdir()
    good = lossy_video[0].read_bytes()
    out = {
        "zero_bytes": d / "empty.mp4",
        "random_bytes": d / "noise.mp4",
        "truncated": d / "truncated.mp4",
        "text": d / "notes.mp4",
        "audio_only": d / "audio.m4a",
        "missing": d / "missing.mp4",
    }
    out["zero_bytes"].write_bytes(b"")
    out["random_bytes"].write_bytes(np.random.default_rng(0).integers(0, 256, 4096, dtype=np.uint8).tobytes())
    out["truncated"].write_bytes(good[: len(good) // 3])
    out["text"].write_text("this is not a video\n")
    write_audio_only(out["audio_only"])
    return out


@pytest.fixture(scope="session")
def odd_good_videos(video_dir: Path) -> dict[str, Path]:
    """Unusual but valid: one frame; a path with spaces and non-ASCII letters."""
    d = video_dir / "odd dir ünïcödé"
    d.mkdir()
    # 40 px, not 32: decord2 3.4 could not copy out frames 16, 32 or 48 px wide when these tests were written.
    one = write_video(d / "one frame.mp4", pattern_frames(1, 40, 40), fps=25)
    accents = d / "vidéo à l'été.mp4"
    shutil.copy(write_video(video_dir / "short.mp4", pattern_frames(10, 40, 40), fps=25), accents)
    return {"one_frame": one, "non_ascii": accents}


@pytest.fixture(scope="session")
def corpus(video_dir: Path) -> dict[str, tuple[Path, list[int]]]:
    """Every container users bring, written by `ffmpeg` (see `video_corpus.py`), with the numbers on the
    frames a sequential `ffmpeg` decode presents: name -> (path, numbers of frames 0..N-1)."""
    import subprocess

    from video_corpus import CASES, ffmpeg_numbers, write_case

    d = video_dir / "corpus"
    d.mkdir()
    out = {}
    for case in CASES.values():
        path = write_case(case, d)
        out[case.name] = (path, ffmpeg_numbers(path, case.rotation))
    # A stream-copied cut that starts between keyframes: the mp4 edit list drops the frames before it.
    cut = d / "mp4_cut_editlist.mp4"
    subprocess.run(["ffmpeg", "-v", "error", "-y", "-ss", "0.5", "-i", str(out["mp4_h264_bframes"][0]), "-c", "copy",
                    str(cut)], check=True, timeout=60)  # fmt: skip
    out["mp4_cut_editlist"] = (cut, ffmpeg_numbers(cut))
    return out


@pytest.fixture
def in_tmp(tmp_path, monkeypatch) -> Path:
    """A CLI run's working folder: the test's own temporary folder, W&B offline and quiet."""
    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("WANDB_MODE", "offline")
    monkeypatch.setenv("WANDB_SILENT", "true")
    return tmp_path


def train_tiny_checkpoint(
    root: Path,
    *,
    make_args: dict,
    num_segments: int,
    head_args: dict | None = None,
    test_clips: int = 1,
    head: str = "tsn",
    attention: str = "none",
) -> Path:
    """A `vap train` checkpoint made in two SGD steps on moving-digits (written under root/md): tiny
    backbone, tsn head (attention consensus by default) or `head`, 32 px; root/model.ckpt."""
    import lightning as L

    from pipeline.data.datamodule import VideoDataModule
    from pipeline.tasks.classification import VideoClassificationTask

    md = root / "md"
    dm = VideoDataModule(train=str(md / "train.txt"), val=str(md / "val.txt"), test=str(md / "test.txt"),
                         make="moving-digits", make_args=make_args, size=32, batch_size=4, num_workers=0,
                         test_clips=test_clips, sampler_args={"num_segments": num_segments})  # fmt: skip
    if head_args is None:
        head_args = {"consensus": "attention"} if head == "tsn" else {}
    task = VideoClassificationTask(num_classes=6, backbone="tiny", weights=None, head=head, head_args=head_args,
                                   attention=attention)  # fmt: skip
    trainer = L.Trainer(max_steps=2, logger=False, enable_checkpointing=False, enable_progress_bar=False,
                        enable_model_summary=False, num_sanity_val_steps=0, limit_val_batches=0,
                        default_root_dir=root)  # fmt: skip
    trainer.fit(task, datamodule=dm)
    ckpt = root / "model.ckpt"
    trainer.save_checkpoint(ckpt)
    return ckpt
