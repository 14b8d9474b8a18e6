"""The glimpse retina: it reads the right pixels at every scale, from an area-averaged pyramid."""

from __future__ import annotations

import pytest
import torch
import torch.nn.functional as F

from pipeline.models.retina import pyramid, retina


def ramp_image(size: int = 16) -> torch.Tensor:
    return torch.arange(size * size, dtype=torch.float32).reshape(1, 1, size, size)  # (1, 1, H, W)


@pytest.mark.parametrize(("x", "y", "left", "top"), [(0.0, 0.0, 4, 4), (-0.5, 0.0, 0, 4), (0.5, -0.5, 8, 0)])
def test_retina_reads_the_pixels_under_the_glimpse(x, y, left, top):
    img = ramp_image()
    patch = retina(img, torch.tensor([[x, y]]), size=8)  # (1, 1, 1, 8, 8)
    assert patch.shape == (1, 1, 1, 8, 8)
    assert torch.allclose(patch[0, 0], img[0, :, top : top + 8, left : left + 8], atol=1e-3)


def test_retina_coarser_scales_and_zero_outside():
    img = ramp_image()
    patches = retina(img, torch.zeros(1, 2), size=8, scales=2, scale_factor=2.0)  # (1, 2, 1, 8, 8)
    assert torch.allclose(patches[0, 1], F.avg_pool2d(img, 2)[0], atol=1e-3)  # the whole image, halved
    corner = retina(img, torch.tensor([[1.0, 1.0]]), size=8)[0, 0, 0]  # centred on the bottom-right corner
    assert torch.allclose(corner[:4, :4], img[0, 0, 12:, 12:], atol=1e-3)
    assert corner[4:].abs().max() == 0 and corner[:, 4:].abs().max() == 0


def test_pyramid_is_area_averaged_and_retina_reuses_it():
    x = torch.rand(2, 3, 20, 20)
    levels = pyramid(x, 3)
    assert [tuple(t.shape[-2:]) for t in levels] == [(20, 20), (10, 10), (5, 5)]
    assert torch.allclose(levels[1], F.avg_pool2d(x, 2), atol=1e-6)
    assert torch.allclose(levels[2], F.avg_pool2d(x, 4), atol=1e-6)
    odd = pyramid(torch.rand(1, 1, 15, 15), 2, 3.0)  # no 2x2 shortcut: area resize to 5x5
    assert odd[1].shape[-2:] == (5, 5)
    loc = torch.rand(2, 2) * 2 - 1
    assert torch.equal(retina(x, loc, 4, 3, levels=levels), retina(x, loc, 4, 3))
