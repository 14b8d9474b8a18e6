"""0/1 knapsack: which shots fill the summary budget with the most importance (Gygli et al., ECCV 2014,
and every TVSum/SumMe paper since: values = shot scores, weights = shot lengths in frames).

Why hand-written: scipy and numpy have no 0/1 knapsack, and OR-Tools would be a heavy dependency for
one exact dynamic programme. The programme is vectorised over the capacity axis: one numpy `maximum`
per item, O(items * capacity) work and a boolean (items, capacity + 1) table for the backtrack.
"""

from __future__ import annotations

import numpy as np


def knapsack(values: np.ndarray, weights: np.ndarray, capacity: int) -> np.ndarray:
    """Indices (sorted) of the items of largest total value whose total weight is <= capacity.

    values: (k,) float; weights: (k,) non-negative int; capacity: int >= 0.
    On ties the earlier items win: a later item is taken only where it strictly raises the value.
    """
    values = np.asarray(values, dtype=np.float64)
    weights = np.asarray(weights)
    if values.shape != weights.shape or values.ndim != 1:
        raise ValueError(f"values and weights must be 1-D of one length, got {values.shape}, {weights.shape}")
    if not np.issubdtype(weights.dtype, np.integer) or (weights < 0).any():
        raise ValueError("weights must be non-negative integers")
    capacity = int(capacity)
    if capacity < 0:
        raise ValueError(f"capacity must be >= 0, got {capacity}")
    best = np.zeros(capacity + 1)  # (capacity + 1,) best value at each budget, items so far
    taken = np.zeros((len(values), capacity + 1), dtype=bool)  # (k, capacity + 1)
    for i, (v, w) in enumerate(zip(values, weights.tolist(), strict=True)):
        if w > capacity:
            continue
        with_item = best[: capacity + 1 - w] + v  # (capacity + 1 - w,) value at budget c + w if i is taken
        better = with_item > best[w:]
        taken[i, w:] = better
        best[w:] = np.where(better, with_item, best[w:])
    chosen = []
    c = capacity
    for i in range(len(values) - 1, -1, -1):
        if taken[i, c]:
            chosen.append(i)
            c -= int(weights[i])
    return np.array(sorted(chosen), dtype=np.int64)
