"""RAM's location policy on Fashion-MNIST 60x60: a diagnostic beside scripts/glimpse_where.py.

Trains RAM with 8 glimpses (the benchmark's network) with its own options: task, batch size, lr, a
separate lr and optimizer for the location layer, the policy std, REINFORCE's weight. Every `--every`
epochs it prints, on 1,000 validation canvases, the deterministic episode's error, each glimpse's mean
distance to the garment's centre (half-canvas units; glimpses that stay at the canvas centre are at
0.43 on average, uniformly random ones at 0.85), where the policy's mean went, its spread over images,
the share of glimpses within 0.05 of an edge, and the norm of the location layer's weights.
Figures in docs/bench/glimpse.md ("Is the policy's learning signal right?"), e.g.

    python scripts/glimpse_policy_diag.py --task translated --epochs 8
    python scripts/glimpse_policy_diag.py --task translated --epochs 8 --every 2 --plr 1e-5
    python scripts/glimpse_policy_diag.py --task translated --epochs 8 --every 2 --bs 256 --lr 6e-3
"""

import argparse
import sys
import time
from pathlib import Path

import numpy as np
import torch

sys.path.insert(0, str(Path(__file__).parent))
from glimpse_where import distances, labelled_canvases, load_bench  # noqa: E402

bench = load_bench()
p = argparse.ArgumentParser()
p.add_argument("--task", default="translated")
p.add_argument("--epochs", type=int, default=10)
p.add_argument("--train", type=int, default=12000)
p.add_argument("--bs", type=int, default=64)
p.add_argument("--lr", type=float, default=3e-3)
p.add_argument("--plr", type=float)
p.add_argument("--popt", default="adam")
p.add_argument("--std", type=float, default=0.15)
p.add_argument("--core", default="rnn")
p.add_argument("--seed", type=int, default=0)
p.add_argument("--glimpses", type=int, default=8)
p.add_argument("--scales", type=int, default=3)
p.add_argument("--start", default="random")
p.add_argument("--rscale", type=float, default=1.0)
p.add_argument("--every", type=int, default=1)
a = p.parse_args()
torch.set_num_threads(1)
cfg = bench.BenchConfig(eval="val", context=False, core=a.core, std=a.std, scales=a.scales, start=a.start)
train, val = bench.load_splits(cfg)
torch.manual_seed(a.seed)
model = bench.build(f"ram-{a.glimpses}", cfg)
pol = list(model.policy.parameters())
rest = [q for n, q in model.named_parameters() if not n.startswith("policy.")]
opt = torch.optim.Adam(rest, lr=a.lr)
plr = a.plr or a.lr
popt = torch.optim.Adam(pol, lr=plr) if a.popt == "adam" else torch.optim.SGD(pol, lr=plr, momentum=0.9)
xv, yv, centre = labelled_canvases(bench, val, 1000, a.task, seed=5)
cd = centre.norm(dim=1).mean().item()
print(f"always-centre distance {cd:.2f}", flush=True)
t0 = time.time()
for epoch in range(a.epochs):
    x, y = bench.canvases(train, a.train, a.task, 1000 * a.seed + epoch, cfg)
    model.train()
    rs = []
    for b in range(0, a.train, a.bs):
        out = model(x[b : b + a.bs])
        cls = torch.nn.functional.cross_entropy(out.logits, y[b : b + a.bs])
        R = (out.logits.detach().argmax(1) == y[b : b + a.bs]).float()[:, None].expand_as(out.baselines)
        bl = torch.nn.functional.mse_loss(out.baselines, R)
        rf = -(out.log_probs * (R - out.baselines.detach())).sum(1).mean()
        loss = cls + bl + a.rscale * rf
        opt.zero_grad()
        popt.zero_grad()
        loss.backward()
        opt.step()
        popt.step()
        rs.append(R[:, 0].mean().item())
    if (epoch + 1) % a.every:
        continue
    model.eval()
    with torch.no_grad():
        out = model(xv, sample=False)
    d = distances(out.locations, centre).mean(0)
    err = (out.logits.argmax(1) != yv).float().mean().item()
    lk = out.locations[:, 1:]
    sat = (lk.abs() > 0.95).float().mean().item()
    print(
        f"ep {epoch + 1} {time.time() - t0:.0f}s reward {np.mean(rs):.3f} valerr {err:.3f} dist "
        + " ".join(f"{v:.2f}" for v in d.tolist())
        + f" | mean {[round(v, 2) for v in lk.mean((0, 1)).tolist()]} spread {lk.std(0).mean():.2f}"
        + f" sat {sat:.2f} |W| {model.policy.weight.norm():.2f}",
        flush=True,
    )
