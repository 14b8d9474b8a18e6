"""DR-DSN: unsupervised summarization by reinforcement learning (Zhou, Qiao, Xiang, "Deep reinforcement
learning for unsupervised video summarization with diversity-representativeness reward", AAAI 2018).

features (1, T, D) -> BiLSTM -> linear -> sigmoid -> p (T,) -> Bernoulli picks -> reward
R = R_div + R_rep -> REINFORCE with a moving-average baseline per video. Trained per video on the fly
(no dataset, no labels), so `vap summarize` works on any video with nothing downloaded; or trained once
over many videos (`train_dsn`, as the paper trains on a dataset), saved (`save_dsn`) and applied to new
videos with one forward pass (`load_dsn`, `vap summarize --method rl --checkpoint`).
"""

from __future__ import annotations

import os
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

import numpy as np
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


@dataclass
class DRDSNConfig:
    epochs: int = 60
    episodes: int = 5  # sampled selections per update
    # The paper's lr 1e-5 and beta 0.01 update over a whole dataset; trained on one video alone, lr 1e-3
    # drove every probability to 1.0 (no ranking left) in our planted-repeat check, lr 1e-4 with
    # beta 0.1 kept the repeated shot low and the novel shots high (tests/models/test_dr_dsn.py).
    lr: float = 1e-4
    weight_decay: float = 1e-5
    hidden: int = 256
    target: float = 0.5  # the mean selection probability the penalty pulls towards
    beta: float = 0.1  # weight of that penalty
    baseline_momentum: float = 0.9
    # Pairs of picks further apart than this many steps count as fully dissimilar in R_div (the paper's
    # 20). None (default) compares every pair: with the paper's 20, repeats more than 10 s apart (at
    # 2 fps) cost no diversity, and on planted repeats R_div over all pairs ranked the novel shots higher
    # (Kendall tau 0.37 -> 0.47 and 0.31 -> 0.46, two layouts of 10 seeds: docs/bench/summarize_proof.md).
    max_distance: int | None = None
    seed: int = 0


def dr_dsn_scores(features: torch.Tensor, config: DRDSNConfig | None = None) -> torch.Tensor:
    """Train a DSN on one video's features (T, D) and return its selection probabilities (T,)."""
    model, _ = train_dsn([features], config)
    return dsn_scores(model, features)  # (T,)


def train_dsn(
    videos: Sequence[torch.Tensor],
    config: DRDSNConfig | None = None,
    progress: Callable[[int, int, float], None] | None = None,
) -> tuple[DSN, list[float]]:
    """One DSN trained over every video's features [(T_i, D)]: per epoch, one REINFORCE update per video
    (in a shuffled order when there are several), each against that video's own moving-average baseline,
    as the paper trains over a dataset. Returns the model (eval mode) and the mean reward per epoch;
    `progress(epoch, epochs, mean reward)` after each epoch."""
    cfg = config or DRDSNConfig()
    if not videos:
        raise ValueError("train_dsn needs at least one video")
    with _one_thread():
        return _train([v.float() for v in videos], cfg, progress)


@contextmanager
def _one_thread() -> Iterator[None]:
    """One small LSTM step at a time: a second thread only adds contention (4x slower training on our 2
    cores; a forward pass of 80 steps took 3 s with 2 threads on the loaded machine, 0.3 ms with 1)."""
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    try:
        yield
    finally:
        torch.set_num_threads(threads)


def _train(
    videos: list[torch.Tensor], cfg: DRDSNConfig, progress: Callable[[int, int, float], None] | None
) -> tuple[DSN, list[float]]:
    torch.manual_seed(cfg.seed)
    order = np.random.default_rng(cfg.seed)  # its own stream: one video trains exactly as it always did
    model = DSN(videos[0].shape[1], cfg.hidden)
    opt = torch.optim.Adam(model.parameters(), lr=cfg.lr, weight_decay=cfg.weight_decay)
    baselines: list[torch.Tensor | None] = [None] * len(videos)
    history = []
    for epoch in range(cfg.epochs):
        epoch_rewards = []
        for i in order.permutation(len(videos)) if len(videos) > 1 else [0]:
            x = videos[i]  # (T, D)
            probs = model(x.unsqueeze(0)).squeeze(0)  # (T,)
            dist = torch.distributions.Bernoulli(probs)
            loss = cfg.beta * (probs.mean() - cfg.target) ** 2
            rewards = []
            for _ in range(cfg.episodes):
                picks = dist.sample()  # (T,)
                with torch.no_grad():
                    reward = dr_dsn_reward(x, picks, max_distance=cfg.max_distance)
                b = reward if baselines[i] is None else baselines[i]
                loss = loss - dist.log_prob(picks).mean() * (reward - b) / cfg.episodes
                rewards.append(reward)
            opt.zero_grad()
            loss.backward()
            opt.step()
            mean_r = torch.stack(rewards).mean()
            m = cfg.baseline_momentum
            baselines[i] = mean_r if baselines[i] is None else m * baselines[i] + (1 - m) * mean_r
            epoch_rewards.append(float(mean_r))
        history.append(float(np.mean(epoch_rewards)))
        if progress:
            progress(epoch + 1, cfg.epochs, history[-1])
    return model.eval(), history


@torch.no_grad()
def dsn_scores(model: DSN, features: torch.Tensor) -> torch.Tensor:
    """A trained policy applied to one video's features (T, D): selection probabilities (T,)."""
    with _one_thread():
        return model(features.float().unsqueeze(0)).squeeze(0)


def save_dsn(path: str | os.PathLike[str], model: DSN, config: DRDSNConfig, record: dict[str, Any]) -> Path:
    """A standalone checkpoint: `torch.load(weights_only=True)` gives {"vap_summary": record of plain types
    (kind, model arguments, training settings, + `record`: the features, the videos), "state": weights}.
    Written to a temp name, then renamed."""
    model_args = {"in_dim": model.rnn.input_size, "hidden": model.rnn.hidden_size}
    full = {"kind": KIND, "format": FORMAT, "model": model_args, "config": asdict(config), **record}
    return save_summary_checkpoint(path, full, state=model.state_dict())


def load_dsn(path: str | os.PathLike[str]) -> tuple[DSN, dict[str, Any]]:
    """The policy (eval mode) and the record of a `save_dsn` checkpoint; anything else is refused."""
    ckpt, record = read_summary_checkpoint(path, KIND)
    model = DSN(**record["model"])
    model.load_state_dict(ckpt["state"])
    return model.eval(), record
