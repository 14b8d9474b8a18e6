"""DR-DSN's policy and reward (Zhou, Qiao, Xiang, "Deep reinforcement learning for unsupervised video
summarization with diversity-representativeness reward", AAAI 2018).

features (1, T, D) -> BiLSTM -> linear -> sigmoid -> p (T,); a selection's reward R = R_div + R_rep.
The REINFORCE loop that trains it is `pipeline.tasks.dr_dsn`; a trained policy is saved and applied
here (`save_dsn`, `load_dsn`, `dsn_scores`).
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import asdict, is_dataclass
from pathlib import Path
from typing import Any

import torch
import torch.nn.functional as F
from torch import nn

from pipeline.models.summary.checkpoints import read_summary_checkpoint, save_summary_checkpoint

KIND = "dr_dsn"
FORMAT = 1


class DSN(nn.Module):
    """The frame-selection policy: a BiLSTM over the sequence and a per-step selection probability."""

    def __init__(self, in_dim: int, hidden: int = 256) -> None:
        super().__init__()
        self.rnn = nn.LSTM(in_dim, hidden, batch_first=True, bidirectional=True)
        self.fc = nn.Linear(2 * hidden, 1)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        h, _ = self.rnn(x)  # (B, T, 2H)
        return torch.sigmoid(self.fc(h)).squeeze(-1)  # (B, T)


def dr_dsn_reward(features: torch.Tensor, picks: torch.Tensor, *, max_distance: int | None = None) -> torch.Tensor:
    """R_div + R_rep of one selection (the paper's equations 3-6).

    features: (T, D); picks: (T,) 0/1. R_div: mean pairwise cosine dissimilarity of the picked steps.
    `max_distance` None (our default): every pair by its dissimilarity, so content that recurs far apart
    counts as redundant too; 20 is the paper's rule that pairs more than 20 steps apart count as fully
    dissimilar (1), as the paper sets d = 1 for temporally distant frames. R_rep: exp(-mean over all
    steps of the Euclidean distance to the nearest picked step), here on L2-normalised features: raw
    MobileNetV2 features lie so far apart that exp(-distance) was ~0 for every selection, leaving only
    R_div, which grows with every pick.
    With fewer than two picks R_div is 0; with none R is 0.
    """
    idx = picks.nonzero().flatten()  # (k,)
    if idx.numel() == 0:
        return features.new_zeros(())
    x = F.normalize(features, dim=1)  # (T, D)
    if idx.numel() > 1:
        sel = x[idx]  # (k, D)
        dissim = 1.0 - sel @ sel.T  # (k, k)
        if max_distance is not None:
            far = (idx[:, None] - idx[None, :]).abs() > max_distance  # (k, k)
            dissim = torch.where(far, torch.ones_like(dissim), dissim)
        k = idx.numel()
        r_div = (dissim.sum() - dissim.diagonal().sum()) / (k * (k - 1))
    else:
        r_div = features.new_zeros(())
    dist = torch.cdist(x, x[idx])  # (T, k)
    r_rep = torch.exp(-dist.min(dim=1).values.mean())
    return r_div + r_rep


@contextmanager
def one_thread() -> Iterator[None]:
    """One small LSTM step at a time: on a CPU a second thread only adds contention to steps this small
    (several times slower training, measured by the summarization benchmarks)."""
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    try:
        yield
    finally:
        torch.set_num_threads(threads)


@torch.no_grad()
def dsn_scores(model: DSN, features: torch.Tensor) -> torch.Tensor:
    """A trained policy applied to one video's features (T, D): selection probabilities (T,)."""
    with one_thread():
        return model(features.float().unsqueeze(0)).squeeze(0)


def save_dsn(path: str | os.PathLike[str], model: DSN, config: Any, record: dict[str, Any]) -> Path:
    """A standalone checkpoint: `torch.load(weights_only=True)` gives {"vap_summary": record of plain types
    (kind, model arguments, training settings, + `record`: the features, the videos), "state": weights}.
    Written to a temp name, then renamed."""
    model_args = {"in_dim": model.rnn.input_size, "hidden": model.rnn.hidden_size}
    config = asdict(config) if is_dataclass(config) else dict(config)  # DRDSNConfig or its dict
    full = {"kind": KIND, "format": FORMAT, "model": model_args, "config": config, **record}
    return save_summary_checkpoint(path, full, state=model.state_dict())


def load_dsn(path: str | os.PathLike[str]) -> tuple[DSN, dict[str, Any]]:
    """The policy (eval mode) and the record of a `save_dsn` checkpoint; anything else is refused."""
    ckpt, record = read_summary_checkpoint(path, KIND)
    model = DSN(**record["model"])
    model.load_state_dict(ckpt["state"])
    return model.eval(), record
