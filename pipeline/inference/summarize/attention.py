"""Importance from a trained action model's temporal attention: which frames the classifier used.

sampled frames uint8 (b, C, H, W) -> the checkpoint's eval transform (size, crop) -> its backbone,
normalised with its mean/std -> (b, D') ... all T frames (T, D') -> sliding windows of its clip length L,
stride 1 (N, L, D') -> its temporal head -> attention (N, L), rows sum to 1 -> times L (1 = uniform)
-> mean over the windows that hold each frame -> (T,) / max.

The head was trained on clips of L frames, so it is run on L frames at a time; a frame's score says how
much more than an even share of attention it drew among its neighbours (at the summarizer's sampling
rate, which need not be the spacing the model was trained at).
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch
from einops import rearrange

from pipeline.errors import ConfigError
from pipeline.models.video_classifier import VideoClassifier


def head_attention_problem(model: dict) -> str | None:
    """Why a checkpoint's head gives no learned temporal attention, or None when it does."""
    args = model.get("head_args") or {}
    if model["head"] == "tsn" and args.get("consensus", "avg") != "attention":
        consensus = args.get("consensus", "avg")
        kind = "uniform weights" if consensus == "avg" else "a one-hot argmax"
        return (
            f"its head is tsn with consensus {consensus} ({kind}, not a learned temporal attention); "
            "train with head tsn + consensus attention, lstm or transformer"
        )
    return None


@dataclass
class CheckpointAttention:
    model: VideoClassifier
    transform: object  # the checkpoint's eval Compose: uint8 (T, C, H, W) -> (T, C, s, s)
    clip_len: int
    settings: dict

    @classmethod
    def load(cls, path: str | Path) -> CheckpointAttention:
        from pipeline.data.clips import eval_pipeline
        from pipeline.models.checkpoint import load_model

        model, meta = load_model(path)
        problem = head_attention_problem(meta.model)
        if problem:
            raise ConfigError(f"{path}: --method attention needs a temporal attention, but {problem}")
        sampler, transform = eval_pipeline(meta.preprocessing, clips=1, three_crop=False)
        settings = {
            "head": meta.model["head"], "head_args": meta.model.get("head_args") or {},
            "backbone": meta.model["backbone"], "size": int(meta.preprocessing["size"]),
            "window": sampler.clip_len, "classes": len(meta.class_names),
        }  # fmt: skip
        return cls(model, transform, sampler.clip_len, settings)

    @torch.no_grad()
    def encode(self, frames: torch.Tensor) -> torch.Tensor:
        """uint8 (b, C, H, W) -> (b, D') per-frame features of the checkpoint's own backbone."""
        x = self.transform(frames, np.random.default_rng(0))  # (b, C, s, s) uint8, deterministic
        return self.model.frame_features(x[None])[0]  # (b, D')

    @torch.no_grad()
    def scores(self, encoded: torch.Tensor, chunk: int = 256) -> np.ndarray:
        """(T, D') -> (T,) mean relative attention over sliding windows, scaled to max 1."""
        t = encoded.shape[0]
        length = min(self.clip_len, t)
        windows = rearrange(encoded.unfold(0, length, 1), "n d l -> n l d")  # (N, L, D'), N = T - L + 1
        total = torch.zeros(t, dtype=torch.float64)
        count = torch.zeros(t, dtype=torch.float64)
        for start in range(0, windows.shape[0], chunk):
            w = windows[start : start + chunk]  # (n, L, D')
            a = self.model.head(w).attention.double() * length  # (n, L), 1 = an even share
            idx = start + torch.arange(w.shape[0])[:, None] + torch.arange(length)[None, :]  # (n, L) frame of each
            total.index_add_(0, idx.flatten(), a.flatten())
            count.index_add_(0, idx.flatten(), torch.ones(idx.numel(), dtype=torch.float64))
        s = (total / count).numpy()  # (T,)
        return s / s.max() if s.max() > 0 else s
