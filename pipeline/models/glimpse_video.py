"""A glimpse agent for video: where and when to look, and when to stop (Mnih et al. 2014's RAM carried to
time, as in Yeung et al. 2016 and AdaFrame, Wu et al. 2019), trained with REINFORCE.

    per-frame features (B, T, D)  [or raw frames (B, T, C, H, W) through the RAM retina]
      step k: observe frame f_k (and, on raw frames, the patch at l_k)  -> LSTM core h_k       (B, hidden)
              policy: next frame position ~ N(sigmoid(W h_k), std)  -> f_{k+1} = round(pos * (T - 1))
                      next location ~ N(tanh(W h_k), std) (raw frames only)
                      halt ~ Bernoulli(sigmoid(W h_k))   (after `min_glimpses`)
              baseline b_k = W h_k, classifier logits_k = W h_k (the answer if it halts now)
Episodes of different lengths are masked: a step after the halt has no log-probability, no baseline and
no reward; the answer is the classifier's at the halting step. The policy, halt and baseline read h
detached, so REINFORCE trains only them and the classification loss trains the core (as in RAM).
"""

from __future__ import annotations

from dataclasses import dataclass

import torch
import torch.nn.functional as F
from torch import nn
from torch.distributions import Bernoulli, Normal

from pipeline.models.glimpse import retina
from pipeline.registry import Registry

AGENTS: Registry[type[nn.Module]] = Registry("agent")


@dataclass
class EpisodeOutput:
    logits: torch.Tensor  # (B, K) the answer at the halting step
    log_probs: torch.Tensor  # (B, N) log-probability of each decision (where to look next, halt or go on)
    baselines: torch.Tensor  # (B, N) expected reward in the state each decision was made
    mask: torch.Tensor  # (B, N) 1 where the decision was taken (before or at the halt)
    frames: torch.Tensor  # (B, G) int64 frame indices looked at (G = max glimpses)
    locations: torch.Tensor  # (B, G, 2) where in the frame (zeros for features: the whole frame)
    viewed: torch.Tensor  # (B,) int64 glimpses taken before halting
    halt_prob: torch.Tensor  # (B, G) the policy's halting probability at each step


@AGENTS.register("video_glimpse")
class VideoGlimpseAgent(nn.Module):
    """Looks at `max_glimpses` frames at most, choosing each next frame (and location) and when to stop."""

    def __init__(
        self,
        num_classes: int,
        *,
        feature_dim: int | None = None,
        in_channels: int = 3,
        glimpse_size: int = 16,
        scales: int = 2,
        max_glimpses: int = 4,
        min_glimpses: int = 1,
        hidden: int = 128,
        std: float = 0.1,
    ) -> None:
        super().__init__()
        self.features_mode = feature_dim is not None
        self.glimpse_size, self.scales = glimpse_size, scales
        self.max_glimpses, self.min_glimpses, self.hidden, self.std = max_glimpses, min_glimpses, hidden, std
        in_dim = feature_dim if feature_dim is not None else scales * in_channels * glimpse_size**2
        self.what = nn.Sequential(nn.Linear(in_dim, hidden), nn.ReLU())
        self.where = nn.Sequential(nn.Linear(3, hidden), nn.ReLU())  # (time, x, y) of the glimpse
        self.core = nn.LSTMCell(hidden, hidden)
        self.when = nn.Linear(hidden, 1)  # next frame position in [0, 1] (sigmoid mean)
        self.loc = nn.Linear(hidden, 2)  # next location in [-1, 1]^2 (tanh mean), raw frames only
        self.halt = nn.Linear(hidden, 1)
        self.baseline = nn.Linear(hidden, 1)
        self.classifier = nn.Linear(hidden, num_classes)

    def observe(self, video: torch.Tensor, frame: torch.Tensor, loc: torch.Tensor) -> torch.Tensor:
        """What one glimpse sees: (B, T, D) features or (B, T, C, H, W) frames, at frame (B,) and loc (B, 2)."""
        rows = torch.arange(video.shape[0], device=video.device)
        picked = video[rows, frame]  # (B, D) or (B, C, H, W)
        if self.features_mode:
            return picked
        return retina(picked.float(), loc, self.glimpse_size, self.scales).flatten(1)  # (B, k*C*g*g)

    def forward(self, video: torch.Tensor, *, sample: bool | None = None) -> EpisodeOutput:
        sample = self.training if sample is None else sample
        b, t = video.shape[:2]
        dev = video.device
        h = c = video.new_zeros(b, self.hidden, dtype=torch.float32)
        pos = torch.full((b,), 0.5, device=dev)  # the first glimpse: the middle frame, the frame's centre
        loc = torch.zeros(b, 2, device=dev)
        alive = torch.ones(b, dtype=torch.bool, device=dev)
        logits = None
        frames, locs, log_probs, baselines, masks, halts = [], [], [], [], [], []
        viewed = torch.zeros(b, dtype=torch.long, device=dev)
        for step in range(self.max_glimpses):
            frame = (pos * (t - 1)).round().long().clamp(0, t - 1)  # (B,)
            frames.append(frame)
            locs.append(loc)
            where = torch.cat([pos[:, None] * 2 - 1, loc], dim=1)  # (B, 3)
            g = F.relu(self.what(self.observe(video, frame, loc)) + self.where(where))  # (B, hidden)
            h_new, c_new = self.core(g, (h, c))
            keep = alive[:, None]
            h, c = torch.where(keep, h_new, h), torch.where(keep, c_new, c)  # a halted episode stays put
            viewed = viewed + alive.long()
            step_logits = self.classifier(h)  # (B, K)
            logits = step_logits if logits is None else torch.where(keep, step_logits, logits)
            if step == self.max_glimpses - 1:
                halts.append(torch.ones(b, device=dev))
                break
            hd = h.detach()
            p_halt = torch.sigmoid(self.halt(hd)).squeeze(1)  # (B,)
            if step + 1 < self.min_glimpses:
                p_halt = torch.zeros_like(p_halt)
            halts.append(p_halt)
            stop = Bernoulli(probs=p_halt.clamp(1e-6, 1 - 1e-6))
            stop_now = (stop.sample() if sample else (p_halt > 0.5).float()).detach()  # (B,)
            when = Normal(torch.sigmoid(self.when(hd)).squeeze(1), self.std)
            nxt = (when.sample() if sample else when.mean).detach()  # (B,)
            lp = stop.log_prob(stop_now) + (1 - stop_now) * when.log_prob(nxt)  # (B,) where: only if going on
            if not self.features_mode:
                where_to = Normal(torch.tanh(self.loc(hd)), self.std)
                nxt_loc = (where_to.sample() if sample else where_to.mean).detach()  # (B, 2)
                lp = lp + (1 - stop_now) * where_to.log_prob(nxt_loc).sum(1)
                loc = nxt_loc.clamp(-1, 1)
            log_probs.append(lp)
            baselines.append(self.baseline(hd).squeeze(1))
            masks.append(alive.float())
            alive = alive & (stop_now < 0.5)
            pos = nxt.clamp(0, 1)
        n = max(len(log_probs), 1)
        zeros = video.new_zeros(b, n, dtype=torch.float32)
        return EpisodeOutput(
            logits=logits,
            log_probs=torch.stack(log_probs, 1) if log_probs else zeros,
            baselines=torch.stack(baselines, 1) if baselines else zeros,
            mask=torch.stack(masks, 1) if masks else zeros,
            frames=torch.stack(frames, 1),
            locations=torch.stack(locs, 1),
            viewed=viewed,
            halt_prob=torch.stack(halts, 1),
        )


def episode_loss(out: EpisodeOutput, labels: torch.Tensor, *, glimpse_cost: float = 0.01) -> dict[str, torch.Tensor]:
    """Cross-entropy of the answer + masked baseline regression + masked REINFORCE with the baseline.
    Reward: 1 for the right answer, less `glimpse_cost` per glimpse taken."""
    classification = F.cross_entropy(out.logits, labels)
    right = (out.logits.detach().argmax(1) == labels).float()  # (B,)
    reward = (right - glimpse_cost * out.viewed.float())[:, None].expand_as(out.baselines)  # (B, N)
    m = out.mask
    count = m.sum().clamp(min=1)
    baseline = ((out.baselines - reward) ** 2 * m).sum() / count
    advantage = (reward - out.baselines.detach()) * m
    reinforce = -(out.log_probs * advantage).sum() / out.logits.shape[0]
    return {
        "loss": classification + baseline + reinforce,
        "classification": classification.detach(),
        "baseline": baseline.detach(),
        "reinforce": reinforce.detach(),
        "reward": reward[:, 0].mean(),
        "viewed": out.viewed.float().mean(),
    }
