"""Videos in every container users bring, written by the `ffmpeg` program, each frame carrying its number.

A frame shows its index as a 4 x 3 grid of black and white cells (12 bits, most significant first),
cells large enough to survive MJPEG, MPEG-2 and VP9 at low quality, so `read_number(frame)` tells
which frame a decoder returned. "Frame n" is the n-th frame that a sequential decode presents, which is
what `ffmpeg -i X %06d.png` writes: each case below records how many frames that is.
"""

from __future__ import annotations

import subprocess
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch

COLS, ROWS = 4, 3


def number_frame(n: int, height: int, width: int) -> np.ndarray:
    """uint8 (H, W, 3) whose cells spell `n` in binary."""
    bits = [(n >> (COLS * ROWS - 1 - k)) & 1 for k in range(COLS * ROWS)]
    cells = np.array(bits, dtype=np.uint8).reshape(ROWS, COLS) * 255  # (3, 4)
    ys = np.arange(height) * ROWS // height
    xs = np.arange(width) * COLS // width
    img = cells[ys][:, xs]  # (H, W)
    return np.repeat(img[..., None], 3, axis=2)


def read_number(frame: torch.Tensor) -> int:
    """The frame number drawn by `number_frame`, from a uint8 (C, H, W) frame (the middle of each cell)."""
    gray = frame.float().mean(0)  # (H, W)
    h, w = gray.shape
    value = 0
    for r in range(ROWS):
        for c in range(COLS):
            y0, y1 = r * h // ROWS, (r + 1) * h // ROWS
            x0, x1 = c * w // COLS, (c + 1) * w // COLS
            dy, dx = max((y1 - y0) // 4, 0), max((x1 - x0) // 4, 0)
            cell = gray[y0 + dy : y1 - dy, x0 + dx : x1 - dx]
            value = (value << 1) | int(cell.mean() > 127)
    return value


@dataclass(frozen=True)
class Case:
    """One way to write a video: ffmpeg output options, and what a sequential decode of it presents."""

    name: str
    suffix: str
    args: tuple[str, ...]
    num_frames: int = 60
    size: tuple[int, int] = (64, 48)  # (width, height) of the source frames
    fps: int = 25
    rotation: int = 0  # degrees the player turns the picture (display matrix)
    first: int = 0  # number drawn on the first presented frame (a cut file starts later)

    @property
    def shown_size(self) -> tuple[int, int]:
        w, h = self.size
        return (h, w) if self.rotation % 180 else (w, h)


X264 = ("-c:v", "libx264", "-preset", "veryfast", "-pix_fmt", "yuv420p")
CASES: dict[str, Case] = {
    c.name: c
    for c in [
        # H.264 with B-frames in mp4: the muxer writes an edit list for the reorder delay; plus an offset start.
        Case("mp4_h264_bframes", ".mp4", (*X264, "-bf", "3", "-g", "12", "-output_ts_offset", "1.5")),
        # MPEG-2 program stream: the muxer starts the clock at about 0.5 s.
        Case("mpg_mpeg2", ".mpg", ("-c:v", "mpeg2video", "-q:v", "4", "-bf", "2", "-g", "12", "-f", "mpeg")),
        # AVI with MPEG-4 Part 2 (UCF101, HMDB51): xvid-like, B-frames, in a container without pts.
        Case("avi_mpeg4", ".avi", ("-c:v", "mpeg4", "-vtag", "XVID", "-q:v", "4", "-bf", "2", "-g", "12")),
        Case("avi_mjpeg", ".avi", ("-c:v", "mjpeg", "-q:v", "4", "-pix_fmt", "yuvj420p")),
        # WebM VP9 (Something-Something V2), with alt-ref frames that are never shown.
        Case("webm_vp9", ".webm", ("-c:v", "libvpx-vp9", "-b:v", "200k", "-g", "12", "-deadline", "realtime")),
        Case("mkv_h264", ".mkv", (*X264, "-bf", "2", "-g", "10")),
        # Variable frame rate: 25 fps, then 10 fps for the rest.
        Case(
            "mp4_vfr",
            ".mp4",
            (*X264, "-bf", "2", "-g", "12", "-vf", "setpts='if(lt(N,30),N/25,30/25+(N-30)/10)/TB'", "-fps_mode", "vfr"),
        ),
        # A phone video held upright: stored 64x48, to be shown turned by 90 degrees.
        Case("mp4_rotated", ".mp4", (*X264, "-g", "12"), rotation=90),
        # Odd sizes need 4:4:4 (4:2:0 halves them); 71 px wide also trips decoders that assume even rows.
        Case("mp4_odd_size", ".mp4", (*X264[:-1], "yuv444p", "-bf", "2", "-g", "12"), size=(71, 37)),
    ]
}


def write_case(case: Case, folder: Path, timeout: float = 60.0) -> Path:
    """Pipe numbered RGB frames into the `ffmpeg` program with the case's options; return the file."""
    w, h = case.size
    out = folder / f"{case.name}{case.suffix}"
    src = np.stack([number_frame(n, h, w) for n in range(case.num_frames)])  # (T, H, W, 3)
    cmd = ["ffmpeg", "-v", "error", "-y", "-f", "rawvideo", "-pix_fmt", "rgb24", "-s", f"{w}x{h}"]
    encoded = out.with_name(f"{case.name}.unrotated{case.suffix}") if case.rotation else out
    cmd += ["-r", str(case.fps), "-i", "-", *case.args, "-an", str(encoded)]
    subprocess.run(cmd, input=src.tobytes(), check=True, timeout=timeout)
    if case.rotation:  # ffmpeg 5.1 turns `rotate` into a display matrix only when it copies the stream
        rotate = ["-c", "copy", "-metadata:s:v:0", f"rotate={case.rotation}"]
        subprocess.run(
            ["ffmpeg", "-v", "error", "-y", "-i", str(encoded), *rotate, str(out)], check=True, timeout=timeout
        )
        encoded.unlink()
    return out


def ffmpeg_numbers(path: Path, rotation: int = 0, timeout: float = 60.0) -> list[int]:
    """The numbers on every frame `ffmpeg -i X` presents, in order (the definition of frame n).

    ffmpeg turns a rotated video upright (`rotation` degrees counter-clockwise): it is turned back to read it.
    """
    probe = subprocess.run(
        ["ffprobe", "-v", "error", "-select_streams", "v:0", "-show_entries", "stream=width,height", "-of", "csv=p=0",
         str(path)], capture_output=True, text=True, check=True, timeout=timeout)  # fmt: skip
    raw = subprocess.run(
        ["ffmpeg", "-v", "error", "-i", str(path), "-fps_mode", "passthrough",
         "-f", "rawvideo", "-pix_fmt", "rgb24", "-"],
        capture_output=True, check=True, timeout=timeout,
    ).stdout  # fmt: skip
    w, h = (int(v) for v in probe.stdout.strip().split(",")[:2])
    if rotation % 180:  # shown upright: width and height swap
        w, h = h, w
    frames = torch.from_numpy(np.frombuffer(raw, np.uint8).reshape(-1, h, w, 3).copy()).permute(0, 3, 1, 2)
    return [read_number(torch.rot90(f, -rotation // 90, dims=(1, 2))) for f in frames]
