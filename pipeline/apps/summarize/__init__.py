"""`vap summarize`: the forms of the command, each in a module of its own here.

vap summarize [videos] VIDEO|FOLDER ...   videos.py  (summaries of real videos)
vap summarize eval DATASET.h5 ...          eval.py    (the TVSum/SumMe protocol)
vap summarize train DATASET.h5 ...         train.py   (supervised VASNet); with --method rl: rl.py (DR-DSN)
vap summarize features DATASET.h5 ...      features.py (the h5 file with our backbone's features)
"""

from __future__ import annotations

import argparse
import importlib


def add_parser(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser(
        "summarize",
        help="video summaries (rl, attention, supervised); eval, train on TVSum/SumMe h5 files or videos (rl)",
        description="Video summarization. Forms:\n"
        "  vap summarize VIDEO|FOLDER ... --out DIR [--ratio R] [--method rl|attention|supervised --checkpoint CKPT]\n"
        "  vap summarize eval DATASET.h5 --scores SCORES.json|--checkpoint CKPT [--splits K] [--out FILE.json]\n"
        "  vap summarize train DATASET.h5 --out CKPT [--splits K] [--epochs N]\n"
        "  vap summarize train --method rl VIDEO|FOLDER ... --out CKPT [--epochs N]\n"
        "  vap summarize features DATASET.h5 VIDEO_DIR --out OWN.h5\n"
        "Run `vap summarize videos|eval|train|features --help` for the options.\n\n"
        "examples:\n"
        "  vap summarize holiday.mp4 --out summaries\n"
        "  vap summarize match.mp4 --out summaries --method attention --checkpoint runs/ucf/best.ckpt\n"
        "  vap summarize train eccv16_dataset_tvsum_google_pool5.h5 --out tvsum_vasnet.pt\n"
        "  vap summarize train --method rl holidays/ --out rl_policy.pt\n"
        "  vap summarize holiday.mp4 --out summaries --method rl --checkpoint rl_policy.pt\n"
        "  vap summarize eval eccv16_dataset_tvsum_google_pool5.h5 --checkpoint tvsum_vasnet.pt",
        formatter_class=argparse.RawDescriptionHelpFormatter,
        # Every argument goes through untouched (no option prefix here), so options may come before the
        # videos (`vap summarize --out DIR a.mp4`); the form's own parser reads them.
        prefix_chars="\x00",
        usage="vap summarize VIDEO|FOLDER ... --out DIR [options]  |  vap summarize eval|train|features DATASET.h5 ...",
        add_help=False,
    )
    p.add_argument(
        "rest", nargs="*", metavar="VIDEO|eval|train|features ...", help="videos, or a form and its arguments"
    )
    p.set_defaults(func=main, summarize_parser=p)


def main(args: argparse.Namespace) -> int:
    rest = args.rest
    if not rest or rest[0] in ("-h", "--help"):
        args.summarize_parser.print_help()
        return 0 if rest else 2
    form, rest = (rest[0], rest[1:]) if rest[0] in FORMS else ("videos", rest)
    if form == "train" and train_method(rest) == "rl":
        form = "rl"
    module = importlib.import_module(f"{__name__}.{form}")  # each form's module: build_parser() and main(args)
    return module.main(module.build_parser().parse_args(rest))


# the forms a user names; "videos" is the default form's explicit name (so that it has a --help)
FORMS = ("videos", "eval", "train", "features")


def train_method(argv: list[str]) -> str:
    """The --method of `vap summarize train ...` (supervised by default): which form parses the rest."""
    p = argparse.ArgumentParser(add_help=False)
    p.add_argument("--method", default="supervised")
    return p.parse_known_args(argv)[0].method
