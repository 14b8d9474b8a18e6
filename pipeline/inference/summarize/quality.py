"""Which sampled frames may be key frames: no black, washed-out, blank or blurred frame where the shot has a
better one.

frames uint8 (b, C, h, w), already resized for the features -> grey (b, h, w) -> mean luma, luma standard
deviation, sharpness (variance of the Laplacian, Pech-Pacheco et al., ICPR 2000) -> (b, 3) per frame;
`bad_frames` applies the thresholds below. Blur is judged against the sharpest frame of the same shot, as
focus measures have no absolute scale (a cartoon, an upscaled phone clip and a street scene differ by
orders of magnitude): a frame is blurred where a much sharper one of the same content exists.
"""

from __future__ import annotations

import numpy as np
import torch
import torch.nn.functional as F

# Thresholds on 0-255 luma (BT.601 weights). ffmpeg's blackdetect calls a pixel black below 0.10 of the
# range; a frame whose mean is below that is black or nearly (a fade's first frames).
BLACK_LUMA = 20.0
WHITE_LUMA = 235.0  # mean above: washed out (a flash, a fade to white, an overexposed frame)
BLANK_STD = 8.0  # luma standard deviation below: one flat colour (a blank title card, a frozen grey frame)
BLUR_RATIO = 0.25  # sharpness below this share of the sharpest frame of its shot: out of focus or motion-blurred
FADE_RATIO = 0.5  # luma standard deviation below this share of its shot's highest: a fade's washed-out frame

_LUMA = torch.tensor([0.299, 0.587, 0.114]).view(1, 3, 1, 1)
_LAPLACIAN = torch.tensor([[0.0, 1.0, 0.0], [1.0, -4.0, 1.0], [0.0, 1.0, 0.0]]).view(1, 1, 3, 3)


@torch.no_grad()
def frame_quality(frames: torch.Tensor) -> np.ndarray:
    """uint8 (b, C, h, w) -> (b, 3) float: mean luma, luma standard deviation, sharpness."""
    x = frames.float()  # (b, C, h, w)
    grey = (x * _LUMA).sum(1, keepdim=True) if x.shape[1] == 3 else x[:, :1]  # (b, 1, h, w)
    lap = F.conv2d(grey, _LAPLACIAN)  # (b, 1, h - 2, w - 2)
    stats = torch.stack([grey.mean((1, 2, 3)), grey.std((1, 2, 3)), lap.var((1, 2, 3))], dim=1)  # (b, 3)
    return stats.numpy().astype(np.float64)


def bad_frames(quality: np.ndarray, segments: np.ndarray | None = None) -> np.ndarray:
    """(T, 3) from `frame_quality`, (S, 2) inclusive step segments (default: one) -> (T,) bool: black,
    washed out, blank, or against the best frame of its segment blurred or faded (low contrast)."""
    mean, std, sharp = quality[:, 0], quality[:, 1], quality[:, 2]
    flat = (mean < BLACK_LUMA) | (mean > WHITE_LUMA) | (std < BLANK_STD)  # (T,)
    blurred = np.zeros_like(flat)
    for s, e in [(0, len(quality) - 1)] if segments is None else segments:
        ok = ~flat[s : e + 1]
        if ok.any():  # blank frames have no focus or contrast to compare
            blurred[s : e + 1] = (sharp[s : e + 1] < BLUR_RATIO * sharp[s : e + 1][ok].max()) | (
                std[s : e + 1] < FADE_RATIO * std[s : e + 1][ok].max()
            )
    return flat | blurred
