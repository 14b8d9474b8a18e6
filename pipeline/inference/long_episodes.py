"""The long-video agent's episode on one video, decoding as little as it can.

video -> SparseReader: the packet index (no decoding) and the keyframes alone (the first look) -> the
timeline of slots -> where no keyframe shows a video class, one reference frame per slot from the start
until two in a row show one (the second look, `SecondLook`) -> the agent picks slot s_1 -> its clip is
decoded from the keyframe before it, the frames nothing refers to skipped (`SparseReader.sparse`), and
read by the frozen classifier -> s_2 ... until the agent halts. Runs in a decoding worker, one torch
thread, as the clip agent's episode does (`pipeline.inference.episodes`); the time is split into the first
look, the second look's decoding, the glimpses' decoding and the model, so a record shows where it went.
"""

from __future__ import annotations

from collections.abc import Callable
from contextlib import closing
from dataclasses import dataclass
from time import perf_counter

import numpy as np
import torch

from pipeline.data.clips import FailedVideo
from pipeline.data.long_videos import timeline
from pipeline.data.sparse_reader import SparseReader
from pipeline.data.transforms import Compose
from pipeline.errors import VideoError, one_line
from pipeline.inference.episodes import AgentEpisode
from pipeline.models.long_glimpse import FirstLook, LongGlimpseModel, SecondLook, place_keyframes


@dataclass
class Looked:
    """What one episode of the long-video agent did on an open video."""

    logits: torch.Tensor  # (K,) the answer at the halting step
    starts: list[int]  # the first frame of each clip it looked at, in order
    seen: list[torch.Tensor]  # each of those clips' class probabilities under the classifier, (K',)
    keyframes: list[int]  # the frames of the first look
    swept: list[int]  # the frames of the second look (none where the keyframes showed a video class)
    marks: list[tuple[int, torch.Tensor]]  # each frame of both looks and its class probabilities, (K',)
    slots: int  # places it could look
    seconds: dict[str, float]  # first look, second look's decoding, glimpse decoding, model


def look(reader: SparseReader, *, model: LongGlimpseModel, transform: Compose, offsets: np.ndarray, step: float,
         classes: int = 0) -> Looked:  # fmt: skip
    """The agent's episode (eval mode, no sampling) on an open `reader`; `classes`: the classifier's class
    count K', to keep what each glimpse's clip looked like to it. A decoder's failure raises."""
    rng = np.random.default_rng(0)  # evaluation transforms are fixed
    seconds = {"first_look": 0.0, "second_look": 0.0, "glimpse_decode": 0.0, "model": 0.0}
    starts: list[int] = []
    seen: list[torch.Tensor] = []
    with torch.inference_mode():
        m = reader.meta
        t0 = perf_counter()
        keys, key_frames = reader.keyframes()  # (K,), (K, C, H, W)
        line = timeline(m.num_frames, m.fps, keys, step, int(offsets[-1]) + 1)
        t1 = perf_counter()
        feats = model.frame_features(transform(key_frames, rng))  # (K, D)
        probs = lambda f: f[:, f.shape[1] - classes :]  # noqa: E731 - (n, D + K') -> the classifier's (n, K')
        marks = list(zip(keys.tolist(), probs(feats), strict=True)) if classes else []
        placed, flag = place_keyframes(feats, torch.from_numpy(line.key_slot), torch.from_numpy(line.keyframe))
        seconds["first_look"] += t1 - t0
        seconds["model"] += perf_counter() - t1
        rule, swept = model.agent.second_look, []
        if rule is not None and rule.wanted(placed, flag):
            frames, swept = sweep(reader, line.starts, rule, lambda x: model.frame_features(transform(x, rng)), seconds)
            placed, flag = rule.place(placed, flag, frames)
            marks += list(zip(swept, probs(frames), strict=True)) if classes else []
        first = FirstLook(placed[None], flag[None], torch.ones(1, len(flag), dtype=torch.bool))

        def glimpse(rows: torch.Tensor, slots: torch.Tensor) -> torch.Tensor:
            start = int(line.starts[int(slots[0])])
            idx = np.minimum(start + offsets, m.num_frames - 1)
            a = perf_counter()
            clip = reader.sparse(idx)  # (L, C, H, W); the last clip of a video may repeat its last frame
            b = perf_counter()
            x = model.clip_features(transform(clip, rng)[None])  # (1, D' + K')
            seconds["glimpse_decode"] += b - a
            seconds["model"] += perf_counter() - b
            starts.append(start)
            seen.append(x[0, x.shape[1] - classes :] if classes else x[0, :0])  # (K',) the classifier's
            return x

        t2, inside = perf_counter(), seconds["glimpse_decode"] + seconds["model"]
        out = model(first, glimpse, sample=False)
        seconds["model"] += perf_counter() - t2 - (seconds["glimpse_decode"] + seconds["model"] - inside)
    return Looked(out.logits[0], starts, seen, [int(k) for k in keys], swept, marks, len(line.starts),
                  {k: round(v, 4) for k, v in seconds.items()})  # fmt: skip


def sweep(reader: SparseReader, starts: np.ndarray, rule: SecondLook, features: Callable[[torch.Tensor], torch.Tensor],
          seconds: dict[str, float], chunk: int = 8) -> tuple[torch.Tensor, list[int]]:  # fmt: skip
    """The second look: one reference frame per slot (`starts`), read `chunk` slots at a time by
    `features` ((n, C, H, W) -> (n, D)) until `rule` stops; the kept frames' features (n, D) and indices."""
    feats: list[torch.Tensor] = []
    frames: list[int] = []
    images: list[torch.Tensor] = []
    t = perf_counter()

    def read() -> int | None:
        nonlocal t
        a = perf_counter()
        seconds["second_look"] += a - t
        feats.append(features(torch.stack(images)))  # (chunk, D)
        images.clear()
        t = perf_counter()
        seconds["model"] += t - a
        return rule.stop(torch.cat(feats)[:, -rule.classes :])

    keep = None
    with closing(reader.reference_frames(starts)) as swept:  # closed at once: the decoder is reopened
        for _, i, image in swept:
            frames.append(i)
            images.append(image)
            if len(images) == chunk and (keep := read()) is not None:
                break
    if images:
        keep = read()
    else:
        seconds["second_look"] += perf_counter() - t
    done = torch.cat(feats) if feats else torch.zeros(0, 0)
    n = len(done) if keep is None else keep
    return done[:n], frames[:n]


def long_episode(
    path: str, *, model: LongGlimpseModel, transform: Compose, offsets: np.ndarray, step: float
) -> AgentEpisode | FailedVideo:
    """Run the long-video agent `model` (eval mode) on `path`: its answer, the clips it looked at and what
    the codec decoded for them."""
    try:
        with SparseReader(path) as reader:
            done = look(reader, model=model, transform=transform, offsets=offsets, step=step)
            m, codec = reader.meta, reader.codec_frames
    except VideoError as e:
        return FailedVideo(path, e.reason)
    except (RuntimeError, OSError, ValueError, IndexError) as e:  # a decoder's own failure
        return FailedVideo(path, one_line(e))
    frames = done.keyframes + done.swept + [min(s + int(o), m.num_frames - 1) for s in done.starts for o in offsets]
    return AgentEpisode(path, done.logits.softmax(-1), done.starts, done.slots, m.num_frames, m.fps, "pyav", frames,
                        codec, seconds=done.seconds)  # fmt: skip
