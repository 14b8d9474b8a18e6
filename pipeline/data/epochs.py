"""The training loader: each index reaches the dataset together with its epoch, and no clip is drawn
before Lightning has said which epoch it is.

The dataset draws a training clip from `(seed, epoch, index)`. Its copies in the loader's worker
processes cannot see a `set_epoch` made in the main process after they started, so the epoch travels
with the index instead: `EpochSampler` yields `(index, epoch)` keys. It is a `DistributedSampler`, which
Lightning neither replaces nor wraps under DDP, and on which Lightning itself calls `set_epoch` before
every epoch (resumed ones included). So the workers can persist across epochs.

Lightning (2.6) makes the loader's iterator before that `set_epoch` when the model asks for
`trainer.estimated_stepping_batches` in `configure_optimizers`, and a PyTorch iterator with workers asks
the sampler for its first batches as soon as it is made: a resumed run would then draw its first
epoch's clips (and the order of any `DistributedSampler`) from epoch 0. `EpochLoader` starts its
iterator at the first batch instead, which is after `set_epoch`; everything else is PyTorch's DataLoader.
"""

from __future__ import annotations

from collections.abc import Iterator, Sized
from typing import Any

import torch.distributed as dist
from torch.utils.data import DataLoader, DistributedSampler


class EpochSampler(DistributedSampler):
    """`DistributedSampler` (shuffled by seed and epoch, this rank's share) yielding `(index, epoch)`."""

    def __init__(
        self, dataset: Sized, *, num_replicas: int | None = None, rank: int | None = None,
        shuffle: bool = True, seed: int = 0,
    ) -> None:  # fmt: skip
        if num_replicas is None:  # one process unless a process group says otherwise
            num_replicas = dist.get_world_size() if dist.is_available() and dist.is_initialized() else 1
        if rank is None:
            rank = dist.get_rank() if dist.is_available() and dist.is_initialized() else 0
        super().__init__(dataset, num_replicas=num_replicas, rank=rank, shuffle=shuffle, seed=seed)  # type: ignore[arg-type]

    def __iter__(self) -> Iterator[tuple[int, int]]:  # type: ignore[override]
        epoch = self.epoch
        return ((index, epoch) for index in super().__iter__())


class _StartAtFirstBatch:
    """An iterator that makes the DataLoader's own iterator (workers, prefetching) on the first `next`."""

    def __init__(self, loader: DataLoader) -> None:
        self.loader = loader
        self.iterator: Iterator[Any] | None = None

    def __iter__(self) -> _StartAtFirstBatch:
        return self

    def __next__(self) -> Any:
        if self.iterator is None:
            self.iterator = DataLoader.__iter__(self.loader)
        return next(self.iterator)

    def __len__(self) -> int:
        return len(self.loader)


class EpochLoader(DataLoader):
    """A DataLoader whose iteration (and its workers' first indices) starts at the first batch."""

    def __iter__(self) -> Iterator[Any]:  # type: ignore[override]
        return _StartAtFirstBatch(self)
