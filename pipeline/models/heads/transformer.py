"""Temporal transformer encoder over per-frame features (Vaswani et al., NeurIPS 2017).

features (B, T, D) -> Linear D->d -> + positions (learned or sinusoidal) [-> prepend CLS]
  -> N pre-norm blocks (masked self-attention, MLP) -> CLS token or attention pooling -> FC -> (B, K).
Attention is computed explicitly (not fused) so the last block's weights can be returned: with a
CLS token, the CLS query's attention over the frames (mean over heads) is the temporal attention.
"""

from __future__ import annotations

import math

import torch
from einops import rearrange
from torch import nn

from pipeline.errors import ConfigError
from pipeline.models.heads.base import HEADS, AdditiveAttentionPool, HeadOutput, TemporalHead, full_mask


def sinusoidal_positions(length: int, dim: int) -> torch.Tensor:
    """(length, dim) fixed sin/cos position codes."""
    pos = torch.arange(length)[:, None].float()
    freq = torch.exp(torch.arange(0, dim, 2).float() * (-math.log(10000.0) / dim))
    pe = torch.zeros(length, dim)
    pe[:, 0::2] = torch.sin(pos * freq)
    pe[:, 1::2] = torch.cos(pos * freq)[:, : dim // 2]
    return pe


class Block(nn.Module):
    """Pre-norm transformer block with masked multi-head self-attention that keeps its weights."""

    def __init__(self, dim: int, heads: int, mlp_ratio: float, dropout: float) -> None:
        super().__init__()
        if dim % heads:
            raise ConfigError(f"transformer dim {dim} must be divisible by heads {heads}")
        self.heads = heads
        self.norm1 = nn.LayerNorm(dim)
        self.qkv = nn.Linear(dim, 3 * dim)
        self.proj = nn.Linear(dim, dim)
        self.norm2 = nn.LayerNorm(dim)
        self.mlp = nn.Sequential(
            nn.Linear(dim, int(dim * mlp_ratio)), nn.GELU(), nn.Dropout(dropout), nn.Linear(int(dim * mlp_ratio), dim)
        )
        self.drop = nn.Dropout(dropout)
        self.weights: torch.Tensor | None = None  # (B, heads, N, N) of the last forward

    def forward(self, x: torch.Tensor, mask: torch.Tensor) -> torch.Tensor:
        q, k, v = rearrange(self.qkv(self.norm1(x)), "b n (three h d) -> three b h n d", three=3, h=self.heads)
        scores = q @ k.transpose(-2, -1) / math.sqrt(q.shape[-1])  # (B, h, N, N)
        scores = scores.masked_fill(~mask[:, None, None, :], float("-inf"))  # keys that are padding
        w = torch.softmax(scores, dim=-1)  # (B, h, N, N)
        self.weights = w.detach()
        y = rearrange(self.drop(w) @ v, "b h n d -> b n (h d)")  # (B, N, dim)
        x = x + self.drop(self.proj(y))
        return x + self.drop(self.mlp(self.norm2(x)))


@HEADS.register("transformer")
class TransformerHead(TemporalHead):
    """Self-attention across frames; `pool` is `cls` (a learned token) or `attention` (additive)."""

    def __init__(
        self,
        in_dim: int,
        num_classes: int,
        *,
        dim: int = 128,
        depth: int = 2,
        heads: int = 4,
        mlp_ratio: float = 2.0,
        dropout: float = 0.1,
        positions: str = "learned",
        pool: str = "cls",
        max_frames: int = 64,
    ) -> None:
        super().__init__(in_dim, num_classes)
        if positions not in ("learned", "sinusoidal"):
            raise ConfigError(f"transformer positions must be learned or sinusoidal, got {positions!r}")
        if pool not in ("cls", "attention"):
            raise ConfigError(f"transformer pool must be cls or attention, got {pool!r}")
        self.pool_kind = pool
        self.max_frames = max_frames
        self.embed = nn.Linear(in_dim, dim)
        if positions == "learned":
            self.positions = nn.Parameter(torch.randn(max_frames, dim) * 0.02)
        else:
            self.register_buffer("positions", sinusoidal_positions(max_frames, dim), persistent=False)
        self.cls = nn.Parameter(torch.zeros(1, 1, dim)) if pool == "cls" else None
        self.blocks = nn.ModuleList(Block(dim, heads, mlp_ratio, dropout) for _ in range(depth))
        self.norm = nn.LayerNorm(dim)
        self.attn_pool = AdditiveAttentionPool(dim, dim) if pool == "attention" else None
        self.fc = nn.Linear(dim, num_classes)

    def forward(self, x: torch.Tensor, mask: torch.Tensor | None = None) -> HeadOutput:
        mask = full_mask(x, mask)  # (B, T)
        b, t, _ = x.shape
        if t > self.max_frames:
            raise ConfigError(f"clip of {t} frames is longer than the transformer's max_frames={self.max_frames}")
        h = self.embed(x) + self.positions[:t]  # (B, T, dim)
        if self.cls is not None:
            h = torch.cat([self.cls.expand(b, -1, -1), h], dim=1)  # (B, 1+T, dim)
            mask = torch.cat([mask.new_ones(b, 1), mask], dim=1)  # (B, 1+T)
        for block in self.blocks:
            h = block(h, mask)
        h = self.norm(h)
        if self.cls is not None:
            w = self.blocks[-1].weights[:, :, 0, 1:].mean(dim=1)  # (B, T) CLS -> frames, mean over heads
            a = w / w.sum(dim=1, keepdim=True).clamp_min(1e-12)  # renormalise without the CLS->CLS share
            return HeadOutput(self.fc(h[:, 0]), a, h[:, 0])
        pooled, a = self.attn_pool(h, mask)  # (B, dim), (B, T)
        return HeadOutput(self.fc(pooled), a, pooled)
