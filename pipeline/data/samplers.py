"""Frame samplers: pure functions of (num_frames, config, rng) -> frame indices `(num_clips, clip_len)`.

Pure so they can be property-tested and so several loader workers draw the same clips under a seed.
They avoid the known bugs of public loaders: segment edges use exact integer arithmetic so the tail
frames are reachable, end points are exclusive, and a video shorter than a clip is handled by an
explicit policy (`short_video`) instead of silent loop-padding:
  - `stretch` (default): spread the clip over the whole video, repeating frames in order;
  - `loop`: wrap around to the start (what many loaders do silently);
  - `error`: raise, for datasets where a short video is a data bug.
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from dataclasses import dataclass
from typing import Literal

import numpy as np

from pipeline.errors import ConfigError
from pipeline.registry import Registry

SAMPLERS: Registry[type[ClipSampler]] = Registry("sampler")
ShortVideo = Literal["stretch", "loop", "error"]


@dataclass(frozen=True, kw_only=True)
class ClipSampler(ABC):
    """Base: `sampler(num_frames, rng, training=...)` -> int64 `(num_clips, clip_len)`.

    Training draws one random clip; evaluation returns `test_clips` fixed clips spread over the video.
    """

    short_video: ShortVideo = "stretch"

    @property
    @abstractmethod
    def clip_len(self) -> int:
        """Frames per clip."""

    @abstractmethod
    def _sample(self, n: int, rng: np.random.Generator, training: bool, fps: float | None) -> np.ndarray:
        """Indices for a video with at least `self.min_frames(fps)` frames."""

    def min_frames(self, fps: float | None = None) -> int:
        """Fewest frames a video needs before the short-video policy applies."""
        return self.clip_len

    def num_clips(self, training: bool) -> int:
        return 1

    def __call__(
        self,
        num_frames: int,
        rng: np.random.Generator | None = None,
        *,
        training: bool = False,
        fps: float | None = None,
    ) -> np.ndarray:
        if num_frames <= 0:
            raise ConfigError(f"cannot sample from a video with {num_frames} frames")
        if training and rng is None:
            raise ConfigError("training samples need an rng (numpy Generator) for reproducible clips")
        rng = rng if rng is not None else np.random.default_rng(0)
        if num_frames < self.min_frames(fps):
            out = self._short(num_frames, training)
        else:
            out = self._sample(num_frames, rng, training, fps)
        return np.asarray(out, dtype=np.int64).reshape(self.num_clips(training), self.clip_len)

    def _short(self, n: int, training: bool) -> np.ndarray:
        k, clips = self.clip_len, self.num_clips(training)
        if self.short_video == "error":
            raise ConfigError(f"video has {n} frames, fewer than the {self.min_frames()} this sampler needs")
        # loop wraps around; stretch uses every frame, in order, with repeats spread evenly
        one = np.arange(k) % n if self.short_video == "loop" else stretch(n, k)
        return np.tile(one, (clips, 1))


def stretch(n: int, k: int) -> np.ndarray:
    """`k` indices spread evenly over `n` frames, bin centres: floor((i + 0.5) * n / k)."""
    return (np.arange(k) * 2 + 1) * n // (2 * k)


@SAMPLERS.register("tsn")
@dataclass(frozen=True, kw_only=True)
class TSNSampler(ClipSampler):
    """Temporal Segment Networks (Wang et al., ECCV 2016): one frame from each of K equal segments.

    Training takes a random offset in each segment, evaluation the centre (or `test_clips` evenly
    shifted offsets). Segment edges are `i * n // K`, so the last segment ends at the last frame.
    """

    num_segments: int = 8
    test_clips: int = 1

    @property
    def clip_len(self) -> int:
        return self.num_segments

    def num_clips(self, training: bool) -> int:
        return 1 if training else self.test_clips

    def _sample(self, n: int, rng: np.random.Generator, training: bool, fps: float | None) -> np.ndarray:
        k = self.num_segments
        edges = np.arange(k + 1) * n // k  # (K+1,) exact integer edges, edges[-1] == n
        start, length = edges[:-1], np.diff(edges)  # (K,), every length >= 1 since n >= K
        if training:
            return start + rng.integers(0, length)  # (K,)
        j = np.arange(self.test_clips)[:, None]
        return start + ((2 * j + 1) * length) // (2 * self.test_clips)  # (J, K)


@SAMPLERS.register("dense")
@dataclass(frozen=True, kw_only=True)
class DenseSampler(ClipSampler):
    """Dense clips (I3D / SlowFast): `clip_len` consecutive frames at stride `interval`.

    With `target_fps`, the stride follows each video's own frame rate (fps / target_fps), so clips
    cover the same seconds whatever the source rate. Training: one clip at a random start.
    Evaluation: `test_clips` clips with evenly spaced starts (first at frame 0, last ending at the end).
    """

    length: int = 8
    interval: int = 2
    target_fps: float | None = None
    test_clips: int = 1

    @property
    def clip_len(self) -> int:
        return self.length

    def num_clips(self, training: bool) -> int:
        return 1 if training else self.test_clips

    def stride(self, fps: float | None) -> float:
        if self.target_fps is not None and fps:
            return max(fps / self.target_fps, 1e-6)
        return float(self.interval)

    def span(self, fps: float | None = None) -> int:
        """Frames one clip covers, first to last inclusive."""
        return int(np.floor((self.length - 1) * self.stride(fps))) + 1

    def min_frames(self, fps: float | None = None) -> int:
        return self.span(fps)

    def _sample(self, n: int, rng: np.random.Generator, training: bool, fps: float | None) -> np.ndarray:
        span = self.span(fps)
        offsets = np.floor(np.arange(self.length) * self.stride(fps)).astype(np.int64)  # (L,)
        if training:
            starts = rng.integers(0, n - span + 1, size=1)  # (1,)
        elif self.test_clips == 1:
            starts = np.array([(n - span) // 2])
        else:
            starts = np.round(np.linspace(0, n - span, self.test_clips)).astype(np.int64)  # (J,)
        return starts[:, None] + offsets[None, :]  # (J, L)


@SAMPLERS.register("uniform")
@dataclass(frozen=True, kw_only=True)
class UniformSampler(ClipSampler):
    """`length` frames evenly spread over the whole video, the same in training and evaluation."""

    length: int = 8

    @property
    def clip_len(self) -> int:
        return self.length

    def _sample(self, n: int, rng: np.random.Generator, training: bool, fps: float | None) -> np.ndarray:
        return stretch(n, self.length)  # (L,)


def build_sampler(name: str, /, **kwargs: object) -> ClipSampler:
    """A sampler from config: `build_sampler("tsn", num_segments=8)`."""
    return SAMPLERS.build(name, **kwargs)
