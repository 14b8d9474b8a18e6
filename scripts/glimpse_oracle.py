"""How much is looking at the garment worth to RAM? A diagnostic beside scripts/glimpse_where.py.

The benchmark's RAM network (8 glimpses) trained with its glimpses 2-8 placed by hand rather than by
the policy: `--mode oracle` at the garment's centre plus N(0, `--noise`) (the policy's exploration
noise), `centre` at the canvas centre plus the same noise, `random` uniformly anywhere. The first
glimpse is random in training and at the centre for validation, as in the benchmark. Prints the
validation error (1,000 canvases) every 2 epochs. Figures in docs/bench/glimpse.md:

    python scripts/glimpse_oracle.py --task translated --mode oracle
    python scripts/glimpse_oracle.py --task translated --mode centre
"""

import argparse
import sys
from pathlib import Path

import torch
import torch.nn.functional as F

sys.path.insert(0, str(Path(__file__).parent))
from glimpse_where import labelled_canvases, load_bench  # noqa: E402

from pipeline.models.glimpse import pyramid  # noqa: E402

bench = load_bench()
p = argparse.ArgumentParser()
p.add_argument("--task", default="translated")
p.add_argument("--mode", default="oracle")
p.add_argument("--epochs", type=int, default=8)
p.add_argument("--noise", type=float, default=0.15)
a = p.parse_args()
torch.set_num_threads(1)
cfg = bench.BenchConfig(eval="val", context=False)
train, val = bench.load_splits(cfg)
torch.manual_seed(0)
m = bench.build("ram-8", cfg)
opt = torch.optim.Adam(m.parameters(), 3e-3)


def episode(x, centre, train):
    b = x.shape[0]
    h = x.new_zeros(b, m.hidden)
    levels = pyramid(x, m.scales, m.scale_factor)
    loc = x.new_empty(b, 2).uniform_(-1, 1) if train else x.new_zeros(b, 2)
    for _ in range(m.glimpses):
        h = m.core(m.glimpse(x, loc, levels), h)
        if a.mode == "oracle":
            loc = (centre + a.noise * torch.randn_like(centre)).clamp(-1, 1)
        elif a.mode == "centre":
            loc = (a.noise * torch.randn_like(centre)).clamp(-1, 1)
        else:
            loc = x.new_empty(b, 2).uniform_(-1, 1)
    return m.classifier(h)


def data(split, n, seed):
    return labelled_canvases(bench, split, n, a.task, seed)


xv, yv, cv = data(val, 1000, 5)
for ep in range(a.epochs):
    x, y, c = data(train, 12000, 1000 + ep)
    for b in range(0, 12000, 64):
        loss = F.cross_entropy(episode(x[b : b + 64], c[b : b + 64], True), y[b : b + 64])
        opt.zero_grad()
        loss.backward()
        opt.step()
    if ep % 2 == 1:
        with torch.no_grad():
            err = (episode(xv, cv, False).argmax(1) != yv).float().mean().item()
        print(a.mode, a.task, "ep", ep + 1, "valerr", round(err, 3), flush=True)
