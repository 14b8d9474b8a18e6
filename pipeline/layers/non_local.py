"""Non-local block (Wang et al., CVPR 2018), embedded Gaussian: self-attention over all positions.

x (B, C, H, W) -> query, key, value by 1x1 convs (C -> C/2) -> flatten to N = H*W positions
  -> softmax(q k^T) (B, N, N) @ v -> 1x1 conv back to C -> BatchNorm (gamma = 0) -> + x.
The zero-initialised BatchNorm makes a fresh block the identity, as the paper does.
"""

from __future__ import annotations

import torch
from einops import rearrange
from torch import nn

from pipeline.errors import ConfigError
from pipeline.layers.base import ATTENTION, AttentionLayer


@ATTENTION.register("nonlocal")
class NonLocal(AttentionLayer):
    """Every position attends to every other; residual output."""

    def __init__(self, channels: int, *, reduction: int = 2, max_positions: int = 4096) -> None:
        super().__init__()
        inner = max(1, channels // reduction)
        self.query = nn.Conv2d(channels, inner, 1)
        self.key = nn.Conv2d(channels, inner, 1)
        self.value = nn.Conv2d(channels, inner, 1)
        self.out = nn.Sequential(nn.Conv2d(inner, channels, 1, bias=False), nn.BatchNorm2d(channels))
        nn.init.zeros_(self.out[1].weight)
        self.scale = inner**-0.5
        self.max_positions = max_positions  # N x N attention: refuse sizes that would exhaust memory

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        h, w = x.shape[-2:]
        if h * w > self.max_positions:
            raise ConfigError(
                f"non-local attention over {h}x{w}={h * w} positions exceeds max_positions={self.max_positions}; "
                "insert it at a later stage or raise max_positions"
            )
        q = rearrange(self.query(x), "b c h w -> b (h w) c")  # (B, N, C')
        k = rearrange(self.key(x), "b c h w -> b c (h w)")  # (B, C', N)
        v = rearrange(self.value(x), "b c h w -> b (h w) c")  # (B, N, C')
        attn = torch.softmax(q @ k * self.scale, dim=-1)  # (B, N, N)
        y = rearrange(attn @ v, "b (h w) c -> b c h w", h=h, w=w)  # (B, C', H, W)
        self.record(positions=attn)
        return x + self.out(y)  # (B, C, H, W)
