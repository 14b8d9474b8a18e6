"""Clip- and video-level metrics: values checked against hand-computed answers."""

from __future__ import annotations

import pytest
import torch

from pipeline.tasks.metrics import UNSEEN, VideoScores, classification_metrics, flatten


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
    acc = VideoScores(num_videos=3, num_classes=3)
    # video 0: two clips, one confidently wrong (class 2), one mildly right (class 0) -> averaged: wrong
    acc.update(torch.tensor([0, 0]), torch.tensor([[0.0, 0, 5], [1.0, 0, 0]]), torch.tensor([0, 0]))
    acc.update(torch.tensor([1]), torch.tensor([[0.0, 3, 0]]), torch.tensor([1]))
    acc.update_failed(torch.tensor([2]))
    got = acc.compute()  # video 2: never scored (its clip failed to decode)
    assert got.failed.tolist() == [0, 0, 1]
    assert got.clips.tolist() == [2, 1, 0] and got.seen.tolist() == [True, True, False]
    assert got.scores.argmax(1)[:2].tolist() == [2, 1]
    expected = (torch.tensor([0.0, 0, 5]).softmax(0) + torch.tensor([1.0, 0, 0]).softmax(0)) / 2
    assert torch.allclose(got.scores[0], expected)
    assert got.labels.tolist() == [0, 1, UNSEEN] and got.labeled.tolist() == [True, True, False]


def test_video_level_multilabel_averages_sigmoids_and_knows_unlabeled():
    acc = VideoScores(num_videos=2, num_classes=2, multilabel=True)
    acc.update(torch.tensor([0, 0, 1]), torch.tensor([[0.0, 2.0], [2.0, 0.0], [1.0, 1.0]]),
               torch.tensor([[1.0, 0.0], [1.0, 0.0], [-1.0, -1.0]]))  # fmt: skip
    got = acc.compute()
    expected = (torch.tensor([0.0, 2.0]).sigmoid() + torch.tensor([2.0, 0.0]).sigmoid()) / 2
    assert torch.allclose(got.scores[0], expected)
    assert got.labeled.tolist() == [True, False]


def test_multilabel_metrics_give_map_and_per_class_ap():
    m = classification_metrics(2, multilabel=True)
    scores = torch.tensor([[0.9, 0.1], [0.8, 0.7], [0.2, 0.6]])
    target = torch.tensor([[1, 0], [0, 1], [0, 1]])
    got = flatten(m(scores, target), ["a", "b"])
    # class a: the positive ranked first -> AP 1; class b: positives ranked 1st and 2nd -> AP 1
    assert got["ap/a"] == pytest.approx(1.0) and got["ap/b"] == pytest.approx(1.0) and got["mAP"] == pytest.approx(1)
    scores[0, 0] = 0.1  # class a's positive now ranked last of three -> AP 1/3
    got = flatten(m(scores, target), ["a", "b"])
    assert got["ap/a"] == pytest.approx(1 / 3) and got["mAP"] == pytest.approx((1 / 3 + 1) / 2)
