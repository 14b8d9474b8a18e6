"""TorchCodec backend: PyTorch's own decoder (torchvision's `read_video` went away in 0.28).

`seek_mode="exact"` scans the file once at open, so the frame count and every index are the
stream's, not the header's. Exact in mp4/mov and mkv/webm, edit lists and rotation included (it turns
the picture upright itself); not in AVI or MPEG program streams, where it lost a frame and returned the
13th frame for frame 0 (see `probe.py`), so it declines those files. Where the probe found mp4's sample
table on an even grid (`Probe.even_grid`: constant frame rate, no gap), frame n is at n / rate and
`seek_mode="approximate"` is as exact without the scan; a variable-frame-rate mp4 is not (seeking there
returned other frames: tests/data/test_containers.py). Needs the system FFmpeg shared libraries (Debian
package `ffmpeg`).
"""

from __future__ import annotations

import os

import numpy as np
import torch

from pipeline.data.backends.base import BACKENDS, VideoMeta, VideoReader, diagnose, error_text
from pipeline.data.backends.probe import Probe
from pipeline.errors import VideoError


@BACKENDS.register("torchcodec")
class TorchCodecReader(VideoReader):
    """TorchCodec VideoDecoder with exact seeking."""

    name = "torchcodec"

    @classmethod
    def inexact_reason(cls, probe: Probe) -> str | None:
        if not probe.indexed:
            return f"does not seek exactly in {probe.format_name} files"
        return None

    wants_probe = True
    decodes_on_device = True

    def __init__(
        self,
        path: str | os.PathLike[str],
        *,
        num_threads: int = 1,
        seek_mode: str | None = None,
        probe: Probe | None = None,
        device: str = "cpu",
    ) -> None:
        """`seek_mode` None: "approximate" where the `probe` shows an even sample grid, else "exact".
        `device` "cuda": NVDEC decodes on the GPU and the frames stay there."""
        super().__init__(path, num_threads=num_threads)
        from torchcodec.decoders import VideoDecoder

        if seek_mode is None:
            seek_mode = "approximate" if probe is not None and probe.even_grid else "exact"
        self.seek_mode = seek_mode

        try:
            self._dec = VideoDecoder(str(self.path), seek_mode=seek_mode, num_ffmpeg_threads=num_threads, device=device)
        except (RuntimeError, ValueError) as e:
            raise VideoError(self.path, diagnose(self.path, e)) from e
        md = self._dec.metadata
        n = int(md.num_frames or 0)
        if n == 0:
            self.close()
            raise VideoError(self.path, "no video frames")
        rotation = int(round((md.rotation or 0) / 90)) * 90 % 360
        self.meta = VideoMeta(str(self.path), n, float(md.average_fps or 0.0), int(md.width), int(md.height), rotation)

    def _decode(self, indices: np.ndarray) -> torch.Tensor:
        try:
            return self._dec.get_frames_at(indices=indices.tolist()).data  # (U, C, H, W) uint8
        except (RuntimeError, IndexError) as e:
            raise VideoError(self.path, f"decode failed: {error_text(e)}") from e

    def close(self) -> None:
        self._dec = None
