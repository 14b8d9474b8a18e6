"""One call from a video to its labels, as `vap score` gives them (MMAction2's `inference_recognizer`).

    predictor = Predictor.load("best.ckpt")        # the checkpoint read once
    predictor.predict("video.mp4")                 # -> Prediction(labels, probs, scores)
    predictor.predict(frames)                      # uint8 (N, C, H, W): the frames of one video
    predictor.embed("video.mp4")                   # (D',) what the classifier reads: for retrieval

A path goes through the scorer's own `prepare` and `score` (the decoding, sampling and preprocessing of
`vap score`, so the two agree to the last digit); frames are sampled and transformed the same way, as
if they were the video's frames in order.
"""

from __future__ import annotations

import os
from dataclasses import dataclass

import numpy as np
import torch

from pipeline.data.clips import DecodedVideo, FailedVideo
from pipeline.errors import ConfigError, VideoError
from pipeline.inference.score import AgentScorer, ClassifierScorer, Scorer, ScoreRecord, default_device, load_scorer


@dataclass(frozen=True)
class Prediction:
    """A video's top-k labels (best first) with their probabilities, and every class's score."""

    labels: list[str]
    probs: list[float]
    scores: list[float]


class Predictor:
    """A loaded checkpoint (classifier or glimpse agent) that predicts one video at a time."""

    def __init__(self, scorer: Scorer) -> None:
        self.scorer = scorer
        if isinstance(scorer, ClassifierScorer):
            scorer.embeddings = True  # the model computes them anyway: `embed` reads the same record
        self._prepare = scorer.prepare()

    @classmethod
    def load(
        cls,
        checkpoint: str | os.PathLike[str],
        *,
        topk: int = 5,
        clips: int | None = None,
        three_crop: bool | None = None,
        backend: str = "auto",
        device: str = "auto",
    ) -> Predictor:
        """Read `checkpoint` once; `clips`/`three_crop` override its multi-view test settings."""
        return cls(load_scorer(checkpoint, topk=topk, all_scores=True, clips=clips, three_crop=three_crop,
                               backend=backend, device=default_device(device)))  # fmt: skip

    @property
    def class_names(self) -> list[str]:
        return self.scorer.class_names

    def embed(self, video: str | os.PathLike[str] | torch.Tensor, *, fps: float = 25.0) -> np.ndarray:
        """The video's embedding (D',), float32: what the classifier reads, averaged over the test clips;
        the same numbers `vap score --embeddings` records."""
        if not isinstance(self.scorer, ClassifierScorer):
            raise ConfigError("a glimpse agent has no embedding of its own; embed with its classifier's checkpoint")
        return np.asarray(self._record(video, fps).embedding, dtype=np.float32)

    def _record(self, video: str | os.PathLike[str] | torch.Tensor, fps: float) -> ScoreRecord:
        """The `vap score` record of one video (path or frames); a video that cannot be decoded raises."""
        item = self._from_frames(video, fps) if isinstance(video, torch.Tensor) else self._prepare(os.fspath(video))
        if isinstance(item, FailedVideo):
            raise VideoError(item.path, item.reason)
        return next(iter(self.scorer.score([item])))

    def predict(self, video: str | os.PathLike[str] | torch.Tensor, *, fps: float = 25.0) -> Prediction:
        """Labels of a video file, or of its decoded frames, uint8 (N, C, H, W) in order (`fps`: their rate,
        for samplers that sample by time). A video that cannot be decoded raises `VideoError`."""
        record = self._record(video, fps)
        return Prediction(record.labels or [], record.probs or [], record.scores or [])

    def _from_frames(self, frames: torch.Tensor, fps: float) -> DecodedVideo:
        if isinstance(self.scorer, AgentScorer):
            raise ConfigError("a glimpse agent decodes the frames it chooses: give it a video file, not frames")
        if frames.dtype != torch.uint8 or frames.dim() != 4 or frames.shape[1] != 3 or frames.shape[0] == 0:
            raise ValueError(f"frames must be uint8 (N, 3, H, W) with N >= 1, got {frames.dtype} {tuple(frames.shape)}")
        assert isinstance(self.scorer, ClassifierScorer)
        n, _, h, w = frames.shape
        indices = self.scorer.sampler(n, training=False, fps=fps)  # (J, T)
        rng = np.random.default_rng(0)  # evaluation transforms are deterministic; the rng is unused
        clips = torch.stack([self.scorer.transform(frames[torch.as_tensor(row)], rng) for row in indices])
        return DecodedVideo("<frames>", clips, indices, n, fps, w, h, "frames")  # clips (J, [V,] T, C, h, w)
