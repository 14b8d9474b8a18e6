"""`vap summarize VIDEO|FOLDER ... --out DIR`: a summary of every video, no training data, no network.

Thin: the work is `pipeline.inference.summarize.collection` (which videos, where: shards, torchrun ranks,
Ray) and `...video.summarize_video` / `...outputs`. Per video DIR/<name>/summary.json is written last, so a
rerun skips finished videos; a video that fails prints one error line and the others go on.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

EXAMPLE = """examples:
  vap summarize holiday.mp4 clips/ --out summaries
  -> summaries/holiday/{summary.json, keyframes/*.jpg, contact_sheet.jpg, summary.mp4, scores.png}
  vap summarize holiday.mp4 --out summaries --keyframes 8     # 8 key frames, one per kept shot
  vap summarize holiday.mp4 --out summaries --seconds 30      # a 30-second summary.mp4
  vap summarize match.mp4 --out summaries --method attention --checkpoint runs/ucf/best.ckpt
  vap summarize holiday.mp4 --out summaries --method supervised --checkpoint vasnet_own.pt
  vap summarize holiday.mp4 --out summaries --method rl --checkpoint rl_policy.pt
  vap summarize holiday.mp4 --out summaries --max-distance 20 --shot-value mean   # the paper's settings
  torchrun --nproc_per_node 4 -m pipeline.cli summarize videos/ --out summaries     # one process per GPU or core
  vap summarize videos/ --out summaries --shard $SLURM_ARRAY_TASK_ID/$SLURM_ARRAY_TASK_COUNT
  vap summarize videos/ --out summaries --engine ray --workers 8

methods:
  coverage    (default) the key frames that cover the video's content best (greedy facility location over
              the frame features, Gygli et al. 2015), one per shot, no training: in docs/bench/keyframes.md
              it covers real footage better than uniform sampling, PySceneDetect and ffmpeg's thumbnail
  rl          DR-DSN trained on each video on the fly: no labels, no checkpoint; or, with
              --checkpoint, a policy trained once over a folder of videos by
              `vap summarize train --method rl VIDEO|FOLDER ... --out rl_policy.pt`, applied as it is.
              Its diversity reward compares every pair of picked frames; --max-distance 20 is the
              paper's rule (picks more than 20 steps apart count as fully dissimilar)
  attention   the temporal attention of a `vap train` checkpoint (its head must be tsn with
              consensus attention, lstm or transformer)
  supervised  a `vap summarize train` checkpoint; it must have been trained on the features this
              command computes (MobileNetV2): the GoogLeNet features of the TVSum/SumMe h5 files
              cannot be reproduced, see `vap summarize features --help` and docs/summarize.md

shots: KTS cuts the video where its content changes, shots of at most 10 s and at least 8 per video
(the budget never sets their length). Each kept shot has one key frame, its most representative frame
that is not black, washed out, blank or blurred, and no two key frames are near-duplicates. rl,
attention and supervised keep the shots of largest total score within the length (a knapsack); --shot-value
sum (default) values a shot by the sum of its sampled frames' scores; mean (the TVSum/SumMe protocol,
what `vap summarize eval` does) by their mean, which prefers many short shots: on planted repeats it
filled the budget with short repeated shots (scripts/research/summarization/results/summarize_proof.md).
"""


def build_parser() -> argparse.ArgumentParser:
    from pipeline.inference.summarize.video import DEFAULT_METHOD, SUMMARIZERS
    from pipeline.models.summary.protocol import SHOT_VALUES

    p = argparse.ArgumentParser(
        prog="vap summarize",
        description="Summarize videos: frames at --sample-fps, ImageNet MobileNetV2 features, importance "
        "scores by --method, KTS shots, the best shots within --ratio of the length (0/1 knapsack).",
        epilog=EXAMPLE,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    p.add_argument("inputs", nargs="+", type=Path, help="video files or folders (searched recursively)")
    p.add_argument("--out", type=Path, required=True, help="output folder, one sub-folder per video")
    length = p.add_mutually_exclusive_group()
    length.add_argument("--ratio", type=float, default=None, help="summary length / video length (default: 0.15)")
    length.add_argument("--seconds", type=float, default=None, help="summary length in seconds")
    length.add_argument("--keyframes", type=int, default=None, metavar="N", help="N key frames, one per kept shot")
    p.add_argument("--method", choices=SUMMARIZERS.names(), default=DEFAULT_METHOD,
                   help="what picks the shots (default: %(default)s)")  # fmt: skip
    p.add_argument(
        "--checkpoint", type=Path, default=None,
        help="attention: a `vap train` checkpoint; supervised: a `vap summarize train` checkpoint; rl (optional): "
        "a `vap summarize train --method rl` checkpoint",
    )  # fmt: skip
    p.add_argument(
        "--shot-value", choices=SHOT_VALUES, default="sum",
        help="knapsack value of a shot: the sum of its frames' scores, or their mean as the TVSum/SumMe "
        "protocol does (default: %(default)s)",
    )  # fmt: skip
    p.add_argument(
        "--max-distance", type=int, default=None, metavar="STEPS",
        help="rl, trained per video: picks further apart than this many steps count as fully dissimilar in "
        "the diversity reward (20: the paper's rule; default: none, every pair of picks; 0: none)",
    )  # fmt: skip
    p.add_argument("--sample-fps", type=float, default=2.0, help="frames per second scored (default: %(default)s)")
    p.add_argument("--backend", default="auto", help="decoding backend (default: auto)")
    p.add_argument("--seed", type=int, default=0, help="seed of the summarizer (default: %(default)s)")
    p.add_argument("--threads", type=int, default=1, help="torch CPU threads for the features (default: %(default)s)")
    p.add_argument("--no-video", action="store_true", help="skip summary.mp4")
    c = p.add_argument_group("many videos (resumable: a rerun skips every video with a summary.json)")
    c.add_argument("--shard", default=None, metavar="I/N",
                   help="summarize only the I-th of N parts of the videos (0-based), e.g. a SLURM array task: "
                   "--shard $SLURM_ARRAY_TASK_ID/$SLURM_ARRAY_TASK_COUNT; the same --out for every part")  # fmt: skip
    c.add_argument("--engine", choices=("local", "ray"), default="local",
                   help="local: this process (or one per rank under torchrun); ray: a Ray cluster, or a local Ray "
                   "instance (needs the [ray] extra)")  # fmt: skip
    c.add_argument("--workers", type=int, default=2,
                   help="with --engine ray: summarizing actors, one CPU each (default: %(default)s)")  # fmt: skip
    return p


def main(args: argparse.Namespace) -> int:
    from rich.console import Console
    from rich.markup import escape
    from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeRemainingColumn
    from rich.table import Table

    from pipeline.errors import ConfigError, display_path, printable
    from pipeline.inference.collection import Ranks, shard_of
    from pipeline.inference.summarize.collection import Summarizing, summarize_collection
    from pipeline.inference.summarize.outputs import output_folders
    from pipeline.inference.summarize.selection import Budget

    def shown(video: Path) -> str:  # the file's name as one line of plain text
        return escape(printable(display_path(video.name)))

    given = args.ratio is None and args.seconds is None and args.keyframes is None
    budget = Budget(ratio=0.15 if given else args.ratio, seconds=args.seconds, keyframes=args.keyframes)
    method_args = {}
    if args.max_distance is not None:
        if args.method != "rl" or args.checkpoint is not None or args.max_distance < 0:
            raise ConfigError("--max-distance (>= 0) sets DR-DSN's training on each video: --method rl without "
                              "--checkpoint (a policy keeps the setting it was trained with)")  # fmt: skip
        method_args["max_distance"] = args.max_distance or None
    jobs = output_folders(args.inputs, args.out)
    jobs = [jobs[i] for i in shard_of(list(range(len(jobs))), args.shard)]  # the I-th of N parts, in input order
    summarizing = Summarizing(method=args.method, budget=budget, checkpoint=args.checkpoint, method_args=method_args,
                              sample_fps=args.sample_fps, backend=args.backend, seed=args.seed,
                              shot_value=args.shot_value, threads=args.threads, video=not args.no_video)  # fmt: skip
    summarizing.summarizer()  # a bad method or checkpoint stops here, once, before any video
    ranks = Ranks()
    if args.engine == "ray" and ranks.world > 1:
        raise ConfigError("--engine ray runs from one driver process; do not start it under torchrun")
    console = Console(stderr=True)
    table = Table(title=f"vap summarize -> {args.out}")
    names = max((len(shown(v)) for v, _ in jobs), default=5)
    table.add_column("video", justify="left", min_width=min(names, 48), overflow="fold")  # the file's name, whole
    for col in ("status", "duration (s)", "shots", "kept", "summary (s)", "time (s)"):
        table.add_column(col, justify="left" if col == "status" else "right")
    counts = {"ok": 0, "error": 0, "skipped": 0}
    show = console.is_terminal and ranks.rank == 0
    columns = (TextColumn("{task.description}"), BarColumn(), MofNCompleteColumn(), TextColumn("{task.fields[rate]}"),
               TimeRemainingColumn())  # fmt: skip
    try:
        with Progress(*columns, console=console, transient=True, disable=not show) as bar:
            task = bar.add_task("videos", total=len(jobs), rate="- videos/s")
            frames = bar.add_task("frames", total=None, rate="", visible=len(jobs) > 0 and args.engine == "local")

            def progress(video: Path):  # the frames of the video being summarized
                bar.update(frames, description=f"frames of {shown(video)[:30]}", completed=0, total=None)
                return lambda done, total: bar.update(frames, completed=done, total=total)

            outcomes = summarize_collection(jobs, summarizing, engine=args.engine, workers=args.workers,
                                            rank=ranks.rank, world=ranks.world, progress=progress)  # fmt: skip
            for o in outcomes:
                counts[o.status] += 1
                bar.advance(task)
                elapsed = bar.tasks[task].elapsed or 0.0
                done = counts["ok"] + counts["error"]
                bar.update(task, rate=f"{done / elapsed:.2f} videos/s" if elapsed > 0 and done else "- videos/s")
                if o.status == "error":
                    print(f"vap summarize: error: {o.error}", file=sys.stderr, flush=True)
                    table.add_row(shown(o.video), "[red]error[/]", "", "", "", "", f"{o.time_s:.1f}")
                elif o.status == "skipped":
                    table.add_row(shown(o.video), f"skipped ({o.error or 'done'})", "", "", "", "", "")
                else:
                    table.add_row(shown(o.video), "ok", f"{o.duration_s:.1f}", str(o.shots), str(o.kept),
                                  f"{o.summary_s:.1f}", f"{o.time_s:.1f}")  # fmt: skip
        ranks.barrier()  # every rank's videos are done before rank 0 sums up
    finally:
        ranks.close()
    if ranks.world == 1 and len(jobs) <= MAX_TABLE_ROWS:
        Console().print(table)
    totals = Table(title=f"vap summarize -> {args.out}" + (f" (rank {ranks.rank})" if ranks.world > 1 else ""),
                   show_edge=False)  # fmt: skip
    for col in ("videos", "ok", "error", "skipped (done before)"):
        totals.add_column(col, justify="right")
    totals.add_row(str(sum(counts.values())), str(counts["ok"]), str(counts["error"]), str(counts["skipped"]))
    Console().print(totals)
    return 1 if counts["error"] else 0


MAX_TABLE_ROWS = 200  # one row per video up to this many; past it, only the totals
