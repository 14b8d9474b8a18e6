"""CBAM: Convolutional Block Attention Module (Woo et al., ECCV 2018).

x -> channel attention (avg- and max-pooled descriptors through one shared MLP, summed, gate)
  -> spatial attention (channel-wise mean and max stacked -> 7x7 conv -> gate) -> x'.
Gates are 2 * sigmoid with zero-initialised last layers (see `layers.base.gate`).
"""

from __future__ import annotations

import torch
from torch import nn

from pipeline.layers.base import ATTENTION, AttentionLayer, gate


@ATTENTION.register("cbam")
class CBAM(AttentionLayer):
    """Channel then spatial attention."""

    def __init__(self, channels: int, *, reduction: int = 16, kernel_size: int = 7, min_hidden: int = 8) -> None:
        super().__init__()
        hidden = max(min_hidden, channels // reduction)
        self.mlp = nn.Sequential(nn.Conv2d(channels, hidden, 1), nn.ReLU(inplace=True), nn.Conv2d(hidden, channels, 1))
        self.spatial = nn.Conv2d(2, 1, kernel_size, padding=kernel_size // 2)
        # Start as the identity: zero logits, so both gates are exactly 1 (see `layers.base.gate`).
        for layer in (self.mlp[2], self.spatial):
            nn.init.zeros_(layer.weight)
            nn.init.zeros_(layer.bias)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        avg = self.mlp(x.mean(dim=(2, 3), keepdim=True))  # (B, C, 1, 1)
        mx = self.mlp(x.amax(dim=(2, 3), keepdim=True))  # (B, C, 1, 1)
        wc = gate(avg + mx)  # (B, C, 1, 1)
        x = x * wc
        desc = torch.cat([x.mean(dim=1, keepdim=True), x.amax(dim=1, keepdim=True)], dim=1)  # (B, 2, H, W)
        ws = gate(self.spatial(desc))  # (B, 1, H, W)
        self.record(channel=wc.flatten(1), spatial=ws)
        return x * ws
