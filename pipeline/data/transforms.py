"""Clip transforms on uint8 `(T, C, H, W)` tensors: one random draw per clip, applied to every frame.

torchvision's v2 functional ops treat the leading T axis as a batch, so a crop or flip computed once
is the same for all frames (a per-frame random crop would destroy motion). Randomness comes from the
numpy Generator the dataset passes in, so clips are reproducible under a seed with any worker count.
Normalisation is kept out of the loader: `normalize` runs on the device inside the model step, which
also keeps host-to-device copies at one byte per pixel.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
import torch
import torchvision.transforms.v2.functional as TF

from pipeline.errors import ConfigError
from pipeline.registry import Registry

TRANSFORMS: Registry[Callable[..., ClipTransform]] = Registry("transform")

IMAGENET_MEAN = (0.485, 0.456, 0.406)
IMAGENET_STD = (0.229, 0.224, 0.225)


class ClipTransform:
    """A callable `(video (T, C, H, W), rng) -> video`. Multi-crop outputs `(V, T, C, H, W)`."""

    def __call__(self, video: torch.Tensor, rng: np.random.Generator) -> torch.Tensor:
        raise NotImplementedError

    def __repr__(self) -> str:
        fields = ", ".join(f"{k}={v!r}" for k, v in vars(self).items())
        return f"{type(self).__name__}({fields})"


def _pair(size: int | Sequence[int]) -> tuple[int, int]:
    return (size, size) if isinstance(size, int) else (int(size[0]), int(size[1]))


@TRANSFORMS.register("resize")
@dataclass(repr=False)
class Resize(ClipTransform):
    """Resize so the short side is `size` (int), or to exactly (H, W)."""

    size: int | tuple[int, int]

    def __call__(self, video: torch.Tensor, rng: np.random.Generator) -> torch.Tensor:
        size = [self.size] if isinstance(self.size, int) else list(self.size)
        return TF.resize(video, size, antialias=True)  # (T, C, H', W')


@TRANSFORMS.register("center_crop")
@dataclass(repr=False)
class CenterCrop(ClipTransform):
    """Crop the centre `size` square (or (H, W))."""

    size: int | tuple[int, int]

    def __call__(self, video: torch.Tensor, rng: np.random.Generator) -> torch.Tensor:
        return TF.center_crop(video, list(_pair(self.size)))  # (T, C, h, w)


@TRANSFORMS.register("random_crop")
@dataclass(repr=False)
class RandomCrop(ClipTransform):
    """The same random `size` crop for every frame."""

    size: int | tuple[int, int]

    def __call__(self, video: torch.Tensor, rng: np.random.Generator) -> torch.Tensor:
        h, w = _pair(self.size)
        H, W = video.shape[-2:]
        if h > H or w > W:
            raise ConfigError(f"random_crop {h}x{w} is larger than the frames {H}x{W}; resize first")
        top, left = int(rng.integers(0, H - h + 1)), int(rng.integers(0, W - w + 1))
        return video[..., top : top + h, left : left + w]  # (T, C, h, w)


@TRANSFORMS.register("random_resized_crop")
@dataclass(repr=False)
class RandomResizedCrop(ClipTransform):
    """Inception-style crop (random area and aspect ratio) resized to `size`, one draw per clip."""

    size: int | tuple[int, int]
    scale: tuple[float, float] = (0.08, 1.0)
    ratio: tuple[float, float] = (3 / 4, 4 / 3)

    def __call__(self, video: torch.Tensor, rng: np.random.Generator) -> torch.Tensor:
        H, W = video.shape[-2:]
        area = H * W
        for _ in range(10):
            target = area * rng.uniform(*self.scale)
            aspect = math.exp(rng.uniform(math.log(self.ratio[0]), math.log(self.ratio[1])))
            w = round(math.sqrt(target * aspect))
            h = round(math.sqrt(target / aspect))
            if 0 < w <= W and 0 < h <= H:
                top, left = int(rng.integers(0, H - h + 1)), int(rng.integers(0, W - w + 1))
                break
        else:  # fall back to the largest centred crop
            h, w = H, W
            top, left = 0, 0
        return TF.resized_crop(video, top, left, h, w, list(_pair(self.size)), antialias=True)


@TRANSFORMS.register("multi_scale_crop")
@dataclass(repr=False)
class MultiScaleCrop(ClipTransform):
    """TSN's corner/centre crops at scales of the short side, each side drawn independently."""

    size: int | tuple[int, int]
    scales: tuple[float, ...] = (1.0, 0.875, 0.75, 0.66)
    max_distort: int = 1

    def __call__(self, video: torch.Tensor, rng: np.random.Generator) -> torch.Tensor:
        H, W = video.shape[-2:]
        sides = [int(min(H, W) * s) for s in self.scales]
        pairs = [(h, w) for i, h in enumerate(sides) for j, w in enumerate(sides) if abs(i - j) <= self.max_distort]
        h, w = pairs[int(rng.integers(len(pairs)))]
        dy, dx = (H - h) // 4, (W - w) // 4
        # The 13 TSN anchor positions: corners, centre, and the quarter points in between.
        anchors = [(0, 0), (0, 4), (4, 0), (4, 4), (2, 2), (0, 2), (4, 2), (2, 0), (2, 4),
                   (1, 1), (1, 3), (3, 1), (3, 3)]  # fmt: skip
        ay, ax = anchors[int(rng.integers(len(anchors)))]
        return TF.resized_crop(video, ay * dy, ax * dx, h, w, list(_pair(self.size)), antialias=True)


@TRANSFORMS.register("flip")
@dataclass(repr=False)
class RandomFlip(ClipTransform):
    """Horizontal flip of the whole clip with probability `p`. Off for direction-dependent classes."""

    p: float = 0.5

    def __call__(self, video: torch.Tensor, rng: np.random.Generator) -> torch.Tensor:
        return TF.horizontal_flip(video) if rng.random() < self.p else video


@TRANSFORMS.register("three_crop")
@dataclass(repr=False)
class ThreeCrop(ClipTransform):
    """Three `size` crops along the long side (left/top, centre, right/bottom): `(3, T, C, h, w)`."""

    size: int | tuple[int, int]

    def __call__(self, video: torch.Tensor, rng: np.random.Generator) -> torch.Tensor:
        h, w = _pair(self.size)
        H, W = video.shape[-2:]
        if h > H or w > W:
            raise ConfigError(f"three_crop {h}x{w} is larger than the frames {H}x{W}; resize first")
        if W >= H:
            tops, lefts = [(H - h) // 2] * 3, [0, (W - w) // 2, W - w]
        else:
            tops, lefts = [0, (H - h) // 2, H - h], [(W - w) // 2] * 3
        crops = [video[..., t : t + h, l : l + w] for t, l in zip(tops, lefts, strict=True)]
        return torch.stack(crops)  # (3, T, C, h, w)


class Compose(ClipTransform):
    """Apply transforms in order, threading the same rng."""

    def __init__(self, transforms: Sequence[ClipTransform]) -> None:
        self.transforms = list(transforms)

    def __call__(self, video: torch.Tensor, rng: np.random.Generator) -> torch.Tensor:
        for t in self.transforms:
            video = t(video, rng)
        return video

    def __repr__(self) -> str:
        return f"Compose({self.transforms!r})"


def build_transforms(spec: Sequence[str | dict[str, Any]] | None) -> Compose:
    """From config: `[{"name": "resize", "size": 128}, {"name": "flip"}]`."""
    out = []
    for item in spec or []:
        if isinstance(item, str):
            out.append(TRANSFORMS.build(item))
        else:
            kwargs = dict(item)
            out.append(TRANSFORMS.build(kwargs.pop("name"), **kwargs))
    return Compose(out)


def default_transforms(size: int, *, training: bool, flip: bool = True, three_crop: bool = False) -> Compose:
    """The usual recipe: short side to 8/7 x size, then a multi-scale crop (+ flip) or a centre crop."""
    resize = Resize(round(size * 8 / 7))
    if training:
        return Compose([resize, MultiScaleCrop(size), *([RandomFlip()] if flip else [])])
    return Compose([resize, ThreeCrop(size) if three_crop else CenterCrop(size)])


def normalize(
    video: torch.Tensor, mean: Sequence[float] = IMAGENET_MEAN, std: Sequence[float] = IMAGENET_STD
) -> torch.Tensor:
    """uint8 `(..., C, H, W)` -> float `(..., C, H, W)`, on whatever device the video is on."""
    m = torch.as_tensor(mean, dtype=torch.float32, device=video.device)[:, None, None]  # (C, 1, 1)
    s = torch.as_tensor(std, dtype=torch.float32, device=video.device)[:, None, None]
    return (video.float() / 255.0 - m) / s
