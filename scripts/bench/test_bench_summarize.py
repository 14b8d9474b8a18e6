"""bench_summarize.py: a smoke run on real footage writes the per-stage report."""

from __future__ import annotations

import json
import shutil

import bench_summarize as bench
import pytest


@pytest.mark.skipif(shutil.which("ffmpeg") is None, reason="needs ffmpeg to cut the footage")
def test_smoke_run_writes_stage_times(tmp_path):
    report = bench.main(["--seconds", "3", "--size", "320x240", "--repeats", "1", "--methods", "default",
                         "--work", str(tmp_path), "--out", str(tmp_path / "r")])  # fmt: skip
    assert report["video"]["frames"] == 90 and report["sampled_frames"] == 6  # 30 fps: frames 0, 15, ..., 75
    m = report["methods"]["default"]
    assert m["method"] == "coverage" and len(m["walls_s"]) == 1
    for name in ("decode + features", "scores", "shots + selection", "scores.png", "summary.mp4"):
        assert m["stages_s"][name] >= 0
    assert m["wall_s"] > m["stages_s"]["decode + features"] and m["summary_video"] in ("copied", "re-encoded")
    md = (tmp_path / "r" / "summarize.md").read_text()
    assert "| decode + features |" in md and "whole command, wall" in md and "320x240" in md
    assert (
        json.loads((tmp_path / "r" / "summarize.json").read_text())["methods"]["default"]["stages_s"] == m["stages_s"]
    )
