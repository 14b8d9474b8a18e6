"""bench_finetune.py: how epochs to the accuracy are counted and what the report says."""

from __future__ import annotations

import bench_finetune as bench


def test_epochs_to_counts_from_one_and_says_when_never():
    assert bench.epochs_to([0.3, 0.8, 0.97, 0.9], 0.97) == 3
    assert bench.epochs_to([0.99], 0.5) == 1
    assert bench.epochs_to([0.3, 0.5], 0.9) is None


def test_curve_reads_one_top1_per_epoch_from_the_csv(tmp_path):
    run = tmp_path / "runs" / "csv" / "version_0"
    run.mkdir(parents=True)
    (run / "metrics.csv").write_text(
        "epoch,step,train/loss,val/top1\n0,5,1.2,\n0,9,,0.5\n1,14,0.9,\n1,19,,0.75\n2,29,,0.8125\n"
    )
    assert bench.curve(tmp_path) == [0.5, 0.75, 0.8125]


def test_the_report_counts_the_seeds_where_init_from_beats_both_runs_from_scratch():
    def result(seed, tuned, scratch, scratch_low):
        return {"seed": seed, "source_top1": 0.99, "target": 0.9,
                "curves": {"init_from": [0.5, 0.95], "scratch": [0.4, 0.92], "scratch_low_lr": [0.3, 0.91]},
                "epochs_to_target": {"init_from": tuned, "scratch": scratch, "scratch_low_lr": scratch_low}}  # fmt: skip

    cfg = bench.BenchConfig(epochs=2)
    prov = {"command": "x", "date": "d", "machine": "m"}
    results = [result(0, 2, 6, None), result(1, 3, 3, 8), result(2, None, 4, 5)]
    assert [bench.faster(r) for r in results] == [True, False, False]
    text = bench.report(results, cfg, prov)
    assert "fewer epochs than both runs from scratch on 1 of 3 seeds; the faster run from scratch takes 1.0-3.0x" in (
        text.replace("\n", " ")
    )
    assert "| 2 | 0.990 | 0.900 | **not reached** | 4 | 5 | 2 / 2 / 2 | 0.500 / 0.400 / 0.300 |" in text
