"""`vap summarize VIDEO|FOLDER ... --out DIR`: a summary of every video, no training data, no network.

Thin: the work is `pipeline.inference.summarize.video.summarize_video` and `...summary.outputs`. Per video
DIR/<name>/summary.json is written last, so a rerun skips finished videos; a video that fails prints
one error line and the others go on.
"""

from __future__ import annotations

import argparse
import sys
import time
from dataclasses import replace
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

shots: KTS cuts the video where its content changes, shots of at most 10 s and at least 5 per video
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
    return p


def main(args: argparse.Namespace) -> int:
    from rich.console import Console
    from rich.markup import escape
    from rich.progress import BarColumn, Progress, TextColumn, TimeElapsedColumn
    from rich.table import Table

    from pipeline.errors import ConfigError, display_path, printable

    def shown(video: Path) -> str:  # the file's name as one line of plain text
        return escape(printable(display_path(video.name)))

    from pipeline.inference.summarize.keyframes import SampledFrames
    from pipeline.inference.summarize.outputs import finished, output_folders, write_outputs
    from pipeline.inference.summarize.selection import Budget
    from pipeline.inference.summarize.video import build_summarizer, default_backbone, features_id, summarize_video

    given = args.ratio is None and args.seconds is None and args.keyframes is None
    budget = Budget(ratio=0.15 if given else args.ratio, seconds=args.seconds, keyframes=args.keyframes)
    method_args = {}
    if args.max_distance is not None:
        if args.method != "rl" or args.checkpoint is not None or args.max_distance < 0:
            raise ConfigError("--max-distance (>= 0) sets DR-DSN's training on each video: --method rl without "
                              "--checkpoint (a policy keeps the setting it was trained with)")  # fmt: skip
        method_args["max_distance"] = args.max_distance or None
    jobs = output_folders(args.inputs, args.out)
    summarizer = build_summarizer(args.method, checkpoint=args.checkpoint, seed=args.seed, **method_args)  # once
    console = Console(stderr=True)
    table = Table(title=f"vap summarize -> {args.out}")
    names = max((len(shown(v)) for v, _ in jobs), default=5)
    table.add_column("video", justify="left", min_width=min(names, 48), overflow="fold")  # the file's name, whole
    for col in ("status", "duration (s)", "shots", "kept", "summary (s)", "time (s)"):
        table.add_column(col, justify="left" if col == "status" else "right")
    backbone, load_s, failed = None, None, 0
    done: dict[Path, bool | ConfigError] = {}
    for video, out in jobs:
        try:
            done[video] = finished(video, out)
        except ConfigError as e:  # the folder holds another video's summary
            done[video] = e
    if any(d is False for d in done.values()):  # once, for all the videos
        t_load = time.perf_counter()
        backbone = default_backbone()
        load_s = round(time.perf_counter() - t_load, 3)
        # A supervised model trained on other features would fail on every video: say so once, up front.
        summarizer.check_features(features_id(backbone), backbone.out_channels, sample_fps=args.sample_fps)
    for video, out in jobs:
        if done[video] is True:
            table.add_row(shown(video), "skipped (done)", "", "", "", "", "")
            continue
        t0 = time.perf_counter()
        try:
            if isinstance(done[video], ConfigError):
                raise done[video]
            with SampledFrames(folder=out.parent if out.parent.exists() else None) as frames, Progress(
                TextColumn(shown(video)), BarColumn(), TextColumn("{task.completed}/{task.total} frames"),
                TimeElapsedColumn(), console=console, transient=True,
            ) as bar:  # fmt: skip
                task = bar.add_task("features", total=None)
                s = summarize_video(
                    video, method=args.method, budget=budget, sample_fps=args.sample_fps, backbone=backbone,
                    backend=args.backend, seed=args.seed, summarizer=summarizer, shot_value=args.shot_value,
                    threads=args.threads, keep=frames,
                    progress=lambda done, total, bar=bar, task=task: bar.update(task, completed=done, total=total),
                )  # fmt: skip
                if load_s is not None:  # the first video carries the load time
                    s, load_s = replace(s, seconds={"load model": load_s, **s.seconds}), None
                s = write_outputs(s, out, frames=frames, backend=args.backend, video=not args.no_video)
        except Exception as e:  # one bad video must not stop the others
            failed += 1
            reason = " ".join(str(e).split()) or type(e).__name__
            # VideoError names the file already
            where = "" if reason.startswith(printable(display_path(video))) else f"{display_path(video)}: "
            print(f"vap summarize: error: {printable(where + reason)}", file=sys.stderr, flush=True)
            table.add_row(shown(video), "[red]error[/]", "", "", "", "", f"{time.perf_counter() - t0:.1f}")
            continue
        kept = sum(b - a + 1 for a, b in s.clips)
        fps = s.fps if s.fps > 0 else 1.0
        table.add_row(
            shown(video), "ok", f"{s.num_frames / fps:.1f}", str(len(s.shots)), str(len(s.selected)),
            f"{kept / fps:.1f}", f"{time.perf_counter() - t0:.1f}",
        )  # fmt: skip
    Console().print(table)
    return 1 if failed else 0
