"""Pictures of what the model attended to: heatmap overlays and spatial-transformer boxes.

Plotting is matplotlib's (colour maps, figure grids); what is drawn is the attention the layers
recorded in their last forward pass (`AttentionMaps`), turned into one `(h, w)` map per layer.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import torch
import torch.nn.functional as F

from pipeline.layers.base import AttentionMaps


def spatial_map(maps: AttentionMaps, feature: torch.Tensor | None = None) -> tuple[torch.Tensor, str] | None:
    """One `(B, h, w)` map per image from what a layer recorded, and what it shows.

    spatial gates are shown as they are; position attention as the attention each position receives;
    channel-only attention as the channel-weighted activation of the layer's output `feature`.
    """
    if maps.spatial is not None:
        return maps.spatial[:, 0], "spatial attention"
    if maps.positions is not None:
        b, n, _ = maps.positions.shape
        side = int(round(n**0.5))
        h = side if feature is None else feature.shape[-2]
        return maps.positions.mean(dim=1).reshape(b, h, n // h), "attention received by each position"
    if maps.channel is not None and feature is not None:
        weighted = (maps.channel[:, :, None, None] * feature.relu()).sum(dim=1)  # (B, h, w)
        return weighted, "channel-weighted activation"
    return None


def normalise(m: torch.Tensor) -> torch.Tensor:
    """Per-image min-max to [0, 1]; a flat map becomes 0.5 everywhere (nothing singled out)."""
    lo = m.flatten(1).min(dim=1).values[:, None, None]
    hi = m.flatten(1).max(dim=1).values[:, None, None]
    span = hi - lo
    return torch.where(span > 1e-8, (m - lo) / span.clamp_min(1e-8), torch.full_like(m, 0.5))


def overlay(frame: torch.Tensor, heat: torch.Tensor, *, alpha: float = 0.45, cmap: str = "inferno") -> np.ndarray:
    """uint8 frame `(3, H, W)` + map `(h, w)` in [0, 1] -> uint8 `(H, W, 3)` picture."""
    import matplotlib

    H, W = frame.shape[-2:]
    up = F.interpolate(heat[None, None].float(), size=(H, W), mode="bilinear", align_corners=False)[0, 0]
    colour = matplotlib.colormaps[cmap](up.clamp(0, 1).numpy())[..., :3]  # (H, W, 3) in [0, 1]
    base = frame.permute(1, 2, 0).float().numpy() / 255.0
    return (255 * ((1 - alpha) * base + alpha * colour)).clip(0, 255).astype(np.uint8)


def theta_box(theta: torch.Tensor, height: int, width: int) -> np.ndarray:
    """Corners (4, 2) in pixels of the input region an affine `theta (2, 3)` samples from."""
    corners = torch.tensor([[-1.0, -1, 1], [1, -1, 1], [1, 1, 1], [-1, 1, 1]])  # output corners, homogeneous
    src = corners @ theta.T.float()  # (4, 2) normalised input coordinates
    return ((src + 1) / 2 * torch.tensor([width, height])).numpy()


def save_grid(
    pictures: list[list[np.ndarray]], row_titles: list[str], col_titles: list[str], path: Path, *, caption: str = ""
) -> Path:
    """Rows x columns of pictures in one PNG, with an optional caption underneath."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    rows, cols = len(pictures), len(pictures[0])
    h, w = pictures[0][0].shape[:2]
    scale = 2.2 / max(h, w)
    fig, axes = plt.subplots(rows, cols, figsize=(cols * w * scale + 1.5, rows * h * scale + 0.6), squeeze=False)
    for r in range(rows):
        for c in range(cols):
            ax = axes[r][c]
            ax.imshow(pictures[r][c])
            ax.set_xticks([])
            ax.set_yticks([])
            if r == 0:
                ax.set_title(col_titles[c], fontsize=8)
            if c == 0:
                ax.set_ylabel(row_titles[r], fontsize=8)
    if caption:
        fig.text(0.5, 0.01, caption, ha="center", va="bottom", fontsize=8, wrap=True)
    fig.tight_layout(rect=(0, 0.05 if caption else 0, 1, 1))
    path.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(path, dpi=110)
    plt.close(fig)
    return path
