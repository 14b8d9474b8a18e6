"""Which sampled frames may be key frames: no black, washed-out, blank or blurred frame where the shot has a
better one.

frames uint8 (b, C, h, w), already resized for the features -> grey (b, h, w) -> share of dark pixels,
share of bright pixels, luma standard deviation, sharpness (variance of the Laplacian, Pech-Pacheco et
al., ICPR 2000) -> (b, 4) per frame;
`bad_frames` applies the thresholds below. Blur is judged against the sharpest frame of the same shot (and
of the same content a few seconds around), as
focus measures have no absolute scale (a cartoon, an upscaled phone clip and a street scene differ by
orders of magnitude): a frame is blurred where a much sharper one of the same content exists.
"""

from __future__ import annotations

import numpy as np
import torch
import torch.nn.functional as F

# Thresholds on 0-255 luma (BT.601 weights), as ffmpeg's blackdetect judges a frame: a pixel is black below
# 0.10 of the range, and a frame is black when 98% of its pixels are (a white digit on black is not).
BLACK_LUMA = 25.5
WHITE_LUMA = 229.5  # a pixel above is white; a frame 98% white is washed out (a flash, a fade to white)
FLAT_SHARE = 0.98
BLANK_STD = 8.0  # luma standard deviation below: one flat colour (a blank title card, a frozen grey frame)
BLUR_RATIO = 0.25  # sharpness below this share of the sharpest frame of its shot: out of focus or motion-blurred
FADE_RATIO = 0.5  # luma standard deviation below this share of its shot's highest: a fade's washed-out frame
SAME_CONTENT_COSINE = 0.6  # features this close: the same scene, sharp or not (a blurred frame and a sharp one)
NEIGHBOUR_SECONDS = 4.0  # how far from a frame a better frame of the same content is looked for

_LUMA = torch.tensor([0.299, 0.587, 0.114]).view(1, 3, 1, 1)
_LAPLACIAN = torch.tensor([[0.0, 1.0, 0.0], [1.0, -4.0, 1.0], [0.0, 1.0, 0.0]]).view(1, 1, 3, 3)


@torch.no_grad()
def frame_quality(frames: torch.Tensor) -> np.ndarray:
    """uint8 (b, C, h, w) -> (b, 4) float: share of black pixels, share of white pixels, luma standard
    deviation, sharpness."""
    x = frames.float()  # (b, C, h, w)
    grey = (x * _LUMA).sum(1, keepdim=True) if x.shape[1] == 3 else x[:, :1]  # (b, 1, h, w)
    lap = F.conv2d(grey, _LAPLACIAN)  # (b, 1, h - 2, w - 2)
    dark = (grey < BLACK_LUMA).float().mean((1, 2, 3))  # (b,)
    bright = (grey > WHITE_LUMA).float().mean((1, 2, 3))  # (b,)
    stats = torch.stack([dark, bright, grey.std((1, 2, 3)), lap.var((1, 2, 3))], dim=1)  # (b, 4)
    return stats.numpy().astype(np.float64)


def bad_frames(
    quality: np.ndarray, segments: np.ndarray | None = None, features: np.ndarray | None = None, window: int = 0
) -> np.ndarray:
    """(T, 4) from `frame_quality` -> (T,) bool: black, washed out, blank, or blurred or faded (low
    contrast) against the best frame it could be swapped for: any of its segment ((S, 2) inclusive steps;
    default one), and, given the (T, D) unit-length `features`, any within `window` steps that shows the
    same content (cosine >= SAME_CONTENT_COSINE: a fade or a defocused stretch that KTS cut as a shot of
    its own is still judged against the sharp frames beside it)."""
    dark, bright, std, sharp = quality[:, 0], quality[:, 1], quality[:, 2], quality[:, 3]
    flat = (dark >= FLAT_SHARE) | (bright >= FLAT_SHARE) | (std < BLANK_STD)  # (T,)
    t = len(quality)
    best_sharp, best_std = np.zeros(t), np.zeros(t)  # (T,) the best a swap could give, blank frames left out
    sharp_ok, std_ok = np.where(flat, 0.0, sharp), np.where(flat, 0.0, std)
    for s, e in [(0, t - 1)] if segments is None else segments:
        best_sharp[s : e + 1] = sharp_ok[s : e + 1].max()
        best_std[s : e + 1] = std_ok[s : e + 1].max()
    if features is not None and window > 0:
        for d in range(1, window + 1):  # neighbours d steps away, both sides
            same = np.einsum("td,td->t", features[:-d], features[d:]) >= SAME_CONTENT_COSINE  # (T - d,)
            best_sharp[:-d] = np.maximum(best_sharp[:-d], np.where(same, sharp_ok[d:], 0.0))
            best_sharp[d:] = np.maximum(best_sharp[d:], np.where(same, sharp_ok[:-d], 0.0))
            best_std[:-d] = np.maximum(best_std[:-d], np.where(same, std_ok[d:], 0.0))
            best_std[d:] = np.maximum(best_std[d:], np.where(same, std_ok[:-d], 0.0))
    return flat | (sharp < BLUR_RATIO * best_sharp) | (std < FADE_RATIO * best_std)
