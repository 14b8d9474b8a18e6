"""`vap`: the one command line of the video attention pipeline.

Each subcommand lives in `pipeline/apps/<name>.py` as `add_parser(subparsers)` plus a `main(args)`
that returns the exit code; heavy imports happen inside `main`, so `vap --help` stays fast.
"""

from __future__ import annotations

import argparse
import importlib
import logging
import signal
import sys

from pipeline import __version__
from pipeline.errors import AnnotationError, ConfigError, VideoError, printable

# Subcommand modules, in the order `vap --help` lists them.
APPS = ("train", "summarize", "score", "export", "check", "data", "attention", "listing")


def threading_main() -> bool:
    """Signal handlers can only be set from the main thread (a test or a notebook may call `main` elsewhere)."""
    import threading

    return threading.current_thread() is threading.main_thread()


def user_errors() -> tuple[type[BaseException], ...]:
    from pipeline.data.dataset import TooManyBadVideos

    return (FileNotFoundError, VideoError, AnnotationError, ConfigError, TooManyBadVideos)


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="vap",
        description="Video attention pipeline: decode videos, train action recognizers with spatial and "
        "temporal attention, summarize videos into key frames, score collections offline.",
        epilog="Run `vap COMMAND --help` for the options of one command.",
    )
    parser.add_argument("--version", action="version", version=f"vap {__version__}")
    parser.add_argument("-v", "--verbose", action="store_true", help="log debug messages")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND")
    for name in APPS:
        importlib.import_module(f"pipeline.apps.{name}").add_parser(sub)
    return parser


class Terminated(BaseException):
    """SIGTERM (a scheduler's stop, `kill`): unwound like Ctrl-C, so journals are closed whole."""


def _terminate(signum: int, frame: object) -> None:
    raise Terminated


def main(argv: list[str] | None = None) -> int:
    if threading_main():
        signal.signal(signal.SIGTERM, _terminate)
    parser = build_parser()
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.DEBUG if args.verbose else logging.WARNING, format="%(levelname)s %(message)s")
    if not getattr(args, "func", None):
        parser.print_help()
        return 2
    try:
        return int(args.func(args) or 0)
    except KeyboardInterrupt:
        print("vap: interrupted", file=sys.stderr)
        return 130
    except Terminated:
        print("vap: terminated", file=sys.stderr)
        return 143
    except user_errors() as e:
        # Our own error types (bad path, bad config value, bad video or annotation, too many bad videos)
        # end in one line; anything else is a bug and shows its traceback.
        if args.verbose:
            raise
        msg = e.args[0] if isinstance(e, KeyError) and e.args else e
        print(f"vap {args.command}: error: {printable(msg)}", file=sys.stderr)
        return 1


if __name__ == "__main__":
    sys.exit(main())
