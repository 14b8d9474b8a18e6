"""`vap score`: the arguments and the console of a resumable scoring run.

inputs -> `pipeline.data.discover.collect_inputs` -> `--shard` -> `load_scorer(checkpoint)` ->
`ScoreRun` (pipeline.inference.collection: journal, ranks, workers or Ray) -> progress bar, error
lines, the final table.
"""

from __future__ import annotations

import argparse
from pathlib import Path
from typing import Any

EXAMPLE = """example:
  vap score --checkpoint runs/csv/version_0/checkpoints/last.ckpt videos/ --out scores.jsonl
  vap score --checkpoint best.ckpt "clips/**/*.mp4" list.txt --out scores.parquet --all-scores --with-attention
  torchrun --nproc_per_node 4 -m pipeline.cli score --checkpoint best.ckpt videos/ --out scores.jsonl
  vap score --checkpoint best.ckpt videos/ --out part_$SLURM_ARRAY_TASK_ID.jsonl \\
      --shard $SLURM_ARRAY_TASK_ID/$SLURM_ARRAY_TASK_COUNT
  vap score --checkpoint best.ckpt match.mp4 --out timeline.parquet --window 2 --stride 1 --plot plots/

Rerun the same command to resume after a crash or a kill: finished videos are skipped, and with --window
a video cut short goes on from its last journaled window."""


def add_parser(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser(
        "score",
        help="score many videos with a checkpoint into JSONL or Parquet (resumable)",
        description="Score every video named by INPUT (folders, searched recursively; globs; text lists, one path "
        "per line; CSVs with a 'path' column) with a `vap train` checkpoint, which needs no config and no network. "
        "One record per video: path, status (ok or error) and error reason, backend, duration, frames, fps, top-k "
        "labels and probabilities; optionally every class's score and the temporal attention with key-frame times. "
        "A corrupt, missing or hanging video becomes an error record and the run goes on.",
        epilog=EXAMPLE,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    p.add_argument("inputs", nargs="+", metavar="INPUT", help="folder, glob, list file or CSV of videos")
    p.add_argument("--checkpoint", required=True, type=Path, help="a checkpoint written by `vap train`")
    p.add_argument("--out", required=True, type=Path, help="output file, .jsonl or .parquet")
    p.add_argument("--topk", type=int, default=5, help="labels per video (default: %(default)s)")
    p.add_argument("--all-scores", action="store_true", help="also write every class's score")
    p.add_argument("--with-attention", action="store_true", help="also write temporal attention and key frames")
    p.add_argument("--embeddings", action="store_true",
                   help="also write each video's embedding: what the classifier reads, averaged over its clips "
                   "(a fixed-size float list column in Parquet)")  # fmt: skip
    w = p.add_argument_group("what happens when (long videos)")
    w.add_argument("--window", type=float, default=None, metavar="SECONDS",
                   help="score each video in windows of SECONDS, each sampled as the checkpoint's test clips are; "
                   "records get `windows` (start, end, top-k labels and probs of each) and `segments`; with a "
                   "long-video agent's checkpoint (task: long_glimpse) only the windows around what its glimpses "
                   "saw are decoded, the rest are marked `skipped`")  # fmt: skip
    w.add_argument("--stride", type=float, default=None, metavar="SECONDS",
                   help="seconds from one window's start to the next (default: --window, back to back)")  # fmt: skip
    w.add_argument("--threshold", type=float, default=0.5,
                   help="a segment is a run of consecutive windows whose best label is the same with at least this "
                   "probability (default: %(default)s)")  # fmt: skip
    w.add_argument("--plot", type=Path, default=None, metavar="DIR",
                   help="also draw each video's timeline (top classes over time, segments shaded) as "
                   "DIR/<name>.png")  # fmt: skip
    p.add_argument("--clips", type=int, default=None, help="clips per video (default: the checkpoint's test clips)")
    p.add_argument("--three-crop", action=argparse.BooleanOptionalAction, default=None,
                   help="three crops per clip (default: as the checkpoint was tested)")  # fmt: skip
    p.add_argument("--backend", default="auto", help="decoding backend (default: %(default)s)")
    p.add_argument("--workers", type=int, default=2, help="decoding processes (default: %(default)s)")
    p.add_argument("--timeout", type=float, default=120.0, help="seconds allowed to decode one video (default: 120)")
    p.add_argument("--batch-clips", type=int, default=16, help="clips per model call (default: %(default)s)")
    p.add_argument("--device", default="auto", help="cpu, cuda, cuda:1, or auto (default: %(default)s)")
    p.add_argument("--threads", type=int, default=None,
                   help="torch threads of the model on the CPU (default: the cores the decoding workers leave, "
                   "at least 1; each worker uses one; with --engine ray, the CPUs the model actor reserves, "
                   "default 1)")  # fmt: skip
    p.add_argument("--shard", default=None, metavar="I/N",
                   help="score only the I-th of N static parts of the sorted inputs (0-based), e.g. a SLURM "
                   "array task: --shard $SLURM_ARRAY_TASK_ID/$SLURM_ARRAY_TASK_COUNT with its own --out")  # fmt: skip
    p.add_argument("--engine", choices=("local", "ray"), default="local",
                   help="local: this machine (or one process per GPU under torchrun); ray: a Ray cluster, or a "
                   "local Ray instance (needs the [ray] extra; --workers = at most that many decoding actors, one CPU "
                   "each)")  # fmt: skip
    p.set_defaults(func=main)


def main(args: argparse.Namespace) -> int:
    if args.engine == "local":  # the decoding workers' imports go on beside this process's own (2 cores: 9 -> ? s)
        from pipeline.data.pool import warm_up

        warm_up("pipeline.data.windows", "av")
    from collections import Counter

    from rich.console import Console
    from rich.markup import escape
    from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeRemainingColumn
    from rich.table import Table

    from pipeline.data.discover import collect_inputs
    from pipeline.errors import printable
    from pipeline.inference.collection import ScoreRun, check_output, shard_of
    from pipeline.inference.score import default_device, load_scorer
    from pipeline.inference.timeline import check_plot_folder, plot_record

    console = Console(stderr=True)
    check_output(args.out)  # a wrong suffix, a folder or a read-only place stops here, before any work
    windows = window_settings(args)
    if args.plot is not None:
        check_plot_folder(args.plot)
    paths = shard_of(collect_inputs(args.inputs), args.shard)
    if windows is not None:
        check_strides(paths, windows)
    device = default_device(args.device)
    scorer = load_scorer(args.checkpoint, topk=args.topk, all_scores=args.all_scores,
                         with_attention=args.with_attention, embeddings=args.embeddings, clips=args.clips,
                         three_crop=args.three_crop, backend=args.backend, batch_clips=args.batch_clips,
                         device=device, windows=windows, threshold=args.threshold)  # fmt: skip
    run = ScoreRun(scorer, args.checkpoint, paths, out=args.out, workers=args.workers, timeout=args.timeout,
                   engine=args.engine, threads=args.threads)  # fmt: skip
    for journal, lines in run.repaired.items():
        console.print(f"[yellow]warning[/] {journal}: line(s) {', '.join(map(str, lines))} were not JSON records; "
                      "taken out, their videos are scored again", highlight=False, soft_wrap=True)  # fmt: skip
    for path, done in run.resumed.items():
        console.print(f"{escape(printable(path))}: going on from window {done} (windows 0-{done - 1} were journaled)",
                      highlight=False, soft_wrap=True)  # fmt: skip
    try:
        counts: Counter[str] = Counter()
        columns = (TextColumn("{task.description}"), BarColumn(), MofNCompleteColumn(),
                   TextColumn("{task.fields[rate]}"), TimeRemainingColumn())  # fmt: skip
        show = console.is_terminal and run.rank == 0
        with Progress(*columns, console=console, disable=not show) as bar:
            task = bar.add_task("videos", total=len(run.todo), rate="- videos/s")
            if windows is not None:  # inside the videos: windows/s, and how far the latest video is
                inner = bar.add_task("windows", total=None, rate="- windows/s")
                scored = [0]

                def on_window(path: str, done: int, total: int) -> None:
                    scored[0] += 1
                    elapsed = bar.tasks[inner].elapsed or 0.0
                    rate = f"{scored[0] / elapsed:.1f} windows/s" if elapsed > 0 else "- windows/s"
                    bar.update(inner, completed=done, total=total, rate=rate,
                               description=f"windows of {Path(printable(path)).name[:30]}")  # fmt: skip

                run.on_window = on_window
            for rec in run.records():
                counts[rec["status"]] += 1
                bar.advance(task)
                elapsed = bar.tasks[0].elapsed or 0.0
                bar.update(task, rate=f"{sum(counts.values()) / elapsed:.1f} videos/s" if elapsed > 0 else "-")
                if rec["status"] == "error":
                    line = f"{printable(rec['path'])}: {printable(rec['error'])}"
                    console.print(f"[red]error[/] {escape(line)}", highlight=False, soft_wrap=True)
                elif rec.get("stopped"):
                    line = f"{printable(rec['path'])}: windows stop early: {printable(rec['stopped'])}"
                    console.print(f"[yellow]warning[/] {escape(line)}", highlight=False, soft_wrap=True)
                if args.plot is not None and rec["status"] == "ok" and rec.get("windows"):
                    plot_record(rec, args.plot, args.threshold)
        summary = run.finish()
    finally:
        run.close()  # a run that stops early releases the output too
    if summary is not None:
        table = Table(title=f"vap score -> {summary.out}", show_edge=False)
        for col in ("videos", "ok", "error", "skipped (done before)"):
            table.add_column(col, justify="right")
        table.add_row(str(summary.videos), str(summary.ok), str(summary.error), str(summary.skipped))
        console.print(table)
    return 0


def window_settings(args: argparse.Namespace) -> Any:
    """`Windows` from --window/--stride (None without --window); a bad value stops here, before any work."""
    from pipeline.data.windows import Windows
    from pipeline.errors import ConfigError

    if args.window is None:
        for flag, value in (("--stride", args.stride), ("--plot", args.plot)):
            if value is not None:
                raise ConfigError(f"{flag}: needs --window SECONDS (the windows to score each video in)")
        return None
    if not 0.0 <= args.threshold <= 1.0:
        raise ConfigError(f"--threshold {args.threshold:g}: a probability, in [0, 1]")
    return Windows(args.window, args.stride)


def check_strides(paths: list[str], windows: Any) -> None:
    """A stride longer than the window and than a video would score one window of it and skip the rest:
    said before anything runs, from the containers' headers (a millisecond per file, read only when the
    stride is longer than the window)."""
    from pipeline.data.backends.probe import header_duration
    from pipeline.errors import ConfigError, printable

    if windows.step <= windows.window:
        return
    for path in paths:
        duration = header_duration(path)
        if duration is not None and (why := windows.too_short(duration)):
            raise ConfigError(f"{printable(path)}: {why}; use a smaller --stride")
