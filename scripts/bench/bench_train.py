"""The figures the README quotes for `vap train`: the default run and the other moving-digits experiments.

    .venv/bin/python scripts/bench/bench_train.py           # writes docs/bench/train.md and docs/bench/train.json
    .venv/bin/python scripts/bench/bench_train.py --configs moving_digits_lstm

Each experiment runs as a new user would run it: in an empty folder (no `runs/`, no generated data), the
installed `vap train --config NAME` (the default experiment is `moving_digits_lstm`), W&B offline, then
`vap test` on the last checkpoint. Read back from the CSV metrics: validation top-1 after every epoch,
test top-1/top-5 (clip and video level), training throughput and data-loading share (medians over
epochs). Wall time is the whole `vap train` command, data generation included; CPU time is its
processes' user + system time.
"""

from __future__ import annotations

import argparse
import csv
import json
import os
import resource
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from pipeline.data.records import write_atomic
from pipeline.env import describe_machine

REPO = Path(__file__).resolve().parents[2]
DEFAULT_CONFIGS = ("moving_digits_lstm", "moving_digits_transformer")
QUICK = ["--trainer.max_epochs", "1", "--trainer.limit_train_batches", "2", "--trainer.limit_val_batches", "2",
         "--data.make_args", "{num_train: 24, num_val: 12, num_test: 12}"]  # fmt: skip


def vap() -> list[str]:
    """The installed entry point beside this Python (as a user runs it), else the module."""
    exe = Path(sys.executable).with_name("vap")
    return [str(exe)] if exe.is_file() else [sys.executable, "-m", "pipeline.cli"]


def rows(path: Path) -> list[dict[str, str]]:
    with path.open(newline="") as f:
        return list(csv.DictReader(f))


def column(table: list[dict[str, str]], name: str) -> list[tuple[int, float]]:
    """(epoch, value) of every row that has `name`."""
    return [(int(r["epoch"]), float(r[name])) for r in table if r.get(name) not in (None, "")]


def timed(cmd: list[str], cwd: Path, env: dict[str, str]) -> tuple[float, float]:
    """Wall and CPU seconds of a command (CPU: its processes' user + system time)."""
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    start = time.perf_counter()
    proc = subprocess.run(cmd, cwd=cwd, env=env, capture_output=True, text=True, timeout=3600)
    wall = time.perf_counter() - start
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    if proc.returncode != 0:
        raise RuntimeError(f"{' '.join(cmd)} failed:\n{proc.stdout[-2000:]}\n{proc.stderr[-3000:]}")
    cpu = (after.ru_utime - before.ru_utime) + (after.ru_stime - before.ru_stime)
    return wall, cpu


def experiment(name: str, extra: list[str], keep: Path | None) -> dict:
    work = Path(tempfile.mkdtemp(prefix=f"bench-train-{name}-"))
    env = {**os.environ, "WANDB_MODE": "offline", "WANDB_SILENT": "true"}
    env.pop("VAP_DATA_DIR", None)
    train = [*vap(), "train", "--config", name, "--trainer.enable_progress_bar", "false", *extra]
    wall, cpu = timed(train, work, env)
    run = work / "runs" / "csv" / "version_0"
    last = run / "checkpoints" / "last.ckpt"
    # `vap test` reads the data config again; on the quick settings' tiny data too
    data = extra[extra.index("--data.make_args") : extra.index("--data.make_args") + 2] if extra else []
    test = [*vap(), "test", "--config", name, "--ckpt_path", str(last), "--trainer.enable_progress_bar", "false", *data]
    test_wall, _ = timed(test, work, env)
    train_rows = rows(run / "metrics.csv")
    test_rows = rows(work / "runs" / "csv" / "version_1" / "metrics.csv")
    val = column(train_rows, "val/top1")
    best_epoch, best = max(val, key=lambda ev: ev[1])
    test_metrics = {k.removeprefix("test/"): float(v) for r in test_rows for k, v in r.items()
                    if k.startswith("test/") and v not in ("", None)}  # fmt: skip
    result = {
        "config": name,
        "command": " ".join(["vap", "train", "--config", name, *extra]),
        "epochs": len(val),
        "val_top1_per_epoch": [round(v, 4) for _, v in val],
        "val_top1_last": val[-1][1],
        "val_top1_best": best,
        "best_epoch": best_epoch + 1,
        "test": {
            k: test_metrics[k]
            for k in ("clip_top1", "clip_top5", "video_top1", "video_top5", "video_count")
            if k in test_metrics
        },  # fmt: skip
        "train_wall_s": round(wall, 1),
        "train_cpu_s": round(cpu, 1),
        "test_wall_s": round(test_wall, 1),
        "clips_per_s": statistics.median(v for _, v in column(train_rows, "perf/clips_per_s_epoch")),
        "data_fraction": statistics.median(v for _, v in column(train_rows, "perf/data_fraction_epoch")),
    }
    if keep is not None:
        shutil.copytree(work / "runs" / "csv", keep / name, dirs_exist_ok=True)
    shutil.rmtree(work, ignore_errors=True)
    return result


def write_report(results: list[dict], out: Path, machine: str, quick: bool) -> None:
    out.mkdir(parents=True, exist_ok=True)
    record = {"date": time.strftime("%Y-%m-%d"), "machine": machine, "quick": quick, "runs": results}
    write_atomic(out / "train.json", json.dumps(record, indent=2) + "\n")
    lines = [
        "# `vap train` on the built-in moving-digits data",
        "",
        f"Written by `scripts/bench/bench_train.py` on {record['date']}, {machine}."
        + (" QUICK settings (a test of the script, not a measurement)." if quick else ""),
        "Each run: an empty folder, the installed `vap train --config NAME` as a new user runs it (data generated,",
        "W&B offline), then `vap test` on the last checkpoint. Chance is 16.7% (6 classes).",
        "",
        "| config | epochs | val top-1 last | val top-1 best (epoch) | test top-1 clip / video | test top-5 | "
        "train wall | CPU time | clips/s | data share |",
        "|---|---|---|---|---|---|---|---|---|---|",
    ]
    for r in results:
        t = r["test"]
        lines.append(
            f"| `{r['config']}` | {r['epochs']} | **{100 * r['val_top1_last']:.1f}%** | "
            f"{100 * r['val_top1_best']:.1f}% ({r['best_epoch']}) | "
            f"**{100 * t.get('clip_top1', float('nan')):.1f}%** / {100 * t.get('video_top1', float('nan')):.1f}% | "
            f"{100 * t.get('clip_top5', float('nan')):.1f}% | "
            f"{r['train_wall_s'] // 60:.0f} min {r['train_wall_s'] % 60:.0f} s | "
            f"{r['train_cpu_s']:.0f} s | {r['clips_per_s']:.0f} | {100 * r['data_fraction']:.1f}% |"
        )
    lines += ["", "Validation top-1 after each epoch:", ""]
    lines += [f"- `{r['config']}`: " + ", ".join(f"{100 * v:.1f}" for v in r["val_top1_per_epoch"]) for r in results]
    write_atomic(out / "train.md", "\n".join(lines) + "\n")


def main(argv: list[str] | None = None) -> dict:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--configs", nargs="+", default=list(DEFAULT_CONFIGS))
    p.add_argument("--out", type=Path, default=REPO / "docs" / "bench")
    p.add_argument("--quick", action="store_true", help="1 epoch of 2 batches on tiny data: tests the script")
    p.add_argument("--keep", type=Path, help="copy each run's CSV folder here")
    args = p.parse_args(argv)
    results = [experiment(name, QUICK if args.quick else [], args.keep) for name in args.configs]
    write_report(results, args.out, describe_machine(), args.quick)
    return {"runs": results}


if __name__ == "__main__":
    main()
