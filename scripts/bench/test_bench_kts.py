"""bench_kts.py: the reference double loop agrees with the vectorised KTS, the report is written."""

from __future__ import annotations

import json

import bench_kts as bench
import numpy as np

from pipeline.models.summary import kts


def test_reference_loop_agrees_with_vectorised_kts():
    blocks = np.repeat(np.eye(3), [4, 3, 5], axis=0)  # cuts at 4 and 7, worked out in test_summary.py
    assert bench.reference_kts(blocks, 11) == [4, 7]
    assert bench.reference_kts(blocks, 1) == [7]
    # one-frame leading segments (m = 2 costs 0.2 (log 2.5 + 1) = 0.383 < m = 1 at 0.461, m = 3 at 0.453)
    assert bench.reference_kts(np.repeat(np.eye(3), [1, 1, 3], axis=0), 4) == [1, 2]
    x = bench.random_walk(60, 8, seed=2)
    assert bench.reference_kts(x, 12) == kts(x, max_change_points=12).change_points.tolist()


def test_quick_run_writes_report(tmp_path):
    report = bench.main(["--quick", "--out", str(tmp_path)])
    assert [r["frames"] for r in report["reference_rows"]] == [40, 80]
    assert all(r["same_change_points"] for r in report["reference_rows"])
    full = report["full"]
    assert full["frames"] == 360 and full["max_segment_length"] == 120
    assert not full["band_binds"] and full["longest_segment"] < 120
    # n^2 rule, linear in m, from the 80-frame row
    last = report["reference_rows"][-1]
    assert full["reference_extrapolated_s"] == round(last["reference_s"] * (360 / 80) ** 2 * (20 / 10), 1)
    saved = json.loads((tmp_path / "kts.json").read_text())
    assert saved["full"] == full
    md = (tmp_path / "kts.md").read_text()
    assert "EXTRAPOLATED" in md and "python scripts/bench/bench_kts.py --quick" in md
    assert md.count("| 40 | 10 |") == 1 and md.count("| 80 | 10 |") == 1
