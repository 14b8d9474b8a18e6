"""Kernel Temporal Segmentation (Potapov, Douze, Harchaoui, Schmid, "Category-specific video
summarization", ECCV 2014): shot boundaries as the change points that minimise within-segment scatter.

features (n, D) -> L2-normalise -> linear kernel, never built: the scatter of a segment comes from
cumulative sums -> dynamic programme over the number of change points m -> penalty picks m.

Why vectorised: the reference implementation is a Python double loop, O(m n^2), which cannot run on
every frame of a 10-minute video. Here the scatter of every segment [i, j) is
    sum_t ||x_t||^2 - ||S_j - S_i||^2 / (j - i),   S = cumulative sum of the features,
so the kernel K = X X^T (n^2 memory) is never formed, and each level of the dynamic programme is one
vectorised min over a (n + 1, w) array, w = the longest segment allowed (`max_segment_length`; the
default w = n is exact KTS, a smaller w is a band that bounds memory and time at O(n w)).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from numpy.lib.stride_tricks import sliding_window_view

# The (n + 1, w) float64 cost band must fit in this much memory; beyond it, ask for a band.
MAX_BAND_BYTES = 2 * 1024**3


@dataclass
class KTSResult:
    """Change points of one sequence and the penalised cost of every number of change points."""

    change_points: np.ndarray  # (m,) int, sorted: index of the first frame of each new segment
    segments: np.ndarray  # (m + 1, 2) int, inclusive [start, end] frames, the h5 `change_points` layout
    costs: np.ndarray  # (m_max + 1,) scatter / n + penalty for m = 0..m_max (inf where infeasible)


def kts_penalty(m: np.ndarray | int, n: int, *, vmax: float = 1.0) -> np.ndarray:
    """The KTS model-selection penalty vmax * m / (2n) * (log(n / m) + 1), 0 at m = 0."""
    m = np.asarray(m, dtype=np.float64)
    with np.errstate(divide="ignore", invalid="ignore"):
        pen = vmax * m / (2.0 * n) * (np.log(n / m) + 1.0)
    return np.where(m == 0, 0.0, pen)


def segment_costs(features: np.ndarray, max_segment_length: int) -> np.ndarray:
    """Within-segment scatter of every segment of length <= w, laid out for the dynamic programme.

    Returns J of shape (n + 1, w): J[j, k] is the scatter of the segment [j - w + k, j) (length w - k),
    +inf where that segment would start before frame 0. Row j lines up with a sliding window over the
    previous level's costs, so a level of the programme is `window + J` and a min along axis 1.
    """
    x = np.asarray(features, dtype=np.float64)  # (n, D)
    n, w = x.shape[0], max_segment_length
    s = np.zeros((n + 1, x.shape[1]))  # (n + 1, D) S_j = sum of x_t for t < j
    np.cumsum(x, axis=0, out=s[1:])
    d = np.concatenate([[0.0], np.cumsum(np.einsum("nd,nd->n", x, x))])  # (n + 1,) running sum of K[t, t]
    cost = np.full((n + 1, w), np.inf)  # (n + 1, w)
    # One vectorised pass per segment length (w passes of O(n D)), not per pair of frames.
    for length in range(1, w + 1):
        diff = s[length:] - s[:-length]  # (n + 1 - length, D) S_j - S_i for j - i = length
        scatter = d[length:] - d[:-length] - np.einsum("nd,nd->n", diff, diff) / length  # (n + 1 - length,)
        cost[length:, w - length] = np.maximum(scatter, 0.0)  # clip float round-off below 0
    return cost


def kts(
    features: np.ndarray,
    *,
    max_change_points: int | None = None,
    max_segment_length: int | None = None,
    vmax: float = 1.0,
    subsample: int = 1,
) -> KTSResult:
    """Kernel Temporal Segmentation with the penalty choosing the number of change points.

    features: (n, D) one row per frame (or per sampled step); rows are L2-normalised here.
    max_change_points: the largest m tried (default n - 1, as DSNet calls it).
    max_segment_length: longest segment allowed (default n: exact KTS; smaller: a band, O(n w) memory).
    vmax: penalty weight; subsample: frames per step, so the penalty uses the original length n * subsample.
    Cost of m change points = scatter_m / n + kts_penalty(m, n * subsample); the argmin wins.
    """
    x = np.asarray(features, dtype=np.float64)
    if x.ndim != 2 or x.shape[0] == 0:
        raise ValueError(f"KTS wants features of shape (n, D) with n >= 1, got {x.shape}")
    norms = np.linalg.norm(x, axis=1, keepdims=True)
    x = x / np.where(norms > 0, norms, 1.0)  # (n, D) L2-normalised
    n = x.shape[0]
    w = n if max_segment_length is None else int(min(max_segment_length, n))
    m_max = n - 1 if max_change_points is None else int(min(max_change_points, n - 1))
    if w < 1 or m_max < 0:
        raise ValueError(f"max_segment_length must be >= 1 and max_change_points >= 0, got {w}, {m_max}")
    if (n + 1) * w * 8 * 2 > MAX_BAND_BYTES:
        raise ValueError(
            f"KTS on {n} frames with segments up to {w} frames needs {(n + 1) * w * 16 / 1e9:.1f} GB; "
            "pass a smaller max_segment_length"
        )
    cost = segment_costs(x, w)  # (n + 1, w)
    rows = np.arange(n + 1)
    level = _first_level(cost, n, w)  # (n + 1,) best cost of [0, j) as one segment, m = 0
    scatter = np.full(m_max + 1, np.inf)
    scatter[0] = level[n]
    argmins = np.zeros((m_max, n + 1), dtype=np.int32)  # best start offset k of the last segment, per level
    padded = np.full(n + 1 + w, np.inf)  # (w + n + 1,) previous level behind w infeasible slots
    buf = np.empty((n + 1, w))  # (n + 1, w)
    for m in range(1, m_max + 1):
        padded[w:] = level  # level[0] is inf: [0, 0) is not a segment
        window = sliding_window_view(padded, w)[: n + 1]  # (n + 1, w) window[j, k] = level[j - w + k]
        np.add(window, cost, out=buf)
        k = buf.argmin(axis=1)  # (n + 1,)
        level = buf[rows, k]  # (n + 1,)
        argmins[m - 1] = k
        scatter[m] = level[n]
    costs = scatter / n + kts_penalty(np.arange(m_max + 1), n * subsample, vmax=vmax)  # (m_max + 1,)
    if not np.isfinite(costs).any():
        raise ValueError(f"{n} frames cannot be cut into <= {m_max + 1} segments of <= {w} frames")
    m_best = int(np.argmin(costs))
    cps = []
    j = n
    for m in range(m_best, 0, -1):  # walk back through the chosen starts
        j = j - w + int(argmins[m - 1, j])
        cps.append(j)
    cps = np.array(sorted(cps), dtype=np.int64)
    return KTSResult(change_points=cps, segments=change_points_to_segments(cps, n), costs=costs)


def _first_level(cost: np.ndarray, n: int, w: int) -> np.ndarray:
    """Cost of [0, j) as one segment: finite only for j <= w (row j, column w - j)."""
    level = np.full(n + 1, np.inf)
    j = np.arange(1, w + 1)
    level[j] = cost[j, w - j]
    return level


def change_points_to_segments(change_points: np.ndarray, n: int) -> np.ndarray:
    """Change points (first frame of each new segment) -> (m + 1, 2) inclusive [start, end] frames."""
    starts = np.concatenate([[0], np.asarray(change_points, dtype=np.int64)])
    ends = np.concatenate([starts[1:] - 1, [n - 1]])
    return np.stack([starts, ends], axis=1)  # (m + 1, 2)
