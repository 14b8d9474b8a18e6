"""A TVSum/SumMe h5 file's videos featurised by our backbone at the file's own `picks`, so that every
annotation stays aligned (`vap summarize features`)."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import replace
from pathlib import Path

import torch

from pipeline.data.backends import open_video
from pipeline.data.discover import find_named_video
from pipeline.data.summary_h5 import SummaryVideo
from pipeline.errors import ConfigError
from pipeline.inference.summarize.video import frame_features


def h5_features(
    videos: list[SummaryVideo],
    folder: Path,
    backbone: torch.nn.Module,
    *,
    mapping: dict[str, str] | None = None,
    backend: str = "auto",
    batch_size: int = 16,
    dataset: str = "the h5 file",
    progress: Callable[[str, Path, int], None] | None = None,
) -> list[SummaryVideo]:
    """Each video found in `folder` (by `mapping`, its name or its key), checked against the file's frame
    count, and its `picks` featurised: the same records with `features` (n_steps, D)."""
    out = []
    for v in videos:
        path = find_named_video(folder, v.key, v.video_name, mapping or {})
        with open_video(path, backend=backend) as video:
            n = video.meta.num_frames
            if v.picks[-1] >= n or abs(n - v.n_frames) > max(2, 0.01 * v.n_frames):
                raise ConfigError(f"{path}: {n} frames, {dataset} says {v.key} has {v.n_frames}")
            feats = [
                frame_features(video.get_frames(v.picks[i : i + batch_size].tolist()), backbone)
                for i in range(0, len(v.picks), batch_size)
            ]  # [(b, D)]
        out.append(replace(v, features=torch.cat(feats).numpy()))  # (n_steps, D)
        if progress:
            progress(v.key, path, len(v.picks))
    return out
