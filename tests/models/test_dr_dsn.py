"""DR-DSN (Zhou et al. 2018): the reward on hand-worked selections, and learning on a planted repeat."""

from __future__ import annotations

import math

import pytest
import torch

from pipeline.models.summary.dr_dsn import DRDSNConfig, dr_dsn_reward, dr_dsn_scores

X = torch.tensor([[1.0, 0.0], [0.0, 1.0], [2.0, 0.0]])  # steps 0 and 2 point the same way


def test_reward_hand_worked():
    # {0, 1}: orthogonal -> R_div 1; every step at distance 0 from a pick (2 normalises onto 0) -> R_rep 1
    assert float(dr_dsn_reward(X, torch.tensor([1.0, 1.0, 0.0]))) == pytest.approx(2.0)
    # {0, 2}: same direction -> R_div 0; step 1 is sqrt(2) from both -> R_rep exp(-sqrt(2) / 3)
    assert float(dr_dsn_reward(X, torch.tensor([1.0, 0.0, 1.0]))) == pytest.approx(math.exp(-math.sqrt(2) / 3))
    # the same pair 2 steps apart with max_distance 1 counts as fully dissimilar: R_div 1
    r = dr_dsn_reward(X, torch.tensor([1.0, 0.0, 1.0]), max_distance=1)
    assert float(r) == pytest.approx(1 + math.exp(-math.sqrt(2) / 3))
    # without the cut-off, far-apart picks count by their dissimilarity: {0, 2} same direction -> R_div 0
    r = dr_dsn_reward(X, torch.tensor([1.0, 0.0, 1.0]), max_distance=None)
    assert float(r) == pytest.approx(math.exp(-math.sqrt(2) / 3))
    far = torch.cat([X[:1], torch.zeros(30, 2) + torch.tensor([0.0, 1.0]), X[:1]])  # (32, 2): step 0 == step 31
    picks = torch.zeros(32)
    picks[[0, 31]] = 1
    assert float(dr_dsn_reward(far, picks)) == pytest.approx(1 + math.exp(-30 * math.sqrt(2) / 32))  # 31 > 20 apart
    assert float(dr_dsn_reward(far, picks, max_distance=None)) == pytest.approx(math.exp(-30 * math.sqrt(2) / 32))
    # one pick {1}: R_div 0, distances sqrt 2, 0, sqrt 2 -> exp(-2 sqrt(2) / 3); none: 0
    assert float(dr_dsn_reward(X, torch.tensor([0.0, 1.0, 0.0]))) == pytest.approx(math.exp(-2 * math.sqrt(2) / 3))
    assert float(dr_dsn_reward(X, torch.zeros(3))) == 0.0


def test_repeated_content_scores_below_novel_content():
    # Planted: shot A (30 steps) repeats after a 5-step shot B; C (5) and D (10) are new. Diversity and
    # representativeness both reward picking B, C, D over yet another step of A.
    g = torch.Generator().manual_seed(0)
    base = torch.randn(4, 32, generator=g)
    parts = [(0, 30), (1, 5), (0, 30), (2, 5), (3, 10)]
    x = torch.cat([base[k].repeat(n, 1) for k, n in parts]) + 0.1 * torch.randn(80, 32, generator=g)
    scores = dr_dsn_scores(x, DRDSNConfig(hidden=32, epochs=60, seed=0))
    assert scores.shape == (80,) and ((scores >= 0) & (scores <= 1)).all()
    repeated = torch.cat([scores[0:30], scores[35:65]]).mean()
    novel = torch.cat([scores[30:35], scores[65:80]]).mean()
    assert novel > repeated + 0.05  # measured: 0.56 vs 0.47
    assert torch.equal(scores, dr_dsn_scores(x, DRDSNConfig(hidden=32, epochs=60, seed=0)))  # seeded
    assert torch.get_num_threads() >= 1
