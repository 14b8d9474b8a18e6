"""Clip- and video-level metrics: values checked against hand-computed answers."""

from __future__ import annotations

import torch

from pipeline.tasks.metrics import VideoLevelAccumulator, classification_metrics


def logits_ranking(order: list[list[int]], num_classes: int = 6) -> torch.Tensor:
    """Logits whose ranking per row is `order` (first = highest)."""
    out = torch.zeros(len(order), num_classes)
    for row, ranks in enumerate(order):
        for r, c in enumerate(ranks):
            out[row, c] = float(num_classes - r)
    return out


def test_top5_stays_separate_from_top1_when_the_first_batch_is_all_right():
    m = classification_metrics(6)
    m.update(logits_ranking([[0, 1, 2, 3, 4, 5], [1, 0, 2, 3, 4, 5]]), torch.tensor([0, 1]))  # both right
    # second batch: wrong at top-1, right within the top 5 (label ranked 2nd and 5th); and one miss (6th)
    m.update(logits_ranking([[0, 1, 2, 3, 4, 5], [0, 2, 3, 4, 1, 5], [0, 1, 2, 3, 4, 5]]), torch.tensor([1, 1, 5]))
    got = {k: float(v) for k, v in m.compute().items()}
    assert abs(got["top1"] - 2 / 5) < 1e-6
    assert abs(got["top5"] - 4 / 5) < 1e-6
    # per class: class 0 1/1, class 1 1/3, class 5 0/1; classes never seen are left out of the mean
    assert abs(got["mean_class_acc"] - (1 + 1 / 3 + 0) / 3) < 1e-6


def test_video_level_averages_the_clips_of_a_video():
    acc = VideoLevelAccumulator()
    # video a: two clips, one confidently wrong (class 2), one mildly right (class 0) -> averaged: wrong
    acc.update(["a", "a"], torch.tensor([0, 1]), torch.tensor([[0.0, 0, 5], [1.0, 0, 0]]), torch.tensor([0, 0]))
    acc.update(["b"], torch.tensor([0]), torch.tensor([[0.0, 3, 0]]), torch.tensor([1]))
    acc.update(["b"], torch.tensor([0]), torch.tensor([[0.0, 3, 0]]), torch.tensor([1]))  # a padded repeat
    ids, scores, labels = acc.compute()
    assert sorted(ids) == ["a", "b"] and scores.shape == (2, 3)
    by_id = dict(zip(ids, scores.argmax(1).tolist(), strict=True))
    assert by_id == {"a": 2, "b": 1} and sorted(labels.tolist()) == [0, 1]
