"""TSN segment consensus (Wang et al., ECCV 2016): classify each frame, then agree.

features (B, T, D) -> dropout -> per-frame logits (B, T, K) -> consensus over T -> (B, K)
  avg: mean over frames (order-blind); max: per-class max; attention: softmax-weighted mean, with
  weights from an additive attention over the features (the learned-weight consensus).
"""

from __future__ import annotations

import torch
from torch import nn

from pipeline.errors import ConfigError
from pipeline.models.heads.base import HEADS, AdditiveAttentionPool, HeadOutput, TemporalHead, full_mask


@HEADS.register("tsn")
class TSNHead(TemporalHead):
    """Per-frame classifier + `consensus` in {avg, max, attention}."""

    def __init__(
        self, in_dim: int, num_classes: int, *, consensus: str = "avg", dropout: float = 0.5, hidden: int = 128
    ) -> None:
        super().__init__(in_dim, num_classes)
        if consensus not in ("avg", "max", "attention"):
            raise ConfigError(f"tsn consensus must be avg, max or attention, got {consensus!r}")
        self.consensus = consensus
        self.dropout = nn.Dropout(dropout)
        self.fc = nn.Linear(in_dim, num_classes)
        self.pool = AdditiveAttentionPool(in_dim, hidden) if consensus == "attention" else None

    def forward(self, x: torch.Tensor, mask: torch.Tensor | None = None) -> HeadOutput:
        mask = full_mask(x, mask)  # (B, T)
        frame_logits = self.fc(self.dropout(x))  # (B, T, K)
        if self.consensus == "attention":
            _, a = self.pool(x, mask)  # (B, T)
            return HeadOutput(torch.einsum("bt,btk->bk", a, frame_logits), a, torch.einsum("bt,btd->bd", a, x))
        if self.consensus == "avg":
            a = mask.float() / mask.sum(dim=1, keepdim=True)  # (B, T) uniform over valid frames
            return HeadOutput(torch.einsum("bt,btk->bk", a, frame_logits), a, torch.einsum("bt,btd->bd", a, x))
        masked = frame_logits.masked_fill(~mask[..., None], float("-inf"))  # (B, T, K)
        logits, arg = masked.max(dim=1)  # (B, K), (B, K) frame of each class's maximum
        # Attention of max consensus: the frame that decided the predicted class.
        best = arg.gather(1, logits.argmax(dim=1, keepdim=True))  # (B, 1)
        a = torch.zeros_like(mask, dtype=x.dtype).scatter_(1, best, 1.0)  # (B, T) one-hot
        return HeadOutput(logits, a, torch.einsum("bt,btd->bd", a, x))  # the deciding frame's features
