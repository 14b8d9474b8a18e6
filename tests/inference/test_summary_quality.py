"""Which sampled frames may be key frames: black, washed-out, blank, blurred and faded frames are refused
where the shot has a better one (pipeline/inference/summarize/quality.py), on frames made here."""

import numpy as np
import pytest
import torch
import torchvision.transforms.v2.functional as TF

from pipeline.inference.summarize.quality import (
    BLACK_LUMA,
    BLANK_STD,
    BLUR_RATIO,
    WHITE_LUMA,
    bad_frames,
    frame_quality,
)


def _texture(seed: int = 0, size: int = 64) -> torch.Tensor:
    """A sharp frame: random blocks of 4 px, full range, uint8 (3, size, size)."""
    g = torch.Generator().manual_seed(seed)
    small = torch.randint(0, 256, (3, size // 4, size // 4), generator=g, dtype=torch.uint8)
    return TF.resize(small, [size, size], interpolation=TF.InterpolationMode.NEAREST)


def _flat(value: int, size: int = 64) -> torch.Tensor:
    return torch.full((3, size, size), value, dtype=torch.uint8)


def test_statistics_are_luma_contrast_and_focus():
    sharp, grey = _texture(), _flat(128)
    q = frame_quality(torch.stack([sharp, grey]))  # (2, 3)
    assert q.shape == (2, 3)
    assert q[1, 0] == pytest.approx(128, abs=0.5) and q[1, 1] == pytest.approx(0) and q[1, 2] == pytest.approx(0)
    assert q[0, 1] > 30 and q[0, 2] > 1000  # contrast and Laplacian variance of a sharp texture


def test_black_white_and_blank_frames_are_bad_a_sharp_one_is_not():
    frames = torch.stack([_texture(), _flat(int(BLACK_LUMA) - 5), _flat(int(WHITE_LUMA) + 5), _flat(128)])
    bad = bad_frames(frame_quality(frames))
    assert bad.tolist() == [False, True, True, True]
    # near the thresholds: a dark but textured frame passes, a frame of tiny contrast does not
    dark = (_texture().float() * 0.25 + BLACK_LUMA).to(torch.uint8)  # mean ~ 52, contrast kept
    faint = (128 + (_texture().float() - 128) * (BLANK_STD / 2 / 74)).to(torch.uint8)  # std < BLANK_STD
    assert bad_frames(frame_quality(torch.stack([dark, faint]))).tolist() == [False, True]


def test_blur_is_judged_within_the_shot():
    sharp = _texture(1)
    blurred = TF.gaussian_blur(sharp, kernel_size=[9, 9], sigma=[3.0, 3.0])
    q = frame_quality(torch.stack([sharp, blurred, blurred]))
    assert q[1, 2] < BLUR_RATIO * q[0, 2]
    assert bad_frames(q, np.array([[0, 2]])).tolist() == [False, True, True]
    # a shot that is soft all through (an upscaled phone clip) keeps its frames: nothing sharper to prefer
    assert bad_frames(q, np.array([[0, 0], [1, 2]])).tolist() == [False, False, False]


def test_a_fade_frame_is_refused_where_its_shot_has_the_full_picture():
    full = _texture(2)
    fading = (full.float() * 0.3 + 255 * 0.7).to(torch.uint8)  # most of the way to white: mean < WHITE_LUMA
    q = frame_quality(torch.stack([full, fading]))
    assert q[1, 0] < WHITE_LUMA and q[1, 1] > BLANK_STD  # neither washed out nor blank by itself
    assert bad_frames(q, np.array([[0, 1]])).tolist() == [False, True]
