"""Decoding as little as a glimpse needs: a video's keyframes alone, and frames reached from a keyframe
while the frames nothing refers to are skipped.

An H.264 frame can only be decoded after the reference frames it predicts from, back to the keyframe
that opens its group of pictures: reaching frame n costs every reference frame from the keyframe before
it. The frames no other frame refers to (most B-frames: with x264's defaults, two in three) can be left
undecoded on the way, and the keyframes alone need nothing else. So, with FFmpeg's `skip_frame`:

    keyframes()     every keyframe and nothing else (`skip_frame = NONKEY`): a few percent of the frames,
                    a view of the whole video at its cuts and at least every 250 frames (x264's default
                    interval)
    reference_frames(starts)
                    from the first frame, the reference frames only (`NONREF`): for each start, the first
                    at or after it (the long-video agent's second look, `SecondLook`)
    sparse(idx)     frames `idx` (a glimpse's clip): seek to the keyframe before the first one, decode
                    the reference frames only (`NONREF`) up to `LEAD` frames before it, then every frame

Skipping a frame no one refers to cannot change another frame, so the frames returned are those of a
sequential decode; a wanted frame skipped anyway (its packet came before the switch) or a timestamp not
in the index sends the request to `PyAVReader.get_frames`, exact on every container. Containers without
an index (AVI, MPEG-PS) are served by `get_frames` throughout (their keyframes: the first frame only).
`codec_frames` counts the frames the decoder really decoded.
"""

from __future__ import annotations

from collections.abc import Iterator

import numpy as np
import torch

from pipeline.data.backends.pyav import PyAVReader, _Lost

LEAD = 16  # frames before the first wanted one where every frame is decoded again (> x264's B-frame delay)


class SparseReader(PyAVReader):
    """A PyAV reader that also decodes the keyframes alone, and glimpses from the keyframe before them."""

    name = "pyav"

    def keyframes(self) -> tuple[np.ndarray, torch.Tensor]:
        """Every keyframe: their frame indices (K,) and the frames, uint8 (K, C, H, W)."""
        if not self.indexed:
            first = np.zeros(1, dtype=np.int64)
            return first, self.get_frames(first)
        import av

        self._open()
        self._stream.codec_context.skip_frame = "NONKEY"
        out: dict[int, np.ndarray] = {}
        try:
            for frame in self._container.decode(self._stream):
                self.codec_frames += 1
                i = int(np.searchsorted(self._pts, frame.pts)) if frame.pts is not None else len(self._pts)
                if i < len(self._pts) and self._pts[i] == frame.pts:
                    out[i] = self._to_rgb(frame)
        except av.error.FFmpegError:
            pass  # a truncated or broken file: the keyframes before the break
        finally:
            self._open()  # a fresh decoder, decoding every frame again
        if not out:
            first = np.zeros(1, dtype=np.int64)
            return first, self.get_frames(first)
        order = np.array(sorted(out), dtype=np.int64)
        return order, self._stack(out, order)

    def reference_frames(self, starts: np.ndarray) -> Iterator[tuple[int, int, torch.Tensor]]:
        """For each of the sorted frame indices `starts`, the first reference frame at or after it, as
        (position in `starts`, frame index, uint8 (C, H, W)), in order, decoded from the first frame with
        the frames nothing refers to skipped. A caller may stop early; a broken stream ends the sweep.
        Containers without an index decode every frame (`get_frames`)."""
        starts = np.asarray(starts, dtype=np.int64)
        if not self.indexed:
            for s, i in enumerate(starts.tolist()):
                yield s, int(i), self.get_frames(np.array([i]))[0]
            return
        import av

        self._open()
        self._stream.codec_context.skip_frame = "NONREF"
        s = 0
        try:
            for frame in self._container.decode(self._stream):
                self.codec_frames += 1
                i = int(np.searchsorted(self._pts, frame.pts)) if frame.pts is not None else len(self._pts)
                if i >= len(self._pts) or self._pts[i] != frame.pts or i < starts[s]:
                    continue
                image = self._stack({i: self._to_rgb(frame)}, np.array([i]))[0]  # (C, H, W)
                while s < len(starts) and starts[s] <= i:
                    yield s, i, image
                    s += 1
                if s == len(starts):
                    return
        except av.error.FFmpegError:
            return  # a truncated or broken file: the frames before the break
        finally:
            self._open()  # a fresh decoder, decoding every frame again

    def sparse(self, indices: np.ndarray) -> torch.Tensor:
        """Frames at `indices` (near each other: one glimpse; any order, repeats allowed) as uint8
        (T, C, H, W), decoding from the keyframe before the first and skipping what no frame refers to
        until `LEAD` frames before it."""
        idx = np.asarray(indices, dtype=np.int64)
        if not self.indexed or idx.size == 0 or idx.max() >= self.meta.num_frames:
            return self.get_frames(idx)
        import av

        try:
            out = self._decode_skipping(np.unique(idx))
        except (_Lost, av.error.FFmpegError):
            out = {}
        finally:
            self._stream.codec_context.skip_frame = "DEFAULT"
            self._cursor = None
        if len(out) < len(set(idx.tolist())):
            return self.get_frames(idx)  # exact, decoding every frame from the keyframe
        return self._stack(out, idx)

    def _decode_skipping(self, idx: np.ndarray) -> dict[int, np.ndarray]:
        first, last = int(idx[0]), int(idx[-1])
        wanted, out = set(idx.tolist()), {}
        frames, pos = self._seek(self._keyframe_before(first)), None
        skipping = first - self._seek_key > LEAD
        cc = self._stream.codec_context
        cc.skip_frame = "NONREF" if skipping else "DEFAULT"
        for frame in frames:
            self.codec_frames += 1
            pos = self._place(frame, pos)
            if pos is None:
                continue
            if skipping and pos >= first - LEAD:
                cc.skip_frame, skipping = "DEFAULT", False
            if pos in wanted:
                out[pos] = self._to_rgb(frame)
            if pos >= last:
                break
        return out

    def _stack(self, out: dict[int, np.ndarray], order: np.ndarray) -> torch.Tensor:
        arr = np.stack([out[int(i)] for i in order])  # (T, H, W, 3)
        frames = torch.from_numpy(arr).permute(0, 3, 1, 2)  # (T, C, H, W)
        return torch.rot90(frames, self.rotation // 90, dims=(2, 3)) if self.rotation else frames
