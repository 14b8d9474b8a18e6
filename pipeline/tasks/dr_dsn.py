"""Training DR-DSN (Zhou, Qiao, Xiang, AAAI 2018): REINFORCE on the diversity-representativeness reward,
with a moving-average baseline per video; no labels.

features [(T_i, D)] -> DSN -> p (T,) -> Bernoulli picks -> R = R_div + R_rep -> REINFORCE update.
Trained per video on the fly (`dr_dsn_scores`: `vap summarize --method rl` works on any video with
nothing downloaded), or once over many videos (`train_dsn`, as the paper trains on a dataset), saved with
`pipeline.models.summary.dsn.save_dsn` and applied to new videos in one forward pass.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass

import numpy as np
import torch

from pipeline.models.summary.dsn import DSN, dr_dsn_reward, dsn_scores, one_thread


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
    # (Kendall tau 0.37 -> 0.47 and 0.31 -> 0.46, two layouts of 10 seeds:
    # scripts/research/summarization/results/summarize_proof.md).
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
    with one_thread():
        return _train([v.float() for v in videos], cfg, progress)


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
