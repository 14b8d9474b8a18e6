"""Evaluate step scores on a TVSum/SumMe file the way Otani et al. (CVPR 2019) and Apostolidis et al.
("Performance over random", ACM MM 2020) ask: F-score beside the random summarizer's F-score on the
same shots, rank correlation beside both, per disjoint test fold.

{video: step scores} + [SummaryVideo] -> per video (F, random F, ratio, tau, rho) -> per fold -> means.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

from pipeline.data.summary_h5 import Split, SummaryVideo
from pipeline.errors import ConfigError
from pipeline.models.summary.protocol import (
    evaluate_summary,
    frame_scores,
    generate_summary,
    random_fscore,
    rank_correlation,
)


@dataclass
class VideoEval:
    """One video's numbers; F-scores in [0, 1]."""

    key: str
    f_score: float
    random_f_score: float
    ratio: float  # f_score / random_f_score (nan when the random summarizer scores 0)
    tau: float
    rho: float
    fold: int | None = None


@dataclass
class FoldEval:
    fold: int
    videos: list[str]
    f_score: float
    random_f_score: float
    ratio: float


@dataclass
class DatasetEval:
    """A whole file: per-video rows, per-fold means, overall means."""

    metric: str  # "avg" (TVSum) or "max" (SumMe) over users
    rank_reference: str  # what tau / rho compare against: "user_scores" or "gtscore"
    videos: list[VideoEval]
    folds: list[FoldEval] = field(default_factory=list)
    f_score: float = float("nan")
    random_f_score: float = float("nan")
    ratio: float = float("nan")
    tau: float = float("nan")
    rho: float = float("nan")


def _rank_reference(videos: list[SummaryVideo]) -> str:
    have = {v.user_scores is not None for v in videos}
    return "mixed" if len(have) == 2 else ("user_scores" if True in have else "gtscore")


def _ratio(ours: float, random: float) -> float:
    return ours / random if random > 0 else float("nan")


def evaluate_video(
    video: SummaryVideo,
    step_scores: np.ndarray,
    *,
    metric: str,
    ratio: float = 0.15,
    draws: int = 100,
    seed: int = 0,
    shot_value: str = "mean",
) -> VideoEval:
    """F-score, random-summarizer F-score and rank correlation of one video's step scores.

    `shot_value`: "mean" is the protocol (published numbers are comparable only so); "sum" values shots
    by the sum of their frames' scores, for the random summarizer too (it then needs scores >= 0).

    tau / rho: against each annotator's frame scores when the file has `user_scores` (Otani's protocol),
    else against the step-level `gtscore` (the ECCV16 files carry no per-annotator scores).
    """
    scores = np.asarray(step_scores, dtype=np.float64)
    if scores.shape != (video.n_steps,):
        raise ConfigError(f"{video.key}: {scores.size} scores, the file has {video.n_steps} steps")
    if shot_value == "sum" and (scores < 0).any():
        raise ConfigError(f"{video.key}: a negative score; sum-valued shots need scores >= 0")
    summary = generate_summary(
        scores, video.change_points, video.n_frames, video.picks, ratio=ratio, shot_value=shot_value
    )
    f = evaluate_summary(summary, video.user_summary, metric)
    rand = random_fscore(
        video.change_points, video.n_frames, video.picks, video.user_summary,
        metric=metric, ratio=ratio, draws=draws, seed=seed, shot_value=shot_value,
    )  # fmt: skip
    if video.user_scores is not None:
        tau, rho = rank_correlation(frame_scores(scores, video.picks, video.n_frames), video.user_scores)
    else:
        tau, rho = rank_correlation(scores, video.gtscore)
    return VideoEval(video.key, f, rand, _ratio(f, rand), tau, rho)


def evaluate_dataset(
    videos: list[SummaryVideo],
    scores: dict[str, np.ndarray],
    *,
    metric: str,
    splits: list[Split] | None = None,
    ratio: float = 0.15,
    draws: int = 100,
    seed: int = 0,
    shot_value: str = "mean",
) -> DatasetEval:
    """Every video of a file; `splits` (disjoint test folds) add per-fold means of the test videos."""
    missing = [v.key for v in videos if v.key not in scores]
    if missing:
        raise ConfigError(f"no scores for {len(missing)} video(s): {', '.join(missing[:5])}")
    fold_of = {key: s.fold for s in splits or [] for key in s.test}
    rows = []
    for v in videos:
        row = evaluate_video(
            v, scores[v.key], metric=metric, ratio=ratio, draws=draws, seed=seed, shot_value=shot_value
        )
        row.fold = fold_of.get(v.key)
        rows.append(row)
    by_key = {r.key: r for r in rows}
    folds = []
    for s in splits or []:
        f = float(np.mean([by_key[k].f_score for k in s.test]))
        r = float(np.mean([by_key[k].random_f_score for k in s.test]))
        folds.append(FoldEval(s.fold, list(s.test), f, r, _ratio(f, r)))
    f = float(np.mean([r.f_score for r in rows]))
    rand = float(np.mean([r.random_f_score for r in rows]))
    return DatasetEval(
        metric=metric,
        rank_reference=_rank_reference(videos),
        videos=rows,
        folds=folds,
        f_score=f,
        random_f_score=rand,
        ratio=_ratio(f, rand),
        tau=float(np.nanmean([r.tau for r in rows])),
        rho=float(np.nanmean([r.rho for r in rows])),
    )
