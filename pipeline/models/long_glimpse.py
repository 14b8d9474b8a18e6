"""A glimpse agent for long videos: where in minutes of video to decode a short clip, and when to stop
(the Recurrent Attention Model of Mnih et al. 2014 carried to time as in Yeung et al., CVPR 2016, and
AdaFrame, Wu et al., CVPR 2019, with a first look at the keyframes as SCSampler, Korbar et al., ICCV
2019, first looks at what is cheap to read).

A video is a timeline of T candidate slots, one per `step` seconds (T grows with the video: the policy
is convolutional in time, so one agent serves every length). Its first look is the keyframes alone, the
frames that cost nothing else to decode: each keyframe's per-frame features sit in the slot it falls in.
Where no keyframe shows a video class, a second look (`SecondLook`) reads one reference frame per slot
from the start, until two slots in a row show one, and places those frames too.

    map M (B, T, 2m + 2): [look(frame features, its class probabilities) (m), a frame here (1),
                           memory (m), seen (1)]
    step k: slot s_k ~ Categorical(conv1d(relu(conv1d(M) + W h)))   over the unseen slots
            glimpse: the frozen classifier on the short clip at s_k -> (embedding, class probabilities) x
            -> LSTM core -> h_k;  memory[s_k] += W x;  answer logits_k = W h_k
            halt ~ Bernoulli(sigmoid(W [h_k, entropy(answer_k)])) after `min_glimpses`
Trained with REINFORCE (reward: the right answer, less `glimpse_cost` per glimpse) as `glimpse_video`'s
agent is, by the same `episode_loss`; the policy and halt read h detached, the classification loss
trains the core.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import torch
import torch.nn.functional as F
from einops import rearrange
from torch import nn
from torch.distributions import Categorical

from pipeline.models.glimpse_video import AGENTS, EpisodeOutput, answer_entropy, halting
from pipeline.models.video_classifier import VideoClassifier

# (rows (A,), slots (A,)) -> what the glimpses at those slots of those videos saw, (A, G)
Glimpse = Callable[[torch.Tensor, torch.Tensor], torch.Tensor]


@dataclass
class FirstLook:
    """The keyframes of B videos on their timelines of T slots (padded to the longest)."""

    features: torch.Tensor  # (B, T, D) per-frame features of the keyframe in each slot (zeros where none)
    keyframe: torch.Tensor  # (B, T) 1.0 where a keyframe falls in the slot
    valid: torch.Tensor  # (B, T) bool: the slot is inside the video


@dataclass(frozen=True)
class SecondLook:
    """When and how far the agent reads the reference frames after its first look.

    An event no keyframe falls in is invisible to the first look (a quarter of moving-digits-long's, 22
    of 100 training videos): the agent then searched with all its glimpses and found it in one of three
    test videos. The frames nothing refers to are left undecoded (`SparseReader.reference_frames`,
    about half the codec frames and 60% of a full decode's time on x264's defaults), one frame per slot
    is read by the classifier's frame model, and the sweep stops at the first two slots in a row that
    show a video class at `sure` or more (any: single frames of an event often disagree on which). It
    runs only where the keyframes show no video class at `below` or more (single frames of footage alone
    reach 0.6-0.99). On the training videos, 0.995 and 0.95 sweep 39 of 100 (all 22 whose event holds no
    keyframe) and stop inside the event in all 39, reading 17% of all the slots. The rule is the
    same in training (on every slot's first frame, decoded once) and in scoring, so the policy learns on
    the maps it will be given."""

    empty: tuple[int, ...]  # the classifier's classes that mean nothing happens (`background`)
    classes: int  # K', the classifier's class count: the last K' columns of a frame's features
    below: float = 0.995
    sure: float = 0.95

    def shows(self, probs: torch.Tensor) -> torch.Tensor:
        """How surely class probabilities (..., K') show a video class: 1 - their empty classes' sum, (...)."""
        return 1.0 - probs[..., list(self.empty)].sum(-1)

    def wanted(self, look: torch.Tensor, keyframe: torch.Tensor) -> bool:
        """Whether a first look (T, D) with keyframes in the slots `keyframe` (T,) shows no video class."""
        probs = look[keyframe.bool(), -self.classes :]  # (K, K')
        if not self.empty or not len(probs):
            return bool(self.empty)
        return bool(self.shows(probs).max() < self.below)

    def stop(self, probs: torch.Tensor) -> int | None:
        """How many slots a sweep keeps, from its frames' class probabilities so far (n, K'): up to the
        first slot that, with the one before it, shows a video class (any: single frames of an event
        disagree on which) at `sure` or more; None: go on."""
        hit = self.shows(probs) >= self.sure  # (n,)
        both = (hit[1:] & hit[:-1]).nonzero()
        return int(both[0]) + 2 if len(both) else None

    def place(
        self, look: torch.Tensor, keyframe: torch.Tensor, frames: torch.Tensor
    ) -> tuple[torch.Tensor, torch.Tensor]:
        """The map (T, D), (T,) after a sweep that read `frames` (n, D) for the first n slots: those
        without a keyframe get their frame."""
        n = len(frames)
        look, keyframe = look.clone(), keyframe.clone()
        empty = keyframe[:n] < 0.5  # (n,)
        look[:n][empty] = frames[empty].to(look.dtype)
        keyframe[:n][empty] = 1.0
        return look, keyframe


def place_keyframes(
    features: torch.Tensor, key_slot: torch.Tensor, clip_on_key: torch.Tensor
) -> tuple[torch.Tensor, torch.Tensor]:
    """One video's first look on its T slots: the features (T, D) of the first keyframe in each slot that
    has one (zeros elsewhere), from the keyframes' features (K, D) and slots (K,); and the slots whose clip
    starts on a keyframe (T,) as floats."""
    slots = len(clip_on_key)
    first = torch.full((slots,), -1, dtype=torch.long)
    for k in range(len(key_slot) - 1, -1, -1):  # the first keyframe of a slot wins
        first[key_slot[k]] = k
    placed = torch.zeros(slots, features.shape[1], dtype=features.dtype)  # (T, D)
    has = first >= 0
    placed[has] = features[first[has]]
    return placed, clip_on_key.float()


@AGENTS.register("long_video_glimpse")
class LongVideoGlimpseAgent(nn.Module):
    """Picks up to `max_glimpses` of a long video's slots to look at, one after the other, and when to stop."""

    def __init__(
        self,
        num_classes: int,
        *,
        feature_dim: int,
        glimpse_dim: int,
        max_glimpses: int = 8,
        min_glimpses: int = 1,
        hidden: int = 128,
        memory: int = 16,
        kernel: int = 9,
        dropout: float = 0.0,
        halt_threshold: float = 0.5,
        second_look: dict[str, Any] | None = None,
        halt_on_sight: bool = False,
    ) -> None:
        """`second_look`: `SecondLook`'s fields (kept in the checkpoint with the other arguments); None: the
        keyframes alone. `halt_on_sight`: the agent may halt only after a glimpse whose clip the classifier
        read as a video class more than as nothing (needs `second_look`'s empty classes); with it, a policy
        that halted after one glimpse beside the event, answering from the first look alone, goes on."""
        super().__init__()
        if not 1 <= min_glimpses <= max_glimpses:
            raise ValueError(f"need 1 <= min_glimpses ({min_glimpses}) <= max_glimpses ({max_glimpses})")
        self.max_glimpses, self.min_glimpses, self.hidden = max_glimpses, min_glimpses, hidden
        self.halt_threshold = halt_threshold
        if halt_on_sight and second_look is None:
            raise ValueError("halt_on_sight needs second_look: the classes that mean nothing happens")
        self.halt_on_sight = halt_on_sight
        self.second_look = None
        if second_look is not None:
            self.second_look = SecondLook(**(second_look | {"empty": tuple(second_look["empty"])}))
        self.look = nn.Linear(feature_dim, memory)  # a keyframe's features -> its slot of the map
        self.remember = nn.Linear(glimpse_dim, memory)  # what a glimpse saw -> its slot of the map
        pad = kernel // 2
        self.scan = nn.Conv1d(2 * memory + 2, 2 * memory, kernel, padding=pad)
        self.steer = nn.Linear(hidden, 2 * memory)  # the state's say in every slot's score
        self.score = nn.Conv1d(2 * memory, 1, kernel, padding=pad)
        self.what = nn.Sequential(nn.Dropout(dropout), nn.Linear(glimpse_dim, hidden), nn.ReLU())
        self.core = nn.LSTMCell(hidden, hidden)
        self.halt = nn.Linear(hidden + 1, 1)  # the state and how sure the answer is
        self.baseline = nn.Linear(hidden, 1)
        self.classifier = nn.Linear(hidden, num_classes)

    def slot_scores(self, h: torch.Tensor, timeline: torch.Tensor) -> torch.Tensor:
        """Logits (B, T) of every slot from the state h (B, hidden) and the map (B, T, 2m + 2)."""
        z = self.scan(rearrange(timeline, "b t d -> b d t")) + self.steer(h)[..., None]  # (B, 2m, T)
        return self.score(F.relu(z))[:, 0]  # (B, T)

    def forward(self, first: FirstLook, glimpse: Glimpse, *, sample: bool | None = None) -> EpisodeOutput:
        sample = self.training if sample is None else sample
        valid = first.valid
        b, t = valid.shape
        dev = valid.device
        h = c = torch.zeros(b, self.hidden, device=dev)
        look = torch.cat([self.look(first.features) * first.keyframe[..., None], first.keyframe[..., None]], 2)
        memory = torch.zeros(b, t, self.remember.out_features, device=dev)  # (B, T, m)
        seen = torch.zeros(b, t, dtype=torch.bool, device=dev)  # (B, T)
        alive = valid.any(1)  # (B,)
        last = torch.zeros(b, dtype=torch.long, device=dev)
        logits = torch.zeros(b, self.classifier.out_features, device=dev)
        viewed = torch.zeros(b, dtype=torch.long, device=dev)
        rows = torch.arange(b, device=dev)
        out: dict[str, list[torch.Tensor]] = {k: [] for k in ("lp", "base", "mask", "ent", "f", "halt", "log")}
        never = torch.finfo(torch.float32).min
        for step in range(self.max_glimpses):
            open_ = valid & ~seen  # (B, T)
            alive = alive & open_.any(1)  # a video whose every slot was seen stops
            hd = h.detach()
            timeline = torch.cat([look, memory, seen[..., None].float()], dim=2)  # (B, T, 2m + 2)
            scores = self.slot_scores(hd, timeline).masked_fill(~open_, never)  # (B, T)
            scores = torch.where(open_.any(1, keepdim=True), scores, torch.zeros_like(scores))  # no NaN when none
            choose = Categorical(logits=scores)
            slot = choose.sample() if sample else choose.probs.argmax(1)  # (B,)
            out["lp"].append(choose.log_prob(slot) * alive)
            out["ent"].append(choose.entropy())
            out["base"].append(self.baseline(hd).squeeze(1))
            out["mask"].append(alive.float())
            slot = torch.where(alive, slot, last)  # a halted episode stays where it was
            x = torch.zeros(b, self.what[1].in_features, device=dev)  # (B, G)
            if bool(alive.any()):
                x[alive] = glimpse(rows[alive], slot[alive]).float()  # only live episodes decode
            h_new, c_new = self.core(self.what(x), (h, c))
            keep = alive[:, None]
            h, c = torch.where(keep, h_new, h), torch.where(keep, c_new, c)
            viewed = viewed + alive.long()
            here = F.one_hot(slot, t).bool() & keep  # (B, T)
            seen = seen | here
            memory = memory + here[..., None] * self.remember(x)[:, None]  # (B, T, m)
            step_logits = self.classifier(h)  # (B, K)
            logits = torch.where(keep, step_logits, logits)
            last = slot
            out["f"].append(slot)
            out["log"].append(step_logits)
            if step == self.max_glimpses - 1:
                out["halt"].append(torch.ones(b, device=dev))
                break
            state = torch.cat([h.detach(), answer_entropy(step_logits)[:, None]], 1)  # (B, hidden + 1)
            p_halt, stop_now, lp = halting(torch.sigmoid(self.halt(state)).squeeze(1), step=step,
                                           min_glimpses=self.min_glimpses, threshold=self.halt_threshold,
                                           sample=sample)  # fmt: skip
            if self.halt_on_sight:  # no halting (and no decision to learn) after a glimpse that saw nothing
                rule = self.second_look
                may = (rule.shows(x[:, x.shape[1] - rule.classes :]) >= 0.5).float()  # (B,)
                p_halt, stop_now, lp = p_halt * may, stop_now * may, lp * may
            out["halt"].append(p_halt)
            out["lp"][-1] = out["lp"][-1] + lp * alive
            alive = alive & (stop_now < 0.5)
        g = len(out["f"])
        return EpisodeOutput(
            logits=logits, step_logits=torch.stack(out["log"], 1), log_probs=torch.stack(out["lp"], 1),
            baselines=torch.stack(out["base"], 1), mask=torch.stack(out["mask"], 1),
            entropy=torch.stack(out["ent"], 1), frames=torch.stack(out["f"], 1),
            locations=torch.zeros(b, g, 2, device=dev), viewed=viewed, halt_prob=torch.stack(out["halt"], 1),
        )  # fmt: skip


class LongGlimpseModel(nn.Module):
    """A frozen classifier of short clips (its backbone reads the keyframes, the whole model each glimpse's
    clip) and the agent that decides which clips it reads."""

    def __init__(self, classifier: VideoClassifier, agent: LongVideoGlimpseAgent) -> None:
        super().__init__()
        self.classifier = classifier.eval().requires_grad_(False)
        self.agent = agent

    def train(self, mode: bool = True) -> LongGlimpseModel:
        super().train(mode)
        self.classifier.eval()  # batch norm statistics stay the classifier's
        return self

    @torch.no_grad()
    def frame_features(self, frames: torch.Tensor) -> torch.Tensor:
        """Keyframes (K, C, H, W) -> what the first look keeps of each, (K, D + K'): its per-frame features
        and the classifier's class probabilities for it alone (the head over a one-frame clip), which say
        directly whether something shows there. Without them REINFORCE had to find that cue in 1280
        MobileNetV2 features from 100 videos, and did not: chance (0.2) on validation after 70 epochs."""
        feats = self.classifier.frame_features(frames[None])  # (1, K, D)
        probs = self.classifier.head(rearrange(feats, "1 k d -> k 1 d")).logits.softmax(-1)  # (K, K')
        return torch.cat([feats[0], probs], dim=1)  # (K, D + K')

    @torch.no_grad()
    def clip_features(self, clips: torch.Tensor) -> torch.Tensor:
        """Clips (A, L, C, H, W) -> what a glimpse sees: the head's embedding and the class probabilities,
        (A, D' + K')."""
        out = self.classifier(clips)
        return torch.cat([out.embedding, out.logits.softmax(-1)], dim=1)  # (A, D' + K')

    def forward(self, first: FirstLook, glimpse: Glimpse, *, sample: bool | None = None) -> EpisodeOutput:
        return self.agent(first, glimpse, sample=sample)

    @staticmethod
    def dims(classifier: VideoClassifier, size: tuple[int, int], clip_len: int) -> tuple[int, int]:
        """(feature_dim, glimpse_dim) the agent needs for this classifier."""
        with torch.no_grad():
            x = torch.zeros(1, clip_len, 3, *size, dtype=torch.uint8)
            out = classifier.eval()(x)
            return classifier.frame_features(x[:, :1]).shape[-1] + out.logits.shape[-1], out.embedding.shape[
                -1
            ] + out.logits.shape[-1]
