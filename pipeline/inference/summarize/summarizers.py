"""The summarizers `vap summarize --method` chooses from: importance scores (T,) of one video's sampled
frames, in [0, 1].

Each declares what it consumes, so the video pipeline decodes once and hands over the right thing:
  "features": the ImageNet features (T, D) that KTS also cuts shots on -> `score(features)`;
  "frames":   each decoded batch of sampled frames, uint8 (b, C, H, W) -> `encode(frames)` through the
              summarizer's own preprocessing and model (b, D') -> `score(features, encoded (T, D'))`.
  coverage   (default) the key frames that cover the video's content best: greedy facility location over
             the features (Gygli et al., CVPR 2015), no training, no checkpoint.
  rl         DR-DSN (Zhou et al., AAAI 2018), trained per video, no labels; or a policy trained over a
             folder of videos by `vap summarize train --method rl`, applied (--checkpoint).
  attention  the temporal attention of a `vap train` checkpoint (consumes frames).
  supervised VASNet-style regressor (Fajtl et al., ACCV 2018 workshops) from `vap summarize train`.
"""

from __future__ import annotations

from pathlib import Path
from typing import ClassVar

import numpy as np
import torch

from pipeline.errors import ConfigError
from pipeline.inference.summarize.selection import Budget, Selection, Shots, by_coverage, by_value
from pipeline.registry import Registry


class Summarizer:
    """Base: `consumes` is "features" or "frames"; `settings` go into summary.json."""

    consumes: ClassVar[str] = "features"
    needs_checkpoint: ClassVar[bool] = False
    takes_checkpoint: ClassVar[bool] = False  # optional (rl); implied by needs_checkpoint

    def __init__(self) -> None:
        self.settings: dict = {}

    def check_features(self, features_id: str, dim: int, *, sample_fps: float | None = None) -> None:
        """Raise ConfigError when the pipeline's features (name, size, frames per second) are not what this
        summarizer needs."""

    def encode(self, frames: torch.Tensor) -> torch.Tensor:
        """uint8 (b, C, H, W) sampled frames -> (b, D'); only for summarizers that consume frames."""
        raise NotImplementedError(f"{type(self).__name__} consumes features, not frames")

    def score(self, features: torch.Tensor, encoded: torch.Tensor | None = None) -> np.ndarray:
        """(T, D) ImageNet features [and (T, D') own encodings] -> (T,) importance in [0, 1]."""
        raise NotImplementedError

    def select(self, shots: Shots, budget: Budget, indices: np.ndarray, num_frames: int, fps: float, *,
               shot_value: str = "sum") -> Selection:  # fmt: skip
        """The shots kept and their key frames; by their scores (selection.by_value) unless overridden."""
        return by_value(shots, budget, indices, num_frames, fps, shot_value=shot_value)


SUMMARIZERS: Registry[type[Summarizer]] = Registry("summarizer")


def build_summarizer(name: str, *, checkpoint: str | Path | None = None, seed: int = 0, **kwargs: object) -> Summarizer:
    """`build_summarizer("attention", checkpoint="runs/x/best.ckpt")`; loads what it needs once."""
    cls = SUMMARIZERS.get(name)
    if cls.needs_checkpoint and checkpoint is None:
        raise ConfigError(f"--method {name} needs --checkpoint CKPT ({cls.__doc__.strip().splitlines()[0]})")
    if not (cls.needs_checkpoint or cls.takes_checkpoint) and checkpoint is not None:
        raise ConfigError(f"--method {name} takes no --checkpoint")
    if checkpoint is not None:
        return cls(checkpoint=Path(checkpoint), seed=seed, **kwargs)
    return cls(seed=seed, **kwargs)


@SUMMARIZERS.register("coverage")
class CoverageSummarizer(Summarizer):
    """Key frames that cover the video's content (facility location, Gygli et al. CVPR 2015): no training."""

    def __init__(self, *, seed: int = 0) -> None:
        super().__init__()

    def score(self, features: torch.Tensor, encoded: torch.Tensor | None = None) -> np.ndarray:
        """How much of the video each frame stands for: its mean cosine similarity to every sampled frame,
        scaled to [0, 1] (what scores.png draws; the selection works on the similarities themselves)."""
        x = torch.nn.functional.normalize(features.double(), dim=1)  # (T, D)
        r = (x @ x.mean(0)).numpy()  # (T,) = mean_t cos(frame, t)
        span = r.max() - r.min()
        return (r - r.min()) / span if span > 0 else np.ones_like(r)

    def select(self, shots: Shots, budget: Budget, indices: np.ndarray, num_frames: int, fps: float, *,
               shot_value: str = "sum") -> Selection:  # fmt: skip
        return by_coverage(shots, budget, indices, num_frames, fps)


@SUMMARIZERS.register("rl")
class RLSummarizer(Summarizer):
    """DR-DSN (Zhou et al., AAAI 2018): REINFORCE on diversity + representativeness, trained per video, or
    a policy trained over a folder of videos (`vap summarize train --method rl`) applied as it is."""

    takes_checkpoint = True

    def __init__(
        self, *, seed: int = 0, epochs: int = 60, max_distance: int | None = None, checkpoint: Path | None = None
    ) -> None:
        """`max_distance`: DR-DSN's R_div cut-off for per-video training, None (every pair, the default of
        DRDSNConfig) or the paper's 20; a checkpoint brings its own (it records the one it was trained with)."""
        super().__init__()
        self.seed, self.epochs, self.max_distance = seed, epochs, max_distance
        self.checkpoint, self.model, self.record = checkpoint, None, None
        if checkpoint is None:
            self.settings = {"epochs": epochs, "max_distance": max_distance}
            return
        from pipeline.models.summary.dsn import load_dsn

        if max_distance is not None:
            raise ConfigError("--max-distance sets per-video training; a --checkpoint policy was trained with its own")
        self.model, self.record = load_dsn(checkpoint)
        cfg = self.record["config"]
        self.settings = {"checkpoint": str(checkpoint), "trained_on_videos": len(self.record["videos"]),
                         "trained_features": self.record["features"], "trained_sample_fps": self.record["sample_fps"],
                         "trained_epochs": cfg["epochs"], "max_distance": cfg["max_distance"]}  # fmt: skip

    def check_features(self, features_id: str, dim: int, *, sample_fps: float | None = None) -> None:
        """A pre-trained policy only means something on the features, and the frame rate, it learned on."""
        if self.record is None:
            return
        want, want_dim, want_fps = self.record["features"], self.record["model"]["in_dim"], self.record["sample_fps"]
        if features_id != want or dim != want_dim:
            raise ConfigError(f"{self.checkpoint}: trained on {want_dim}-d '{want}' features, this video gives "
                              f"{dim}-d '{features_id}' features")  # fmt: skip
        if sample_fps is not None and abs(sample_fps - want_fps) > 1e-6:
            raise ConfigError(
                f"{self.checkpoint}: trained on frames sampled at {want_fps:g} fps; pass --sample-fps {want_fps:g}"
            )

    def score(self, features: torch.Tensor, encoded: torch.Tensor | None = None) -> np.ndarray:
        from pipeline.models.summary.dsn import dsn_scores
        from pipeline.tasks.dr_dsn import DRDSNConfig, dr_dsn_scores

        if self.model is not None:
            return dsn_scores(self.model, features).numpy()
        cfg = DRDSNConfig(seed=self.seed, epochs=self.epochs, max_distance=self.max_distance)
        return dr_dsn_scores(features, cfg).numpy()


@SUMMARIZERS.register("attention")
class AttentionSummarizer(Summarizer):
    """The temporal attention of a trained `vap train` checkpoint: the frames the action model used."""

    consumes = "frames"
    needs_checkpoint = True

    def __init__(self, *, checkpoint: Path, seed: int = 0) -> None:
        super().__init__()
        from pipeline.inference.summarize.attention import CheckpointAttention

        self.model = CheckpointAttention.load(checkpoint)
        self.settings = {"checkpoint": str(checkpoint), **self.model.settings}

    def encode(self, frames: torch.Tensor) -> torch.Tensor:
        return self.model.encode(frames)

    def score(self, features: torch.Tensor, encoded: torch.Tensor | None = None) -> np.ndarray:
        if encoded is None:
            raise ValueError("attention scores need the frames encoded by the checkpoint's backbone")
        return self.model.scores(encoded)


@SUMMARIZERS.register("supervised")
class SupervisedSummarizer(Summarizer):
    """VASNet-style self-attention regressor (Fajtl et al. 2018) from `vap summarize train`."""

    needs_checkpoint = True

    def __init__(self, *, checkpoint: Path, seed: int = 0, features: str | None = None) -> None:
        super().__init__()
        from pipeline.models.summary.vasnet import load_vasnet

        self.checkpoint = checkpoint
        self.models, self.record = load_vasnet(checkpoint)
        self.settings = {"checkpoint": str(checkpoint), "trained_on": self.record["dataset"],
                         "trained_features": self.record["features"], "folds": len(self.models)}  # fmt: skip

    def check_features(self, features_id: str, dim: int, *, sample_fps: float | None = None) -> None:
        """The model only means something on the features it was trained on."""
        want, want_dim = self.record["features"], self.record["model"]["in_dim"]
        if features_id != want or dim != want_dim:
            raise ConfigError(
                f"{self.checkpoint}: trained on {want_dim}-d '{want}' features, this video gives {dim}-d "
                f"'{features_id}' features. The GoogLeNet features of the TVSum/SumMe h5 files cannot be "
                "reproduced on your own videos: train on an h5 file whose features `vap summarize features` "
                "extracted with our backbone (docs/summarize.md)"
            )

    def score(self, features: torch.Tensor, encoded: torch.Tensor | None = None) -> np.ndarray:
        from pipeline.models.summary.vasnet import ensemble_scores

        return ensemble_scores(self.models, features)
