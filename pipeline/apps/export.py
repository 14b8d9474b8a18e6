"""`vap export`: a trained classifier as one ONNX or TorchScript file, checked against the eager model.

checkpoint -> `load_any` (a glimpse agent is refused: its loop decides what to decode next) ->
`pipeline.inference.export.export` -> the file (class names and preprocessing in its metadata, and in
`FILE.json` beside it) -> `check_export` on a real clip of `--video` (or a random one): the exported
file, loaded as a user would, against the eager model; a mismatch above `--tolerance` removes the file.
"""

from __future__ import annotations

import argparse
from pathlib import Path

SUFFIXES = {"onnx": (".onnx",), "torchscript": (".pt", ".ts", ".torchscript")}


def add_parser(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser(
        "export",
        help="export a trained classifier to ONNX or TorchScript, checked against the eager model",
        description="Write the whole clip-to-logits model of a `vap train` checkpoint (normalisation, backbone, "
        "attention layers, temporal head) to one file: input `video`, uint8 (batch, frames, 3, H, W) with the "
        "batch dynamic and the clip length dynamic up to what the head takes; outputs `logits`, `attention` "
        "(per frame) and `embedding` (the pooled clip). The checkpoint's class names and preprocessing go into "
        "the file's metadata and into FILE.json beside it. The file is then loaded as a user would (ONNX "
        "Runtime, torch.jit.load) and compared with the eager model on a real clip of --video; above "
        "--tolerance it is removed and the command fails. `vap score --checkpoint FILE.onnx` scores with it.",
        epilog="example: vap export runs/csv/version_0/checkpoints/last.ckpt --format onnx --out model.onnx "
        "--video datasets/samples/bikes.mp4",
    )
    p.add_argument("checkpoint", type=Path, help="a `vap train` classifier checkpoint (.ckpt)")
    p.add_argument("--format", dest="fmt", choices=sorted(SUFFIXES), default="onnx",
                   help="onnx (ONNX Runtime, TensorRT, OpenVINO) or torchscript (libtorch; deprecated by PyTorch) "
                   "(default: %(default)s)")  # fmt: skip
    p.add_argument("--out", type=Path, required=True, help="the file to write (.onnx; .pt for torchscript)")
    p.add_argument("--video", type=Path, default=None,
                   help="a video whose first evaluation clip checks the export (default: a random clip)")  # fmt: skip
    p.add_argument("--frames", type=int, default=None,
                   help="clip length to trace with (default: the checkpoint's test clips')")  # fmt: skip
    p.add_argument("--tolerance", type=float, default=1e-4,
                   help="largest |exported - eager| allowed on any output (default: %(default)g)")  # fmt: skip
    p.set_defaults(func=main)


def main(args: argparse.Namespace) -> int:
    from importlib.util import find_spec

    import torch
    from rich.console import Console

    from pipeline.data.clips import FailedVideo, decode_clips, eval_pipeline
    from pipeline.data.records import write_atomic
    from pipeline.errors import ConfigError, VideoError
    from pipeline.inference.export import check_export, export, record_json
    from pipeline.models.checkpoint import is_agent, load_any

    console = Console(stderr=True)
    if args.out.suffix.lower() not in SUFFIXES[args.fmt]:
        raise ConfigError(f"--out {args.out}: a {args.fmt} file ends in {' or '.join(SUFFIXES[args.fmt])}")
    missing = [m for m in ("onnx", "onnxscript", "onnxruntime") if args.fmt == "onnx" and not find_spec(m)]
    if missing:
        raise ConfigError(f"--format onnx needs {', '.join(missing)}: pip install 'video-attention-pipeline[onnx]'")
    if args.out.is_dir():
        raise ConfigError(f"--out {args.out}: a folder; give the file to write")
    model, meta = load_any(args.checkpoint)
    if is_agent(meta):
        raise ConfigError(f"{args.checkpoint}: a glimpse agent cannot be exported (its loop decides which frame to "
                          "decode next); export its classifier's checkpoint")  # fmt: skip
    sampler, transform = eval_pipeline(meta.preprocessing, clips=1, three_crop=False)
    frames = args.frames or int(sampler(1000, training=False, fps=25.0).shape[-1])
    if args.video is not None:
        video = decode_clips(str(args.video), sampler=sampler, transform=transform)
        if isinstance(video, FailedVideo):
            raise VideoError(str(args.video), video.reason)
        clips, source = video.clips[:1], f"the first test clip of {args.video}"  # (1, T, C, H, W)
    else:
        size = int(meta.preprocessing.get("size", 224))
        seeded = torch.Generator().manual_seed(0)
        clips = torch.randint(0, 256, (1, frames, 3, size, size), dtype=torch.uint8, generator=seeded)
        source = "a random clip (give --video for a real one)"
    with console.status(f"exporting to {args.fmt} ..."):
        clip_model = export(model, meta, args.out, args.fmt, frames=frames)
    worst = check_export(args.out, args.fmt, clip_model, clips)
    shown = ", ".join(f"{k} {v:.1e}" for k, v in worst.items())
    if max(worst.values()) > args.tolerance:
        args.out.unlink(missing_ok=True)
        raise ConfigError(f"{args.out}: the exported model disagrees with the eager one on {source} (max |diff|: "
                          f"{shown}; --tolerance {args.tolerance:g}); removed")  # fmt: skip
    write_atomic(args.out.with_name(args.out.name + ".json"), record_json(meta) + "\n")
    mb = args.out.stat().st_size / 2**20
    console.print(f"wrote {args.out} ({mb:.1f} MB, {args.fmt}; {meta.num_classes} classes, clips of "
                  f"{meta.preprocessing.get('size')} px) and {args.out.name}.json", highlight=False)  # fmt: skip
    console.print(f"checked on {source}, batches of 1, 2 and 3: max |exported - eager| {shown}", highlight=False)
    return 0
