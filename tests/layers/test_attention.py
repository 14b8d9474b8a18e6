"""Every attention layer: shapes, gradients, identity at init, the attention it exposes."""

from __future__ import annotations

import pytest
import torch

from pipeline.layers import ATTENTION, AttentionLayer, build_attention, collect_attention

LAYERS = [n for n in ATTENTION.names() if n != "none"]


def test_registry():
    assert set(LAYERS) == {"se", "cbam", "eca", "stn", "residual", "nonlocal"}
    with pytest.raises(KeyError, match="allowed: cbam, eca, none, nonlocal, residual, se, stn"):
        build_attention("gc", 16)


@pytest.mark.parametrize("name", LAYERS)
@pytest.mark.parametrize("shape", [(2, 16, 8, 8), (1, 64, 5, 7), (3, 8, 1, 1)])
def test_shape_backward_identity(name, shape):
    torch.manual_seed(0)
    layer = build_attention(name, shape[1])
    x = torch.randn(*shape, requires_grad=True)
    y = layer(x)
    assert y.shape == x.shape and torch.isfinite(y).all()
    assert torch.allclose(y, x, atol=1e-5)  # a fresh layer leaves its input unchanged
    y.square().sum().backward()
    assert torch.isfinite(x.grad).all()
    trainable = [p for p in layer.parameters() if p.requires_grad]
    if not (name == "stn" and shape[-1] == 1):  # warping a single pixel changes nothing: zero gradient
        assert trainable and any(p.grad is not None and p.grad.abs().sum() > 0 for p in trainable)


@pytest.mark.parametrize("name", LAYERS)
def test_learns_away_from_identity(name):
    """One optimiser step on a loss that wants the input changed moves the output."""
    torch.manual_seed(0)
    layer = build_attention(name, 16)
    x = torch.randn(4, 16, 6, 6)
    opt = torch.optim.SGD(layer.parameters(), lr=0.5)
    for _ in range(3):
        opt.zero_grad()
        loss = (layer(x) - 0.5 * x.flip(-1)).square().mean()
        loss.backward()
        opt.step()
    assert not torch.allclose(layer(x), x, atol=1e-4)


EXPECTED = {
    "se": {"channel": (2, 16)},
    "eca": {"channel": (2, 16)},
    "cbam": {"channel": (2, 16), "spatial": (2, 1, 6, 6)},
    "residual": {"channel": (2, 16), "spatial": (2, 1, 6, 6)},
    "stn": {"theta": (2, 2, 3)},
    "nonlocal": {"positions": (2, 36, 36)},
}


@pytest.mark.parametrize("name", LAYERS)
def test_exposes_its_attention(name):
    layer = build_attention(name, 16)
    assert layer.last_attention is None
    layer(torch.randn(2, 16, 6, 6))
    maps = layer.last_attention
    got = {k: tuple(v.shape) for k, v in vars(maps).items() if v is not None}
    assert got == EXPECTED[name]
    assert all(not v.requires_grad for v in vars(maps).values() if v is not None)
    if maps.positions is not None:
        assert torch.allclose(maps.positions.sum(-1), torch.ones(2, 36))
    if maps.theta is not None:
        assert torch.allclose(maps.theta, torch.tensor([[1.0, 0, 0], [0, 1.0, 0]]).expand(2, 2, 3))
    if maps.channel is not None:
        assert torch.allclose(maps.channel, torch.ones_like(maps.channel))  # identity gates at init


def test_collect_attention_by_module_name():
    model = torch.nn.Sequential(build_attention("se", 8), torch.nn.Identity(), build_attention("cbam", 8))
    model(torch.randn(1, 8, 4, 4))
    found = collect_attention(model)
    assert list(found) == ["0", "2"] and all(isinstance(model[int(k)], AttentionLayer) for k in found)


def test_nonlocal_refuses_huge_maps():
    with pytest.raises(ValueError, match="64x80=5120 positions exceeds max_positions=4096"):
        build_attention("nonlocal", 8)(torch.randn(1, 8, 64, 80))


def test_residual_modes():
    x = torch.randn(2, 8, 6, 6)
    for mode in ("mixed", "channel", "spatial"):
        assert build_attention("residual", 8, mode=mode)(x).shape == x.shape
    with pytest.raises(ValueError, match="mixed, channel or spatial"):
        build_attention("residual", 8, mode="soft")
