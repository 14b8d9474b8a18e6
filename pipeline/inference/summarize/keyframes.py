"""Key frames without a second decode: the analysis pass keeps every sampled frame as a JPEG (in memory,
spilling to a temporary file past `memory_bytes`), and the chosen ones are written from there.

sampled frames (b, C, H, W) uint8 -> JPEG (quality 90) -> spool -> keyframes/NNN_mm-ss.ss.jpg (the same
bytes) + contact_sheet.jpg. JPEG keeps an hour of 720p sampled at 2 fps to a few hundred MB, where raw
frames would take 20 GB.
"""

from __future__ import annotations

import io
import tempfile
from collections.abc import Sequence
from pathlib import Path

import numpy as np
import torch

QUALITY = 90
SHEET_HEIGHT = 240  # px of each frame on the contact sheet: readable at a glance
SHEET_COLUMNS = 4
SHEET_LABEL = 32  # px under each frame for its time


def _timestamp(seconds: float) -> str:
    m, s = divmod(seconds, 60)
    return f"{int(m):02d}:{s:05.2f}"


class SampledFrames:
    """JPEG bytes of decoded frames by frame index; `add` a batch as it is decoded, `jpeg(index)` later."""

    def __init__(self, *, memory_bytes: int = 256 << 20, folder: str | Path | None = None) -> None:
        self._spool = tempfile.SpooledTemporaryFile(max_size=memory_bytes, dir=folder)  # noqa: SIM115 - closed in close()
        self._where: dict[int, tuple[int, int]] = {}  # frame index -> (offset, length)

    def add(self, indices: Sequence[int] | np.ndarray, frames: torch.Tensor) -> None:
        """frames: uint8 (b, C, H, W), the frames at `indices`."""
        from PIL import Image

        for index, frame in zip(np.asarray(indices).tolist(), frames, strict=True):
            buf = io.BytesIO()
            Image.fromarray(frame.permute(1, 2, 0).numpy()).save(buf, format="JPEG", quality=QUALITY)
            self._spool.seek(0, io.SEEK_END)
            self._where[int(index)] = (self._spool.tell(), buf.tell())
            self._spool.write(buf.getvalue())

    def __contains__(self, index: int) -> bool:
        return index in self._where

    def jpeg(self, index: int) -> bytes:
        offset, length = self._where[index]
        self._spool.seek(offset)
        return self._spool.read(length)

    def close(self) -> None:
        self._spool.close()

    def __enter__(self) -> SampledFrames:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


def write_keyframes(
    keyframes: list[int], fps: float, out: Path, frames: SampledFrames | None = None, *, source: str = "",
    backend: str = "auto",
) -> list[Path]:  # fmt: skip
    """keyframes/NNN_mm-ss.ss.jpg (one per key frame) and a contact sheet with timestamps. The frames come
    from `frames` (kept by the analysis pass); without it they are decoded from `source`."""
    from PIL import Image

    kdir = out / "keyframes"
    kdir.mkdir(parents=True, exist_ok=True)
    for old in kdir.glob("[0-9][0-9][0-9]_*.jpg"):  # an interrupted run's key frames are not this run's
        old.unlink()
    if not keyframes:
        return []
    if frames is None or not all(k in frames for k in keyframes):
        from pipeline.data.backends import open_video

        frames = SampledFrames()
        with open_video(source, backend=backend) as video:
            frames.add(keyframes, video.get_frames(keyframes))  # (K, C, H, W) uint8
    images, paths = [], []
    for i, index in enumerate(keyframes):
        data = frames.jpeg(index)
        stamp = _timestamp(index / fps if fps > 0 else 0.0)
        path = kdir / f"{i:03d}_{stamp.replace(':', '-')}.jpg"
        path.write_bytes(data)
        images.append((Image.open(io.BytesIO(data)), stamp))
        paths.append(path)
    _contact_sheet(images, out / "contact_sheet.jpg")
    return paths


def _contact_sheet(images: list, path: Path) -> None:
    """Key frames in rows of SHEET_COLUMNS, each SHEET_HEIGHT px tall at its own aspect, its time under it."""
    from PIL import Image, ImageDraw, ImageFont

    first = images[0][0]
    tw = max(1, round(SHEET_HEIGHT * first.width / first.height))
    cols = min(SHEET_COLUMNS, len(images))
    gap = 8
    cell_w, cell_h = tw + gap, SHEET_HEIGHT + SHEET_LABEL
    sheet = Image.new("RGB", (cols * cell_w + gap, -(-len(images) // cols) * cell_h + gap), "white")
    draw = ImageDraw.Draw(sheet)
    font = ImageFont.load_default(size=22)
    for i, (img, stamp) in enumerate(images):
        x, y = gap + (i % cols) * cell_w, gap + (i // cols) * cell_h
        sheet.paste(img.convert("RGB").resize((tw, SHEET_HEIGHT)), (x, y))
        draw.text((x + tw // 2, y + SHEET_HEIGHT + 4), stamp, fill="black", font=font, anchor="mt")
    sheet.save(path, quality=QUALITY)
