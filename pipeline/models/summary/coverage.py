"""Key frames that cover a video: greedy maximisation of the facility-location objective
F(S) = sum_t max_{s in S} sim(t, s), the monotone submodular coverage term of Lin & Bilmes (ACL 2011),
used for video summaries by Gygli, Grabner & Van Gool (CVPR 2015). Greedy gets within 1 - 1/e of the best
set of a given size (Nemhauser et al. 1978); under a length budget the cost-scaled greedy with the best
single item as a fallback keeps a constant factor (Lin & Bilmes, NAACL 2010; Leskovec et al. KDD 2007).

sim (T, T) >= 0 -> greedy over candidates (one per group at most, none too similar to one already
picked) -> picks in the order taken. Frames that are not candidates (a black fade) still count as what
must be covered.

Why hand-written: apricot, the one maintained submodular library, pulls in numba; the greedy is a
dozen vectorised lines here.
"""

from __future__ import annotations

import numpy as np


def facility_location(
    features: np.ndarray,
    candidates: np.ndarray,
    *,
    groups: np.ndarray | None = None,
    costs: np.ndarray | None = None,
    budget: float | None = None,
    k: int | None = None,
    max_similarity: float = 1.0,
    max_targets: int = 4000,
    cost_scaling: float = 1.0,
    start: list[int] | None = None,
) -> list[int]:
    """Greedy facility location over cosine similarities (clipped at 0): the rows picked, in pick order.

    features: (T, D) one row per sampled frame. candidates: (T,) bool, the rows that may be picked.
    groups: (T,) int, at most one pick per group (a shot). k: the most picks.
    costs / budget: each group's cost (indexed by group) and the total allowed; picks then maximise gain
    per cost ** cost_scaling (Lin & Bilmes's scaling factor r: below 1, a long item is penalised less than
    in proportion), and the best single affordable pick replaces the set when it covers more.
    max_similarity: a candidate more similar than this to a pick is never picked (no near-duplicates).
    max_targets: the frames to cover are every frame up to this many, else an even subsample (memory
    stays O(max_targets * T)).
    start: picks already made (another pass's), kept first and covered from; `k` counts them too.
    """
    x = unit_rows(features)  # (T, D)
    t = x.shape[0]
    if candidates.shape != (t,):
        raise ValueError(f"candidates must be ({t},), got {candidates.shape}")
    targets = x if t <= max_targets else x[np.linspace(0, t - 1, max_targets).round().astype(int)]  # (R, D)
    sim = np.clip(targets @ x.T, 0.0, None)  # (R, T)
    groups = np.arange(t) if groups is None else np.asarray(groups)
    cost = None if costs is None else np.asarray(costs, dtype=np.float64)[groups]  # (T,) cost of each row
    open_ = candidates.astype(bool).copy()  # (T,) still pickable
    best = np.zeros(sim.shape[0])  # (R,) how well each target is covered so far
    picks: list[int] = []
    spent = 0.0
    for c in start or []:
        picks.append(int(c))
        best = np.maximum(best, sim[:, c])
        spent += 0.0 if cost is None else float(cost[c])
        open_ &= (groups != groups[c]) & (x @ x[c] <= max_similarity)
    while open_.any() and (k is None or len(picks) < k):
        if budget is not None:
            open_ &= cost + spent <= budget
        gains = np.maximum(sim - best[:, None], 0.0).sum(0)  # (T,) gain of adding each column
        ratio = np.where(
            open_, gains if cost is None else gains / np.maximum(cost, 1e-9) ** cost_scaling, -np.inf
        )  # (T,)
        c = int(np.argmax(ratio))
        if not np.isfinite(ratio[c]) or gains[c] <= 0:
            break
        picks.append(c)
        best = np.maximum(best, sim[:, c])
        spent += 0.0 if cost is None else float(cost[c])
        open_ &= (groups != groups[c]) & (x @ x[c] <= max_similarity)  # (T,) one per group, no near-duplicate
    if budget is not None and picks:  # the best single affordable pick (the cost-scaled greedy's fallback)
        alone = np.where(candidates & (cost <= budget), sim.sum(0), -np.inf)  # (T,)
        single = int(np.argmax(alone))
        if alone[single] > sim[:, picks].max(1).sum():
            picks = [single]
    return picks


def unit_rows(features: np.ndarray) -> np.ndarray:
    """(T, D) -> (T, D) rows of length 1 (a zero row stays zero)."""
    x = np.asarray(features, dtype=np.float64)
    return x / np.maximum(np.linalg.norm(x, axis=1, keepdims=True), 1e-12)
