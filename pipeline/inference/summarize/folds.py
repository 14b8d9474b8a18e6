"""A `vap summarize train` checkpoint applied to its own h5 file: each video scored by the fold model that
held it out (the protocol's test folds), for `vap summarize eval --checkpoint`."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import torch

from pipeline.data.summary_h5 import Split, SummaryVideo
from pipeline.errors import ConfigError
from pipeline.models.summary.vasnet import load_vasnet


def checkpoint_scores(
    ckpt: Path, videos: list[SummaryVideo], dataset: Path
) -> tuple[dict[str, np.ndarray], list[Split]]:
    """Each video scored by the fold model that held it out, and the checkpoint's folds as Splits."""
    models, record = load_vasnet(ckpt)
    folds = record["folds"]
    tested = {k: i for i, f in enumerate(folds) for k in f["test"]}
    keys = {v.key for v in videos}
    if set(tested) != keys:
        other = sorted(keys ^ set(tested))
        raise ConfigError(f"{ckpt}: trained on {record['dataset']}, whose videos differ from {dataset.name}'s "
                          f"({other[0]}{' and more' if len(other) > 1 else ''})")  # fmt: skip
    dim = record["model"]["in_dim"]
    if videos[0].features.shape[1] != dim:
        raise ConfigError(f"{ckpt}: trained on {dim}-d features, {dataset.name} has {videos[0].features.shape[1]}-d")
    scores = {}
    with torch.no_grad():
        for v in videos:
            model = models[tested[v.key]]
            scores[v.key] = model(torch.as_tensor(v.features)[None])[0].double().numpy()  # (n_steps,)
    splits = [Split(f["fold"], f["train"] + f["val"], f["test"]) for f in folds]
    return scores, splits
