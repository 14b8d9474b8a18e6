"""Batch scoring: decoded videos in, one record per video out, clips of many videos per model call.

DecodedVideo clips (J, [V,] T, C, H, W) from several videos -> concatenated up to `batch_clips` ->
model (views averaged inside) -> per-clip probabilities (softmax, or sigmoid for a multi-label
model) -> mean over a video's clips -> top-k labels, optional per-class scores, and the temporal
attention over the sampled frames with the key frames it points at.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from dataclasses import dataclass

import numpy as np
import torch

from pipeline.data.clips import DecodedVideo, FailedVideo
from pipeline.models.video_classifier import VideoClassifier


@dataclass
class ScoreRecord:
    """One line of `vap score` output."""

    path: str
    status: str  # "ok" or "error"
    error: str | None = None
    backend: str | None = None
    duration: float | None = None  # seconds
    frames: int | None = None
    fps: float | None = None
    labels: list[str] | None = None  # top-k, best first
    probs: list[float] | None = None
    scores: list[float] | None = None  # every class, with --all-scores
    attention_frames: list[int] | None = None  # the sampled frames (all clips), with --with-attention
    attention: list[float] | None = None  # their temporal attention, summing to 1 over the video
    keyframe_times: list[float] | None = None  # seconds of the most-attended frames, most first
    glimpse_frames: list[int] | None = None  # a glimpse agent's checkpoint: the frames it looked at, in order
    frames_decoded: int | None = None  # a glimpse agent's checkpoint: frames decoded for this video
    # ... and what the codec decoded to serve them: a seek decodes from the keyframe before its frame, so
    # on long-GOP video this can be many more (None: the backend does not count, or not an agent)
    codec_frames: int | None = None


class VideoScorer:
    """Turns a stream of decoded (or failed) videos into `ScoreRecord`s."""

    def __init__(
        self,
        model: VideoClassifier,
        class_names: list[str],
        *,
        multilabel: bool = False,
        topk: int = 5,
        all_scores: bool = False,
        with_attention: bool = False,
        keyframes: int = 3,
        batch_clips: int = 16,
        device: torch.device | str = "cpu",
    ) -> None:
        self.model = model.eval().to(device)
        self.class_names = list(class_names)
        self.multilabel = multilabel
        self.topk = min(topk, len(class_names))
        self.all_scores, self.with_attention, self.keyframes = all_scores, with_attention, keyframes
        self.batch_clips = batch_clips
        self.device = torch.device(device)

    def score(self, stream: Iterable[DecodedVideo | FailedVideo]) -> Iterator[ScoreRecord]:
        """Records in the order videos finish; failures pass straight through."""
        pending: list[DecodedVideo] = []
        for item in stream:
            if isinstance(item, FailedVideo):
                yield ScoreRecord(item.path, "error", error=item.reason)
                continue
            pending.append(item)
            if sum(v.clips.shape[0] for v in pending) >= self.batch_clips:
                yield from self._run(pending)
                pending = []
        if pending:
            yield from self._run(pending)

    @torch.inference_mode()
    def _run(self, videos: list[DecodedVideo]) -> Iterator[ScoreRecord]:
        clips = torch.cat([v.clips for v in videos]).to(self.device, non_blocking=True)  # (N, [V,] T, C, H, W)
        out = self.model(clips)
        probs = torch.sigmoid(out.logits) if self.multilabel else out.logits.softmax(-1)  # (N, K)
        counts = [v.clips.shape[0] for v in videos]
        for video, p, att in zip(videos, probs.split(counts), out.attention.split(counts), strict=True):
            yield self._record(video, p.mean(0).cpu(), att.cpu())  # (K,), (J, T)

    def _record(self, video: DecodedVideo, probs: torch.Tensor, attention: torch.Tensor) -> ScoreRecord:
        top = probs.topk(self.topk)
        rec = ScoreRecord(
            video.path, "ok", backend=video.backend, duration=round(video.duration, 4), frames=video.num_frames,
            fps=round(video.fps, 4), labels=[self.class_names[i] for i in top.indices.tolist()],
            probs=[round(float(x), 6) for x in top.values],
        )  # fmt: skip
        if self.all_scores:
            rec.scores = [round(float(x), 6) for x in probs]
        if self.with_attention:
            frames = video.frame_indices.reshape(-1)  # (J*T,)
            weights = (attention / attention.shape[0]).reshape(-1).numpy()  # (J*T,) sums to 1 over the video
            rec.attention_frames = frames.tolist()
            rec.attention = [round(float(w), 6) for w in weights]
            best = [int(frames[i]) for i in np.argsort(-weights, kind="stable")]
            keys = list(dict.fromkeys(best))[: self.keyframes]  # distinct frames, most attended first
            rec.keyframe_times = [round(f / video.fps, 4) if video.fps > 0 else 0.0 for f in keys]
        return rec
