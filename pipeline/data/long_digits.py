"""`moving-digits-long`: minutes of real footage in which one short moving-digits event carries the class.

What the long-video glimpse agent is proved on (docs/glimpse.md): a video (1-2 minutes to train on, 1-5
to test on) is the sample footage of `datasets/samples/` (a street, a car, an animated film) looped and
cut into shots of 2-12 s, each shot its own crop, zoom and mirror of a source, played forward and back
(ping-pong) so that a shot longer than its source never jumps; somewhere in it, at a seeded random time,
one handwritten digit (the class: which digit, 0-9) moves right, left, down or up across the frame for
3-5 s, drawn in a bright ink with a dark outline, as a caption would be. Everything else is footage: the
answer takes finding those few seconds.
Encoded as users' files are: H.264 (x264 `veryfast`, B-frames, its default keyframe interval of 250
frames and its scene-cut keyframes), 25 fps. Written layout, under `DIR`:

    videos/<split>/long_<nnn>.mp4   train and val at `train_size`; test once per size in `test_sizes`
                                    (the same content at each: videos/test_1280x720/, videos/test_320x180/)
    <split>.txt                     `path label` lines (train.txt, val.txt, test_1280x720.txt, ...)
    truth.json                      split -> video name -> {"duration", "start", "end", "label"}
    clips/<split>/<class>/*.mp4     1.2-s clips of the same world at `clip_size`, a moving digit of each
                                    class and `background` (footage alone): what the per-glimpse
                                    classifier learns
    clips_train.txt, clips_val.txt, clip_classes.txt, classes.txt (digit_0 ... digit_9)

Which digit, not which way it moves, is the class: a per-frame CNN pools over the frame and reads a shape
wherever it is, while the direction of a move across a large frame of footage is a place changing
between frames; with the moves as classes the tiny CNN of the configs stayed near chance on the clips
(35% top-1 on its training clips after 10 epochs, chance 20%).
    manifest.json                   the parameters (a folder made with the same ones is left as it is)

Deterministic under `seed`: every plan, digit and colour comes from a generator seeded by (seed, split,
video), and x264 runs with one thread and without macroblock-tree (`write_video(reproducible=True)`).
"""

from __future__ import annotations

import json
import multiprocessing
import os
from collections.abc import Iterator
from concurrent.futures import ProcessPoolExecutor
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path
from typing import Any

import numpy as np
import torch
import torch.nn.functional as F
from rich.progress import track

from pipeline.data.moving_digits import CLASS_NAMES, DATA_MAKERS
from pipeline.data.records import write_atomic
from pipeline.data.writer import write_video
from pipeline.errors import ConfigError

VERSION = 3  # 2: the digit is the class (1: its move); 3: 45-60% of the frame height (was 28-36%)
MOVES = CLASS_NAMES[:4]  # move_right, move_left, move_down, move_up: how the digit crosses the frame
CLASSES = tuple(f"digit_{d}" for d in range(10))
CLIP_CLASSES = (*CLASSES, "background")
FPS = 25
CLIP_SECONDS = 1.2  # a training clip: 30 frames, room for the 8-frame stride-3 clip a glimpse reads
SAMPLES = Path(__file__).resolve().parents[2] / "datasets" / "samples"


@dataclass(frozen=True)
class Shot:
    """`length` frames of footage `source` from frame `start`, ping-ponging; a crop `box` (x0, y0, x1, y1)
    in [0, 1] of the source and a mirror."""

    source: int
    start: int
    length: int
    box: tuple[float, float, float, float]
    mirror: bool


def load_footage(folder: Path, aspect: float) -> list[torch.Tensor]:
    """Every video of `folder` decoded to uint8 (N, 3, h, w), centre-cropped to `aspect` (width / height)."""
    from pipeline.data.backends import open_video
    from pipeline.data.discover import collect_videos

    paths = collect_videos(folder) if folder.is_dir() else []
    if not paths:
        raise ConfigError(f"{folder}: no footage videos for moving-digits-long (pass footage=DIR)")
    out = []
    for p in sorted(paths):
        with open_video(p, "pyav") as reader:
            frames = reader.get_frames(np.arange(reader.meta.num_frames))  # (N, 3, h, w)
        h, w = frames.shape[-2:]
        cw, ch = min(w, round(h * aspect)), min(h, round(w / aspect))
        x0, y0 = (w - cw) // 2, (h - ch) // 2
        out.append(frames[..., y0 : y0 + ch, x0 : x0 + cw].contiguous())
    return out


def scaled(footage: list[torch.Tensor], height: int) -> list[torch.Tensor]:
    """The footage no taller than 1.4x `height` (the deepest zoom), so that each frame's resize is cheap."""
    out = []
    for src in footage:
        h, w = src.shape[-2:]
        top = round(1.4 * height)
        if h <= top:
            out.append(src)
            continue
        size = (top, round(w * top / h))
        parts = [F.interpolate(c.float(), size=size, mode="bilinear", antialias=True) for c in src.split(32)]
        out.append(torch.cat(parts).round().to(torch.uint8))
    return out


def plan_shots(rng: np.random.Generator, total: int, footage: list[torch.Tensor]) -> list[Shot]:
    """Shots of 2-12 s covering `total` frames, each from a random source, crop, zoom and mirror."""
    shots, covered = [], 0
    while covered < total:
        length = min(int(rng.integers(2 * FPS, 12 * FPS)), total - covered)
        source = int(rng.integers(len(footage)))
        zoom = float(rng.uniform(1.0, 1.4))
        x0, y0 = rng.uniform(0, 1 - 1 / zoom, 2)
        box = (float(x0), float(y0), float(x0 + 1 / zoom), float(y0 + 1 / zoom))
        shots.append(Shot(source, int(rng.integers(len(footage[source]))), length, box, bool(rng.random() < 0.5)))
        covered += length
    return shots


def ping_pong(start: int, length: int, n: int) -> np.ndarray:
    """Frame indices of a source of `n` frames played from `start` forward and back, `length` of them."""
    period = max(2 * n - 2, 1)
    k = (start + np.arange(length)) % period
    return np.where(k < n, k, period - k)  # (length,)


def shot_frames(
    shot: Shot, footage: list[torch.Tensor], size: tuple[int, int], chunk: int = 50
) -> Iterator[torch.Tensor]:
    """The shot's frames, uint8 (t, 3, H, W) in chunks, cropped, resized to `size` (W, H) and mirrored."""
    src = footage[shot.source]
    h, w = src.shape[-2:]
    x0, y0, x1, y1 = shot.box
    crop = (slice(round(y0 * h), max(round(y1 * h), round(y0 * h) + 2)),
            slice(round(x0 * w), max(round(x1 * w), round(x0 * w) + 2)))  # fmt: skip
    order = ping_pong(shot.start, shot.length, len(src))
    for a in range(0, len(order), chunk):
        x = src[order[a : a + chunk]][..., crop[0], crop[1]].float()  # (t, 3, h', w')
        x = F.interpolate(x, size=(size[1], size[0]), mode="bilinear", antialias=True, align_corners=False)
        x = x.flip(-1) if shot.mirror else x
        yield x.round_().clamp_(0, 255).to(torch.uint8)  # (t, 3, H, W)


def glyph(digit: np.ndarray, side: int) -> tuple[torch.Tensor, torch.Tensor]:
    """A digit image (8, 8) in [0, 1] as (side, side) ink alpha and a dark outline alpha around it."""
    ink = F.interpolate(torch.from_numpy(np.array(digit, dtype=np.float32))[None, None], size=(side, side),
                        mode="bicubic", align_corners=False).clamp(0, 1)  # fmt: skip  # (1, 1, s, s)
    ink = (ink * 1.6 - 0.3).clamp(0, 1)  # crisper strokes
    width = max(side // 24, 1) * 2 + 1
    outline = F.max_pool2d(ink, width, stride=1, padding=width // 2)  # (1, 1, s, s)
    return ink[0, 0], outline[0, 0]


@dataclass(frozen=True)
class Event:
    """One digit of class `label` moving `move` (index into MOVES) from frame `start` to `end` (exclusive)."""

    start: int
    end: int
    label: int
    move: int
    digit: np.ndarray  # (8, 8)
    side_share: float  # digit side / frame height
    speed_share: float  # pixels per frame / frame height
    phase: float  # where along its axis the digit starts, in [0, 1)
    across: float  # where across its axis, in [0.2, 0.8]
    colour: tuple[float, float, float]


def draw_event(frames: torch.Tensor, event: Event, first: int) -> torch.Tensor:
    """Draw the event's digit into uint8 frames (t, 3, H, W) that start at video frame `first`, in place.

    The frame is a torus along the move (the digit leaving one edge comes in at the other), so every
    frame of the event shows the move, as a training clip does."""
    t, _, h, w = frames.shape
    side = max(int(event.side_share * h), 8)
    ink, outline = glyph(event.digit, side)  # (s, s) each
    colour = torch.tensor(event.colour)[:, None, None]  # (3, 1, 1)
    horizontal = event.move < 2
    sign = 1 if event.move % 2 == 0 else -1
    extent = w if horizontal else h
    for k in range(t):
        f = first + k
        if not event.start <= f < event.end:
            continue
        along = (event.phase * extent + sign * event.speed_share * h * (f - event.start)) % extent
        across = event.across * (h if horizontal else w)
        cx, cy = (along, across) if horizontal else (across, along)
        x0, y0 = int(round(cx - side / 2)), int(round(cy - side / 2))
        for dx in (-w, 0, w) if horizontal else (0,):
            for dy in (0,) if horizontal else (-h, 0, h):
                _paste(frames[k], ink, outline, colour, x0 + dx, y0 + dy)
    return frames


def _paste(
    frame: torch.Tensor, ink: torch.Tensor, outline: torch.Tensor, colour: torch.Tensor, x0: int, y0: int
) -> None:
    """Alpha-blend the outline (black, 0.7) then the ink (`colour`) at (x0, y0) into a (3, H, W) frame."""
    h, w = frame.shape[-2:]
    s = ink.shape[0]
    xa, ya, xb, yb = max(x0, 0), max(y0, 0), min(x0 + s, w), min(y0 + s, h)
    if xa >= xb or ya >= yb:
        return
    region = frame[:, ya:yb, xa:xb].float()  # (3, h', w')
    a_out = 0.7 * outline[ya - y0 : yb - y0, xa - x0 : xb - x0]  # (h', w')
    a_ink = ink[ya - y0 : yb - y0, xa - x0 : xb - x0]
    region = region * (1 - a_out)
    region = region * (1 - a_ink) + colour * a_ink
    frame[:, ya:yb, xa:xb] = region.round().clamp(0, 255).to(torch.uint8)


def plan_event(rng: np.random.Generator, digits: tuple[np.ndarray, np.ndarray], total: int,
               label: int | None = None) -> Event:  # fmt: skip
    """A 3-5 s event at a random time (not in the first or last 2 s) of a `total`-frame video: a digit of
    class `label` (random if None) from `digits` (images (N, 8, 8), classes (N,)), moving a random way."""
    length = min(int(rng.integers(3 * FPS, 5 * FPS + 1)), total)
    start = int(rng.integers(min(2 * FPS, total - length), max(total - length - 2 * FPS, 2 * FPS) + 1))
    hue = rng.uniform(0.3, 1.0, 3)
    colour = tuple(float(c) for c in hue / hue.max() * rng.uniform(200, 255))
    label = int(rng.integers(len(CLASSES))) if label is None else label
    images, classes = digits
    pool = np.flatnonzero(classes == label)
    return Event(
        start=start, end=start + length, label=label, move=int(rng.integers(len(MOVES))),
        digit=images[pool[rng.integers(len(pool))]], side_share=float(rng.uniform(0.45, 0.6)),
        speed_share=float(rng.uniform(0.3, 0.6)) / 21,  # 30-60% of the height over a glimpse's 21 frames
        phase=float(rng.random()), across=float(rng.uniform(0.25, 0.75)), colour=colour,
    )  # fmt: skip


@lru_cache(maxsize=4)
def digit_sets(seed: int) -> dict[str, tuple[np.ndarray, np.ndarray]]:
    """scikit-learn's handwritten digits (8x8, ink in [0, 1]) and their classes, split 60/20/20 at random
    under `seed` into train, val and test: the test videos show handwriting no training one does."""
    from sklearn.datasets import load_digits

    data = load_digits()
    images, classes = data.images.astype(np.float32) / 16.0, data.target.astype(np.int64)
    order = np.random.default_rng([seed, 1797]).permutation(len(images))
    parts = np.split(order, [round(0.6 * len(order)), round(0.8 * len(order))])
    return {split: (images[np.sort(i)], classes[np.sort(i)]) for split, i in zip(SPLITS, parts, strict=True)}


def render(
    rng: np.random.Generator, footage: list[torch.Tensor], total: int, size: tuple[int, int], event: Event | None
) -> Iterator[torch.Tensor]:
    """The frames (3, H, W) of `total` frames of footage at `size` (W, H) with `event` drawn in."""
    first = 0
    for shot in plan_shots(rng, total, footage):
        for chunk in shot_frames(shot, footage, size):
            if event is not None and first < event.end and first + len(chunk) > event.start:
                draw_event(chunk, event, first)
            yield from chunk
            first += len(chunk)


def long_video(seed: int, split: str, index: int, footage: list[torch.Tensor], size: tuple[int, int],
               seconds: tuple[float, float]) -> tuple[Iterator[torch.Tensor], Event]:  # fmt: skip
    """One long video's frames and its event; the same plan at every `size` (the generator is reseeded)."""
    base = "test" if split.startswith("test") else split
    rng = np.random.default_rng([seed, 29, SPLITS.index(base), index])
    total = int(rng.uniform(*seconds) * FPS)
    event = plan_event(rng, digit_sets(seed)[base], total)
    return render(rng, footage, total, size, event), event


SPLITS = ("train", "val", "test")


def parse_size(text: str | tuple[int, int]) -> tuple[int, int]:
    w, h = (int(v) for v in text.lower().split("x")) if isinstance(text, str) else text
    if w % 2 or h % 2 or min(w, h) < 32:
        raise ConfigError(f"size {text!r}: width and height must be even and at least 32")
    return w, h


def _write_long(job: tuple[Path, int, str, int, tuple[int, int], tuple[float, float], str | None]) -> Event:
    """Make one long video (run in a worker process); its event."""
    out, seed, split, i, size, seconds, footage = job
    torch.set_num_threads(1)
    frames, event = long_video(seed, split, i, _footage(footage, size), size, seconds)
    _write_once(out / "videos" / split / f"long_{i:03d}.mp4", frames)
    return event


def _write_once(path: Path, frames: Any) -> None:
    """Encode `frames` to `path` through a temporary file renamed into place, unless a run before this one
    (killed later) wrote it already: every video is determined by its seed, split and index."""
    if path.exists():
        return
    part = path.with_name(f".part-{path.name}")
    write_video(part, frames, fps=FPS, reproducible=True)
    os.replace(part, path)


def _write_clip(job: tuple[Path, int, str, int, tuple[int, int], str | None]) -> str:
    """Make one training clip (run in a worker process); its `path label` line."""
    out, seed, split, i, size, footage = job
    torch.set_num_threads(1)
    label = i % len(CLIP_CLASSES)
    rng = np.random.default_rng([seed, 31, SPLITS.index(split), i])
    event = None
    frames = round(CLIP_SECONDS * FPS)
    if label < len(CLASSES):
        event = plan_event(rng, digit_sets(seed)[split], frames, label=label)
        event = Event(**{**event.__dict__, "start": 0, "end": frames})
    source = _footage(footage, size)
    rel = Path("clips") / split / CLIP_CLASSES[label] / f"{split}_{i:05d}.mp4"
    _write_once(out / rel, render(rng, source, frames, size, event))
    return f"{rel} {label}\n"


@lru_cache(maxsize=2)
def _footage(footage: str | None, size: tuple[int, int]) -> list[torch.Tensor]:
    """The footage for frames of `size`, loaded once per worker process."""
    w, h = size
    return scaled(load_footage(Path(footage) if footage else SAMPLES, w / h), h)


@DATA_MAKERS.register("moving-digits-long")
def make_long(
    out: str | os.PathLike[str],
    *,
    seed: int = 0,
    progress: bool = True,
    overwrite: bool = False,
    num_train: int = 100,
    num_val: int = 25,
    num_test: int = 12,
    train_seconds: tuple[float, float] = (60.0, 120.0),
    test_seconds: tuple[float, float] = (60.0, 300.0),
    train_size: str = "320x180",
    test_sizes: tuple[str, ...] = ("1280x720", "320x180"),
    clip_size: str = "160x90",
    num_train_clips: int = 1500,
    num_val_clips: int = 250,
    footage: str | None = None,
    workers: int = 2,
) -> Path:
    """Long videos of real footage with one moving-digit event each (train and val of `train_seconds`, test
    of `test_seconds` at every test size), and short clips of the same world to train the per-glimpse
    classifier on. The agent's policy is convolutional in time: trained on 1-2 minutes, it is tested on
    1-5."""
    out = Path(out)
    for name, (low, high) in (("train_seconds", train_seconds), ("test_seconds", test_seconds)):
        if not 10 <= low <= high:
            raise ConfigError(f"{name}: need 10 <= shortest ({low}) <= longest ({high})")
    sizes = {"train": parse_size(train_size), "val": parse_size(train_size)}
    sizes |= {f"test_{s}": parse_size(s) for s in test_sizes}
    params = {"version": VERSION, "seed": seed, "num_train": num_train, "num_val": num_val, "num_test": num_test,
              "seconds": {"train": list(train_seconds), "test": list(test_seconds)},
              "sizes": {k: list(v) for k, v in sizes.items()},
              "clip_size": clip_size, "num_train_clips": num_train_clips, "num_val_clips": num_val_clips,
              "footage": footage}  # fmt: skip
    manifest, making = out / "manifest.json", out / ".making.json"
    if manifest.exists() and json.loads(manifest.read_text()) == params:
        return out
    resuming = making.exists() and json.loads(making.read_text()) == params  # a killed run: go on where it was
    if out.exists() and any(out.iterdir()) and not manifest.exists() and not resuming and not overwrite:
        raise FileExistsError(f"{out}: not empty and not made by moving-digits-long; use another --out")
    out.mkdir(parents=True, exist_ok=True)
    write_atomic(making, json.dumps(params) + "\n")
    (out / "classes.txt").parent.mkdir(parents=True, exist_ok=True)
    write_atomic(out / "classes.txt", "".join(f"{c}\n" for c in CLASSES))
    counts = {"train": num_train, "val": num_val} | {k: num_test for k in sizes if k.startswith("test")}
    jobs = [(out, seed, split, i, sizes[split], tuple(test_seconds if split.startswith("test") else train_seconds),
             footage)
            for split, n in counts.items() for i in range(n)]  # fmt: skip
    clip_size_ = parse_size(clip_size)
    clip_jobs = [(out, seed, split, i, clip_size_, footage)
                 for split, n in (("train", num_train_clips), ("val", num_val_clips)) for i in range(n)]  # fmt: skip
    with ProcessPoolExecutor(max(1, workers), mp_context=multiprocessing.get_context("spawn")) as pool:
        clip_lines = list(track(pool.map(_write_clip, clip_jobs, chunksize=16), total=len(clip_jobs),
                                description="moving-digits-long clips", disable=not progress))  # fmt: skip
        for split in ("train", "val"):  # written first: the classifier of step 1 can train while videos are made
            rows = [x for x, job in zip(clip_lines, clip_jobs, strict=True) if job[2] == split]
            write_atomic(out / f"clips_{split}.txt", "".join(rows))
        write_atomic(out / "clip_classes.txt", "".join(f"{c}\n" for c in CLIP_CLASSES))
        truth: dict[str, Any] = {split: {} for split in counts}
        lines: dict[str, list[str]] = {split: [] for split in counts}
        done = track(pool.map(_write_long, jobs), total=len(jobs), description="moving-digits-long videos",
                     disable=not progress)  # fmt: skip
        for (_, _, split, i, *_), event in zip(jobs, done, strict=True):
            rel = Path("videos") / split / f"long_{i:03d}.mp4"
            lines[split].append(f"{rel} {event.label}\n")
            truth[split][rel.name] = {"start": event.start / FPS, "end": event.end / FPS,
                                      "label": CLASSES[event.label]}  # fmt: skip
            if len(lines[split]) == counts[split]:  # a split's list as soon as its videos are all made: step 2
                write_atomic(out / f"{split}.txt", "".join(lines[split]))  # can train while the tests are made
    write_atomic(out / "truth.json", json.dumps(truth, indent=1) + "\n")
    write_atomic(manifest, json.dumps(params) + "\n")
    making.unlink(missing_ok=True)
    return out
