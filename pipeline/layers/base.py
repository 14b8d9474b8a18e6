"""What every attention layer shares: a registry, and one way to read the attention it applied.

Each layer maps `(B, C, H, W) -> (B, C, H, W)` and records what it attended to in `last_attention`
(an `AttentionMaps`), so heatmaps, timelines and logs read the weights the model really used.
Layers are built to start close to the identity, so inserting one into a pretrained backbone keeps
the ImageNet features until training moves it.
"""

from __future__ import annotations

from dataclasses import dataclass

import torch
from torch import nn

from pipeline.registry import Registry

ATTENTION: Registry[type[AttentionLayer]] = Registry("attention")


def gate(logits: torch.Tensor) -> torch.Tensor:
    """2 * sigmoid: 1 at logits 0, in (0, 2).

    The papers gate with a plain sigmoid. Here the last layer of every gate starts at zero, so a
    fresh layer is exactly the identity (pretrained features survive insertion) and sits where the
    sigmoid is steepest; a plain sigmoid pushed open (sigmoid(6) ~ 1) would be saturated and learn
    hundreds of times slower. The factor 2 is a constant the next convolution or BatchNorm absorbs.
    """
    return 2.0 * torch.sigmoid(logits)


@dataclass
class AttentionMaps:
    """What one layer attended to in its last forward pass; fields it does not use are None."""

    channel: torch.Tensor | None = None  # (B, C) weights, 1 = unchanged (gates lie in (0, 2))
    spatial: torch.Tensor | None = None  # (B, 1, H, W) weights, 1 = unchanged
    theta: torch.Tensor | None = None  # (B, 2, 3) affine transform (spatial transformer)
    positions: torch.Tensor | None = None  # (B, HW, HW) attention of each position over all positions

    def detach(self) -> AttentionMaps:
        return AttentionMaps(*(None if t is None else t.detach() for t in vars(self).values()))


class AttentionLayer(nn.Module):
    """Base class: subclasses compute and call `self.record(...)` in `forward`."""

    def __init__(self) -> None:
        super().__init__()
        self.last_attention: AttentionMaps | None = None

    def record(self, **maps: torch.Tensor) -> None:
        self.last_attention = AttentionMaps(**{k: v.detach() for k, v in maps.items()})


def build_attention(name: str, channels: int, **kwargs: object) -> AttentionLayer:
    """`build_attention("cbam", 256)`; `none` gives an identity that records nothing."""
    return ATTENTION.build(name, channels=channels, **kwargs)


@ATTENTION.register("none")
class NoAttention(AttentionLayer):
    """Identity (the plain backbone), so configs can switch attention off by name."""

    def __init__(self, channels: int) -> None:
        super().__init__()

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return x


def collect_attention(model: nn.Module) -> dict[str, AttentionMaps]:
    """Last attention of every attention layer in `model`, by module name."""
    return {
        name: m.last_attention
        for name, m in model.named_modules()
        if isinstance(m, AttentionLayer) and m.last_attention is not None
    }
