"""Action recognition as a LightningModule: VideoClassifier + optimiser + schedule + metrics.

batch (VideoBatch: uint8 video (B, T, C, H, W) on the device) -> normalise on the device
  -> VideoClassifier -> logits (B, K), temporal attention (B, T)
  -> cross-entropy (label smoothing), or binary cross-entropy for multi-hot (multi-label) targets.
The label kind comes from the data (`data.multilabel` is linked to `model.multilabel`). Unlabeled
rows (label -1) are predicted but left out of losses and metrics. Validation is clip-level and
video-level; test is video-level as well (the clips and crops of a video averaged), the usual
multi-view protocol, and writes one prediction per video (`predictions_test.csv`); so does predict.
"""

from __future__ import annotations

import logging
import math
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal

import lightning as L
import torch
import torch.nn.functional as F
from torchmetrics.aggregation import SumMetric

from pipeline.data.dataset import VideoBatch
from pipeline.errors import ConfigError
from pipeline.models import VideoClassifier
from pipeline.models.checkpoint import MODEL_KEYS, checkpoint_record, init_from_checkpoint
from pipeline.tasks.metrics import VideoScores, classification_metrics, confusion_matrix, flatten, labeled

log = logging.getLogger(__name__)


@dataclass
class EvalReport:
    """What one evaluation pass saw, for the end-of-run report."""

    videos: int = 0  # videos in the split
    scored: int = 0  # videos with at least one clip scored
    labeled: int = 0  # scored videos that carry a label (metrics are over these)
    failed: list[str] = field(default_factory=list)  # ids of videos none of whose clips decoded
    predictions: Path | None = None
    note: str = ""


class VideoClassificationTask(L.LightningModule):
    """Any backbone x attention x temporal head, trained for classification."""

    def __init__(
        self,
        *,
        num_classes: int = 0,
        class_names: list[str] | None = None,
        multilabel: bool = False,
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
        init_from: str | None = None,
    ) -> None:
        """`init_from`: start from another run's weights (a `vap` checkpoint or a plain state dict) for a new
        class list: backbone, attention and temporal head loaded, the classifier new, optimiser and
        schedule fresh (`--ckpt_path` resumes a run instead, everything included)."""
        super().__init__()
        if num_classes < 2:
            raise ConfigError(f"model.num_classes must be at least 2, got {num_classes} (it is set from the data)")
        if class_names is not None and len(class_names) != num_classes:
            raise ConfigError(f"model.class_names has {len(class_names)} names for {num_classes} classes")
        self.save_hyperparameters()
        self.multilabel = multilabel
        self.class_names = list(class_names) if class_names else [str(i) for i in range(num_classes)]
        self.model = VideoClassifier.build(
            num_classes=num_classes, backbone=backbone, weights=weights, attention=attention,
            attention_stages=attention_stages, attention_args=attention_args, freeze=freeze,
            partial_bn=partial_bn, head=head, head_args=head_args,
        )  # fmt: skip
        if init_from:
            from lightning.pytorch.utilities import rank_zero_info

            rank_zero_info(init_from_checkpoint(self.model, init_from).summary(init_from))
        if channels_last:
            self.model = self.model.to(memory_format=torch.channels_last)
        # The compiled wrapper shares self.model's weights; kept out of the module tree so that the
        # checkpoint holds each weight once, under `model.`, whether or not it was compiled.
        object.__setattr__(self, "_compiled", torch.compile(self.model) if compile else None)
        metrics = classification_metrics(num_classes, multilabel=multilabel)
        # Training logs the metric objects themselves (scalars only: no per-class vectors).
        self.train_metrics = classification_metrics(num_classes, multilabel=multilabel, per_class=False).clone(
            prefix="train/"
        )
        self.val_metrics = metrics.clone(prefix="val/")
        self.test_metrics = metrics.clone(prefix="test/clip_")
        self.labeled_clips = SumMetric()  # labeled clips seen in the evaluation pass, over every process
        # Video-level sums, made per pass once the number of videos is known (not in the state dict).
        self._videos: dict[str, VideoScores] = {}
        self._video_ids: dict[str, list[str]] = {}
        self.reports: dict[str, EvalReport] = {}
        self.last_confusion: torch.Tensor | None = None

    def forward(self, video: torch.Tensor):
        model = self._compiled if self._compiled is not None else self.model
        return model(video)

    # ------------------------------------------------------------------------------------------------
    def _loss(self, logits: torch.Tensor, labels: torch.Tensor) -> torch.Tensor | None:
        keep = labeled(labels)
        if not bool(keep.any()):
            return None
        if self.multilabel:
            return F.binary_cross_entropy_with_logits(logits[keep], labels[keep].float())
        return F.cross_entropy(logits[keep], labels[keep], label_smoothing=self.hparams.label_smoothing)

    def training_step(self, batch: VideoBatch, batch_idx: int) -> torch.Tensor | None:
        out = self(batch.video) if len(batch) else None
        loss = None if out is None else self._loss(out.logits, batch.label)
        if loss is None:
            # Every clip of the batch failed to decode (or none has a label). Returning None would break
            # DDP (every rank must run backward), so this is a zero loss still attached to the parameters.
            return sum(p.sum() for p in self.model.parameters() if p.requires_grad) * 0.0
        keep = labeled(batch.label)
        self.train_metrics(out.logits[keep], batch.label[keep].long())  # multi-hot: torchmetrics wants ints
        self.log("train/loss", loss, prog_bar=True, batch_size=len(batch))
        self.log_dict(self.train_metrics, on_step=False, on_epoch=True, batch_size=len(batch))
        return loss

    # --- evaluation: validate, test, predict --------------------------------------------------------
    def _start_pass(self, split: str, loaders: Any) -> None:
        self.labeled_clips.reset()
        self.labeled_clips.update(0.0)  # so that every process takes part in its sync, clips or not
        dataset = getattr(loaders[0] if isinstance(loaders, list) else loaders, "dataset", None)
        records = getattr(dataset, "records", None)
        if records is None:  # not a VideoDataset: clip-level metrics only
            self._videos.pop(split, None)
            return
        scores = VideoScores(len(records), self.hparams.num_classes, multilabel=self.multilabel)
        self._videos[split] = scores.to(self.device)
        self._video_ids[split] = [r.video_id for r in records]

    def _eval_step(self, batch: VideoBatch, split: str, metrics: Any) -> None:
        if split in self._videos and batch.failures:  # never substituted: counted per video
            index = torch.tensor([f.video_index for f in batch.failures], device=self.device)
            self._videos[split].update_failed(index)
        if len(batch) == 0:  # every video of the batch failed to decode
            return
        out = self(batch.video)
        keep = labeled(batch.label)
        if bool(keep.any()) and metrics is not None:
            metrics.update(out.logits[keep], batch.label[keep].long())
            self.labeled_clips.update(keep.sum())
        if split in self._videos and batch.video_index is not None:
            self._videos[split].update(batch.video_index, out.logits, batch.label)
        if split == "val" and bool(keep.any()):
            loss = self._loss(out.logits, batch.label)
            self.log("val/loss", loss, prog_bar=True, batch_size=int(keep.sum()), sync_dist=True)

    def _end_pass(self, split: str, metrics: Any) -> None:
        report = EvalReport()
        # torchmetrics sums over every process in compute(), so every process takes the same branch.
        clips = int(self.labeled_clips.compute())
        self.labeled_clips.reset()
        if metrics is not None:
            if clips > 0:
                values = flatten(metrics.compute(), self.class_names)
                self.log_dict(values, prog_bar=split == "val", sync_dist=True)
            metrics.reset()
        if split in self._videos:
            self._log_video_level(split, report)
        if report.videos and not report.labeled:
            report.note = f"{split}: none of the {report.scored} videos has a label: metrics skipped"
        if report.failed:
            log.warning("%s: %d videos failed to decode and were not scored, e.g. %s", split, len(report.failed),
                        report.failed[0])  # fmt: skip
        if report.note:
            log.warning(report.note)
        self.reports[split] = report

    def _log_video_level(self, split: str, report: EvalReport) -> None:
        result = self._videos.pop(split).compute()  # summed over every process
        report.videos, report.scored = len(result.clips), int(result.seen.sum())
        report.labeled = int(result.labeled.sum())
        ids = self._video_ids.pop(split)
        failed = (result.failed > 0) & ~result.seen  # not reached (e.g. limit_*_batches) is not failed
        report.failed = [ids[i] for i in failed.nonzero().flatten().tolist()]
        prefix = "val/video_" if split == "val" else "test/video_"
        values = {f"{prefix}count": float(report.scored), f"{prefix}failed": float(len(report.failed))}
        if report.labeled:
            keep = result.labeled
            metrics = classification_metrics(self.hparams.num_classes, multilabel=self.multilabel).to(self.device)
            got = flatten(metrics(result.scores[keep], result.labels[keep].long()), self.class_names)
            values.update({f"{prefix}{k}": v for k, v in got.items()})
            if not self.multilabel:
                self.last_confusion = confusion_matrix(
                    result.scores[keep], result.labels[keep].long(), self.hparams.num_classes
                )
        if split != "predict":
            # Every process holds the same summed numbers, so the mean across processes changes nothing.
            self.log_dict({k: torch.as_tensor(v, dtype=torch.float32) for k, v in values.items()}, sync_dist=True)
        if split in ("test", "predict"):
            from pipeline.tasks.predictions import write_predictions

            out_dir = Path(self.trainer.log_dir or self.trainer.default_root_dir)  # a collective: every rank
            if not self.trainer.is_global_zero:
                return
            report.predictions = write_predictions(
                out_dir / f"predictions_{split}.csv", ids, result, self.class_names,
                multilabel=self.multilabel,
            )  # fmt: skip

    def on_validation_epoch_start(self) -> None:
        self._start_pass("val", self.trainer.val_dataloaders)

    def validation_step(self, batch: VideoBatch, batch_idx: int) -> None:
        self._eval_step(batch, "val", self.val_metrics)

    def on_validation_epoch_end(self) -> None:
        self._end_pass("val", self.val_metrics)

    def on_test_epoch_start(self) -> None:
        self._start_pass("test", self.trainer.test_dataloaders)

    def test_step(self, batch: VideoBatch, batch_idx: int) -> None:
        self._eval_step(batch, "test", self.test_metrics)

    def on_test_epoch_end(self) -> None:
        self._end_pass("test", self.test_metrics)

    def on_predict_epoch_start(self) -> None:
        self._start_pass("predict", self.trainer.predict_dataloaders)

    def predict_step(self, batch: VideoBatch, batch_idx: int) -> None:
        self._eval_step(batch, "predict", None)

    def on_predict_epoch_end(self) -> None:
        self._end_pass("predict", None)

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
            raise ConfigError(
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
            multilabel=self.multilabel,
        )  # fmt: skip
