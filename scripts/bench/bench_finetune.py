"""Does `--model.init_from` pay? Fine-tuning to new classes against training from scratch, 3 seeds.

Per seed S: moving-digits of seed S with 4 of its classes (right, left, down, up) trains the source model
(the default experiment's: tiny CNN per frame, LSTM with attention; `vap train`). A second dataset of seed S
holds the other 2 classes (zoom in, zoom out) and a class no default dataset has (`move_down_right`, the
maker's diagonal), with fewer training videos, as a small new dataset is. On it, runs of the same length
and settings but the learning rate: `--model.init_from` the source checkpoint at a fine-tuning rate, and
from scratch at the config's rate and at the fine-tuning one. Reported per epoch: the validation top-1 of
each; and how many epochs each takes to reach the accuracy from scratch reaches (the best top-1 of the
two runs from scratch, less `tolerance`).

    .venv/bin/python scripts/bench/bench_finetune.py            # writes docs/bench/finetune.md and .json
    .venv/bin/python scripts/bench/bench_finetune.py --quick --out /tmp/ft   # one seed, 2 epochs, a minute
"""

from __future__ import annotations

import argparse
import csv
import json
import os
import shutil
import sys
import time
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
from bench_segments import vap

from pipeline.env import provenance

REPO = Path(__file__).resolve().parents[2]
SOURCE_CLASSES = ("move_right", "move_left", "move_down", "move_up")
TARGET_CLASSES = ("zoom_in", "zoom_out", "move_down_right")


@dataclass
class BenchConfig:
    seeds: list[int] = field(default_factory=lambda: [0, 1, 2])
    source_train: int = 600
    source_epochs: int = 10
    target_train: int = 150  # 50 per class: a small new dataset
    val: int = 150
    epochs: int = 12  # each run on the new classes
    lr: float = 0.003  # the config's
    finetune_lr: float = 0.001  # as fine-tuning recipes lower it; at 0.003 seed 1 lost its start in epoch 2
    tolerance: float = 0.02  # "reaches the accuracy": within this of the best top-1 from scratch


def make(out: Path, seed: int, classes: tuple[str, ...], train: int, val: int) -> Path:
    from pipeline.data.moving_digits import MovingDigitsConfig, make_moving_digits

    cfg = MovingDigitsConfig(seed=seed, classes=classes, num_train=train, num_val=val, num_test=0)
    return make_moving_digits(out, cfg, progress=False)


def train(root: Path, data: Path, seed: int, epochs: int, *extra: str) -> Path:
    """`vap train` with the default experiment's config on `data`, in `root`; the last checkpoint."""
    shutil.rmtree(root, ignore_errors=True)
    root.mkdir(parents=True)
    vap("train", "--config", str(REPO / "configs" / "moving_digits_lstm.yaml"), "--seed_everything", str(seed),
        "--trainer.max_epochs", str(epochs), "--data.make", "null", "--data.train", str(data / "train.txt"),
        "--data.val", str(data / "val.txt"), "--data.test", str(data / "val.txt"),
        "--trainer.enable_progress_bar", "false", *extra, cwd=root)  # fmt: skip
    (ckpt,) = root.glob("runs/csv/version_*/checkpoints/last.ckpt")
    return ckpt


def curve(root: Path) -> list[float]:
    """Validation top-1 after each epoch, from the run's CSV metrics."""
    (metrics,) = root.glob("runs/csv/version_*/metrics.csv")
    with open(metrics) as f:
        rows = [r for r in csv.DictReader(f) if r.get("val/top1")]
    by_epoch = {int(r["epoch"]): round(float(r["val/top1"]), 4) for r in rows}
    return [by_epoch[e] for e in sorted(by_epoch)]


def epochs_to(top1: list[float], target: float) -> int | None:
    """The first epoch (1-based) whose top-1 is at least `target`; None when none is."""
    return next((i + 1 for i, t in enumerate(top1) if t >= target - 1e-9), None)


def run_seed(work: Path, seed: int, cfg: BenchConfig) -> dict[str, Any]:
    source_data = make(work / "data" / f"four{seed}", seed, SOURCE_CLASSES, cfg.source_train, cfg.val)
    target_data = make(work / "data" / f"new{seed}", seed, TARGET_CLASSES, cfg.target_train, cfg.val)
    t0 = time.perf_counter()
    source = train(work / f"seed{seed}" / "source", source_data, seed, cfg.source_epochs)
    t_source = time.perf_counter() - t0
    curves, seconds = {}, {}
    runs = {
        "init_frozen": ("--model.init_from", str(source), "--model.freeze", "all", "--model.lr", str(cfg.lr)),
        "init_from": ("--model.init_from", str(source), "--model.lr", str(cfg.finetune_lr)),
        "scratch": ("--model.lr", str(cfg.lr)),
        "scratch_low_lr": ("--model.lr", str(cfg.finetune_lr)),
    }
    for name, extra in runs.items():
        t0 = time.perf_counter()
        train(work / f"seed{seed}" / name, target_data, seed, cfg.epochs, *extra)
        seconds[name] = round(time.perf_counter() - t0, 1)
        curves[name] = curve(work / f"seed{seed}" / name)
    target = round(max(*curves["scratch"], *curves["scratch_low_lr"]) - cfg.tolerance, 4)
    return {
        "seed": seed,
        "source_top1": curve(work / f"seed{seed}" / "source")[-1],
        "source_seconds": round(t_source, 1),
        "target": target,
        "curves": curves,
        "epochs_to_target": {name: epochs_to(c, target) for name, c in curves.items()},
        "seconds": seconds,
    }


RUNS = ("init_frozen", "init_from", "scratch", "scratch_low_lr")
FROM_SOURCE = ("init_frozen", "init_from")


def faster(r: dict[str, Any], run: str = "init_frozen") -> bool:
    """`run` reached the accuracy in fewer epochs than either run from scratch (never: not at all)."""
    e = {k: r["epochs_to_target"][k] or 10**9 for k in RUNS if k in r["epochs_to_target"]}
    return run in e and e[run] < min(e["scratch"], e["scratch_low_lr"])


def report(results: list[dict[str, Any]], cfg: BenchConfig, prov: dict[str, str]) -> str:
    def n(x: int | None) -> str:
        return "not reached" if x is None else str(x)

    runs = [k for k in RUNS if k in results[0]["curves"]]  # a report of an older run has no init_frozen
    names = {"init_frozen": f"`init_from`, backbone frozen, lr {cfg.lr:g}", "init_from": f"`init_from`, lr {cfg.finetune_lr:g}",
             "scratch": f"scratch, lr {cfg.lr:g}", "scratch_low_lr": f"scratch, lr {cfg.finetune_lr:g}"}  # fmt: skip

    def to95(r: dict[str, Any]) -> str:
        """Epochs to 95% of the best top-1 from scratch (the usual time-to-accuracy measure), per run."""
        target = 0.95 * max(*r["curves"]["scratch"], *r["curves"]["scratch_low_lr"])
        return " / ".join(n(epochs_to(r["curves"][k], target)) for k in runs)

    rows = "\n".join(
        f"| {r['seed']} | {r['source_top1']:.3f} | {r['target']:.3f} | "
        + " | ".join((f"**{n(r['epochs_to_target'][k])}**" if k in FROM_SOURCE else n(r["epochs_to_target"][k]))
                     for k in runs)
        + f" | {to95(r)} | " + " / ".join(f"{r['curves'][k][0]:.3f}" for k in runs) + " |"
        for r in results
    )  # fmt: skip
    curves = "\n".join(
        f"| {r['seed']} | {names[k]} | " + " | ".join(f"{t:.2f}" for t in r["curves"][k]) + " |"
        for r in results
        for k in runs
    )
    verdicts = " ".join(
        f"{names[k]} reaches the accuracy in fewer epochs than both runs from scratch on "
        f"{sum(faster(r, k) for r in results)} of {len(results)} seeds."
        for k in runs
        if k in FROM_SOURCE
    )
    order = " / ".join(names[k] for k in runs)
    head = " | ".join(f"epochs, {names[k]}" for k in runs)
    return f"""# Fine-tuning to new classes with `--model.init_from`

Command: `{prov["command"]}` ({prov["date"]})

Per seed: the default experiment (`configs/moving_digits_lstm.yaml`: a tiny CNN per frame, an LSTM with
attention, TSN-8, 32 px) trained for {cfg.source_epochs} epochs on moving-digits with 4 of its classes
({", ".join(SOURCE_CLASSES)}; {cfg.source_train} training videos). Then a new dataset of the same seed with the
other two classes and one no default dataset holds ({", ".join(TARGET_CLASSES)}; {cfg.target_train} training
videos, {cfg.val} validation videos of held-out handwriting), trained for {cfg.epochs} epochs with the same
settings and seed in {len(runs)} ways: {order}. `init_from`: backbone and LSTM from the source run, a new
classifier, optimiser and schedule fresh; "backbone frozen" adds `--model.freeze all` (the per-frame CNN keeps
the source's weights; the LSTM, its attention and the new classifier learn: the linear-probe-first advice of
Kumar et al., ICLR 2022, one step further up) at the config's learning rate; the other `init_from` trains every
layer at a fine-tuning learning rate. The accuracy to reach is the best validation top-1 of the two runs from
scratch, less {cfg.tolerance:g}. How the frozen-backbone recipe came in: in this benchmark's first run only the
all-layer `init_from` was measured, and on seed 1 it tied the run from scratch (5 epochs each, after a slow
start of 0.43 and 0.41); one exploratory run on seed 1 then tried the frozen backbone at 0.003 and all layers at
0.003 (both 3 epochs) before the frozen backbone was made the recommended start and measured on every seed.

| seed | source top-1 (4 classes) | accuracy to reach | {head} | epochs to 95% of the best from scratch ({order}) | top-1 after epoch 1 (same order) |
|---|---|---|{"---|" * len(runs)}---|---|
{rows}

{verdicts}

Validation top-1 per epoch:

| seed | run | {" | ".join(str(e) for e in range(1, cfg.epochs + 1))} |
|---|---|{"---|" * cfg.epochs}
{curves}

Timings per run are in `finetune.json`. Machine: {prov["machine"]}.
"""


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--out", type=Path, default=REPO / "docs" / "bench")
    p.add_argument("--work", type=Path, default=Path("/tmp/vap-bench-finetune"))
    p.add_argument("--quick", action="store_true", help="one seed, 2 epochs, few videos")
    p.add_argument("--seeds", type=int, nargs="+", default=None, help="seeds (default: 0 1 2)")
    p.add_argument("--report-only", action="store_true", help="write the Markdown report again from --out's JSON")
    args = p.parse_args()
    name = "finetune_quick" if args.quick else "finetune"
    if args.report_only:
        saved = json.loads((args.out / f"{name}.json").read_text())
        text = report(saved["results"], BenchConfig(**saved["config"]), saved["provenance"])
        (args.out / f"{name}.md").write_text(text)
        return
    cfg = (
        BenchConfig(seeds=[0], source_train=48, source_epochs=2, target_train=24, val=12, epochs=2)
        if args.quick
        else BenchConfig()
    )
    if args.seeds:
        cfg.seeds = args.seeds
    results = []
    for seed in cfg.seeds:
        results.append(run_seed(args.work, seed, cfg))
        print(json.dumps(results[-1]), flush=True)
    prov = provenance("bench/bench_finetune.py")
    args.out.mkdir(parents=True, exist_ok=True)
    summary = {
        "init_frozen_faster_seeds": sum(faster(r, "init_frozen") for r in results),
        "init_from_faster_seeds": sum(faster(r, "init_from") for r in results),
        "median_best_top1": {k: float(np.median([max(r["curves"][k]) for r in results])) for k in RUNS},
    }
    (args.out / f"{name}.json").write_text(
        json.dumps({"config": asdict(cfg), "summary": summary, "results": results, "provenance": prov}, indent=1) + "\n"
    )
    (args.out / f"{name}.md").write_text(report(results, cfg, prov))
    print(f"wrote {args.out / name}.md", file=sys.stderr)


if __name__ == "__main__":
    os.environ.setdefault("WANDB_MODE", "offline")
    os.environ.setdefault("WANDB_SILENT", "true")
    main()
