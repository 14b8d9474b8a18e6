"""bench_long_agent.py: both `vap train` steps, then `vap score` with the agent and the uniform classifier."""

from __future__ import annotations

import json

import bench_long_agent as bench
import pytest


@pytest.mark.slow
def test_quick_run_reports_what_the_records_say(tmp_path):
    out = tmp_path / "long_agent.md"
    work = tmp_path / "work"
    args = ["--quick", "--data", str(tmp_path / "data"), "--work", str(work), "--seeds", "0", "--epochs", "1",
            "--agent-epochs", "2", "--clips", "4", "8", "--out", str(out)]  # fmt: skip
    assert bench.main(args) == 0
    result = json.loads(out.with_suffix(".json").read_text())
    seed = result["seeds"]["0"]
    agent = [json.loads(x) for x in (work / "agent0.jsonl").read_text().splitlines()]
    assert len(agent) == 4 and all(r["status"] == "ok" for r in agent)
    assert seed["agent"]["codec_frames"] == pytest.approx(sum(r["codec_frames"] for r in agent) / 4, abs=1e-3)
    assert seed["agent"]["glimpses"] == pytest.approx(sum(len(r["glimpse_frames"]) for r in agent) / 4, abs=1e-3)
    assert result["speedup"] == pytest.approx(seed["agent"]["videos_per_s"] / seed["uniform"]["videos_per_s"])
    assert result["accuracy_ratio"] == pytest.approx(seed["agent"]["top1"] / max(seed["uniform"]["top1"], 1e-9))
    assert result["clips_tried"]["chosen"] in (4, 8)
    costs = result["decode_costs"]
    assert costs["keyframes"] < costs["frames"] and costs["glimpse_sparse_frames"] <= costs["glimpse_seek_frames"]
    assert costs["keyframes"] < costs["reference"] < costs["frames"]  # the second look skips what nothing refers to
    assert seed["agent"]["second_look"] == pytest.approx(sum(r["seconds"]["second_look"] > 0 for r in agent) / 4)
    windows = seed["windows"]
    assert windows["agent"]["windows"] == windows["classifier"]["windows"] > 0
    assert windows["agent"]["scored"] <= windows["agent"]["windows"] == windows["classifier"]["scored"]
    assert 0 <= windows["same_segments"] <= 1 and result["windows_speedup"] == pytest.approx(windows["speedup"])
    md = out.read_text()
    assert f"{result['speedup']:.2f}x" in md and "Where the agent's time goes" in md
