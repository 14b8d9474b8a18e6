"""Residual Attention (Wang et al., CVPR 2017): H = (1 + M(x)) * T(x).

trunk T (identity here: the backbone stage before is the trunk) and a soft mask branch M in [0, 1]:
x -> maxpool down -> conv -> maxpool down -> conv -> upsample -> + skip -> upsample -> 1x1 convs
  -> sigmoid -> M. The 1 + M form lets the mask amplify features without ever erasing the identity.
The output is divided by 1.5 so that a fresh mask (zero-initialised head: M = 0.5, where the sigmoid
is steepest) leaves the input unchanged.
`mode`: `mixed` (sigmoid per element), `channel` (per channel), `spatial` (per location).
"""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import nn

from pipeline.errors import ConfigError
from pipeline.layers.base import ATTENTION, AttentionLayer


def _conv_bn_relu(c_in: int, c_out: int) -> nn.Sequential:
    return nn.Sequential(nn.Conv2d(c_in, c_out, 3, padding=1, bias=False), nn.BatchNorm2d(c_out), nn.ReLU(inplace=True))


def _half(x: torch.Tensor) -> torch.Tensor:
    """Max-pool by 2, but never below 1x1 (late stages of small inputs are already tiny)."""
    return F.max_pool2d(x, 2, ceil_mode=True) if min(x.shape[-2:]) > 1 else x


@ATTENTION.register("residual")
class ResidualAttention(AttentionLayer):
    """Soft mask branch (a small hourglass) applied as (1 + M) * x."""

    def __init__(self, channels: int, *, hidden: int | None = None, mode: str = "mixed") -> None:
        super().__init__()
        if mode not in ("mixed", "channel", "spatial"):
            raise ConfigError(f"residual attention mode must be mixed, channel or spatial, got {mode!r}")
        self.mode = mode
        hidden = hidden or max(8, channels // 4)
        self.down1 = _conv_bn_relu(channels, hidden)
        self.down2 = _conv_bn_relu(hidden, hidden)
        self.up = _conv_bn_relu(hidden, hidden)
        out = 1 if mode == "spatial" else channels
        self.head = nn.Sequential(nn.Conv2d(hidden, hidden, 1), nn.ReLU(inplace=True), nn.Conv2d(hidden, out, 1))
        nn.init.zeros_(self.head[2].weight)  # M = 0.5 everywhere at first, so H = x exactly
        nn.init.zeros_(self.head[2].bias)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        h, w = x.shape[-2:]
        d1 = self.down1(_half(x))  # (B, hid, H/2, W/2)
        d2 = self.down2(_half(d1))  # (B, hid, H/4, W/4)
        u = self.up(F.interpolate(d2, size=d1.shape[-2:], mode="bilinear", align_corners=False) + d1)
        logits = self.head(F.interpolate(u, size=(h, w), mode="bilinear", align_corners=False))  # (B, C|1, H, W)
        if self.mode == "channel":
            logits = logits.mean(dim=(2, 3), keepdim=True)  # (B, C, 1, 1)
        # The paper's (1 + M) T, scaled so that a fresh mask (M = 0.5) is the identity.
        scale = (1 + torch.sigmoid(logits)) / 1.5  # (B, C|1, H|1, W|1), in (2/3, 4/3)
        maps = {"spatial": scale.mean(dim=1, keepdim=True).expand(-1, 1, h, w)}  # (B, 1, H, W)
        if self.mode != "spatial":
            maps["channel"] = scale.mean(dim=(2, 3))  # (B, C)
        self.record(**maps)
        return scale * x
