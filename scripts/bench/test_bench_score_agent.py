"""bench_score_agent.py: `vap train` of a classifier and an agent, then `vap score` with each."""

from __future__ import annotations

import json

import bench_score_agent as bench
import pytest


@pytest.mark.slow
def test_quick_run_reports_what_the_records_say(tmp_path):
    out = tmp_path / "score_agent.md"
    result = bench.main(["--quick", "--work", str(tmp_path / "work"), "--out", str(out)])
    agent = [json.loads(x) for x in (tmp_path / "work" / "agent_large.jsonl").read_text().splitlines()]
    assert len(agent) == 8 and all(r["status"] == "ok" for r in agent)
    decoded = [r["frames_decoded"] for r in agent]
    # the agent decodes only what it looked at: between min and max glimpses of the shipped config (2-6)
    assert all(r["frames_decoded"] == len(r["glimpse_frames"]) and 2 <= r["frames_decoded"] <= 6 for r in agent)
    assert result["agent"]["frames_decoded_per_video"] == pytest.approx(sum(decoded) / len(decoded))
    assert result["classifier"]["frames_decoded_per_video"] == result["clip_frames"] == 16
    assert result["decoded_fraction"] == pytest.approx(sum(decoded) / len(decoded) / 16)
    # the codec's work, from the records (agent) and from PyAV serving the 16-frame clip (classifier)
    codec = [r["codec_frames"] for r in agent]
    assert all(c >= d for c, d in zip(codec, decoded, strict=True))
    assert result["agent"]["codec_frames_per_video"] == pytest.approx(sum(codec) / len(codec))
    assert result["classifier"]["codec_frames_per_video"] >= 16
    md = out.read_text()
    assert "QUICK" in md and f"{result['agent']['frames_decoded_per_video']:.2f}" in md
    assert json.loads(out.with_suffix(".json").read_text())["quick"] is True
    # the same videos with a keyframe every 4 frames: a seek decodes at most one GOP, so the agent's codec
    # work falls below the single-GOP collection's (49 against 11.5 frames per video in our quick run)
    short = [json.loads(x) for x in (tmp_path / "work" / "agent_gop4_large.jsonl").read_text().splitlines()]
    assert len(short) == 8 and all(r["status"] == "ok" for r in short)
    assert all(r["codec_frames"] <= 4 * r["frames_decoded"] for r in short)
    assert result["short_gop"]["gop"] == 4
    assert result["short_gop"]["agent"]["codec_frames_per_video"] < result["agent"]["codec_frames_per_video"]
    assert "keyframe every 4 frames" in md
