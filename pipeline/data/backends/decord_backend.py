"""decord backend (the maintained `decord2` fork, imported as `decord`).

Fast keyframe-aware batch access. `len(VideoReader)` trusts the container's `nb_frames`, which can
promise frames that do not exist, and `get_batch` past the real end spins forever in native code
holding the GIL (decord#373): no Python timeout can stop it. So the frame count used here is the
length of decord's own packet index (one timestamp per demuxed packet), never the header's: decord
keeps it in `_frame_pts` and has no public length for it, so that private attribute is pinned by a test
(`tests/data/test_backends.py`) and its absence falls back to the header's count.

decord declines files where it would return wrong frames (see `probe.py`): AVI and MPEG streams (drift
of up to 10 frames), mp4 edit lists that drop leading frames (it serves them anyway), and rotated video
(it fails to copy the turned picture, and would show a 180-degree turn upside down).
"""

from __future__ import annotations

import os

import numpy as np
import torch

from pipeline.data.backends.base import BACKENDS, VideoMeta, VideoReader, diagnose, error_text, probe_size
from pipeline.data.backends.probe import Probe
from pipeline.errors import VideoError


@BACKENDS.register("decord")
class DecordReader(VideoReader):
    """decord2: fast batched access on CPU."""

    name = "decord"

    @classmethod
    def inexact_reason(cls, probe: Probe) -> str | None:
        if not probe.indexed:
            return f"does not seek exactly in {probe.format_name} files"
        if probe.leading_discards:
            return f"ignores the edit list that drops the first {probe.leading_discards} frames"
        if probe.rotation:
            return f"does not turn rotated video upright ({probe.rotation} degrees)"
        return None

    wants_probe = True

    def __init__(self, path: str | os.PathLike[str], *, num_threads: int = 1, probe: Probe | None = None) -> None:
        super().__init__(path, num_threads=num_threads)
        import decord

        decord.logging.set_level(decord.logging.QUIET)  # errors reach the user as VideoError instead
        try:
            self._vr = decord.VideoReader(str(self.path), ctx=decord.cpu(0), num_threads=num_threads)
            # decord caches its packet index (one (start, end) time per frame really in the stream)
            # in `_frame_pts` on the first timestamp query; it has no public length for it.
            self._vr.get_frame_timestamp(0)
            real = len(getattr(self._vr, "_frame_pts", ())) or len(self._vr)
        except (decord.DECORDError, RuntimeError, AssertionError, IndexError) as e:
            self._vr = None
            raise VideoError(self.path, diagnose(self.path, e)) from e
        n = min(len(self._vr), real)
        if n == 0:
            self.close()
            raise VideoError(self.path, "no video frames")
        # decord exposes the size only by decoding a frame; the probe (`auto`) read it already
        w, h = probe.size if probe is not None and probe.size[0] else probe_size(self.path)
        self.meta = VideoMeta(str(self.path), n, float(self._vr.get_avg_fps()), w, h)

    def _decode(self, indices: np.ndarray) -> torch.Tensor:
        import decord

        try:
            arr = self._vr.get_batch(indices.tolist()).asnumpy()  # (U, H, W, 3)
        except decord.DECORDError as e:
            raise VideoError(self.path, f"decode failed: {error_text(e)}") from e
        return torch.from_numpy(arr).permute(0, 3, 1, 2)  # (U, C, H, W), channels-last in memory, as TorchCodec

    def close(self) -> None:
        # decord has no close(): dropping the last reference frees the native reader.
        self._vr = None
