"""Resuming `bench_glimpse.py` runs that a session's end or a kill cut short (`--resume DIR`).

A validation or test run of one RAM row takes 1-3 hours on this CPU, longer than what is left of a
session more often than not. With `--resume DIR` every epoch of every (task, row, seed) ends by writing
its whole training state to DIR, atomically: the weights, Adam's moments, the schedule's step, the
shuffling generator and torch's global RNG (which draws RAM's glimpse locations). Started again with the
same settings and DIR, a run continues from its last finished epoch and ends with the same weights and
error as an uninterrupted one (tested); a finished (task, row, seed) is read back, not trained again.
Lightning's checkpointing does this for `vap train`; this script trains with a plain loop, hence the few
lines here. Everything is loaded with `torch.load(weights_only=True)`.
"""

from __future__ import annotations

import io
import json
from pathlib import Path
from typing import Any

import torch
from torch import nn

from pipeline.data.records import write_atomic

# settings that do not change what a (task, row, seed) learns: which others the command runs, and how it is timed
NOT_DECIDING = ("rows", "seeds", "tasks", "threads", "retina_repeats", "root")


def settings_key(cfg: dict[str, Any]) -> str:
    """The settings that decide one run's numbers, as a canonical string stored beside its state."""
    return json.dumps({k: v for k, v in sorted(cfg.items()) if k not in NOT_DECIDING})


def paths(folder: Path, task: str, row: str, seed: int) -> tuple[Path, Path]:
    """(training state after the last finished epoch, the finished run's result) of one (task, row, seed)."""
    stem = f"{task}_{row}_seed{seed}"
    return folder / f"{stem}.pt", folder / f"{stem}.done.json"


def save_state(path: Path, key: str, *, epoch: int, model: nn.Module, opt: torch.optim.Optimizer,
               sched: torch.optim.lr_scheduler.LRScheduler, gen: torch.Generator, epoch_losses: list[float],
               train_seconds: float, rewards: list[float]) -> None:  # fmt: skip
    """Everything needed to go on after `epoch` epochs, written whole or not at all."""
    buffer = io.BytesIO()
    torch.save(
        {
            "settings": key,
            "epoch": epoch,
            "model": model.state_dict(),
            "opt": opt.state_dict(),
            "sched": sched.state_dict(),
            "gen": gen.get_state(),
            "rng": torch.get_rng_state(),
            "epoch_losses": epoch_losses,
            "train_seconds": train_seconds,
            "rewards": rewards,
        },
        buffer,
    )
    write_atomic(path, buffer.getvalue())


def load_state(path: Path, key: str) -> dict[str, Any] | None:
    """The saved state at `path`, or None if there is none; a state saved with other settings is an error
    (silently training on would mix two experiments)."""
    if not path.exists():
        return None
    state = torch.load(path, weights_only=True)
    check(path, state["settings"], key)
    return state


def check(path: Path, saved: str, key: str) -> None:
    """Raise if `saved` settings are not `key`, naming the settings that differ."""
    if saved == key:
        return
    a, b = json.loads(saved), json.loads(key)
    differ = sorted(k for k in {*a, *b} if a.get(k) != b.get(k))
    raise ValueError(f"{path}: saved with other settings ({', '.join(differ)}); use another --resume folder")


def restore(state: dict[str, Any], *, model: nn.Module, opt: torch.optim.Optimizer,
            sched: torch.optim.lr_scheduler.LRScheduler, gen: torch.Generator) -> None:  # fmt: skip
    """Put a saved state back into freshly built objects (the RNGs included)."""
    model.load_state_dict(state["model"])
    opt.load_state_dict(state["opt"])
    sched.load_state_dict(state["sched"])
    gen.set_state(state["gen"])
    torch.set_rng_state(state["rng"])
