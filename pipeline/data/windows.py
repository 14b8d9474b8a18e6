"""A long video as a row of time windows, decoded in one pass: what `vap score --window` reads.

`Windows(window, stride)` (seconds) -> frame spans [a, b) from the video's frame count and rate: the
first at 0, one every `stride`, each `window` long, the last one ending at the video's end (shorter where
the video is) -> per span, the checkpoint's own evaluation sampler over the span's frames, shifted to
the span -> one reader, asked for window after window (PyAV decodes on from where the last request
stopped: one pass over the file, a seek only where the stride skips past a keyframe) -> per window,
the transformed clips `(J, T, C, H, W)` as a `WindowClips` part.

`decode_windows` is a generator run in a decoding worker process (`pipeline.data.pool`): it yields a
`VideoStart`, a `WindowClips` per window and a `VideoEnd`, so that a 2-hour video never sits in memory
and the main process can journal each window as it is scored. `start` skips the windows a killed run had
already journaled. A window that needs frames past a truncated file's last decodable frame ends the
windows there with a reason (the windows before it stay).
"""

from __future__ import annotations

import math
from collections.abc import Iterator
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass

import numpy as np
import torch

from pipeline.data.backends import open_video
from pipeline.data.clips import FailedVideo
from pipeline.data.samplers import ClipSampler
from pipeline.data.transforms import Compose
from pipeline.errors import ConfigError, VideoError, one_line


@dataclass(frozen=True)
class Windows:
    """Windows of `window` seconds every `stride` seconds (default: `window`, back to back)."""

    window: float
    stride: float | None = None

    def __post_init__(self) -> None:
        if not (math.isfinite(self.window) and self.window > 0):
            raise ConfigError(f"--window {self.window:g}: must be a positive number of seconds")
        if self.stride is not None and not (math.isfinite(self.stride) and self.stride > 0):
            raise ConfigError(f"--stride {self.stride:g}: must be a positive number of seconds")

    @property
    def step(self) -> float:
        return self.window if self.stride is None else self.stride

    def too_short(self, duration: float) -> str | None:
        """Why a video of `duration` seconds cannot be scored in these windows (None: it can). A window
        longer than the video is one window over all of it; a stride longer than a video that is also
        longer than the window would score its first window and skip the rest."""
        if self.step > self.window and self.step >= duration > self.window:
            return (f"{duration:.2f} s long, shorter than --stride {self.step:g} s: only its first "
                    f"{self.window:g} s would be scored")  # fmt: skip
        return None

    def cannot_place(self, duration: float, fps: float) -> str | None:
        """Why a video of `duration` seconds at `fps` cannot be scored in these windows (None: it can)."""
        if why := self.too_short(duration):
            return why
        return "unknown frame rate: cannot place windows in seconds" if fps <= 0 else None

    def spans(self, num_frames: int, fps: float) -> list[tuple[int, int]]:
        """Frame spans [a, b) of the windows over `num_frames` frames at `fps`."""
        if fps <= 0:
            raise ValueError("unknown frame rate: cannot place windows in seconds")
        length = max(1, round(self.window * fps))
        out: list[tuple[int, int]] = []
        i = 0
        while (a := round(i * self.step * fps)) < num_frames:
            b = min(a + length, num_frames)
            out.append((a, b))
            if b >= num_frames:
                break
            i += 1
        return out


@dataclass
class VideoStart:
    """A video's windows are about to come: what its reader found, and how many windows it has."""

    path: str
    num_frames: int
    fps: float
    backend: str
    windows: int  # in the whole video
    first: int  # the first window decoded now (the ones before were journaled by an earlier run)


@dataclass
class WindowClips:
    """One window's evaluation clips, ready for the model."""

    path: str
    index: int
    start: float  # seconds
    end: float
    clips: torch.Tensor  # uint8 (J, T, C, H, W) or (J, V, T, C, H, W)


@dataclass
class VideoEnd:
    """The video's windows are all out: `windows` of them in total (journaled before included), and why they
    stop before the end of the video, if they do."""

    path: str
    num_frames: int
    fps: float
    backend: str
    windows: int
    stopped: str | None = None
    codec_frames: int | None = None  # what the codec decoded for the video (None: the backend does not count)


WindowPart = VideoStart | WindowClips | VideoEnd | FailedVideo


def decode_windows(
    path: str,
    *,
    windows: Windows,
    sampler: ClipSampler,
    transform: Compose,
    backend: str = "auto",
    starts: dict[str, int] | None = None,
) -> Iterator[WindowPart]:
    """The parts of one video in windows (see the module's docstring); `starts[path]` windows are skipped."""
    first = (starts or {}).get(path, 0)
    try:
        reader = open_video(path, backend)
    except VideoError as e:
        yield FailedVideo(path, e.reason)
        return
    except (RuntimeError, OSError, ValueError) as e:  # a decoder's own failure
        yield FailedVideo(path, one_line(e))
        return
    with reader, ThreadPoolExecutor(1, thread_name_prefix="window-transform") as transforms:
        m = reader.meta
        if why := windows.cannot_place(m.duration, m.fps):
            yield FailedVideo(path, why)
            return
        spans = windows.spans(m.num_frames, m.fps)
        yield VideoStart(path, m.num_frames, m.fps, reader.backend, len(spans), first)
        done, stopped = first, None
        # Window k's transform (a full-resolution resize: 26 ms for 8 720p frames, 15% of their decoding) runs
        # on a thread while window k+1 decodes; both release the GIL, so a second core takes it
        ready: tuple[int, int, int, Future[torch.Tensor]] | None = None
        for k in range(first, len(spans)):
            a, b = spans[k]
            indices = sampler(b - a, training=False, fps=m.fps) + a  # (J, T)
            try:
                frames = reader.get_frames(indices.reshape(-1))  # (J*T, C, H, W)
            except VideoError as e:
                stopped = f"window {k} ({a / m.fps:.2f} s): {e.reason}"
                break
            except (RuntimeError, OSError, ValueError, IndexError) as e:
                stopped = f"window {k} ({a / m.fps:.2f} s): " + one_line(e)
                break
            if (n := reader.meta.num_frames) < m.num_frames and indices.max() >= n:  # clamped: past the end
                stopped = f"frames from {n} ({n / m.fps:.2f} s) on do not decode"
                break
            j, t = indices.shape
            clips = frames.reshape(j, t, *frames.shape[1:])  # (J, T, C, H, W)
            if ready is not None:
                yield _window(path, m.fps, *ready)
                done += 1
            ready = (k, a, b, transforms.submit(_transformed, clips, transform))
        if ready is not None:
            yield _window(path, m.fps, *ready)
            done += 1
        yield VideoEnd(path, reader.meta.num_frames, m.fps, reader.backend, done, stopped, reader.codec_frames)


def _transformed(clips: torch.Tensor, transform: Compose) -> torch.Tensor:
    """(J, T, C, H, W) -> (J, T, C, h, w) or (J, 3, T, C, h, w): each clip through the evaluation transform."""
    rng = np.random.default_rng(0)  # evaluation transforms are deterministic; the rng is unused
    return torch.stack([transform(c, rng) for c in clips])


def _window(path: str, fps: float, k: int, a: int, b: int, clips: Future[torch.Tensor]) -> WindowClips:
    return WindowClips(path, k, round(a / fps, 4), round(b / fps, 4), clips.result())
