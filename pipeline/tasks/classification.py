"""Action recognition as a LightningModule: VideoClassifier + optimiser + schedule + metrics.

batch (VideoBatch: uint8 video (B, T, C, H, W) on the device) -> normalise on the device
  -> VideoClassifier -> logits (B, K), temporal attention (B, T) -> cross-entropy (label smoothing)
Validation is clip-level (every clip its own prediction); test is video-level as well (the clips
and crops of a video averaged), the usual multi-view protocol.
"""

from __future__ import annotations

import math
from typing import Any, Literal

import lightning as L
import torch
import torch.nn.functional as F

from pipeline.data.dataset import VideoBatch
from pipeline.models import VideoClassifier
from pipeline.models.checkpoint import MODEL_KEYS, checkpoint_record
from pipeline.tasks.metrics import VideoLevelAccumulator, classification_metrics, confusion_matrix


class VideoClassificationTask(L.LightningModule):
    """Any backbone x attention x temporal head, trained for classification."""

    def __init__(
        self,
        *,
        num_classes: int = 0,
        class_names: list[str] | None = None,
        backbone: str = "tiny",
        weights: str | None = None,
        attention: str = "none",
        attention_stages: list[int] | None = None,
        attention_args: dict[str, Any] | None = None,
        head: str = "transformer",
        head_args: dict[str, Any] | None = None,
        freeze: int | str = 0,
        partial_bn: bool = False,
        optimizer: Literal["adamw", "sgd"] = "adamw",
        lr: float = 1e-3,
        weight_decay: float = 0.05,
        momentum: float = 0.9,
        scheduler: Literal["cosine", "step", "none"] = "cosine",
        warmup_epochs: float = 1.0,
        milestones: list[int] | None = None,
        gamma: float = 0.1,
        label_smoothing: float = 0.0,
        channels_last: bool = False,
        compile: bool = False,
    ) -> None:
        super().__init__()
        if num_classes < 2:
            raise ValueError(f"model.num_classes must be at least 2, got {num_classes} (it is set from the data)")
        if class_names is not None and len(class_names) != num_classes:
            raise ValueError(f"model.class_names has {len(class_names)} names for {num_classes} classes")
        self.save_hyperparameters()
        self.class_names = list(class_names) if class_names else [str(i) for i in range(num_classes)]
        self.model = VideoClassifier.build(
            num_classes=num_classes, backbone=backbone, weights=weights, attention=attention,
            attention_stages=attention_stages, attention_args=attention_args, freeze=freeze,
            partial_bn=partial_bn, head=head, head_args=head_args,
        )  # fmt: skip
        if channels_last:
            self.model = self.model.to(memory_format=torch.channels_last)
        # The compiled wrapper shares self.model's weights; kept out of the module tree so that the
        # checkpoint holds each weight once, under `model.`, whether or not it was compiled.
        object.__setattr__(self, "_compiled", torch.compile(self.model) if compile else None)
        self.train_metrics = classification_metrics(num_classes).clone(prefix="train/")
        self.val_metrics = classification_metrics(num_classes).clone(prefix="val/")
        self.test_metrics = classification_metrics(num_classes).clone(prefix="test/clip_")
        self.val_videos = VideoLevelAccumulator()
        self.test_videos = VideoLevelAccumulator()
        self.last_confusion: torch.Tensor | None = None

    def forward(self, video: torch.Tensor):
        model = self._compiled if self._compiled is not None else self.model
        return model(video)

    # ------------------------------------------------------------------------------------------------
    def _step(self, batch: VideoBatch):
        if len(batch) == 0:  # every video of the batch failed to decode (counted by the data module)
            return None, None
        out = self(batch.video)
        loss = F.cross_entropy(out.logits, batch.label, label_smoothing=self.hparams.label_smoothing)
        return out, loss

    def _train_dataset(self) -> Any:
        dm = getattr(self.trainer, "datamodule", None)
        return getattr(dm, "datasets", {}).get("train") if dm is not None else None

    def on_train_start(self) -> None:
        """A resumed run starts inside epoch N > 0, and Lightning skips `on_train_epoch_start` for it.
        Its loader iterator (and the worker processes, each with a copy of the dataset) was made before
        this hook with the dataset still at epoch 0, so set the epoch and make the iterator again;
        otherwise the resumed epoch would replay epoch 0's clips."""
        ds = self._train_dataset()
        if ds is None or ds.epoch == self.current_epoch:
            return
        ds.set_epoch(self.current_epoch)
        # `_data_fetcher` is Lightning's (2.x) holder of the epoch's iterator; iter() restarts it.
        fetcher = getattr(self.trainer.fit_loop, "_data_fetcher", None)
        if fetcher is not None:
            iter(fetcher)

    def on_train_epoch_start(self) -> None:
        # New random clips each epoch: the training set draws them from (seed, epoch, index). The epoch's
        # iterator, and its workers' copies of the dataset, are made after this hook.
        ds = self._train_dataset()
        if ds is not None:
            ds.set_epoch(self.current_epoch)

    def training_step(self, batch: VideoBatch, batch_idx: int) -> torch.Tensor | None:
        out, loss = self._step(batch)
        if out is None:
            # Every clip of the batch failed to decode. Returning None would break DDP (every rank must
            # run backward), so this is a zero loss still attached to the parameters.
            return sum(p.sum() for p in self.model.parameters() if p.requires_grad) * 0.0
        self.train_metrics(out.logits, batch.label)
        self.log("train/loss", loss, prog_bar=True, batch_size=len(batch))
        self.log_dict(self.train_metrics, on_step=False, on_epoch=True, batch_size=len(batch))
        return loss

    def validation_step(self, batch: VideoBatch, batch_idx: int) -> None:
        out, loss = self._step(batch)
        if out is None:
            return
        self.val_metrics.update(out.logits, batch.label)
        self.val_videos.update(batch.video_id, batch.clip_index, out.logits, batch.label)
        self.log("val/loss", loss, prog_bar=True, batch_size=len(batch), sync_dist=True)

    def on_validation_epoch_end(self) -> None:
        self.log_dict(self.val_metrics.compute(), prog_bar=True, sync_dist=True)
        self.val_metrics.reset()
        self._log_video_level(self.val_videos, "val/video_")

    def test_step(self, batch: VideoBatch, batch_idx: int) -> None:
        out, _ = self._step(batch)
        if out is None:
            return
        self.test_metrics.update(out.logits, batch.label)
        self.test_videos.update(batch.video_id, batch.clip_index, out.logits, batch.label)

    def on_test_epoch_end(self) -> None:
        self.log_dict(self.test_metrics.compute(), sync_dist=True)
        self.test_metrics.reset()
        self._log_video_level(self.test_videos, "test/video_")

    def _log_video_level(self, acc: VideoLevelAccumulator, prefix: str) -> None:
        acc.gather()
        ids, scores, labels = acc.compute()
        acc.reset()
        if not ids:
            return
        metrics = classification_metrics(self.hparams.num_classes)
        values = {f"{prefix}{k}": v for k, v in metrics(scores, labels).items()}
        values[f"{prefix}count"] = torch.tensor(float(len(ids)))
        # Every rank holds the same gathered numbers, so the mean across ranks changes nothing.
        self.log_dict(values, sync_dist=True)
        self.last_confusion = confusion_matrix(scores, labels, self.hparams.num_classes)

    # ------------------------------------------------------------------------------------------------
    def configure_optimizers(self) -> Any:
        hp = self.hparams
        params = [p for p in self.model.parameters() if p.requires_grad]
        decay = [p for p in params if p.ndim > 1]
        no_decay = [p for p in params if p.ndim <= 1]  # biases and norms: no weight decay
        groups = [{"params": decay, "weight_decay": hp.weight_decay}, {"params": no_decay, "weight_decay": 0.0}]
        if hp.optimizer == "sgd":
            opt = torch.optim.SGD(groups, lr=hp.lr, momentum=hp.momentum, nesterov=True)
        else:
            opt = torch.optim.AdamW(groups, lr=hp.lr)
        if hp.scheduler == "none":
            return opt
        total = self.trainer.estimated_stepping_batches
        if not math.isfinite(total):
            raise ValueError(
                "the learning-rate schedule needs a finite run: set trainer.max_epochs or trainer.max_steps"
            )
        total = max(1, int(total))
        batches = self.trainer.num_training_batches
        per_epoch = max(1, batches // self.trainer.accumulate_grad_batches) if math.isfinite(batches) else total
        warmup = int(hp.warmup_epochs * per_epoch)
        milestones = [int(m * per_epoch) for m in (hp.milestones or [])]

        def factor(step: int) -> float:
            if step < warmup:
                return (step + 1) / (warmup + 1)
            if hp.scheduler == "step":
                return hp.gamma ** sum(step >= m for m in milestones)
            progress = (step - warmup) / max(1, total - warmup)
            return 0.5 * (1 + math.cos(math.pi * min(1.0, progress)))

        sched = torch.optim.lr_scheduler.LambdaLR(opt, factor)
        return {"optimizer": opt, "lr_scheduler": {"scheduler": sched, "interval": "step"}}

    def on_load_checkpoint(self, checkpoint: dict[str, Any]) -> None:
        # Checkpoints of version 0.1 also stored every weight a second time under `forward_model.`.
        state = checkpoint.get("state_dict", {})
        for key in [k for k in state if k.startswith("forward_model.")]:
            del state[key]

    def on_save_checkpoint(self, checkpoint: dict[str, Any]) -> None:
        """Everything `load_model` (and `vap test`, `vap score`, `vap summarize`) needs to use the
        checkpoint alone: no config, no pretrained weights, no network."""
        dm = getattr(self.trainer, "datamodule", None)
        pre = dm.preprocessing() if dm is not None and hasattr(dm, "preprocessing") else {}
        pre.update(mean=list(self.model.mean), std=list(self.model.std))  # what the model normalises with
        hp = self.hparams
        checkpoint["vap"] = checkpoint_record(
            model={k: hp[k] for k in MODEL_KEYS}, class_names=self.class_names, preprocessing=pre,
        )  # fmt: skip
