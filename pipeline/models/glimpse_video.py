"""A glimpse agent for video: which frames to look at (and where in them), and when to stop, trained with
REINFORCE (Mnih et al. 2014's Recurrent Attention Model carried to time, as in Yeung et al. 2016 and
AdaFrame, Wu et al. 2019).

    step k: frame f_k ~ Categorical(absolute(h) + relative(h)[f - f_{k-1}] + conv1d(M)[f])  over the T frames
            not seen yet; M (B, T, m+1) the timeline map: slot f holds a projection of what frame f showed
            and a 1 once it was seen (zeros elsewhere); with `memory` = 0 (no map) the policy reads h only
            (raw frames only: location l_k ~ N(tanh(W h), std))
            observe f_k: its per-frame feature (B, D) [or the RAM retina's patches at l_k] -> LSTM core -> h_k
            answer logits_k = W h_k;  halt ~ Bernoulli(sigmoid(W h_k)) after `min_glimpses`
The frame policy scores every frame by where it is in the clip and by how far it is from the frame just
seen, so that "step to the next frame" and "jump a quarter of the clip" are each one linear readout of h
(a Gaussian over the position in time, RAM's policy, did not learn the search on moving-digits-sparse;
this one does). With `memory` it also reads the timeline map through a 1-D convolution: a memory laid
out like the clip, as the Neural Map (Parisotto & Salakhutdinov, ICLR 2018) lays an agent's memory out
like its world, so that "next to an informative frame" and "far from every frame seen" are one local
rule, the same at every place in the clip (from h alone the policy learned one fixed order of probes).
Episodes of different lengths are masked: a step after the halt has no log-probability, no baseline and
no reward. The policy, halt and baseline read h detached, so REINFORCE trains only them (and the map)
and the classification loss trains the core (as in RAM).

    GlimpseVideoModel: frozen per-frame encoder (a trained VideoClassifier's backbone) + agent; it encodes
    only the frames the agent asks for, so a video costs `viewed` frames through the backbone, not T.
    Without a classifier (`features=None`) the agent looks at the pixels instead: each chosen frame is
    normalised and the retina takes its patches where the policy points (frame and place, as RAM).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import torch
import torch.nn.functional as F
from einops.layers.torch import Rearrange
from torch import nn
from torch.distributions import Bernoulli, Categorical, Normal

from pipeline.data.transforms import IMAGENET_MEAN, IMAGENET_STD, normalize
from pipeline.models.retina import retina
from pipeline.models.video_classifier import VideoClassifier
from pipeline.registry import Registry

AGENTS: Registry[type[nn.Module]] = Registry("agent")

# frames (B, C, H, W) -> features (B, D), or (pixel mode) -> the normalised frames (B, C, H, W) the retina reads
Encoder = Callable[[torch.Tensor], torch.Tensor]


@dataclass
class EpisodeOutput:
    logits: torch.Tensor  # (B, K) the answer at the halting step
    step_logits: torch.Tensor  # (B, G, K) the answer after each step (stale after the halt)
    log_probs: torch.Tensor  # (B, G) log-probability of step k's decisions (which frame, then halt or go on)
    baselines: torch.Tensor  # (B, G) expected reward in the state step k's decisions were made in
    mask: torch.Tensor  # (B, G) 1 for the steps taken (up to and including the halt)
    entropy: torch.Tensor  # (B, G) entropy of the frame policy at each step
    frames: torch.Tensor  # (B, G) int64 frame indices looked at (after the halt: the last one, repeated)
    locations: torch.Tensor  # (B, G, 2) where in the frame (zeros for features: the whole frame)
    viewed: torch.Tensor  # (B,) int64 glimpses taken, = mask.sum(1)
    halt_prob: torch.Tensor  # (B, G) the policy's halting probability after each step (1 at the last)


@AGENTS.register("video_glimpse")
class VideoGlimpseAgent(nn.Module):
    """Looks at `max_glimpses` of a clip's `num_frames` frames at most, choosing each next frame and when to stop."""

    def __init__(
        self,
        num_classes: int,
        *,
        num_frames: int,
        feature_dim: int | None = None,
        in_channels: int = 3,
        glimpse_size: int = 16,
        scales: int = 2,
        max_glimpses: int = 4,
        min_glimpses: int = 1,
        hidden: int = 128,
        std: float = 0.1,
        dropout: float = 0.0,
        halt_threshold: float = 0.5,
        memory: int = 0,
        memory_kernel: int = 9,
        halt_on_answer: bool = False,
        answer_memory: int = 0,
    ) -> None:
        """`halt_threshold`: without sampling (evaluation), the episode stops once the halting probability
        exceeds it (lower: fewer frames); chosen on validation data, the policy's own 0.5 by default.
        `memory`: channels of the timeline map the frame policy also reads, scored by 1-D convolutions of
        width `memory_kernel`; 0 (no map, the policy reads h only) here, so that the records of agents saved
        before the map rebuild them unchanged; the task and the configs use 16. `halt_on_answer`: the halting
        policy also reads the entropy of the current answer (detached), a confidence a linear readout of h
        cannot compute. `answer_memory`: the answer also reads a timeline map of its own (that many channels
        per frame, trained by the classification loss) through a width-5 1-D convolution and a max over
        time, so that "the digit moved right from one frame to the next" is one local rule wherever the
        frames are, and not a comparison of (feature, time) pairs the LSTM must learn."""
        super().__init__()
        if not 1 <= min_glimpses <= max_glimpses <= num_frames:
            raise ValueError(f"need 1 <= min_glimpses ({min_glimpses}) <= max_glimpses ({max_glimpses}) "
                             f"<= num_frames ({num_frames})")  # fmt: skip
        self.features_mode = feature_dim is not None
        self.num_frames, self.glimpse_size, self.scales = num_frames, glimpse_size, scales
        self.max_glimpses, self.min_glimpses, self.hidden, self.std = max_glimpses, min_glimpses, hidden, std
        self.halt_threshold = halt_threshold
        in_dim = feature_dim if feature_dim is not None else scales * in_channels * glimpse_size**2
        self.what = nn.Sequential(nn.Dropout(dropout), nn.Linear(in_dim, hidden), nn.ReLU())
        self.where = nn.Sequential(nn.Linear(3, hidden), nn.ReLU())  # (time, x, y) of the glimpse
        self.core = nn.LSTMCell(hidden, hidden)
        self.when_abs = nn.Linear(hidden, num_frames)  # score of each frame by its place in the clip
        self.when_rel = nn.Linear(hidden, 2 * num_frames - 1)  # ... by its offset from the last frame seen
        self.loc = nn.Linear(hidden, 2)  # location in [-1, 1]^2 (tanh mean), raw frames only
        self.halt_on_answer = halt_on_answer
        self.halt = nn.Linear(hidden + halt_on_answer, 1)
        self.memory = memory
        if memory:
            self.remember = nn.Linear(in_dim, memory)  # what a glimpse saw -> its frame's slot in the map
            pad = memory_kernel // 2
            self.scan = nn.Sequential(
                Rearrange("b t d -> b d t"),
                nn.Conv1d(memory + 1, 2 * memory, memory_kernel, padding=pad), nn.ReLU(),
                nn.Conv1d(2 * memory, 1, memory_kernel, padding=pad),
                Rearrange("b 1 t -> b t"),
            )  # fmt: skip
        self.baseline = nn.Linear(hidden, 1)
        self.classifier = nn.Linear(hidden, num_classes)
        self.answer_memory = answer_memory
        if answer_memory:
            self.answer_write = nn.Sequential(nn.Dropout(dropout), nn.Linear(in_dim, answer_memory), nn.ReLU())
            self.answer_scan = nn.Sequential(
                Rearrange("b t d -> b d t"),
                nn.Conv1d(answer_memory + 1, 2 * answer_memory, 5, padding=2), nn.ReLU(),
                nn.AdaptiveMaxPool1d(1), Rearrange("b d 1 -> b d"),
                nn.Linear(2 * answer_memory, num_classes),
            )  # fmt: skip

    def answer(self, h: torch.Tensor, notes: torch.Tensor | None, seen: torch.Tensor) -> torch.Tensor:
        """Logits (B, K) from the state h (B, hidden) and, with `answer_memory`, the answer's timeline map
        `notes` (B, T, a) of the frames `seen` (B, T)."""
        logits = self.classifier(h)  # (B, K)
        if notes is None:
            return logits
        return logits + self.answer_scan(torch.cat([notes, seen[..., None].float()], dim=2))  # (B, K)

    def frame_scores(self, h: torch.Tensor, last: torch.Tensor, timeline: torch.Tensor | None = None) -> torch.Tensor:
        """Logits over the T frames (B, T) from the state h (B, hidden), the last frame seen (B,) and, with
        `memory`, the timeline map (B, T, memory + 1): what was seen at each frame, and whether it was."""
        t = self.num_frames
        offset = torch.arange(t, device=h.device)[None] - last[:, None] + t - 1  # (B, T) in [0, 2T-2]
        scores = self.when_abs(h) + self.when_rel(h).gather(1, offset)  # (B, T)
        return scores if timeline is None else scores + self.scan(timeline)  # (B, T)

    def observe(
        self,
        video: torch.Tensor,
        frame: torch.Tensor,
        loc: torch.Tensor,
        encoder: Encoder | None = None,
        alive: torch.Tensor | None = None,
    ) -> torch.Tensor:
        """What one glimpse sees, at frame (B,) and loc (B, 2): of (B, T, D) features, of (B, T, C, H, W)
        frames through `encoder` (only the episodes still `alive` are read), or the retina's patches of
        raw frames (after `encoder`, when given: the normalisation of pixel mode)."""
        rows = torch.arange(video.shape[0], device=video.device)
        if encoder is None:
            picked = video[rows, frame]  # (B, D) or (B, C, H, W)
            return picked if self.features_mode else self.patches(picked.float(), loc)
        take = torch.ones_like(frame, dtype=torch.bool) if alive is None else alive
        seen = torch.zeros(len(frame), self.what[1].in_features, device=video.device)  # (B, D)
        if bool(take.any()):
            # only the live episodes' frames are read: `video` may decode on request (vap score)
            x = encoder(video[rows[take], frame[take]]).float()  # (A, D) or (A, C, H, W): halted ones cost nothing
            seen[take] = x if self.features_mode else self.patches(x, loc[take])
        return seen

    def patches(self, frames: torch.Tensor, loc: torch.Tensor) -> torch.Tensor:
        """The retina's `scales` patches of (B, C, H, W) frames at loc (B, 2), flattened: (B, k*C*g*g)."""
        return retina(frames, loc, self.glimpse_size, self.scales).flatten(1)

    def forward(
        self, video: torch.Tensor, *, sample: bool | None = None, encoder: Encoder | None = None
    ) -> EpisodeOutput:
        """`video`: (B, T, D) features, or (B, T, C, H, W) frames (raw, or encoded per glimpse by `encoder`).
        Samples its decisions in training (or with `sample=True`), takes the most likely ones otherwise."""
        sample = self.training if sample is None else sample
        b, t = video.shape[:2]
        if t != self.num_frames:
            raise ValueError(f"the agent was built for clips of {self.num_frames} frames, got {t}")
        dev = video.device
        h = c = torch.zeros(b, self.hidden, device=dev)
        alive = torch.ones(b, dtype=torch.bool, device=dev)  # (B,) not halted yet
        seen = torch.zeros(b, t, dtype=torch.bool, device=dev)  # (B, T)
        memory = torch.zeros(b, t, self.memory, device=dev)  # (B, T, m) the timeline map
        last = torch.full((b,), (t - 1) // 2, device=dev)  # offsets of the first choice count from the middle
        loc = torch.zeros(b, 2, device=dev)
        logits = torch.zeros(b, self.classifier.out_features, device=dev)
        notes = torch.zeros(b, t, self.answer_memory, device=dev) if self.answer_memory else None  # (B, T, a)
        viewed = torch.zeros(b, dtype=torch.long, device=dev)
        out: dict[str, list[torch.Tensor]] = {k: [] for k in ("lp", "base", "mask", "ent", "f", "loc", "halt", "log")}
        never = torch.finfo(torch.float32).min
        for step in range(self.max_glimpses):
            hd = h.detach()
            timeline = torch.cat([memory, seen[..., None].float()], dim=2) if self.memory else None  # (B, T, m+1)
            choose = Categorical(logits=self.frame_scores(hd, last, timeline).masked_fill(seen, never))
            frame = choose.sample() if sample else choose.probs.argmax(1)  # (B,)
            lp = choose.log_prob(frame)  # (B,)
            if not self.features_mode:
                where_to = Normal(torch.tanh(self.loc(hd)), self.std)
                nxt = where_to.sample() if sample else where_to.mean  # (B, 2)
                lp = lp + where_to.log_prob(nxt).sum(1)  # of the sample itself, before any clamping
                loc = torch.where(alive[:, None], nxt.clamp(-1, 1), loc)
            out["lp"].append(lp)
            out["ent"].append(choose.entropy())
            out["base"].append(self.baseline(hd).squeeze(1))
            out["mask"].append(alive.float())
            frame = torch.where(alive, frame, last)  # a halted episode stays where it was
            where = torch.cat([frame[:, None].float() / max(t - 1, 1) * 2 - 1, loc], dim=1)  # (B, 3)
            x = self.observe(video, frame, loc, encoder, alive)  # (B, D)
            g = F.relu(self.what(x) + self.where(where))  # (B, hidden)
            h_new, c_new = self.core(g, (h, c))
            keep = alive[:, None]
            h, c = torch.where(keep, h_new, h), torch.where(keep, c_new, c)  # a halted episode stays put
            viewed = viewed + alive.long()
            here = F.one_hot(frame, t).bool() & keep  # (B, T) the frame just seen, if the episode goes on
            seen = seen | here
            if self.answer_memory:
                notes = notes + here[..., None] * self.answer_write(x)[:, None]  # (B, T, a): written in its slot
            step_logits = self.answer(h, notes, seen)  # (B, K)
            if self.memory:
                memory = memory + here[..., None] * self.remember(x)[:, None]  # (B, T, m): written in its slot
            last = frame
            out["f"].append(frame)
            out["loc"].append(loc)
            out["log"].append(step_logits)
            logits = torch.where(keep, step_logits, logits)
            if step == self.max_glimpses - 1:
                out["halt"].append(torch.ones(b, device=dev))
                break
            state = h.detach()  # (B, hidden) [+ the answer's entropy: (B, hidden + 1)]
            if self.halt_on_answer:
                state = torch.cat([state, answer_entropy(step_logits)[:, None]], 1)
            p_halt, stop_now, lp = halting(torch.sigmoid(self.halt(state)).squeeze(1), step=step,
                                           min_glimpses=self.min_glimpses, threshold=self.halt_threshold,
                                           sample=sample)  # fmt: skip
            out["halt"].append(p_halt)
            out["lp"][-1] = out["lp"][-1] + lp  # step k's decisions: frame, then halt
            alive = alive & (stop_now < 0.5)
        return EpisodeOutput(
            logits=logits, step_logits=torch.stack(out["log"], 1), log_probs=torch.stack(out["lp"], 1),
            baselines=torch.stack(out["base"], 1), mask=torch.stack(out["mask"], 1),
            entropy=torch.stack(out["ent"], 1), frames=torch.stack(out["f"], 1),
            locations=torch.stack(out["loc"], 1), viewed=viewed, halt_prob=torch.stack(out["halt"], 1),
        )  # fmt: skip


def halting(
    p_halt: torch.Tensor, *, step: int, min_glimpses: int, threshold: float, sample: bool
) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    """Step `step`'s halting decision from the policy's probability p_halt (B,): none before `min_glimpses`
    (p_halt forced to 0), sampled in training, p_halt > `threshold` otherwise. Returns p_halt as used, the
    decision stop_now (B,) (1: halt) and its log-probability (B,) (0 where the step could not halt)."""
    if step + 1 < min_glimpses:
        p_halt = torch.zeros_like(p_halt)
    stop = Bernoulli(probs=p_halt.clamp(1e-6, 1 - 1e-6))
    stop_now = (stop.sample() if sample else (p_halt > threshold).float()).detach()  # (B,)
    lp = stop.log_prob(stop_now) if step + 1 >= min_glimpses else torch.zeros_like(p_halt)
    return p_halt, stop_now, lp


def answer_entropy(logits: torch.Tensor) -> torch.Tensor:
    """Entropy (nats) of the answer's distribution, (B, K) logits -> (B,), without gradient: the halt reads it."""
    return Categorical(logits=logits.detach()).entropy()


def episode_loss(
    out: EpisodeOutput, labels: torch.Tensor, *, glimpse_cost: float = 0.01, entropy_weight: float = 0.01
) -> dict[str, torch.Tensor]:
    """Cross-entropy of the answer after every step taken (so the answer is ready whenever the agent halts)
    + masked baseline regression + masked REINFORCE with the baseline - an entropy bonus on the frame policy.
    Reward: 1 for the right final answer, less `glimpse_cost` per glimpse taken. Raises FloatingPointError
    when a log-probability or reward is not finite (a diverged run stops at once, not at the next NaN)."""
    m = out.mask  # (B, G)
    count = m.sum().clamp(min=1)
    g = m.shape[1]
    ce = F.cross_entropy(out.step_logits.flatten(0, 1), labels.repeat_interleave(g), reduction="none")  # (B*G,)
    classification = (ce.view_as(m) * m).sum() / count
    right = (out.logits.detach().argmax(1) == labels).float()  # (B,)
    reward = right - glimpse_cost * out.viewed.float()  # (B,)
    if not (torch.isfinite(out.log_probs).all() and torch.isfinite(reward).all()):
        raise FloatingPointError("glimpse agent: a log-probability or reward is not finite")
    returns = reward[:, None].expand_as(m)  # (B, G): one reward, at the end of the episode
    baseline = ((out.baselines - returns) ** 2 * m).sum() / count
    advantage = (returns - out.baselines.detach()) * m
    b = max(labels.shape[0], 1)
    reinforce = -(out.log_probs * advantage).sum() / b
    entropy = (out.entropy * m).sum() / b
    return {
        "loss": classification + baseline + reinforce - entropy_weight * entropy,
        "classification": classification.detach(),
        "baseline": baseline.detach(),
        "reinforce": reinforce.detach(),
        "entropy": (entropy / out.viewed.float().mean().clamp(min=1)).detach(),  # per step taken
        "reward": reward.mean(),
        "viewed": out.viewed.float().mean(),
        "top1": right.mean(),
    }


class GlimpseVideoModel(nn.Module):
    """A frozen per-frame encoder (a trained classifier) and an agent that decides which frames it encodes.

    video (B, T, C, H, W) uint8 -> the agent picks frame f_k -> classifier.frame_features(frame) (B, D)
    -> agent core -> ... -> EpisodeOutput. Only the frames looked at go through the backbone.
    `features=None` (pixel mode; the agent built without `feature_dim`): the picked frame is normalised
    with `mean`/`std` and the agent's retina reads it where its policy points, so nothing is pretrained."""

    def __init__(
        self,
        features: VideoClassifier | None,
        agent: VideoGlimpseAgent,
        *,
        mean: tuple[float, ...] = IMAGENET_MEAN,
        std: tuple[float, ...] = IMAGENET_STD,
    ) -> None:
        super().__init__()
        if (features is None) == agent.features_mode:
            raise ValueError("a glimpse agent over features needs the classifier that makes them (features=...); "
                             "one over pixels (built without feature_dim) takes features=None")  # fmt: skip
        self.features = None if features is None else features.eval().requires_grad_(False)  # frozen
        self.agent = agent
        self.mean, self.std = tuple(mean), tuple(std)

    def train(self, mode: bool = True) -> GlimpseVideoModel:
        super().train(mode)
        if self.features is not None:
            self.features.eval()  # batch norm statistics stay the classifier's
        return self

    def encode(self, frames: torch.Tensor) -> torch.Tensor:
        """(B, C, H, W) frames -> (B, D) features of the frozen classifier's backbone, no gradient; in pixel
        mode the normalised frames (B, C, H, W) for the agent's retina."""
        if self.features is None:
            return normalize(frames, self.mean, self.std) if frames.dtype == torch.uint8 else frames.float()
        with torch.no_grad():
            return self.features.frame_features(frames[:, None])[:, 0]  # (B, D)

    def forward(self, video: torch.Tensor, *, sample: bool | None = None) -> EpisodeOutput:
        return self.agent(video, sample=sample, encoder=self.encode)

    @staticmethod
    def feature_dim(features: VideoClassifier) -> int:
        with torch.no_grad():
            return features.frame_features(torch.zeros(1, 1, 3, 32, 32, dtype=torch.uint8)).shape[-1]
