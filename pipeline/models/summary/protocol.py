"""The TVSum/SumMe summary protocol (Zhang et al., "Video summarization with LSTM", ECCV 2016;
Otani et al., "Rethinking the evaluation of video summaries", CVPR 2019; Apostolidis et al.,
"Performance over random", ACM MM 2020).

step scores (n_steps,) -> frame scores (n_frames,) via picks -> shot scores (mean over each shot)
-> 0/1 knapsack at floor(ratio * n_frames) -> binary summary (n_frames,) -> F-score vs users.

The protocol values a shot by the MEAN of its scores; `shot_values(..., "sum")` is the alternative that
`vap summarize` uses on videos by default (the sum: the importance a shot covers).
"""

from __future__ import annotations

import math
import os
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from pipeline.errors import ConfigError
from pipeline.models.summary.knapsack import knapsack


@dataclass
class FScore:
    """Frame-overlap precision, recall and F-score of one summary against one user summary, in [0, 1]."""

    precision: float
    recall: float
    f: float


def frame_scores(step_scores: np.ndarray, picks: np.ndarray, n_frames: int) -> np.ndarray:
    """(n_steps,) -> (n_frames,): step i's score covers frames picks[i] .. picks[i + 1] - 1, the last
    step covers to the end; frames before picks[0] take the first step's score."""
    step_scores = np.asarray(step_scores, dtype=np.float64)
    picks = np.asarray(picks, dtype=np.int64)
    if step_scores.shape != picks.shape or step_scores.ndim != 1:
        raise ValueError(f"got {step_scores.size} step scores for {picks.size} picks")
    if picks.size == 0 or (np.diff(picks) <= 0).any() or picks[0] < 0 or picks[-1] >= n_frames:
        raise ValueError(f"picks must be strictly increasing frame indices in [0, {n_frames})")
    owner = np.searchsorted(picks, np.arange(n_frames), side="right") - 1  # (n_frames,) step of each frame
    return step_scores[np.maximum(owner, 0)]  # (n_frames,)


def shot_scores(scores: np.ndarray, segments: np.ndarray) -> np.ndarray:
    """Mean frame score of each shot; segments (n_shots, 2) are inclusive [start, end] frames."""
    scores = np.asarray(scores, dtype=np.float64)
    segments = np.asarray(segments, dtype=np.int64)
    csum = np.concatenate([[0.0], np.cumsum(scores)])  # (n_frames + 1,)
    starts, ends = segments[:, 0], segments[:, 1] + 1
    return (csum[ends] - csum[starts]) / (ends - starts)  # (n_shots,)


SHOT_VALUES = ("sum", "mean")


def shot_values(scores: np.ndarray, segments: np.ndarray, rule: str) -> np.ndarray:
    """The knapsack value of each shot (segments (n_shots, 2), inclusive [start, end] into `scores`).

    "mean": the mean of its scores, the TVSum/SumMe protocol's rule. A short shot is then worth as much as
    a long one of the same mean while costing less of the budget, so the knapsack prefers many short
    shots (Otani et al., CVPR 2019); on over-segmented videos it fills the budget with them.
    "sum": the sum of its scores (mean x length), the importance the shot covers: a shot is worth its
    length in budget only when its frames are worth it. Needs scores >= 0: a shot of negative sum is one
    the knapsack would rather leave out, even with budget to spare, and a longer one would be worth
    less than a shorter one of the same mean; ValueError otherwise.
    """
    if rule not in SHOT_VALUES:
        raise ValueError(f"shot value must be one of {SHOT_VALUES}, got {rule!r}")
    means = shot_scores(scores, segments)  # (n_shots,)
    if rule == "mean":
        return means
    if (np.asarray(scores) < 0).any():
        raise ValueError("sum-valued shots need non-negative scores")
    segments = np.asarray(segments, dtype=np.int64)
    return means * (segments[:, 1] - segments[:, 0] + 1)  # (n_shots,)


def select_shots(values: np.ndarray, segments: np.ndarray, n_frames: int, ratio: float = 0.15) -> np.ndarray:
    """Indices of the shots the knapsack keeps within floor(ratio * n_frames) frames."""
    segments = np.asarray(segments, dtype=np.int64)
    lengths = segments[:, 1] - segments[:, 0] + 1  # (n_shots,)
    return knapsack(values, lengths, math.floor(ratio * n_frames))


def generate_summary(
    step_scores: np.ndarray,
    segments: np.ndarray,
    n_frames: int,
    picks: np.ndarray,
    *,
    ratio: float = 0.15,
    shot_value: str = "mean",
) -> np.ndarray:
    """Step scores -> binary frame summary (n_frames,) uint8, the ECCV16 protocol end to end
    (`shot_value` "mean", the protocol; "sum" values a shot by the sum of its frames' scores)."""
    segments = np.asarray(segments, dtype=np.int64)
    if segments.ndim != 2 or segments.shape[1] != 2 or segments[-1, 1] >= n_frames or segments[0, 0] < 0:
        raise ValueError(f"segments must be (n_shots, 2) inclusive frame ranges within {n_frames} frames")
    values = shot_values(frame_scores(step_scores, picks, n_frames), segments, shot_value)  # (n_shots,)
    summary = np.zeros(n_frames, dtype=np.uint8)
    for start, end in segments[select_shots(values, segments, n_frames, ratio)]:
        summary[start : end + 1] = 1
    return summary


def f_score(summary: np.ndarray, user_summary: np.ndarray) -> FScore:
    """Frame-overlap F-score of a binary summary against one user's binary summary.

    The official evaluation pads (with 0) or crops the machine summary to the user summary's length,
    since n_frames and the user summaries disagree by a frame or two in some SumMe videos; so here.
    """
    user = np.asarray(user_summary) > 0
    pred = np.zeros(user.shape, dtype=bool)
    k = min(len(pred), len(summary))
    pred[:k] = np.asarray(summary)[:k] > 0
    overlap = float((pred & user).sum())
    if overlap == 0:
        return FScore(0.0, 0.0, 0.0)
    precision, recall = overlap / pred.sum(), overlap / user.sum()
    return FScore(float(precision), float(recall), float(2 * precision * recall / (precision + recall)))


def evaluate_summary(summary: np.ndarray, user_summaries: np.ndarray, metric: str = "avg") -> float:
    """F-score against every user (n_users, n_frames): `avg` over users (TVSum) or `max` (SumMe)."""
    if metric not in ("avg", "max"):
        raise ValueError(f"metric must be 'avg' or 'max', got {metric!r}")
    scores = [f_score(summary, u).f for u in np.atleast_2d(user_summaries)]
    return float(np.mean(scores) if metric == "avg" else np.max(scores))


def rank_correlation(pred_scores: np.ndarray, user_scores: np.ndarray) -> tuple[float, float]:
    """(Kendall tau, Spearman rho) of predicted scores against each user's scores, averaged over users.

    As Otani et al. compute them: `kendalltau(rankdata(-pred), rankdata(-user))`, and likewise rho.
    pred_scores: (n,); user_scores: (n_users, n) or (n,). A constant row gives NaN, as scipy does.
    """
    pred = np.asarray(pred_scores, dtype=np.float64)
    users = np.atleast_2d(np.asarray(user_scores, dtype=np.float64))
    if users.shape[1] != pred.shape[0]:
        raise ValueError(f"{pred.shape[0]} predicted scores against user scores of length {users.shape[1]}")
    from scipy.stats import kendalltau, rankdata, spearmanr  # here: scipy.stats takes most of a second to import

    rp = rankdata(-pred)
    taus = [kendalltau(rp, rankdata(-u)).statistic for u in users]
    rhos = [spearmanr(rp, rankdata(-u)).statistic for u in users]
    return float(np.mean(taus)), float(np.mean(rhos))


def random_fscore(
    segments: np.ndarray,
    n_frames: int,
    picks: np.ndarray,
    user_summaries: np.ndarray,
    *,
    metric: str = "avg",
    ratio: float = 0.15,
    draws: int = 100,
    seed: int = 0,
    shot_value: str = "mean",
) -> float:
    """The random summarizer of Apostolidis et al.: uniform random step scores through the same shots,
    knapsack (shots valued by `shot_value`, as the scores it is compared with) and F-score, averaged over
    `draws` draws (deterministic under `seed`)."""
    rng = np.random.default_rng(seed)
    n_steps = len(picks)
    return float(
        np.mean(
            [
                evaluate_summary(
                    generate_summary(
                        rng.random(n_steps), segments, n_frames, picks, ratio=ratio, shot_value=shot_value
                    ),
                    user_summaries,
                    metric,
                )
                for _ in range(draws)
            ]
        )
    )


def metric_from_name(path: str | os.PathLike[str]) -> str:
    """TVSum takes the mean over users, SumMe the max; the file name says which dataset it is."""
    name = Path(path).name.lower()
    if "tvsum" in name:
        return "avg"
    if "summe" in name:
        return "max"
    raise ConfigError(f"{path}: cannot tell TVSum from SumMe by the file name; pass --metric avg or --metric max")
