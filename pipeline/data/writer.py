"""Writing videos with PyAV: test clips, the built-in dataset, re-encoding and summary clips.

`lossless=True` writes FFV1 (RGB, intra plus `gop`), so every decoder must give back the exact
pixels: the conformance tests rely on it. Lossless H.264 (x264 at qp 0, `libx264rgb` or yuv420p) was
tried first and dropped: decord2 3.4 returns the wrong frame after a seek in such streams (an earlier
keyframe's neighbour), while PyAV and TorchCodec agree; ordinary x264 streams decode identically.
"""

from __future__ import annotations

import os
from collections.abc import Iterable
from fractions import Fraction
from pathlib import Path

import numpy as np
import torch


def write_video(
    path: str | os.PathLike[str],
    frames: torch.Tensor | np.ndarray | Iterable[torch.Tensor | np.ndarray],
    *,
    fps: float = 25.0,
    lossless: bool = False,
    crf: int = 23,
    gop: int | None = None,
    preset: str = "veryfast",
    threads: int = 1,
    reproducible: bool = False,
) -> Path:
    """Encode uint8 RGB frames `(T, C, H, W)` (or an iterable of `(C, H, W)`) to `path`.

    Default: H.264 yuv420p (H and W must be even); VP9 for .webm. `lossless=True`: FFV1 RGB, use .mkv.
    `gop` caps the keyframe interval (x264's `-g`).

    `reproducible=True` (H.264 only) turns off x264's macroblock-tree rate control (`mbtree=0`), so the
    same frames give the same bytes in every run. With it on, the libx264 that PyAV's wheels bundle (core
    165) gave different bytes for the same frames from one process to the next, in 39 of 60 moving-digits
    videos, with one thread and nothing else running; with `mbtree=0` none did (Debian's ffmpeg
    program, core 164, was reproducible either way). The cost: files about 40% larger on
    moving-digits at CRF 18 (mbtree spends fewer bits on what later frames do not reference).
    """
    import av

    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    rate = Fraction(fps).limit_denominator(1001)
    with av.open(str(path), mode="w") as container:
        stream = None
        for frame in frames:
            arr = _hwc(frame)  # (H, W, 3)
            if stream is None:
                h, w = arr.shape[:2]
                if not lossless and (h % 2 or w % 2):
                    raise ValueError(f"{path}: yuv420p needs an even frame size, got {w}x{h}")
                webm = path.suffix.lower() == ".webm"  # WebM holds VP8/VP9/AV1 only (Something-Something)
                codec = "ffv1" if lossless else "libvpx-vp9" if webm else "libx264"
                stream = container.add_stream(codec, rate=rate)
                stream.width, stream.height = w, h
                stream.pix_fmt = "bgr0" if lossless else "yuv420p"
                if lossless:
                    opts = {}
                elif webm:
                    opts = {"crf": str(crf), "b": "0", "deadline": "realtime", "cpu-used": "8"}
                else:
                    opts = {"crf": str(crf), "preset": preset}
                    if reproducible:
                        opts["x264-params"] = "mbtree=0"
                if gop:
                    opts["g"] = str(gop)
                stream.options = opts
                stream.codec_context.thread_count = threads
            for packet in stream.encode(av.VideoFrame.from_ndarray(arr, format="rgb24")):
                container.mux(packet)
        if stream is None:
            raise ValueError(f"{path}: no frames to write")
        for packet in stream.encode():
            container.mux(packet)
    return path


def _hwc(frame: torch.Tensor | np.ndarray) -> np.ndarray:
    arr = frame.numpy() if isinstance(frame, torch.Tensor) else np.asarray(frame)
    if arr.dtype != np.uint8:
        raise TypeError(f"frames must be uint8, got {arr.dtype}")
    if arr.ndim != 3 or arr.shape[0] != 3:
        raise ValueError(f"each frame must be (3, H, W), got {tuple(arr.shape)}")
    return np.ascontiguousarray(arr.transpose(1, 2, 0))  # (H, W, 3)
