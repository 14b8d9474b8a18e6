"""`vap data`: make the built-in dataset, re-encode videos for fast loading."""

from __future__ import annotations

import argparse
from pathlib import Path


def add_parser(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("data", help="make built-in datasets; re-encode videos for fast random access")
    dsub = p.add_subparsers(dest="data_command", metavar="ACTION", required=True)

    make = dsub.add_parser(
        "make",
        help="generate a built-in labelled video dataset (mp4 files + `path label` lists)",
        description="Generate a built-in dataset. moving-digits: real handwritten digits (scikit-learn) "
        "moving in 6 directions whose pairs differ only in the direction of time, so an order-blind "
        "model cannot tell them apart. moving-digits-long: 1-5 minute videos of real footage in which "
        "one moving digit, a few seconds long, carries the class (the long-video glimpse agent's data). "
        "Deterministic under --seed; a complete dataset with the same parameters is left as it is.\n\n"
        "example: vap data make moving-digits-long --out datasets/moving-digits-long "
        "--set test_seconds=[60,120] --set test_sizes=[320x180]",
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    make.add_argument("name", help='dataset to make (see `vap list "data maker"`): moving-digits, '
                      "moving-digits-sparse, moving-digits-timeline, moving-digits-long")  # fmt: skip
    make.add_argument("--out", type=Path, default=None, help="output folder (default: datasets/<name> in a checkout)")
    make.add_argument("--seed", type=int, default=0, help="random seed (default: %(default)s)")
    make.add_argument("--num-train", type=int, default=None, help="training videos (default: the maker's)")
    make.add_argument("--num-val", type=int, default=None, help="validation videos")
    make.add_argument("--num-test", type=int, default=None, help="test videos")
    make.add_argument("--classes", default=None, metavar="A,B,...",
                      help="moving-digits: the class list, from move_right, move_left, move_down, move_up, zoom_in, "
                      "zoom_out, move_down_right, move_up_left (default: the first six)")  # fmt: skip
    make.add_argument("--set", action="append", default=[], metavar="KEY=VALUE", dest="settings",
                      help="any other argument of the maker, the value read as YAML (repeatable), e.g. "
                      "--set train_seconds=[60,90]")  # fmt: skip
    make.set_defaults(func=main_make)

    re = dsub.add_parser(
        "reencode",
        help="re-encode videos with a smaller short side and a short GOP (faster sampling)",
        description="Re-encode one video or every video under a folder (keeping the sub-folders) as H.264 "
        "mp4 with the given short side and keyframe interval, without audio. Short GOPs make sparse "
        "sampling (TSN) much faster; see docs/bench/data.md for the measured speed-up.",
    )
    re.add_argument("src", type=Path, help="a video or a folder of videos")
    re.add_argument("dst", type=Path, help="output video (for one input) or folder")
    re.add_argument(
        "--short-side",
        type=int,
        default=256,
        help="short side in pixels; 0 keeps the size (default: %(default)s)",
    )
    re.add_argument("--gop", type=int, default=16, help="keyframe interval in frames (default: %(default)s)")
    re.add_argument("--crf", type=int, default=23, help="x264 quality, lower is better (default: %(default)s)")
    re.add_argument(
        "--tool",
        choices=("auto", "ffmpeg", "pyav"),
        default="auto",
        help="encoder (default: ffmpeg if installed)",
    )
    re.add_argument("--skip-existing", action="store_true", help="leave outputs that exist already")
    re.set_defaults(func=main_reencode)


def main_make(args: argparse.Namespace) -> int:
    import yaml

    from pipeline.data.makers import DATA_MAKERS
    from pipeline.data.moving_digits import default_data_dir
    from pipeline.errors import ConfigError

    out = args.out or (default_data_dir().parent / args.name)
    overrides = {
        k: v
        for k, v in {"num_train": args.num_train, "num_val": args.num_val, "num_test": args.num_test}.items()
        if v is not None
    }
    if args.classes:
        if args.name not in ("moving-digits", "moving-digits-sparse"):
            raise ConfigError(
                f"--classes: {args.name} has a fixed class list; use moving-digits or moving-digits-sparse"
            )
        overrides["classes"] = tuple(name.strip() for name in args.classes.split(",") if name.strip())
    for item in args.settings:
        key, sep, value = item.partition("=")
        if not sep or not key.strip():
            raise ConfigError(f"--set {item!r}: expected KEY=VALUE")
        parsed = yaml.safe_load(value)
        overrides[key.strip()] = tuple(parsed) if isinstance(parsed, list) else parsed
    import inspect

    known = inspect.signature(DATA_MAKERS.get(args.name)).parameters
    unknown = sorted(set(overrides) - set(known))
    if unknown and not any(p.kind is p.VAR_KEYWORD for p in known.values()):
        takes = ", ".join(k for k in known if k != "out")
        raise ConfigError(f"{args.name} takes no {', '.join(unknown)}; it takes {takes}")
    try:
        path = DATA_MAKERS.build(args.name, out=out, seed=args.seed, progress=True, **overrides)
    except (TypeError, ValueError) as e:  # a --set value of the wrong kind
        raise ConfigError(f"{args.name}: {e}") from e
    print(f"{args.name}: {path} (train.txt, val.txt, test.txt, classes.txt)")
    return 0


def main_reencode(args: argparse.Namespace) -> int:
    from rich.progress import track

    from pipeline.data.discover import collect_videos
    from pipeline.data.reencode import reencode
    from pipeline.errors import VideoError

    if args.src.is_dir():
        jobs = [(p, (args.dst / p.relative_to(args.src)).with_suffix(".mp4")) for p in collect_videos(args.src)]
    else:
        jobs = [(args.src, args.dst)]
    failed = 0
    for src, dst in track(jobs, description="re-encoding", transient=True, disable=len(jobs) < 2):
        if args.skip_existing and dst.exists():
            continue
        try:
            reencode(src, dst, short_side=args.short_side or None, gop=args.gop, crf=args.crf, tool=args.tool)
        except VideoError as e:
            failed += 1
            print(f"skipped {e}")
    print(f"re-encoded {len(jobs) - failed} of {len(jobs)} videos into {args.dst}")
    return 1 if failed else 0
