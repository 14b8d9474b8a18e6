"""Summarize one real video with no training data: sampled frames -> ImageNet features -> a summarizer's
importance scores -> KTS shots -> knapsack at the length budget (the pipeline of Zhang et al. 2016 and
Zhou et al. 2018, on any video instead of the h5 features).

video -> every ~fps/2-th frame (B=1, T, C, H, W) -> MobileNetV2 (Sandler et al. 2018) pooled (T, 1280)
-> SUMMARIZERS[method] -> scores (T,) ; KTS(features) -> shots in source frames -> knapsack -> selection
The knapsack values a shot by the sum of its sampled frames' scores by default (`shot_value="sum"`), not
by their mean as the TVSum/SumMe protocol does: the mean prefers many short shots (protocol.shot_values).
A summarizer that consumes frames (attention) also gets each decoded batch, through its own model.
"""

from __future__ import annotations

import math
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import torch
from torchvision.transforms.v2 import functional as TF

from pipeline.data.backends import VideoMeta, open_video
from pipeline.data.transforms import IMAGENET_MEAN, IMAGENET_STD
from pipeline.errors import ConfigError, VideoError
from pipeline.inference.summarize.keyframes import SampledFrames
from pipeline.inference.summarize.summarizers import SUMMARIZERS, Summarizer, build_summarizer
from pipeline.models.summary.kts import kts
from pipeline.models.summary.protocol import SHOT_VALUES, select_shots, shot_scores, shot_values

__all__ = [
    "SUMMARIZERS",
    "VideoSummary",
    "build_summarizer",
    "default_backbone",
    "features_id",
    "frame_features",
    "summarize_video",
    "video_features",
]

DEFAULT_FEATURES = "mobilenet_v2 imagenet"


@dataclass(frozen=True)
class VideoSummary:
    """Everything `summary.json` records about one video's summary; frame indices are the source's."""

    path: str
    num_frames: int
    fps: float
    width: int
    height: int
    method: str
    settings: dict
    indices: list[int]  # sampled frames
    timestamps: list[float]  # seconds of the sampled frames
    scores: list[float]  # importance of each sampled frame
    shots: list[list[int]]  # inclusive [start, end] source frames of every shot
    shot_scores: list[float]  # mean score of each shot's sampled frames
    shot_values: list[float]  # what the knapsack maximised: by settings["shot_value"], sum or mean
    selected: list[int]  # indices into `shots` kept by the knapsack
    keyframes: list[int]  # one source frame per selected shot: its best-scored sampled frame
    seconds: dict = field(default_factory=dict)  # time per stage


def sample_indices(num_frames: int, fps: float, sample_fps: float = 2.0) -> np.ndarray:
    """Every round(fps / sample_fps)-th frame (every 15th at 30 fps, as DSNet samples raw videos)."""
    step = max(1, round(fps / sample_fps)) if fps > 0 else 1
    return np.arange(0, num_frames, step)


def default_backbone() -> torch.nn.Module:
    """ImageNet MobileNetV2 from torch hub's cache (seeded offline by scripts/setup.sh)."""
    from pipeline.models.backbones import build_backbone

    backbone = build_backbone("mobilenet_v2", weights="imagenet").eval()
    backbone.features_id = DEFAULT_FEATURES
    return backbone


def features_id(backbone: torch.nn.Module) -> str:
    """What the features are called in summary.json and in a supervised model's record."""
    return getattr(backbone, "features_id", None) or getattr(backbone, "name", type(backbone).__name__)


@torch.no_grad()
def frame_features(frames: torch.Tensor, backbone: torch.nn.Module, size: int = 224) -> torch.Tensor:
    """uint8 (T, C, H, W) -> pooled ImageNet-normalised backbone features (T, D)."""
    # Resize while still uint8: several times faster than float interpolation at 720p, and no
    # full-resolution float copy of the batch.
    x = TF.resize(frames, [size, size], antialias=True).float().div_(255)  # (T, C, s, s)
    mean = torch.tensor(IMAGENET_MEAN).view(1, 3, 1, 1)
    std = torch.tensor(IMAGENET_STD).view(1, 3, 1, 1)
    return backbone.forward_features((x - mean) / std).pooled  # (T, D)


def video_features(
    path: str | Path,
    backbone: torch.nn.Module,
    *,
    sample_fps: float = 2.0,
    backend: str = "auto",
    batch_size: int = 16,
    progress: Callable[[int, int], None] | None = None,
    encode: Callable[[torch.Tensor], torch.Tensor] | None = None,
    keep: SampledFrames | None = None,
) -> tuple[VideoMeta, np.ndarray, torch.Tensor, torch.Tensor | None]:
    """Decode every ~fps/sample_fps-th frame in batches: (meta, sampled indices (T,), features (T, D),
    `encode(frames)` of every batch concatenated (T, D') or None). The one place `vap summarize` and
    `vap summarize train --method rl` get their features, so a trained policy sees what it is applied to.
    `keep`: where the decoded frames are kept for the key frames (the video is decoded once)."""
    with open_video(path, backend=backend) as video:
        meta = video.meta
        indices = sample_indices(meta.num_frames, meta.fps, sample_fps)  # (T,)
        feats, encoded = [], []
        for start in range(0, len(indices), batch_size):
            batch = indices[start : start + batch_size]  # (b,)
            frames = video.get_frames(batch.tolist())  # (b, C, H, W) uint8
            feats.append(frame_features(frames, backbone))  # (b, D)
            if keep is not None:
                keep.add(batch, frames)
            if encode is not None:
                encoded.append(encode(frames))  # (b, D')
            if progress:
                progress(min(start + batch_size, len(indices)), len(indices))
    if not feats:
        raise VideoError(path, "no frames to sample")
    return meta, indices, torch.cat(feats), torch.cat(encoded) if encoded else None


def shots_from_steps(segments: np.ndarray, indices: np.ndarray, num_frames: int) -> np.ndarray:
    """KTS segments over sampled steps (inclusive) -> inclusive source-frame ranges covering the video."""
    starts = indices[segments[:, 0]].copy()  # (S,)
    starts[0] = 0
    ends = np.append(starts[1:] - 1, num_frames - 1)  # (S,)
    return np.stack([starts, ends], axis=1)  # (S, 2)


def summarize_video(
    path: str | Path,
    *,
    method: str = "rl",
    ratio: float = 0.15,
    sample_fps: float = 2.0,
    max_shot_seconds: float = 60.0,
    backbone: torch.nn.Module | None = None,
    backend: str = "auto",
    batch_size: int = 16,
    seed: int = 0,
    method_args: dict | None = None,
    summarizer: Summarizer | None = None,
    shot_value: str = "sum",
    threads: int = 1,
    progress: Callable[[int, int], None] | None = None,
    keep: SampledFrames | None = None,
) -> VideoSummary:
    """Summarize one video; `progress(done, total)` is called as sampled frames are featurised.

    `shot_value`: the knapsack value of a shot, "sum" of its sampled frames' scores (default) or their
    "mean" (the TVSum/SumMe protocol's rule; scripts/research/summarization/results/summarize_proof.md compares them).

    `summarizer`: a built one (the CLI builds it once: a checkpoint loads once for all videos);
    without it, `SUMMARIZERS[method](seed=seed, **method_args)`.

    `threads`: torch CPU threads while featurising. Default 1: decoding and the model share a small
    machine's cores.

    `keep`: a `SampledFrames` that keeps the decoded frames, so that `write_outputs` writes the key frames
    without decoding the video again.
    """
    if shot_value not in SHOT_VALUES:
        raise ConfigError(f"shot value must be one of {', '.join(SHOT_VALUES)}, got {shot_value!r}")
    before = torch.get_num_threads()
    torch.set_num_threads(threads)
    try:
        return _summarize(path, method=method, ratio=ratio, sample_fps=sample_fps, max_shot_seconds=max_shot_seconds,
                          backbone=backbone, backend=backend, batch_size=batch_size, seed=seed,
                          method_args=method_args, summarizer=summarizer, shot_value=shot_value,
                          progress=progress, keep=keep)  # fmt: skip
    finally:
        torch.set_num_threads(before)


def _summarize(
    path: str | Path,
    *,
    method: str,
    ratio: float,
    sample_fps: float,
    max_shot_seconds: float,
    backbone: torch.nn.Module | None,
    backend: str,
    batch_size: int,
    seed: int,
    method_args: dict | None,
    summarizer: Summarizer | None,
    shot_value: str,
    progress: Callable[[int, int], None] | None,
    keep: SampledFrames | None,
) -> VideoSummary:
    summarizer = summarizer or build_summarizer(method, seed=seed, **(method_args or {}))
    seconds: dict[str, float] = {}
    if backbone is None:  # the CLI loads it once for all videos and passes it in
        t0 = time.perf_counter()
        backbone = default_backbone()
        seconds["load model"] = time.perf_counter() - t0
    t0 = time.perf_counter()
    meta, indices, features, own = video_features(
        path, backbone, sample_fps=sample_fps, backend=backend, batch_size=batch_size, progress=progress,
        encode=summarizer.encode if summarizer.consumes == "frames" else None, keep=keep,
    )  # fmt: skip
    seconds["decode + features"] = time.perf_counter() - t0
    summarizer.check_features(features_id(backbone), features.shape[1], sample_fps=sample_fps)
    t0 = time.perf_counter()
    scores = np.asarray(summarizer.score(features, own), dtype=np.float64)  # (T,)
    seconds["scores"] = time.perf_counter() - t0
    t0 = time.perf_counter()
    # Longest shot: max_shot_seconds, and never longer than the budget, or a short video would be one
    # shot that the knapsack cannot take (an empty summary).
    step = int(indices[1] - indices[0]) if len(indices) > 1 else 1
    w = max(1, min(math.ceil(max_shot_seconds * sample_fps), math.floor(ratio * meta.num_frames) // step))
    segments = kts(features.numpy(), max_segment_length=w).segments  # (S, 2) in steps
    shots = shots_from_steps(segments, indices, meta.num_frames)  # (S, 2) in frames
    # Every summarizer here gives scores in [0, 1] (rl and supervised end in a sigmoid, attention is
    # divided by its largest mean of non-negative weights); one registered later might not. A sum-valued
    # shot must not be negative (the knapsack would leave it out with budget to spare, and a longer shot
    # would be worth less than a shorter one of the same mean), so lift any negative scores to >= 0.
    nonneg = scores - min(0.0, float(scores.min()))  # (T,)
    values = shot_values(nonneg, segments, shot_value)  # (S,) sum or mean of the shot's sampled frames
    selected = select_shots(values, shots, meta.num_frames, ratio)
    keyframes = [int(indices[s + int(np.argmax(scores[s : e + 1]))]) for s, e in segments[selected]]
    seconds["shots + knapsack"] = time.perf_counter() - t0
    return VideoSummary(
        path=str(path),
        num_frames=meta.num_frames,
        fps=meta.fps,
        width=meta.width,
        height=meta.height,
        method=method,
        settings={"ratio": ratio, "sample_fps": sample_fps, "max_shot_seconds": max_shot_seconds, "seed": seed,
                  "features": features_id(backbone), "shot_value": shot_value,
                  "kts": {"vmax": 1.0, "max_segment_length_steps": w}, **summarizer.settings},
        indices=indices.tolist(),
        timestamps=[round(i / meta.fps, 3) if meta.fps > 0 else 0.0 for i in indices.tolist()],
        scores=scores.tolist(),
        shots=shots.tolist(),
        shot_scores=shot_scores(scores, segments).tolist(),
        shot_values=values.tolist(),
        selected=selected.tolist(),
        keyframes=keyframes,
        seconds={k: round(v, 3) for k, v in seconds.items()},
    )  # fmt: skip
