"""bench_train.py runs `vap train` + `vap test` as a new user would and reports what the CSV says."""

from __future__ import annotations

import json

import bench_train as bench


def test_quick_run_writes_the_figures_of_the_run(tmp_path):
    result = bench.main(["--quick", "--configs", "moving_digits_tsn_avg", "--out", str(tmp_path), "--keep",
                         str(tmp_path / "runs")])  # fmt: skip
    record = json.loads((tmp_path / "train.json").read_text())
    assert record["quick"] is True and record["runs"] == json.loads(json.dumps(result["runs"]))
    run = record["runs"][0]
    # the figures are the run's own: one epoch, the 12 generated test videos, values read from its CSV files
    assert run["epochs"] == 1 and len(run["val_top1_per_epoch"]) == 1
    assert run["test"]["video_count"] == 12
    metrics = (tmp_path / "runs" / "moving_digits_tsn_avg" / "version_0" / "metrics.csv").read_text()
    assert str(run["val_top1_per_epoch"][0])[:5] in metrics
    assert 0 <= run["test"]["clip_top1"] <= run["test"]["clip_top5"] <= 1
    assert run["train_wall_s"] > 0 and run["clips_per_s"] > 0 and 0 <= run["data_fraction"] <= 1
    md = (tmp_path / "train.md").read_text()
    assert "`moving_digits_tsn_avg`" in md and "QUICK" in md
    assert f"{100 * run['test']['clip_top1']:.1f}%" in md
