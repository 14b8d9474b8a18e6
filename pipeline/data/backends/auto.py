"""Per-video backend choice: the first backend that is exact for the file and decodes it.

`auto` tries PyAV, then TorchCodec, then decord, for each video on its own: a backend that would seek
inexactly in the file's container (`VideoReader.inexact_reason`, from a millisecond probe of the
header) is passed over, and one that fails to open or decode the file hands it to the next, so what is
"bad" never depends on which video a run met first. A named backend is tried first and PyAV, exact on
every container, after it. The order is fixed, not measured, so every DDP rank and loader worker
serves a video with the same backend. A video is bad only when every backend failed; the error names
each one tried and why.
"""

from __future__ import annotations

import importlib
import importlib.util
import logging
import os
from collections.abc import Sequence
from functools import cache
from typing import Any

import numpy as np
import torch

from pipeline.data.backends.base import BACKENDS, VideoReader, diagnose
from pipeline.data.backends.probe import Probe, probe_video
from pipeline.errors import VideoError

# PyAV first: exact everywhere, so no probe is needed before it; it opens a long mp4 fastest (TorchCodec's
# exact mode scans the file) with the least memory, and decoded the sample clips fastest
# (docs/bench/data.md). The others serve what PyAV cannot.
AUTO_ORDER = ("pyav", "torchcodec", "decord")
_IMPORTS = {"torchcodec": "torchcodec.decoders", "decord": "decord", "pyav": "av"}
log = logging.getLogger(__name__)


def available_backends() -> list[str]:
    """Backends whose Python package and native libraries import here, in `auto`'s order."""
    return [name for name in _installed() if _load_error(name) is None]


@cache
def _installed() -> tuple[str, ...]:
    """Backends whose package is installed, found without importing it: importing decord2 alone adds
    about 430 MB to a process, so `auto` loads a backend only when a video needs it."""
    return tuple(n for n in AUTO_ORDER if importlib.util.find_spec(_IMPORTS[n].split(".")[0]) is not None)


@cache
def _load_error(name: str) -> str | None:
    """Why the backend's library does not load here (None: it does). Imported once per process."""
    try:
        importlib.import_module(_IMPORTS[name])
    except Exception as e:  # ImportError, or a RuntimeError/OSError when FFmpeg's libraries are missing
        return f"cannot load {_IMPORTS[name]}: {' '.join(str(e).split())[:200]}"
    return None


def candidates(backend: str, device: str = "cpu") -> list[str]:
    """The backends to try, in order, for `backend` ("auto" or a registered name); on a `device` other
    than the CPU, the one that decodes there (TorchCodec) first."""
    if backend == "auto":
        names = list(_installed())
        if not names:
            raise RuntimeError("no video decoding backend is installed (need one of: torchcodec, decord2, av)")
        if device != "cpu" and "torchcodec" in names:
            names.remove("torchcodec")
            names.insert(0, "torchcodec")
        return names
    BACKENDS.get(backend)  # an unknown name lists the allowed ones
    return [backend] if backend == "pyav" else [backend, "pyav"]


class FallbackReader(VideoReader):
    """Serves a video with the first candidate backend that is exact for it and decodes it."""

    name = "auto"

    def __init__(
        self, path: str | os.PathLike[str], *, backends: Sequence[str], num_threads: int = 1, device: str = "cpu"
    ) -> None:
        super().__init__(path, num_threads=num_threads)
        self.device = device
        self.tried: list[tuple[str, str]] = []  # (backend, why it was passed over or failed)
        self._left = list(backends)
        self._probe: Probe | None = None
        self._reader: VideoReader | None = None
        self._next()

    @property
    def backend(self) -> str:
        return self._reader.backend if self._reader is not None else self.name

    @property
    def codec_frames(self) -> int | None:  # type: ignore[override]
        return self._reader.codec_frames if self._reader is not None else None

    @property
    def probe(self) -> Probe:
        if self._probe is None:
            try:
                self._probe = probe_video(self.path)
            except LookupError as e:
                raise VideoError(self.path, str(e)) from e
            except Exception as e:  # FFmpeg cannot parse it: no backend will
                raise VideoError(self.path, diagnose(self.path, e)) from e
        return self._probe

    def _next(self) -> None:
        """Open the next candidate that is exact for the file; raise when none is left."""
        while self._left:
            name = self._left.pop(0)
            cls = BACKENDS.get(name)
            why = _load_error(name) or (None if cls.exact_everywhere else cls.inexact_reason(self.probe))
            if why:
                self.tried.append((name, why))
                continue
            try:
                extra = {"probe": self.probe} if cls.wants_probe else {}
                if self.device != "cpu" and cls.decodes_on_device:
                    extra["device"] = self.device
                self._reader = cls(self.path, num_threads=self.num_threads, **extra)
            except VideoError as e:
                self.tried.append((name, e.reason))
                continue
            self.meta = self._reader.meta
            if self.tried:
                log.info("%s: served by %s (%s)", self.path, name, self._tried_text())
            return
        self._reader = None
        last = self.tried[-1][1] if self.tried else "no backend to try"
        raise VideoError(self.path, f"{last} (tried {self._tried_text()})" if len(self.tried) > 1 else last)

    def _tried_text(self) -> str:
        return "; ".join(f"{name}: {why}" for name, why in self.tried)

    def get_frames(self, indices: Sequence[int] | np.ndarray | torch.Tensor) -> torch.Tensor:
        """The current backend's frames; if it fails on this file, the next backend's."""
        while True:
            try:
                frames = self._reader.get_frames(indices)
            except VideoError as e:
                self.tried.append((self.backend, e.reason))
                self._reader.close()
                self._next()
                continue
            self.meta = self._reader.meta  # a stream shorter than its header lowers the count
            return frames if frames.device.type != "cpu" or self.device == "cpu" else frames.to(self.device)

    def _decode(self, indices: np.ndarray) -> torch.Tensor:  # pragma: no cover - get_frames delegates
        raise NotImplementedError

    def media_container(self) -> Any | None:
        return self._reader.media_container() if self._reader is not None else None

    def close(self) -> None:
        if self._reader is not None:
            self._reader.close()
            self._reader = None


@BACKENDS.register(
    "auto", doc="Per video: TorchCodec, decord, then PyAV, passing over any that is inexact for the file."
)
def open_auto(path: str | os.PathLike[str], *, num_threads: int = 1) -> VideoReader:
    return FallbackReader(path, backends=candidates("auto"), num_threads=num_threads)
