"""scripts/glimpse_dead_relu.py: the share of channels a ReLU never passes on a batch."""

from __future__ import annotations

import torch
from script_loader import load_script

diag = load_script("glimpse_dead_relu")


def test_dead_share_counts_channels_zero_on_the_whole_batch():
    maps = torch.rand(3, 4, 5, 5)  # (B, C, H, W)
    maps[:, 1] = 0  # dead everywhere
    maps[0, 2] = 0  # zero on one image only: alive
    assert diag.dead_share(maps) == 0.25
    units = torch.relu(torch.tensor([[1.0, -1.0, 0.0], [2.0, -3.0, 0.5]]))  # (B, C)
    assert abs(diag.dead_share(units) - 1 / 3) < 1e-6
