"""Moving-digits videos decoded once into memory, TSN clips drawn from them, and the tiny CNN + LSTM
classifier the video agent looks through, trained end to end on those clips (a plain loop: the data is
small, and the proof trains many models).

Copied from scripts/research/temporal/temporal_proof.py (the LSTM head only), so that each research folder imports only
its own modules; the two proofs train the classifier the same way.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch
import torch.nn.functional as F
import torchvision.transforms.v2.functional as TF

from pipeline.data.annotations import read_annotations
from pipeline.data.backends import open_video
from pipeline.data.moving_digits import CLASS_NAMES
from pipeline.data.samplers import TSNSampler
from pipeline.models import VideoClassifier

HEADS = {"lstm": ("lstm", {"hidden": 128})}


@dataclass
class Split:
    videos: torch.Tensor  # (N, T_all, C, H, W) uint8, every frame
    labels: torch.Tensor  # (N,)
    informative: list[list[int]]  # per video, the frames that carry the class (sparse variant)


def load_split(root: Path, split: str, size: int) -> Split:
    ann = read_annotations("list", root / f"{split}.txt")
    meta_file = root / "videos" / split / "meta.json"
    meta = json.loads(meta_file.read_text()) if meta_file.exists() else {}
    videos, labels, informative = [], [], []
    for r in ann.records:
        with open_video(r.path, "pyav") as v:
            frames = v.get_frames(range(v.meta.num_frames))  # (T, C, H, W)
        videos.append(TF.resize(frames, [size, size], antialias=True))
        labels.append(r.label)
        informative.append(meta.get(Path(r.video_id).stem, []))
    return Split(torch.stack(videos), torch.tensor(labels), informative)


def sample(
    split: Split, sampler: TSNSampler, rng: np.random.Generator, training: bool
) -> tuple[torch.Tensor, torch.Tensor]:
    n_all = split.videos.shape[1]
    idx = np.stack([sampler(n_all, rng, training=training)[0] for _ in range(len(split.labels))])  # (N, T)
    clips = split.videos[torch.arange(len(idx))[:, None], torch.from_numpy(idx)]  # (N, T, C, H, W)
    return clips, torch.from_numpy(idx)


def train_classifier(
    head: str, train: Split, *, seed: int, epochs: int, frames: int, batch: int, lr: float, val: Split | None = None
) -> tuple[VideoClassifier, np.random.Generator, list[float]]:
    """A tiny-backbone classifier with `head`, trained end to end on TSN clips of `frames` frames; also
    returns its random generator (evaluation goes on drawing from it) and the training losses. With `val`,
    the weights of the epoch with the best top-1 on it are kept (the latest of equals), not the last epoch's:
    one seed's run can sit on a plateau where a pair of classes is still told apart by chance, and on
    moving-digits-sparse that decided 73% against 97% (the same seed on a rebuild of the same data)."""
    torch.manual_seed(seed)
    rng = np.random.default_rng(seed)
    name, kwargs = HEADS[head]
    model = VideoClassifier.build(num_classes=len(CLASS_NAMES), backbone="tiny", head=name, head_args=kwargs)
    opt = torch.optim.AdamW(model.parameters(), lr=lr, weight_decay=0.01)
    steps = epochs * int(np.ceil(len(train.labels) / batch))
    sched = torch.optim.lr_scheduler.OneCycleLR(opt, max_lr=lr, total_steps=steps, pct_start=0.15)
    sampler = TSNSampler(num_segments=frames)
    losses, best, best_state = [], -1.0, None
    for _ in range(epochs):
        model.train()
        clips, _ = sample(train, sampler, rng, training=True)
        order = torch.from_numpy(rng.permutation(len(train.labels)))
        for i in range(0, len(order), batch):
            b = order[i : i + batch]
            loss = F.cross_entropy(model(clips[b]).logits, train.labels[b], label_smoothing=0.05)
            opt.zero_grad()
            loss.backward()
            opt.step()
            sched.step()
            losses.append(loss.item())
        if val is not None:
            top1 = val_top1(model, val, sampler, rng)
            if top1 >= best:
                best, best_state = top1, {k: v.clone() for k, v in model.state_dict().items()}
    if val is not None:
        model.load_state_dict(best_state)
    return model.eval(), rng, losses


def val_top1(model: VideoClassifier, split: Split, sampler: TSNSampler, rng: np.random.Generator) -> float:
    """Top-1 on `split`'s test-time clips (draws from `rng` only if the sampler is random at test time);
    the model is left in the mode it came in."""
    training = model.training
    model.eval()
    clips, _ = sample(split, sampler, rng, training=False)
    with torch.no_grad():
        logits = torch.cat([model(clips[i : i + 50]).logits for i in range(0, len(clips), 50)])
    model.train(training)
    return (logits.argmax(1) == split.labels).float().mean().item()
