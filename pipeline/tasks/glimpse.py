"""The video glimpse agent as a LightningModule: which frames to look at, trained with REINFORCE.

batch (VideoBatch: uint8 video (B, T, C, H, W)) -> per-frame features of a frozen backbone (B, T, D),
taken from a trained `vap train` checkpoint (`features_from`) or a fresh one -> VideoGlimpseAgent ->
`episode_loss` (answer cross-entropy + masked baseline regression + masked REINFORCE, reward 1 for the
right answer less `glimpse_cost` per glimpse). Logs reward, baseline loss, frames viewed per video and
the halting policy's entropy; validation reports accuracy against the share of frames viewed.
Not yet reachable from `vap train` (its CLI builds the classification task).
"""

from __future__ import annotations

import lightning as L
import torch

from pipeline.data.dataset import VideoBatch
from pipeline.models.checkpoint import load_model
from pipeline.models.glimpse_video import VideoGlimpseAgent, episode_loss
from pipeline.models.video_classifier import VideoClassifier


class GlimpseTask(L.LightningModule):
    """Trains a `VideoGlimpseAgent` over the frozen per-frame features of a classifier's backbone."""

    def __init__(
        self,
        *,
        num_classes: int,
        features_from: str | None = None,
        backbone: str = "tiny",
        max_glimpses: int = 4,
        min_glimpses: int = 1,
        hidden: int = 128,
        std: float = 0.15,
        glimpse_cost: float = 0.01,
        lr: float = 3e-3,
    ) -> None:
        super().__init__()
        self.save_hyperparameters()
        if features_from is not None:
            classifier, _ = load_model(features_from)
        else:
            classifier = VideoClassifier.build(num_classes=num_classes, backbone=backbone, head="tsn")
        self.features = classifier.eval().requires_grad_(False)  # frozen: the agent learns where to look
        dim = self.features.frame_features(torch.zeros(1, 1, 3, 32, 32, dtype=torch.uint8)).shape[-1]
        self.agent = VideoGlimpseAgent(num_classes, feature_dim=dim, max_glimpses=max_glimpses,
                                       min_glimpses=min_glimpses, hidden=hidden, std=std)  # fmt: skip

    def train(self, mode: bool = True) -> GlimpseTask:
        super().train(mode)
        self.features.eval()  # batch norm statistics stay the classifier's
        return self

    def _step(self, batch: VideoBatch, stage: str) -> torch.Tensor:
        with torch.no_grad():
            feats = self.features.frame_features(batch.video)  # (B, T, D)
        out = self.agent(feats)
        parts = episode_loss(out, batch.label, glimpse_cost=self.hparams.glimpse_cost)
        p = out.halt_prob[:, :-1].clamp(1e-6, 1 - 1e-6)  # (B, G-1): the last step always halts
        entropy = -(p * p.log() + (1 - p) * (1 - p).log()).mean() if p.numel() else p.new_zeros(())
        accuracy = (out.logits.argmax(1) == batch.label).float().mean()
        b, t = batch.video.shape[:2]
        logs = {"loss": parts["loss"], "reward": parts["reward"], "baseline": parts["baseline"],
                "viewed": parts["viewed"], "viewed_fraction": parts["viewed"] / t, "halt_entropy": entropy,
                "top1": accuracy}  # fmt: skip
        self.log_dict({f"{stage}/{k}": v for k, v in logs.items()}, batch_size=b, prog_bar=stage == "val")
        return parts["loss"]

    def training_step(self, batch: VideoBatch, batch_idx: int) -> torch.Tensor:
        return self._step(batch, "train")

    def validation_step(self, batch: VideoBatch, batch_idx: int) -> None:
        self._step(batch, "val")

    def configure_optimizers(self) -> torch.optim.Optimizer:
        return torch.optim.Adam(self.agent.parameters(), lr=self.hparams.lr)
