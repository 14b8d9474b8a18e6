"""Frame ranges of an mp4 copied packet for packet, with no decode and no re-encode (what `ffmpeg -c copy`
does), where the ranges start and end on keyframes.

mp4's sample table lists every frame's timestamps and which are keyframes, read with the header. Frame n
(the n-th presented) is the sample with the n-th smallest presentation timestamp. A range [s, e] can be
copied when frame s is a keyframe, frame e + 1 is one (or e is the last frame), and the packets between
those two keyframes in decode order are exactly frames s..e (a closed GOP: no frame there needs one
outside). Otherwise `copy_ranges` says so and the caller re-encodes.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path

import numpy as np

# mp4 holds these as they are; copied packets need no other change than their timestamps
COPYABLE_CODECS = ("h264", "hevc", "mpeg4", "av1", "vp9")


@dataclass(frozen=True)
class SampleTable:
    """A video stream's packets in decode order: presentation and decode timestamps, keyframe flags, and
    each packet's frame number (rank of its presentation timestamp)."""

    pts: np.ndarray  # (N,) int64, time base units, decode order
    dts: np.ndarray  # (N,) int64
    key: np.ndarray  # (N,) bool
    frame: np.ndarray  # (N,) int64 presented position of each packet

    @property
    def keyframes(self) -> np.ndarray:
        """(K,) frame numbers of the keyframes, ascending."""
        return np.sort(self.frame[self.key])


def keyframe_frames(path: str | os.PathLike[str]) -> np.ndarray | None:
    """(K,) positions of the keyframes from an mp4's index, read with the header (nothing demuxed); None for
    other containers or an incomplete index. The index is in decode order; a keyframe that opens a closed
    GOP (x264's default, and where x264 puts one at a scene cut) is presented at its decode position, so
    these are where a cut can be copied (`copy_ranges` checks the packets before it does)."""
    import av

    try:
        with av.open(str(path)) as container:
            if not container.format.name.startswith("mov") or not container.streams.video:
                return None
            stream = container.streams.video[0]
            entries = stream.index_entries
            if not entries or len(entries) != stream.frames or any(e.is_discard for e in entries):
                return None
            return np.flatnonzero([e.is_keyframe for e in entries])
    except (av.error.FFmpegError, OSError, UnicodeDecodeError, ValueError):
        return None


def _table(container: object, stream: object) -> SampleTable | None:
    """Every packet's timestamps (demuxed, not decoded); None where one has no timestamp."""
    pts, dts, key = [], [], []
    for packet in container.demux(stream):
        if packet.size == 0 and packet.dts is None:
            continue  # the demuxer's flush packet
        if packet.pts is None or packet.dts is None:
            return None
        pts.append(int(packet.pts))
        dts.append(int(packet.dts))
        key.append(bool(packet.is_keyframe))
    p = np.array(pts, np.int64)
    if len(p) == 0 or len(np.unique(p)) != len(p):
        return None
    frame = np.empty(len(p), np.int64)
    frame[np.argsort(p, kind="stable")] = np.arange(len(p))
    return SampleTable(pts=p, dts=np.array(dts, np.int64), key=np.array(key, bool), frame=frame)


def copyable(table: SampleTable, ranges: list[tuple[int, int]]) -> bool:
    """Whether every inclusive frame range starts on a keyframe and ends just before one (or at the end),
    with exactly its own frames between the two keyframes in decode order."""
    n = len(table.frame)
    order = np.empty(n, np.int64)  # decode position of each frame
    order[table.frame] = np.arange(n)
    keys = set(table.keyframes.tolist())
    for s, e in ranges:
        if not (0 <= s <= e < n) or s not in keys or (e + 1 < n and e + 1 not in keys):
            return False
        first, stop = order[s], order[e + 1] if e + 1 < n else n
        if stop - first != e - s + 1 or set(table.frame[first:stop].tolist()) != set(range(s, e + 1)):
            return False
    return True


def copy_ranges(src: str | os.PathLike[str], ranges: list[tuple[int, int]], dst: Path, *, num_frames: int) -> bool:
    """Write `dst` (video only) with the frames of `ranges` (inclusive, ascending) copied from `src`, one
    after another. False, writing nothing, where they cannot be copied: not an mp4 with one packet per
    frame (`num_frames`, what a sequential decode presents), a codec or a rotation a copy would lose,
    or ranges that are not `copyable`."""
    import av

    from pipeline.data.backends.probe import probe_video

    try:
        probe = probe_video(src)
    except (av.error.FFmpegError, OSError, LookupError, UnicodeDecodeError):
        return False
    if not probe.format_name.startswith("mov") or probe.codec not in COPYABLE_CODECS or probe.rotation:
        return False
    with av.open(str(src)) as container:
        stream = container.streams.video[0]
        table = _table(container, stream)
        if table is None or len(table.frame) != num_frames or not ranges or not copyable(table, ranges):
            return False
        order = np.empty(num_frames, np.int64)
        order[table.frame] = np.arange(num_frames)
        by_frame = np.sort(table.pts)  # (N,) presentation timestamp of frame n
        step = int(np.median(np.diff(by_frame))) if num_frames > 1 else 1
        # Each range is laid after the last; its own timestamps keep their spacing. The first decode
        # timestamp of a range may precede its first presentation one (B-frame reorder delay): everything
        # starts that much later, so no decode timestamp is negative.
        delay = max(int(by_frame[s] - table.dts[order[s]]) for s, _ in ranges)
        shift = np.zeros(num_frames, np.int64)  # what to add to each frame's timestamps
        wanted = np.zeros(num_frames, bool)
        offset = max(0, delay)
        for s, e in ranges:
            wanted[s : e + 1] = True
            shift[s : e + 1] = offset - by_frame[s]
            offset += int((by_frame[e + 1] if e + 1 < num_frames else by_frame[e] + step) - by_frame[s])
        new_dts = table.dts + shift[table.frame]  # (N,) decode order
        kept = wanted[table.frame]
        if (np.diff(new_dts[kept]) <= 0).any():
            return False  # the reorder delay changes between ranges: not safe to copy
        frame_of = dict(zip(table.pts.tolist(), table.frame.tolist(), strict=True))
        container.seek(0, stream=stream)
        with av.open(str(dst), mode="w") as out:
            vout = out.add_stream_from_template(stream)
            for packet in container.demux(stream):
                if packet.pts is None:
                    continue
                f = frame_of[int(packet.pts)]
                if wanted[f]:
                    packet.pts, packet.dts = int(packet.pts) + int(shift[f]), int(packet.dts) + int(shift[f])
                    packet.stream = vout
                    out.mux(packet)
    return True
