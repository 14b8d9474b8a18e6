"""The data-loading monitor: its clock readings wait for the GPU, so the data share is true on CUDA."""

from __future__ import annotations

from types import SimpleNamespace

import torch

from pipeline.tasks.callbacks import DataLoadingMonitor


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
