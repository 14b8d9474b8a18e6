"""From sampled frames to the summary: content shots, the length budget, the shots kept and their key frames.

features (T, D), scores (T,), bad (T,) -> KTS with its penalty (shots where the content changes, at most
MAX_SHOT_SECONDS and at most 1 / MIN_SHOTS of the video, never set by the budget) -> shots kept within the
budget (a share of the frames, seconds, or N key frames) -> one key frame per kept shot: its most
representative good frame (nearest the mean of its good frames' features), none a near-duplicate of
another (cosine of the features above DUPLICATE_COSINE).

Score summarizers (rl, attention, supervised) keep shots by value: the knapsack (Gygli et al. 2014) under a
length budget, the best mean scores for N key frames. The coverage summarizer keeps the key frames that
cover the video best (models/summary/coverage.py), each shot giving summary.mp4 at most a third of the
budget (`clip_cap`). A shot longer than what it may give goes into summary.mp4 as that long a part
around its key frame (`clips`).
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np

from pipeline.errors import ConfigError
from pipeline.models.summary.coverage import facility_location
from pipeline.models.summary.knapsack import knapsack
from pipeline.models.summary.kts import kts
from pipeline.models.summary.protocol import shot_values

MAX_SHOT_SECONDS = 10.0  # TVSum/SumMe KTS shots run a few seconds; a long take is cut at this length
# A video with no cut at all is still cut into at least this many shots (on bench_keyframes.py's footage, 5
# left the fades and the static camera less covered than 8).
MIN_SHOTS = 8
KTS_VMAX = 1.0  # the KTS penalty weight, as DSNet and PGL-SUM call it on their videos
MIN_CLIP_SECONDS = 2.0  # coverage under a length budget: each kept shot gives at most max(this, budget / 3)
KEYFRAME_CLIP_SECONDS = 2.0  # with --keyframes N, summary.mp4 holds at most this much of each kept shot
COST_SCALING = 0.5  # coverage under a length budget: gain / length ** this (1: strictly per frame)
DUPLICATE_COSINE = 0.95  # two key frames closer than this (cosine of their features) are near-duplicates


@dataclass(frozen=True)
class Budget:
    """How long a summary is: one of a share of the frames, a number of seconds, or a number of key frames
    (one kept shot each)."""

    ratio: float | None = None
    seconds: float | None = None
    keyframes: int | None = None

    def __post_init__(self) -> None:
        given = [n for n in ("ratio", "seconds", "keyframes") if getattr(self, n) is not None]
        if len(given) != 1:
            raise ConfigError(f"give one of --ratio, --seconds, --keyframes (got {', '.join(given) or 'none'})")
        if self.ratio is not None and not 0 < self.ratio <= 1:
            raise ConfigError(f"--ratio must be in (0, 1], got {self.ratio}")
        if self.seconds is not None and not self.seconds > 0:
            raise ConfigError(f"--seconds must be > 0, got {self.seconds}")
        if self.keyframes is not None and self.keyframes < 1:
            raise ConfigError(f"--keyframes must be >= 1, got {self.keyframes}")

    def frames(self, num_frames: int, fps: float) -> int | None:
        """The most frames summary.mp4 may hold (None: the budget counts key frames)."""
        if self.ratio is not None:
            return max(1, math.floor(self.ratio * num_frames))
        if self.seconds is not None:
            return max(1, min(num_frames, math.floor(self.seconds * (fps if fps > 0 else 25.0))))
        return None

    def settings(self) -> dict:
        return {k: v for k, v in (("ratio", self.ratio), ("seconds", self.seconds), ("keyframes", self.keyframes))
                if v is not None}  # fmt: skip


@dataclass(frozen=True)
class Shots:
    """A video's sampled frames cut into shots: what every selection works on (steps = sampled frames)."""

    features: np.ndarray  # (T, D) rows of length 1
    scores: np.ndarray  # (T,) importance, >= 0
    bad: np.ndarray  # (T,) bool, may not be a key frame (quality.bad_frames)
    segments: np.ndarray  # (S, 2) inclusive [start, end] steps
    frames: np.ndarray  # (S, 2) inclusive [start, end] source frames, covering the video

    @property
    def lengths(self) -> np.ndarray:
        return self.frames[:, 1] - self.frames[:, 0] + 1  # (S,)

    def steps(self, shot: int) -> np.ndarray:
        s, e = self.segments[shot]
        return np.arange(s, e + 1)

    def eligible(self) -> np.ndarray:
        """(S,) bool: shots with a good frame (all shots when none has one: never an empty summary)."""
        ok = np.array([not self.bad[s : e + 1].all() for s, e in self.segments])
        return ok if ok.any() else np.ones_like(ok)

    def representative(self, shot: int) -> int:
        """The step of the shot's good frame nearest the mean of its good frames' features (any frame when
        the shot has no good one)."""
        steps = self.steps(shot)
        good = steps[~self.bad[steps]]
        steps = good if len(good) else steps
        x = self.features[steps]  # (n, D)
        return int(steps[np.argmax(x @ x.mean(0))])


def longest_shot(steps: int, sample_fps: float, max_shot_seconds: float = MAX_SHOT_SECONDS) -> int:
    """The longest shot in sampled steps: max_shot_seconds, and at most 1 / MIN_SHOTS of the video."""
    return max(1, min(math.ceil(max_shot_seconds * sample_fps), math.ceil(steps / MIN_SHOTS)))


def content_shots(features: np.ndarray, sample_fps: float, *, max_shot_seconds: float = MAX_SHOT_SECONDS) -> np.ndarray:
    """(T, D) -> (S, 2) inclusive step segments: KTS with its penalty, shots of at most `longest_shot`."""
    w = longest_shot(len(features), sample_fps, max_shot_seconds)
    return kts(features, max_segment_length=w, vmax=KTS_VMAX).segments  # (S, 2)


@dataclass(frozen=True)
class Selection:
    """The kept shots (ascending), one key frame step per kept shot, and the source frames of each kept
    shot that go into summary.mp4 (the whole shot, or its budget-long part around the key frame)."""

    shots: list[int]
    keysteps: list[int]  # ascending; at least one in each kept shot (more where N key frames outnumber shots)
    clips: list[list[int]]


def _clip(shots: Shots, shot: int, keystep: int, key_frame: int, limit: int | None) -> list[int]:
    s, e = (int(v) for v in shots.frames[shot])
    if limit is None or e - s + 1 <= limit:
        return [s, e]
    start = min(max(s, key_frame - limit // 2), e - limit + 1)  # centred on the key frame, inside the shot
    return [start, start + limit - 1]


def finish(shots: Shots, chosen: dict[int, int], indices: np.ndarray, limit: int | None,
           extra: list[int] | None = None) -> Selection:  # fmt: skip
    """{shot: its key step} (and `extra` key steps in kept shots) -> Selection in time order; each shot's
    clip is centred on its own key step."""
    order = sorted(chosen)
    clips = [_clip(shots, k, chosen[k], int(indices[chosen[k]]), limit) for k in order]
    return Selection(shots=order, keysteps=sorted([*chosen.values(), *(extra or [])]), clips=clips)


def by_value(shots: Shots, budget: Budget, indices: np.ndarray, num_frames: int, fps: float,
             shot_value: str = "sum") -> Selection:  # fmt: skip
    """Shots by their scores: the knapsack within the length budget (refilled without a shot whose key
    frame duplicates a better one), or the N shots of best mean score, no two key frames near-duplicates."""
    keys = {k: shots.representative(k) for k in range(len(shots.segments))}
    allowed = shots.eligible()  # (S,)
    limit = budget.frames(num_frames, fps)
    if limit is None:  # N key frames
        means = shot_values(shots.scores, shots.segments, "mean")  # (S,)
        chosen: dict[int, int] = {}
        for k in np.argsort(-means, kind="stable"):
            if allowed[k] and not _duplicate(shots, keys[k], chosen.values()):
                chosen[int(k)] = keys[k]
            if len(chosen) == budget.keyframes:
                break
        return finish(shots, chosen, indices, _seconds(KEYFRAME_CLIP_SECONDS, fps))
    values = shot_values(shots.scores, shots.segments, shot_value)  # (S,)
    weights = np.minimum(shots.lengths, limit)  # (S,) a shot longer than the budget is cut to it
    while True:
        pool = np.flatnonzero(allowed)
        kept = pool[knapsack(values[pool], weights[pool], limit)]
        ranked = sorted(kept.tolist(), key=lambda k: -values[k])
        chosen = {}
        for k in ranked:
            if _duplicate(shots, keys[k], chosen.values()):
                allowed[k] = False  # refill the budget without it
            else:
                chosen[k] = keys[k]
        if len(chosen) == len(kept):
            return finish(shots, chosen, indices, limit)


def _duplicate(shots: Shots, step: int, others: object) -> bool:
    x = shots.features
    return any(float(x[step] @ x[o]) > DUPLICATE_COSINE for o in others)


def by_coverage(shots: Shots, budget: Budget, indices: np.ndarray, num_frames: int, fps: float) -> Selection:
    """The key frames that cover the video's sampled frames best (facility location over the features),
    one per shot, no two near-duplicates; under a length budget each costs its shot's length."""
    groups = np.zeros(len(shots.features), dtype=np.int64)  # (T,) shot of each step
    for k, (s, e) in enumerate(shots.segments):
        groups[s : e + 1] = k
    candidates = ~shots.bad & shots.eligible()[groups]  # (T,)
    if not candidates.any():  # every frame is bad: still a summary, from the least bad shots
        candidates = shots.eligible()[groups]
    limit = budget.frames(num_frames, fps)
    cap = _seconds(KEYFRAME_CLIP_SECONDS, fps) if limit is None else clip_cap(limit, fps)
    costs = None if limit is None else np.minimum(shots.lengths, cap)  # a longer shot is cut around its key frame
    picks = facility_location(shots.features, candidates, groups=groups, costs=costs, budget=limit,
                              k=budget.keyframes, max_similarity=DUPLICATE_COSINE,
                              cost_scaling=COST_SCALING)  # fmt: skip
    chosen = {int(groups[p]): p for p in picks}
    extra: list[int] = []
    if budget.keyframes is not None and len(picks) < budget.keyframes:  # fewer shots than key frames asked for:
        more = facility_location(shots.features, candidates, k=budget.keyframes, start=picks,  # more per shot
                                 max_similarity=DUPLICATE_COSINE)  # fmt: skip
        extra = more[len(picks) :]
    return finish(shots, chosen, indices, cap, extra)


def clip_cap(limit: int, fps: float) -> int:
    """The most frames one kept shot gives a coverage summary: a third of the budget, or MIN_CLIP_SECONDS
    where the budget holds them, so a 10-second take cannot fill a 9-second summary alone."""
    return max(math.ceil(limit / 3), min(limit, _seconds(MIN_CLIP_SECONDS, fps)))


def _seconds(seconds: float, fps: float) -> int:
    return max(1, math.ceil(seconds * (fps if fps > 0 else 25.0)))
