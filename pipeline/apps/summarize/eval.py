"""`vap summarize eval`: score a TVSum/SumMe h5 file's videos with the ECCV16 protocol, beside the
random summarizer (Apostolidis et al. 2020) and rank correlation (Otani et al. 2019), per disjoint fold.

Thin: reading is `pipeline.data.summary_h5`, the protocol `pipeline.models.summary`, a checkpoint's
fold scores `pipeline.inference.summarize.folds`.
"""

from __future__ import annotations

import argparse
import json
import math
from dataclasses import asdict
from pathlib import Path

from pipeline.errors import ConfigError

EVAL_EXAMPLE = """examples:
  vap summarize eval eccv16_dataset_tvsum_google_pool5.h5 --scores my_scores.json --splits 5 --out tvsum.json
  vap summarize eval eccv16_dataset_tvsum_google_pool5.h5 --checkpoint tvsum_vasnet.pt --out tvsum.json

SCORES.json maps each h5 video key to one score per step (per row of `features` / `picks`):
  {"video_1": [0.1, 0.7, ...], "video_2": [...], ...}
--checkpoint (from `vap summarize train` on the same file): each video is scored by the model of the
fold that held it out, on the folds recorded in the checkpoint (--splits and --seed do not apply).
"""


def build_parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(
        prog="vap summarize eval",
        description="F-score of step scores on a TVSum/SumMe h5 file (ECCV16 layout): upsample to frames, "
        "shot scores, knapsack at --ratio of the frames, F-score against every user (avg or max). Beside "
        "each F-score: the random summarizer's F-score on the same shots (uniform scores, --draws draws) "
        "and the ratio; Kendall tau / Spearman rho; means per disjoint test fold.",
        epilog=EVAL_EXAMPLE,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    p.add_argument("dataset", type=Path, help="h5 file in the ECCV16 layout (one group per video)")
    given = p.add_mutually_exclusive_group(required=True)
    given.add_argument("--scores", type=Path, help="JSON {video_key: [score per step]}")
    given.add_argument("--checkpoint", type=Path, help="a `vap summarize train` checkpoint of this file")
    p.add_argument("--splits", type=int, default=5, help="disjoint test folds (default: %(default)s)")
    p.add_argument(
        "--metric",
        choices=("avg", "max"),
        default=None,
        help="F-score over users: avg (TVSum) or max (SumMe); default from the file name",
    )
    p.add_argument("--ratio", type=float, default=0.15, help="summary length / video length (default: %(default)s)")
    p.add_argument("--draws", type=int, default=100, help="random-summarizer draws per video (default: %(default)s)")
    p.add_argument(
        "--shot-value", choices=("mean", "sum"), default="mean",
        help="knapsack value of a shot: mean of its frames' scores (default: the protocol, comparable with "
        "published numbers) or sum (what `vap summarize` uses on videos; NOT the protocol; the random "
        "summarizer then goes through it too)",
    )  # fmt: skip
    p.add_argument("--seed", type=int, default=0, help="seed of the folds and the random draws (default: %(default)s)")
    p.add_argument("--out", type=Path, default=None, help="write every number to this JSON file (atomically)")
    return p


def load_scores(path: Path, steps: dict[str, int], dataset: Path) -> dict:
    """{key: (n_steps,) array}, checked against the h5 file's keys and step counts (one-line errors)."""
    import numpy as np

    try:
        raw = json.loads(Path(path).read_text())
    except FileNotFoundError:
        raise FileNotFoundError(f"{path}: no such file") from None
    except json.JSONDecodeError as e:
        raise ConfigError(f"{path}: not JSON ({e.msg}, line {e.lineno})") from None
    if not isinstance(raw, dict):
        raise ConfigError(f"{path}: expected an object {{video_key: [score per step]}}, got {type(raw).__name__}")
    extra = sorted(set(raw) - set(steps))
    if extra:
        raise ConfigError(f"{path}: {extra[0]} is not a video of {dataset.name}" + _more(extra))
    missing = [k for k in steps if k not in raw]
    if missing:
        raise ConfigError(f"{path}: no scores for {missing[0]}" + _more(missing))
    scores = {}
    for key, values in raw.items():
        ok = isinstance(values, list) and all(isinstance(x, int | float) and not isinstance(x, bool) for x in values)
        if not ok:
            raise ConfigError(f"{path}: {key} must be a list of numbers")
        arr = np.asarray(values, dtype=np.float64)
        if arr.size != steps[key]:
            raise ConfigError(f"{path}: {key} has {arr.size} scores, {dataset.name} has {steps[key]} steps")
        if not np.isfinite(arr).all():
            raise ConfigError(f"{path}: {key} has a score that is not finite")
        scores[key] = arr
    return scores


def _more(keys: list[str]) -> str:
    return f" (and {len(keys) - 1} more)" if len(keys) > 1 else ""


def _finite(obj: object) -> object:
    """NaN -> None, so the JSON is standard."""
    if isinstance(obj, float):
        return None if math.isnan(obj) else obj
    if isinstance(obj, dict):
        return {k: _finite(v) for k, v in obj.items()}
    if isinstance(obj, list):
        return [_finite(v) for v in obj]
    return obj


def main(args: argparse.Namespace) -> int:
    from rich.console import Console

    from pipeline.data.records import write_atomic
    from pipeline.data.summary_h5 import kfold_splits, read_summary_h5
    from pipeline.models.summary import evaluate_dataset
    from pipeline.models.summary.protocol import metric_from_name

    metric = args.metric or metric_from_name(args.dataset)
    if not 0 < args.ratio <= 1 or args.draws < 1:
        raise ConfigError("--ratio must be in (0, 1] and --draws >= 1")
    if args.checkpoint is not None:
        from pipeline.inference.summarize.folds import checkpoint_scores

        videos = read_summary_h5(args.dataset)
        scores, splits = checkpoint_scores(args.checkpoint, videos, args.dataset)
    else:
        videos = read_summary_h5(args.dataset, features=False)
        scores = load_scores(args.scores, {v.key: v.n_steps for v in videos}, args.dataset)
        splits = kfold_splits([v.key for v in videos], args.splits, seed=args.seed)
    result = evaluate_dataset(
        videos, scores, metric=metric, splits=splits, ratio=args.ratio, draws=args.draws, seed=args.seed,
        shot_value=args.shot_value,
    )  # fmt: skip
    print_result(Console(), result, args.dataset, shot_value=args.shot_value)
    if args.out:
        report = {
            "dataset": str(args.dataset),
            "scores": str(args.scores) if args.scores else None,
            "checkpoint": str(args.checkpoint) if args.checkpoint else None,
            "settings": {"metric": metric, "splits": len(splits), "ratio": args.ratio, "draws": args.draws,
                         "seed": args.seed, "shot_value": args.shot_value},
            **asdict(result),
        }  # fmt: skip
        # a killed run leaves the old file or none
        write_atomic(args.out, json.dumps(_finite(report), indent=2, allow_nan=False) + "\n")
        print(f"wrote {args.out}")
    return 0


def print_result(console, result, dataset: Path, *, shot_value: str = "mean") -> None:
    from rich.table import Table

    def pct(x: float) -> str:
        return "-" if math.isnan(x) else f"{100 * x:.1f}"

    def num(x: float, digits: int = 3) -> str:
        return "-" if math.isnan(x) else f"{x:.{digits}f}"

    title = f"{dataset.name}: F-score ({result.metric} over users) vs the random summarizer"
    if shot_value != "mean":
        title += f"; {shot_value}-valued shots, NOT the protocol (not comparable with published F-scores)"
    table = Table(title=title)
    for col in ("video", "fold", "F (%)", "random F (%)", "F / random", "tau", "rho"):
        table.add_column(col, justify="left" if col == "video" else "right")
    for r in result.videos:
        table.add_row(
            r.key, str(r.fold), pct(r.f_score), pct(r.random_f_score), num(r.ratio, 2), num(r.tau), num(r.rho)
        )
    table.add_section()
    table.add_row(
        "[bold]mean[/]", "", pct(result.f_score), pct(result.random_f_score), num(result.ratio, 2),
        num(result.tau), num(result.rho),
    )  # fmt: skip
    console.print(table)
    if result.folds:
        folds = Table(title="disjoint test folds (mean over each fold's test videos)")
        for col in ("fold", "videos", "F (%)", "random F (%)", "F / random"):
            folds.add_column(col, justify="right")
        for f in result.folds:
            folds.add_row(str(f.fold), str(len(f.videos)), pct(f.f_score), pct(f.random_f_score), num(f.ratio, 2))
        console.print(folds)
    ref = {
        "user_scores": "each annotator's frame scores (Otani et al.)",
        "gtscore": "gtscore per step (the file has no per-annotator scores)",
        "mixed": "annotator scores where the file has them, else gtscore",
    }[result.rank_reference]
    console.print(f"tau / rho: Kendall / Spearman against {ref}.")
