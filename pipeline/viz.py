"""Floor 4, viz: pictures of what the model attended to: heatmap overlays and spatial-transformer boxes.

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


def timeline(frames: torch.Tensor, attention: torch.Tensor, frame_indices: list[int], title: str, path: Path) -> Path:
    """Temporal attention of one clip: thumbnails over a bar per frame (uniform weight as a dashed line)."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    t = len(frames)
    fig, axes = plt.subplots(2, t, figsize=(1.3 * t + 0.5, 3.0), gridspec_kw={"height_ratios": [1, 1.2]}, squeeze=False)
    top = int(attention.argmax())
    for i in range(t):
        ax = axes[0][i]
        ax.imshow(frames[i].permute(1, 2, 0).numpy())
        ax.set_xticks([])
        ax.set_yticks([])
        ax.set_title(f"#{frame_indices[i]}", fontsize=7, color="crimson" if i == top else "black")
    gs = axes[1][0].get_gridspec()
    for ax in axes[1]:
        ax.remove()
    bar = fig.add_subplot(gs[1, :])
    bar.bar(range(t), attention.numpy(), color=["crimson" if i == top else "steelblue" for i in range(t)])
    bar.axhline(1 / t, ls="--", color="gray", lw=1)
    bar.set_xlim(-0.5, t - 0.5)
    bar.set_xticks(range(t))
    bar.set_ylabel("attention", fontsize=8)
    fig.suptitle(title, fontsize=9)
    fig.tight_layout()
    path.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(path, dpi=100)
    plt.close(fig)
    return path


def confusion_plot(cm: torch.Tensor, class_names: list[str], path: Path) -> Path:
    """Row-normalised confusion matrix with counts."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    k = len(class_names)
    norm = cm.float() / cm.sum(dim=1, keepdim=True).clamp_min(1)
    fig, ax = plt.subplots(figsize=(0.5 * k + 2.5, 0.5 * k + 2))
    ax.imshow(norm.numpy(), cmap="Blues", vmin=0, vmax=1)
    if k <= 30:
        ax.set_xticks(range(k), class_names, rotation=60, ha="right", fontsize=7)
        ax.set_yticks(range(k), class_names, fontsize=7)
        for i in range(k):
            for j in range(k):
                if cm[i, j]:
                    ax.text(j, i, int(cm[i, j]), ha="center", va="center", fontsize=6,
                            color="white" if norm[i, j] > 0.5 else "black")  # fmt: skip
    ax.set_xlabel("predicted")
    ax.set_ylabel("true")
    fig.tight_layout()
    path.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(path, dpi=100)
    plt.close(fig)
    return path


def glimpse_trajectories(
    videos: list[torch.Tensor],
    looked: list[list[int]],
    titles: list[str],
    path: Path,
    *,
    locations: list[torch.Tensor] | None = None,
    box: float = 1.0,
    marked: list[set[int]] | None = None,
) -> Path:
    """Where a glimpse agent looked: one row per clip (`videos[i]` uint8 (T, C, H, W)), every frame shown,
    the frames looked at boxed and numbered in the order they were looked at, the others dimmed.

    `looked[i]`: frame indices in glimpse order; `locations[i]` (G, 2) in [-1, 1]: the centre of each
    glimpse's box, whose side is `box` times the frame's (1: the whole frame, as for per-frame features);
    `marked[i]`: frames to flag under the row (e.g. the frames known to carry the class)."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    from matplotlib.patches import Rectangle

    rows, t = len(videos), videos[0].shape[0]
    h, w = videos[0].shape[-2:]
    gap = max(1, w // 16)  # white pixels between frames
    # one strip image (and one axes) per clip: a grid of rows x T axes took seconds per epoch to draw
    fig, axes = plt.subplots(rows, 1, figsize=(0.9 * t + 1.6, 1.05 * rows + 0.5), squeeze=False)
    for r in range(rows):
        order = {f: k for k, f in reversed(list(enumerate(looked[r])))}  # frame -> first glimpse at it
        frames = videos[r].permute(0, 2, 3, 1).float()  # (T, H, W, C)
        dim = torch.tensor([i not in order for i in range(t)])[:, None, None, None]  # (T, 1, 1, 1)
        frames = torch.where(dim, frames * 0.55, frames)
        strip = torch.full((h, t * (w + gap) - gap, frames.shape[-1]), 255.0)  # (H, T * (W + gap) - gap, C)
        for i in range(t):
            strip[:, i * (w + gap) : i * (w + gap) + w] = frames[i]
        ax = axes[r][0]
        picture = strip.to(torch.uint8).numpy()
        ax.imshow(picture[..., 0] if picture.shape[-1] == 1 else picture, cmap="gray", vmin=0, vmax=255)
        ax.set_yticks([])
        ax.set_xticks([i * (w + gap) + w / 2 for i in range(t)] if r == 0 else [])
        ax.set_xticklabels([str(i) for i in range(t)] if r == 0 else [], fontsize=7)
        ax.xaxis.set_ticks_position("top")
        ax.tick_params(length=0)
        for i, k in order.items():
            cx, cy = (0.0, 0.0) if locations is None else locations[r][k].tolist()
            bw, bh = box * w, box * h
            x0, y0 = i * (w + gap) + (cx + 1) / 2 * w - bw / 2, (cy + 1) / 2 * h - bh / 2
            ax.add_patch(Rectangle((x0, y0), bw - 1, bh - 1, fill=False, edgecolor="red", linewidth=2))
            ax.text(i * (w + gap) + 1, 1, str(k + 1), color="yellow", fontsize=9, fontweight="bold", va="top")
        for i in sorted(marked[r]) if marked is not None else []:
            ax.text(i * (w + gap) + w / 2, h + 0.5, "*", color="limegreen", fontsize=10, ha="center", va="top")
        ax.set_ylabel(titles[r], fontsize=7, rotation=0, ha="right", va="center")
    caption = "boxed and numbered: the frames looked at, in order"
    if marked is not None:
        caption += "; *: the frames that carry the class"
    fig.text(0.5, 0.005, caption, ha="center", va="bottom", fontsize=8)
    fig.tight_layout(rect=(0, 0.04, 1, 1))
    path.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(path, dpi=100)
    plt.close(fig)
    return path
