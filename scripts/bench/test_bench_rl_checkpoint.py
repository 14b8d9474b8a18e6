"""bench_rl_checkpoint.py: a smoke run trains a policy, times both ways and writes the report."""

from __future__ import annotations

import json

import bench_rl_checkpoint as bench
import pytest
import torch

from pipeline.data.writer import write_video


@pytest.mark.slow  # five fresh `vap` processes with MobileNetV2 (~1 min on the shared machine)
def test_smoke_run_writes_the_report(tmp_path):
    frames = torch.randint(0, 255, (20, 3, 32, 48), dtype=torch.uint8, generator=torch.Generator().manual_seed(0))
    write_video(tmp_path / "videos" / "a.mp4", frames, fps=10)
    write_video(tmp_path / "videos" / "b.mp4", frames.flip(0), fps=10)
    args = ["--videos", str(tmp_path / "videos"), "--video", "a.mp4", "--repeats", "1", "--epochs", "2"]
    report = bench.main([*args, "--work", str(tmp_path / "w"), "--out", str(tmp_path / "r")])
    assert report["trained_on"] == ["a.mp4", "b.mp4"] and report["sampled_frames"] == 4
    for name in ("per-video training", "pre-trained --checkpoint"):
        assert report["median"][name]["scores_s"] >= 0 and len(report["runs"][name]) == 1
    md = (tmp_path / "r" / "summarize_rl_checkpoint.md").read_text()
    assert "| pre-trained --checkpoint |" in md and "faster with the checkpoint" in md
    assert json.loads((tmp_path / "r" / "summarize_rl_checkpoint.json").read_text())["median"] == report["median"]
