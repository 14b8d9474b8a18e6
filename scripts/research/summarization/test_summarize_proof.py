"""summarize_proof.py: a tiny run splices the planted videos, and every comparison in the report
is computed from the per-seed numbers."""

from __future__ import annotations

import json

import numpy as np
import pytest
import summarize_proof as proof

VIDEOS = proof.REPO / "datasets" / "samples"


def test_uniform_ceiling_and_plan_hand_worked():
    planted = np.zeros(100, dtype=bool)
    planted[40:60] = True  # 20 planted frames; budget floor(0.15 * 100) = 15
    assert proof.ceiling_f(planted, 0.15) == pytest.approx(2 * 15 / 35)
    # budget 15 in round(15 / 10) = 2 pieces of 7 frames centred at 25 and 75: [21, 28) and [71, 78)
    row = proof.uniform_row(planted, [{"novel": True, "start": 40, "end": 59}], 0.15, 10)
    assert row["selected_frames"] == 14 and row["f_score"] == 0.0 and row["selected_in_repeats"] == 1.0
    pool = [proof.Segment(f"{v}.mp4@{i}", "natural", None) for v in "abc" for i in (0, 5)]
    pool += [proof.Segment(f"digits#{i}", "digits", None) for i in range(5)]
    for seed in range(5):
        order = proof.plan(np.random.default_rng(seed), pool, 2, 3, 3, "other-sources")
        assert len(order) == 2 * 3 + 3 and all(a[0] != b[0] for a, b in zip(order, order[1:], strict=False))
        kinds = {novel: {pool[i].kind for i, n in order if n == novel} for novel in (True, False)}
        assert kinds == {True: {"natural", "digits"}, False: {"natural", "digits"}}
        sources = [pool[i].name.split("@")[0] for i in {i for i, _ in order} if pool[i].kind == "natural"]
        assert len(sources) == len(set(sources)) == 3  # every natural content from its own video


def test_random_and_reselection_go_through_the_rows_own_knapsack():
    # shots of 1, 1 and 4 sampled steps (one per 2 frames), budget floor(0.7 * 12) = 8 frames: shots 0 + 1
    # (4 frames) or shot 2 (8). Scores .9 .8 | .6 x 4: sum-valued picks shot 2, mean-valued shots 0 + 1.
    from types import SimpleNamespace

    summary = SimpleNamespace(indices=list(range(0, 12, 2)), shots=[[0, 1], [2, 3], [4, 11]], num_frames=12,
                              scores=[0.9, 0.8, 0.6, 0.6, 0.6, 0.6])  # fmt: skip
    planted = np.zeros(12, dtype=bool)
    planted[4:] = True
    plan_shots = [{"novel": True, "start": 4, "end": 11}]
    assert proof.select(summary, np.array(summary.scores), "sum", 0.7).tolist() == [2]
    assert proof.select(summary, np.array(summary.scores), "mean", 0.7).tolist() == [0, 1]
    assert proof.reselect_row(summary, planted, plan_shots, 0.7, "sum")["f_score"] == 1.0
    assert proof.reselect_row(summary, planted, plan_shots, 0.7, "mean")["f_score"] == 0.0
    # random scores u: sum-valued takes shot 2 when 4 mean(u[2:]) > u0 + u1, mean-valued when mean(u[2:]) > u0 + u1
    rng = np.random.default_rng([0, 99])
    draws = [rng.random(6) for _ in range(200)]
    for rule, k in (("sum", 4), ("mean", 1)):
        expect = np.mean([float(k * u[2:].mean() > u[0] + u[1]) for u in draws])  # F 1 when shot 2, else 0
        row = proof.random_row(summary, planted, plan_shots, 0.7, 200, 0, rule)
        assert row["f_score"] == pytest.approx(expect) and row["novel_shots_touched"] == pytest.approx(expect)


@pytest.mark.skipif(not VIDEOS.is_dir(), reason="needs the sample videos in datasets/samples")
def test_tiny_run_reports_comparisons_from_its_numbers(tmp_path):
    out = tmp_path / "bench"
    report = proof.main(["--seeds", "0", "1", "--shot-seconds", "0.4", "--appearances", "2", "--epochs", "2",
                         "--draws", "3", "--size", "64x48", "--backbone", "tiny", "--videos", str(VIDEOS),
                         "--work", str(tmp_path / "w"), "--out", str(out)])  # fmt: skip
    saved = json.loads((out / "summarize_proof.json").read_text())
    md = (out / "summarize_proof.md").read_text()
    assert set(saved["layouts"]) == {"other-sources", "any"}
    for name, lay in saved["layouts"].items():
        assert [s["seed"] for s in lay["seeds"]] == [0, 1] and f"layout `{name}`" in md
        for s in lay["seeds"]:
            assert s["frames"] == 10 * (2 * 2 + 3) and s["planted_frames"] == 30  # 10-frame shots, 3 novel
            assert sum(p["novel"] for p in s["plan"]) == 3
            assert set(s["methods"]) == {"rl", "random", proof.PAPER, proof.RANDOM_MEAN, proof.MEAN_KNAPSACK,
                                         proof.PAPER_RDIV, "uniform"}  # fmt: skip
            for row in s["methods"].values():
                assert 0 <= row["f_score"] <= s["ceiling_f_score"] + 1e-9
        for m in ("rl", "random", "uniform"):
            assert lay["mean"][m]["f_score"] == pytest.approx(
                np.mean([s["methods"][m]["f_score"] for s in lay["seeds"]])
            )
        # the default row against random through the same sum-valued knapsack, the paper row against random
        # through its mean-valued one
        assert lay["verdict"]["rl"]["random"] == "random" and lay["verdict"][proof.PAPER]["random"] == proof.RANDOM_MEAN
        v = lay["verdict"]["rl"]
        f, rand, uni = (lay["mean"][m]["f_score"] for m in ("rl", "random", "uniform"))
        assert v["f_over_random"] == (pytest.approx(f / rand) if rand > 0 else None)
        assert v["seeds_above_random"] == sum(s["methods"]["rl"]["f_score"] > s["methods"]["random"]["f_score"]
                                              for s in lay["seeds"])  # fmt: skip
        assert v["well_above_random"] == (rand > 0 and f / rand >= 1.5 and v["seeds_above_random"] == 2)
        assert v["above_uniform"] == (f > uni and v["seeds_above_uniform"] >= 2)
        word = "well above random" if v["well_above_random"] else "NOT well above random"
        assert word in md
        low = [
            s["seed"]
            for s in lay["seeds"]
            if not s["methods"]["rl"]["f_score"] > 1.5 * s["methods"]["random"]["f_score"]
        ]
        assert (f"rl is not above 1.5x random in seed(s) {', '.join(map(str, low))}:" in md) == bool(low)
        assert ("rl is above 1.5x random in every seed" in md) == (not low)
    assert md.count("R_div over all pairs (the default) ranks the planted frames") == 2
    assert report["settings"]["backbone"] == "tiny"
    assert "Command: `python scripts/research/summarization/summarize_proof.py --seeds 0 1" in md


@pytest.mark.skipif(not VIDEOS.is_dir(), reason="needs the sample videos in datasets/samples")
def test_pretrained_leave_one_out(tmp_path):
    out, work = tmp_path / "bench", tmp_path / "w"
    report = proof.main(["--seeds", "0", "1", "2", "--shot-seconds", "0.4", "--appearances", "2", "--epochs", "2",
                         "--draws", "3", "--size", "64x48", "--backbone", "tiny", "--videos", str(VIDEOS),
                         "--layouts", "any", "--no-diagnostics", "--pretrained", "--name", "pre",
                         "--work", str(work), "--out", str(out)])  # fmt: skip
    from pipeline.models.summary.dsn import load_dsn

    lay = report["layouts"]["any"]
    for s in lay["seeds"]:
        row = s["methods"][proof.PRETRAINED]
        assert row["trained_on_videos"] == 2 and 0 <= row["f_score"] <= s["ceiling_f_score"] + 1e-9
        _, record = load_dsn(work / f"pretrained_any_seed{s['seed']}.pt")
        assert str(work / f"proof_any_seed{s['seed']}.mp4") not in [v["path"] for v in record["videos"]]
        assert len(record["videos"]) == 2  # the other two seeds' videos, never its own
    assert lay["verdict"][proof.PRETRAINED]["seeds"] == 3
    md = (out / "pre.md").read_text()
    assert f"| {proof.PRETRAINED} |" in md and "leave one out" in md and not (out / "summarize_proof.md").exists()
