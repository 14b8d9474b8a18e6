"""Temporal heads: per-frame features `(B, T, D)` -> class logits `(B, K)` + temporal attention `(B, T)`.

Every head returns the weight it gave each frame, summing to 1 over the valid frames of each clip
(padding frames get 0), so the same weights drive key-frame selection, timelines and plots.
"""

from __future__ import annotations

from dataclasses import dataclass

import torch
from torch import nn

from pipeline.errors import ConfigError
from pipeline.registry import Registry

HEADS: Registry[type[TemporalHead]] = Registry("head")


@dataclass
class HeadOutput:
    logits: torch.Tensor  # (B, K)
    attention: torch.Tensor  # (B, T), rows sum to 1 over valid frames
    pooled: torch.Tensor | None = None  # (B, D') the clip's representation the classifier reads: an embedding


class TemporalHead(nn.Module):
    """Base: `forward(features (B, T, D), mask (B, T) bool | None) -> HeadOutput`; True = a real frame."""

    def __init__(self, in_dim: int, num_classes: int) -> None:
        super().__init__()
        self.in_dim = in_dim
        self.num_classes = num_classes


def full_mask(x: torch.Tensor, mask: torch.Tensor | None) -> torch.Tensor:
    """The mask, or all-valid `(B, T)` when none is given; every clip needs one valid frame."""
    if mask is None:
        return torch.ones(x.shape[:2], dtype=torch.bool, device=x.device)
    if mask.shape != x.shape[:2]:
        raise ConfigError(f"mask shape {tuple(mask.shape)} does not match features {tuple(x.shape[:2])}")
    if not mask.any(dim=1).all():
        raise ConfigError("every clip needs at least one valid frame in its mask")
    return mask.bool()


def masked_softmax(scores: torch.Tensor, mask: torch.Tensor) -> torch.Tensor:
    """Softmax over T that gives padded frames exactly 0: `(B, T) -> (B, T)`."""
    return torch.softmax(scores.masked_fill(~mask, float("-inf")), dim=1)


class AdditiveAttentionPool(nn.Module):
    """Additive attention pooling (Bahdanau et al., ICLR 2015): a_t = softmax(v . tanh(W h_t)).

    (B, T, D) -> weights (B, T) -> weighted sum (B, D).
    """

    def __init__(self, dim: int, hidden: int = 128) -> None:
        super().__init__()
        self.proj = nn.Linear(dim, hidden)
        self.score = nn.Linear(hidden, 1, bias=False)

    def forward(self, h: torch.Tensor, mask: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        a = masked_softmax(self.score(torch.tanh(self.proj(h))).squeeze(-1), mask)  # (B, T)
        return torch.einsum("bt,btd->bd", a, h), a  # (B, D), (B, T)


MAX_CLASSES = 1_000_000  # the largest label sets in use have tens of thousands


def build_head(name: str, in_dim: int, num_classes: int, **kwargs: object) -> TemporalHead:
    if isinstance(num_classes, bool) or not isinstance(num_classes, int) or not 1 <= num_classes <= MAX_CLASSES:
        raise ConfigError(f"num_classes must be a whole number from 1 to {MAX_CLASSES:,}, got {num_classes!r}")
    return HEADS.build(name, in_dim=in_dim, num_classes=num_classes, **kwargs)
