"""The standalone checkpoints of `vap summarize train`: a supervised VASNet (one model per fold) or a
DR-DSN policy (`--method rl`). `torch.load(weights_only=True)` gives {"vap_summary": a record of plain
types whose "kind" says which, + the weights}; reading one of the wrong kind says, in one line, which
--method takes it."""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

import torch

from pipeline.data.records import atomic_path
from pipeline.errors import ConfigError
from pipeline.models.weights import safe_load

NAMES = {"vasnet": "`vap summarize train` (supervised VASNet)", "dr_dsn": "`vap summarize train --method rl` (DR-DSN)"}
METHODS = {"vasnet": "supervised", "dr_dsn": "rl"}


def save_summary_checkpoint(path: str | os.PathLike[str], record: dict[str, Any], **weights: Any) -> Path:
    """Write {"vap_summary": record, **weights} to a temp name in the same folder, then rename."""
    with atomic_path(path) as tmp:
        torch.save({"vap_summary": record, **weights}, tmp)
    return Path(path)


def read_summary_checkpoint(path: str | os.PathLike[str], kind: str) -> tuple[dict[str, Any], dict[str, Any]]:
    """(the checkpoint, its record) when it is of `kind`; else a one-line ConfigError naming what it is."""
    path = Path(path)
    ckpt = safe_load(path)
    record = ckpt.get("vap_summary") if isinstance(ckpt, dict) else None
    got = record.get("kind") if isinstance(record, dict) else None
    if got == kind:
        return ckpt, record
    if got in NAMES:
        raise ConfigError(f"{path}: a {NAMES[got]} checkpoint (use --method {METHODS[got]})")
    if isinstance(ckpt, dict) and "vap" in ckpt:
        raise ConfigError(f"{path}: a `vap train` checkpoint (use --method attention)")
    raise ConfigError(f"{path}: not a {NAMES[kind]} checkpoint")
