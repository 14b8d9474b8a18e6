"""bench_loader.py: what a failing library call becomes and what the report says (not the timings)."""

from __future__ import annotations

import bench_loader as bench
import numpy as np


def test_a_library_that_raises_on_a_clip_is_noted_not_fatal(tmp_path):
    failed: dict[str, list[str]] = {}

    def broken(h, v, i):
        raise IndexError("Invalid frame index=119 for stream_index=0; must be less than 119")

    bench._attempt(broken, None, tmp_path / "carphone.mkv", np.array([119]), failed, "torchcodec approximate")
    bench._attempt(lambda h, v, i: None, None, tmp_path / "ok.mkv", np.array([1]), failed, "decord")
    assert failed == {"torchcodec approximate": ["carphone.mkv: IndexError: Invalid frame index=119 for "
                                                 "stream_index=0; must be less than 119"]}  # fmt: skip


def test_the_report_names_the_limit_the_ratio_and_the_failures():
    ways = (*bench.DIRECT, *bench.OURS, *bench.PEER)
    med = {w: {"fresh": 5.0, "reused": 6.0, "open_ms": 4.0} for w in ways}
    med["decord"] = {"fresh": 8.0, "reused": 6.0, "open_ms": 3.0}
    container = {
        "videos": ["a.mkv"], "clips_per_s": med, "limit": {"fresh": "decord", "reused": "pyav"},
        "auto_over_fastest_direct": {"fresh": 0.625, "reused": 1.0}, "auto_served_by": {"a.mkv": "pyav"},
        "pytorchvideo_empty_windows": 3, "pytorchvideo_windows": 96, "peak_mb": {"decord": 1234.0},
        "failed_clips": {"torchcodec approximate": 2}, "failures": {"torchcodec approximate": ["a.mkv: IndexError: x"]},
    }  # fmt: skip
    text = bench.report({"containers": {"mkv H.264, B-frames": container}, "clips_per_video": 6, "repeats": 4},
                        {"command": "c", "date": "d", "machine": "m"})  # fmt: skip
    assert "### mkv H.264, B-frames" in text and "**decord** with a fresh reader" in text
    assert "**0.625** fresh, **1.000**" in text.replace("\n", " ")
    assert "| decord | 8.00 | 1.00 | 6.00 | 1.00 | 3.0 | 1234 |" in text
    assert "| our auto | 5.00 | 0.62 | 6.00 | 1.00 | 4.0 | - |" in text
    assert "- `torchcodec approximate` failed 2 clips: a.mkv: IndexError: x" in text
    assert "3 empty one-frame windows of 96" in text.replace("\n", " ")
