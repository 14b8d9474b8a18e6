"""Where does RAM's learned policy look? A diagnostic beside scripts/bench_glimpse.py.

Trains RAM with 8 glimpses as the benchmark does (its defaults; constant learning rate here, no cosine),
and after each epoch of 12,000 fresh canvases prints, on 1,000 validation canvases (held-out training
images), the single-episode error and the mean distance from each glimpse (the policy's mean, from the
centre) to the garment's centre in half-canvas units, beside uniformly random glimpses and beside
glimpses that stay at the canvas centre (the garment is never far from it, so a policy that found
nothing sits near that figure). The figures in docs/bench/glimpse.md ("Where the learned policy looks")
come from the commands below; `--task translated` is the same study without clutter. The location layer
learns at the RAM lr (3e-3) unless `--policy-lr` is given: the benchmark's default before it moved to 3e-4.

    .venv/bin/python scripts/glimpse_where.py --epochs 7              # as benchmarked
    .venv/bin/python scripts/glimpse_where.py --policy-lr 1e-4        # a 30x smaller policy learning rate
    .venv/bin/python scripts/glimpse_where.py --core lstm             # bounded hidden state
    .venv/bin/python scripts/glimpse_where.py --context --policy-lr 1e-3 --epochs 8  # the whole-canvas view
"""

from __future__ import annotations

import argparse
import importlib.util
import sys
from pathlib import Path
from typing import Any

import numpy as np
import torch

from pipeline.data.fashion_mnist import make_cluttered
from pipeline.models.glimpse import ram_loss


def load_bench():
    spec = importlib.util.spec_from_file_location("bench_glimpse", Path(__file__).with_name("bench_glimpse.py"))
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module  # dataclasses look their module up here
    spec.loader.exec_module(module)
    return module


def garment_centres(boxes: np.ndarray, size: int = 60, item: int = 28) -> torch.Tensor:
    """(N, 2) centre (x, y) of each garment in [-1, 1] canvas units, from its (row, col) top-left corner."""
    return torch.from_numpy((boxes[:, [1, 0]] + item / 2) / size * 2 - 1).float()


def labelled_canvases(
    bench: Any, split: Any, n: int, task: str, seed: int
) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    """`n` canvases of `task` from `split`: images (N, 1, 60, 60), labels (N,) and garment centres (N, 2)."""
    c = make_cluttered(split.images, split.labels, n, size=60, clutter=bench.TASKS[task], seed=seed)
    return bench.to_input(c.images), torch.from_numpy(c.labels), garment_centres(c.boxes)


def distances(locations: torch.Tensor, centres: torch.Tensor) -> torch.Tensor:
    """(N, G) distance of each glimpse location (N, G, 2) from its image's garment centre (N, 2)."""
    return (locations - centres[:, None]).norm(dim=-1)


def main(argv: list[str] | None = None) -> list[dict]:
    """Trains and prints one line per epoch; returns the same figures (a dict per epoch)."""
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--task", default="cluttered", choices=["cluttered", "translated"])
    p.add_argument("--core", default="rnn", choices=["rnn", "lstm"])
    p.add_argument("--policy-lr", type=float, help="Adam lr of the location policy (default: the RAM lr)")
    p.add_argument("--context", action="store_true", help="the location layer also reads the coarse whole-canvas view")
    p.add_argument("--std", type=float, help="location policy std (default: the benchmark's)")
    p.add_argument("--epochs", type=int, default=5)
    p.add_argument("--train", type=int, default=12000, help="fresh training canvases per epoch")
    p.add_argument("--val", type=int, default=1000, help="validation canvases")
    p.add_argument("--seed", type=int, default=0)
    args = p.parse_args(argv)
    bench = load_bench()
    torch.set_num_threads(1)
    cfg = bench.BenchConfig(eval="val", core=args.core, context=args.context)
    if args.std is not None:
        cfg.std = args.std
    train, val = bench.load_splits(cfg)
    torch.manual_seed(args.seed)
    model = bench.build("ram-8", cfg)
    opt = torch.optim.Adam(bench.param_groups(model, args.policy_lr or cfg.ram_lr), lr=cfg.ram_lr)
    xv, yv, centre = labelled_canvases(bench, val, args.val, args.task, seed=5)  # centre (N, 2)
    rows = []
    for epoch in range(args.epochs):
        x, y = bench.canvases(train, args.train, args.task, 1000 * (args.seed + 1) + epoch, cfg)
        model.train()
        for b in range(0, args.train, 64):
            parts = ram_loss(model(x[b : b + 64]), y[b : b + 64])
            opt.zero_grad()
            parts["loss"].backward()
            opt.step()
        model.eval()
        with torch.no_grad():
            out = model(xv, sample=False)
            model(xv, sample=True)  # unused: it keeps the random stream of the runs quoted in glimpse.md
        dist = distances(out.locations, centre)  # (N, G)
        rnd = distances(torch.rand(args.val, 8, 2) * 2 - 1, centre)  # (N, 8)
        err = (out.logits.argmax(1) != yv).float().mean().item()
        looked = out.locations[:, 1:]  # (N, G - 1, 2) chosen by the policy
        per_glimpse = [round(v, 2) for v in dist.mean(0).tolist()]
        mean_loc = [round(v, 2) for v in looked.mean((0, 1)).tolist()]
        at_centre = centre.norm(dim=1).mean().item()  # every glimpse at the canvas centre
        print(f"epoch {epoch + 1}: error {err:.3f}, distance per glimpse {per_glimpse}, random {rnd.mean():.2f}, "
              f"centre {at_centre:.2f}; mean location {mean_loc}, spread over images {looked.std(0).mean():.2f}",
              flush=True)  # fmt: skip
        rows.append({"epoch": epoch + 1, "error": err, "distance": per_glimpse, "random": rnd.mean().item(),
                     "centre": at_centre, "mean_location": mean_loc,
                     "spread": looked.std(0).mean().item()})  # fmt: skip
    return rows


if __name__ == "__main__":
    main()
