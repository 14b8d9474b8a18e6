"""PyAV backend: the exact reference, on every container, with bounded memory.

Frame n is the n-th frame a sequential decode presents. Two ways to reach it (see `probe.py` for why):
- indexed containers (mp4/mov, mkv/webm): opening demuxes the packets once, without decoding, and
  sorts their presentation timestamps (packets an edit list discards left out): frame n has the n-th
  smallest. A request seeks to the keyframe before each wanted frame and decodes forward, naming each
  decoded frame by its timestamp;
- every other container (AVI, MPEG-PS/TS, ...), whose packets may lack presentation timestamps or hold
  two frames: opening decodes the stream once and counts the frames; a request decodes forward from the
  first frame and counts. Timestamps there cannot be trusted after a seek: on an MPEG-2 program stream
  the frame carrying frame 59's timestamp after a seek showed frame 58. Short clips (UCF101, HMDB51) cost
  one fast decode at open and one per clip; a long one there is slow but never wrong (re-encode it to mp4
  with `vap data reencode` for speed).
In indexed containers a decoded frame whose timestamp is not the index's, or a seek that lands past its
keyframe, makes the request start again from the first frame and count: a wrong frame is never returned.
Rotated phone video is turned upright, as `ffmpeg` does. Decoding threads are on (`thread_type =
"AUTO"`, about 5x the default), and the container is always closed (PyAV#1117). Frames go to RGB through
one `VideoReformatter` per thread and process: `frame.to_ndarray(format="rgb24")` builds a new swscale
context on every call, which costs many times the conversion itself.
"""

from __future__ import annotations

import logging
import os
import threading
from collections.abc import Iterator
from typing import Any

import numpy as np
import torch
from av.video.reformatter import VideoReformatter

from pipeline.data.backends.base import BACKENDS, VideoMeta, VideoReader, diagnose
from pipeline.data.backends.probe import INDEXED_FORMATS, frame_rotation, sample_grid
from pipeline.errors import VideoError

_local = threading.local()
log = logging.getLogger(__name__)


def _rgb() -> VideoReformatter:
    """This thread's reformatter. Conversions run with `threads=1`: a swscale context with a slice
    thread pool, inherited by a forked loader worker, deadlocks there (its threads do not survive
    fork, and freeing or using the context waits on them forever)."""
    if getattr(_local, "reformatter", None) is None:
        _local.reformatter = VideoReformatter()
    return _local.reformatter


class _Lost(Exception):
    """A decoded frame's timestamp does not match the index: the position is not known exactly."""


@BACKENDS.register("pyav")
class PyAVReader(VideoReader):
    """FFmpeg through PyAV: exact on every container (the reference), always installed."""

    name = "pyav"
    exact_everywhere = True

    def __init__(self, path: str | os.PathLike[str], *, num_threads: int = 1) -> None:
        super().__init__(path, num_threads=num_threads)
        self._container = None
        self._open()
        self.codec_frames = 0  # counted from here on: opening's own check of the first frame is not
        try:
            self.indexed = self._container.format.name in INDEXED_FORMATS
            self.rotation = 0
            if self.indexed:
                self._index_packets()
            else:
                self._index_by_decoding()
            rate = self._stream.average_rate or self._stream.guessed_rate or 0
            cc = self._stream.codec_context
            w, h = (cc.height, cc.width) if self.rotation % 180 else (cc.width, cc.height)
            self.meta = VideoMeta(str(self.path), len(self._pts), float(rate), w, h, self.rotation)
        except BaseException:
            self.close()
            raise

    def _open(self) -> None:
        import av

        if self._container is not None:
            self._container.close()
        self._cursor = None  # (frame iterator, index of its last frame): where decoding can go on from
        self._seek_lead = getattr(self, "_seek_lead", 0)  # frames the last seek presented before its keyframe
        try:
            self._container = av.open(str(self.path))
        except (av.error.FFmpegError, UnicodeDecodeError, ValueError) as e:
            raise VideoError(self.path, diagnose(self.path, e)) from e
        if not self._container.streams.video:
            self.close()
            raise VideoError(self.path, "no video stream (audio-only or not a video)")
        self._stream = self._container.streams.video[0]
        self._stream.thread_type = "AUTO"
        self._stream.codec_context.thread_count = self.num_threads

    # --- the index: presentation timestamps of frames 0..N-1, and where decoding may start --------
    def _index_packets(self) -> None:
        """Indexed containers: mp4's sample table when it shows a constant frame rate (read with the
        header: nothing is scanned), else every packet's timestamp (one demux pass, no decoding)."""
        self._from_table, self._opening = False, None
        if self._container.format.name.startswith("mov"):
            first_pts, self.rotation = self._first_frame()
            self._from_table = self._index_from_sample_table(first_pts)
        if not self._from_table:
            self._index_by_demux(rewind_first=self._opening is not None)  # leaves the file open at its start
            first_pts, self.rotation = self._first_frame()
            if first_pts != self._pts[0]:  # decoding must not go on from an unplaced frame
                self._open()
                self._opening = None
        if self._opening is not None:  # decoding goes on from frame 0 (a first clip in its GOP needs no seek)
            self._cursor = (self._opening, 0)
        self._opening = None

    def _index_from_sample_table(self, first_pts: int | None) -> bool:
        """mp4's sample table where it is an even grid (`sample_grid`); a decoded frame off that grid
        sends the reader to `_index_by_demux`."""
        grid = sample_grid(self._container, self._stream, first_pts)
        if grid is None:
            return False
        self._pts, keyframes = grid  # (N,) display order; keyframes in decode order, which is display order at
        # a closed GOP's keyframe: only a hint where to seek (a wrong one is caught by `_place`)
        self._set_keyframes(keyframes)
        return True

    def _index_by_demux(self, rewind_first: bool = True) -> None:
        """Every packet's presentation timestamp, read without decoding, in display order (`rewind_first`
        False: the file is open at its start already, nothing read from it)."""
        import av

        if rewind_first:
            self._open()
        self._from_table = False
        pts, key = [], []
        try:
            for packet in self._container.demux(self._stream):
                if packet.size == 0 or packet.is_discard:  # the flush packet; frames an edit list drops
                    continue
                if packet.pts is None:
                    raise VideoError(self.path, "a packet carries no timestamp in an indexed container")
                pts.append(packet.pts)
                key.append(bool(packet.is_keyframe))
        except av.error.FFmpegError as e:
            if not pts:
                raise VideoError(self.path, f"cannot read packets: {e}") from e
            # A truncated file: keep the frames whose packets were read.
        if not pts:
            raise VideoError(self.path, "no video frames")
        order = np.argsort(pts, kind="stable")
        self._pts = np.asarray(pts, dtype=np.int64)[order]  # (N,) display order
        if np.unique(self._pts).size != self._pts.size:
            raise VideoError(self.path, "two frames share a timestamp; cannot index them")
        self._set_keyframes(np.flatnonzero(np.asarray(key)[order]))
        self._open()  # rewind for the requests

    def _index_by_decoding(self) -> None:
        """Other containers: count the frames a sequential decode presents."""
        import av

        count = 0
        try:
            for frame in self._container.decode(self._stream):
                if count == 0:
                    self.rotation = frame_rotation(frame)
                count += 1
        except av.error.FFmpegError as e:
            if not count:
                raise VideoError(self.path, f"decode failed: {e}") from e
            log.warning("%s: the stream breaks after %d frames (%s); keeping those", self.path, count, e)
        if not count:
            raise VideoError(self.path, "no frame decodes")
        self._pts = np.arange(count)  # (N,) stand-ins: frames here are named by counting, never by timestamp
        self._open()  # rewind for the requests

    def _set_keyframes(self, keyframes: np.ndarray) -> None:
        self._keyframes = keyframes if keyframes.size and keyframes[0] == 0 else np.concatenate([[0], keyframes])

    def _keyframe_before(self, index: int) -> int:
        return int(self._keyframes[np.searchsorted(self._keyframes, index, side="right") - 1])

    # --- serving requests -------------------------------------------------------------------------
    def _decode(self, indices: np.ndarray) -> torch.Tensor:
        import av

        try:
            out = self._decode_exactly(indices)
        except av.error.FFmpegError as e:
            raise VideoError(self.path, f"decode failed: {e}") from e
        # Keep the prefix that decoded: a hole means the stream ended (or broke) there.
        n = next((k for k, i in enumerate(indices.tolist()) if i not in out), len(indices))
        if n == 0:
            raise VideoError(self.path, "no frame decodes")
        first = out[int(indices[0])]
        arr = np.empty((n, *first.shape), np.uint8)  # (U, H, W, 3)
        for k, i in enumerate(indices.tolist()[:n]):
            arr[k] = out[i]  # the one copy: from the converted frame's buffer
        frames = torch.from_numpy(arr).permute(0, 3, 1, 2)  # (U, C, H, W), channels-last in memory, as TorchCodec
        return torch.rot90(frames, self.rotation // 90, dims=(2, 3)) if self.rotation else frames

    def _decode_exactly(self, indices: np.ndarray) -> dict[int, np.ndarray]:
        """Seek where the index can be trusted; where it cannot, index again or count from the start."""
        if not self.indexed:
            return self._decode_from_start(indices)
        try:
            return self._decode_seeking(indices)
        except _Lost as e:
            lost = e
        if self._from_table:
            log.info("%s: %s; indexing the packets instead of the sample table", self.path, lost)
            self._index_by_demux()
            if len(self._pts) != self.meta.num_frames:
                self._truncate(len(self._pts))
            try:
                return self._decode_seeking(indices[indices < len(self._pts)])
            except _Lost as e:
                lost = e
        log.info("%s: %s; decoding from the first frame instead", self.path, lost)
        return self._decode_from_start(indices)

    def _decode_seeking(self, indices: np.ndarray) -> dict[int, np.ndarray]:
        wanted = set(indices.tolist())
        out: dict[int, np.ndarray] = {}
        # index of the last decoded frame, and the decoder's frame iterator: where the last request left
        # them, so that a request further on in the same group of pictures decodes on instead of seeking
        frames, pos = self._cursor or (None, -1)
        self._cursor = None  # kept only if this request ends well
        for target in indices.tolist():
            key = self._keyframe_before(target)
            # seek back, or ahead where that decodes fewer frames than going on: from the keyframe, plus what
            # the last seek presented before its keyframe (where the index's keyframes are only hints)
            if frames is None or target <= pos or key > pos + self._seek_lead:
                frames, pos = self._seek(key), None
            for frame in frames:
                self.codec_frames += 1
                pos = self._place(frame, pos)
                if pos is None:
                    continue  # before the keyframe the seek was for
                if pos in wanted and pos not in out:
                    out[pos] = self._to_rgb(frame)
                if pos >= target:
                    break
            else:
                return out  # the stream ended before `target`: the caller clamps
        self._cursor = (frames, pos) if frames is not None else None
        return out

    def _seek(self, key: int) -> Iterator:
        """Decoder frames from the keyframe `key` on (frames before it may come first)."""
        self._seek_key, self._landed = key, key
        self._cursor = None
        self._container.seek(int(self._pts[key]), stream=self._stream, backward=True)
        return iter(self._container.decode(self._stream))

    def _place(self, frame, pos: int | None) -> int | None:  # noqa: ANN001 - a PyAV VideoFrame
        """The index of `frame`, decoded after frame `pos` (None: just after a seek, before the keyframe)."""
        t = frame.pts
        # the index is sorted: a binary search, not a dict (a 2-hour video's dict of ints held ~20 MB)
        i = int(np.searchsorted(self._pts, t)) if t is not None else len(self._pts)
        if i >= len(self._pts) or self._pts[i] != t:
            raise _Lost(f"frame timestamp {t} is not in the index")
        if pos is None and i > self._seek_key:
            raise _Lost(f"the seek for frame {self._seek_key} landed at frame {i}")
        if pos is None and i == self._seek_key:
            self._seek_lead = self._seek_key - self._landed  # frames decoded before the keyframe, in vain
        if pos is None and i < self._seek_key:
            self._landed = min(self._landed, i)
            return None
        return i

    def _first_frame(self) -> tuple[int | None, int]:
        """Decode the first presented frame (a check that the stream decodes): its timestamp and rotation.
        The decoder, one frame on, is kept in `_opening` (not reopened: an open costs as much as a frame)."""
        import av

        self._opening = iter(self._container.decode(self._stream))
        try:
            frame = next(self._opening, None)
        except av.error.FFmpegError as e:
            raise VideoError(self.path, f"decode failed: {e}") from e
        if frame is None:
            raise VideoError(self.path, "no frame decodes")
        return frame.pts, frame_rotation(frame)

    def _decode_from_start(self, indices: np.ndarray) -> dict[int, np.ndarray]:
        """Decode from the first frame, counting: the definition of frame n, and the fallback. A request
        that starts after the last one's frames goes on counting from there (a long AVI read window by
        window is decoded once, not once per window)."""
        frames, pos = self._cursor if self._cursor and self._cursor[1] < int(indices.min()) else (None, -1)
        if frames is None:
            self._open()
            frames = iter(self._container.decode(self._stream))
        self._cursor = None
        wanted, out, last = set(indices.tolist()), {}, int(indices.max())
        for frame in frames:
            pos += 1
            self.codec_frames += 1
            if pos in wanted:
                out[pos] = self._to_rgb(frame)
            if pos >= last:
                self._cursor = (frames, pos)
                break
        return out

    def _to_rgb(self, frame) -> np.ndarray:  # noqa: ANN001 - a PyAV VideoFrame
        """The frame in RGB, `(H, W, 3)` as stored (turned upright in `_decode`): a view of the converted
        frame's own buffer, which it keeps alive; `to_ndarray` would copy it once more."""
        rgb = _rgb().reformat(frame, format="rgb24", threads=1)
        plane = rgb.planes[0]
        rows = np.frombuffer(plane, np.uint8).reshape(rgb.height, plane.line_size)  # lines may be padded
        return rows[:, : 3 * rgb.width].reshape(rgb.height, rgb.width, 3)

    def media_container(self) -> Any | None:
        self._cursor = None  # the caller may demux or seek: the next request seeks again
        return self._container

    def close(self) -> None:
        container = getattr(self, "_container", None)
        if container is not None:
            container.close()
            self._container = None
