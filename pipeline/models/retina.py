"""The glimpse retina of the Recurrent Attention Model (Mnih, Heess, Graves, Kavukcuoglu: "Recurrent
Models of Visual Attention", NIPS 2014), batched: what the video glimpse agent reads of a frame.

    frames (B, C, H, W), centres (B, 2) in [-1, 1]^2 -> pyramid (k levels, each 2x coarser)
      -> k patches of g x g, patch i covering g * 2**i pixels -> (B, k, C, g, g)
The image RAM built on it (the paper's replication) lives with the research: scripts/research/image_attention/.
"""

from __future__ import annotations

import functools

import torch
import torch.nn.functional as F

_QUARTER = torch.tensor(0.25)  # a CPU scalar tensor: usable with tensors of any dtype on any device


def pyramid(images: torch.Tensor, scales: int, scale_factor: float = 2.0) -> list[torch.Tensor]:
    """The image and `scales - 1` area-averaged copies, level i shrunk `scale_factor**i` times: what
    the retina's coarser scales read, built once per image rather than once per glimpse."""
    h, w = images.shape[-2:]
    levels = [images]
    for i in range(1, scales):
        prev = levels[-1]
        if scale_factor == 2 and prev.shape[-2] % 2 == 0 and prev.shape[-1] % 2 == 0:
            # 2x2 means from strided views: several times faster than avg_pool2d on one channel
            rows = prev[..., ::2, :] + prev[..., 1::2, :]  # (B, C, h/2, w)
            # scaled in place: one large allocation fewer per level, about a fifth of one glimpse's time;
            # by a 0-dim tensor, as a Python float is wrapped and converted on every call (~7 us a level)
            levels.append((rows[..., ::2] + rows[..., 1::2]).mul_(_QUARTER))  # (B, C, h/2, w/2)
        else:
            f = scale_factor**i
            levels.append(F.adaptive_avg_pool2d(images, (max(1, round(h / f)), max(1, round(w / f)))))
    return levels


@functools.lru_cache(maxsize=32)
def _patch_grid(
    size: int, scales: int, scale_factor: float, h: int, w: int, dtype: torch.dtype, device: torch.device
) -> tuple[torch.Tensor, torch.Tensor]:
    """The offsets (x, y) of each patch pixel's centre from the glimpse centre, in the normalised units of
    `grid_sample` (align_corners=False), flat `(1, scales * size * size * 2)`; and the `(2, same)` 0/1
    matrix that copies a centre (x, y) to every pixel. The same for every glimpse, so cached."""
    offsets = torch.linspace(1 / size - 1, 1 - 1 / size, size, dtype=torch.float64)  # (size,) in half-widths
    extents = torch.tensor([size * scale_factor**i for i in range(scales)], dtype=torch.float64)  # pixels
    span = offsets * extents[:, None]  # (scales, size): twice the offset in pixels
    gx, gy = (span / w)[:, None, :].expand(-1, size, -1), (span / h)[:, :, None].expand(-1, -1, size)
    offsets = torch.stack([gx, gy], dim=-1).reshape(1, -1)  # (1, scales * size * size * 2)
    copy = torch.zeros(2, offsets.shape[1], dtype=torch.float64)
    copy[0, 0::2], copy[1, 1::2] = 1, 1  # x to the x slots, y to the y slots
    return offsets.to(dtype=dtype, device=device), copy.to(dtype=dtype, device=device)


def retina(
    images: torch.Tensor,
    loc: torch.Tensor,
    size: int,
    scales: int = 1,
    scale_factor: float = 2.0,
    *,
    levels: list[torch.Tensor] | None = None,
) -> torch.Tensor:
    """Glimpse patches `(B, scales, C, size, size)` centred at `loc` `(B, 2)` = (x, y) in [-1, 1]
    (the image's edges; outside is zero). Patch i covers `size * scale_factor**i` pixels of the image.

    One `grid_sample` per scale over the whole batch (the published PyTorch versions crop image by
    image in a Python loop). Patch i is read at `size` x `size` points from pyramid level i (`levels`,
    built here if not given), so a coarse scale is a blurred view rather than an aliased one and costs
    no more than the finest.
    """
    levels = pyramid(images, scales, scale_factor) if levels is None else levels
    h, w = images.shape[-2:]
    offsets, copy = _patch_grid(size, scales, scale_factor, h, w, loc.dtype, loc.device)
    # centre + offset for every pixel as one matrix product: exact (the weights are 0 and 1), and several
    # times faster on the CPU than the broadcast add, whose innermost axis has only 2 elements
    grid = torch.addmm(offsets, loc, copy).view(-1, scales, size, size, 2)
    # grid (B, scales, size, size, 2): where each patch pixel's centre lies, normalised
    patches = [  # a handful of scales, each (B, C, size, size)
        F.grid_sample(levels[i], grid[:, i], mode="bilinear", padding_mode="zeros", align_corners=False)
        for i in range(scales)
    ]
    return torch.stack(patches, dim=1)  # (B, scales, C, size, size)
