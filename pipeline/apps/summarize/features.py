"""`vap summarize features`: a TVSum/SumMe h5 file rewritten with our backbone's features, so that a
supervised model trained on it applies to your own videos (`pipeline.inference.summarize.h5features`)."""

from __future__ import annotations

import argparse
from pathlib import Path

FEATURES_EXAMPLE = """example:
  vap summarize features eccv16_dataset_summe_google_pool5.h5 SumMe/videos/ --out summe_mobilenet.h5

Each video is found as VIDEO_DIR/<video_name>.* (SumMe files name their videos), VIDEO_DIR/<key>.*, or
through --map MAP.json {"video_1": "relative/path.mp4", ...} (TVSum files do not name their videos:
their keys follow the order of ydata-tvsum50-anno.tsv). Frames are read at the file's `picks`, so every
annotation stays aligned; the videos must have the file's frame count.
"""


def build_parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(
        prog="vap summarize features",
        description="Rewrite a TVSum/SumMe h5 file with the features `vap summarize` computes on any video "
        "(ImageNet MobileNetV2, pooled) at the file's own picks, keeping every annotation. A model trained "
        "on the result applies to your own videos; one trained on the original GoogLeNet features does not.",
        epilog=FEATURES_EXAMPLE,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    p.add_argument("dataset", type=Path, help="h5 file in the ECCV16 layout")
    p.add_argument("videos", type=Path, help="folder of the dataset's videos")
    p.add_argument("--out", type=Path, required=True, help="the new h5 file")
    p.add_argument("--map", type=Path, default=None, help='JSON {"video_key": "path relative to VIDEO_DIR"}')
    p.add_argument("--backend", default="auto", help="decoding backend (default: auto)")
    p.add_argument("--batch-size", type=int, default=16, help="frames per forward pass (default: %(default)s)")
    return p


def main(args: argparse.Namespace) -> int:
    import json

    from pipeline.data.summary_h5 import read_summary_h5, write_summary_h5
    from pipeline.inference.summarize.h5features import h5_features
    from pipeline.inference.summarize.video import default_backbone, features_id

    videos = read_summary_h5(args.dataset, features=False)
    mapping = json.loads(args.map.read_text()) if args.map else {}
    backbone = default_backbone()
    out = h5_features(videos, args.videos, backbone, mapping=mapping, backend=args.backend,
                      batch_size=args.batch_size, dataset=args.dataset.name,
                      progress=lambda key, path, steps: print(f"{key}: {path} ({steps} steps)"))  # fmt: skip
    write_summary_h5(args.out, out, attrs={"features": features_id(backbone), "source": args.dataset.name})
    print(f"wrote {args.out} ({len(out)} videos, features: {features_id(backbone)})")
    return 0
