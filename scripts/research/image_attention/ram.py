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
prediction is right. At test time the paper averages M = 10 sampled runs (`monte_carlo_probs`).
`locations="random"` keeps the network but looks at uniformly random places: the control that shows
what the learned policy is worth (bench_glimpse.py, beside this file).
The retina it looks through is the package's (`pipeline.models.retina`).
"""

from __future__ import annotations

from dataclasses import dataclass

import torch
import torch.nn.functional as F
from einops.layers.torch import Rearrange
from torch import nn
from torch.distributions import Normal

from pipeline.models.retina import pyramid, retina


@dataclass
class GlimpseOutput:
    logits: torch.Tensor  # (B, K) after the last glimpse
    log_probs: torch.Tensor  # (B, N) log-probability of each location the policy chose (N >= 1)
    baselines: torch.Tensor  # (B, N) expected reward in the state each choice was made
    locations: torch.Tensor  # (B, G, 2) where each of the G glimpses looked; N = G - 1 chosen by the policy
    step_logits: torch.Tensor  # (B, G, K) the classifier's answer after each glimpse (the last is `logits`)


class RecurrentAttentionModel(nn.Module):
    """RAM for images. `std` is the location policy's fixed standard deviation (0.05-0.17 works).
    `core`: "rnn" (the paper's ReLU RNN for classification) or "lstm". `locations`: "policy" (learned)
    or "random" (every glimpse uniformly anywhere, in training and at test; nothing for REINFORCE).
    `encoder`: "mlp" (the paper's glimpse network), "conv" (two 3x3 conv layers over the patch, its
    scales stacked as channels, as later RAM work did), "conv3" (three, for large glimpses) or "towers"
    (conv3's blocks applied to each scale on its own, their features concatenated before the FC layer,
    as the paper concatenates its scales; the weights are shared across scales). `start`:
    where the first glimpse looks while training, "random" (the paper) or "centre" (as at test time).
    `context`: the location layer also reads a coarse view of the whole image (area-averaged to
    glimpse_size x glimpse_size, one ReLU layer), and the policy chooses the first glimpse from it too, as
    the context network of Ba, Mnih, Kavukcuoglu ("Multiple Object Recognition with Visual Attention",
    ICLR 2015) does; the view is trained by REINFORCE only (the classifier never reads it)."""

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
        core: str = "rnn",
        locations: str = "policy",
        encoder: str = "mlp",
        start: str = "random",
        context: bool = False,
    ) -> None:
        super().__init__()
        if core not in ("rnn", "lstm") or locations not in ("policy", "random"):
            raise ValueError(f"core must be rnn or lstm, locations policy or random; got {core!r}, {locations!r}")
        if encoder not in ("mlp", "conv", "conv3", "towers") or start not in ("random", "centre"):
            raise ValueError(
                f"encoder must be mlp, conv, conv3 or towers, start random or centre; got {encoder!r}, {start!r}"
            )
        smallest = {"mlp": 1, "conv": 4, "conv3": 8, "towers": 8}[encoder]  # one pixel left after the pools
        if glimpse_size < smallest:
            raise ValueError(f"a {encoder} glimpse network needs glimpse_size >= {smallest}, got {glimpse_size}")
        self.random_locations, self.random_start = locations == "random", start == "random"
        self.glimpse_size, self.scales, self.scale_factor = glimpse_size, scales, scale_factor
        self.glimpses, self.hidden, self.std = glimpses, hidden, std
        retina_dim = scales * in_channels * glimpse_size**2
        if encoder == "mlp":
            self.what = nn.Sequential(nn.Flatten(1), nn.Linear(retina_dim, 128), nn.ReLU())  # (B, 128)
        else:
            # conv3: a third block shrinks the FC layer 4-5x for a large glimpse (28x28: 3,136 -> 576 inputs)
            blocks = 2 if encoder == "conv" else 3
            side = glimpse_size // 2**blocks  # after each block's 2x2 pool
            towers = encoder == "towers"  # each scale its own image (k of them) rather than k stacked channels
            stack, width = (1, scales) if towers else (scales, 1)
            self.what = nn.Sequential(
                Rearrange("b k c h w -> (b k) c h w") if towers else Rearrange("b k c h w -> b (k c) h w"),
                nn.Conv2d(stack * in_channels, 32, 3, padding=1), nn.ReLU(), nn.MaxPool2d(2),  # (B', 32, g/2, g/2)
                nn.Conv2d(32, 64, 3, padding=1), nn.ReLU(), nn.MaxPool2d(2),  # (B', 64, g/4, g/4)
                *([nn.Conv2d(64, 64, 3, padding=1), nn.ReLU(), nn.MaxPool2d(2)] if blocks == 3 else []),  # g/8
                nn.Flatten(1),  # (B', 64 * side * side); B' = B * k for towers, B otherwise
                Rearrange("(b k) f -> b (k f)", k=scales) if towers else nn.Identity(),  # (B, width * 64 * side^2)
                nn.Linear(width * 64 * side * side, 128), nn.ReLU(),  # (B, 128)
            )  # fmt: skip
            # channels-last weights make every conv output, and so every max-pool, channels-last: on the CPU
            # the NCHW max-pool is several times slower (notes.md, "Faster steps and a learning-rate warm-up")
            self.what.to(memory_format=torch.channels_last)
        self.where = nn.Sequential(nn.Linear(2, 128), nn.ReLU())
        self.what_out, self.where_out = nn.Linear(128, hidden), nn.Linear(128, hidden)
        self.core = nn.RNNCell(hidden, hidden, nonlinearity="relu") if core == "rnn" else nn.LSTMCell(hidden, hidden)
        self.context = (
            nn.Sequential(nn.Flatten(1), nn.Linear(in_channels * glimpse_size**2, 128), nn.ReLU())  # (B, 128)
            if context
            else None
        )
        self.policy = nn.Linear(hidden + (128 if context else 0), 2)
        self.baseline = nn.Linear(hidden, 1)
        self.classifier = nn.Linear(hidden, num_classes)

    def glimpse(
        self, images: torch.Tensor, loc: torch.Tensor, levels: list[torch.Tensor] | None = None
    ) -> torch.Tensor:
        patches = retina(
            images, loc, self.glimpse_size, self.scales, self.scale_factor, levels=levels
        )  # (B, k, C, g, g)
        return F.relu(self.what_out(self.what(patches)) + self.where_out(self.where(loc)))  # (B, hidden)

    def forward(self, images: torch.Tensor, *, sample: bool | None = None) -> GlimpseOutput:
        """`sample`: draw locations from the policy (default: in training) or take its mean."""
        sample = self.training if sample is None else sample
        b = images.shape[0]
        h = images.new_zeros(b, self.hidden)
        state = (h, h) if isinstance(self.core, nn.LSTMCell) else h
        levels = pyramid(images, self.scales, self.scale_factor)  # shared by every glimpse
        log_probs, baselines, looked, answers = [], [], [], []
        context = None
        if self.context is not None and not self.random_locations:
            coarse = F.adaptive_avg_pool2d(images, self.glimpse_size)  # (B, C, g, g): the whole image
            context = self.context(coarse)  # (B, 128)
            loc = self._choose(h, context, sample, log_probs, baselines)  # the first place, from the view
        else:
            # the first location: anywhere while training (the paper's random start), the centre otherwise
            anywhere = (sample and self.random_start) or self.random_locations
            loc = images.new_empty(b, 2).uniform_(-1, 1) if anywhere else images.new_zeros(b, 2)  # (B, 2)
        for step in range(self.glimpses):
            looked.append(loc)
            state = self.core(self.glimpse(images, loc, levels), state)
            h = state[0] if isinstance(state, tuple) else state  # (B, hidden)
            answers.append(self.classifier(h))  # (B, K)
            if step == self.glimpses - 1:
                break  # a location chosen now would never be looked at
            if self.random_locations:
                loc = images.new_empty(b, 2).uniform_(-1, 1)  # (B, 2)
                continue
            loc = self._choose(h, context, sample, log_probs, baselines)
        if not log_probs:  # one glimpse or random places: nothing was chosen, so nothing for REINFORCE to train
            log_probs, baselines = [h.new_zeros(b)], [h.new_zeros(b)]
        return GlimpseOutput(
            answers[-1], torch.stack(log_probs, 1), torch.stack(baselines, 1), torch.stack(looked, 1),
            torch.stack(answers, 1),
        )  # fmt: skip

    def _choose(
        self,
        h: torch.Tensor,
        context: torch.Tensor | None,
        sample: bool,
        log_probs: list[torch.Tensor],
        baselines: list[torch.Tensor],
    ) -> torch.Tensor:
        """The next location `(B, 2)` from the detached state (and the context view); appends the
        choice's log-probability and the baseline of the state it was made in."""
        state = h.detach() if context is None else torch.cat([h.detach(), context], dim=1)  # (B, hidden [+ 128])
        mean = torch.tanh(self.policy(state))  # (B, 2): the policy does not train the core
        policy = Normal(mean, self.std)
        choice = (policy.sample() if sample else mean).detach()  # (B, 2)
        # The log-probability is of the drawn sample; only where to look is clamped to the image.
        # Taken of the clamped point it is biased at the edges (where clamping moved the sample).
        log_probs.append(policy.log_prob(choice).sum(dim=1))  # (B,)
        baselines.append(self.baseline(h.detach()).squeeze(1))  # (B,)
        return choice.clamp(-1, 1)  # (B, 2)


@torch.no_grad()
def monte_carlo_probs(model: RecurrentAttentionModel, images: torch.Tensor, runs: int = 10) -> torch.Tensor:
    """Class probabilities `(B, K)` averaged over `runs` episodes with sampled locations (the paper's M = 10).
    `runs=1` is one deterministic episode: the policy's mean from the centre (random places stay random)."""
    if runs == 1:
        return model(images, sample=False).logits.softmax(dim=1)
    return torch.stack([model(images, sample=True).logits.softmax(dim=1) for _ in range(runs)]).mean(dim=0)


def ram_loss(
    out: GlimpseOutput, labels: torch.Tensor, episodes: int = 1, *, every_glimpse: bool = False
) -> dict[str, torch.Tensor]:
    """Hybrid loss of the paper: classification + baseline regression + REINFORCE (reward 1 if right).
    `episodes` > 1: the batch holds that many episodes of each image, one after another
    (`repeat_interleave`), and REINFORCE's baseline for an episode is the mean reward of the same image's
    other episodes (leave-one-out), which removes how hard the image is from the policy's noise.
    `every_glimpse`: the classification term is the mean cross-entropy of the answers after every glimpse
    (deep supervision; the paper scores only the last); the reward and the reported "classification"
    stay the last answer's."""
    classification = F.cross_entropy(out.logits, labels)
    trained = classification
    if every_glimpse:
        g = out.step_logits.shape[1]
        trained = F.cross_entropy(out.step_logits.flatten(0, 1), labels.repeat_interleave(g))  # mean over B*G
    reward = (out.logits.detach().argmax(dim=1) == labels).float()[:, None].expand_as(out.baselines)  # (B, N)
    baseline = F.mse_loss(out.baselines, reward)
    if episodes > 1:
        if out.logits.shape[0] % episodes:
            raise ValueError(f"batch {out.logits.shape[0]} is not a whole number of {episodes} episodes per image")
        per_image = reward[:, 0].view(-1, episodes)  # (B / M, M)
        others = (per_image.sum(dim=1, keepdim=True) - per_image) / (episodes - 1)  # (B / M, M)
        advantage = (per_image - others).reshape(-1, 1).expand_as(out.baselines)  # (B, N)
    else:
        advantage = reward - out.baselines.detach()  # (B, N)
    reinforce = -(out.log_probs * advantage).sum(dim=1).mean()
    return {
        "loss": trained + baseline + reinforce,
        "classification": classification.detach(),
        "baseline": baseline.detach(),
        "reinforce": reinforce.detach(),
        "reward": reward[:, 0].mean(),
    }
