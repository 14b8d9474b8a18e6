"""Decoding backends behind one interface: `open_video(path, backend="auto")`."""

from __future__ import annotations

import os

from pipeline.data.backends import decord_backend, pyav, torchcodec_backend  # noqa: F401 (register)
from pipeline.data.backends.auto import AUTO_ORDER, FallbackReader, available_backends, candidates
from pipeline.data.backends.base import BACKENDS, VideoMeta, VideoReader

__all__ = ["AUTO_ORDER", "BACKENDS", "VideoMeta", "VideoReader", "available_backends", "open_video"]


def open_video(
    path: str | os.PathLike[str], backend: str = "auto", *, num_threads: int = 1, device: str = "cpu"
) -> VideoReader:
    """Open a video for exact random frame access: frame n is the n-th frame a sequential decode presents.

    `backend` is "auto" (per video: TorchCodec, decord, then PyAV) or a name, tried first with PyAV
    after it; a backend that would seek inexactly in the file's container, or fails on it, hands it to
    the next (`reader.backend` says which one served it). Raises `VideoError` (`<path>: <reason>`, with
    every backend tried) when none can.

    `device` other than "cpu" (e.g. "cuda"): TorchCodec decodes there (NVDEC) where it is exact for the file,
    tried first; a file it declines is decoded on the CPU and its frames moved to the device.
    """
    return FallbackReader(path, backends=candidates(backend, device), num_threads=num_threads, device=device)
