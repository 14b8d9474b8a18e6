"""`vap score --window` with a long-video agent: the windows it judges empty are skipped, not decoded.

    video -> the agent's episode (`long_episodes.look`: the keyframes, the reference frames where they
       showed nothing, then its few glimpses)
    -> seeds: the windows a glimpse saw something in (the classifier's best class for the glimpse's clip
       is not an "empty" class: a clip class that is no video's class, such as `background`); the window
       of the glimpse that saw a video class most surely, even below an empty one (an event seen at its
       edge); and those of the frames of both looks that showed a video class at `sure` or more
    -> each seed scored as `vap score --window` scores a classifier's windows (its evaluation clips
       inside the window, their probabilities averaged), then its neighbours on both sides, one by one,
       until a window's best class is empty again: a segment ends where scoring every window ends it
    -> every other window is skipped: judged empty from the agent's look, never decoded.
Runs in a decoding worker (one generator per video, as `pipeline.data.windows.decode_windows`); the
parts come out in window order after the video's work is done, so a killed run's journaled windows are
not yielded again (the video's judging is deterministic and redone).
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from dataclasses import dataclass

import numpy as np
import torch

from pipeline.data.clips import FailedVideo
from pipeline.data.samplers import ClipSampler
from pipeline.data.sparse_reader import SparseReader
from pipeline.data.transforms import Compose
from pipeline.data.windows import VideoEnd, VideoStart, WindowPart, Windows
from pipeline.errors import VideoError, one_line
from pipeline.inference.long_episodes import Looked, look
from pipeline.models.long_glimpse import LongGlimpseModel


@dataclass
class JudgedWindow:
    """One window of a long video as the agent left it: scored, or judged empty and skipped."""

    path: str
    index: int
    start: float  # seconds
    end: float
    probs: torch.Tensor | None  # (K',) the classifier's, mean over the window's clips; None: skipped


def windows_to_score(
    spans: list[tuple[int, int]],
    glimpses: list[tuple[int, int]],
    score: Callable[[int], torch.Tensor],
    empty: set[int],
) -> dict[int, torch.Tensor]:
    """Window index -> its class probabilities (K',) for the windows worth scoring: those the glimpses
    `[(middle frame of the clip, its best class)]` saw a non-empty class in, and their
    neighbours out to the first window on each side whose best class (`score(k)`) is empty."""
    queue = sorted({k for start, best in glimpses if best not in empty
                    for k, (a, b) in enumerate(spans) if a <= start < b})  # fmt: skip
    scored: dict[int, torch.Tensor] = {}
    while queue:
        k = queue.pop()
        if k in scored or not 0 <= k < len(spans):
            continue
        scored[k] = score(k)
        if int(scored[k].argmax()) not in empty:
            queue += [k - 1, k + 1]
    return scored


GLIMPSED = 0.1  # below this share of video classes, even the surest glimpse saw footage alone


def seeds(done: Looked, middle: int, empty: set[int], sure: float) -> list[tuple[int, int]]:
    """More places worth a window's score than the glimpses' best classes, as `(frame, video class)`:
    the glimpse that showed a video class most surely (if at `GLIMPSED` or more), and every frame of the
    looks showing any video class at `sure` or more."""
    out = []
    if done.seen and len(empty) < len(done.seen[0]):
        shows, best, top = _video_classes(torch.stack(done.seen), empty)  # (G,) each
        g = int(top.argmax())
        if float(shows[g]) >= GLIMPSED:
            out.append((done.starts[g] + middle, int(best[g])))
    if done.marks:  # a video class, whichever (as `SecondLook.stop`)
        shows, best, _ = _video_classes(torch.stack([p for _, p in done.marks]), empty)  # (N,) each
        out += [(f, int(c)) for (f, _), s, c in zip(done.marks, shows, best, strict=True) if float(s) >= sure]
    return out


def _video_classes(probs: torch.Tensor, empty: set[int]) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    """Class probabilities (N, K') -> how surely each shows a video class (1 - the empty classes' sum), its
    likeliest video class and that class's probability, (N,) each."""
    video = probs.clone()
    video[:, list(empty)] = -1.0
    top, best = video.max(1)
    return 1.0 - probs[:, list(empty)].sum(1), best, top


def agent_windows(
    path: str,
    *,
    model: LongGlimpseModel,
    transform: Compose,
    offsets: np.ndarray,
    step: float,
    windows: Windows,
    sampler: ClipSampler,
    window_transform: Compose,
    empty: set[int],
    classes: int,
    sure: float = 0.9,
    starts: dict[str, int] | None = None,
) -> Iterator[WindowPart | JudgedWindow]:
    """`VideoStart`, a `JudgedWindow` per window (from `starts[path]` on) and `VideoEnd` for one video; a
    file that cannot be read is one `FailedVideo`. `transform` prepares what the agent reads, `sampler` and
    `window_transform` a scored window's clips (the classifier's evaluation settings); `sure`: how sure of a
    video class a frame of the agent's looks must be to make its window worth scoring."""
    first = (starts or {}).get(path, 0)
    rng = np.random.default_rng(0)  # evaluation transforms are fixed
    try:
        with SparseReader(path) as reader, torch.inference_mode():
            m = reader.meta
            if why := windows.cannot_place(m.duration, m.fps):
                yield FailedVideo(path, why)
                return
            spans = windows.spans(m.num_frames, m.fps)
            done = look(reader, model=model, transform=transform, offsets=offsets, step=step, classes=classes)

            def score(k: int) -> torch.Tensor:
                a, b = spans[k]
                idx = np.minimum(sampler(b - a, training=False, fps=m.fps) + a, m.num_frames - 1)  # (J, T)
                frames = reader.sparse(idx.reshape(-1))  # (J*T, C, H, W)
                clips = frames.reshape(*idx.shape, *frames.shape[1:])  # (J, T, C, H, W)
                x = torch.stack([window_transform(c, rng) for c in clips])  # (J, [V,] T, C, h, w)
                return model.classifier(x).logits.softmax(-1).mean(0)  # (K',)

            middle = int(offsets[len(offsets) // 2])
            seen = [(s + middle, int(p.argmax())) for s, p in zip(done.starts, done.seen, strict=True)]
            scored = windows_to_score(spans, seen + seeds(done, middle, empty, sure), score, empty)
            codec = reader.codec_frames
    except VideoError as e:
        yield FailedVideo(path, e.reason)
        return
    except (RuntimeError, OSError, ValueError, IndexError) as e:  # a decoder's own failure
        yield FailedVideo(path, one_line(e))
        return
    yield VideoStart(path, m.num_frames, m.fps, "pyav", len(spans), first)
    for k in range(first, len(spans)):
        a, b = spans[k]
        yield JudgedWindow(path, k, round(a / m.fps, 4), round(b / m.fps, 4), scored.get(k))
    yield VideoEnd(path, m.num_frames, m.fps, "pyav", len(spans), codec_frames=codec)
