"""The long-video glimpse agent as a LightningModule (`task: long_glimpse`), trained with REINFORCE.

Two steps, as for the clip agent (docs/glimpse.md): a classifier of short clips (`vap train`, its
checkpoint is `features_from`), then this task. Its classifier is frozen, so what a glimpse at any slot
of a training video would see never changes: `setup` decodes each training and validation video once
(in the data module's loader workers, `LongVideoClips`), runs the classifier on its keyframes and on
every slot's clip, and keeps the features (a few KB per video). Every epoch then replays episodes on
those features: batches are (video index, label). The checkpoint stands alone (`load_any`): its `vap`
record holds the classifier's architecture and preprocessing, the agent's arguments and the slot step.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import lightning as L
import torch
from rich.progress import track

from pipeline.data.clips import eval_pipeline
from pipeline.data.long_videos import clip_loader, clip_offsets
from pipeline.errors import ConfigError
from pipeline.models.checkpoint import checkpoint_record, load_model
from pipeline.models.glimpse_video import episode_loss
from pipeline.models.long_glimpse import FirstLook, LongGlimpseModel, LongVideoGlimpseAgent, place_keyframes
from pipeline.tasks.feature_cache import cache_key, cached

AGENT_NAME = "long_video_glimpse"


class LongGlimpseTask(L.LightningModule):
    """Trains a `LongVideoGlimpseAgent` over the frozen features of a short-clip classifier."""

    def __init__(
        self,
        *,
        num_classes: int = 0,
        class_names: list[str] | None = None,
        multilabel: bool = False,
        num_frames: int = 1,
        features_from: str | None = None,
        features: dict[str, Any] | None = None,
        max_glimpses: int = 8,
        min_glimpses: int = 1,
        hidden: int = 128,
        memory: int = 16,
        kernel: int = 9,
        dropout: float = 0.0,
        glimpse_cost: float = 0.02,
        entropy_weight: float = 0.01,
        lr: float = 3e-3,
        halt_threshold: float = 0.5,
        second_look_below: float | None = 0.995,
        second_look_sure: float = 0.95,
        halt_on_sight: bool = True,
        feature_cache: str | None = None,
    ) -> None:
        """`features_from`: the short-clip classifier's checkpoint (`features`: its record, kept in this
        task's checkpoint so that `--ckpt_path` needs no other file). `glimpse_cost`: the reward given up
        per glimpse (more: fewer glimpses). `halt_threshold`: in validation and scoring the agent stops
        once its halting probability exceeds it. `second_look_below`, `second_look_sure`: where no keyframe
        shows a video class at `below` or more, the agent reads one reference frame per slot until two in
        a row show one at `sure` (`SecondLook`); None: the keyframes alone. `halt_on_sight`: halt only after
        a glimpse that saw a video class (needs the second look's empty class). `feature_cache`: a folder where
        the decoded features of each split are kept, so that the next run with the same classifier and
        videos (another seed, another glimpse cost) skips decoding them (`pipeline.tasks.feature_cache`)."""
        super().__init__()
        if num_classes < 2:
            raise ConfigError(f"model.num_classes must be at least 2, got {num_classes} (it is set from the data)")
        if multilabel:
            raise ConfigError("the long-video agent answers one class per video: multi-label data is not supported")
        self.save_hyperparameters()
        self.class_names = list(class_names) if class_names else [str(i) for i in range(num_classes)]
        if features is None:
            if features_from is None:
                raise ConfigError(
                    "model.features_from: the agent glimpses through a trained classifier of short clips; train "
                    "one first (`vap train --config configs/moving_digits_long_clips.yaml`) and pass its "
                    "checkpoint (docs/glimpse.md)"
                )
            classifier, meta = load_model(features_from)
            features = {"model": meta.model, "preprocessing": dict(meta.preprocessing),
                        "class_names": list(meta.class_names)}  # fmt: skip
        else:
            from pipeline.models.checkpoint import build_classifier

            pre = features["preprocessing"]
            classifier = build_classifier(features["model"], mean=pre["mean"], std=pre["std"])
        self.hparams["features"] = features
        self.offsets = clip_offsets(features["preprocessing"])
        size = int(features["preprocessing"]["size"])
        feature_dim, glimpse_dim = LongGlimpseModel.dims(classifier, (size, size), len(self.offsets))
        clip_classes = list(features["class_names"])
        empty = [i for i, c in enumerate(clip_classes) if c not in set(self.class_names)]
        second = None
        if second_look_below is not None and empty:
            second = {"empty": empty, "classes": len(clip_classes), "below": second_look_below,
                      "sure": second_look_sure}  # fmt: skip
        self.agent_args = {
            "num_classes": num_classes, "feature_dim": feature_dim, "glimpse_dim": glimpse_dim,
            "max_glimpses": max_glimpses, "min_glimpses": min_glimpses, "hidden": hidden, "memory": memory,
            "kernel": kernel, "dropout": dropout, "halt_threshold": halt_threshold, "second_look": second,
            "halt_on_sight": halt_on_sight and second is not None,
        }  # fmt: skip
        self.model = LongGlimpseModel(classifier, LongVideoGlimpseAgent(**self.agent_args))
        self.cache: dict[str, list[dict[str, torch.Tensor]]] = {}
        self.maps: dict[str, list[tuple[torch.Tensor, torch.Tensor] | None]] = {}

    # --- features, once per video ---------------------------------------------------------------
    def setup(self, stage: str) -> None:
        dm = self.trainer.datamodule
        splits = {"fit": ("train", "val"), "validate": ("val",), "test": ("test",)}.get(stage, ())
        _, transform = eval_pipeline(self.hparams.features["preprocessing"], clips=1, three_crop=False)
        for split in splits:
            if split in self.cache or not dm.videos(split)[0]:
                continue
            if self.hparams.feature_cache is None:
                self.cache[split] = self._features(dm, split, transform)
                continue
            slots = {
                "step": dm.step_seconds,
                "offsets": self.offsets.tolist(),
                "transform": repr(transform),
                "first_look": "features+probs",  # what `LongGlimpseModel.frame_features` keeps
                "frames": "each slot's first",  # the second look's
            }
            key = cache_key(self.model.classifier, self.hparams.features["preprocessing"], dm.videos(split)[0], slots)
            self.cache[split] = cached(Path(self.hparams.feature_cache) / f"{split}-{key}.pt",
                                       lambda split=split: self._features(dm, split, transform))  # fmt: skip
        for split in splits:
            self.maps[split] = [self._map(it) for it in self.cache.get(split, [])]

    def _map(self, item: dict[str, torch.Tensor]) -> tuple[torch.Tensor, torch.Tensor] | None:
        """A video's first look (T, D), (T,), and its second where the agent's rule takes one: the rule
        applied to every slot's first frame, as scoring applies it to the reference frames it reads."""
        if not item:
            return None
        rule = self.model.agent.second_look
        look, key = item["look"], item["keyframe"]
        if rule is None or not rule.wanted(look, key):
            return look, key
        n = rule.stop(item["frames"][:, -rule.classes :])
        return rule.place(look, key, item["frames"][: len(key) if n is None else n])

    @torch.no_grad()
    def _features(self, dm: Any, split: str, transform: Any) -> list[dict[str, torch.Tensor]]:
        paths = dm.videos(split)[0]
        out: list[dict[str, torch.Tensor]] = [{}] * len(paths)
        model = self.model.eval()
        loader = clip_loader(dm, split, self.offsets, transform)
        for item in track(loader, description=f"{split}: features of every slot", total=len(paths)):
            i = item["index"]
            if "error" in item:
                print(f"skipped {item['error']}")
                continue
            clips = item["clips"]  # (T, L, C, H, W)
            glimpses = torch.cat([model.clip_features(c) for c in clips.split(64)])  # (T, G)
            frames = torch.cat([model.frame_features(c) for c in clips[:, 0].split(64)])  # (T, D)
            keys = model.frame_features(item["keyframes"])  # (K, D)
            look, first = place_keyframes(keys, item["key_slot"], item["keyframe"])  # (T, D), (T,)
            out[i] = {"look": look, "keyframe": first, "glimpses": glimpses, "frames": frames}
        return out

    def _batch(self, split: str, index: torch.Tensor) -> tuple[FirstLook, torch.Tensor, torch.Tensor]:
        """The first look (padded to the longest video), every slot's glimpse (B, T, G) and which rows decoded."""
        items = [self.cache[split][int(i)] for i in index]
        maps = [self.maps[split][int(i)] for i in index]
        ok = torch.tensor([bool(it) for it in items], device=index.device)
        t = max((len(it["glimpses"]) for it in items if it), default=1)
        d = self.agent_args["feature_dim"]
        g = self.agent_args["glimpse_dim"]
        look = torch.zeros(len(items), t, d)
        key = torch.zeros(len(items), t)
        valid = torch.zeros(len(items), t, dtype=torch.bool)
        glimpses = torch.zeros(len(items), t, g)
        for r, (it, m) in enumerate(zip(items, maps, strict=True)):
            if m is not None:
                n = len(it["glimpses"])
                look[r, :n], key[r, :n], valid[r, :n], glimpses[r, :n] = m[0], m[1], True, it["glimpses"]
        dev = index.device
        return FirstLook(look.to(dev), key.to(dev), valid.to(dev)), glimpses.to(dev), ok

    # --- episodes -----------------------------------------------------------------------------------
    def _step(self, batch: list[torch.Tensor], split: str, stage: str) -> torch.Tensor | None:
        index, labels = batch
        first, glimpses, ok = self._batch(split, index)
        if not bool(ok.any()):
            return None
        first = FirstLook(first.features[ok], first.keyframe[ok], first.valid[ok])
        glimpses, labels = glimpses[ok], labels[ok]
        out = self.model(first, lambda rows, slots: glimpses[rows, slots])
        parts = episode_loss(out, labels, glimpse_cost=self.hparams.glimpse_cost,
                             entropy_weight=self.hparams.entropy_weight)  # fmt: skip
        slots = first.valid.sum(1).float()  # (B,)
        logs = {"loss": parts["loss"], "top1": parts["top1"], "reward": parts["reward"], "viewed": parts["viewed"],
                "viewed_fraction": (out.viewed.float() / slots).mean(), "policy_entropy": parts["entropy"],
                "classification": parts["classification"]}  # fmt: skip
        self.log_dict({f"{stage}/{k}": v for k, v in logs.items()}, batch_size=len(labels),
                      prog_bar=stage == "val", sync_dist=stage != "train")  # fmt: skip
        return parts["loss"]

    def training_step(self, batch: list[torch.Tensor], batch_idx: int) -> torch.Tensor:
        loss = self._step(batch, "train", "train")
        if loss is None:  # nothing decoded in this batch: a zero loss still attached to the parameters (DDP)
            return sum(p.sum() for p in self.model.agent.parameters()) * 0.0
        return loss

    def validation_step(self, batch: list[torch.Tensor], batch_idx: int) -> None:
        self._step(batch, "val", "val")

    def test_step(self, batch: list[torch.Tensor], batch_idx: int) -> None:
        self._step(batch, "test", "test")

    def configure_optimizers(self) -> torch.optim.Optimizer:
        return torch.optim.Adam(self.model.agent.parameters(), lr=self.hparams.lr)

    def on_save_checkpoint(self, checkpoint: dict[str, Any]) -> None:
        """What `load_any` needs to rebuild classifier and agent from the checkpoint alone."""
        features = self.hparams["features"]
        dm = getattr(self.trainer, "datamodule", None)
        pre = dict(features["preprocessing"]) | {"step_seconds": float(getattr(dm, "step_seconds", 1.0))}
        checkpoint["vap"] = checkpoint_record(model=features["model"], class_names=self.class_names, preprocessing=pre)
        checkpoint["vap"].update(task="long_glimpse", agent={"name": AGENT_NAME, "args": dict(self.agent_args)},
                                 clip_classes=list(features["class_names"]))  # fmt: skip
