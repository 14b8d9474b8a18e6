"""Map-style video dataset: record -> sampled, decoded, transformed clip, as a typed sample.

A video that fails to open or decode is never replaced by another one (TSM-style substitution hides
data bugs and changes evaluation): the item comes back as a `VideoFailure`, the collate function
drops it from the batch and carries it along in `VideoBatch.failures`, and a `FailureTracker` in the
training loop counts, logs and stops the run past a failure-rate threshold.
"""

from __future__ import annotations

import logging
import os
from collections.abc import Callable, Sequence
from contextlib import nullcontext
from dataclasses import dataclass, field, replace

import numpy as np
import torch
from torch.utils.data import Dataset

from pipeline.data.annotations import UNLABELED, VideoRecord
from pipeline.data.backends import VideoReader, open_video
from pipeline.data.samplers import ClipSampler
from pipeline.data.transforms import ClipTransform, Compose
from pipeline.errors import VideoError

log = logging.getLogger(__name__)


@dataclass
class VideoSample:
    """One clip of one video."""

    video: torch.Tensor  # uint8 (T, C, H, W); (V, T, C, H, W) after a multi-crop transform
    label: torch.Tensor  # int64 () or multi-hot float (K,)
    video_id: str
    clip_index: int  # which of the sampler's clips (0 in training)
    frame_indices: torch.Tensor  # int64 (T,) frames of the source video
    video_index: int = -1  # the record's position in the dataset (video-level metrics index by it)
    backend: str = ""  # the decoding backend that served the video


@dataclass
class VideoFailure:
    """A video that could not be used, and why."""

    path: str
    video_id: str
    reason: str
    video_index: int = -1  # the record's position in the dataset

    def __str__(self) -> str:
        return f"{self.path}: {self.reason}"


@dataclass
class VideoBatch:
    """A collated batch; `failures` lists the items dropped from it."""

    video: torch.Tensor  # (B, T, C, H, W) or (B, V, T, C, H, W)
    label: torch.Tensor  # (B,) or (B, K)
    video_id: list[str]
    clip_index: torch.Tensor  # (B,)
    frame_indices: torch.Tensor  # (B, T)
    failures: list[VideoFailure] = field(default_factory=list)
    video_index: torch.Tensor | None = None  # (B,) the records' positions in the dataset, when known
    backend: list[str] = field(default_factory=list)  # per item: the backend that served its video

    def __len__(self) -> int:
        return len(self.video_id)

    def _map(self, fn: Callable[[torch.Tensor], torch.Tensor]) -> VideoBatch:
        index = None if self.video_index is None else fn(self.video_index)
        return replace(self, video=fn(self.video), label=fn(self.label), clip_index=fn(self.clip_index),
                       frame_indices=fn(self.frame_indices), video_index=index)  # fmt: skip

    def to(self, device: torch.device | str, non_blocking: bool = False) -> VideoBatch:
        return self._map(lambda t: t.to(device=device, non_blocking=non_blocking))

    def pin_memory(self) -> VideoBatch:
        """Called by DataLoader(pin_memory=True) on custom batch types."""
        return self._map(lambda t: t.pin_memory())


class LastReader:
    """The reader of the last video asked for, kept open for its next clip.

    Evaluation asks for a video's test clips one after another (a batch's items go to one loader worker),
    so keeping the reader saves an open, an index and often a seek per clip: the decoder goes on from
    where the last clip left it. One per process: a reader never crosses a fork (its decoder threads would
    not), and pickling for a spawned worker leaves it behind."""

    def __init__(self) -> None:
        self.path: str | None = None
        self.reader: VideoReader | None = None
        self.pid = os.getpid()
        self.opened = 0  # readers opened (the benchmark and the tests count them)

    def get(self, path: str, backend: str, num_threads: int, device: str = "cpu") -> VideoReader:
        if self.pid != os.getpid():  # inherited through fork: not ours to use or to close
            if self.reader is not None:
                _INHERITED.append(self.reader)
            self.path, self.reader, self.pid = None, None, os.getpid()
        if self.reader is None or self.path != path:
            self.close()
            self.reader = open_video(path, backend, num_threads=num_threads, device=device)
            self.path = path
            self.opened += 1
        return self.reader

    def close(self) -> None:
        if self.reader is not None:
            self.reader.close()
        self.path, self.reader = None, None

    def __getstate__(self) -> dict:
        return {"path": None, "reader": None, "pid": -1, "opened": 0}


_INHERITED: list[VideoReader] = []  # readers a forked worker must leave alone, kept from the collector


class VideoDataset(Dataset):
    """Clips from a list of `VideoRecord`s.

    Training: one random clip per video per epoch. Evaluation: every one of the sampler's test clips
    is its own item (`len = videos x clips`), aggregated per `video_id` by the metrics.
    Randomness is `default_rng([seed, epoch, index])`: the same clips whatever the worker count.
    """

    def __init__(
        self,
        records: Sequence[VideoRecord],
        *,
        sampler: ClipSampler,
        transform: ClipTransform | None = None,
        training: bool = False,
        backend: str = "auto",
        num_classes: int | None = None,
        seed: int = 0,
        num_threads: int = 1,
        multilabel: bool | None = None,
        device: str = "cpu",
    ) -> None:
        self.records = list(records)
        # multi-hot targets when any record has several labels, or when told (e.g. an unlabeled test list
        # for a multi-label model)
        self.multilabel = any(isinstance(r.label, tuple) for r in self.records) if multilabel is None else multilabel
        self.sampler = sampler
        self.transform = transform or Compose([])
        self.training = training
        self.backend = backend
        self.num_classes = num_classes
        self.seed = seed
        self.num_threads = num_threads
        self.device = device  # where the frames are decoded (TorchCodec on a GPU) or moved to
        self.epoch = 0
        self.clips = sampler.num_clips(training)
        self.last_reader = LastReader()  # evaluation with several clips per video reads them with one reader

    def set_epoch(self, epoch: int) -> None:
        """New random clips each epoch (set it before the epoch's workers start)."""
        self.epoch = epoch

    def __len__(self) -> int:
        return len(self.records) * self.clips

    def _label(self, label: int | tuple[int, ...]) -> torch.Tensor:
        """int64 () class index, or float (K,) multi-hot; unlabeled: -1, or (K,) all -1."""
        if self.multilabel and not isinstance(label, tuple):
            label = () if label == UNLABELED else (label,)
        if isinstance(label, tuple):
            if self.num_classes is None:
                raise ValueError("multi-label records need num_classes for the multi-hot target")
            if not label:  # a multi-label file's unlabeled line
                return torch.full((self.num_classes,), float(UNLABELED))  # (K,)
            target = torch.zeros(self.num_classes)
            target[list(label)] = 1.0
            return target  # (K,)
        return torch.tensor(label, dtype=torch.int64)

    def __getitem__(self, key: int | tuple[int, int]) -> VideoSample | VideoFailure:
        """`dataset[i]` at the epoch of the last `set_epoch`, or `dataset[i, epoch]` (see EpochSampler)."""
        index, epoch = key if isinstance(key, tuple) else (key, self.epoch)
        record = self.records[index // self.clips]
        clip = index % self.clips
        rng = np.random.default_rng([self.seed, epoch, index])
        reuse = self.clips > 1 and not self.training
        try:
            if reuse:
                reader = self.last_reader.get(str(record.path), self.backend, self.num_threads, self.device)
            else:
                reader = open_video(record.path, self.backend, num_threads=self.num_threads, device=self.device)
            with nullcontext() if reuse else reader:
                indices = self.sampler(reader.meta.num_frames, rng, training=self.training, fps=reader.meta.fps)
                frames = reader.get_frames(indices[clip])  # (T, C, H, W) uint8
                backend = reader.backend
        except (VideoError, RuntimeError, OSError, ValueError, IndexError) as e:
            if reuse:
                self.last_reader.close()
            reason = e.reason if isinstance(e, VideoError) else f"{type(e).__name__}: {e}"
            return VideoFailure(str(record.path), record.video_id, " ".join(reason.split()), index // self.clips)
        video = self.transform(frames, rng)  # outside the try: a transform error is a config error
        label = self._label(record.label)
        frames_used = torch.from_numpy(indices[clip])
        return VideoSample(video, label, record.video_id, clip, frames_used, index // self.clips, backend)


def collate_videos(items: Sequence[VideoSample | VideoFailure]) -> VideoBatch:
    """Stack the good samples; keep the failures beside them (never substitute another video)."""
    good = [s for s in items if isinstance(s, VideoSample)]
    failures = [s for s in items if isinstance(s, VideoFailure)]
    if not good:
        empty = torch.empty(0, dtype=torch.uint8)
        return VideoBatch(empty, torch.empty(0, dtype=torch.int64), [], torch.empty(0, dtype=torch.int64),
                          torch.empty(0, 0, dtype=torch.int64), failures)  # fmt: skip
    return VideoBatch(
        video=torch.stack([s.video for s in good]),  # (B, T, C, H, W)
        label=torch.stack([s.label for s in good]),  # (B,) or (B, K)
        video_id=[s.video_id for s in good],
        clip_index=torch.tensor([s.clip_index for s in good]),  # (B,)
        frame_indices=torch.stack([s.frame_indices for s in good]),  # (B, T)
        failures=failures,
        video_index=torch.tensor([s.video_index for s in good]),  # (B,)
        backend=[s.backend for s in good],
    )


class TooManyBadVideos(RuntimeError):
    """Raised when the share of videos that fail to decode passes the threshold."""


class FailureTracker:
    """Counts decode failures over a run; logs each bad video once; stops past `max_rate`.

    `min_seen` avoids stopping on the first batch of a small run where one bad file is a large share.
    """

    def __init__(self, max_rate: float = 0.05, min_seen: int = 20) -> None:
        if not 0.0 <= max_rate <= 1.0:
            raise ValueError(f"max_rate must lie in [0, 1], got {max_rate}")
        self.max_rate = max_rate
        self.min_seen = min_seen
        self.seen = 0
        self.failures: dict[str, VideoFailure] = {}
        self.failed_items = 0

    @property
    def rate(self) -> float:
        return self.failed_items / self.seen if self.seen else 0.0

    def update(self, batch: VideoBatch) -> None:
        self.seen += len(batch) + len(batch.failures)
        self.failed_items += len(batch.failures)
        for f in batch.failures:
            if f.path not in self.failures:
                self.failures[f.path] = f
                log.warning("skipping bad video %s", f)
        if self.seen >= self.min_seen and self.rate > self.max_rate:
            raise TooManyBadVideos(
                f"{self.failed_items} of {self.seen} clips failed to decode ({self.rate:.1%} > "
                f"{self.max_rate:.1%} allowed), e.g. {next(iter(self.failures.values()))}; "
                "run `vap check` on the data to list every bad file"
            )
