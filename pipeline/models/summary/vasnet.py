"""A VASNet-style frame-score regressor (Fajtl, Sokeh, Argyriou, Monekosso, Remagnino, "Summarizing
videos with attention", ACCV 2018 workshops): one soft self-attention over the whole sequence, then a
small regression head, trained with MSE against the annotators' mean importance (gtscore).

features (B, T, D) -> self-attention over T (queries, keys, values: D -> A; A -> D) -> + input
-> dropout -> LayerNorm -> Linear D -> D, ReLU, dropout, LayerNorm -> Linear D -> 1 -> sigmoid (B, T).

The checkpoint (`save_vasnet`) stands alone: `torch.load(weights_only=True)` gives a record of plain
types (model arguments, features, dataset, folds, model choice) and one state dict per fold.
"""

from __future__ import annotations

import math
import os
from pathlib import Path
from typing import Any

import numpy as np
import torch
from torch import nn

from pipeline.models.summary.checkpoints import read_summary_checkpoint, save_summary_checkpoint

KIND = "vasnet"
FORMAT = 1


class VASNet(nn.Module):
    """Soft self-attention over all frames (no positions, no window: every frame sees every frame);
    `scale` multiplies the attention logits, 1/sqrt(attn_dim) by default (Vaswani et al. 2017)."""

    def __init__(self, *, in_dim: int, attn_dim: int = 256, dropout: float = 0.5, scale: float | None = None) -> None:
        super().__init__()
        self.q = nn.Linear(in_dim, attn_dim, bias=False)
        self.k = nn.Linear(in_dim, attn_dim, bias=False)
        self.v = nn.Linear(in_dim, in_dim, bias=False)
        self.out = nn.Linear(in_dim, in_dim, bias=False)
        self.scale = scale if scale is not None else 1.0 / math.sqrt(attn_dim)
        self.drop = nn.Dropout(dropout)
        self.norm1 = nn.LayerNorm(in_dim)
        self.fc = nn.Linear(in_dim, in_dim)
        self.norm2 = nn.LayerNorm(in_dim)
        self.regress = nn.Linear(in_dim, 1)
        self.weights: torch.Tensor | None = None  # (B, T, T) attention of the last forward

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """(B, T, D) -> scores (B, T) in (0, 1)."""
        logits = self.q(x) @ self.k(x).transpose(1, 2) * self.scale  # (B, T, T)
        w = torch.softmax(logits, dim=-1)  # (B, T, T)
        self.weights = w.detach()
        y = self.out(self.drop(w) @ self.v(x))  # (B, T, D)
        y = self.norm1(self.drop(y + x))  # (B, T, D)
        y = self.norm2(self.drop(torch.relu(self.fc(y))))  # (B, T, D)
        return torch.sigmoid(self.regress(y)).squeeze(-1)  # (B, T)


def save_vasnet(path: str | os.PathLike[str], record: dict[str, Any], states: list[dict[str, torch.Tensor]]) -> Path:
    """Write the record and the per-fold weights to a temp name, then rename."""
    return save_summary_checkpoint(path, {"kind": KIND, "format": FORMAT, **record}, folds=states)


def load_vasnet(path: str | os.PathLike[str]) -> tuple[list[VASNet], dict[str, Any]]:
    """The fold models (eval mode) and the record of a `vap summarize train` checkpoint."""
    ckpt, record = read_summary_checkpoint(path, KIND)
    models = []
    for state in ckpt["folds"]:
        m = VASNet(**record["model"])
        m.load_state_dict(state)
        models.append(m.eval())
    return models, record


@torch.no_grad()
def ensemble_scores(models: list[VASNet], features: torch.Tensor | np.ndarray) -> np.ndarray:
    """(T, D) -> (T,): the mean of the fold models' scores (for a video none of them was tested on)."""
    x = torch.as_tensor(np.asarray(features), dtype=torch.float32)[None]  # (1, T, D)
    return torch.stack([m(x)[0] for m in models]).mean(0).double().numpy()  # (T,)
