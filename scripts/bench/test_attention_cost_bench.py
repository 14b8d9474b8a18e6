"""attention_cost_bench.py: the quick run measures every attention type and writes the table."""

from __future__ import annotations

import json

import attention_cost_bench as bench
import pytest

TYPES = ["none", "se", "cbam", "eca", "stn", "residual", "nonlocal"]


def test_quick_run_measures_every_type(tmp_path):
    report = bench.main(["--quick", "--repeats", "2", "--out", str(tmp_path), "--no-progress"])
    rows = {r["attention"]: r for r in report["rows"]}
    assert [r["attention"] for r in report["rows"]] == TYPES
    assert all(r["backbone"] == "resnet18" for r in report["rows"])
    assert rows["none"]["flops"] < rows["nonlocal"]["flops"]
    assert rows["se"]["params"] > rows["none"]["params"]
    assert rows["none"]["time_ratio"] == 1.0 and rows["none"]["stages"] == []
    assert all(len(r["times_ms"]) == 2 and r["ms_median"] > 0 for r in rows.values())
    assert set(report["target"]["extra_time"]) == {"se", "cbam"}

    saved = json.loads((tmp_path / "attention_cost.json").read_text())
    assert saved["rows"] == report["rows"] and saved["config"]["size"] == 64
    md = (tmp_path / "attention_cost.md").read_text()
    table = [line for line in md.splitlines() if line.startswith("|")]
    header = [c.strip() for c in table[0].strip("|").split("|")]
    assert header[:4] == ["backbone", "attention", "stages", "params (M)"]
    assert "GFLOPs / image" in header and "time ratio vs none (median)" in header
    body = table[2:]
    assert len(body) == len(TYPES) and all(len(line.strip("|").split("|")) == len(header) for line in body)
    assert [line.split("|")[2].strip() for line in body] == TYPES
    assert "Target: se and cbam" in md and "python scripts/bench/attention_cost_bench.py --quick" in md


def test_plan_from_arguments():
    cfg = bench.config_from_args(bench.parse_args(["--backbones", "tiny", "--attention", "none", "se"]))
    assert cfg.plan == {"tiny": ["none", "se"]} and cfg.size == 224
    cfg = bench.config_from_args(bench.parse_args([]))
    assert cfg.plan["mobilenet_v2"] == ["none", "se", "cbam"] and len(cfg.plan["resnet18"]) == 7


def test_tiny_backbone_rows(tmp_path):
    cfg = bench.BenchConfig(plan={"tiny": ["se", "nonlocal"]}, size=32, batch=2, repeats=1, warmup=0)
    report = bench.run_bench(cfg, tmp_path, command="test", progress=False)
    assert [r["attention"] for r in report["rows"]] == ["none", "se", "nonlocal"]
    assert report["target"]["met"] is False  # resnet18 was not measured: nothing to claim


def test_help_explains_the_bench(capsys):
    with pytest.raises(SystemExit):
        bench.parse_args(["--help"])
    text = capsys.readouterr().out
    assert "FlopCounterMode" in text and "--quick" in text and "--out" in text
