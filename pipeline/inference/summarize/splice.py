"""summary.mp4: the selected shots of a video spliced together (PyAV), with the source's audio of the same
time ranges when it has an audio stream, re-encoded to AAC.

Video: copied packet for packet where every kept shot starts and ends on a keyframe of an mp4
(data/remux.py: no decode, no re-encode, the source's own pixels); otherwise the shots' frames, decoded a
chunk at a time, encoded H.264 (x264 ultrafast on the machine's cores: a summary is watched once, size
matters less than the wait) at the source frame rate. Audio: the
source's first audio stream decoded once, in order, keeping only the samples inside the shots' time
ranges (frame i of the video is at i / fps after the video stream's first frame); a range the audio
does not cover is filled with silence, so the audio stays in step with the video shot by shot. Both go
to temp files in the output folder; summary.mp4 appears by one rename, complete or not at all.
"""

from __future__ import annotations

import errno
import os
from collections.abc import Iterator
from dataclasses import dataclass
from itertools import chain
from pathlib import Path
from typing import Any

import numpy as np

from pipeline.data.backends import VideoReader, open_video
from pipeline.data.pool import read_ahead
from pipeline.data.records import atomic_path
from pipeline.data.remux import copy_ranges
from pipeline.inference.summarize.video import VideoSummary

_WRITE_ERRNOS = {errno.ENOSPC, errno.EDQUOT, errno.EIO, errno.EROFS}  # the disk, not the data
AAC_RATES = (96000, 88200, 64000, 48000, 44100, 32000, 24000, 22050, 16000, 12000, 11025, 8000, 7350)


def _selected_frames(summary: VideoSummary, video: VideoReader, chunk: int = 32) -> Iterator[np.ndarray]:
    """The selected shots' frames, decoded `chunk` at a time so a long summary never sits in memory."""
    for s, e in summary.clips:
        for a in range(s, e + 1, chunk):
            for frame in video.get_frames(list(range(a, min(a + chunk, e + 1)))):  # (C, H, W)
                h, w = frame.shape[1] // 2 * 2, frame.shape[2] // 2 * 2  # yuv420p needs even sizes
                yield frame[:, :h, :w]


@dataclass(frozen=True)
class SummaryClip:
    """What `write_summary_video` wrote: the file, and what happened to the audio: "aac <rate> Hz <layout>",
    "none" (the source has none), or "dropped: <reason>" when the source's audio could not be decoded (the
    video is still written)."""

    path: Path
    audio: str
    video: str = "re-encoded"  # or "copied" (the source's packets)


def write_summary_video(summary: VideoSummary, out: Path, *, backend: str = "auto") -> SummaryClip | None:
    """out/summary.mp4 (None when nothing is selected)."""
    from pipeline.data.writer import write_video

    if not summary.clips:
        return None
    final = out / "summary.mp4"
    fps = summary.fps if summary.fps > 0 else 25.0
    with atomic_path(final) as muxed:
        video_only = muxed.with_name(f"{muxed.stem}.video.mp4")  # scratch beside it, never an output
        try:
            copied = copy_ranges(summary.path, [tuple(c) for c in summary.clips], video_only,
                                 num_frames=summary.num_frames)  # fmt: skip
            with open_video(summary.path, backend=backend) as video:  # one open for the frames and the audio
                if not copied:  # the next chunk decodes while x264 encodes this one
                    frames = read_ahead(_selected_frames(summary, video), 64)
                    write_video(video_only, frames, fps=fps, preset="ultrafast", threads=os.cpu_count() or 1)
                ranges = [(s / fps, (e + 1) / fps) for s, e in summary.clips]
                try:
                    audio = mux_audio(video_only, video.media_container() or summary.path, ranges, muxed)
                except Exception as e:  # a broken audio track must not cost the user the summary...
                    if isinstance(e, OSError) and e.errno is not None:
                        raise  # ... but a failed write (a full disk) fails the video: nothing is kept as done
                    audio = "dropped: " + (" ".join(str(e).split()) or type(e).__name__)
            if not audio.startswith("aac"):
                os.replace(video_only, muxed)
        finally:
            video_only.unlink(missing_ok=True)
    return SummaryClip(final, audio, "copied" if copied else "re-encoded")


def mux_audio(video: Path, source: Any, ranges: list[tuple[float, float]], dst: Path) -> str:
    """Write `dst`: `video`'s packets (copied) beside AAC audio of `source`'s `ranges` (seconds from the
    source's first video frame, ascending, disjoint), concatenated. `source`: a path, or the open PyAV
    container of the source (read again from its start). Returns "none" without writing when the source
    has no audio stream, else "aac <rate> Hz <layout>"."""
    import av

    if not isinstance(source, str | os.PathLike):  # the video reader's container: no second open
        source.seek(0)
        return _mux_audio(video, source, ranges, dst)
    with av.open(str(source)) as src:
        return _mux_audio(video, src, ranges, dst)


def _mux_audio(video: Path, src: Any, ranges: list[tuple[float, float]], dst: Path) -> str:
    if not src.streams.audio:
        return "none"
    stream = src.streams.audio[0]
    # By channel count, not name: an unnamed layout ("1 channels") cannot be encoded; 5.1 is mixed down.
    layout = "mono" if stream.layout.nb_channels == 1 else "stereo"
    rate = stream.rate or stream.codec_context.sample_rate or 48000
    rate = rate if rate in AAC_RATES else 48000
    start = 0.0  # seconds of the first video frame: audio times are taken from there
    if src.streams.video and src.streams.video[0].start_time is not None:
        v = src.streams.video[0]
        start = float(v.start_time * v.time_base)
    bounds = [(round(a * rate), round(b * rate)) for a, b in ranges]  # samples from the first video frame
    pieces = _cut(_decoded(src, stream, rate, layout, start), bounds, channels=2 if layout == "stereo" else 1)
    _write(video, dst, pieces, rate, layout)
    return f"aac {rate} Hz {layout}"


def _frames(src, stream) -> Iterator:
    """The stream's decoded frames; a packet the decoder refuses (a damaged frame) is skipped and the rest
    of the stream kept, as the ffmpeg program does: the audio goes on from the next good frame at its own
    timestamp, and `_cut` fills the gap with silence."""
    import av

    for packet in src.demux(stream):
        try:
            yield from packet.decode()
        except av.error.FFmpegError as e:
            if isinstance(e, OSError) and e.errno in _WRITE_ERRNOS:
                raise
            continue  # a damaged packet: skip it


def _decoded(src, stream, rate: int, layout: str, start: float) -> Iterator[tuple[int, np.ndarray]]:
    """(first sample's index from the first video frame, (channels, n) float32) of the whole stream,
    resampled; the index counts on from the first frame's timestamp, and jumps where a skipped packet left
    a gap (more than 20 ms between where the samples reached and the next frame's timestamp)."""
    import av

    resampler = av.AudioResampler(format="fltp", layout=layout, rate=rate)
    position = None
    for frame in chain(_frames(src, stream), [None]):  # None flushes the resampler
        if frame is not None and frame.pts is not None and position is not None:
            at = round((float(frame.pts * frame.time_base) - start) * rate)
            if at > position + rate // 50:
                position = at  # `_cut` makes the gap silence, so what follows stays in step
        for f in resampler.resample(frame):
            if position is None:
                position = round((float(f.pts * f.time_base) - start) * rate) if f.pts is not None else 0
            data = f.to_ndarray()  # (channels, n)
            yield position, data
            position += data.shape[1]


def _cut(
    chunks: Iterator[tuple[int, np.ndarray]], bounds: list[tuple[int, int]], *, channels: int
) -> Iterator[np.ndarray]:
    """The samples [a, b) of every bound, in order, from chunks that come in time order; what the chunks
    do not cover is silence, so the output is exactly sum(b - a) samples long. Stops reading after the
    last bound."""
    cur, pos = 0, bounds[0][0] if bounds else 0  # the bound being filled, its next sample
    for p, data in chunks:
        n = data.shape[1]
        while cur < len(bounds):
            a, b = bounds[cur]
            if p >= b:  # the chunk starts after this bound: the rest of it is silent
                if b > pos:
                    yield np.zeros((channels, b - pos), np.float32)
                cur += 1
                pos = bounds[cur][0] if cur < len(bounds) else 0
                continue
            if p + n <= pos:  # the chunk ends before what is needed next
                break
            if p > pos:
                yield np.zeros((channels, p - pos), np.float32)
                pos = p
            end = min(b, p + n)
            yield data[:, pos - p : end - p]
            pos = end
            if pos < b:
                break
            cur += 1
            pos = bounds[cur][0] if cur < len(bounds) else 0
        if cur == len(bounds):
            return
    for i in range(cur, len(bounds)):  # the audio ended early
        a, b = bounds[i]
        gap = b - (pos if i == cur else a)
        if gap > 0:
            yield np.zeros((channels, gap), np.float32)


def _write(video: Path, dst: Path, pieces: Iterator[np.ndarray], rate: int, layout: str) -> None:
    """Copy `video`'s packets into `dst` and AAC-encode `pieces` (channels, n) beside them."""
    import av

    with av.open(str(video)) as vsrc, av.open(str(dst), mode="w") as out:
        vin = vsrc.streams.video[0]
        vout = out.add_stream_from_template(vin)
        aout = out.add_stream("aac", rate=rate, layout=layout)
        for packet in vsrc.demux(vin):
            if packet.dts is None:  # the demuxer's flush packet
                continue
            packet.stream = vout
            out.mux(packet)
        size = aout.codec_context.frame_size or 1024
        buffered, written = [], 0

        def encode(block: np.ndarray | None) -> None:
            nonlocal written
            frame = None
            if block is not None:
                frame = av.AudioFrame.from_ndarray(np.ascontiguousarray(block), format="fltp", layout=layout)
                frame.sample_rate, frame.pts = rate, written
                written += block.shape[1]
            for packet in aout.encode(frame):
                out.mux(packet)

        for piece in pieces:
            buffered.append(piece)
            if sum(x.shape[1] for x in buffered) >= size:
                joined = np.concatenate(buffered, axis=1)  # (channels, >= size)
                full = joined.shape[1] // size * size
                for s in range(0, full, size):
                    encode(joined[:, s : s + size])
                buffered = [joined[:, full:]]
        rest = np.concatenate(buffered, axis=1) if buffered else None
        if rest is not None and rest.shape[1]:
            encode(rest)
        encode(None)
