"""ECA: Efficient Channel Attention (Wang et al., CVPR 2020).

x -> global average pool (B, C) -> 1-D conv across neighbouring channels (kernel k from C) -> gate (2 * sigmoid)
  -> x * w. No dimensionality reduction, a handful of parameters.
"""

from __future__ import annotations

import math

import torch
from torch import nn

from pipeline.layers.base import ATTENTION, AttentionLayer, gate


@ATTENTION.register("eca")
class ECA(AttentionLayer):
    """Channel attention by a 1-D convolution over the pooled channel descriptor."""

    def __init__(self, channels: int, *, gamma: int = 2, b: int = 1) -> None:
        super().__init__()
        k = int(abs((math.log2(channels) + b) / gamma))
        k = k if k % 2 else k + 1  # odd kernel, as in the paper
        self.conv = nn.Conv1d(1, 1, k, padding=k // 2, bias=True)
        nn.init.zeros_(self.conv.weight)  # start as the identity (see `layers.base.gate`)
        nn.init.zeros_(self.conv.bias)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        s = x.mean(dim=(2, 3))[:, None, :]  # (B, 1, C)
        w = gate(self.conv(s))[:, 0]  # (B, C)
        self.record(channel=w)
        return x * w[:, :, None, None]
