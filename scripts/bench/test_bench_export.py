"""bench_export.py: the checkpoints it writes stand alone, as `vap train`'s do."""

from __future__ import annotations

import bench_export as bench
import torch

from pipeline.models.checkpoint import load_model


def test_the_bench_checkpoint_loads_alone_with_its_preprocessing(tmp_path):
    spec = bench.ModelSpec("tiny", "tiny", "lstm", 32, 8)
    model, meta = load_model(bench.write_checkpoint(spec, tmp_path / "m.ckpt"))
    assert meta.preprocessing["size"] == 32 and meta.preprocessing["sampler_args"] == {"num_segments": 8}
    assert meta.model["head"] == "lstm" and len(meta.class_names) == 10
    with torch.no_grad():
        assert model(torch.zeros(1, 8, 3, 32, 32, dtype=torch.uint8)).logits.shape == (1, 10)
