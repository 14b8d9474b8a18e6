"""bench_summarize.py: a smoke run writes the per-stage report."""

from __future__ import annotations

import json
import shutil

import bench_summarize as bench
import pytest


@pytest.mark.skipif(shutil.which("ffmpeg") is None, reason="needs ffmpeg for the test pattern")
def test_smoke_run_writes_stage_times(tmp_path):
    report = bench.main(["--seconds", "3", "--size", "320x240", "--work", str(tmp_path), "--out", str(tmp_path / "r")])
    assert report["video"]["frames"] == 75 and report["sampled_frames"] == 7  # 25 fps: frames 0, 12, ..., 72
    stages = report["stages_s"]
    for name in ("decode + features", "scores", "shots + knapsack", "scores.png", "summary.mp4"):
        assert stages[name] >= 0
    assert report["wall_s"] > stages["scores"]
    md = (tmp_path / "r" / "summarize.md").read_text()
    assert "| decode + features |" in md and "whole command, wall" in md and "testsrc2, 3 s, 320x240" in md
    assert json.loads((tmp_path / "r" / "summarize.json").read_text())["stages_s"] == stages
