"""Scoring with a glimpse-agent checkpoint: only the frames the agent asks for are decoded.

video -> one reader -> the checkpoint's sampler places T frame positions (nothing decoded yet) -> the
agent picks position f_1 -> that one frame is decoded, transformed and encoded -> the agent picks f_2 ...
until it halts -> the answer at the halting step. Each decision waits for the frame before it, so the
whole episode runs where the reader is, in the decoding worker processes (one thread each: the workers
are the parallelism), and the main process only writes records. A hung or broken video is cut or
reported by the worker pool exactly as for the full classifier.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import torch

from pipeline.data.backends import open_video
from pipeline.data.clips import FailedVideo
from pipeline.data.samplers import ClipSampler
from pipeline.data.transforms import Compose
from pipeline.errors import VideoError
from pipeline.tasks.scoring import ScoreRecord

_LOADED: dict[str, Any] = {}  # checkpoint path -> (model, meta), once per worker process


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

    @property
    def duration(self) -> float:
        return self.num_frames / self.fps if self.fps > 0 else 0.0


def _agent(checkpoint: str) -> Any:
    if checkpoint not in _LOADED:
        from pipeline.models.checkpoint import load_agent

        torch.set_num_threads(1)  # one thread per worker process: the processes are the parallelism
        _LOADED[checkpoint] = load_agent(checkpoint)
    return _LOADED[checkpoint]


def agent_episode(
    path: str, *, checkpoint: str, sampler: ClipSampler, transform: Compose, backend: str = "auto"
) -> AgentEpisode | FailedVideo:
    """Run the agent of `checkpoint` on `path`, decoding only the frames it looks at."""
    model, meta = _agent(checkpoint)
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
        return FailedVideo(path, " ".join(f"{type(e).__name__}: {e}".split()))
    viewed = int(out.viewed[0])
    looked = [int(positions[f]) for f in out.frames[0, :viewed].tolist()]
    probs = torch.sigmoid(out.logits[0]) if meta.multilabel else out.logits[0].softmax(-1)  # (K,)
    return AgentEpisode(path, probs, looked, len(positions), m.num_frames, m.fps, served, frames.decoded, codec)


class AgentScorer:
    """Turns agent episodes (or failures) into `ScoreRecord`s; the model ran in the workers."""

    def __init__(self, class_names: list[str], *, topk: int = 5, all_scores: bool = False, **_: Any) -> None:
        self.class_names = list(class_names)
        self.topk = min(topk, len(class_names))
        self.all_scores = all_scores

    def score(self, stream: Iterable[AgentEpisode | FailedVideo]) -> Iterator[ScoreRecord]:
        for item in stream:
            if isinstance(item, FailedVideo):
                yield ScoreRecord(item.path, "error", error=item.reason)
                continue
            top = item.probs.topk(self.topk)
            yield ScoreRecord(
                item.path, "ok", backend=item.backend, duration=round(item.duration, 4), frames=item.num_frames,
                fps=round(item.fps, 4), labels=[self.class_names[i] for i in top.indices.tolist()],
                probs=[round(float(x), 6) for x in top.values],
                scores=[round(float(x), 6) for x in item.probs] if self.all_scores else None,
                glimpse_frames=item.looked_at, frames_decoded=len(item.frames_decoded), codec_frames=item.codec_frames,
            )  # fmt: skip
