"""scripts/glimpse_where.py: distances from the glimpses to the garment, and a tiny run's figures."""

from __future__ import annotations

import numpy as np
import pytest
import torch
from script_loader import load_script

from pipeline.data.fashion_mnist import DEFAULT_ROOT

HAVE_DATA = (DEFAULT_ROOT / "train-images-idx3-ubyte.gz").exists()

where = load_script("glimpse_where")


def test_garment_centre_and_distances_by_hand():
    # a 28x28 garment with its top-left corner at row 16, column 2 of a 60x60 canvas: centre pixel (x 16, y 30)
    boxes = np.array([[16, 2, 44, 30], [0, 0, 28, 28]])
    centres = where.garment_centres(boxes)
    assert centres.flatten().tolist() == pytest.approx([16 / 30 - 1, 0.0, 14 / 30 - 1, 14 / 30 - 1])
    locations = torch.stack([centres + torch.tensor([0.3, 0.4]), centres], dim=1)  # (N=2, G=2, 2)
    d = where.distances(locations, centres)
    assert d.shape == (2, 2) and d[:, 0].tolist() == pytest.approx([0.5, 0.5]) and d[:, 1].tolist() == [0, 0]


@pytest.mark.skipif(not HAVE_DATA, reason="Fashion-MNIST not installed (scripts/setup.sh installs it)")
def test_tiny_run_returns_a_row_per_epoch():
    rows = where.main(["--epochs", "2", "--train", "64", "--val", "32"])
    assert [r["epoch"] for r in rows] == [1, 2]
    for r in rows:
        assert len(r["distance"]) == 8 and all(0 <= d <= 2 * 2**0.5 for d in r["distance"])
        assert 0 <= r["error"] <= 1 and 0 < r["random"] < 2 * 2**0.5 and len(r["mean_location"]) == 2
