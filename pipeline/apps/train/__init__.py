"""`vap train` / `vap validate` / `vap test`: the subcommands, handing their arguments to LightningCLI.

Lightning is imported only when one of them runs, so `vap --help` and the other commands start fast.
See `pipeline/apps/lightning_cli.py` and docs/training.md.
"""

from __future__ import annotations

import argparse


def run(subcommand: str, argv: list[str]) -> int:
    from pipeline.apps.train.cli import run as run_cli

    return run_cli(subcommand, argv)


def add_parser(sub: argparse._SubParsersAction) -> None:
    helps = {
        "train": "train an action recognizer (LightningCLI; `vap train --help`); no --config: the default experiment",
        "validate": "evaluate a checkpoint on the validation split",
        "test": "evaluate a checkpoint on the test split (clip- and video-level); writes predictions_test.csv",
        "predict": "predict the test split's videos with a checkpoint (labels not needed): predictions_predict.csv",
    }
    for name, text in helps.items():
        p = sub.add_parser(name, help=text, add_help=False, prefix_chars="\0")
        p.add_argument("rest", nargs=argparse.REMAINDER)
        p.set_defaults(func=lambda a, name=name: run(name, a.rest))
