"""(Bi)LSTM with additive attention pooling over its hidden states.

features (B, T, D) -> LSTM (packed to the valid length of each clip) -> hidden states (B, T, H|2H)
  -> additive attention (Bahdanau et al., ICLR 2015) -> context (B, H|2H) -> dropout -> FC -> (B, K).
"""

from __future__ import annotations

import torch
from torch import nn
from torch.nn.utils.rnn import pack_padded_sequence, pad_packed_sequence

from pipeline.errors import ConfigError
from pipeline.models.heads.base import HEADS, AdditiveAttentionPool, HeadOutput, TemporalHead, full_mask


@HEADS.register("lstm")
class LSTMHead(TemporalHead):
    """A recurrent model of order, pooled by learned attention."""

    def __init__(
        self,
        in_dim: int,
        num_classes: int,
        *,
        hidden: int = 256,
        layers: int = 1,
        bidirectional: bool = True,
        dropout: float = 0.3,
    ) -> None:
        super().__init__(in_dim, num_classes)
        self.lstm = nn.LSTM(
            in_dim, hidden, num_layers=layers, batch_first=True, bidirectional=bidirectional,
            dropout=dropout if layers > 1 else 0.0,
        )  # fmt: skip
        out = hidden * (2 if bidirectional else 1)
        self.pool = AdditiveAttentionPool(out, hidden)
        self.dropout = nn.Dropout(dropout)
        self.fc = nn.Linear(out, num_classes)

    def forward(self, x: torch.Tensor, mask: torch.Tensor | None = None) -> HeadOutput:
        mask = None if mask is None else full_mask(x, mask)  # (B, T), checked
        if mask is None or mask.all():  # no padding (`None` first: an export traces no data-dependent branch)
            h, _ = self.lstm(x)  # (B, T, H')
        else:  # padding must not run through the backward direction: pack to each clip's length
            if not (mask.long().diff(dim=1) <= 0).all():
                raise ConfigError("lstm head needs masks that are a valid prefix of each clip")
            lengths = mask.sum(dim=1).cpu()
            packed = pack_padded_sequence(x, lengths, batch_first=True, enforce_sorted=False)
            h, _ = pad_packed_sequence(self.lstm(packed)[0], batch_first=True, total_length=x.shape[1])
        context, a = self.pool(h, full_mask(x, mask))  # (B, H'), (B, T)
        return HeadOutput(self.fc(self.dropout(context)), a, context)
