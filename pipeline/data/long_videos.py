"""Long videos as a glimpse agent sees them: a timeline of slots, the keyframes on it, and the short clip
each slot's glimpse reads.

    timeline(num_frames, fps, keyframes, step, offsets) -> Timeline: one slot per `step` seconds; a slot
        that holds a keyframe starts its clip there (nothing before it needs decoding), any other at the
        slot's start
    LongVideoClips: training's one full pass per video (decoding in loader workers): the keyframes and
        every slot's clip, transformed, for the task to turn into features once
    LongVideoDataModule: `vap train --task long_glimpse`'s data: the lists, the maker and the workers of
        VideoDataModule; its batches are indices into the task's feature cache (videos are decoded once,
        not once per epoch)
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np
import torch
from torch.utils.data import DataLoader, Dataset

from pipeline.data.clips import eval_pipeline
from pipeline.data.datamodule import VideoDataModule
from pipeline.data.sparse_reader import SparseReader
from pipeline.data.transforms import Compose
from pipeline.errors import ConfigError, VideoError


@dataclass
class Timeline:
    """A video's slots: where each slot's clip starts, and which slots hold a keyframe."""

    starts: np.ndarray  # (T,) int64 first frame of each slot's clip
    keyframe: np.ndarray  # (T,) bool: the slot holds a keyframe (its clip starts on it)
    key_slot: np.ndarray  # (K,) the slot of each keyframe


def timeline(num_frames: int, fps: float, keyframes: np.ndarray, step: float, span: int) -> Timeline:
    """Slots every `step` seconds for clips of `span` frames; a slot's clip starts on the first keyframe
    inside the slot where there is one (a glimpse there decodes no frame before its clip)."""
    per = max(step * (fps if fps > 0 else 25.0), 1.0)  # frames per slot
    last = max(num_frames - span, 0)  # the last frame a clip may start on
    count = int(last // per) + 1
    starts = np.minimum(np.round(np.arange(count) * per).astype(np.int64), last)  # (T,)
    keys = np.asarray(keyframes, dtype=np.int64)
    key_slot = np.minimum((keys / per).astype(np.int64), count - 1)  # (K,)
    has_key = np.zeros(count, dtype=bool)
    for k, s in zip(keys[::-1], key_slot[::-1], strict=True):  # the first keyframe of a slot wins
        if k <= last:
            starts[s], has_key[s] = k, True
    return Timeline(starts, has_key, key_slot)


def clip_offsets(preprocessing: dict[str, Any], fps: float = 25.0) -> np.ndarray:
    """Frame offsets (L,) of the classifier's evaluation clip from its first frame (a dense sampler's)."""
    sampler, _ = eval_pipeline(preprocessing, clips=1, three_crop=False)
    span = sampler.span(fps) if hasattr(sampler, "span") else sampler.clip_len
    one = sampler(max(span, sampler.clip_len), training=False, fps=fps)[0]  # (L,)
    return one - one[0]


class LongVideoClips(Dataset):
    """Item i: video i's keyframes and every slot's clip, uint8 after `transform`, from one sequential
    decode (the training videos are read once per run); a broken video gives its `VideoError` reason."""

    def __init__(self, paths: list[str], *, offsets: np.ndarray, transform: Compose, step: float) -> None:
        self.paths, self.offsets, self.transform, self.step = paths, np.asarray(offsets), transform, step

    def __len__(self) -> int:
        return len(self.paths)

    def __getitem__(self, i: int) -> dict[str, Any]:
        rng = np.random.default_rng(0)  # evaluation transforms are fixed
        try:
            with SparseReader(self.paths[i]) as reader:
                m = reader.meta
                keys, key_frames = reader.keyframes()
                span = int(self.offsets[-1]) + 1
                line = timeline(m.num_frames, m.fps, keys, self.step, span)
                wanted = np.clip(line.starts[:, None] + self.offsets[None], 0, m.num_frames - 1)  # (T, L)
                frames = reader.get_frames(wanted.reshape(-1))  # (T*L, C, H, W)
        except (VideoError, RuntimeError, OSError, ValueError) as e:
            return {"index": i, "error": str(e)}
        clips = torch.stack([self.transform(c, rng) for c in frames.view(*wanted.shape, *frames.shape[1:])])
        return {"index": i, "keyframes": self.transform(key_frames, rng), "key_slot": torch.from_numpy(line.key_slot),
                "keyframe": torch.from_numpy(line.keyframe), "clips": clips}  # fmt: skip


class _Indices(Dataset):
    def __init__(self, labels: list[int]) -> None:
        self.labels = labels

    def __len__(self) -> int:
        return len(self.labels)

    def __getitem__(self, i: int) -> tuple[int, int]:
        return i, self.labels[i]


class LongVideoDataModule(VideoDataModule):
    """VideoDataModule's lists, maker and workers for long videos; batches are (index (B,), label (B,))
    pairs the long-video agent's task looks its cached features up by. `step_seconds`: one slot per so
    many seconds."""

    def __init__(self, *, step_seconds: float = 1.0, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        if step_seconds <= 0:
            raise ConfigError(f"data.step_seconds must be above 0, got {step_seconds}")
        self.step_seconds = step_seconds

    def setup(self, stage: str | None = None) -> None:
        for split in ("train", "val", "test"):
            self.read(split)

    def videos(self, split: str) -> tuple[list[str], list[int]]:
        """The paths and labels of a split (empty where the config names none)."""
        ann = self.read(split)
        if ann is None:
            return [], []
        return [str(r.path) for r in ann.records], [int(r.label) for r in ann.records]

    def _indices(self, split: str, *, shuffle: bool) -> DataLoader:
        labels = self.videos(split)[1]
        return DataLoader(_Indices(labels), batch_size=self.batch_size, shuffle=shuffle,
                          generator=torch.Generator().manual_seed(self.seed))  # fmt: skip

    def train_dataloader(self) -> DataLoader:
        return self._indices("train", shuffle=True)

    def val_dataloader(self) -> DataLoader:
        return self._indices("val", shuffle=False)

    def test_dataloader(self) -> DataLoader:
        return self._indices("test", shuffle=False)

    def transfer_batch_to_device(self, batch: Any, device: torch.device, dataloader_idx: int) -> Any:
        return [b.to(device) for b in batch]

    def on_after_batch_transfer(self, batch: Any, dataloader_idx: int) -> Any:
        return batch


def clip_loader(dm: LongVideoDataModule, split: str, offsets: np.ndarray, transform: Compose) -> DataLoader:
    """One item per video of `split`, decoded in the data module's workers (`LongVideoClips`)."""
    paths = dm.videos(split)[0]
    ds = LongVideoClips(paths, offsets=offsets, transform=transform, step=dm.step_seconds)
    return DataLoader(ds, batch_size=None, num_workers=dm.num_workers, persistent_workers=False)
