"""The video glimpse agent as a LightningModule (`task: glimpse`): which frames to look at, trained with REINFORCE.

batch (VideoBatch: uint8 clip (B, T, C, H, W), the T candidate frames) -> GlimpseVideoModel: the agent
picks frames one at a time and only those go through the frozen backbone of a trained classifier
(`features_from`: a `vap train` checkpoint; or `weights: imagenet` for pretrained features) ->
`episode_loss` (answer cross-entropy + masked baseline regression + masked REINFORCE, reward 1 for the
right answer less `glimpse_cost` per glimpse). Logs the accuracy, frames viewed per video (and their
share of the clip), reward, baseline, frame-policy and halting entropies. A frame once seen cannot be
chosen again, so the frames viewed are also the step the agent halted at. (On pixels the place policy is a
Gaussian of fixed std, whose entropy is a constant: not logged.) Validation and test take
the most likely decisions (no sampling).

`looks_at: pixels` needs no classifier: the agent picks a frame and a place in it, and RAM's retina reads
the normalised pixels there (Mnih et al. 2014 in time and space); everything it sees it learns itself.

The checkpoint stands alone (`load_agent`): its `vap` record holds the classifier's architecture (pixel
mode: none) and the agent's arguments, and its weights both networks; `features_from` is not needed to
rebuild it.
"""

from __future__ import annotations

from typing import Any, Literal

import lightning as L
import torch

from pipeline.data.dataset import VideoBatch
from pipeline.data.transforms import IMAGENET_MEAN, IMAGENET_STD
from pipeline.errors import ConfigError
from pipeline.models.checkpoint import MODEL_KEYS, build_classifier, checkpoint_record, load_model
from pipeline.models.clip_backbones import ClipBackbone
from pipeline.models.glimpse_video import GlimpseVideoModel, VideoGlimpseAgent, episode_loss
from pipeline.models.video_classifier import VideoClassifier
from pipeline.tasks.metrics import labeled

AGENT_NAME = "video_glimpse"


class GlimpseTask(L.LightningModule):
    """Trains a `VideoGlimpseAgent` over the frozen per-frame features of a classifier's backbone, or over
    the pixels themselves (`looks_at: pixels`)."""

    def __init__(
        self,
        *,
        num_classes: int = 0,
        class_names: list[str] | None = None,
        multilabel: bool = False,
        num_frames: int = 16,
        features_from: str | None = None,
        features: dict[str, Any] | None = None,
        backbone: str = "tiny",
        weights: str | None = None,
        max_glimpses: int = 4,
        min_glimpses: int = 1,
        hidden: int = 128,
        std: float = 0.15,
        dropout: float = 0.0,
        glimpse_cost: float = 0.01,
        entropy_weight: float = 0.01,
        lr: float = 3e-3,
        halt_threshold: float = 0.5,
        memory: int = 16,
        memory_kernel: int = 9,
        halt_on_answer: bool = False,
        answer_memory: int = 0,
        looks_at: Literal["features", "pixels"] = "features",
        glimpse_size: int = 8,
        scales: int = 2,
    ) -> None:
        """`looks_at`: "features" (a frozen classifier's per-frame features; the policy picks frames) or
        "pixels" (no classifier: the policy picks a frame and a place, where the retina takes `scales`
        patches of `glimpse_size` pixels, each twice the side of the one before). `features_from`: a
        classification checkpoint whose backbone gives the per-frame features; or
        `features`: its architecture record (kept in this task's checkpoint, so that `--ckpt_path` needs
        no file but the checkpoint); or `backbone` with pretrained `weights`. `num_frames`: frames per clip
        (linked from the data's sampler), the candidates the agent chooses among. `halt_threshold`: in
        validation and test the agent stops once its halting probability exceeds it (lower: fewer frames);
        it is kept in the checkpoint. `memory`, `memory_kernel`: the timeline map the frame policy reads
        (`VideoGlimpseAgent`; 0: none); `halt_on_answer`: the halting policy also reads how sure the answer is;
        `answer_memory`: channels of the answer's own timeline map (0: none)."""
        super().__init__()
        if num_classes < 2:
            raise ConfigError(f"model.num_classes must be at least 2, got {num_classes} (it is set from the data)")
        if multilabel:
            raise ConfigError("the glimpse agent answers one class per video: multi-label data is not supported")
        if class_names is not None and len(class_names) != num_classes:
            raise ConfigError(f"model.class_names has {len(class_names)} names for {num_classes} classes")
        self.save_hyperparameters()
        self.class_names = list(class_names) if class_names else [str(i) for i in range(num_classes)]
        if looks_at not in ("features", "pixels"):
            raise ConfigError(f"model.looks_at must be 'features' or 'pixels', got {looks_at!r}")
        self.agent_args = {
            "num_classes": num_classes, "num_frames": num_frames, "max_glimpses": max_glimpses,
            "min_glimpses": min_glimpses, "hidden": hidden, "std": std, "dropout": dropout,
            "halt_threshold": halt_threshold, "memory": memory, "memory_kernel": memory_kernel,
            "halt_on_answer": halt_on_answer, "answer_memory": answer_memory,
        }  # fmt: skip
        if looks_at == "pixels":
            if features_from is not None or weights is not None:
                raise ConfigError("model.features_from and model.weights are for looks_at: features; an agent "
                                  "that looks at the pixels learns everything it sees itself")  # fmt: skip
            classifier = None
            record = {"model": {k: None for k in MODEL_KEYS} | {"num_classes": num_classes},
                      "mean": list(IMAGENET_MEAN), "std": list(IMAGENET_STD)}  # fmt: skip
            self.agent_args |= {"glimpse_size": glimpse_size, "scales": scales}
        else:
            classifier, record = self._features(features_from, features, backbone, weights)
            self.agent_args["feature_dim"] = GlimpseVideoModel.feature_dim(classifier)
        self.hparams["features"] = record  # so the checkpoint rebuilds the classifier without its file
        self.model = GlimpseVideoModel(classifier, VideoGlimpseAgent(**self.agent_args), mean=tuple(record["mean"]),
                                       std=tuple(record["std"]))  # fmt: skip

    @staticmethod
    def _features(
        path: str | None, record: dict[str, Any] | None, backbone: str, weights: str | None
    ) -> tuple[VideoClassifier, dict[str, Any]]:
        if path is not None:
            classifier, meta = load_model(path)
            if isinstance(classifier.backbone, ClipBackbone):
                raise ConfigError(f"model.features_from {path}: its {meta.model['backbone']} gives features per "
                                  "clip; the agent looks at single frames (use a 2D backbone)")  # fmt: skip
            pre = meta.preprocessing
            return classifier, {"model": meta.model, "mean": list(pre["mean"]), "std": list(pre["std"])}
        if record is None and weights is None:
            raise ConfigError(
                "model.features_from: the agent looks through a trained classifier's backbone; train one first "
                "(`vap train --config configs/moving_digits_lstm.yaml`) and pass its checkpoint with "
                "`--model.features_from runs/.../best.ckpt`, or set model.weights (e.g. imagenet) for "
                "pretrained features (docs/glimpse.md)"
            )
        if record is None:
            model = {k: None for k in MODEL_KEYS} | {"backbone": backbone, "attention": "none", "head": "tsn",
                                                      "num_classes": 2}  # fmt: skip
            classifier = VideoClassifier.build(num_classes=2, backbone=backbone, weights=weights, head="tsn")
            return classifier, {"model": model, "mean": list(classifier.mean), "std": list(classifier.std)}
        return build_classifier(record["model"], mean=record["mean"], std=record["std"]), dict(record)

    def forward(self, video: torch.Tensor, *, sample: bool | None = None):
        return self.model(video, sample=sample)

    def _step(self, batch: VideoBatch, stage: str) -> tuple[torch.Tensor, torch.Tensor] | None:
        """The loss and the frames viewed per video (B,), after logging; None when nothing labeled decoded."""
        if batch.video.dim() == 6:
            raise ConfigError("the glimpse agent takes one clip per video: set data.test_clips: 1 and "
                              "data.test_three_crop: false")  # fmt: skip
        keep = labeled(batch.label) if len(batch) else None
        if keep is None or not bool(keep.any()):
            return None
        video, labels = batch.video[keep], batch.label[keep]
        out = self.model(video)
        parts = episode_loss(out, labels, glimpse_cost=self.hparams.glimpse_cost,
                             entropy_weight=self.hparams.entropy_weight)  # fmt: skip
        p = out.halt_prob[:, :-1].clamp(1e-6, 1 - 1e-6)  # (B, G-1): the last step always halts
        halt_entropy = -(p * p.log() + (1 - p) * (1 - p).log()).mean() if p.numel() else p.new_zeros(())
        m = out.mask
        t = video.shape[1]
        logs = {
            "loss": parts["loss"], "top1": parts["top1"], "reward": parts["reward"],
            "baseline": (out.baselines.detach() * m).sum() / m.sum(), "baseline_loss": parts["baseline"],
            "viewed": parts["viewed"], "viewed_fraction": parts["viewed"] / t, "policy_entropy": parts["entropy"],
            "halt_entropy": halt_entropy, "classification": parts["classification"],
        }  # fmt: skip
        self.log_dict({f"{stage}/{k}": v for k, v in logs.items()}, batch_size=len(labels),
                      prog_bar=stage == "val", sync_dist=stage != "train")  # fmt: skip
        return parts["loss"], out.viewed

    def training_step(self, batch: VideoBatch, batch_idx: int) -> torch.Tensor:
        got = self._step(batch, "train")
        if got is None:  # nothing labeled decoded: a zero loss still attached to the parameters (DDP)
            return sum(p.sum() for p in self.model.agent.parameters()) * 0.0
        return got[0]

    def validation_step(self, batch: VideoBatch, batch_idx: int) -> dict[str, torch.Tensor] | None:
        got = self._step(batch, "val")
        return None if got is None else {"viewed": got[1]}  # per video, for GlimpseTrajectories' histogram

    def test_step(self, batch: VideoBatch, batch_idx: int) -> None:
        self._step(batch, "test")

    def predict_step(self, batch: VideoBatch, batch_idx: int) -> None:
        raise ConfigError("vap predict does not run the glimpse agent yet: use vap test, or load_agent in Python")

    def configure_optimizers(self) -> torch.optim.Optimizer:
        return torch.optim.Adam(self.model.agent.parameters(), lr=self.hparams.lr)

    def on_save_checkpoint(self, checkpoint: dict[str, Any]) -> None:
        """What `load_agent` needs to rebuild classifier and agent from the checkpoint alone."""
        dm = getattr(self.trainer, "datamodule", None)
        pre = dm.preprocessing() if dm is not None and hasattr(dm, "preprocessing") else {}
        record = self.hparams["features"]
        pre.update(mean=list(record["mean"]), std=list(record["std"]))
        checkpoint["vap"] = checkpoint_record(model=record["model"], class_names=self.class_names, preprocessing=pre)
        checkpoint["vap"].update(task="glimpse", agent={"name": AGENT_NAME, "args": dict(self.agent_args)})
