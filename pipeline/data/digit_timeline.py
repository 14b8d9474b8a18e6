"""`moving-digits-timeline`: long videos in which moving-digits actions follow each other at known times.

What `vap score --window` is proved on: each video is background (the noisy canvas of moving-digits with no
digit) broken by events of 6-14 s, each one held-out digit moving right, left, down or up the whole time,
at the speeds and sizes of the training clips, on a canvas that wraps around (the digit leaving one edge
comes in at the other), so that every window inside an event shows the class as a training clip does.
Events that were instead 2-second training clips put end to end showed a jump back every 2 s, and a
window across the jump is the opposite class played backwards: in a first version, windows that
straddled one were right 25% of the time, against 62-98% for the windows that matched a clip. The zoom
classes have no such endless form (a zoom restarts), so events use the four moves. Consecutive events
have different classes.

A model trained on the built-in 2-second clips does not carry over to such windows (it learnt where a
clip's digit starts and ends as much as which way it goes: 38-48% of the windows inside endless moves
right), so the maker also writes what a user would train on: short labelled clips of the same world, 2 s
of an endless move at a random phase, or of `background` (the canvas alone), two in five of them across
an event's start or end, labelled by what covers most of the clip (`render_clip`). Each long video keeps
one background and ink colour throughout, as one camera's scene does. Written layout, under `DIR`:

    videos/timeline_<nnn>.mp4     H.264, `size`x`size` at `fps`, `seconds` long
    truth.json                    video file name -> {"duration": s, "events": [{start, end, label}]}
    clips/<split>/<class>/*.mp4   2-second training clips; train.txt, val.txt (`path label`), classes.txt
    manifest.json                 the parameters (a directory with the same ones is left as it is)

Deterministic under `seed`: the event plan and every event come from generators seeded by (seed, video).
"""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Any

import numpy as np
import torch

from pipeline.data.moving_digits import CLASS_NAMES, DATA_MAKERS, _draw, _still_pose, digit_pools
from pipeline.data.records import write_atomic
from pipeline.data.writer import write_video

VERSION = 4  # 2: endless moves on a wrapping canvas; 3: training clips across event boundaries, one scene per
# video; 4: no crossing clip near half and half


MOVES = CLASS_NAMES[:4]  # move_right, move_left, move_down, move_up
CLIP_CLASSES = (*MOVES, "background")


def plan_events(rng: np.random.Generator, seconds: float, fps: int) -> list[dict[str, Any]]:
    """Events in time order, on the frame grid: gaps of 3-8 s of background, events of 6-14 s, no class
    twice in a row."""
    events: list[dict[str, Any]] = []
    t, last = float(rng.uniform(3, 8)), -1
    while True:
        length = float(rng.uniform(6, 14))
        if t + length > seconds - 2:
            return events
        label = int(rng.choice([c for c in range(len(MOVES)) if c != last]))
        start, end = round(t * fps) / fps, round((t + length) * fps) / fps
        events.append({"start": start, "end": end, "label": MOVES[label]})
        t, last = t + length + float(rng.uniform(3, 8)), label


def endless_move(label: int, frames: int, size: int, rng: np.random.Generator) -> np.ndarray:
    """`(frames, 3)` poses of a digit moving the way of `label` at a training clip's size and speed (it
    crosses 50-100% of the canvas in 16 frames), wrapping around the canvas."""
    side = rng.uniform(0.25, 0.31) * size
    speed = rng.uniform(0.5, 1.0) * (size - side) / 15  # pixels per frame, as `_path` over 16 frames
    along = rng.uniform(0, size) + (1 if label % 2 == 0 else -1) * speed * np.arange(frames)
    across = np.full(frames, rng.uniform(side / 2, size - side / 2))
    cx, cy = (along % size, across) if label // 2 == 0 else (across, along % size)
    return np.stack([cx, cy, np.full(frames, side)], axis=1)


def render_timeline(seed: int, index: int, *, seconds: float, size: int, fps: int) -> tuple[torch.Tensor, list]:
    """uint8 frames `(T, 3, H, W)` of one video and its events (seconds, on the frame grid)."""
    rng = np.random.default_rng([seed, 7, index])
    events = plan_events(rng, seconds, fps)
    digits = digit_pools(seed)["test"]  # handwriting no training video shows
    total = int(round(seconds * fps))
    frames = np.empty((total, 3, size, size), dtype=np.uint8)
    scene = [seed, 13, index]  # one background and ink colour for the whole video, as one camera's scene
    cursor = 0
    for e in [*events, None]:
        a, b = (round(e["start"] * fps), round(e["end"] * fps)) if e else (total, total)
        if a > cursor:  # background: the canvas alone
            poses = np.repeat(_still_pose(size, rng)[None], a - cursor, axis=0)  # never drawn
            frames[cursor:a] = _draw(digits[0], poses, size, rng, np.zeros(a - cursor, dtype=bool),
                                     palette=np.random.default_rng(scene))  # fmt: skip
        if e:
            digit = digits[rng.integers(len(digits))]
            poses = endless_move(MOVES.index(e["label"]), b - a, size, rng)
            frames[a:b] = _draw(digit, poses, size, rng, np.ones(b - a, dtype=bool), wrap=True,
                                palette=np.random.default_rng(scene))  # fmt: skip
        cursor = b
    return torch.from_numpy(frames), events


def render_clip(label: int, rng: np.random.Generator, digits: np.ndarray, size: int, frames: int) -> torch.Tensor:
    """uint8 `(frames, 3, H, W)`: a piece of an endless move (`label` < 4) or of background (4).

    Two clips in five cross an event's start or end, as the windows `vap score --window` slides over a
    long video do, and are labelled by what covers most of their frames: a move in 10-15 of 16 frames is
    that move, in 1-6 of them background (clips near half and half are left out: 8 sampled frames cannot
    tell 7 of 16 from 9, and such labels taught one seed nothing, 0.65 top-1). Sliding-window detectors
    train on windows labelled by their overlap with the truth in the same way (S-CNN, Shou et al., CVPR
    2016); trained on whole clips only, the model called windows across a boundary one of the other moves
    (2-3 wrong seconds per event)."""
    crossing, margin = rng.random() < 0.4, round(frames * 3 / 8)  # 6 of 16
    if label == len(MOVES):
        move, shown = int(rng.integers(len(MOVES))), int(rng.integers(1, margin + 1)) if crossing else 0
    else:
        move, shown = label, int(rng.integers(frames - margin, frames)) if crossing else frames
    visible = np.zeros(frames, dtype=bool)
    visible[:shown] = True  # the event ends inside the clip ...
    if rng.random() < 0.5:
        visible = visible[::-1].copy()  # ... or starts inside it
    poses = endless_move(move, frames, size, rng)
    digit = digits[rng.integers(len(digits))]
    return torch.from_numpy(_draw(digit, poses, size, rng, visible, wrap=True))


def write_clips(out: Path, seed: int, counts: dict[str, int], size: int, fps: int) -> None:
    """The training and validation clips (train from the training handwriting, val from the validation one)."""
    (out / "classes.txt").write_text("".join(f"{c}\n" for c in CLIP_CLASSES))
    for split, n in counts.items():
        lines = []
        for i in range(n):
            label = i % len(CLIP_CLASSES)
            rng = np.random.default_rng([seed, 11, ("train", "val").index(split), i])
            clip = render_clip(label, rng, digit_pools(seed)[split], size, 2 * fps)
            rel = Path("clips") / split / CLIP_CLASSES[label] / f"{split}_{i:05d}.mp4"
            write_video(out / rel, clip, fps=fps, reproducible=True)
            lines.append(f"{rel} {label}\n")
        write_atomic(out / f"{split}.txt", "".join(lines))


@DATA_MAKERS.register("moving-digits-timeline")
def make_timeline(
    out: str | os.PathLike[str],
    *,
    seed: int = 0,
    progress: bool = True,
    overwrite: bool = False,
    num_videos: int = 3,
    seconds: float = 150.0,
    size: int = 64,
    fps: int = 8,
    num_train: int = 1200,
    num_val: int = 200,
) -> Path:
    """Long moving-digits videos with events of known class at known times (truth.json), and short clips
    of the same world to train on (train.txt, val.txt)."""
    out = Path(out)
    params = {"version": VERSION, "seed": seed, "num_videos": num_videos, "seconds": seconds, "size": size,
              "fps": fps, "num_train": num_train, "num_val": num_val}  # fmt: skip
    manifest = out / "manifest.json"
    if manifest.exists() and json.loads(manifest.read_text()) == params:
        return out
    if out.exists() and any(out.iterdir()) and not manifest.exists() and not overwrite:
        raise FileExistsError(f"{out}: not empty and not made by moving-digits-timeline; use another --out")
    truth = {}
    for i in range(num_videos):
        frames, events = render_timeline(seed, i, seconds=seconds, size=size, fps=fps)
        name = f"timeline_{i:03d}.mp4"
        write_video(out / "videos" / name, frames, fps=fps)
        truth[name] = {"duration": len(frames) / fps, "events": events}
        if progress:
            print(f"moving-digits-timeline: {name} ({len(events)} events)", flush=True)
    write_clips(out, seed, {"train": num_train, "val": num_val}, size, fps)
    write_atomic(out / "truth.json", json.dumps(truth, indent=1) + "\n")
    write_atomic(manifest, json.dumps(params) + "\n")
    return out
