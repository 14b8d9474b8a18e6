"""Temporal heads and the VideoClassifier: every backbone x attention x head, masks, determinism."""

from __future__ import annotations

import pytest
import torch

from pipeline.layers import ATTENTION
from pipeline.models import BACKBONES, VideoClassifier
from pipeline.models.backbones import CLIP_BACKBONES
from pipeline.models.heads import HEADS, build_head

FRAME_BACKBONES = [b for b in BACKBONES.names() if b != "tiny" and b not in CLIP_BACKBONES]  # clip ones: own file

HEAD_CONFIGS = [
    ("tsn", {"consensus": "avg"}),
    ("tsn", {"consensus": "max"}),
    ("tsn", {"consensus": "attention"}),
    ("lstm", {}),
    ("lstm", {"bidirectional": False, "layers": 2}),
    ("transformer", {"pool": "cls", "positions": "learned"}),
    ("transformer", {"pool": "attention", "positions": "sinusoidal"}),
]
IDS = [f"{n}-{'-'.join(map(str, kw.values())) or 'default'}" for n, kw in HEAD_CONFIGS]


def test_registry():
    assert HEADS.names() == ["lstm", "transformer", "tsn"]


@pytest.mark.parametrize("name, kwargs", HEAD_CONFIGS, ids=IDS)
def test_attention_sums_to_one_and_masks_are_respected(name, kwargs):
    torch.manual_seed(0)
    head = build_head(name, 16, 5, **kwargs).eval()
    x = torch.randn(3, 6, 16)
    mask = torch.ones(3, 6, dtype=torch.bool)
    mask[1, 4:] = False
    mask[2, 1:] = False
    out = head(x, mask)
    assert out.logits.shape == (3, 5) and out.attention.shape == (3, 6)
    assert torch.allclose(out.attention.sum(dim=1), torch.ones(3), atol=1e-5)
    assert (out.attention >= 0).all() and out.attention[~mask].abs().max() == 0
    # padded frames change nothing: garbage in the padding gives the same output
    x2 = x.clone()
    x2[~mask] = 1e3
    out2 = head(x2, mask)
    assert torch.allclose(out.logits, out2.logits, atol=1e-4)
    # a clip padded to more frames gives the same answer as the clip alone
    alone = head(x[1:2, :4])
    assert torch.allclose(alone.logits, out.logits[1:2], atol=1e-4)


@pytest.mark.parametrize("name, kwargs", HEAD_CONFIGS, ids=IDS)
def test_head_trains_a_step(name, kwargs):
    torch.manual_seed(0)
    head = build_head(name, 16, 5, **kwargs)
    opt = torch.optim.AdamW(head.parameters(), lr=1e-2)
    y = torch.randint(0, 5, (8,))
    x = torch.randn(8, 6, 16)
    x[..., :5] += 2 * torch.nn.functional.one_hot(y, 5)[:, None, :]  # learnable from any frame
    losses = []
    for _ in range(20):
        opt.zero_grad()
        loss = torch.nn.functional.cross_entropy(head(x).logits, y)
        loss.backward()
        opt.step()
        losses.append(loss.item())
    assert losses[-1] < losses[0] * 0.7


def test_avg_consensus_is_order_blind_and_lstm_is_not():
    torch.manual_seed(0)
    x = torch.randn(2, 6, 16)
    rev = x.flip(1)
    avg = build_head("tsn", 16, 4, consensus="avg").eval()
    assert torch.allclose(avg(x).logits, avg(rev).logits, atol=1e-5)
    for name in ("lstm", "transformer"):
        head = build_head(name, 16, 4).eval()
        assert not torch.allclose(head(x).logits, head(rev).logits, atol=1e-4)


def test_bad_config_names_the_key():
    with pytest.raises(ValueError, match="consensus must be avg, max or attention"):
        build_head("tsn", 8, 2, consensus="mean")
    with pytest.raises(ValueError, match="positions must be learned or sinusoidal"):
        build_head("transformer", 8, 2, positions="rotary")
    with pytest.raises(ValueError, match="longer than the transformer's max_frames=4"):
        build_head("transformer", 8, 2, max_frames=4)(torch.randn(1, 6, 8))
    with pytest.raises(ValueError, match="at least one valid frame"):
        build_head("lstm", 8, 2)(torch.randn(2, 3, 8), torch.tensor([[1, 1, 0], [0, 0, 0]], dtype=torch.bool))


@pytest.mark.parametrize("head", HEADS.names())
@pytest.mark.parametrize("attention", ATTENTION.names())
def test_every_attention_x_head_trains_a_step(attention, head):
    """B=2, T=4, 32x32 on the CPU: builds, forward, right shapes, backward and one optimizer step that
    moves every parameter with a gradient, all finite."""
    torch.manual_seed(0)
    model = VideoClassifier.build(num_classes=3, backbone="tiny", attention=attention, head=head)
    video = torch.randint(0, 256, (2, 4, 3, 32, 32), dtype=torch.uint8)
    out = model(video)
    assert out.logits.shape == (2, 3) and out.attention.shape == (2, 4)
    loss = torch.nn.functional.cross_entropy(out.logits, torch.tensor([0, 2]))
    assert torch.isfinite(loss)
    optimizer_step(model, loss)


def test_multiview_input_averages_views():
    torch.manual_seed(0)
    model = VideoClassifier.build(num_classes=3, head="transformer").eval()
    views = torch.randint(0, 256, (2, 3, 4, 3, 32, 32), dtype=torch.uint8)
    out = model(views)
    each = torch.stack([model(views[:, v]).logits for v in range(3)], dim=1)
    assert torch.allclose(out.logits, each.mean(dim=1), atol=1e-5)
    assert torch.allclose(out.attention.sum(dim=1), torch.ones(2), atol=1e-5)


def test_deterministic_under_seed():
    def run() -> torch.Tensor:
        torch.manual_seed(123)
        m = VideoClassifier.build(num_classes=4, attention="cbam", head="lstm")
        return m(
            torch.randint(0, 256, (2, 4, 3, 32, 32), dtype=torch.uint8, generator=torch.Generator().manual_seed(1))
        ).logits

    assert torch.equal(run(), run())


def test_feature_cache_needs_frozen_backbone_and_reuses_features():
    model = VideoClassifier.build(num_classes=3, head="tsn", cache_features=True)
    video = torch.randint(0, 256, (1, 4, 3, 32, 32), dtype=torch.uint8)
    keys, idx = [("v0", 0)], torch.tensor([[0, 3, 6, 9]])
    with pytest.raises(RuntimeError, match="frozen backbone"):
        model(video, cache_keys=keys, frame_indices=idx)
    model.backbone.freeze("all")
    model.eval()
    first = model(video, cache_keys=keys, frame_indices=idx).logits
    # the cache answers even if the pixels are gone: the same video id, clip and frames
    second = model(torch.zeros_like(video), cache_keys=keys, frame_indices=idx).logits
    assert torch.allclose(first, second) and len(model._cache) == 4


def optimizer_step(model: torch.nn.Module, loss: torch.Tensor) -> None:
    """backward + one SGD step; asserts finite gradients and that every parameter with a gradient moved."""
    trainable = [(n, p) for n, p in model.named_parameters() if p.requires_grad]
    before = {n: p.detach().clone() for n, p in trainable}
    loss.backward()
    moved = [n for n, p in trainable if p.grad is not None and p.grad.abs().sum() > 0]
    assert moved and all(torch.isfinite(p.grad).all() for _, p in trainable if p.grad is not None)
    torch.optim.SGD([p for _, p in trainable], lr=0.1).step()
    params = dict(model.named_parameters())
    assert all(not torch.equal(before[n], params[n]) for n in moved)
    assert all(torch.isfinite(p).all() for _, p in trainable)


def _train_step(model: VideoClassifier) -> None:
    video = torch.randint(0, 256, (2, 4, 3, 32, 32), dtype=torch.uint8)
    out = model(video)
    loss = torch.nn.functional.cross_entropy(out.logits, torch.tensor([0, 1]))
    assert out.attention.shape == (2, 4) and torch.isfinite(loss)
    optimizer_step(model, loss)


@pytest.mark.parametrize("backbone", FRAME_BACKBONES)
def test_every_torchvision_backbone_trains_a_step(backbone):
    _train_step(VideoClassifier.build(num_classes=2, backbone=backbone, attention="cbam", head="transformer"))


@pytest.mark.slow
@pytest.mark.parametrize("head", HEADS.names())
@pytest.mark.parametrize("attention", ATTENTION.names())
@pytest.mark.parametrize("backbone", FRAME_BACKBONES)
def test_full_product_backbone_attention_head(backbone, attention, head):
    stages = [-1] if attention == "nonlocal" else None
    _train_step(
        VideoClassifier.build(num_classes=2, backbone=backbone, attention=attention, attention_stages=stages, head=head)
    )


@pytest.mark.parametrize("name, kwargs", HEAD_CONFIGS, ids=IDS)
def test_every_head_gives_the_pooled_clip_its_classifier_reads(name, kwargs):
    torch.manual_seed(0)
    head = build_head(name, 16, 5, **kwargs).eval()
    out = head(torch.randn(3, 6, 16))  # (B, T, D)
    assert out.pooled is not None and out.pooled.shape[0] == 3 and torch.isfinite(out.pooled).all()
    if kwargs.get("consensus") != "max":  # max consensus takes each class's best frame: no one vector
        assert torch.allclose(head.fc(out.pooled), out.logits, atol=1e-5)
