"""Training callbacks: throughput and data-loading share, and where the run's outputs went."""

from __future__ import annotations

import time
from typing import Any

import lightning as L


class ThroughputMonitor(L.Callback):
    """Logs clips/s, data time and step time per training batch, and the share of time spent waiting
    for data (a high share means more loader workers, or re-encoded videos, are the cure)."""

    def __init__(self) -> None:
        self._last_end: float | None = None
        self._start = 0.0
        self._data = 0.0

    def on_train_epoch_start(self, trainer: L.Trainer, pl_module: L.LightningModule) -> None:
        self._last_end = time.perf_counter()

    def on_train_batch_start(
        self, trainer: L.Trainer, pl_module: L.LightningModule, batch: Any, batch_idx: int
    ) -> None:
        self._start = time.perf_counter()
        self._data = self._start - (self._last_end or self._start)

    def on_train_batch_end(
        self, trainer: L.Trainer, pl_module: L.LightningModule, outputs: Any, batch: Any, batch_idx: int
    ) -> None:
        end = time.perf_counter()
        step = end - self._start
        total = max(1e-9, step + self._data)
        n = len(batch)
        pl_module.log("perf/clips_per_s", n / total, on_step=True, on_epoch=True, prog_bar=True, batch_size=max(1, n))
        pl_module.log_dict(
            {"perf/data_time": self._data, "perf/step_time": step, "perf/data_fraction": self._data / total},
            on_step=True, on_epoch=True, batch_size=max(1, n),
        )  # fmt: skip
        self._last_end = end
