"""Clip- and video-level classification metrics that count every video exactly once, also under DDP.

torchmetrics gives top-1, top-5, mean class accuracy and the confusion matrix. Video-level (multi-view)
evaluation needs every clip of a video together: predictions are kept per (video id, clip index),
gathered from all processes, de-duplicated (a distributed sampler pads the last batch with repeats)
and averaged per video before the same metrics are computed.
"""

from __future__ import annotations

from collections import defaultdict

import torch
import torch.distributed as dist
from torchmetrics import MetricCollection
from torchmetrics.classification import MulticlassAccuracy, MulticlassConfusionMatrix


def classification_metrics(num_classes: int) -> MetricCollection:
    # compute_groups=False: torchmetrics would otherwise merge metrics whose states are equal after the
    # first batch (top-5 with the macro top-1 when that batch is all right), and top-5 would then report
    # a top-1 figure for the rest of the epoch.
    return MetricCollection(
        {
            "top1": MulticlassAccuracy(num_classes, top_k=1, average="micro"),
            "top5": MulticlassAccuracy(num_classes, top_k=min(5, num_classes), average="micro"),
            "mean_class_acc": MulticlassAccuracy(num_classes, top_k=1, average="macro"),
        },
        compute_groups=False,
    )


class VideoLevelAccumulator:
    """Softmax scores by (video id, clip index); `compute()` gives one averaged score per video."""

    def __init__(self) -> None:
        self.scores: dict[tuple[str, int], torch.Tensor] = {}
        self.labels: dict[str, int] = {}

    def update(
        self, video_ids: list[str], clip_index: torch.Tensor, logits: torch.Tensor, labels: torch.Tensor
    ) -> None:
        probs = logits.detach().float().softmax(dim=-1).cpu()
        for vid, clip, p, y in zip(video_ids, clip_index.tolist(), probs, labels.tolist(), strict=True):
            self.scores[(vid, clip)] = p
            self.labels[vid] = y

    def gather(self) -> None:
        """Merge the accumulators of every process (a no-op without torch.distributed)."""
        if not (dist.is_available() and dist.is_initialized()) or dist.get_world_size() == 1:
            return
        parts: list = [None] * dist.get_world_size()
        dist.all_gather_object(parts, (self.scores, self.labels))
        for scores, labels in parts:
            self.scores.update(scores)  # the same (video, clip) from two ranks is one entry
            self.labels.update(labels)

    def compute(self) -> tuple[list[str], torch.Tensor, torch.Tensor]:
        """(video ids, mean scores (N, K), labels (N,)) sorted by video id."""
        by_video: dict[str, list[torch.Tensor]] = defaultdict(list)
        for (vid, _), p in sorted(self.scores.items()):
            by_video[vid].append(p)
        ids = sorted(by_video)
        if not ids:
            return [], torch.empty(0), torch.empty(0, dtype=torch.long)
        scores = torch.stack([torch.stack(by_video[v]).mean(dim=0) for v in ids])
        return ids, scores, torch.tensor([self.labels[v] for v in ids])

    def reset(self) -> None:
        self.scores.clear()
        self.labels.clear()


def confusion_matrix(scores: torch.Tensor, labels: torch.Tensor, num_classes: int) -> torch.Tensor:
    """(K, K) counts, rows = true class."""
    cm = MulticlassConfusionMatrix(num_classes)
    return cm(scores, labels).long()
