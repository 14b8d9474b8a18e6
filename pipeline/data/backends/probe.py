"""What a file's container says about exact frame access, read cheaply before any backend opens it.

Frame n is the n-th frame a sequential decode presents (what `ffmpeg -i X %06d.png` writes). Whether a
backend can reach frame n by seeking depends on the container, measured here on files the tests write
(`tests/video_corpus.py`):
- mp4/mov and Matroska/WebM keep a per-frame index with presentation timestamps: TorchCodec (exact mode)
  and decord seek exactly in them, except that decord ignores edit lists that drop leading frames (a
  stream-copied cut) and cannot decode rotated phone video.
- AVI, MPEG program/transport streams and raw streams carry packets without presentation timestamps, or
  more packets than frames (packed B-frames): TorchCodec lost a frame and decord drifted by up to 10
  frames on MPEG-2 .mpg and MPEG-4 Part 2 .avi. Only a forward decode that counts frames is exact there.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from typing import Any

import numpy as np

# FFmpeg demuxer names whose index gives every frame's presentation timestamp.
INDEXED_FORMATS = ("mov,mp4,m4a,3gp,3g2,mj2", "matroska,webm")


@dataclass(frozen=True)
class Probe:
    """Container facts that decide which backends are exact for a file."""

    format_name: str  # FFmpeg's demuxer name, e.g. "mov,mp4,m4a,3gp,3g2,mj2", "avi", "mpeg"
    codec: str
    rotation: int  # degrees counter-clockwise a player turns the picture (display matrix), 0/90/180/270
    leading_discards: int  # frames an edit list drops before the first presented frame
    even_grid: bool = False  # mp4 whose sample table puts every frame on one constant step (`sample_grid`)
    size: tuple[int, int] = (0, 0)  # (width, height) as stored (before any rotation)

    @property
    def indexed(self) -> bool:
        return self.format_name in INDEXED_FORMATS


def probe_video(path: str | os.PathLike[str]) -> Probe:
    """Read the header, the packets up to the first presented frame, and that frame (milliseconds).

    Raises FFmpeg's own errors (the caller words them); a file with no video stream raises `LookupError`.
    """
    import av

    with av.open(str(path)) as container:
        if not container.streams.video:
            raise LookupError("no video stream (audio-only or not a video)")
        stream = container.streams.video[0]
        discards, rotation, frame = 0, 0, None
        for packet in container.demux(stream):
            if packet.is_discard:
                discards += 1
                continue
            frame = next(iter(stream.decode(packet)), None)  # a decoder may need a few packets first
            if frame is not None:
                rotation = frame_rotation(frame)
                break
        grid = sample_grid(container, stream, frame.pts if frame is not None else None) is not None
        cc = stream.codec_context
        return Probe(container.format.name, cc.name, rotation, discards, grid, (int(cc.width), int(cc.height)))


def sample_grid(container: Any, stream: Any, first_pts: int | None) -> tuple[np.ndarray, np.ndarray] | None:
    """mp4's sample table, read with the header (nothing scanned), when it shows a constant frame rate:
    every presented frame's timestamp `(N,)` in display order (the first frame's plus i steps) and the
    keyframes in decode order `(K,)`; None when the samples are not evenly spaced, the table is partial
    (fragmented mp4) or the grid does not end where the stream does. There, frame n is at time n / rate
    from the first frame, which is what seeking by time assumes."""
    if not container.format.name.startswith("mov") or first_pts is None:
        return None
    entries = stream.index_entries
    if not entries or len(entries) != stream.frames:
        return None
    kept = [e for e in entries if not e.is_discard]  # frames an edit list drops are not presented
    step = np.diff(np.fromiter((e.timestamp for e in kept), np.int64, len(kept)))
    if step.size == 0 or step[0] <= 0 or (step != step[0]).any():
        return None
    start, duration = stream.start_time, stream.duration  # no gap in the presentation times
    if start is None or duration is None or abs(start + duration - first_pts - len(kept) * step[0]) >= step[0]:
        return None
    pts = first_pts + int(step[0]) * np.arange(len(kept), dtype=np.int64)  # (N,)
    return pts, np.flatnonzero([e.is_keyframe for e in kept])


def frame_rotation(frame: object) -> int:
    """Counter-clockwise degrees from a decoded PyAV frame's display matrix, as 0, 90, 180 or 270."""
    return int(round(float(getattr(frame, "rotation", 0) or 0) / 90)) * 90 % 360


def header_duration(path: str | os.PathLike[str]) -> float | None:
    """The video stream's duration in seconds as the container header states it (nothing decoded), or
    the container's; None where the header says nothing or the file does not open (its reader says why)."""
    import av

    try:
        with av.open(str(path)) as container:
            if not container.streams.video:
                return None
            stream = container.streams.video[0]
            if stream.duration is not None and stream.time_base is not None:
                return float(stream.duration * stream.time_base)
            return container.duration / 1_000_000 if container.duration else None
    except (av.error.FFmpegError, OSError, UnicodeDecodeError, ValueError):
        return None
