"""scripts/temporal_proof.py: a smoke run on the sparse variant writes the table and keeps other variants."""

from __future__ import annotations

import json

from script_loader import load_script

proof = load_script("temporal_proof")
ARGS = {"epochs": "9", "frames": "8", "sparse_frames": "16", "size": "32", "seeds": "1"}


def test_quick_sparse_run_reports_attention_mass(tmp_path):
    out = tmp_path / "temporal.md"
    kept = {"top1": 0.5, "pair_top1": {"a": 0.5}, "right_pair": 1.0, "attention_mass": 0.3, "uniform_mass": 0.25}
    out.with_suffix(".json").write_text(json.dumps({"args": ARGS, "sparse-still": {"lstm": [kept]}}))
    results = proof.main(
        ["--quick", "--variants", "sparse", "--heads", "tsn-attention", "--data", str(tmp_path), "--out", str(out)]
    )
    (run,) = results["sparse"]["tsn-attention"]
    assert 0.0 <= run["top1"] <= 1.0 and run["loss_first"] > 0
    # all 16 frames are sampled, 4 of them informative: the uniform share is exactly 4/16
    assert abs(run["uniform_mass"] - 0.25) < 1e-6 and 0.0 <= run["attention_mass"] <= 1.0
    assert (tmp_path / "moving-digits-sparse-quick" / "manifest.json").exists()
    manifest = json.loads((tmp_path / "moving-digits-sparse-quick" / "manifest.json").read_text())
    assert manifest["config"]["distractor"] == "empty"
    md = out.read_text()
    assert "Variant `sparse`:" in md and "Variant `sparse-still`:" in md  # the kept runs are reported too
    assert results["sparse-still"] == {"lstm": [kept]}
    assert "--variants sparse --heads tsn-attention --epochs 2`" in md  # this run's epochs, per run
    assert "--variants sparse-still --heads lstm --epochs 9`" in md  # the kept run's own settings
    assert proof.epochs_of({"a": [{"epochs": 3}], "b": [{"epochs": 5}]}, "9") == "[per head: a 3, b 5]"
