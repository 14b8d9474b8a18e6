"""Squeeze-and-Excitation (Hu et al., CVPR 2018).

x -> global average pool (B, C) -> FC C->C/r -> ReLU -> FC C/r->C -> gate -> x * w (per channel).
The gate is 2 * sigmoid with a zero-initialised last layer (see `layers.base.gate`).
"""

from __future__ import annotations

import torch
from torch import nn

from pipeline.layers.base import ATTENTION, AttentionLayer, gate


@ATTENTION.register("se")
class SqueezeExcite(AttentionLayer):
    """Channel attention from globally pooled features (reduction r = 16 as in the paper)."""

    def __init__(self, channels: int, *, reduction: int = 16, min_hidden: int = 8) -> None:
        super().__init__()
        hidden = max(min_hidden, channels // reduction)
        self.fc1 = nn.Conv2d(channels, hidden, 1)
        self.fc2 = nn.Conv2d(hidden, channels, 1)
        nn.init.zeros_(self.fc2.weight)  # start as the identity: every channel weight exactly 1
        nn.init.zeros_(self.fc2.bias)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        s = x.mean(dim=(2, 3), keepdim=True)  # (B, C, 1, 1)
        w = gate(self.fc2(torch.relu(self.fc1(s))))  # (B, C, 1, 1)
        self.record(channel=w.flatten(1))  # (B, C)
        return x * w
