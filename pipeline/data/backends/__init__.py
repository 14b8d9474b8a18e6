"""Decoding backends behind one interface: `open_video(path, backend="auto")`."""

from __future__ import annotations

import os

from pipeline.data.backends import auto, decord_backend, pyav, torchcodec_backend  # noqa: F401 (register)
from pipeline.data.backends.auto import available_backends, choose_backend
from pipeline.data.backends.base import BACKENDS, VideoMeta, VideoReader

__all__ = ["BACKENDS", "VideoMeta", "VideoReader", "available_backends", "choose_backend", "open_video"]


def open_video(path: str | os.PathLike[str], backend: str = "auto", *, num_threads: int = 1) -> VideoReader:
    """Open a video for random frame access. Raises `VideoError` (`<path>: <reason>`) on bad input."""
    return BACKENDS.build(backend, path=path, num_threads=num_threads)
