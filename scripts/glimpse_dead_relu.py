"""How many of RAM's conv channels die early in training, with and without a learning-rate warm-up?
A diagnostic beside scripts/bench_glimpse.py.

Trains the benchmark's RAM (its defaults: towers glimpse network, 4 glimpses here) on the benchmark's
canvases with its optimiser and schedule, and every 47 steps prints the classification loss and reward
of the last 47 steps, the mean absolute coordinate of the chosen glimpses (0 the centre, 1 the edge), and
for each ReLU of the glimpse network the share of its channels (units for the FC layer) that output 0 for
the whole batch: "dead", as no gradient reaches them again. The figures in docs/bench/glimpse.md ("Faster
training and a warm-up") come from:

    python scripts/glimpse_dead_relu.py --warmup-epochs 0 --epochs 2        # before: most channels die
    python scripts/glimpse_dead_relu.py --warmup-epochs 0 --epochs 1 --nchw  # the same, default layout
    python scripts/glimpse_dead_relu.py --warmup-epochs 1 --epochs 2        # the benchmark's default
"""

from __future__ import annotations

import argparse
import statistics
import sys
from pathlib import Path

import torch

sys.path.insert(0, str(Path(__file__).parent))
from glimpse_where import load_bench  # noqa: E402

from pipeline.models.glimpse import ram_loss  # noqa: E402

bench = load_bench()


def dead_share(out: torch.Tensor) -> float:
    """Share of channels (dim 1) that are 0 everywhere in the batch: (B, C, H, W) or (B, C)."""
    dims = (0, 2, 3) if out.dim() == 4 else (0,)
    return (out.amax(dim=dims) <= 0).float().mean().item()


def main(argv: list[str] | None = None) -> None:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--warmup-epochs", type=int, default=bench.BenchConfig.warmup_epochs)
    p.add_argument("--epochs", type=int, default=2, help="epochs to run (the schedule is the benchmark's 120)")
    p.add_argument("--nchw", action="store_true", help="conv weights in the default layout, not channels-last")
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--every", type=int, default=47, help="print every this many steps")
    args = p.parse_args(argv)
    torch.set_num_threads(1)
    cfg = bench.BenchConfig(eval="val", epochs=120, warmup_epochs=args.warmup_epochs)
    train, _ = bench.load_splits(cfg)
    torch.manual_seed(args.seed)
    model = bench.build("ram-4", cfg)
    if args.nchw:
        model.what.to(memory_format=torch.contiguous_format)
    opt, sched = bench.optimiser(model, cfg)
    relus = {i: m for i, m in enumerate(model.what) if isinstance(m, torch.nn.ReLU)}
    outputs: dict[int, torch.Tensor] = {}
    for i, m in relus.items():
        m.register_forward_hook(lambda _m, _inp, out, i=i: outputs.__setitem__(i, out.detach()))
    gen = torch.Generator().manual_seed(args.seed)
    for epoch in range(args.epochs):  # as bench_glimpse.train_eval draws them
        x, y = bench.canvases(train, cfg.train, "cluttered", 1000 * args.seed + epoch, cfg)
        order = torch.randperm(cfg.train, generator=gen)
        model.train()
        losses, rewards = [], []
        for k, b in enumerate(range(0, cfg.train, cfg.batch_size)):
            idx = order[b : b + cfg.batch_size]
            out = model(x[idx])
            parts = ram_loss(out, y[idx], 1)
            opt.zero_grad(set_to_none=True)
            parts["loss"].backward()
            opt.step()
            sched.step()
            losses.append(parts["classification"].item())
            rewards.append(parts["reward"].item())
            if k % args.every == 0:
                dead = ", ".join(f"relu {i} {dead_share(o):.2f}" for i, o in outputs.items())
                print(
                    f"epoch {epoch} step {k}: loss {statistics.fmean(losses[-args.every :]):.3f} "
                    f"reward {statistics.fmean(rewards[-args.every :]):.3f} "
                    f"|location| {out.locations[:, 1:].abs().mean().item():.2f} dead: {dead}",
                    flush=True,
                )


if __name__ == "__main__":
    main()
