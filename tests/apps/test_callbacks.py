"""The data-loading monitor: its clock readings wait for the GPU, so the data share is true on CUDA. The glimpse
agent's frames-viewed histogram: pooled over the validation batches, written as JSON, sent to W&B."""

from __future__ import annotations

import json
from types import SimpleNamespace

import torch

from pipeline.tasks.callbacks import DataLoadingMonitor, GlimpseTrajectories, write_frames_viewed


def test_timing_synchronises_cuda_before_reading_the_clock(monkeypatch):
    synced = []
    monkeypatch.setattr(torch.cuda, "synchronize", lambda device=None: synced.append(device))
    logged = {}
    module = SimpleNamespace(
        device=torch.device("cuda", 0),
        log=lambda name, value, **kw: logged.__setitem__(name, value),
        log_dict=lambda values, **kw: logged.update(values),
    )
    monitor = DataLoadingMonitor()
    batch = [0, 1, 2]
    monitor.on_train_epoch_start(None, module)
    monitor.on_train_batch_start(None, module, batch, 0)
    monitor.on_train_batch_end(None, module, None, batch, 0)
    assert len(synced) == 3 and all(d == torch.device("cuda", 0) for d in synced)
    assert 0.0 <= logged["perf/data_fraction"] <= 1.0 and logged["perf/clips_per_s"] > 0


def test_no_synchronisation_on_the_cpu(monkeypatch):
    monkeypatch.setattr(torch.cuda, "synchronize", lambda device=None: (_ for _ in ()).throw(AssertionError))
    module = SimpleNamespace(device=torch.device("cpu"), log=lambda *a, **k: None, log_dict=lambda *a, **k: None)
    monitor = DataLoadingMonitor()
    monitor.on_train_epoch_start(None, module)
    monitor.on_train_batch_start(None, module, [0], 0)
    monitor.on_train_batch_end(None, module, None, [0], 0)


class WandbLogger:  # named as Lightning's: the callbacks recognise W&B by the class name
    def __init__(self) -> None:
        self.logged: list[tuple[dict, int]] = []

    def log_metrics(self, metrics: dict, step: int) -> None:
        self.logged.append((metrics, step))


def test_frames_viewed_per_video_are_pooled_over_batches_and_written(tmp_path):
    module = SimpleNamespace(model=SimpleNamespace(agent=SimpleNamespace(max_glimpses=4)))
    cb = GlimpseTrajectories()
    cb.counts = torch.tensor([9, 9, 9, 9, 9])  # a previous validation's: forgotten at the start
    cb.on_validation_epoch_start(None, module)
    cb.on_validation_batch_end(None, module, {"viewed": torch.tensor([1, 4, 4])}, None, 0)
    cb.on_validation_batch_end(None, module, None, None, 1)  # a batch with nothing labeled
    cb.on_validation_batch_end(None, module, {"viewed": torch.tensor([2, 4])}, None, 2)
    assert cb.counts.tolist() == [0, 1, 1, 0, 3]

    wandb = WandbLogger()
    trainer = SimpleNamespace(loggers=[SimpleNamespace(), wandb], global_step=7)
    write_frames_viewed(trainer, cb.counts, tmp_path / "epoch_00" / "frames_viewed.json")
    saved = json.loads((tmp_path / "epoch_00" / "frames_viewed.json").read_text())
    assert saved == {"videos": 5, "mean": 3.0, "histogram": {"0": 0, "1": 1, "2": 1, "3": 0, "4": 3}}
    assert len(wandb.logged) == 1 and wandb.logged[0][1] == 7 and "val/frames_viewed" in wandb.logged[0][0]
