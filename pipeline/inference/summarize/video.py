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

import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import torch
from torchvision.transforms.v2 import functional as TF

from pipeline.data.backends import VideoMeta, VideoReader, open_video
from pipeline.data.pool import read_ahead
from pipeline.data.remux import keyframe_frames
from pipeline.data.transforms import IMAGENET_MEAN, IMAGENET_STD
from pipeline.errors import ConfigError, VideoError
from pipeline.inference.summarize.keyframes import SampledFrames
from pipeline.inference.summarize.quality import NEIGHBOUR_SECONDS, bad_frames, frame_quality
from pipeline.inference.summarize.selection import (
    KTS_VMAX,
    MAX_SHOT_SECONDS,
    Budget,
    Shots,
    content_shots,
    longest_shot,
)
from pipeline.inference.summarize.summarizers import SUMMARIZERS, Summarizer, build_summarizer
from pipeline.models.summary.protocol import SHOT_VALUES, shot_scores, shot_values

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
DEFAULT_METHOD = "coverage"
QUALITY_SIZE = 112  # px the quality statistics are taken at: a quarter of the features' pixels, the same verdicts


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
    selected: list[int]  # indices into `shots` kept, ascending
    keyframes: list[int]  # source frames, ascending: at least one per selected shot, its most representative good one
    clips: list[list[int]]  # inclusive [start, end] source frames of each kept shot in summary.mp4
    bad_frames: list[int]  # sampled frames that may not be key frames (black, washed out, blank, blurred)
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


def _resized(frames: torch.Tensor, size: int) -> torch.Tensor:
    # Resize while still uint8: several times faster than float interpolation at 720p, and no
    # full-resolution float copy of the batch.
    return TF.resize(frames, [size, size], antialias=True)  # (T, C, s, s) uint8


@torch.no_grad()
def frame_features(frames: torch.Tensor, backbone: torch.nn.Module, size: int = 224) -> torch.Tensor:
    """uint8 (T, C, H, W) -> pooled ImageNet-normalised backbone features (T, D)."""
    return _features(_resized(frames, size), backbone)


@torch.no_grad()
def _features(small: torch.Tensor, backbone: torch.nn.Module) -> torch.Tensor:
    x = small.float().div_(255)  # (T, C, s, s)
    mean = torch.tensor(IMAGENET_MEAN).view(1, 3, 1, 1)
    std = torch.tensor(IMAGENET_STD).view(1, 3, 1, 1)
    return backbone.forward_features((x - mean) / std).pooled  # (T, D)


@dataclass(frozen=True)
class SampledVideo:
    """What the analysis pass gives: the video's meta, the sampled frame indices (T,), their features
    (T, D), a frame-consuming summarizer's encodings (T, D') or None, and their quality (T, 4)."""

    meta: VideoMeta
    indices: np.ndarray
    features: torch.Tensor
    encoded: torch.Tensor | None
    quality: np.ndarray


def _batches(video: VideoReader, indices: np.ndarray, batch_size: int) -> Iterator[tuple[np.ndarray, torch.Tensor]]:
    for start in range(0, len(indices), batch_size):
        batch = indices[start : start + batch_size]  # (b,)
        yield batch, video.get_frames(batch.tolist())  # (b, C, H, W) uint8


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
) -> SampledVideo:
    """Decode every ~fps/sample_fps-th frame in batches (the next batch decodes while this one runs through
    the backbone) into features, quality and `encode(frames)`. The one place `vap summarize` and
    `vap summarize train --method rl` get their features, so a trained policy sees what it is applied to.
    `keep`: where the decoded frames are kept for the key frames (the video is decoded once)."""
    with open_video(path, backend=backend) as video:
        meta = video.meta
        indices = sample_indices(meta.num_frames, meta.fps, sample_fps)  # (T,)
        feats, encoded, quality = [], [], []
        for batch, frames in read_ahead(_batches(video, indices, batch_size), 2):  # decoding runs a batch ahead
            small = _resized(frames, 224)  # (b, C, 224, 224) uint8
            feats.append(_features(small, backbone))  # (b, D)
            quality.append(frame_quality(TF.resize(small, [QUALITY_SIZE, QUALITY_SIZE], antialias=True)))  # (b, 4)
            if keep is not None:
                keep.add(batch, frames)
            if encode is not None:
                encoded.append(encode(frames))  # (b, D')
            if progress:
                progress(int(np.searchsorted(indices, batch[-1])) + 1, len(indices))
    if not feats:
        raise VideoError(path, "no frames to sample")
    own = torch.cat(encoded) if encoded else None
    return SampledVideo(meta, indices, torch.cat(feats), own, np.concatenate(quality))


def shots_from_steps(
    segments: np.ndarray, indices: np.ndarray, num_frames: int, keyframes: np.ndarray | None = None
) -> np.ndarray:
    """KTS segments over sampled steps (inclusive) -> inclusive source-frame ranges covering the video.

    A change found at sampled step s happened somewhere after the sampled frame before it. Where the video
    has a keyframe in that gap (x264 puts one at a scene cut), the shot starts there: at the cut, and a
    cut summary.mp4 can copy instead of re-encoding (data/remux.py). Otherwise it starts halfway through
    the gap, the unbiased guess (the sampled frame itself would put every cut half a step late)."""
    starts = indices[segments[:, 0]].copy()  # (S,)
    if len(starts) > 1:
        before = indices[segments[1:, 0] - 1]  # (S - 1,) the sampled frame before each change
        guess = (before + starts[1:]) // 2 + 1  # (S - 1,) halfway: the cut is as likely early as late
        if keyframes is not None and len(keyframes):
            at = np.searchsorted(keyframes, starts[1:], side="right") - 1  # (S - 1,) last keyframe <= start
            key = keyframes[np.maximum(at, 0)]
            guess = np.where((at >= 0) & (key > before), key, guess)
        starts[1:] = guess
    starts[0] = 0
    ends = np.append(starts[1:] - 1, num_frames - 1)  # (S,)
    return np.stack([starts, ends], axis=1)  # (S, 2)


def summarize_video(
    path: str | Path,
    *,
    method: str = DEFAULT_METHOD,
    ratio: float = 0.15,
    budget: Budget | None = None,
    sample_fps: float = 2.0,
    max_shot_seconds: float = MAX_SHOT_SECONDS,
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

    `budget`: the summary's length, a share of the frames, seconds or N key frames (default
    `Budget(ratio=ratio)`). `max_shot_seconds`: the longest shot (selection.content_shots).

    `shot_value`: for the score summarizers under a length budget, the knapsack value of a shot, "sum" of
    its sampled frames' scores (default) or their "mean" (the TVSum/SumMe protocol's rule;
    scripts/research/summarization/results/summarize_proof.md compares them).

    `summarizer`: a built one (the CLI builds it once: a checkpoint loads once for all videos);
    without it, `SUMMARIZERS[method](seed=seed, **method_args)`.

    `threads`: torch CPU threads while featurising. Default 1: decoding (in a thread of its own) and the
    model share a small machine's cores.

    `keep`: a `SampledFrames` that keeps the decoded frames, so that `write_outputs` writes the key frames
    without decoding the video again.
    """
    if shot_value not in SHOT_VALUES:
        raise ConfigError(f"shot value must be one of {', '.join(SHOT_VALUES)}, got {shot_value!r}")
    budget = budget or Budget(ratio=ratio)
    before = torch.get_num_threads()
    torch.set_num_threads(threads)
    try:
        return _summarize(path, method=method, budget=budget, sample_fps=sample_fps, max_shot_seconds=max_shot_seconds,
                          backbone=backbone, backend=backend, batch_size=batch_size, seed=seed,
                          method_args=method_args, summarizer=summarizer, shot_value=shot_value,
                          progress=progress, keep=keep)  # fmt: skip
    finally:
        torch.set_num_threads(before)


def _summarize(
    path: str | Path,
    *,
    method: str,
    budget: Budget,
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
    v = video_features(
        path, backbone, sample_fps=sample_fps, backend=backend, batch_size=batch_size, progress=progress,
        encode=summarizer.encode if summarizer.consumes == "frames" else None, keep=keep,
    )  # fmt: skip
    meta, indices = v.meta, v.indices
    seconds["decode + features"] = time.perf_counter() - t0
    summarizer.check_features(features_id(backbone), v.features.shape[1], sample_fps=sample_fps)
    t0 = time.perf_counter()
    scores = np.asarray(summarizer.score(v.features, v.encoded), dtype=np.float64)  # (T,)
    seconds["scores"] = time.perf_counter() - t0
    t0 = time.perf_counter()
    x = v.features.numpy().astype(np.float64)  # (T, D)
    w = longest_shot(len(x), sample_fps, max_shot_seconds)
    segments = content_shots(x, sample_fps, max_shot_seconds=max_shot_seconds)  # (S, 2) in steps, at most w long
    frames = shots_from_steps(segments, indices, meta.num_frames, keyframe_frames(path))  # (S, 2) in frames
    # Every summarizer here gives scores in [0, 1] (rl and supervised end in a sigmoid, attention is
    # divided by its largest mean of non-negative weights); one registered later might not. A sum-valued
    # shot must not be negative (the knapsack would leave it out with budget to spare, and a longer shot
    # would be worth less than a shorter one of the same mean), so lift any negative scores to >= 0.
    nonneg = scores - min(0.0, float(scores.min()))  # (T,)
    x /= np.maximum(np.linalg.norm(x, axis=1, keepdims=True), 1e-12)
    bad = bad_frames(v.quality, segments, x, window=round(NEIGHBOUR_SECONDS * sample_fps))  # (T,)
    shots = Shots(features=x, scores=nonneg, bad=bad, segments=segments, frames=frames)
    chosen = summarizer.select(shots, budget, indices, meta.num_frames, meta.fps, shot_value=shot_value)
    seconds["shots + selection"] = time.perf_counter() - t0
    return VideoSummary(
        path=str(path),
        num_frames=meta.num_frames,
        fps=meta.fps,
        width=meta.width,
        height=meta.height,
        method=method,
        settings={**budget.settings(), "sample_fps": sample_fps, "max_shot_seconds": max_shot_seconds,
                  "seed": seed, "features": features_id(backbone), "shot_value": shot_value,
                  "kts": {"vmax": KTS_VMAX, "max_segment_length_steps": w},
                  **summarizer.settings},
        indices=indices.tolist(),
        timestamps=[round(i / meta.fps, 3) if meta.fps > 0 else 0.0 for i in indices.tolist()],
        scores=scores.tolist(),
        shots=frames.tolist(),
        shot_scores=shot_scores(scores, segments).tolist(),
        shot_values=shot_values(nonneg, segments, shot_value).tolist(),
        selected=chosen.shots,
        keyframes=[int(indices[s]) for s in chosen.keysteps],
        clips=chosen.clips,
        bad_frames=indices[bad].tolist(),
        seconds={k: round(v, 3) for k, v in seconds.items()},
    )  # fmt: skip
