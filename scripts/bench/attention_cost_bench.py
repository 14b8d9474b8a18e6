"""What does each attention type cost? Parameters, FLOPs and CPU forward time against the plain backbone.

For each backbone and attention type (inserted at the backbone's default stages, the last two), the
model is built without pretrained weights and run in eval mode under `torch.no_grad`:

    params: counted; FLOPs: torch.utils.flop_counter.FlopCounterMode over one forward pass;
    time: every round runs each model once, in a shuffled order, after a warm-up; the ratio to the plain
    backbone is taken within each round and the median over rounds is reported.

Wall-clock time on a shared CPU is noisy; pairing each variant with the plain backbone inside the same
round, and taking medians, keeps the slow drifts of the machine's load out of the ratio. Writes
attention_cost.md and .json to --out.

    .venv/bin/python scripts/bench/attention_cost_bench.py          # resnet18 at 224x224, batch 8, + mobilenet_v2
    .venv/bin/python scripts/bench/attention_cost_bench.py --quick  # smoke run (seconds)
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import os
import random
import shlex
import statistics
import sys
import time
from dataclasses import asdict, dataclass, field
from pathlib import Path

import torch
from torch import nn
from torch.utils.flop_counter import FlopCounterMode

from pipeline.env import describe_machine
from pipeline.models.backbones import build_backbone

REPO = Path(__file__).resolve().parents[2]
ATTENTION_TYPES: tuple[str, ...] = ("none", "se", "cbam", "eca", "stn", "residual", "nonlocal")
# Types measured per backbone; the lighter backbones get the two most common gates only.
DEFAULT_PLAN: dict[str, list[str]] = {"resnet18": list(ATTENTION_TYPES), "mobilenet_v2": ["none", "se", "cbam"]}
TARGET = {"backbone": "resnet18", "attention": ["se", "cbam"], "max_extra_time": 0.15}


@dataclass
class BenchConfig:
    """Everything that decides the numbers; stored in the JSON."""

    plan: dict[str, list[str]] = field(default_factory=lambda: {k: list(v) for k, v in DEFAULT_PLAN.items()})
    size: int = 224
    batch: int = 8
    repeats: int = 30  # timed rounds
    warmup: int = 3  # untimed rounds first
    threads: int = 1
    seed: int = 0


QUICK = {"plan": {"resnet18": list(ATTENTION_TYPES)}, "size": 64, "batch": 2, "repeats": 2, "warmup": 1}


@dataclass
class CostRow:
    """One backbone with one attention type."""

    backbone: str
    attention: str
    stages: list[int]
    params: int
    extra_params: float  # relative to the plain backbone
    flops: int  # one forward pass of the whole batch, as FlopCounterMode counts them (2 per multiply-add)
    extra_flops: float
    ms_median: float  # one forward pass of the batch
    time_ratio: float  # median over rounds of (variant time / plain time in the same round)
    ratio_q1: float
    ratio_q3: float
    times_ms: list[float]


def count_flops(model: nn.Module, x: torch.Tensor) -> int:
    with torch.no_grad(), FlopCounterMode(display=False) as counter:
        model(x)
    return int(counter.get_total_flops())


def forward_ms(model: nn.Module, x: torch.Tensor) -> float:
    with torch.no_grad():
        start = time.perf_counter()
        model(x)
        return 1000 * (time.perf_counter() - start)


def quartiles(values: list[float]) -> tuple[float, float, float]:
    if len(values) < 2:
        return values[0], values[0], values[0]
    q1, q2, q3 = statistics.quantiles(values, n=4, method="inclusive")
    return q1, q2, q3


def bench_backbone(name: str, attention: list[str], cfg: BenchConfig, *, advance=None) -> list[CostRow]:
    """Measure every type in `attention` (plus `none`) on one backbone; timing rounds interleave them all."""
    names = ["none", *[a for a in attention if a != "none"]]
    torch.manual_seed(cfg.seed)
    models = {a: build_backbone(name, weights=None, attention=a).eval() for a in names}
    x = torch.randn(cfg.batch, 3, cfg.size, cfg.size)
    flops = {a: count_flops(m, x) for a, m in models.items()}
    params = {a: sum(p.numel() for p in m.parameters()) for a, m in models.items()}
    rng = random.Random(cfg.seed)
    times: dict[str, list[float]] = {a: [] for a in names}
    for r in range(cfg.warmup + cfg.repeats):
        order = names[:]
        rng.shuffle(order)
        for a in order:
            ms = forward_ms(models[a], x)
            if r >= cfg.warmup:
                times[a].append(ms)
            if advance is not None:
                advance()
    rows = []
    for a in names:
        ratios = [t / p for t, p in zip(times[a], times["none"], strict=True)]
        q1, med, q3 = quartiles(ratios)
        rows.append(
            CostRow(
                backbone=name,
                attention=a,
                stages=sorted(int(k) for k in models[a].attention),
                params=params[a],
                extra_params=params[a] / params["none"] - 1,
                flops=flops[a],
                extra_flops=flops[a] / flops["none"] - 1,
                ms_median=statistics.median(times[a]),
                time_ratio=med,
                ratio_q1=q1,
                ratio_q3=q3,
                times_ms=times[a],
            )
        )
    return rows


def target_check(rows: list[dict]) -> dict:
    """Is the extra forward time of SE and CBAM on resnet18 within the target?"""
    found = {
        r["attention"]: r["time_ratio"] - 1
        for r in rows
        if r["backbone"] == TARGET["backbone"] and r["attention"] in TARGET["attention"]
    }
    met = bool(found) and all(v <= TARGET["max_extra_time"] for v in found.values())
    return {**TARGET, "extra_time": found, "met": met}


def to_markdown(report: dict) -> str:
    cfg, check = report["config"], report["target"]
    lines = [
        "# Attention cost: parameters, FLOPs, CPU forward time",
        "",
        f"- Date: {report['date']}",
        f"- Machine: {report['machine']}; torch {report['torch']}, {cfg['threads']} thread(s); "
        f"load average at start {report['load_average']}",
        f"- Command: `{report['command']}`",
        f"- Input: batch {cfg['batch']} x 3 x {cfg['size']} x {cfg['size']}, eval mode, `torch.no_grad`, "
        f"no pretrained weights; attention at each backbone's default stages (the last two). "
        f"{cfg['warmup']} warm-up rounds, then {cfg['repeats']} timed rounds; each round runs every model "
        "of a backbone once in a shuffled order.",
        f"- Wall time: {report['seconds']:.0f} s in total.",
        "",
        "| backbone | attention | stages | params (M) | + params | GFLOPs / image | + FLOPs "
        f"| forward ms, batch {cfg['batch']} (median) | time ratio vs none (median) | ratio IQR |",
        "|---|---|---|---:|---:|---:|---:|---:|---:|---|",
    ]
    for r in report["rows"]:
        lines.append(
            f"| {r['backbone']} | {r['attention']} | {','.join(map(str, r['stages'])) or '-'} "
            f"| {r['params'] / 1e6:.3f} | {100 * r['extra_params']:+.1f}% | {r['flops'] / cfg['batch'] / 1e9:.3f} "
            f"| {100 * r['extra_flops']:+.2f}% | {r['ms_median']:.1f} | {r['time_ratio']:.3f} "
            f"| {r['ratio_q1']:.3f}-{r['ratio_q3']:.3f} |"
        )
    extra = ", ".join(f"{a} {100 * v:+.1f}%" for a, v in check["extra_time"].items()) or "not measured"
    lines += [
        "",
        f"Target: {' and '.join(check['attention'])} add at most {check['max_extra_time']:.0%} forward time on "
        f"{check['backbone']}. Measured (median ratio - 1): {extra}. "
        f"**{'Met' if check['met'] else 'Not met'}.**",
        "",
        "Notes:",
        "- FLOPs are what `torch.utils.flop_counter.FlopCounterMode` counts: convolutions and matrix "
        "products, 2 per multiply-add. Element-wise work (the gating multiplications, sigmoid, pooling, "
        "softmax, `grid_sample`, interpolation) is not counted, so the gates look nearly free in FLOPs; "
        "the time column is where their memory traffic shows.",
        "- Noise: the machine is shared and wall-clock times drift with other jobs' load. The ratio is "
        "taken between models timed in the same round, then the median over rounds is reported; the "
        "IQR column shows the spread of those per-round ratios. Differences of a few percent are within "
        "that spread; re-run for a second opinion before trusting them.",
    ]
    return "\n".join(lines) + "\n"


def run_bench(cfg: BenchConfig, out: Path, *, command: str, progress: bool = True) -> dict:
    """Measure every backbone in the plan; write the Markdown and JSON to `out`; return the report."""
    from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn

    for name, types in cfg.plan.items():
        unknown = [a for a in types if a not in ATTENTION_TYPES]
        if unknown:
            raise ValueError(f"{name}: unknown attention {unknown}; allowed: {', '.join(ATTENTION_TYPES)}")
    torch.set_num_threads(cfg.threads)
    start = time.perf_counter()
    date = dt.datetime.now().astimezone().isoformat(timespec="seconds")
    load = [round(v, 2) for v in os.getloadavg()] if hasattr(os, "getloadavg") else None
    rows: list[CostRow] = []
    columns = (TextColumn("{task.description}"), BarColumn(), MofNCompleteColumn(), TimeElapsedColumn())
    with Progress(*columns, disable=not progress) as bar:
        for name, types in cfg.plan.items():
            n = len({"none", *types})
            task = bar.add_task(f"{name} forward passes", total=n * (cfg.warmup + cfg.repeats))
            new = bench_backbone(name, types, cfg, advance=lambda task=task: bar.advance(task))
            rows += new
            for r in new:
                bar.console.print(
                    f"{name:>12} {r.attention:>8}: params {r.params / 1e6:6.3f}M  GFLOPs {r.flops / 1e9:7.3f}  "
                    f"{r.ms_median:7.1f} ms  ratio {r.time_ratio:.3f}"
                )
    row_dicts = [asdict(r) for r in rows]
    report = {
        "date": date,
        "machine": describe_machine(),
        "load_average": load,
        "torch": torch.__version__,
        "command": command,
        "config": asdict(cfg),
        "seconds": time.perf_counter() - start,
        "target": target_check(row_dicts),
        "rows": row_dicts,
    }
    out.mkdir(parents=True, exist_ok=True)
    (out / "attention_cost.json").write_text(json.dumps(report, indent=2) + "\n")
    (out / "attention_cost.md").write_text(to_markdown(report))
    return report


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    d = BenchConfig()
    p = argparse.ArgumentParser(
        description=(
            "Measure what each attention type costs when inserted into a backbone: parameters, FLOPs "
            "(torch's FlopCounterMode) and CPU forward time as the median ratio to the plain backbone over "
            "interleaved rounds. By default resnet18 with every type and mobilenet_v2 with se and cbam. "
            "Writes attention_cost.md and .json to --out."
        )
    )
    p.add_argument("--out", type=Path, default=REPO / "docs" / "bench", help="output folder (default: docs/bench)")
    p.add_argument("--quick", action="store_true", help="smoke run: resnet18 at 64x64, batch 2, 2 rounds")
    p.add_argument(
        "--backbones",
        nargs="+",
        help=f"backbones to measure (default: {' '.join(d.plan)}); each gets every type in --attention",
    )
    p.add_argument("--attention", nargs="+", choices=ATTENTION_TYPES, help="attention types (default: per backbone)")
    p.add_argument("--size", type=int, help=f"input side in pixels (default: {d.size})")
    p.add_argument("--batch", type=int, help=f"batch size (default: {d.batch})")
    p.add_argument("--repeats", type=int, help=f"timed rounds (default: {d.repeats})")
    p.add_argument("--warmup", type=int, help=f"untimed warm-up rounds (default: {d.warmup})")
    p.add_argument("--threads", type=int, help=f"torch CPU threads (default: {d.threads})")
    p.add_argument("--no-progress", action="store_true", help="no progress bar")
    return p.parse_args(argv)


def config_from_args(args: argparse.Namespace) -> BenchConfig:
    values: dict = dict(QUICK) if args.quick else {}
    plan = values.get("plan", BenchConfig().plan)
    if args.backbones:
        plan = {b: list(plan.get(b, ATTENTION_TYPES)) for b in args.backbones}
    if args.attention:
        plan = {b: list(args.attention) for b in plan}
    values["plan"] = plan
    for key in ("size", "batch", "repeats", "warmup", "threads"):
        if getattr(args, key) is not None:
            values[key] = getattr(args, key)
    return BenchConfig(**values)


def main(argv: list[str] | None = None) -> dict:
    argv = sys.argv[1:] if argv is None else argv
    args = parse_args(argv)
    command = shlex.join(["python", "scripts/bench/attention_cost_bench.py", *argv])
    report = run_bench(config_from_args(args), args.out, command=command, progress=not args.no_progress)
    print(f"wrote {args.out / 'attention_cost.md'} and .json in {report['seconds']:.0f} s")
    return report


if __name__ == "__main__":
    main()
