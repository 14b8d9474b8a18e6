"""Facility location (pipeline/models/summary/coverage.py): the greedy covers every cluster before it
repeats one, keeps to its groups, budget and similarity cap."""

import numpy as np
import pytest

from pipeline.models.summary.coverage import facility_location, unit_rows


def _clusters(sizes: list[int], dim: int = 16, spread: float = 0.05, seed: int = 0) -> tuple[np.ndarray, np.ndarray]:
    """Rows around len(sizes) orthogonal directions: (T, dim) features and (T,) cluster labels."""
    rng = np.random.default_rng(seed)
    labels = np.repeat(np.arange(len(sizes)), sizes)
    x = np.eye(dim)[labels] + spread * rng.standard_normal((len(labels), dim))
    return x, labels


def test_k_picks_cover_k_clusters_one_each():
    x, labels = _clusters([30, 5, 12, 3, 20])
    picks = facility_location(x, np.ones(len(x), bool), k=5)
    assert sorted(labels[picks].tolist()) == [0, 1, 2, 3, 4]  # the smallest cluster is covered too
    assert picks[0] in np.flatnonzero(labels == 0)  # the largest first: it covers most


def test_a_pick_stands_for_its_cluster():
    x, labels = _clusters([10, 10], spread=0.3)
    u = unit_rows(x)
    pick = facility_location(x, np.ones(len(x), bool), k=2)
    for p in pick:
        members = np.flatnonzero(labels == labels[p])
        sums = (u[members] @ u[members].T).sum(0)
        assert sums[members.tolist().index(p)] >= np.sort(sums)[-3]  # among the most central of its cluster


def test_candidates_groups_and_duplicates_are_respected():
    x, labels = _clusters([10, 10, 10])
    candidates = labels != 1  # cluster 1 may not be picked (a black fade)
    picks = facility_location(x, candidates, k=3)
    assert 1 not in labels[picks].tolist() and all(candidates[picks])
    groups = np.zeros(len(x), int)  # one group: one pick at most
    assert len(facility_location(x, np.ones(len(x), bool), groups=groups, k=3)) == 1
    same = np.repeat(np.eye(4)[:1], 6, axis=0)  # six identical rows: a second pick would duplicate the first
    assert len(facility_location(same, np.ones(6, bool), k=3, max_similarity=0.95)) == 1


def test_the_budget_holds_and_cost_scaling_favours_long_items_less_harshly():
    x, labels = _clusters([10, 10, 10])
    costs = np.array([9.0, 1.0, 1.0])  # group = cluster
    picks = facility_location(x, np.ones(len(x), bool), groups=labels, costs=costs, budget=2.0)
    assert sorted(labels[picks].tolist()) == [1, 2]  # cluster 0 does not fit beside another
    assert costs[labels[picks]].sum() <= 2.0
    # a budget only the expensive cluster fits alone, against two cheap ones
    gain_one = facility_location(x, np.ones(len(x), bool), groups=labels, costs=costs, budget=9.0)
    assert costs[labels[gain_one]].sum() <= 9.0


def test_shapes_are_checked():
    with pytest.raises(ValueError, match="candidates"):
        facility_location(np.ones((4, 3)), np.ones(3, bool))


def test_targets_are_subsampled_on_long_videos():
    x, labels = _clusters([600, 600, 600], seed=2)
    picks = facility_location(x, np.ones(len(x), bool), k=3, max_targets=300)
    assert sorted(labels[picks].tolist()) == [0, 1, 2]
