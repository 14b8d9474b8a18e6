"""pipeline.viz.glimpse_trajectories: one strip per clip, the frames looked at boxed, the others dimmed."""

from __future__ import annotations

import numpy as np
import torch
from PIL import Image

from pipeline.viz import glimpse_trajectories


def test_looked_at_frames_keep_their_brightness_and_the_others_are_dimmed(tmp_path):
    video = torch.full((4, 3, 32, 32), 200, dtype=torch.uint8)  # (T, C, H, W) all frames alike
    path = glimpse_trajectories([video], [[2, 0]], ["clip"], tmp_path / "g.png", marked=[{2}])
    picture = np.asarray(Image.open(path).convert("L"), dtype=np.float64)
    assert picture.ndim == 2 and picture.shape[1] > picture.shape[0]  # one wide strip
    levels = sorted({round(v) for v in np.unique(picture)})
    # the unlooked frames' 110 (200 x 0.55) and the looked-at frames' 200 both appear, in large areas
    area = 2 * 26 * 26 * 0.5  # half of two frames' pixels at the least
    assert (np.abs(picture - 200) < 3).sum() > area and (np.abs(picture - 110) < 3).sum() > area
    assert levels[0] < 110 < 200 <= levels[-1]
