"""temporal_proof.py: a smoke run on the sparse variant writes the table and keeps other variants."""

from __future__ import annotations

import json

import temporal_proof as proof

ARGS = {"epochs": "9", "frames": "8", "sparse_frames": "16", "size": "32", "seeds": "1"}


def test_quick_sparse_run_reports_attention_mass(tmp_path):
    out = tmp_path / "temporal.md"
    kept = {"top1": 0.5, "pair_top1": {"a": 0.5}, "right_pair": 1.0, "attention_mass": 0.3, "uniform_mass": 0.25}
    out.with_suffix(".json").write_text(json.dumps({"args": ARGS, "sparse-still": {"lstm": [kept]}}))
    results = proof.main(
        ["--quick", "--variants", "sparse", "--heads", "tsn-attention", "--data", str(tmp_path), "--out", str(out)]
    )
    (run,) = results["sparse"]["tsn-attention"]
    assert run["loss_first"] > 0 and run["epochs"] == 2
    # all 16 frames are sampled, 4 of them informative: the uniform share is exactly 4/16
    assert abs(run["uniform_mass"] - 0.25) < 1e-6 and run["attention_mass"] is not None
    assert (tmp_path / "moving-digits-sparse-quick" / "manifest.json").exists()
    manifest = json.loads((tmp_path / "moving-digits-sparse-quick" / "manifest.json").read_text())
    assert manifest["config"]["distractor"] == "empty"
    md = out.read_text()
    row = f"| tsn-attention | {100 * run['top1']:.1f} ± 0.0 | {100 * run['right_pair']:.1f} | "
    assert row + f"{run['attention_mass']:.2f} ± 0.00 | 0.25 |" in md  # the run's own figures, in its row
    assert "Variant `sparse`:" in md and "Variant `sparse-still`:" in md  # the kept runs are reported too
    assert results["sparse-still"] == {"lstm": [kept]}
    assert "--variants sparse --heads tsn-attention --epochs 2`" in md  # this run's epochs, per run
    assert "--variants sparse-still --heads lstm --epochs 9`" in md  # the kept run's own settings
    assert proof.epochs_of({"a": [{"epochs": 3}], "b": [{"epochs": 5}]}, "9") == "[per head: a 3, b 5]"


def test_informative_mass_by_hand():
    import torch

    attn = torch.tensor([[0.1, 0.6, 0.2, 0.1], [0.25, 0.25, 0.25, 0.25], [0.5, 0.5, 0.0, 0.0]])
    sampled = [[0, 4, 8, 12], [1, 2, 3, 4], [0, 1, 2, 3]]
    informative = [[4, 5, 6, 7, 8], [9], []]  # the second video's informative frame was not sampled: left out
    mass = proof.informative_mass(attn, sampled, informative)
    assert len(mass) == 1
    assert abs(mass[0][0] - 0.8) < 1e-6 and mass[0][1] == 0.5  # 0.6 + 0.2 on frames 4 and 8; 2 of 4 sampled


def test_with_a_validation_split_the_best_epoch_is_kept(monkeypatch):
    """train_classifier(val=...) returns the weights of the epoch with the best validation top-1 (the latest
    of equals), not the last epoch's; without `val` the last epoch's."""
    import torch

    torch.manual_seed(0)
    videos = torch.randint(0, 256, (6, 4, 3, 32, 32), dtype=torch.uint8)
    split = proof.Split(videos, torch.arange(6) % 6, [[] for _ in range(6)])
    scores, states = [], []

    def scripted(model, val, sampler, rng):  # records each epoch's weights, returns its scripted top-1
        states.append({k: v.clone() for k, v in model.state_dict().items()})
        return scores[len(states) - 1]

    monkeypatch.setattr(proof, "val_top1", scripted)
    kw = {"seed": 0, "epochs": 3, "frames": 4, "batch": 3, "lr": 1e-2}

    def same(model, state) -> bool:
        return all(torch.equal(v, state[k]) for k, v in model.state_dict().items())

    for scripted_scores, kept in (([0.5, 0.9, 0.7], 1), ([0.9, 0.9, 0.5], 1), ([0.2, 0.3, 0.4], 2)):
        scores[:], states[:] = scripted_scores, []
        model, _, _ = proof.train_classifier("tsn-avg", split, val=split, **kw)
        assert len(states) == 3 and same(model, states[kept]) and not same(model, states[0])
    last_epoch = states[2]
    states[:] = []
    last, _, _ = proof.train_classifier("tsn-avg", split, **kw)  # the same run (same seed), no validation
    assert states == [] and same(last, last_epoch)  # nothing evaluated: the last epoch's weights
