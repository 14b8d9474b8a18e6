"""Are `vap score --window`'s segments right? Long videos with planted actions at known times, 3 seeds.

Per seed S: `moving-digits-timeline` of seed S (150-second videos of held-out handwriting, events of 6-14 s
of one endless move between 3-8 s of background, consecutive classes different; and 2-second clips of
the same world to train on); `vap train` with the default experiment's model and settings
(configs/moving_digits_lstm.yaml) on those clips, `--seed_everything S`; `vap score --window W --stride
S_ --threshold T` on the videos. Then, against truth.json:

- per-second accuracy: for every planted second (its centre inside an event), the label of the segment
  that covers it (none counts as wrong) equals the event's;
- boundaries: for every event, the segments of its label that overlap it, taken together; the error of
  their first start and last end against the event's, in seconds, and the share within one stride;
- false alarms: seconds of background covered by a segment.

    .venv/bin/python scripts/bench/bench_segments.py               # writes docs/bench/segments.md and .json
    .venv/bin/python scripts/bench/bench_segments.py --quick --out /tmp/seg   # one seed, 2 epochs, minutes
    .venv/bin/python scripts/bench/bench_segments.py --reuse   # score again with the checkpoints in --work
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import subprocess
import sys
import time
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from pipeline.env import provenance

REPO = Path(__file__).resolve().parents[2]


@dataclass
class BenchConfig:
    seeds: list[int] = field(default_factory=lambda: [0, 1, 2])
    epochs: int = 15
    lr: float = 0.001  # the default 0.003 left down and up apart at chance on seed 1 (clip top-1 0.80 at 10 epochs)
    # a training whose top-1 on the held-out clips (never the long videos) stays under `gate` is done again with
    # another training seed (seed + 1000 k), at most `attempts` times in all, as a user would; every try is reported
    gate: float = 0.95
    attempts: int = 3
    backbone: str = "tiny"  # the config's; `--backbone mc3_18`: the clip backbone (3D convolutions), random init
    train_clips: int = 1200  # 2-second clips to train on, a fifth of them background
    val_clips: int = 200
    videos: int = 3
    seconds: float = 150.0
    window: float = 2.0  # the training clips' length
    stride: float = 1.0
    threshold: float = 0.5  # vap score's default


def vap(*args: str, cwd: Path) -> None:
    done = subprocess.run([sys.executable, "-m", "pipeline.cli", *args], cwd=cwd, capture_output=True, text=True)
    if done.returncode != 0:
        raise SystemExit(f"vap {args[0]} failed:\n{done.stderr[-3000:]}")


def val_top1(root: Path) -> float | None:
    """The last validation top-1 of the run under `root` (its CSV metrics): how good the classifier is on
    clips, before any window."""
    import csv

    for metrics in root.glob("runs/csv/version_*/metrics.csv"):
        with open(metrics) as f:
            rows = [r for r in csv.DictReader(f) if r.get("val/top1")]
        return round(float(rows[-1]["val/top1"]), 4) if rows else None
    return None


def train(root: Path, data: Path, seed: int, cfg: BenchConfig, reuse: bool = False) -> Path:
    """The default experiment's model and settings, on the maker's short clips, trained with `seed` in `root`
    (with `reuse`, the checkpoint an earlier run of this script left there, if there is one)."""
    if reuse and (found := sorted(root.glob("runs/csv/version_*/checkpoints/last.ckpt"))):
        return found[-1]
    shutil.rmtree(root / "runs", ignore_errors=True)
    root.mkdir(parents=True, exist_ok=True)
    vap(
        "train",
        "--config",
        str(REPO / "configs" / "moving_digits_lstm.yaml"),
        "--seed_everything",
        str(seed),
        "--trainer.max_epochs",
        str(cfg.epochs),
        "--model.lr",
        str(cfg.lr),
        "--model.backbone",
        cfg.backbone,
        "--data.make",
        "null",
        "--data.train",
        str(data / "train.txt"),
        "--data.val",
        str(data / "val.txt"),
        "--data.test",
        str(data / "val.txt"),
        "--trainer.enable_progress_bar",
        "false",
        cwd=root,
    )
    (ckpt,) = root.glob("runs/csv/version_*/checkpoints/last.ckpt")
    return ckpt


def train_until_good(
    root: Path, data: Path, seed: int, cfg: BenchConfig, reuse: bool
) -> tuple[Path, float | None, list]:
    """Train with `seed`; while the held-out clips' top-1 stays under the gate, again with seed + 1000 k. The
    accepted checkpoint (or the best one, if none passes) and every try as (training seed, top-1)."""
    tries: list[tuple[int, float | None, Path]] = []
    for k in range(cfg.attempts):
        where = root if k == 0 else root / f"retry{k}"
        ckpt = train(where, data, seed + 1000 * k, cfg, reuse)
        tries.append((seed + 1000 * k, val_top1(where), ckpt))
        if (tries[-1][1] or 0.0) >= cfg.gate:
            break
    best = max(tries, key=lambda t: t[1] or 0.0) if (tries[-1][1] or 0.0) < cfg.gate else tries[-1]
    return best[2], best[1], [[s, top1] for s, top1, _ in tries]


def evaluate(record: dict[str, Any], truth: dict[str, Any], stride: float) -> dict[str, Any]:
    """Per-second hits, boundary errors and false-alarm seconds of one video."""
    segs, events = record["segments"], truth["events"]

    segs = [s for s in segs if s["label"] != "background"]  # the trained "nothing happens" class

    def label_at(t: float) -> str | None:
        hits = [s for s in segs if s["start"] <= t < s["end"]]
        return hits[0]["label"] if hits else None  # segments of consecutive windows may overlap by a stride

    planted = hit = 0
    for e in events:
        for sec in np.arange(e["start"], e["end"] - 0.5 + 1e-9, 1.0):
            planted += 1
            hit += label_at(sec + 0.5) == e["label"]
    errors, found = [], 0
    for e in events:
        mine = [s for s in segs if s["label"] == e["label"] and s["start"] < e["end"] and s["end"] > e["start"]]
        if mine:
            found += 1
            errors += [abs(min(s["start"] for s in mine) - e["start"]), abs(max(s["end"] for s in mine) - e["end"])]
    background = [
        t + 0.5 for t in range(int(truth["duration"])) if not any(e["start"] <= t + 0.5 < e["end"] for e in events)
    ]
    false_alarm = sum(label_at(t) is not None for t in background)
    return {
        "planted_seconds": planted,
        "right_seconds": hit,
        "events": len(events),
        "events_found": found,
        "boundary_errors": errors,
        "background_seconds": len(background),
        "false_alarm_seconds": false_alarm,
    }


def run_seed(
    root: Path, seed: int, cfg: BenchConfig, reuse: bool = False, data_dir: Path | None = None
) -> dict[str, Any]:
    from pipeline.data.digit_timeline import make_timeline
    from pipeline.data.records import read_journal

    root.mkdir(parents=True, exist_ok=True)
    data = make_timeline(
        data_dir or root / "timeline",
        seed=seed,
        num_videos=cfg.videos,
        seconds=cfg.seconds,
        progress=False,
        num_train=cfg.train_clips,
        num_val=cfg.val_clips,
    )
    t0 = time.perf_counter()
    reused = reuse and any(root.glob("runs/csv/version_*/checkpoints/last.ckpt"))
    ckpt, top1, tries = train_until_good(root, data, seed, cfg, reuse)
    t_train = None if reused else time.perf_counter() - t0
    truth = json.loads((data / "truth.json").read_text())
    out = root / "segments.jsonl"
    for f in (out, out.with_name("segments.jsonl.run.json")):
        f.unlink(missing_ok=True)
    t0 = time.perf_counter()
    vap(
        "score",
        "--checkpoint",
        str(ckpt),
        str(data / "videos"),
        "--out",
        str(out),
        "--window",
        str(cfg.window),
        "--stride",
        str(cfg.stride),
        "--threshold",
        str(cfg.threshold),
        "--plot",
        str(root / "plots"),
        cwd=root,
    )
    t_score = time.perf_counter() - t0
    per_video = {}
    for rec in read_journal(out):
        per_video[Path(rec["path"]).name] = evaluate(rec, truth[Path(rec["path"]).name], cfg.stride)
    total = {
        k: sum(v[k] for v in per_video.values())
        for k in (
            "planted_seconds",
            "right_seconds",
            "events",
            "events_found",
            "background_seconds",
            "false_alarm_seconds",
        )
    }
    errors = [e for v in per_video.values() for e in v["boundary_errors"]]
    return {
        "seed": seed,
        "train_seconds": None if t_train is None else round(t_train, 1),
        "val_top1": top1,
        "training_tries": tries,
        "score_seconds": round(t_score, 1),
        "per_second_accuracy": round(total["right_seconds"] / total["planted_seconds"], 4),
        "boundary_error_mean": round(float(np.mean(errors)), 3) if errors else None,
        "boundary_error_median": round(float(np.median(errors)), 3) if errors else None,
        "boundaries_within_one_stride": round(float(np.mean(np.array(errors) <= cfg.stride + 1e-9)), 4)
        if errors
        else None,
        "events_found": f"{total['events_found']}/{total['events']}",
        "false_alarm_share": round(total["false_alarm_seconds"] / max(1, total["background_seconds"]), 4),
        "videos": per_video,
    }


def report(results: list[dict[str, Any]], cfg: BenchConfig, prov: dict[str, str]) -> str:
    def f(x: float | None, digits: int = 3) -> str:
        return "-" if x is None else f"{x:.{digits}f}"

    def tries(r: dict[str, Any]) -> str:
        return ", ".join(f"{s}: {f(t)}" for s, t in r.get("training_tries") or [[r["seed"], r["val_top1"]]])

    rows = "\n".join(
        f"| {r['seed']} | {tries(r)} | {f(r['val_top1'])} | {f(r['per_second_accuracy'])} | {f(r['boundaries_within_one_stride'])} | "
        f"{f(r['boundary_error_mean'], 2)} / {f(r['boundary_error_median'], 2)} | {r['events_found']} | "
        f"{f(r['false_alarm_share'])} |"
        for r in results
    )
    acc = [r["per_second_accuracy"] for r in results]
    within = [r["boundaries_within_one_stride"] or 0.0 for r in results]
    model = ("a tiny CNN per frame" if cfg.backbone == "tiny" else
             f"the clip backbone `{cfg.backbone}` (3D convolutions over the clip, randomly initialised) in place of its tiny CNN per frame")  # fmt: skip
    return f"""# Segments of `vap score --window` on long videos with planted actions

Command: `{prov["command"]}` ({prov["date"]})

Per seed: the default experiment's model and settings (`configs/moving_digits_lstm.yaml`: {model}, an
LSTM with attention, TSN-8 sampling, 32 px) at learning rate {cfg.lr:g}, trained for {cfg.epochs}
epochs on the maker's {cfg.train_clips} short clips of that seed (2 s of a digit moving right, left, down or up
on a wrapping canvas, or of `background`; two in five across an event's start or end, labelled by what
covers most of the clip). A training whose top-1 on the {cfg.val_clips} held-out clips stays under {cfg.gate:g} is
done again with another training seed (the seed + 1000), at most {cfg.attempts} tries, as a user who checks the
validation accuracy would; the long videos play no part in that choice, and every try is in the table.
Some trainings never learn to tell moving down from moving up (top-1 about 0.8: those two at chance, the
others right; seen with training seed 1 at learning rates 0.003 and 0.001, and with CBAM or 16 frames per
clip added, for 12-15 epochs), never left from right.
Then {cfg.videos} `moving-digits-timeline` videos of that seed, {cfg.seconds:g} s each at
8 fps (held-out handwriting; events of 6-14 s of one move between 3-8 s of background; consecutive classes
different), scored with `vap score --window {cfg.window:g} --stride {cfg.stride:g} --threshold {cfg.threshold:g}`.
A planted second is right when the segment covering its centre has the event's label (segments labelled
`background` count as none); an event's boundaries are the first start and last end of the segments of
its label that overlap it; false alarms are background seconds inside a segment of a move.

| seed | trainings (training seed: top-1 on held-out clips) | the checkpoint's top-1 on held-out clips | per-second accuracy | boundaries within one stride ({cfg.stride:g} s) | boundary error mean / median (s) | events found | false-alarm share of background |
|---|---|---|---|---|---|---|---|
{rows}

Over the seeds: per-second accuracy {min(acc):.3f}-{max(acc):.3f} (median {np.median(acc):.3f}); boundaries
within one stride {min(within):.3f}-{max(within):.3f}. Targets (issue): boundaries within one stride of the
truth, labels right for at least 90% of the planted seconds.

Per-video figures and timings are in `segments.json`. Machine: {prov["machine"]}.
"""


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--out", type=Path, default=REPO / "docs" / "bench")
    p.add_argument("--work", type=Path, default=Path("/tmp/vap-bench-segments"))
    p.add_argument("--quick", action="store_true", help="one seed, 2 epochs, one 60 s video")
    p.add_argument("--seeds", type=int, nargs="+", default=None, help="seeds (default: 0 1 2)")
    p.add_argument("--backbone", default=None, help="instead of the config's tiny CNN (e.g. mc3_18, a clip backbone)")
    p.add_argument("--epochs", type=int, default=None, help="training epochs (default: 15)")
    p.add_argument("--name", default="segments", help="report name under --out (default: %(default)s)")
    p.add_argument(
        "--reuse",
        action="store_true",
        help="score again with the checkpoints an earlier run left in --work (no training)",
    )
    p.add_argument("--report-only", action="store_true", help="write the Markdown report again from --out's JSON")
    args = p.parse_args()
    if args.report_only:  # the report's wording changed, not its figures
        saved = json.loads((args.out / "segments.json").read_text())
        cfg = BenchConfig(**saved["config"])
        for r in saved["results"]:
            r.setdefault("val_top1", None)
        (args.out / "segments.md").write_text(report(saved["results"], cfg, saved["provenance"]))
        return
    cfg = (
        BenchConfig(seeds=[0], epochs=2, videos=1, seconds=60.0, train_clips=100, val_clips=20)
        if args.quick
        else BenchConfig()
    )
    if args.seeds:
        cfg.seeds = args.seeds
    if args.backbone:
        cfg.backbone = args.backbone
    if args.epochs:
        cfg.epochs = args.epochs
    results = []
    for seed in cfg.seeds:
        work = args.work if cfg.backbone == "tiny" else args.work / cfg.backbone  # the data is shared
        data = args.work / f"seed{seed}" / "timeline"
        results.append(run_seed(work / f"seed{seed}", seed, cfg, reuse=args.reuse, data_dir=data))
        print(json.dumps({k: v for k, v in results[-1].items() if k != "videos"}), flush=True)
    prov = provenance("bench/bench_segments.py")
    args.out.mkdir(parents=True, exist_ok=True)
    name = f"{args.name}_quick" if args.quick else args.name
    (args.out / f"{name}.json").write_text(
        json.dumps({"config": asdict(cfg), "results": results, "provenance": prov}, indent=1) + "\n"
    )
    (args.out / f"{name}.md").write_text(report(results, cfg, prov))
    print(f"wrote {args.out / name}.md", file=sys.stderr)


if __name__ == "__main__":
    os.environ.setdefault("WANDB_MODE", "offline")
    os.environ.setdefault("WANDB_SILENT", "true")
    main()
