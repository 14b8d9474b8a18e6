"""`auto`: the fastest installed backend, chosen by measuring, not by guessing.

The first video opened with `auto` in a process is decoded once by every installed backend with
TSN-8 style indices (a fresh reader each, as a data loader does); the fastest wins for the rest of the
process. A backend whose package is missing, or whose native libraries do not load, drops out.
"""

from __future__ import annotations

import os
import time
from dataclasses import dataclass, field

import numpy as np

from pipeline.data.backends.base import BACKENDS, VideoReader

# Tried in this order; the order only breaks ties and picks a default when nothing can be measured.
PREFERENCE = ("torchcodec", "decord", "pyav")
_IMPORTS = {"torchcodec": "torchcodec.decoders", "decord": "decord", "pyav": "av"}


@dataclass
class AutoChoice:
    backend: str
    seconds: dict[str, float] = field(default_factory=dict)  # median seconds per clip, by backend
    measured_on: str = ""


_choice: AutoChoice | None = None


def available_backends() -> list[str]:
    """Backends whose Python package and native libraries import here."""
    import importlib

    names = []
    for name in PREFERENCE:
        try:
            importlib.import_module(_IMPORTS[name])
        except Exception:  # ImportError, or a RuntimeError/OSError when FFmpeg's libraries are missing
            continue
        names.append(name)
    return names


def measure_backends(
    path: str | os.PathLike[str], *, backends: list[str] | None = None, repeats: int = 3, num_frames: int = 8
) -> dict[str, float]:
    """Median seconds to open `path` and decode `num_frames` spread frames, per backend that can."""
    times: dict[str, float] = {}
    for name in backends or available_backends():
        cls = BACKENDS.get(name)

        def clip(cls: type[VideoReader] = cls) -> float:
            t0 = time.perf_counter()
            with cls(path) as reader:
                n = reader.meta.num_frames
                reader.get_frames(np.linspace(0, n - 1, min(num_frames, n)).astype(np.int64))
            return time.perf_counter() - t0

        try:
            clip()  # warm-up: the first call pays one-time library loading (seconds for TorchCodec)
            times[name] = float(np.median([clip() for _ in range(repeats)]))
        except Exception:
            continue  # this backend cannot read this file: it cannot be the fastest
    return times


def choose_backend(path: str | os.PathLike[str] | None = None) -> AutoChoice:
    """The process-wide choice; measured on `path` the first time it is asked."""
    global _choice
    if _choice is not None:
        return _choice
    names = available_backends()
    if not names:
        raise RuntimeError("no video decoding backend is installed (need one of: torchcodec, decord2, av)")
    if path is None:
        return AutoChoice(names[0])  # nothing to measure on yet; do not cache
    times = measure_backends(path, backends=names)
    if not times:
        return AutoChoice(names[0])  # unreadable file: let the preferred backend report why
    best = min(times, key=lambda k: (times[k], PREFERENCE.index(k)))
    _choice = AutoChoice(best, times, str(path))
    return _choice


def reset_choice() -> None:
    """Forget the measured choice (tests, or after installing another backend)."""
    global _choice
    _choice = None


@BACKENDS.register("auto", doc="The fastest installed backend, measured on the first video opened.")
def open_auto(path: str | os.PathLike[str], *, num_threads: int = 1) -> VideoReader:
    from pipeline.data.backends.base import check_readable

    check_readable(path)  # a missing or empty file is not worth a measurement
    return BACKENDS.build(choose_backend(path).backend, path=path, num_threads=num_threads)
