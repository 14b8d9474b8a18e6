"""Does REINFORCE's signal point RAM's glimpses toward the garment? A diagnostic beside glimpse_where.py.

Trains the benchmark's RAM (8 glimpses) for `--epochs` with the location layer nearly frozen (lr 1e-5),
then runs 4,000 validation canvases with sampled locations and, for each of the 7 chosen glimpses:
(a) the REINFORCE gradient with respect to the policy's mean location, (R - b_t)(l_t - mu_t) / std^2,
projected on the unit vector from the mean toward the garment's centre (positive: the update moves the
glimpse toward the garment), with its standard error; (b) how well a linear map of h_t (least squares,
fit on half the canvases, R^2 on the other half) tells where the garment is, which the location
layer, itself linear in h_t, needs. Figures in docs/bench/glimpse.md:

    python scripts/glimpse_signal.py --task translated --epochs 8
"""

import argparse
import sys
from pathlib import Path

import torch

sys.path.insert(0, str(Path(__file__).parent))
from glimpse_where import labelled_canvases, load_bench  # noqa: E402

from pipeline.models.glimpse import pyramid, ram_loss  # noqa: E402

bench = load_bench()
p = argparse.ArgumentParser()
p.add_argument("--task", default="translated")
p.add_argument("--epochs", type=int, default=8)
p.add_argument("--std", type=float, default=0.15)
p.add_argument("--save", default=None)
p.add_argument("--load", default=None)
a = p.parse_args()
torch.set_num_threads(1)
cfg = bench.BenchConfig(eval="val", context=False, std=a.std)
train, val = bench.load_splits(cfg)
torch.manual_seed(0)
m = bench.build("ram-8", cfg)


def data(split, n, seed):
    return labelled_canvases(bench, split, n, a.task, seed)


if a.load:
    m.load_state_dict(torch.load(a.load, weights_only=True))
else:
    opt = torch.optim.Adam(bench.param_groups(m, 1e-5), lr=3e-3)  # the location layer held
    for ep in range(a.epochs):
        x, y, c = data(train, 12000, 1000 + ep)
        m.train()
        for b in range(0, 12000, 64):
            loss = ram_loss(m(x[b : b + 64]), y[b : b + 64])["loss"]
            opt.zero_grad()
            loss.backward()
            opt.step()
    if a.save:
        torch.save(m.state_dict(), a.save)
# episodes with recorded h, means, samples
x, y, c = data(val, 4000, 7)
m.train()
torch.manual_seed(1)
with torch.no_grad():
    b = len(y)
    h = x.new_zeros(b, m.hidden)
    levels = pyramid(x, m.scales, m.scale_factor)
    loc = x.new_empty(b, 2).uniform_(-1, 1)
    H, MU, S = [], [], []
    for t in range(m.glimpses):
        h = m.core(m.glimpse(x, loc, levels), h)
        if t == m.glimpses - 1:
            break
        mu = torch.tanh(m.policy(h))
        s = mu + a.std * torch.randn_like(mu)
        H.append(h)
        MU.append(mu)
        S.append(s)
        loc = s.clamp(-1, 1)
    R = (m.classifier(h).argmax(1) == y).float()
    B = torch.stack([m.baseline(hh).squeeze(1) for hh in H], 1)
print("reward", R.mean().item(), "baseline mean", B.mean().item())
for t in range(len(H)):
    score = (S[t] - MU[t]) / a.std**2 * (R - B[:, t])[:, None]  # (b, 2): REINFORCE gradient wrt the mean
    toward = c - MU[t]
    toward = toward / toward.norm(dim=1, keepdim=True)
    proj = (score * toward).sum(1)
    # (b): linear probe from h to garment centre (fit on half, test on half)
    hh = torch.cat([H[t], torch.ones(b, 1)], 1)
    n = b // 2
    w = torch.linalg.lstsq(hh[:n], c[:n], driver="gelsd").solution
    pred = hh[n:] @ w
    r2 = 1 - ((pred - c[n:]) ** 2).sum() / ((c[n:] - c[n:].mean(0)) ** 2).sum()
    print(
        f"step {t + 1}: grad wrt mean, projected toward garment: {proj.mean():+.3f} ± {proj.std() / b**0.5:.3f}"
        f" (per-sample std {proj.std():.2f}); linear probe h->garment R2 {r2:.2f};"
        f" mean dist {(c - MU[t]).norm(dim=1).mean():.2f}"
    )
