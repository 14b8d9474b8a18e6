"""`vap attention`: overlays written for every attention layer, on images and videos."""

from __future__ import annotations

import json

import numpy as np
import pytest
import torch
from PIL import Image

from pipeline.cli import main
from pipeline.layers.base import AttentionMaps
from pipeline.viz import normalise, overlay, spatial_map, theta_box


@pytest.mark.parametrize("attention", ["cbam", "se", "nonlocal", "stn", "residual"])
def test_video_overlays(attention, lossy_video, tmp_path):
    out = tmp_path / attention
    code = main(["attention", str(lossy_video[0]), "--backbone", "tiny", "--weights", "none",
                 "--attention", attention, "--frames", "3", "--size", "48", "--out", str(out)])  # fmt: skip
    assert code == 0
    summary = json.loads((out / "attention.json").read_text())
    assert summary["frames"] == [6, 20, 33]
    assert len(summary["overlays"]) == 2 * 3  # two attention layers (last two stages) x three frames
    pic = np.asarray(Image.open(summary["overlays"][0]))
    assert pic.shape == (48, 64, 3) and pic.dtype == np.uint8
    assert Image.open(out / "attention_grid.png").size[0] > 200


def test_image_input_and_checkpoint(tmp_path):
    img = tmp_path / "cat.png"
    Image.fromarray(np.random.default_rng(0).integers(0, 255, (40, 50, 3), dtype=np.uint8)).save(img)
    from pipeline.models.backbones import build_backbone

    model = build_backbone("tiny", attention="cbam")
    torch.nn.init.normal_(model.attention["3"].spatial.weight)  # a "trained" spatial gate
    torch.save(model.state_dict(), tmp_path / "ckpt.pth")
    args = [
        "attention",
        str(img),
        "--backbone",
        "tiny",
        "--weights",
        "none",
        "--size",
        "40",
        "--out",
        str(tmp_path / "o"),
    ]
    assert main([*args, "--checkpoint", str(tmp_path / "ckpt.pth")]) == 0
    assert len(json.loads((tmp_path / "o" / "attention.json").read_text())["overlays"]) == 2


def test_missing_input_is_one_line(tmp_path, capsys):
    assert main(["attention", str(tmp_path / "nope.mp4"), "--backbone", "tiny", "--weights", "none"]) == 1
    assert capsys.readouterr().err.strip().endswith("nope.mp4: no such file")


def test_maps_from_each_kind_of_attention():
    b = 2
    assert spatial_map(AttentionMaps(spatial=torch.rand(b, 1, 4, 5)))[0].shape == (b, 4, 5)
    pos = torch.softmax(torch.randn(b, 20, 20), -1)
    heat, what = spatial_map(AttentionMaps(positions=pos), torch.zeros(b, 3, 4, 5))
    assert heat.shape == (b, 4, 5) and "received" in what
    feat = torch.zeros(b, 3, 4, 5)
    feat[:, 1, 2, 3] = 1.0
    heat, _ = spatial_map(AttentionMaps(channel=torch.tensor([[1.0, 2.0, 1.0]] * b)), feat)
    assert heat[0].argmax().item() == 2 * 5 + 3 and heat[0].max() == 2.0
    assert spatial_map(AttentionMaps(theta=torch.zeros(b, 2, 3))) is None


def test_normalise_overlay_and_box():
    flat = normalise(torch.ones(1, 3, 3))
    assert torch.all(flat == 0.5)
    ramp = normalise(torch.arange(9.0).reshape(1, 3, 3))
    assert ramp.min() == 0 and ramp.max() == 1
    pic = overlay(torch.zeros(3, 8, 10, dtype=torch.uint8), ramp[0])
    assert pic.shape == (8, 10, 3) and pic.dtype == np.uint8 and pic.max() > 0
    box = theta_box(torch.tensor([[0.5, 0, 0], [0, 0.5, 0]]), 100, 200)
    assert np.allclose(box, [[50, 25], [150, 25], [150, 75], [50, 75]])
