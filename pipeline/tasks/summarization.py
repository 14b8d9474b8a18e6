"""Supervised summarization on a TVSum/SumMe h5 file: one VASNet (Fajtl et al. 2018) per disjoint fold,
the epoch chosen on a validation part of that fold's TRAIN videos, never on its test videos.

videos -> k disjoint folds (test) -> per fold: train videos -> (fit, validation) -> epochs of MSE
against gtscore (min-max scaled per video) -> after each epoch the validation F-score (the protocol:
file's shots, knapsack, users) -> the weights of the best epoch -> a record + one state dict per fold.

Published papers often pick the epoch on the test split and use 5 overlapping random splits
(REFERENCE.md; Apostolidis et al. 2020): neither happens here.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import asdict, dataclass, field

import numpy as np
import torch

from pipeline.data.summary_h5 import Split, SummaryVideo, kfold_splits
from pipeline.errors import ConfigError
from pipeline.models.summary.protocol import evaluate_summary, generate_summary
from pipeline.models.summary.vasnet import VASNet


@dataclass
class SupervisedConfig:
    splits: int = 5
    val_fraction: float = 0.2  # of each fold's train videos, at least one
    epochs: int = 50
    lr: float = 5e-5
    weight_decay: float = 1e-5
    attn_dim: int = 256
    dropout: float = 0.5
    ratio: float = 0.15
    seed: int = 0


@dataclass
class FoldResult:
    fold: int
    train: list[str]
    val: list[str]
    test: list[str]
    best_epoch: int  # 1-based
    val_f_score: float
    train_loss: list[float] = field(default_factory=list)  # mean MSE per epoch
    val_loss: list[float] = field(default_factory=list)
    val_f: list[float] = field(default_factory=list)


def normalised_target(gtscore: np.ndarray) -> torch.Tensor:
    """gtscore min-max scaled to [0, 1] per video (its ranking is what the protocol uses)."""
    g = np.asarray(gtscore, dtype=np.float64)
    span = g.max() - g.min()
    return torch.as_tensor((g - g.min()) / span if span > 0 else np.full_like(g, 0.5), dtype=torch.float32)


def carve_validation(split: Split, fraction: float, seed: int) -> tuple[list[str], list[str]]:
    """(fit, validation) from the fold's train videos only; validation gets at least one video."""
    if len(split.train) < 2:
        raise ConfigError(f"fold {split.fold} has {len(split.train)} train video(s): need 2 (fit + validation)")
    rng = np.random.default_rng([seed, split.fold])
    order = rng.permutation(len(split.train))
    n_val = min(len(split.train) - 1, max(1, round(fraction * len(split.train))))
    val = sorted((split.train[i] for i in order[:n_val]), key=split.train.index)
    return [k for k in split.train if k not in val], val


def validation_fscore(model: VASNet, videos: list[SummaryVideo], metric: str, ratio: float) -> float:
    model.eval()
    with torch.no_grad():
        fs = [
            evaluate_summary(
                generate_summary(model(torch.as_tensor(v.features)[None])[0].double().numpy(), v.change_points,
                                 v.n_frames, v.picks, ratio=ratio),
                v.user_summary, metric,
            )
            for v in videos
        ]  # fmt: skip
    return float(np.mean(fs))


def train_fold(
    split: Split,
    videos: dict[str, SummaryVideo],
    cfg: SupervisedConfig,
    metric: str,
    progress: Callable[[int, int, float], None] | None = None,
) -> tuple[dict[str, torch.Tensor], FoldResult]:
    """Train one fold; returns the best epoch's weights and the fold's history."""
    fit, val = carve_validation(split, cfg.val_fraction, cfg.seed)
    torch.manual_seed(cfg.seed * 1000 + split.fold)
    rng = np.random.default_rng([cfg.seed, split.fold, 1])
    in_dim = videos[fit[0]].features.shape[1]
    model = VASNet(in_dim=in_dim, attn_dim=cfg.attn_dim, dropout=cfg.dropout)
    opt = torch.optim.Adam(model.parameters(), lr=cfg.lr, weight_decay=cfg.weight_decay)
    data = {  # key -> features (1, T, D), target (1, T)
        k: (torch.as_tensor(videos[k].features)[None], normalised_target(videos[k].gtscore)[None]) for k in fit + val
    }
    result = FoldResult(split.fold, fit, val, list(split.test), 0, -1.0)
    best_state, best = None, (-1.0, float("inf"))
    for epoch in range(1, cfg.epochs + 1):
        model.train()
        losses = []
        for i in rng.permutation(len(fit)):
            x, y = data[fit[i]]
            loss = torch.nn.functional.mse_loss(model(x), y)
            opt.zero_grad()
            loss.backward()
            opt.step()
            losses.append(loss.item())
        model.eval()
        with torch.no_grad():
            val_loss = float(np.mean([torch.nn.functional.mse_loss(model(data[k][0]), data[k][1]).item() for k in val]))
        val_f = validation_fscore(model, [videos[k] for k in val], metric, cfg.ratio)
        result.train_loss.append(float(np.mean(losses)))
        result.val_loss.append(val_loss)
        result.val_f.append(val_f)
        if (val_f, -val_loss) > (best[0], -best[1]):  # higher validation F, then lower validation loss
            best = (val_f, val_loss)
            best_state = {k: v.detach().clone() for k, v in model.state_dict().items()}
            result.best_epoch, result.val_f_score = epoch, val_f
        if progress:
            progress(epoch, cfg.epochs, val_f)
    assert best_state is not None
    return best_state, result


def train_supervised(
    videos: list[SummaryVideo],
    cfg: SupervisedConfig,
    *,
    metric: str,
    progress: Callable[[int, int, int, float], None] | None = None,
) -> tuple[list[dict[str, torch.Tensor]], list[FoldResult], dict]:
    """Every fold of the file; returns the fold weights, their histories and the model arguments."""
    if cfg.epochs < 1 or not 0 < cfg.val_fraction < 1:
        raise ConfigError("--epochs must be >= 1 and --val-fraction in (0, 1)")
    dims = {v.features.shape[1] for v in videos}
    if len(dims) != 1:
        raise ConfigError(f"the videos' features differ in size: {sorted(dims)}")
    by_key = {v.key: v for v in videos}
    states, results = [], []
    threads = torch.get_num_threads()
    torch.set_num_threads(1)  # one video a step, small matrices: a second thread only contends
    try:
        for split in kfold_splits(list(by_key), cfg.splits, seed=cfg.seed):
            cb = None if progress is None else (lambda e, n, f, fold=split.fold: progress(fold, e, n, f))
            state, result = train_fold(split, by_key, cfg, metric, cb)
            states.append(state)
            results.append(result)
    finally:
        torch.set_num_threads(threads)
    model_args = {"in_dim": dims.pop(), "attn_dim": cfg.attn_dim, "dropout": cfg.dropout}
    return states, results, model_args


def training_record(
    cfg: SupervisedConfig, results: list[FoldResult], model_args: dict, *, dataset: str, features: str, metric: str
) -> dict:
    """The plain-types record a `vap summarize train` checkpoint carries."""
    from pipeline import __version__

    return {
        "model": model_args,
        "features": features,
        "dataset": dataset,
        "metric": metric,
        "config": asdict(cfg),
        "folds": [asdict(r) for r in results],
        "version": __version__,
    }
