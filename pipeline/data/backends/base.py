"""The one interface every decoding backend implements.

open(path) -> VideoMeta (frames that really decode, fps, duration, size) -> get_frames(indices) as a
uint8 `(T, C, H, W)` tensor (channels-last in memory, as the decoders write it: no copy to reorder) ->
close(). Readers are context managers and must free their decoder on
close, because decord and PyAV both leak when readers are dropped without it (decord#1, PyAV#1117).
"""

from __future__ import annotations

import dataclasses
import errno
import logging
import os
import re
from abc import ABC, abstractmethod
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any, ClassVar

import numpy as np
import torch

from pipeline.data.backends.probe import Probe
from pipeline.errors import VideoError, display_path
from pipeline.registry import Registry

BACKENDS: Registry[type[VideoReader]] = Registry("backend")
log = logging.getLogger(__name__)


@dataclass(frozen=True)
class VideoMeta:
    """What a reader knows about a video once it is open."""

    path: str
    num_frames: int  # frames that decode (the header's count is only a hint; see each backend)
    fps: float
    width: int  # as shown: a rotated phone video is turned upright, as players and `ffmpeg` do
    height: int
    rotation: int = 0  # degrees the stored picture was turned (counter-clockwise) to show it upright

    @property
    def duration(self) -> float:
        """Seconds, from the decodable frame count (container durations include audio and padding)."""
        return self.num_frames / self.fps if self.fps > 0 else 0.0


def check_readable(path: str | os.PathLike[str]) -> Path:
    """Fail early with a clear reason for the commonest bad inputs, before any decoder sees them."""
    p = Path(path)
    if p.is_symlink() and not p.exists():
        try:
            os.stat(p)
        except OSError as e:
            if e.errno == errno.ELOOP:
                raise VideoError(p, "symbolic link loop") from None
        raise VideoError(p, f"dangling symbolic link (to {display_path(os.readlink(p))}, which does not exist)")
    if not p.exists():
        raise VideoError(p, "no such file")
    if p.is_dir():
        raise VideoError(p, "is a directory, not a video file")
    if p.stat().st_size == 0:
        raise VideoError(p, "empty file (0 bytes)")
    if not os.access(p, os.R_OK):
        raise VideoError(p, "permission denied")
    return p


def probe_size(path: str | os.PathLike[str]) -> tuple[int, int]:
    """(width, height) of the first video stream from the container header, without decoding."""
    import av

    with av.open(str(path)) as container:
        cc = container.streams.video[0].codec_context
        return int(cc.width), int(cc.height)


def diagnose(path: str | os.PathLike[str], error: BaseException) -> str:
    """A plain one-line reason for a failed open, the same whichever backend failed.

    Each decoder words the same problem differently (and decord prefixes C++ source locations), so
    the container is probed once with PyAV: a file FFmpeg cannot parse, or one with no video stream,
    gets a fixed wording; anything else keeps the backend's own last line.
    """
    import av

    try:
        with av.open(str(path)) as container:
            if not container.streams.video:
                return "no video stream (audio-only or not a video)"
    except (av.error.FFmpegError, UnicodeDecodeError, ValueError):
        return "not a readable video: invalid data (corrupt, truncated, or not a video file)"
    return "cannot open: " + error_text(error)


def error_text(error: BaseException) -> str:
    """The last line of a decoder's message without its `[time] file.cc:NN:` prefix."""
    lines = [ln.strip() for ln in str(error).strip().splitlines() if ln.strip()]
    text = lines[-1] if lines else type(error).__name__
    # decord: "[12:00:00] /src/x.cc:218: msg"; TorchCodec: "func, /src/x.cpp:1493, msg".
    return re.split(r"\S+\.(?:cc|cpp|c|h):\d+[:,]?\s*", text)[-1].strip() or type(error).__name__


class VideoReader(ABC):
    """Random access to the frames of one video file.

    Subclasses set `meta` in `__init__` and implement `_decode(sorted unique indices) -> (N, C, H, W)`.
    Indices are validated and de-duplicated here once, so every backend gets the same contract.
    """

    name: ClassVar[str]
    exact_everywhere: ClassVar[bool] = False  # True: no need to probe a file before trusting this backend
    wants_probe: ClassVar[bool] = False  # True: its constructor takes the file's `probe=` (to choose a mode)
    decodes_on_device: ClassVar[bool] = False  # True: its constructor takes `device=` (decodes on a GPU)

    @classmethod
    def inexact_reason(cls, probe: Probe) -> str | None:
        """Why this backend would not return frame n exactly in the probed file; None when it would."""
        return None

    @property
    def backend(self) -> str:
        """The backend that serves this file (a fallback reader names the one it settled on)."""
        return self.name

    # frames the codec decoded to serve `get_frames` (a seek decodes from the keyframe before the target),
    # for backends that count them (PyAV); None where the library does not say
    codec_frames: int | None = None

    def __init__(self, path: str | os.PathLike[str], *, num_threads: int = 1) -> None:
        self.path = check_readable(path)
        self.num_threads = num_threads
        self.meta: VideoMeta

    # --- public API -----------------------------------------------------------------------------
    def get_frames(self, indices: Sequence[int] | np.ndarray | torch.Tensor) -> torch.Tensor:
        """Frames at `indices` (any order, repeats allowed) as uint8 `(T, C, H, W)`."""
        idx = np.asarray(indices, dtype=np.int64).reshape(-1)  # (T,)
        if idx.size == 0:
            raise ValueError(f"{self.path}: no frame indices requested")
        n = self.meta.num_frames
        if idx.min() < 0 or idx.max() >= n:
            raise IndexError(f"{self.path}: frame indices must lie in [0, {n}), got {idx.min()}..{idx.max()}")
        unique, inverse = np.unique(idx, return_inverse=True)  # decode each frame once, in file order
        frames, count = self._decode_clamped(unique)  # (U', C, H, W), U' <= U
        if count is not None:
            # The header promised frames the stream does not hold (or they are broken): keep what
            # decoded, clamp the rest to the last good frame, and lower the count so that later
            # samplers ask only for frames that exist.
            log.warning(
                "%s: %d frames expected, frames from %d on do not decode; clamped",
                self.path,
                self.meta.num_frames,
                count,
            )
            self._truncate(count)
            inverse = np.minimum(inverse, frames.shape[0] - 1)
        if inverse.size == frames.shape[0] and (np.diff(inverse) == 1).all():
            return frames  # asked in order, each once (a sampler's usual request): no copy
        return frames[torch.as_tensor(inverse)]  # (T, C, H, W)

    def _decode_clamped(self, unique: np.ndarray) -> tuple[torch.Tensor, int | None]:
        """`_decode`, falling back to the frames that really decode: (frames, new count or None).

        On failure, the leading requested frames are decoded one by one; if not even the first one
        decodes, a binary search finds the last frame before it that does (a handful of decodes,
        paid only for broken files).
        """
        try:
            frames = self._decode(unique)
            return frames, (int(unique[frames.shape[0]]) if frames.shape[0] < unique.size else None)
        except VideoError as first:
            failure = first
        good = []
        for i in unique:
            try:
                good.append(self._decode(np.array([i])))
            except VideoError:
                break
        if good:
            return torch.cat(good), int(unique[len(good)])
        lo, hi, best = 0, int(unique[0]) - 1, None  # find the largest decodable index below unique[0]
        while lo <= hi:
            mid = (lo + hi) // 2
            try:
                best = (mid, self._decode(np.array([mid])))
                lo = mid + 1
            except VideoError:
                hi = mid - 1
        if best is None:
            raise failure
        return best[1], best[0] + 1

    def media_container(self) -> Any | None:
        """The open PyAV container of the file, where this reader holds one, so that its other streams
        (audio) can be read without opening the file again; None otherwise."""
        return None

    def close(self) -> None:  # noqa: B027 - optional for backends with nothing to release
        """Release the decoder. Safe to call twice."""

    def __enter__(self) -> VideoReader:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def __len__(self) -> int:
        return self.meta.num_frames

    def __repr__(self) -> str:
        m = self.meta
        return (
            f"{type(self).__name__}({str(self.path)!r}, frames={m.num_frames}, fps={m.fps:.3f}, {m.width}x{m.height})"
        )

    # --- for subclasses ---------------------------------------------------------------------------
    @abstractmethod
    def _decode(self, indices: np.ndarray) -> torch.Tensor:
        """Decode sorted unique in-range indices; may return fewer rows if the stream ends early."""

    def _truncate(self, num_frames: int) -> None:
        self.meta = dataclasses.replace(self.meta, num_frames=num_frames)
