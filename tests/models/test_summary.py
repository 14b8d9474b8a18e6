"""KTS, knapsack and the TVSum/SumMe protocol on answers worked out by hand."""

from __future__ import annotations

import itertools
import math

import numpy as np
import pytest

from pipeline.models.summary import (
    evaluate_summary,
    f_score,
    frame_scores,
    generate_summary,
    knapsack,
    kts,
    kts_penalty,
    random_fscore,
    rank_correlation,
    select_shots,
    shot_scores,
    shot_values,
)

# ---------------------------------------------------------------- knapsack


@pytest.mark.parametrize(
    ("values", "weights", "capacity", "expected"),
    [
        ([10, 40, 30, 50], [5, 4, 6, 3], 10, [1, 3]),  # 90 at weight 7 beats 70 (1+2) and 80 (2+3)
        ([60, 100, 120], [10, 20, 30], 50, [1, 2]),  # 220; greedy by value/weight would take 0+1 = 160
        ([1, 1], [1, 1], 1, [0]),  # tie: the earlier item stays
        ([5, 7], [3, 4], 2, []),  # nothing fits
        ([5, 7], [3, 4], 0, []),
        ([2, 3, 4], [0, 5, 1], 5, [0, 2]),  # a weightless item is free; 3 (w 5) loses to 2 + 4 (w 1)
    ],
)
def test_knapsack_hand_worked(values, weights, capacity, expected):
    assert knapsack(np.array(values, float), np.array(weights), capacity).tolist() == expected


def test_knapsack_matches_exhaustive_search():
    rng = np.random.default_rng(1)
    for _ in range(30):
        k = int(rng.integers(1, 8))
        values, weights, cap = rng.random(k), rng.integers(1, 10, k), int(rng.integers(0, 25))
        best = max(
            (
                sum(values[list(s)])
                for r in range(k + 1)
                for s in itertools.combinations(range(k), r)
                if sum(weights[list(s)]) <= cap
            ),
        )
        chosen = knapsack(values, weights, cap)
        assert weights[chosen].sum() <= cap
        assert values[chosen].sum() == pytest.approx(best)


def test_knapsack_rejects_bad_input():
    with pytest.raises(ValueError, match="one length"):
        knapsack(np.ones(2), np.ones(3, int), 3)
    with pytest.raises(ValueError, match="non-negative integers"):
        knapsack(np.ones(2), np.array([1.5, 2.0]), 3)


# ---------------------------------------------------------------- KTS

BLOCKS = np.repeat(np.eye(3), [4, 3, 5], axis=0)  # (12, 3): frames 0-3, 4-6, 7-11 each one direction


def test_kts_penalty_formula():
    assert kts_penalty(1, 12) == pytest.approx((math.log(12) + 1) / 24)
    assert kts_penalty(0, 12) == 0.0
    assert kts_penalty(2, 12, vmax=3.0) == pytest.approx(3 * 2 / 24 * (math.log(6) + 1))


def test_kts_finds_obvious_blocks():
    # By hand: m = 0 scatter 12 - (16 + 9 + 25) / 12 = 47/6; m = 1 best [0,7)+[7,12): 7 - 25/7 = 24/7;
    # m >= 2 scatter 0. Costs scatter/12 + penalty: 0.653, 0.431, 0.233 (m=2), 0.298 (m=3) -> m = 2.
    r = kts(BLOCKS * np.arange(1, 13)[:, None])  # row scale must not matter: rows are L2-normalised
    assert r.change_points.tolist() == [4, 7]
    assert r.segments.tolist() == [[0, 3], [4, 6], [7, 11]]
    assert r.costs[0] == pytest.approx(47 / 72)
    assert r.costs[1] == pytest.approx(24 / 7 / 12 + (math.log(12) + 1) / 24)
    assert r.costs[2] == pytest.approx((math.log(6) + 1) / 12)
    assert len(r.costs) == 12  # m = 0 .. n - 1


def test_kts_penalty_weight_and_limits():
    assert kts(BLOCKS, vmax=10.0).change_points.tolist() == []  # 0.653 < 0.286 + 1.452
    assert kts(BLOCKS, max_change_points=1).change_points.tolist() == [7]
    # subsample=4 stands for 48 original frames: penalty(2) = 2/96 (log 24 + 1), still m = 2 here
    assert kts(BLOCKS, subsample=4).change_points.tolist() == [4, 7]
    # subsample=100 (1200 original frames) shrinks the penalty: vmax=10 now gives
    # m=2 at 20/2400 (log 600 + 1) = 0.062 < m=1 at 0.286 + 0.034 < m=0 at 0.653
    assert kts(BLOCKS, vmax=10.0, subsample=100).change_points.tolist() == [4, 7]
    # A band of 5 frames still holds the longest block; 3 segments of <= 3 frames cannot cover 12 frames.
    assert kts(BLOCKS, max_segment_length=5).change_points.tolist() == [4, 7]
    with pytest.raises(ValueError, match="cannot be cut"):
        kts(BLOCKS, max_segment_length=3, max_change_points=2)


def _brute_force_kts(x: np.ndarray, m_max: int, vmax: float) -> list[int]:
    """The definition, by exhaustive search over every set of change points (tiny n only)."""
    x = x / np.linalg.norm(x, axis=1, keepdims=True)
    n = len(x)

    def scatter(i: int, j: int) -> float:
        k = x[i:j] @ x[i:j].T
        return float(np.trace(k) - k.sum() / (j - i))

    best = []
    for m in range(m_max + 1):
        best.append(
            min(
                (sum(scatter(b[t], b[t + 1]) for t in range(m + 1)), list(cps))
                for cps in itertools.combinations(range(1, n), m)
                for b in [[0, *cps, n]]
            )
        )
    costs = [s / n + float(kts_penalty(m, n, vmax=vmax)) for m, (s, _) in enumerate(best)]
    return best[int(np.argmin(costs))][1]


def test_kts_matches_exhaustive_search():
    rng = np.random.default_rng(0)
    for trial in range(12):
        n = int(rng.integers(2, 10))
        x = np.repeat(rng.normal(size=(3, 4)), [3, 4, 3], axis=0)[:n] + 0.3 * rng.normal(size=(n, 4))
        m_max = int(rng.integers(0, n))
        got = kts(x, max_change_points=m_max, vmax=0.3).change_points.tolist()
        assert got == _brute_force_kts(x, m_max, 0.3), trial


def test_kts_band_agrees_with_exact_when_segments_are_short():
    rng = np.random.default_rng(3)
    x = np.repeat(rng.normal(size=(8, 16)), rng.integers(5, 15, 8), axis=0) + 0.2 * rng.normal(size=(1, 16))
    exact = kts(x)
    longest = int((exact.segments[:, 1] - exact.segments[:, 0] + 1).max())
    banded = kts(x, max_segment_length=longest + 2, max_change_points=20)
    assert banded.change_points.tolist() == exact.change_points.tolist()
    assert len(exact.change_points) == 7


# ---------------------------------------------------------------- protocol


def test_frame_and_shot_scores():
    fs = frame_scores(np.array([1.0, 2.0, 3.0]), np.array([0, 2, 5]), 7)
    assert fs.tolist() == [1, 1, 2, 2, 2, 3, 3]
    assert shot_scores(fs, np.array([[0, 1], [2, 6]])).tolist() == pytest.approx([1.0, 2.4])
    with pytest.raises(ValueError, match="3 step scores for 2 picks"):
        frame_scores(np.ones(3), np.array([0, 2]), 7)


def test_generate_summary_budget():
    # 20 frames -> budget floor(0.15 * 20) = 3; shots of 4, 2, 1, 13 frames scored .9 .8 .5 .1:
    # shot 0 is too long, so the knapsack takes shots 1 + 2 (weight 3, value 1.3): frames 4, 5, 6.
    segments = np.array([[0, 3], [4, 5], [6, 6], [7, 19]])
    scores = np.repeat([0.9, 0.8, 0.5, 0.1], [4, 2, 1, 13])
    summary = generate_summary(scores, segments, 20, np.arange(20))
    assert np.flatnonzero(summary).tolist() == [4, 5, 6]
    assert summary.dtype == np.uint8 and summary.shape == (20,)
    # ratio 0.25 -> budget 5: shot 0 + shot 2 (1.4) beats shot 0 alone and 1 + 2 (1.3)
    assert np.flatnonzero(generate_summary(scores, segments, 20, np.arange(20), ratio=0.25)).tolist() == [0, 1, 2, 3, 6]
    # 22 frames: budget floor(3.3) = 3 holds shot 0 (3 frames) but not shots 0 + 1 (4 frames)
    summary = generate_summary(
        np.repeat([0.5, 0.4, 0.1], [3, 1, 18]), np.array([[0, 2], [3, 3], [4, 21]]), 22, np.arange(22)
    )
    assert np.flatnonzero(summary).tolist() == [0, 1, 2]


def test_sum_and_mean_valued_knapsacks_choose_different_shots():
    # Shots of 1, 1 and 4 steps scored .9, .8 and .6 (each step), budget floor(0.7 * 6) = 4 steps.
    # Mean-valued: shots 0 + 1 are worth .9 + .8 = 1.7 against .6 for shot 2 -> [0, 1].
    # Sum-valued: shots 0 + 1 cover .9 + .8 = 1.7 against 4 x .6 = 2.4 for shot 2 -> [2].
    segments = np.array([[0, 0], [1, 1], [2, 5]])
    scores = np.array([0.9, 0.8, 0.6, 0.6, 0.6, 0.6])
    assert shot_values(scores, segments, "mean").tolist() == pytest.approx([0.9, 0.8, 0.6])
    assert shot_values(scores, segments, "sum").tolist() == pytest.approx([0.9, 0.8, 2.4])
    assert select_shots(shot_values(scores, segments, "mean"), segments, 6, 0.7).tolist() == [0, 1]
    assert select_shots(shot_values(scores, segments, "sum"), segments, 6, 0.7).tolist() == [2]
    # the same through the protocol end to end (one frame per step)
    for rule, frames in (("mean", [0, 1]), ("sum", [2, 3, 4, 5])):
        summary = generate_summary(scores, segments, 6, np.arange(6), ratio=0.7, shot_value=rule)
        assert np.flatnonzero(summary).tolist() == frames
    assert np.flatnonzero(generate_summary(scores, segments, 6, np.arange(6), ratio=0.7)).tolist() == [0, 1]  # protocol
    with pytest.raises(ValueError, match="non-negative"):
        shot_values(scores - 0.7, segments, "sum")
    with pytest.raises(ValueError, match="shot value must be one of"):
        shot_values(scores, segments, "max")


def test_f_score_known_overlaps():
    r = f_score(np.array([1, 1, 1, 1, 0, 0]), np.array([0, 0, 1, 1, 1, 1]))  # overlap 2 of 4 and 4
    assert (r.precision, r.recall, r.f) == pytest.approx((0.5, 0.5, 0.5))
    r = f_score(np.array([1, 1, 0, 0]), np.array([1, 0, 0, 0]))  # P 1/2, R 1 -> F 2/3
    assert (r.precision, r.recall, r.f) == pytest.approx((0.5, 1.0, 2 / 3))
    assert f_score(np.array([1, 0]), np.array([0, 1])).f == 0.0
    # a machine summary one frame short is padded with 0 to the user's length
    assert f_score(np.array([1, 1, 0]), np.array([1, 1, 0, 1])).f == pytest.approx(0.8)


def test_evaluate_summary_avg_and_max():
    users = np.array([[1, 0, 0, 0], [1, 1, 0, 0]])
    pred = np.array([1, 1, 0, 0])  # F 2/3 against user 0, 1 against user 1
    assert evaluate_summary(pred, users, "avg") == pytest.approx(5 / 6)
    assert evaluate_summary(pred, users, "max") == pytest.approx(1.0)
    with pytest.raises(ValueError, match="'avg' or 'max'"):
        evaluate_summary(pred, users, "mean")


def test_rank_correlation_hand_worked():
    pred = np.array([1.0, 2.0, 3.0, 4.0])
    assert rank_correlation(pred, pred) == pytest.approx((1.0, 1.0))
    assert rank_correlation(pred, np.array([[1, 2, 3, 4], [4, 3, 2, 1]])) == pytest.approx((0.0, 0.0))
    # one swapped pair: tau = (5 - 1) / 6; rho = 1 - 6 * 2 / (4 * 15) = 0.8
    assert rank_correlation(pred, np.array([2, 1, 3, 4])) == pytest.approx((2 / 3, 0.8))
    with pytest.raises(ValueError, match="4 predicted scores"):
        rank_correlation(pred, np.ones(3))


def test_random_fscore_averages_the_random_choice():
    # Budget 3 of 20 frames: exactly one of the two 2-frame shots fits, each with probability 1/2;
    # the user chose shot 0, so F is 1 or 0 and the random summarizer scores 0.5 on average.
    segments = np.array([[0, 1], [2, 3], [4, 19]])
    user = np.zeros((1, 20), dtype=np.uint8)
    user[0, :2] = 1
    f = random_fscore(segments, 20, np.array([0, 2, 4]), user, draws=2000, seed=0)
    assert f == pytest.approx(0.5, abs=0.04)
    assert f == random_fscore(segments, 20, np.array([0, 2, 4]), user, draws=2000, seed=0)  # deterministic
    assert 0.0 < f < 1.0
