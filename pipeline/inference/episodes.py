"""A glimpse agent's episode on one video: only the frames the agent asks for are decoded.

video -> one reader -> the checkpoint's sampler places T frame positions (nothing decoded yet) -> the
agent picks position f_1 -> that one frame is decoded, transformed and encoded -> the agent picks f_2 ...
until it halts -> the answer at the halting step. Each decision waits for the frame before it, so the
whole episode runs where the reader is, in the decoding worker processes (one thread each: the workers
are the parallelism), and the main process only writes records (`pipeline.inference.score.AgentScorer`).
A hung or broken video is cut or reported by the worker pool exactly as for the full classifier.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import numpy as np
import torch

from pipeline.data.backends import open_video
from pipeline.data.clips import FailedVideo
from pipeline.data.samplers import ClipSampler
from pipeline.data.transforms import Compose
from pipeline.errors import VideoError, one_line


class FramesOnDemand:
    """A clip of T frame positions that decodes a frame only when it is indexed.

    Stands in for the (B, T, C, H, W) uint8 clip the agent indexes as `video[rows, frames]`: B = 1 here,
    `frames` (1,) the position the agent chose; returns (1, C, h, w) after the evaluation transform."""

    def __init__(self, reader: Any, positions: np.ndarray, transform: Compose) -> None:
        self.reader, self.positions, self.transform = reader, positions, transform
        self.shape = (1, len(positions))
        self.device = torch.device("cpu")
        self.decoded: list[int] = []  # video frame indices, in the order they were asked for

    def __getitem__(self, key: tuple[torch.Tensor, torch.Tensor]) -> torch.Tensor:
        _, frames = key
        wanted = self.positions[frames.cpu().numpy()]  # (B,) video frame indices
        self.decoded.extend(int(i) for i in wanted)
        picked = self.reader.get_frames(wanted)  # (B, C, H, W) uint8
        return self.transform(picked, np.random.default_rng(0))  # (B, C, h, w); eval transforms are fixed


@dataclass
class AgentEpisode:
    """One video as the agent saw it."""

    path: str
    probs: torch.Tensor  # (K,) the answer at the halting step
    looked_at: list[int]  # video frame indices, in the order the agent looked
    positions: int  # frame positions the agent could choose from
    num_frames: int
    fps: float
    backend: str
    frames_decoded: list[int] = field(default_factory=list)
    codec_frames: int | None = None  # frames the codec decoded to serve them (None: the backend does not count)
    seconds: dict[str, float] | None = None  # where the time went (the long-video agent: first look, glimpses, model)

    @property
    def duration(self) -> float:
        return self.num_frames / self.fps if self.fps > 0 else 0.0


def agent_episode(
    path: str, *, model: Any, multilabel: bool, sampler: ClipSampler, transform: Compose, backend: str = "auto"
) -> AgentEpisode | FailedVideo:
    """Run the agent `model` (a GlimpseVideoModel in eval mode) on `path`, decoding only the frames it looks at."""
    try:
        with open_video(path, backend) as reader:
            positions = sampler(reader.meta.num_frames, training=False, fps=reader.meta.fps)[0]  # (T,)
            frames = FramesOnDemand(reader, positions, transform)
            with torch.inference_mode():
                out = model(frames, sample=False)
            m, served, codec = reader.meta, reader.backend, reader.codec_frames
    except VideoError as e:
        return FailedVideo(path, e.reason)
    except (RuntimeError, OSError, ValueError, IndexError) as e:  # a decoder's own failure
        return FailedVideo(path, one_line(e))
    viewed = int(out.viewed[0])
    looked = [int(positions[f]) for f in out.frames[0, :viewed].tolist()]
    probs = torch.sigmoid(out.logits[0]) if multilabel else out.logits[0].softmax(-1)  # (K,)
    return AgentEpisode(path, probs, looked, len(positions), m.num_frames, m.fps, served, frames.decoded, codec)
