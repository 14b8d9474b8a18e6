"""`vap check`: find the videos a run would choke on, before the run (`pipeline.data.check`)."""

from __future__ import annotations

import argparse
from pathlib import Path


def add_parser(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser(
        "check",
        help="check that videos open and decode; write a quarantine list of the bad ones",
        description="Open every video under PATH (a folder, searched recursively; a video; or an annotation "
        "file), read its header and decode its first, middle and last frames, each in a worker process "
        "under a timeout. With --backend auto each video gets the first backend that is exact for "
        "its container and decodes it (TorchCodec, decord, PyAV); it is bad only when all fail. "
        "Writes a quarantine JSON (path and reason of each bad video) and prints a summary. "
        "Exit code 0 when every video is good, 1 when some are bad.",
    )
    p.add_argument("path", type=Path, help="folder of videos, one video, or an annotation file")
    p.add_argument(
        "--out",
        type=Path,
        default=Path("quarantine.json"),
        help="quarantine JSON to write (default: %(default)s)",
    )
    p.add_argument(
        "--format",
        dest="fmt",
        default=None,
        help="annotation format when PATH is a file (default: list, or csv for .csv)",
    )
    p.add_argument(
        "--root",
        default=None,
        help="folder the annotation paths are relative to (default: the file's folder)",
    )
    p.add_argument("--backend", default="auto", help="decoding backend (default: %(default)s; see `vap list`)")
    p.add_argument("--jobs", type=int, default=2, help="worker processes (default: %(default)s)")
    p.add_argument("--timeout", type=float, default=60.0, help="seconds allowed per video (default: %(default)s)")
    p.set_defaults(func=main)


def main(args: argparse.Namespace) -> int:
    from collections import Counter

    from rich.console import Console
    from rich.markup import escape
    from rich.progress import Progress
    from rich.table import Table

    from pipeline.data.check import run_check, write_quarantine
    from pipeline.data.discover import collect_videos
    from pipeline.data.records import check_writable
    from pipeline.errors import printable

    console = Console(stderr=True)
    check_writable(args.out)  # before the checking, not after it
    paths = collect_videos(args.path, fmt=args.fmt, root=args.root)
    if not paths:
        console.print(f"[yellow]{args.path}: no videos found[/]")
    with Progress(console=console, disable=not console.is_terminal, transient=True) as bar:
        task = bar.add_task("checking videos", total=len(paths))
        results = run_check(paths, backend=args.backend, jobs=args.jobs, timeout=args.timeout,
                            progress=lambda _: bar.advance(task))  # fmt: skip
    write_quarantine(results, args.out, str(args.path))
    bad = [r for r in results if not r.ok]
    table = Table(title=f"vap check {args.path}", show_edge=False)
    table.add_column("checked", justify="right")
    table.add_column("good", justify="right")
    table.add_column("bad", justify="right")
    table.add_column("frames (total)", justify="right")
    table.add_column("served by", justify="left")
    served = Counter(r.backend for r in results if r.ok)
    table.add_row(
        str(len(results)),
        str(len(results) - len(bad)),
        str(len(bad)),
        str(sum(r.num_frames for r in results)),
        ", ".join(f"{b} {n}" for b, n in served.most_common()),
    )
    console.print(table)
    for r in bad:
        console.print(f"[red]bad[/] {escape(printable(r.path))}: {escape(printable(r.reason))}", highlight=False,
                      soft_wrap=True)  # fmt: skip
    for r in results:
        if r.ok and r.reason:
            console.print(f"[yellow]warning[/] {escape(printable(r.path))}: {escape(printable(r.reason))}",
                          highlight=False, soft_wrap=True)  # fmt: skip
    console.print(f"quarantine list: {escape(printable(args.out))}", highlight=False)
    return 1 if bad else 0
