"""Spatial Transformer (Jaderberg et al., NeurIPS 2015), affine.

x -> localisation net (convs, pool, FC) -> theta (B, 2, 3), initialised to the identity
  -> F.affine_grid + F.grid_sample -> x resampled (same size).
"""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import nn

from pipeline.layers.base import ATTENTION, AttentionLayer


@ATTENTION.register("stn")
class SpatialTransformer(AttentionLayer):
    """Learns where to look: an affine warp of the feature map, starting as the identity warp."""

    def __init__(self, channels: int, *, hidden: int = 32, pool: int = 4) -> None:
        super().__init__()
        self.loc = nn.Sequential(
            nn.Conv2d(channels, hidden, 3, padding=1),
            nn.ReLU(inplace=True),
            nn.AdaptiveAvgPool2d(pool),
            nn.Flatten(),
            nn.Linear(hidden * pool * pool, hidden),
            nn.ReLU(inplace=True),
            nn.Linear(hidden, 6),
        )
        nn.init.zeros_(self.loc[-1].weight)
        with torch.no_grad():
            self.loc[-1].bias.copy_(torch.tensor([1.0, 0.0, 0.0, 0.0, 1.0, 0.0]))  # identity

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        theta = self.loc(x).view(-1, 2, 3)  # (B, 2, 3)
        grid = F.affine_grid(theta, list(x.shape), align_corners=False)  # (B, H, W, 2)
        self.record(theta=theta)
        return F.grid_sample(x, grid, align_corners=False, padding_mode="border")  # (B, C, H, W)
