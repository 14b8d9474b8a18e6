"""Does attention help where it should? Every attention type, trained on cluttered Fashion-MNIST (CPU).

The task is the Recurrent Attention Model's cluttered-translated protocol (Mnih et al., NIPS 2014) on
Fashion-MNIST: one 28x28 garment at a random place on a 60x60 canvas, among 8x8 crops of other
garments. A plain CNN that averages its last feature map over the whole canvas pools clutter together
with the object, so this is where spatial attention (cbam, residual, stn, nonlocal) should pay off.

    canvas (B, 1, S, S) -> tiny backbone [+ attention after chosen stages] -> pooled (B, D) -> linear -> 10 classes

Every variant gets the same budget: the same canvases, epochs, batch size, AdamW and learning-rate
schedule; each seed draws its own canvases and initialisation, shared by all variants, so differences
against `none` are paired. Besides test accuracy, the script measures whether the attention looks at
the object: the weight an object location gets over the weight a background location gets (1 = no
preference). Writes attention_learning.md and .json to --out (default: results/ beside this script).

    .venv/bin/python scripts/research/image_attention/attention_learning_check.py          # full table (20-25 min)
    .venv/bin/python scripts/research/image_attention/attention_learning_check.py --quick  # smoke run (< 1 min)
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import math
import shlex
import statistics
import sys
import time
from dataclasses import asdict, dataclass, field
from pathlib import Path

import torch
import torch.nn.functional as F
from fashion_mnist import DEFAULT_ROOT, Cluttered, load_fashion_mnist, make_cluttered
from torch import nn

from pipeline.env import describe_machine
from pipeline.layers import AttentionMaps, collect_attention
from pipeline.models.backbones import Backbone, tiny

RESULTS = Path(__file__).resolve().parent / "results"
SCRIPT = "scripts/research/image_attention/attention_learning_check.py"
ATTENTION_TYPES: tuple[str, ...] = ("none", "se", "cbam", "eca", "stn", "residual", "nonlocal")
# Where each type goes in the tiny backbone (stages 0..3 at 1, 1/2, 1/4, 1/8 of the canvas). Channel
# gates and masks on the last two stages (the backbone's default); the spatial transformer early, on
# the 1/2-resolution map, so it can crop the object before most of the network sees the canvas;
# non-local only on the last, smallest map (an N x N attention over its 8x8 positions).
STAGES: dict[str, list[int]] = {
    "none": [],
    "se": [2, 3],
    "cbam": [2, 3],
    "eca": [2, 3],
    "stn": [1],
    "residual": [2, 3],
    "nonlocal": [3],
}
_MEAN, _STD = 0.1, 0.25  # rough pixel statistics of the cluttered canvases (mostly black)


@dataclass
class CheckConfig:
    """Everything that decides the numbers; stored in the JSON."""

    train: int = 8000
    test: int = 2000
    size: int = 60
    clutter: int = 8
    width: int = 16
    epochs: int = 2
    batch_size: int = 64
    lr: float = 3e-3
    weight_decay: float = 0.05
    warmup: float = 0.05  # share of steps with a linear warm-up, then cosine decay to 0
    seeds: list[int] = field(default_factory=lambda: [0, 1, 2])
    attention: list[str] = field(default_factory=lambda: list(ATTENTION_TYPES))
    threads: int = 1
    root: str = str(DEFAULT_ROOT)


QUICK = {"train": 1024, "test": 512, "size": 40, "clutter": 4, "epochs": 3, "seeds": [0]}


@dataclass
class RunResult:
    """One attention type, one seed."""

    attention: str
    seed: int
    stages: list[int]
    params: int
    test_accuracy: float
    epoch_losses: list[float]  # mean training loss per epoch
    first_loss: float  # mean over the first 10 steps
    last_loss: float  # mean over the last 10 steps
    object_ratio: dict[str, float]  # per attention stage: weight on object / weight on background
    seconds: float


class Classifier(nn.Module):
    """The tiny backbone on a greyscale canvas, and a linear classifier on its pooled feature."""

    def __init__(self, attention: str, stages: list[int], *, width: int, num_classes: int = 10) -> None:
        super().__init__()
        stem, body = tiny(width=width)
        self.backbone = Backbone("tiny", stem, body, attention=attention, attention_stages=stages)
        self.head = nn.Linear(self.backbone.out_channels, num_classes)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x = x.expand(-1, 3, -1, -1).contiguous(memory_format=torch.channels_last)  # (B, 3, S, S)
        return self.head(self.backbone.forward_features(x).pooled)  # (B, classes)


def to_input(images: torch.Tensor) -> torch.Tensor:
    """uint8 (B, S, S) -> normalised float (B, 1, S, S)."""
    return (images[:, None].float() / 255.0 - _MEAN) / _STD


def object_mask(boxes: torch.Tensor, size: int, h: int, w: int) -> torch.Tensor:
    """(B, h, w) bool: which cells of an h x w map have their centre inside the object box."""
    ys = (torch.arange(h) + 0.5) * size / h  # (h,) centre of each row, in canvas pixels
    xs = (torch.arange(w) + 0.5) * size / w
    top, left, bottom, right = (boxes[:, i, None] for i in range(4))  # (B, 1) each
    in_y = (ys[None] >= top) & (ys[None] < bottom)  # (B, h)
    in_x = (xs[None] >= left) & (xs[None] < right)  # (B, w)
    return in_y[:, :, None] & in_x[:, None, :]  # (B, h, w)


def object_weight(maps: AttentionMaps, boxes: torch.Tensor, size: int) -> tuple[float, float] | None:
    """Summed attention weight on object and on background locations, each divided by its area.

    Spatial gates: the gate value. Non-local: the attention each position receives, averaged over
    the queries. Spatial transformer: how densely the warp samples each part of the canvas.
    Channel-only layers (se, eca) have no spatial weights: None.
    """
    if maps.spatial is not None:
        weights = maps.spatial[:, 0]  # (B, h, w)
        inside = object_mask(boxes, size, *weights.shape[-2:])  # (B, h, w)
    elif maps.positions is not None:
        n = maps.positions.shape[-1]
        side = math.isqrt(n)
        weights = maps.positions.mean(dim=1).view(-1, side, side)  # (B, h, w) received by each key
        inside = object_mask(boxes, size, side, side)
    elif maps.theta is not None:
        grid = F.affine_grid(maps.theta, [len(boxes), 1, size, size], align_corners=False)  # (B, S, S, 2)
        pix = (grid + 1) * size / 2  # (B, S, S, 2) sampled points in canvas pixels (x, y)
        top, left, bottom, right = (boxes[:, i, None, None] for i in range(4))  # (B, 1, 1)
        hit = (pix[..., 1] >= top) & (pix[..., 1] < bottom) & (pix[..., 0] >= left) & (pix[..., 0] < right)
        box_area = ((bottom - top) * (right - left)).float()[:, 0, 0] / size**2  # (B,) share of the canvas
        on = hit.float().mean(dim=(1, 2))  # (B,) share of samples on the object
        return float((on / box_area).sum()), float(((1 - on) / (1 - box_area)).sum())
    else:
        return None
    inside = inside.float()
    on = (weights * inside).sum(dim=(1, 2)) / inside.sum(dim=(1, 2)).clamp(min=1)  # (B,)
    off = (weights * (1 - inside)).sum(dim=(1, 2)) / (1 - inside).sum(dim=(1, 2)).clamp(min=1)  # (B,)
    return float(on.sum()), float(off.sum())


def make_data(cfg: CheckConfig, seed: int) -> tuple[Cluttered, Cluttered]:
    """Training canvases from the training images, test canvases from the test images; own seed each."""
    kw = {"size": cfg.size, "clutter": cfg.clutter}
    train = make_cluttered(*load_fashion_mnist("train", cfg.root), cfg.train, seed=2 * seed, **kw)
    test = make_cluttered(*load_fashion_mnist("test", cfg.root), cfg.test, seed=2 * seed + 1, **kw)
    return train, test


def train_eval(
    attention: str, train: Cluttered, test: Cluttered, cfg: CheckConfig, *, seed: int, advance=None
) -> RunResult:
    """Train one variant from scratch and evaluate it; `advance()` is called after every step."""
    torch.manual_seed(seed)
    stages = STAGES[attention]
    model = Classifier(attention, stages, width=cfg.width).to(memory_format=torch.channels_last)
    params = sum(p.numel() for p in model.parameters())
    opt = torch.optim.AdamW(model.parameters(), lr=cfg.lr, weight_decay=cfg.weight_decay)
    steps_per_epoch = math.ceil(cfg.train / cfg.batch_size)
    total = steps_per_epoch * cfg.epochs
    warm = max(1, int(cfg.warmup * total))
    sched = torch.optim.lr_scheduler.LambdaLR(
        opt, lambda s: min(1.0, (s + 1) / warm) * 0.5 * (1 + math.cos(math.pi * min(1.0, s / total)))
    )
    images, labels = torch.from_numpy(train.images), torch.from_numpy(train.labels)
    gen = torch.Generator().manual_seed(seed)
    start = time.perf_counter()
    losses: list[float] = []
    epoch_losses = []
    model.train()
    for _ in range(cfg.epochs):
        order = torch.randperm(cfg.train, generator=gen)
        epoch = []
        for b in range(steps_per_epoch):
            idx = order[b * cfg.batch_size : (b + 1) * cfg.batch_size]
            loss = F.cross_entropy(model(to_input(images[idx])), labels[idx])
            opt.zero_grad(set_to_none=True)
            loss.backward()
            opt.step()
            sched.step()
            epoch.append(loss.item())
            if advance is not None:
                advance()
        losses += epoch
        epoch_losses.append(statistics.fmean(epoch))

    model.eval()
    correct = 0
    on_off: dict[str, list[float]] = {}
    with torch.no_grad():
        for b in range(0, cfg.test, 256):
            x = to_input(torch.from_numpy(test.images[b : b + 256]))
            correct += int((model(x).argmax(1) == torch.from_numpy(test.labels[b : b + 256])).sum())
            boxes = torch.from_numpy(test.boxes[b : b + 256])
            for name, maps in collect_attention(model).items():
                w = object_weight(maps, boxes, cfg.size)
                if w is not None:
                    acc = on_off.setdefault(f"stage{name.rsplit('.', 1)[-1]}", [0.0, 0.0])
                    acc[0] += w[0]
                    acc[1] += w[1]
    return RunResult(
        attention=attention,
        seed=seed,
        stages=stages,
        params=params,
        test_accuracy=correct / cfg.test,
        epoch_losses=epoch_losses,
        first_loss=statistics.fmean(losses[:10]),
        last_loss=statistics.fmean(losses[-10:]),
        object_ratio={k: on / off for k, (on, off) in on_off.items()},
        seconds=time.perf_counter() - start,
    )


def summarize(runs: list[RunResult], attention: list[str]) -> list[dict]:
    """Per type: accuracy mean and std over seeds, paired difference against `none` (same seed)."""
    base = {r.seed: r.test_accuracy for r in runs if r.attention == "none"}
    rows = []
    for name in attention:
        rs = [r for r in runs if r.attention == name]
        accs = [r.test_accuracy for r in rs]
        diffs = [r.test_accuracy - base[r.seed] for r in rs if r.seed in base]
        ratios: dict[str, list[float]] = {}
        for r in rs:
            for k, v in r.object_ratio.items():
                ratios.setdefault(k, []).append(v)
        row = {
            "attention": name,
            "stages": STAGES[name],
            "params": rs[0].params,
            "acc_mean": statistics.fmean(accs),
            "acc_std": statistics.stdev(accs) if len(accs) > 1 else 0.0,
            "diff_mean": statistics.fmean(diffs) if diffs and name != "none" else None,
            "diff_std": statistics.stdev(diffs) if len(diffs) > 1 and name != "none" else None,
            "wins": sum(d > 0 for d in diffs) if name != "none" else None,
            # median and range over seeds: one seed's sharply focused attention can be 100x the others
            "object_ratio": {k: [statistics.median(v), min(v), max(v)] for k, v in sorted(ratios.items())},
            "seconds_mean": statistics.fmean(r.seconds for r in rs),
            "n": len(rs),
        }
        row["verdict"] = verdict(row)
        rows.append(row)
    return rows


def verdict(row: dict) -> str:
    """'better' / 'worse' when the paired difference is beyond two standard errors, else 'within noise'."""
    if row["diff_mean"] is None:
        return "baseline"
    if row["diff_std"] is None:
        return "one seed: no verdict"
    se = row["diff_std"] / math.sqrt(row["n"])
    if abs(row["diff_mean"]) <= 2 * se:
        return "within noise"
    return "better" if row["diff_mean"] > 0 else "worse"


def fmt_range(median: float, low: float, high: float) -> str:
    return f"{median:.2f}" if low == high else f"{median:.2f} ({low:.2f}-{high:.2f})"


def to_markdown(report: dict) -> str:
    cfg = report["config"]
    n = len(cfg["seeds"])
    lines = [
        "# Attention learning check: cluttered Fashion-MNIST",
        "",
        f"Does inserting an attention layer into the `tiny` backbone (width {cfg['width']}) help on a task "
        "where it should? Each 28x28 Fashion-MNIST garment sits at a random place on a "
        f"{cfg['size']}x{cfg['size']} canvas among {cfg['clutter']} 8x8 crops of other garments (the "
        "Recurrent Attention Model's cluttered-translated protocol); a linear classifier reads the "
        "globally pooled feature.",
        "",
        f"- Date: {report['date']}",
        f"- Machine: {report['machine']}; torch {report['torch']}, {cfg['threads']} thread(s)",
        f"- Command: `{report['command']}`",
        f"- Budget, the same for every variant: {cfg['train']} training canvases, {cfg['epochs']} epochs, "
        f"batch {cfg['batch_size']}, AdamW (lr {cfg['lr']}, weight decay {cfg['weight_decay']}, "
        f"{cfg['warmup']:.0%} warm-up then cosine), {cfg['test']} test canvases from the test images; "
        f"{n} seed(s) ({', '.join(map(str, cfg['seeds']))}). Each seed draws its own canvases and "
        "initialisation, shared by all variants, so the difference against `none` is paired by seed.",
        f"- Wall time: {report['seconds'] / 60:.1f} min in total.",
        "",
        "| attention | stages | params | test acc % (mean ± std) | Δ vs none, points (paired) | seeds > none "
        "| verdict | object/background weight | s/run |",
        "|---|---|---:|---:|---:|---:|---|---|---:|",
    ]
    for r in report["summary"]:
        diff = "-" if r["diff_mean"] is None else f"{100 * r['diff_mean']:+.1f} ± {100 * (r['diff_std'] or 0):.1f}"
        wins = "-" if r["wins"] is None else f"{r['wins']}/{r['n']}"
        ratio = ", ".join(f"{k}: {fmt_range(*v)}" for k, v in r["object_ratio"].items()) or "-"
        stages = ",".join(map(str, r["stages"])) or "-"
        lines.append(
            f"| {r['attention']} | {stages} | {r['params']:,} | {100 * r['acc_mean']:.1f} ± {100 * r['acc_std']:.1f} "
            f"| {diff} | {wins} | {r['verdict']} | {ratio} | {r['seconds_mean']:.0f} |"
        )
    lines += [
        "",
        "Chance is 10%. Verdict: `better`/`worse` when the mean paired difference exceeds two standard "
        "errors (std / sqrt(seeds)), else `within noise`; with 3 seeds this is a coarse test, not a "
        "significance claim.",
        "",
        "Object/background weight: mean attention weight per object location over mean weight per "
        "background location on the test canvases (1 = no preference for the object); median over seeds, "
        "with the range in brackets. Spatial gates "
        "(cbam, residual): the gate value per map cell; non-local: the attention each position receives, "
        "averaged over queries; stn: how densely the learned warp samples object versus background "
        "pixels. se and eca weight channels only, so they have no such number.",
        "",
        "Per run (seed: test acc %, first -> last training loss [, object/background weight per stage]):",
        "",
    ]
    for name in cfg["attention"]:
        cells = []
        for r in (r for r in report["runs"] if r["attention"] == name):
            ratio = "".join(f", {k} {v:.2f}" for k, v in r["object_ratio"].items())
            loss = f"{r['first_loss']:.2f} -> {r['last_loss']:.2f}"
            cells.append(f"{r['seed']}: {100 * r['test_accuracy']:.1f}, {loss}{ratio}")
        lines.append(f"- {name}: {'; '.join(cells)}")
    return "\n".join(lines) + "\n"


def run_check(cfg: CheckConfig, out: Path, *, command: str, progress: bool = True) -> dict:
    """Train every variant under every seed, write the Markdown and JSON to `out`, return the report."""
    from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn

    unknown = [a for a in cfg.attention if a not in STAGES]
    if unknown:
        raise ValueError(f"unknown attention {unknown}; allowed: {', '.join(STAGES)}")
    torch.set_num_threads(cfg.threads)
    start = time.perf_counter()
    date = dt.datetime.now().astimezone().isoformat(timespec="seconds")
    steps = math.ceil(cfg.train / cfg.batch_size) * cfg.epochs * len(cfg.attention) * len(cfg.seeds)
    runs: list[RunResult] = []
    columns = (TextColumn("{task.description}"), BarColumn(), MofNCompleteColumn(), TimeElapsedColumn())
    with Progress(*columns, disable=not progress) as bar:
        task = bar.add_task("training", total=steps)
        for seed in cfg.seeds:
            train, test = make_data(cfg, seed)
            for name in cfg.attention:
                bar.update(task, description=f"seed {seed} {name:>8}")
                r = train_eval(name, train, test, cfg, seed=seed, advance=lambda: bar.advance(task))
                runs.append(r)
                bar.console.print(
                    f"seed {seed} {name:>8}: test acc {100 * r.test_accuracy:5.1f}%  "
                    f"loss {r.first_loss:.2f} -> {r.last_loss:.2f}  {r.seconds:.0f}s"
                )
    report = {
        "date": date,
        "machine": describe_machine(),
        "torch": torch.__version__,
        "command": command,
        "config": asdict(cfg),
        "seconds": time.perf_counter() - start,
        "summary": summarize(runs, cfg.attention),
        "runs": [asdict(r) for r in runs],
    }
    out.mkdir(parents=True, exist_ok=True)
    (out / "attention_learning.json").write_text(json.dumps(report, indent=2) + "\n")
    (out / "attention_learning.md").write_text(to_markdown(report))
    return report


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    d = CheckConfig()
    p = argparse.ArgumentParser(
        description=(
            "Train the tiny backbone with each attention type on cluttered-translated Fashion-MNIST, under "
            "the same budget and several seeds, and report test accuracy against no attention, parameter "
            "counts and how much each attention weights the object over the clutter. Writes "
            "attention_learning.md and .json to --out."
        )
    )
    p.add_argument("--out", type=Path, default=RESULTS, help="output folder (default: results/ beside this script)")
    p.add_argument("--quick", action="store_true", help="smoke run: small canvases, few examples, one seed (<1 min)")
    p.add_argument("--attention", nargs="+", choices=ATTENTION_TYPES, help="types to train (default: all)")
    p.add_argument("--seeds", nargs="+", type=int, help=f"seeds (default: {d.seeds})")
    p.add_argument("--train", type=int, help=f"training canvases per seed (default: {d.train})")
    p.add_argument("--test", type=int, help=f"test canvases per seed (default: {d.test})")
    p.add_argument("--epochs", type=int, help=f"epochs (default: {d.epochs})")
    p.add_argument("--size", type=int, help=f"canvas side in pixels (default: {d.size})")
    p.add_argument("--clutter", type=int, help=f"8x8 clutter crops per canvas (default: {d.clutter})")
    p.add_argument("--width", type=int, help=f"tiny backbone width (default: {d.width})")
    p.add_argument("--batch-size", type=int, help=f"batch size (default: {d.batch_size})")
    p.add_argument("--lr", type=float, help=f"AdamW peak learning rate (default: {d.lr})")
    p.add_argument("--threads", type=int, help=f"torch CPU threads (default: {d.threads})")
    p.add_argument("--root", help=f"folder with the Fashion-MNIST IDX files (default: {d.root})")
    p.add_argument("--no-progress", action="store_true", help="no progress bar")
    return p.parse_args(argv)


def config_from_args(args: argparse.Namespace) -> CheckConfig:
    values = dict(QUICK) if args.quick else {}
    for key in ("attention", "seeds", "train", "test", "epochs", "size", "clutter", "width", "batch_size", "lr"):
        if getattr(args, key) is not None:
            values[key] = getattr(args, key)
    for key in ("threads", "root"):
        if getattr(args, key) is not None:
            values[key] = getattr(args, key)
    return CheckConfig(**values)


def main(argv: list[str] | None = None) -> dict:
    argv = sys.argv[1:] if argv is None else argv
    args = parse_args(argv)
    command = shlex.join(["python", SCRIPT, *argv])
    report = run_check(config_from_args(args), args.out, command=command, progress=not args.no_progress)
    print(f"wrote {args.out / 'attention_learning.md'} and .json in {report['seconds'] / 60:.1f} min")
    return report


if __name__ == "__main__":
    main()
