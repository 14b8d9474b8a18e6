"""Clip transforms: one random draw per clip, the same for every frame; reproducible; right shapes."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from pipeline.data.transforms import (
    TRANSFORMS,
    CenterCrop,
    MultiScaleCrop,
    RandomCrop,
    RandomFlip,
    RandomResizedCrop,
    Resize,
    ThreeCrop,
    build_transforms,
    default_transforms,
    normalize,
)


def ramp_clip(t: int = 6, h: int = 60, w: int = 80) -> torch.Tensor:
    """Frame k = a fixed random image + k, so any per-frame difference in crop shows up."""
    base = torch.randint(0, 200, (1, 3, h, w), generator=torch.Generator().manual_seed(0))
    return (base + torch.arange(t)[:, None, None, None]).to(torch.uint8)  # (T, C, H, W)


RANDOM = [RandomCrop(32), RandomResizedCrop(32), MultiScaleCrop(32), RandomFlip(0.5)]


@pytest.mark.parametrize("tf", RANDOM, ids=lambda t: type(t).__name__)
def test_same_random_draw_for_every_frame(tf):
    clip = ramp_clip()
    for seed in range(10):
        out = tf(clip, np.random.default_rng(seed)).int()
        # frame k - frame 0 stays k everywhere only if every frame got the same crop/flip
        diffs = out - out[:1]
        if isinstance(tf, (RandomResizedCrop, MultiScaleCrop)):  # resampling may round by one
            assert (diffs - torch.arange(6)[:, None, None, None]).abs().max() <= 1
        else:
            assert torch.equal(diffs, torch.arange(6)[:, None, None, None].expand_as(diffs).int())


@pytest.mark.parametrize("tf", RANDOM, ids=lambda t: type(t).__name__)
def test_reproducible_under_seed_and_varies_across_seeds(tf):
    clip = ramp_clip()
    a = tf(clip, np.random.default_rng(1))
    assert torch.equal(a, tf(clip, np.random.default_rng(1)))
    outs = {tuple(tf(clip, np.random.default_rng(s))[0, 0, 0].tolist()) for s in range(20)}
    assert len(outs) > 1


def test_shapes():
    clip = ramp_clip()
    rng = np.random.default_rng(0)
    assert Resize(30)(clip, rng).shape == (6, 3, 30, 40)
    assert Resize((20, 25))(clip, rng).shape == (6, 3, 20, 25)
    assert CenterCrop(32)(clip, rng).shape == (6, 3, 32, 32)
    assert MultiScaleCrop((24, 32))(clip, rng).shape == (6, 3, 24, 32)
    three = ThreeCrop(60)(clip, rng)
    assert three.shape == (3, 6, 3, 60, 60)
    assert torch.equal(three[0], clip[..., :60]) and torch.equal(three[2], clip[..., 20:])
    assert default_transforms(32, training=True)(clip, rng).shape == (6, 3, 32, 32)
    assert default_transforms(32, training=False, three_crop=True)(clip, rng).shape == (3, 6, 3, 32, 32)


def test_center_crop_is_the_centre():
    clip = ramp_clip()
    assert torch.equal(CenterCrop((20, 40))(clip, None), clip[..., 20:40, 20:60])


def test_flip_mirrors_every_frame():
    clip = ramp_clip()
    out = RandomFlip(p=1.0)(clip, np.random.default_rng(0))
    assert torch.equal(out, clip.flip(-1))
    assert torch.equal(RandomFlip(p=0.0)(clip, np.random.default_rng(0)), clip)


def test_crop_larger_than_frame_says_so():
    with pytest.raises(ValueError, match="larger than the frames 60x80; resize first"):
        RandomCrop(100)(ramp_clip(), np.random.default_rng(0))


def test_normalize_values_and_device_agnostic():
    clip = torch.full((2, 3, 4, 4), 255, dtype=torch.uint8)
    out = normalize(clip, mean=(0.5, 0.5, 0.5), std=(0.25, 0.5, 1.0))
    assert out.dtype == torch.float32
    assert out[:, 0].unique().tolist() == [2.0] and out[:, 1].unique().tolist() == [1.0]
    assert out[:, 2].unique().tolist() == [0.5]


def test_build_from_config():
    tf = build_transforms(["flip", {"name": "resize", "size": 16}, {"name": "center_crop", "size": 16}])
    assert [type(t).__name__ for t in tf.transforms] == ["RandomFlip", "Resize", "CenterCrop"]
    assert tf(ramp_clip(), np.random.default_rng(0)).shape == (6, 3, 16, 16)
    with pytest.raises(KeyError, match="allowed: center_crop"):
        build_transforms([{"name": "colour_jitter"}])
    assert "three_crop" in TRANSFORMS
