"""attention_learning_check.py: the quick setting learns, and the report files are written."""

from __future__ import annotations

import json

import attention_learning_check as check
import pytest
import torch
from fashion_mnist import DEFAULT_ROOT

from pipeline.layers import AttentionMaps

HAVE_DATA = (DEFAULT_ROOT / "train-images-idx3-ubyte.gz").exists()


@pytest.mark.skipif(not HAVE_DATA, reason="needs Fashion-MNIST: apt-get install dataset-fashion-mnist")
def test_quick_setting_learns_and_writes_the_report(tmp_path):
    report = check.main(["--quick", "--attention", "none", "cbam", "--out", str(tmp_path), "--no-progress"])
    runs = {r["attention"]: r for r in report["runs"]}
    assert set(runs) == {"none", "cbam"}
    for r in runs.values():
        assert r["last_loss"] < 0.85 * r["first_loss"], r  # the loss falls
        assert r["epoch_losses"][-1] < r["epoch_losses"][0], r
        assert r["test_accuracy"] > 0.25, r  # chance is 0.10
    assert runs["cbam"]["params"] > runs["none"]["params"]
    assert set(runs["cbam"]["object_ratio"]) == {"stage2", "stage3"} and not runs["none"]["object_ratio"]

    md = (tmp_path / "attention_learning.md").read_text()
    saved = json.loads((tmp_path / "attention_learning.json").read_text())
    assert saved["summary"] == report["summary"] and saved["config"]["seeds"] == [0]
    assert "| none | - |" in md and "| cbam | 2,3 |" in md
    assert "python scripts/research/image_attention/attention_learning_check.py --quick" in md


def test_object_weight_is_one_for_attention_without_preference():
    boxes = torch.tensor([[0, 0, 28, 28], [10, 20, 38, 48]])
    flat = AttentionMaps(spatial=torch.ones(2, 1, 8, 8))
    identity = AttentionMaps(theta=torch.tensor([[1.0, 0, 0], [0, 1, 0]]).expand(2, 2, 3))
    uniform = AttentionMaps(positions=torch.full((2, 64, 64), 1 / 64))
    for maps in (flat, identity, uniform):
        on, off = check.object_weight(maps, boxes, 60)
        assert on == pytest.approx(off, rel=1e-4)
    assert check.object_weight(AttentionMaps(channel=torch.ones(2, 16)), boxes, 60) is None


def test_object_weight_sees_attention_on_the_object():
    boxes = torch.tensor([[0, 0, 30, 30]])  # the top-left quarter of a 60x60 canvas
    spatial = torch.ones(1, 1, 4, 4)
    spatial[..., :2, :2] = 3.0
    on, off = check.object_weight(AttentionMaps(spatial=spatial), boxes, 60)
    assert on / off == pytest.approx(3.0)
    zoom = torch.tensor([[[0.5, 0, -0.5], [0, 0.5, -0.5]]])  # samples only the top-left quarter
    on, off = check.object_weight(AttentionMaps(theta=zoom), boxes, 60)
    assert on / 4 > 0.9 and off < 0.1  # every sample on the object: density 1 / (1/4)


def test_help_explains_the_check(capsys):
    with pytest.raises(SystemExit):
        check.parse_args(["--help"])
    text = capsys.readouterr().out
    assert "--quick" in text and "--out" in text and "Fashion-MNIST" in text
