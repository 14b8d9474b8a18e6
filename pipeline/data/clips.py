"""Every evaluation clip of one video, decoded in one go, as a checkpoint's preprocessing says.

preprocessing (the checkpoint's record: sampler, size, test clips, three crops) -> sampler + transform
-> one reader per video, all clips' frames decoded in one request -> `DecodedVideo` with clips
`(J, T, C, H, W)` or, with three crops, `(J, 3, T, C, H, W)`. Used by `vap score`, in worker processes.
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from typing import Any

import numpy as np
import torch

from pipeline.data.backends import open_video
from pipeline.data.samplers import ClipSampler, build_sampler
from pipeline.data.transforms import Compose, build_transforms, default_transforms
from pipeline.errors import ConfigError, VideoError, one_line


@dataclass
class DecodedVideo:
    """One video's evaluation clips and what its reader learned about it."""

    path: str
    clips: torch.Tensor  # uint8 (J, T, C, H, W) or (J, V, T, C, H, W)
    frame_indices: np.ndarray  # int64 (J, T)
    num_frames: int
    fps: float
    width: int
    height: int
    backend: str
    codec_frames: int | None = None  # frames the codec decoded to serve the clips (None: the backend does not count)

    @property
    def duration(self) -> float:
        return self.num_frames / self.fps if self.fps > 0 else 0.0


@dataclass
class FailedVideo:
    """A video that could not be decoded, and why (one line)."""

    path: str
    reason: str


def eval_pipeline(
    preprocessing: dict[str, Any], *, clips: int | None = None, three_crop: bool | None = None
) -> tuple[ClipSampler, Compose]:
    """The sampler and transform that evaluation used, from a checkpoint's preprocessing record;
    `clips` and `three_crop` override its multi-view settings."""
    sampler = build_sampler(preprocessing["sampler"], **(preprocessing.get("sampler_args") or {}))
    clips = preprocessing.get("test_clips", 1) if clips is None else clips
    if clips > 1:
        if not hasattr(sampler, "test_clips"):
            raise ConfigError(f"{preprocessing['sampler']} sampler takes one clip per video; cannot take {clips}")
        sampler = replace(sampler, test_clips=clips)
    three_crop = bool(preprocessing.get("test_three_crop", False)) if three_crop is None else three_crop
    size = int(preprocessing["size"])
    if three_crop:
        transform = default_transforms(size, training=False, three_crop=True)
    elif preprocessing.get("eval_transforms"):
        transform = build_transforms(preprocessing["eval_transforms"])
    else:
        transform = default_transforms(size, training=False)
    return sampler, transform


def decode_clips(
    path: str, *, sampler: ClipSampler, transform: Compose, backend: str = "auto"
) -> DecodedVideo | FailedVideo:
    """All evaluation clips of `path` (the reader opened once); a bad video becomes a `FailedVideo`."""
    try:
        with open_video(path, backend) as reader:
            indices = sampler(reader.meta.num_frames, training=False, fps=reader.meta.fps)  # (J, T)
            frames = reader.get_frames(indices.reshape(-1))  # (J*T, C, H, W)
            m = reader.meta
            served, codec = reader.backend, reader.codec_frames
    except VideoError as e:
        return FailedVideo(path, e.reason)
    except (RuntimeError, OSError, ValueError, IndexError) as e:  # a decoder's own failure
        return FailedVideo(path, one_line(e))
    j, t = indices.shape
    clips = frames.reshape(j, t, *frames.shape[1:])  # (J, T, C, H, W)
    rng = np.random.default_rng(0)  # evaluation transforms are deterministic; the rng is unused
    clips = torch.stack([transform(c, rng) for c in clips])  # (J, T, C, h, w) or (J, 3, T, C, h, w)
    return DecodedVideo(path, clips, indices, m.num_frames, m.fps, m.width, m.height, served, codec)
