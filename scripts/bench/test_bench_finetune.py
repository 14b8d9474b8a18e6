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


def test_the_report_counts_the_seeds_where_each_start_from_the_source_beats_both_runs_from_scratch():
    def result(seed, frozen, tuned, scratch, scratch_low):
        curves = {"init_frozen": [0.6, 0.95], "init_from": [0.5, 0.95], "scratch": [0.4, 0.92],
                  "scratch_low_lr": [0.3, 0.91]}  # fmt: skip
        return {"seed": seed, "source_top1": 0.99, "target": 0.9, "curves": curves,
                "epochs_to_target": {"init_frozen": frozen, "init_from": tuned, "scratch": scratch,
                                     "scratch_low_lr": scratch_low}}  # fmt: skip

    cfg = bench.BenchConfig(epochs=2)
    prov = {"command": "x", "date": "d", "machine": "m"}
    results = [result(0, 1, 2, 6, None), result(1, 2, 3, 3, 8), result(2, 3, None, 4, 5)]
    assert [bench.faster(r) for r in results] == [True, True, True]  # the frozen-backbone recipe by default
    assert [bench.faster(r, "init_from") for r in results] == [True, False, False]
    text = bench.report(results, cfg, prov).replace("\n", " ")
    assert (
        "backbone frozen, lr 0.003 reaches the accuracy in fewer epochs than both runs from scratch on 3 of 3" in text
    )
    assert "`init_from`, lr 0.001 reaches the accuracy in fewer epochs than both runs from scratch on 1 of 3" in text
    assert (
        "| 2 | 0.990 | 0.900 | **3** | **not reached** | 4 | 5 | 2 / 2 / 2 / 2 | 0.600 / 0.500 / 0.400 / 0.300 |"
        in text
    )


def test_a_report_of_an_older_run_without_the_frozen_recipe_still_reads():
    old = {"seed": 0, "source_top1": 0.99, "target": 0.9,
           "curves": {"init_from": [0.5, 0.95], "scratch": [0.4, 0.92], "scratch_low_lr": [0.3, 0.91]},
           "epochs_to_target": {"init_from": 2, "scratch": 2, "scratch_low_lr": 2}}  # fmt: skip
    text = bench.report([old], bench.BenchConfig(epochs=2), {"command": "x", "date": "d", "machine": "m"})
    assert "frozen" not in text.split("Validation")[1] and not bench.faster(old)
