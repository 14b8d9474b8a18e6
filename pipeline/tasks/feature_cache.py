"""Features of a frozen classifier kept on disk between training runs (`task: long_glimpse`).

Decoding every training video and running the classifier on each of its slots takes most of an agent's
training run (15 of 20 minutes on 2 cores for 125 videos); a sweep over seeds or glimpse costs would
redo it each time. The file's name holds a hash of all that decides its contents: the classifier's
weights and preprocessing, every video's path, size and modification time, and the slot settings, so a
changed input is a different file, never a stale one. Written atomically; read with `weights_only`.
"""

from __future__ import annotations

import hashlib
import io
import json
import os
from collections.abc import Callable
from pathlib import Path
from typing import Any

import torch

from pipeline.data.records import write_atomic


def cache_key(model: torch.nn.Module, preprocessing: dict[str, Any], paths: list[str], settings: dict[str, Any]) -> str:
    """A short hash of what the features of `paths` under `model` depend on."""
    h = hashlib.sha256()
    for name, tensor in sorted(model.state_dict().items()):
        h.update(name.encode())
        h.update(tensor.detach().cpu().contiguous().numpy().tobytes())
    h.update(json.dumps([preprocessing, settings], sort_keys=True, default=str).encode())
    for p in paths:
        st = os.stat(p)
        h.update(f"{os.fsencode(p)!r} {st.st_size} {st.st_mtime_ns}\n".encode())
    return h.hexdigest()[:16]


def cached(path: Path, compute: Callable[[], Any]) -> Any:
    """`compute()`, kept at `path`; read from there when it exists."""
    if path.exists():
        return torch.load(path, map_location="cpu", weights_only=True)
    value = compute()
    buf = io.BytesIO()
    torch.save(value, buf)
    path.parent.mkdir(parents=True, exist_ok=True)
    write_atomic(path, buf.getvalue())
    return value
