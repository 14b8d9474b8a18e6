"""PyAV backend: exact frame access with bounded memory.

Opening demuxes the packets once (no decoding) to learn each frame's timestamp and where the
keyframes are; the packet count is the true frame count, whatever the header says. A request is served
by seeking to the keyframe before each wanted frame and decoding forward, keeping only the wanted
frames, so sampling 8 frames from a 10-minute video never holds the whole video (SlowFast#626).
Decoding threads are on (`thread_type = "AUTO"`, about 5x the default), and the container is always
closed (PyAV#1117). Frames go to RGB through one `VideoReformatter` per thread and process, which
keeps its swscale context while frame sizes stay the same (the usual case in a dataset):
`frame.to_ndarray(format="rgb24")` builds a new context on every call, which measured here at 2.6 ms
against 0.04 ms per 64x64 frame, and 10.5 ms against 0.5 ms per 640x272 frame.
"""

from __future__ import annotations

import os
import threading

import numpy as np
import torch
from av.video.reformatter import VideoReformatter

from pipeline.data.backends.base import BACKENDS, VideoMeta, VideoReader, diagnose
from pipeline.errors import VideoError

_local = threading.local()


def _rgb() -> VideoReformatter:
    """This thread's reformatter. Conversions run with `threads=1`: a swscale context with a slice
    thread pool, inherited by a forked loader worker, deadlocks there (its threads do not survive
    fork, and freeing or using the context waits on them forever)."""
    if getattr(_local, "reformatter", None) is None:
        _local.reformatter = VideoReformatter()
    return _local.reformatter


@BACKENDS.register("pyav")
class PyAVReader(VideoReader):
    """FFmpeg through PyAV: the most tolerant backend, always installed."""

    name = "pyav"

    def __init__(self, path: str | os.PathLike[str], *, num_threads: int = 1) -> None:
        super().__init__(path, num_threads=num_threads)
        import av

        try:
            self._container = av.open(str(self.path))
        except (av.error.FFmpegError, UnicodeDecodeError, ValueError) as e:
            raise VideoError(self.path, diagnose(self.path, e)) from e
        try:
            if not self._container.streams.video:
                raise VideoError(self.path, "no video stream (audio-only or not a video)")
            self._stream = self._container.streams.video[0]
            self._stream.thread_type = "AUTO"
            self._stream.codec_context.thread_count = num_threads
            self._index_packets()
            rate = self._stream.average_rate or self._stream.guessed_rate or 0
            cc = self._stream.codec_context
            self.meta = VideoMeta(str(self.path), len(self._pts), float(rate), cc.width, cc.height)
        except BaseException:
            self.close()
            raise

    def _index_packets(self) -> None:
        """Presentation timestamps of every frame, in display order, and the keyframe positions."""
        import av

        pts, key = [], []
        try:
            for packet in self._container.demux(self._stream):
                if packet.size == 0:  # the flush packet at the end
                    continue
                t = packet.pts if packet.pts is not None else packet.dts
                if t is None:
                    raise VideoError(self.path, "packets carry no timestamps; cannot seek exactly")
                pts.append(t)
                key.append(bool(packet.is_keyframe))
        except av.error.FFmpegError as e:
            if not pts:
                raise VideoError(self.path, f"cannot read packets: {e}") from e
            # A truncated file: keep the frames whose packets were read.
        if not pts:
            raise VideoError(self.path, "no video frames")
        order = np.argsort(pts, kind="stable")
        self._pts = np.asarray(pts, dtype=np.int64)[order]  # (N,) display order
        self._index_of = {int(t): i for i, t in enumerate(self._pts)}
        is_key = np.asarray(key)[order]
        self._keyframes = np.flatnonzero(is_key)  # indices of keyframes, ascending
        if self._keyframes.size == 0 or self._keyframes[0] != 0:
            self._keyframes = np.concatenate([[0], self._keyframes])

    def _keyframe_before(self, index: int) -> int:
        return int(self._keyframes[np.searchsorted(self._keyframes, index, side="right") - 1])

    def _decode(self, indices: np.ndarray) -> torch.Tensor:
        import av

        wanted = set(int(i) for i in indices)
        out: dict[int, np.ndarray] = {}
        pos = -1  # index of the last decoded frame; -1 = must seek
        frames = None
        try:
            for target in indices:
                target = int(target)
                if target in out:
                    continue
                key = self._keyframe_before(target)
                if frames is None or target <= pos or key > pos:
                    # Seeking is cheaper than decoding forward past a keyframe.
                    self._container.seek(int(self._pts[key]), stream=self._stream, backward=True)
                    frames = self._container.decode(self._stream)
                    pos = key - 1
                for frame in frames:
                    i = self._index_of.get(frame.pts, pos + 1) if frame.pts is not None else pos + 1
                    pos = i
                    if i in wanted and i not in out:
                        out[i] = _rgb().reformat(frame, format="rgb24", threads=1).to_ndarray()  # (H, W, 3)
                    if i >= target:
                        break
                else:
                    break  # the stream ended before `target`: the caller clamps
        except av.error.FFmpegError as e:
            if not out:
                raise VideoError(self.path, f"decode failed: {e}") from e
        # Keep the prefix that decoded: a hole means the stream ended (or broke) there.
        n = next((k for k, i in enumerate(indices.tolist()) if i not in out), len(indices))
        if n == 0:
            raise VideoError(self.path, "no frame decodes")
        arr = np.stack([out[i] for i in indices.tolist()[:n]])  # (U, H, W, 3)
        return torch.from_numpy(arr).permute(0, 3, 1, 2).contiguous()  # (U, C, H, W)

    def close(self) -> None:
        container = getattr(self, "_container", None)
        if container is not None:
            container.close()
            self._container = None
