"""glimpse_video_proof.py: the checks follow the numbers; a smoke run writes JSON, table and curve."""

from __future__ import annotations

import json
from types import SimpleNamespace

import glimpse_video_proof as proof
import pytest
import torch


def run(seed: int, agent_top1: float, viewed: float, on: float, uniform4: float = 0.5, full: float = 0.98) -> dict:
    agent = {"top1": agent_top1, "viewed": viewed, "viewed_max": 4, "viewed_fraction": viewed / 16,
             "on_informative": on, "two_informative": 0.9}  # fmt: skip
    return {
        "seed": seed,
        "full": {"top1": full},
        "uniform": {str(k): {"top1": u, "viewed": k, "on_informative": 0.25} for k, u in ((2, 0.3), (4, uniform4))},
        "agent": {"agent, 4 glimpses": agent, "agent, 8 glimpses": {**agent, "top1": 0.99, "viewed": 8.0,
                                                                    "viewed_fraction": 0.5}},
    }  # fmt: skip


def test_the_checks_are_computed_from_the_numbers():
    good = proof.summarize([run(0, 0.95, 4.0, 0.6), run(1, 0.94, 4.0, 0.62)])
    c = good["checks"]
    assert c["agent"] == "agent, 4 glimpses"  # the 8-glimpse agent views 50%: not a candidate
    assert c["ratio_to_full"] == pytest.approx(0.945 / 0.98) and c["passed"]
    assert good["agent"]["agent, 4 glimpses"]["uniform_same_budget"] == 0.5
    assert not proof.summarize([run(0, 0.90, 4.0, 0.6)])["checks"]["at_least_95_percent_of_full"]
    assert not proof.summarize([run(0, 0.95, 4.0, 0.4)])["checks"]["most_glimpses_on_informative"]
    assert not proof.summarize([run(0, 0.95, 4.0, 0.6, uniform4=0.96)])["checks"]["passed"]
    halting = proof.summarize([run(0, 0.95, 3.4, 0.6)])  # compared with the uniform classifier of 4 frames
    assert halting["agent"]["agent, 4 glimpses"]["uniform_same_budget"] == 0.5
    assert proof.summarize([run(0, 0.95, 4.5, 0.6)])["checks"] == {}  # nothing within 25%
    # one badly trained full classifier: the means pass (0.845 / 0.84), seed 0 does not (0.92 / 0.98)
    skewed = proof.summarize([run(0, 0.92, 4.0, 0.6), run(1, 0.77, 4.0, 0.6, full=0.70)])["checks"]
    assert skewed["at_least_95_percent_of_full"] and not skewed["at_least_95_percent_of_full_every_seed"]
    assert skewed["ratio_per_seed"] == pytest.approx([0.92 / 0.98, 0.77 / 0.70]) and not skewed["passed"]


def test_the_halting_threshold_is_chosen_within_the_frame_budget_on_validation():
    def score(top1: float, viewed: float, threshold: float = 0.5, frames: float | None = 3.9):
        return proof.selection_score({"top1": top1, "viewed": viewed, "reward": top1 - 0.05 * viewed}, threshold,
                                     frames)  # fmt: skip

    assert score(0.90, 3.8, 0.2) > score(0.97, 4.4)  # within the budget beats a better one outside it
    assert score(0.92, 3.9, 0.3) > score(0.90, 3.5, 0.5)  # within it: the best top-1, whatever the threshold
    assert score(0.97, 4.4) > score(0.95, 4.2, 0.3)  # none within: only threshold 0.5 counts, by reward
    assert score(0.97, 3.0, 0.5, None) > score(0.99, 3.0, 0.3, None)  # no budget: threshold 0.5 only
    assert score(0.90, 4.0, 0.5, None) > score(0.96, 5.5, 0.5, None)  # ... by reward


def test_report_files(tmp_path):
    runs = [run(0, 0.95, 4.0, 0.6)]
    args = {"seeds": 1, "cls_epochs": 25, "agent_epochs": 2, "eval_every": 1, "memory": 16, "memory_kernel": 9}
    results = {"command": "x", "date": "d", "machine": "m", "seconds": 60.0, "videos": {"train": 6, "val": 3,
               "test": 3}, "args": args, "runs": runs, "seeds_done": 1, "summary": proof.summarize(runs)}  # fmt: skip
    out = tmp_path / "glimpse_video.md"
    proof.write_report(results, out)
    md = out.read_text()
    assert "| agent, 4 glimpses | 4.00 (4) | 95.0 ± 0.0 | 0.60 ± 0.00 |" in md and "all: **pass**" in md
    assert "reads the timeline map (16 channels, width 9)" in md  # the agent's policy is named
    assert "Each classifier trains 25 epochs and keeps the epoch with the best validation top-1." in md
    assert json.loads(out.with_suffix(".json").read_text())["summary"]["checks"]["passed"] is True
    assert out.with_suffix(".png").stat().st_size > 5000


@pytest.mark.slow
def test_quick_run_writes_everything(tmp_path):
    out = tmp_path / "glimpse_video.md"
    results = proof.main(["--quick", "--data", str(tmp_path), "--out", str(out), "--budgets", "2:2:0", "3:1:0.05"])
    (r,) = results["runs"]
    assert set(r["agent"]) == {"agent, 2 glimpses", "agent, halts (1-3 glimpses, cost 0.05)"}
    assert set(r["uniform"]) == {"2", "4"} and 0 <= r["full"]["top1"] <= 1
    halting = r["agent"]["agent, halts (1-3 glimpses, cost 0.05)"]
    assert 1 <= halting["viewed"] <= 3 and halting["halt_threshold"] in proof.HALT_THRESHOLDS
    assert r["agent"]["agent, 2 glimpses"]["halt_threshold"] == 0.5  # no halt: nothing to choose
    assert out.exists() and out.with_suffix(".png").exists() and "Checks" in out.read_text()


def fake_training(monkeypatch, scores: dict[int, tuple[float, float]]) -> list[int]:
    """train_once replaced by one that returns an agent per seed with the given validation score; the seeds asked
    for are recorded. agent_metrics reads the agent's seed back as its top-1, so the kept agent is visible."""
    asked = []

    def train_once(budget, feats, splits, *, seed, **kw):
        asked.append(seed)
        val = {"top1": scores[seed][1], "viewed": 3.5}
        return proof.TrainedAgent(agent=seed, seed=seed, score=scores[seed], epoch=seed + 1, threshold=0.2, val=val,
                                  curve=[])  # fmt: skip

    monkeypatch.setattr(proof, "train_once", train_once)
    monkeypatch.setattr(proof, "agent_metrics", lambda agent, feats, split, cost: {"top1": agent})
    return asked


def test_the_restart_with_the_best_validation_score_is_kept(monkeypatch):
    scores = {7: (1.0, 0.90), 1007: (1.0, 0.96), 2007: (0.0, 0.99)}  # 2007: best top-1, but outside the budget
    asked = fake_training(monkeypatch, scores)
    kw = {"seed": 7, "epochs": 1, "eval_every": 1, "batch": 4, "lr": 0.1, "dropout": 0.0}
    data = {n: None for n in ("train", "val", "test")}
    r = proof.train_agent(proof.Budget(6, 2, 0.05), data, data, restarts=3, **kw)
    assert asked == [7, 1007, 2007]  # restart r of seed s: agent seed s + 1000 r
    assert r["restart"] == 1 and r["top1"] == 1007 and r["epoch"] == 1008  # tested and reported: the kept one
    assert r["val"]["top1"] == 0.96 and r["halt_threshold"] == 0.2
    assert [x["agent_seed"] for x in r["restarts"]] == [7, 1007, 2007]  # every restart's validation figures
    assert [x["val"]["top1"] for x in r["restarts"]] == [0.90, 0.96, 0.99]
    tied = fake_training(monkeypatch, {7: (1.0, 0.9), 1007: (1.0, 0.9)})
    assert proof.train_agent(proof.Budget(4, 4, 0), data, data, restarts=2, **kw)["restart"] == 0 and len(tied) == 2
    with pytest.raises(ValueError, match="restarts"):
        proof.train_agent(proof.Budget(4, 4, 0), data, data, restarts=0, **kw)


def test_one_restart_is_the_agent_of_a_single_run():
    g = torch.Generator().manual_seed(0)
    feats = {n: torch.randn(12, 8, 6, generator=g) for n in ("train", "val", "test")}  # (N, T, D)
    splits = {n: SimpleNamespace(labels=torch.arange(12) % 3, informative=[[0, 1, 2, 3]] * 12) for n in feats}
    kw = {"seed": 3, "epochs": 2, "eval_every": 1, "batch": 6, "lr": 0.01, "dropout": 0.0, "val_frames": 3.9}
    one = proof.train_agent(proof.Budget(4, 2, 0.05), feats, splits, restarts=1, **kw)
    two = proof.train_agent(proof.Budget(4, 2, 0.05), feats, splits, restarts=2, **kw)
    assert one["restart"] == 0 and [x["agent_seed"] for x in one["restarts"]] == [3]
    assert [x["agent_seed"] for x in two["restarts"]] == [3, 1003]
    assert one["restarts"][0] == two["restarts"][0]  # restart 0 is the agent one run trains, seeded as before
    assert len(one["curve"]) == 2 and 2 <= one["viewed"] <= 4 and 0 <= one["top1"] <= 1


def test_the_report_lists_every_restart():
    runs = [run(0, 0.95, 4.0, 0.6), run(1, 0.95, 4.0, 0.6)]
    for r, kept in zip(runs, (2, 0), strict=True):
        r["agent"]["agent, 4 glimpses"] |= {"restart": kept, "restarts": [
            {"val": {"top1": t, "viewed": 4.0}} for t in (0.9, 0.925, 0.95)]}  # fmt: skip
        r["agent"]["agent, 8 glimpses"] |= {"restart": 0, "restarts": [{"val": {"top1": 0.99, "viewed": 8.0}}]}
    lines = proof.restart_lines(runs, ["agent, 4 glimpses", "agent, 8 glimpses"])
    assert lines == [
        "",
        "agent, 4 glimpses, restarts (validation top-1 @ frames viewed, * kept): "
        "seed 0: 90.0@4.00, 92.5@4.00, 95.0@4.00*; seed 1: 90.0@4.00*, 92.5@4.00, 95.0@4.00.",
    ]
    assert proof.restart_lines([run(0, 0.95, 4.0, 0.6)], ["agent, 4 glimpses"]) == []  # one agent: nothing to list
