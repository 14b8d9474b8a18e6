"""`vap attention`: heatmap overlays of the attention a backbone applies to an image or a video."""

from __future__ import annotations

import argparse
import json
from pathlib import Path
from typing import Any

from pipeline.errors import ConfigError

IMAGE_EXTENSIONS = (".png", ".jpg", ".jpeg", ".bmp", ".webp")


def load_frames(path: Path, num_frames: int, backend: str = "auto") -> tuple[object, list[int]]:
    """uint8 `(T, 3, H, W)` frames: the image itself, or `num_frames` evenly spread video frames."""
    import numpy as np
    import torch
    from PIL import Image

    from pipeline.data.backends import open_video
    from pipeline.data.samplers import stretch

    if path.suffix.lower() in IMAGE_EXTENSIONS:
        if not path.is_file():
            raise FileNotFoundError(f"{path}: no such file")
        rgb = np.asarray(Image.open(path).convert("RGB"))  # (H, W, 3); PIL: torchvision.io's is deprecated
        return torch.from_numpy(rgb).permute(2, 0, 1)[None].contiguous(), [0]
    with open_video(path, backend) as video:
        idx = stretch(video.meta.num_frames, min(num_frames, video.meta.num_frames))
        return video.get_frames(idx), [int(i) for i in idx]


def add_parser(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser(
        "attention",
        help="draw the spatial attention of a backbone on an image or video frames (PNG overlays)",
        description="Run a backbone with attention layers on an image or on evenly spread frames of a video "
        "and write, for every attention layer, a heatmap overlay per frame plus one grid picture. "
        "Spatial gates (cbam, residual) are drawn as they are; non-local attention as the attention each "
        "position receives; channel attention (se, eca) as the channel-weighted activation; a spatial "
        "transformer as the box it samples. Freshly inserted layers start as the identity and show flat "
        "maps: pass --checkpoint with trained weights to see what a model learned.",
    )
    p.add_argument("input", type=Path, help="an image (png/jpg) or a video")
    p.add_argument(
        "--backbone", default="mobilenet_v2", help="backbone name (default: %(default)s; `vap list backbone`)"
    )
    p.add_argument(
        "--weights", default="imagenet", help="none, imagenet, an enum name or a .pth (default: %(default)s)"
    )
    p.add_argument("--attention", default="cbam", help="attention layer (default: %(default)s; `vap list attention`)")
    p.add_argument(
        "--stages", type=int, nargs="+", default=None, help="stages to insert attention after (default: last two)"
    )
    p.add_argument(
        "--checkpoint",
        type=Path,
        default=None,
        help="a `vap train` checkpoint (its backbone and attention replace --backbone/--attention/--stages), "
        "or a state dict of the whole backbone incl. attention layers; never needs --weights",
    )
    p.add_argument("--frames", type=int, default=6, help="video frames to draw (default: %(default)s)")
    p.add_argument("--size", type=int, default=224, help="short side the frames are resized to (default: %(default)s)")
    p.add_argument("--out", type=Path, default=Path("outputs/attention"), help="output folder (default: %(default)s)")
    p.set_defaults(func=main)


def main(args: argparse.Namespace) -> int:
    import numpy as np
    import torch
    import torchvision.transforms.v2.functional as TF
    from PIL import Image

    from pipeline.data.transforms import normalize
    from pipeline.layers import collect_attention
    from pipeline.viz import normalise, overlay, save_grid, spatial_map, theta_box

    frames, indices = load_frames(args.input, args.frames)
    frames = TF.resize(frames, [args.size], antialias=True)  # (T, 3, H, W) uint8
    model, mean, std = backbone_for(args)
    model.eval()
    with torch.no_grad():
        feats = model.forward_features(normalize(frames, mean, std), return_stages=True)
    found = collect_attention(model)
    if not found:
        raise ConfigError(f"--attention {args.attention} records no attention to draw")
    args.out.mkdir(parents=True, exist_ok=True)
    rows, titles, legend, files = [], [], [], []
    for name, maps in found.items():
        stage = int(name.split(".")[-1])
        got = spatial_map(maps, feats.stages[stage])
        pictures = []
        if got is not None:
            heat, what = got
            heat = normalise(heat)  # (T, h, w)
            pictures = [overlay(frames[t], heat[t]) for t in range(len(frames))]
        elif maps.theta is not None:
            what = "region sampled by the spatial transformer"
            H, W = frames.shape[-2:]
            pictures = [_draw_box(frames[t], theta_box(maps.theta[t], H, W)) for t in range(len(frames))]
        for t, pic in enumerate(pictures):
            f = args.out / f"{name.replace('.', '_')}_frame{indices[t]:05d}.png"
            Image.fromarray(pic).save(f)
            files.append(str(f))
        rows.append(pictures)
        titles.append(f"stage {stage} {args.attention}")
        legend.append(f"stage {stage} {args.attention}: {what}")
    grid = save_grid(
        [[np.ascontiguousarray(frames[t].permute(1, 2, 0).numpy()) for t in range(len(frames))], *rows],
        ["input", *titles],
        [f"frame {i}" for i in indices],
        args.out / "attention_grid.png",
        caption="; ".join(legend),
    )
    summary = {"input": str(args.input), "backbone": args.backbone, "attention": args.attention,
               "checkpoint": str(args.checkpoint) if args.checkpoint else None, "frames": indices,
               "grid": str(grid), "overlays": files, "maps": legend}  # fmt: skip
    (args.out / "attention.json").write_text(json.dumps(summary, indent=2) + "\n")
    print(f"wrote {len(files)} overlays and {grid}")
    return 0


def backbone_for(args: argparse.Namespace) -> tuple[Any, tuple[float, ...], tuple[float, ...]]:
    """(backbone, mean, std) to draw: a `vap train` checkpoint's own (through `load_model`), or one built
    from the options; with a checkpoint, nothing pretrained is loaded (its weights replace them)."""
    from pipeline.data.transforms import IMAGENET_MEAN, IMAGENET_STD
    from pipeline.errors import ConfigError
    from pipeline.models.backbones import CLIP_BACKBONES, build_backbone
    from pipeline.models.checkpoint import load_model, read_checkpoint
    from pipeline.models.weights import load_state_dict

    if args.backbone in CLIP_BACKBONES:
        raise ConfigError(f"--backbone {args.backbone}: a 3D clip backbone has no per-frame attention layers to draw")
    if args.checkpoint and "vap" in read_checkpoint(args.checkpoint):
        model, meta = load_model(args.checkpoint)
        args.backbone, args.attention = meta.model["backbone"], meta.model["attention"]
        if args.backbone in CLIP_BACKBONES:
            raise ConfigError(f"{args.checkpoint}: its {args.backbone} is a 3D clip backbone, with no attention layers")
        return model.backbone, model.mean, model.std
    weights = None if args.checkpoint else args.weights
    model = build_backbone(args.backbone, weights=weights, attention=args.attention, attention_stages=args.stages)
    if args.checkpoint:
        model.load_state_dict(load_state_dict(args.checkpoint))
    return model, IMAGENET_MEAN, IMAGENET_STD


def _draw_box(frame, corners):
    """uint8 `(H, W, 3)` frame with the polygon `corners (4, 2)` drawn in."""
    import numpy as np
    from PIL import Image, ImageDraw

    img = Image.fromarray(frame.permute(1, 2, 0).numpy().copy())
    ImageDraw.Draw(img).polygon([tuple(map(float, c)) for c in corners], outline=(255, 200, 0), width=3)
    return np.asarray(img)
