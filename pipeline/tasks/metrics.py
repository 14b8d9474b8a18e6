"""Clip- and video-level metrics for every label kind the data layer makes, counting each video once.

Single-label (int64 targets): top-1, top-5, mean class accuracy. Multi-label (multi-hot float targets,
from list files with several labels per line): mAP (macro average precision, as ActivityNet/Charades
report it) plus per-class average precision and F1; all from torchmetrics. Unlabeled rows (-1, or a
row of -1) are left out of every metric. Video-level (multi-view) evaluation adds up each video's clip
probabilities in a fixed (videos, classes) tensor indexed by the record's position, summed across
processes once at the end: no per-clip Python objects travel between ranks.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import torch
from torchmetrics import Metric, MetricCollection
from torchmetrics.classification import (
    MulticlassAccuracy,
    MulticlassConfusionMatrix,
    MultilabelAveragePrecision,
    MultilabelF1Score,
)

UNSEEN = -2.0  # label slot of a video none of whose clips was scored (every clip failed to decode)


def classification_metrics(num_classes: int, *, multilabel: bool = False, per_class: bool = True) -> MetricCollection:
    # compute_groups=False: torchmetrics would otherwise merge metrics whose states are equal after the
    # first batch (top-5 with the macro top-1 when that batch is all right), and top-5 would then report
    # a top-1 figure for the rest of the epoch.
    if multilabel:
        metrics = {
            "mAP": MultilabelAveragePrecision(num_classes, average="macro"),
            "micro_f1": MultilabelF1Score(num_classes, average="micro"),  # threshold 0.5
        }
        if per_class:
            metrics["ap"] = MultilabelAveragePrecision(num_classes, average=None)  # (K,)
            metrics["f1"] = MultilabelF1Score(num_classes, average=None)  # (K,)
    else:
        metrics = {
            "top1": MulticlassAccuracy(num_classes, top_k=1, average="micro"),
            "top5": MulticlassAccuracy(num_classes, top_k=min(5, num_classes), average="micro"),
            "mean_class_acc": MulticlassAccuracy(num_classes, top_k=1, average="macro"),
        }
    return MetricCollection(metrics, compute_groups=False)


def flatten(values: dict[str, torch.Tensor], class_names: Sequence[str]) -> dict[str, torch.Tensor]:
    """Per-class vectors (`ap`, `f1`) become one scalar per class, `ap/<class name>`, for the loggers."""
    out = {}
    for key, value in values.items():
        if value.ndim == 0:
            out[key] = value
        else:
            out.update({f"{key}/{name}": v for name, v in zip(class_names, value, strict=True)})
    return out


def labeled(labels: torch.Tensor) -> torch.Tensor:
    """(B,) bool: the rows that carry a label (single: >= 0; multi-hot: not the all -1 row)."""
    return labels >= 0 if labels.ndim == 1 else (labels >= 0).all(dim=-1)


def probabilities(logits: torch.Tensor, multilabel: bool) -> torch.Tensor:
    logits = logits.detach().float()
    return logits.sigmoid() if multilabel else logits.softmax(dim=-1)


@dataclass
class VideoLevel:
    """Per-video results, in record order."""

    scores: torch.Tensor  # (N, K) mean clip probability
    clips: torch.Tensor  # (N,) clips scored
    labels: torch.Tensor  # (N,) or (N, K); -1 unlabeled, UNSEEN never scored
    failed: torch.Tensor  # (N,) clips that failed to decode

    @property
    def seen(self) -> torch.Tensor:
        return self.clips > 0

    @property
    def labeled(self) -> torch.Tensor:
        return self.seen & labeled(self.labels)


class VideoScores(Metric):
    """Sums of clip probabilities per video: `(N, K)` and `(N,)` tensors, summed across processes.

    Each clip must be scored by one process only (an evaluation sampler that does not repeat items,
    as `VideoDataModule` uses under DDP); then every video counts once however the clips are split.
    Kinetics-400 (20k videos x 400 classes) keeps 32 MB per process, whatever the number of clips.
    """

    full_state_update = False

    def __init__(self, num_videos: int, num_classes: int, *, multilabel: bool = False) -> None:
        super().__init__()
        self.multilabel = multilabel
        self.add_state("sums", torch.zeros(num_videos, num_classes), dist_reduce_fx="sum")
        self.add_state("clips", torch.zeros(num_videos), dist_reduce_fx="sum")
        shape = (num_videos, num_classes) if multilabel else (num_videos,)
        self.add_state("labels", torch.full(shape, UNSEEN), dist_reduce_fx="max")
        self.add_state("failed", torch.zeros(num_videos), dist_reduce_fx="sum")

    def update_failed(self, video_index: torch.Tensor) -> None:
        """Clips that could not be decoded (never substituted): counted per video."""
        self.failed.index_add_(0, video_index, torch.ones_like(video_index, dtype=self.failed.dtype))

    def update(self, video_index: torch.Tensor, logits: torch.Tensor, labels: torch.Tensor) -> None:
        self.sums.index_add_(0, video_index, probabilities(logits, self.multilabel))  # (N, K)
        self.clips.index_add_(0, video_index, torch.ones_like(video_index, dtype=self.clips.dtype))  # (N,)
        self.labels[video_index] = labels.to(self.labels.dtype)

    def compute(self) -> VideoLevel:
        scores = self.sums / self.clips.clamp(min=1).unsqueeze(-1)  # (N, K)
        return VideoLevel(scores, self.clips.clone(), self.labels.clone(), self.failed.clone())


def confusion_matrix(scores: torch.Tensor, labels: torch.Tensor, num_classes: int) -> torch.Tensor:
    """(K, K) counts, rows = true class."""
    cm = MulticlassConfusionMatrix(num_classes).to(scores.device)
    return cm(scores, labels).long().cpu()
