"""Backbones x attention x insertion point; pretrained weights; freezing; partial BN."""

from __future__ import annotations

import pytest
import torch
from torch import nn

from pipeline.errors import ConfigError
from pipeline.layers import ATTENTION
from pipeline.models.backbones import BACKBONES, CLIP_BACKBONES, build_backbone
from pipeline.models.weights import resolve_torchvision_weights

TORCHVISION = [n for n in BACKBONES.names() if n != "tiny" and n not in CLIP_BACKBONES]  # the 2D ones


@pytest.mark.parametrize("attention", ATTENTION.names())
@pytest.mark.parametrize("stages", [[0], [-1], [1, 2]], ids=["first", "last", "middle"])
def test_tiny_backbone_with_every_attention(attention, stages):
    torch.manual_seed(0)
    b = build_backbone("tiny", attention=attention, attention_stages=stages if attention != "none" else [])
    x = torch.randn(2, 3, 32, 32, requires_grad=True)
    f = b.forward_features(x, return_stages=True)
    assert f.map.shape == (2, 128, 4, 4) and f.pooled.shape == (2, 128)
    assert [s.shape[1] for s in f.stages] == b.stage_channels == [16, 32, 64, 128]
    f.pooled.sum().backward()
    assert torch.isfinite(x.grad).all()


@pytest.mark.parametrize("name", TORCHVISION)
@pytest.mark.parametrize("attention", ["se", "cbam", "nonlocal"])
def test_torchvision_backbones_keep_their_function_when_attention_is_inserted(name, attention):
    torch.manual_seed(0)
    plain = build_backbone(name).eval()
    torch.manual_seed(0)
    with_attn = build_backbone(name, attention=attention).eval()
    # the pretrained part is untouched: same parameters under the same names
    plain_sd, attn_sd = plain.state_dict(), with_attn.state_dict()
    assert all(torch.equal(v, attn_sd[k]) for k, v in plain_sd.items())
    assert set(attn_sd) - set(plain_sd) and all(k.startswith("attention.") for k in set(attn_sd) - set(plain_sd))
    x = torch.randn(2, 3, 64, 64)
    with torch.no_grad():
        assert torch.allclose(plain(x), with_attn(x), atol=1e-5)  # identity at insertion


@pytest.mark.slow
@pytest.mark.parametrize("name", TORCHVISION)
@pytest.mark.parametrize("attention", ["eca", "stn", "residual"])
def test_torchvision_backbones_other_attention(name, attention):
    b = build_backbone(name, attention=attention, attention_stages=[1, -1])
    out = b(torch.randn(2, 3, 64, 64))
    out.sum().backward()
    assert out.shape == (2, b.out_channels) and torch.isfinite(out).all()


def test_attention_stage_out_of_range():
    with pytest.raises(ValueError, match=r"attention_stages \[7\] out of range for tiny, which has stages 0..3"):
        build_backbone("tiny", attention="se", attention_stages=[7])


def test_freeze_keeps_attention_trainable():
    b = build_backbone("tiny", attention="se", freeze="all")
    frozen = [n for n, p in b.named_parameters() if not p.requires_grad]
    trainable = [n for n, p in b.named_parameters() if p.requires_grad]
    assert frozen and all(n.startswith(("stem", "stages")) for n in frozen)
    assert trainable and all(n.startswith("attention") for n in trainable)
    b.train()
    assert not b.stem.training and b.attention.training  # frozen BN keeps its statistics


def test_partial_bn_freezes_all_but_first():
    b = build_backbone("resnet18", partial_bn=True).train()
    bns = [m for m in nn.ModuleList([b.stem, *b.stages]).modules() if isinstance(m, nn.BatchNorm2d)]
    assert bns[0].training and bns[0].weight.requires_grad
    assert all(not m.training and not m.weight.requires_grad for m in bns[1:])


def test_tiny_has_no_pretrained_weights():
    with pytest.raises(ValueError, match="no pretrained weights"):
        build_backbone("tiny", weights="imagenet")


def test_local_weights_file_round_trip(tmp_path):
    torch.manual_seed(1)
    src = build_backbone("resnet18")
    from torchvision.models import resnet18

    tv = resnet18()
    tv.load_state_dict({k: v for k, v in tv.state_dict().items()})
    torch.save(tv.state_dict(), tmp_path / "r18.pth")
    loaded = build_backbone("resnet18", weights=str(tmp_path / "r18.pth"))
    assert torch.equal(loaded.stem[0].weight, tv.conv1.weight)
    del src


def test_weights_file_errors(tmp_path):
    with pytest.raises(FileNotFoundError, match="nope.pth: weights file not found"):
        build_backbone("resnet18", weights=str(tmp_path / "nope.pth"))
    torch.save({"fc.weight": torch.zeros(3)}, tmp_path / "wrong.pth")
    with pytest.raises(ValueError, match="does not fit resnet18"):
        build_backbone("resnet18", weights=str(tmp_path / "wrong.pth"))
    # weights_only=True: a pickle that would run code is refused
    import pickle

    class Evil:
        def __reduce__(self):
            return (print, ("pwned",))

    with open(tmp_path / "evil.pth", "wb") as f:
        pickle.dump(Evil(), f)
    with pytest.raises(ValueError, match="evil.pth: .* it was not loaded") as e:
        build_backbone("resnet18", weights=str(tmp_path / "evil.pth"))
    assert "weights_only=False" not in str(e.value) and "\n" not in str(e.value)


def test_unknown_weights_name_lists_allowed():
    with pytest.raises(ValueError, match="allowed: none, imagenet, IMAGENET1K_V1, IMAGENET1K_V2"):
        resolve_torchvision_weights("resnet50", "IMAGENET21K")


def test_missing_offline_weights_say_how_to_get_them(monkeypatch, tmp_path):
    monkeypatch.setattr(torch.hub, "get_dir", lambda: str(tmp_path))

    def no_network(*a, **k):
        raise OSError("no network")

    monkeypatch.setattr(torch.hub, "load_state_dict_from_url", no_network)
    with pytest.raises(ConfigError, match=r"resnet34 weights IMAGENET1K_V1 are not in .* Copy resnet34-b627a593.pth"):
        build_backbone("resnet34", weights="imagenet")
