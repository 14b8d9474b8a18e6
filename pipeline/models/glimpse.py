"""Recurrent Attention Model (Mnih, Heess, Graves, Kavukcuoglu: "Recurrent Models of Visual Attention",
NIPS 2014): an agent that looks at an image through a few small glimpses and learns where to look with
REINFORCE.

    image (B, C, H, W), location l_t (B, 2) in [-1, 1]^2
      -> retina: k patches centred at l_t, each `scale_factor` times wider than the last, all g x g
      -> glimpse net: g_t = ReLU(W(ReLU(W retina)) + W(ReLU(W l_t)))                      (B, hidden)
      -> core RNN: h_t = f(h_{t-1}, g_t)                                                  (B, hidden)
      -> location policy: l_{t+1} ~ N(tanh(W h_t), std^2), h_t detached                  (B, 2)
      -> baseline b_t = W h_t (h_t detached); after the last glimpse: logits = W h_N      (B, K)
Loss (`ram_loss`): cross-entropy + MSE(baseline, R) + REINFORCE with the baseline, R = 1 when the
prediction is right. Groundwork for the video glimpse agent: not yet wired to a task or the CLI.
"""

from __future__ import annotations

from dataclasses import dataclass

import torch
import torch.nn.functional as F
from torch import nn
from torch.distributions import Normal


def retina(
    images: torch.Tensor, loc: torch.Tensor, size: int, scales: int = 1, scale_factor: float = 2.0
) -> torch.Tensor:
    """Glimpse patches `(B, scales, C, size, size)` centred at `loc` `(B, 2)` = (x, y) in [-1, 1]
    (the image's edges; outside is zero). Patch i covers `size * scale_factor**i` pixels of the image.

    One `grid_sample` per scale over the whole batch (the published PyTorch versions loop over the
    batch in Python). Wider patches are sampled at their own resolution, then average-pooled to
    `size`, so a coarse scale is a blurred view rather than an aliased one.
    """
    b, c, h, w = images.shape
    patches = []
    for i in range(scales):  # a handful of scales
        extent = size * scale_factor**i  # pixels covered
        res = max(size, round(extent))
        theta = images.new_zeros(b, 2, 3)
        theta[:, 0, 0] = extent / w
        theta[:, 1, 1] = extent / h
        theta[:, :, 2] = loc
        grid = F.affine_grid(theta, [b, c, res, res], align_corners=False)  # (B, res, res, 2)
        patch = F.grid_sample(images, grid, mode="bilinear", padding_mode="zeros", align_corners=False)
        patches.append(F.adaptive_avg_pool2d(patch, size) if res != size else patch)  # (B, C, size, size)
    return torch.stack(patches, dim=1)  # (B, scales, C, size, size)


@dataclass
class GlimpseOutput:
    logits: torch.Tensor  # (B, K) after the last glimpse
    log_probs: torch.Tensor  # (B, N) log-probability of each location the policy chose (N >= 1)
    baselines: torch.Tensor  # (B, N) expected reward in the state each choice was made
    locations: torch.Tensor  # (B, G, 2) where each of the G glimpses looked; N = G - 1 chosen by the policy


class RecurrentAttentionModel(nn.Module):
    """RAM for images. `std` is the location policy's fixed standard deviation (0.05-0.17 works)."""

    def __init__(
        self,
        num_classes: int,
        *,
        in_channels: int = 1,
        glimpse_size: int = 8,
        scales: int = 1,
        scale_factor: float = 2.0,
        glimpses: int = 6,
        hidden: int = 256,
        std: float = 0.1,
    ) -> None:
        super().__init__()
        self.glimpse_size, self.scales, self.scale_factor = glimpse_size, scales, scale_factor
        self.glimpses, self.hidden, self.std = glimpses, hidden, std
        retina_dim = scales * in_channels * glimpse_size**2
        self.what = nn.Sequential(nn.Linear(retina_dim, 128), nn.ReLU())
        self.where = nn.Sequential(nn.Linear(2, 128), nn.ReLU())
        self.what_out, self.where_out = nn.Linear(128, hidden), nn.Linear(128, hidden)
        self.core = nn.RNNCell(hidden, hidden, nonlinearity="relu")
        self.policy = nn.Linear(hidden, 2)
        self.baseline = nn.Linear(hidden, 1)
        self.classifier = nn.Linear(hidden, num_classes)

    def glimpse(self, images: torch.Tensor, loc: torch.Tensor) -> torch.Tensor:
        patches = retina(images, loc, self.glimpse_size, self.scales, self.scale_factor)  # (B, k, C, g, g)
        return F.relu(self.what_out(self.what(patches.flatten(1))) + self.where_out(self.where(loc)))  # (B, hidden)

    def forward(self, images: torch.Tensor, *, sample: bool | None = None) -> GlimpseOutput:
        """`sample`: draw locations from the policy (default: in training) or take its mean."""
        sample = self.training if sample is None else sample
        b = images.shape[0]
        h = images.new_zeros(b, self.hidden)
        # the first location: anywhere while training (the paper's random start), the centre otherwise
        loc = images.new_empty(b, 2).uniform_(-1, 1) if sample else images.new_zeros(b, 2)
        log_probs, baselines, looked = [], [], []
        for step in range(self.glimpses):
            looked.append(loc)
            h = self.core(self.glimpse(images, loc), h)  # (B, hidden)
            if step == self.glimpses - 1:
                break  # a location chosen now would never be looked at
            mean = torch.tanh(self.policy(h.detach()))  # (B, 2): the policy does not train the core
            policy = Normal(mean, self.std)
            choice = (policy.sample() if sample else mean).detach()  # (B, 2)
            # The log-probability is of the drawn sample; only where to look is clamped to the image.
            # Taken of the clamped point it is biased at the edges (where clamping moved the sample).
            log_probs.append(policy.log_prob(choice).sum(dim=1))  # (B,)
            loc = choice.clamp(-1, 1)  # (B, 2)
            baselines.append(self.baseline(h.detach()).squeeze(1))  # (B,)
        if not log_probs:  # one glimpse: nothing was chosen, so nothing for REINFORCE to train
            log_probs, baselines = [h.new_zeros(b)], [h.new_zeros(b)]
        return GlimpseOutput(
            self.classifier(h), torch.stack(log_probs, 1), torch.stack(baselines, 1), torch.stack(looked, 1)
        )


def ram_loss(out: GlimpseOutput, labels: torch.Tensor) -> dict[str, torch.Tensor]:
    """Hybrid loss of the paper: classification + baseline regression + REINFORCE (reward 1 if right)."""
    classification = F.cross_entropy(out.logits, labels)
    reward = (out.logits.detach().argmax(dim=1) == labels).float()[:, None].expand_as(out.baselines)  # (B, N)
    baseline = F.mse_loss(out.baselines, reward)
    advantage = reward - out.baselines.detach()  # (B, N)
    reinforce = -(out.log_probs * advantage).sum(dim=1).mean()
    return {
        "loss": classification + baseline + reinforce,
        "classification": classification.detach(),
        "baseline": baseline.detach(),
        "reinforce": reinforce.detach(),
        "reward": reward[:, 0].mean(),
    }
