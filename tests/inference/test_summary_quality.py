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

DARK, BRIGHT, STD, SHARP = range(4)  # the columns of frame_quality


def _texture(seed: int = 0, size: int = 64) -> torch.Tensor:
    """A sharp frame: random blocks of 4 px, full range, uint8 (3, size, size)."""
    g = torch.Generator().manual_seed(seed)
    small = torch.randint(0, 256, (3, size // 4, size // 4), generator=g, dtype=torch.uint8)
    return TF.resize(small, [size, size], interpolation=TF.InterpolationMode.NEAREST)


def _flat(value: int, size: int = 64) -> torch.Tensor:
    return torch.full((3, size, size), value, dtype=torch.uint8)


def test_statistics_are_black_and_white_shares_contrast_and_focus():
    sharp, grey, black = _texture(), _flat(128), _flat(int(BLACK_LUMA) - 5)
    q = frame_quality(torch.stack([sharp, grey, black]))  # (3, 4)
    assert q.shape == (3, 4)
    assert q[1, DARK] == q[1, BRIGHT] == 0 and q[1, STD] == pytest.approx(0) and q[1, SHARP] == pytest.approx(0)
    assert q[2, DARK] == 1.0
    assert q[0, STD] > 30 and q[0, SHARP] > 1000  # contrast and Laplacian variance of a sharp texture


def test_black_white_and_blank_frames_are_bad_a_sharp_one_is_not():
    frames = torch.stack([_texture(), _flat(int(BLACK_LUMA) - 5), _flat(int(WHITE_LUMA) + 5), _flat(128)])
    bad = bad_frames(frame_quality(frames))
    assert bad.tolist() == [False, True, True, True]
    # near the thresholds: a dark but textured frame passes, a frame of tiny contrast does not
    dark = (_texture().float() * 0.25 + BLACK_LUMA).to(torch.uint8)  # mean ~ 52, contrast kept
    faint = (128 + (_texture().float() - 128) * (BLANK_STD / 2 / 74)).to(torch.uint8)  # std < BLANK_STD
    # a white digit on black (moving-digits): 90% black pixels, but not a black frame
    digit = torch.zeros(3, 64, 64, dtype=torch.uint8)
    digit[:, 20:44, 28:36] = 255
    each = np.array([[0, 0], [1, 1], [2, 2]])  # a shot each: no frame judged against another's focus
    assert bad_frames(frame_quality(torch.stack([dark, faint, digit])), each).tolist() == [False, True, False]


def test_blur_is_judged_within_the_shot():
    sharp = _texture(1)
    blurred = TF.gaussian_blur(sharp, kernel_size=[9, 9], sigma=[3.0, 3.0])
    q = frame_quality(torch.stack([sharp, blurred, blurred]))
    assert q[1, SHARP] < BLUR_RATIO * q[0, SHARP]
    assert bad_frames(q, np.array([[0, 2]])).tolist() == [False, True, True]
    # a shot that is soft all through (an upscaled phone clip) keeps its frames: nothing sharper to prefer
    assert bad_frames(q, np.array([[0, 0], [1, 2]])).tolist() == [False, False, False]


def test_a_fade_frame_is_refused_where_its_shot_has_the_full_picture():
    full = _texture(2)
    fading = (full.float() * 0.3 + 255 * 0.7).to(torch.uint8)  # most of the way to white: mean < WHITE_LUMA
    q = frame_quality(torch.stack([full, fading]))
    assert q[1, BRIGHT] < 0.98 and q[1, STD] > BLANK_STD  # neither washed out nor blank by itself
    assert bad_frames(q, np.array([[0, 1]])).tolist() == [False, True]


def test_a_fade_cut_as_a_shot_of_its_own_is_judged_against_the_same_content_beside_it():
    full = _texture(3)
    fading = (full.float() * 0.35).to(torch.uint8)  # a fade from black, a third of the way in: not all black
    q = frame_quality(torch.stack([fading, full, full]))
    own = np.array([[0, 0], [1, 2]])  # KTS cut the fade off as its own shot: nothing better inside it
    assert not bad_frames(q, own)[0]
    same = np.ones((3, 4)) / 2.0  # (T, D) unit rows, all alike: the same scene
    assert bad_frames(q, own, same, window=2).tolist() == [True, False, False]
    other = np.eye(4)[:3]  # three different contents: the dim frame has nothing of its own to give way to
    assert not bad_frames(q, own, other, window=2)[0]
    assert not bad_frames(q, own, same, window=0)[0]  # only within `window` steps
