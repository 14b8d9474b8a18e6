"""Scoring videos with a trained checkpoint: one interface for a classifier and a glimpse agent.

    checkpoint -> `load_scorer` (the file read once, in the calling process)
    path -> scorer.prepare() in a decoding worker process, under a timeout -> Prepared | FailedVideo
         -> scorer.score(stream) in the main process (or a Ray model actor) -> one ScoreRecord per video
A classifier prepares every evaluation clip of a video (`decode_clips`) and scores clips of several
videos per model call; a glimpse agent prepares a whole episode where the reader is (each decision waits
for the frame before it: `pipeline.inference.episodes`) and its `score` only writes the records. The
agent's model goes to each worker inside the picklable `prepare()` callable, not as a path to load again.
"""

from __future__ import annotations

import os
from abc import ABC, abstractmethod
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass
from functools import partial
from typing import Any, ClassVar

import numpy as np
import torch

from pipeline.data.clips import DecodedVideo, FailedVideo, decode_clips, eval_pipeline
from pipeline.data.samplers import ClipSampler
from pipeline.data.transforms import Compose
from pipeline.data.windows import WindowClips, Windows, decode_windows
from pipeline.errors import ConfigError, display_path, path_bytes_hex
from pipeline.inference.episodes import AgentEpisode, agent_episode
from pipeline.inference.onnx_runtime import is_onnx
from pipeline.models.checkpoint import CheckpointMeta, is_agent, is_long_agent, load_any


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
    # ... and what the codec decoded to serve them (a classifier's too): a seek decodes from the keyframe
    # before its frame, so on long-GOP video this can be many more (None: the backend does not count)
    codec_frames: int | None = None
    # a long-video agent's checkpoint: seconds spent on its first look (the keyframes), decoding its
    # glimpses, and in the models
    seconds: dict[str, float] | None = None
    # the file name's bytes in hex where they are not UTF-8 (`path` shows them as \xNN):
    # os.fsdecode(bytes.fromhex(path_hex)) is the path again
    path_hex: str | None = None
    # with --embeddings: what the classifier reads, the head's pooled clip (D'), averaged over the clips
    # (with --window: over the windows, each of which also holds its own)
    embedding: list[float] | None = None
    # with --window: every window's {start, end, labels, probs} (seconds; top-k), in time order ...
    windows: list[dict[str, Any]] | None = None
    # ... runs of consecutive windows with the same best label above --threshold: {start, end, label, score}
    segments: list[dict[str, Any]] | None = None
    stopped: str | None = None  # why the windows end before the video does (a truncated file), if they do


@dataclass
class ScoredWindow:
    """One window's answer, as journaled: `entry` holds index, start, end, labels, probs (and scores,
    embedding where asked for). `vap score --window` only."""

    path: str
    entry: dict[str, Any]


def readable(record: dict[str, Any]) -> dict[str, Any]:
    """A record (`asdict(ScoreRecord)`) whose path is valid UTF-8, as JSON and Parquet readers need, with
    the name's bytes in `path_hex` where they are not."""
    path = record["path"]
    return {**record, "path": display_path(path), "path_hex": path_bytes_hex(path)}


class Scorer(ABC):
    """What every checkpoint kind gives `vap score`: a worker-side `prepare()` and a main-side `score`."""

    kind: ClassVar[str]

    def __init__(
        self,
        meta: CheckpointMeta,
        sampler: ClipSampler,
        transform: Compose,
        *,
        backend: str = "auto",
        topk: int = 5,
        all_scores: bool = False,
    ) -> None:
        self.meta, self.sampler, self.transform, self.backend = meta, sampler, transform, backend
        self.class_names = list(meta.class_names)
        self.topk = min(topk, len(self.class_names))
        self.all_scores = all_scores

    @property
    def settings(self) -> dict[str, Any]:
        """What makes two runs' records comparable (the run record of `vap score` holds it)."""
        return {"topk": self.topk, "all_scores": self.all_scores, "sampler": repr(self.sampler),
                "transform": repr(self.transform), "backend": self.backend}  # fmt: skip

    @abstractmethod
    def prepare(self, starts: dict[str, int] | None = None) -> Callable[[str], Any]:
        """A picklable `path -> prepared video | FailedVideo` (or, scoring in windows, a generator of a
        video's parts, skipping the first `starts[path]` windows), run in decoding worker processes."""

    @abstractmethod
    def score(self, stream: Iterable[Any]) -> Iterator[Any]:
        """Records for a stream of prepared (or failed) videos, in the order they finish (scoring in
        windows: `ScoredWindow`s and the parts the assembler needs, `pipeline.inference.windows`)."""

    def to(self, device: torch.device | str) -> Scorer:  # noqa: B027 - a no-op where nothing runs here
        """Move the main-side model, if any, to `device`."""
        return self

    def _answer(self, probs: torch.Tensor, names: list[str] | None = None) -> dict[str, Any]:
        """labels, probs (top-k) and, with --all-scores, scores, from one (K,) probability vector over
        `names` (default: the checkpoint's classes)."""
        names = self.class_names if names is None else names
        top = probs.topk(min(self.topk, len(names)))
        return {"labels": [names[i] for i in top.indices.tolist()],
                "probs": [round(float(x), 6) for x in top.values],
                "scores": [round(float(x), 6) for x in probs] if self.all_scores else None}  # fmt: skip

    def _ok(
        self, path: str, probs: torch.Tensor, *, backend: str, duration: float, frames: int, fps: float
    ) -> ScoreRecord:
        return ScoreRecord(path, "ok", backend=backend, duration=round(duration, 4), frames=frames, fps=round(fps, 4),
                           **self._answer(probs))  # fmt: skip


class ClassifierScorer(Scorer):
    """A `vap train` classifier: DecodedVideo clips (J, [V,] T, C, H, W) of several videos concatenated up
    to `batch_clips` -> model (views averaged inside) -> per-clip probabilities (softmax, or sigmoid for a
    multi-label model) -> mean over a video's clips -> top-k labels, optional per-class scores, and the
    temporal attention over the sampled frames with the key frames it points at."""

    kind = "classifier"

    def __init__(
        self,
        model: torch.nn.Module,
        meta: CheckpointMeta,
        sampler: ClipSampler,
        transform: Compose,
        *,
        with_attention: bool = False,
        embeddings: bool = False,
        keyframes: int = 3,
        batch_clips: int = 16,
        device: torch.device | str = "cpu",
        windows: Windows | None = None,
        threshold: float = 0.5,
        **common: Any,
    ) -> None:
        super().__init__(meta, sampler, transform, **common)
        self.model, self.multilabel = model.eval(), meta.multilabel
        self.with_attention, self.keyframes, self.batch_clips = with_attention, keyframes, batch_clips
        self.embeddings = embeddings
        if windows is not None and with_attention:
            raise ConfigError("--with-attention: not with --window; each window's labels say what happens when")
        self.windows, self.threshold = windows, threshold
        self.to(device)

    @property
    def settings(self) -> dict[str, Any]:
        windowed = {} if self.windows is None else {
            "window": self.windows.window, "stride": self.windows.step, "threshold": self.threshold}  # fmt: skip
        return {**super().settings, "with_attention": self.with_attention, "embeddings": self.embeddings, **windowed}

    def to(self, device: torch.device | str) -> ClassifierScorer:
        self.device = torch.device(device)
        self.model.to(self.device)
        return self

    def prepare(self, starts: dict[str, int] | None = None) -> Callable[[str], Any]:
        if self.windows is not None:  # a generator of parts; `starts`: windows journaled by a killed run
            return partial(decode_windows, windows=self.windows, sampler=self.sampler, transform=self.transform,
                           backend=self.backend, starts=starts or None)  # fmt: skip
        return partial(decode_clips, sampler=self.sampler, transform=self.transform, backend=self.backend)

    def score(self, stream: Iterable[Any]) -> Iterator[Any]:
        if self.windows is None:  # DecodedVideo -> ScoreRecord; a FailedVideo becomes an error record
            yield from self._batched(stream, DecodedVideo, self._run,
                                     lambda f: ScoreRecord(f.path, "error", error=f.reason))  # fmt: skip
        else:  # WindowClips -> ScoredWindow; VideoStart, VideoEnd and FailedVideo go on to the assembler
            yield from self._batched(stream, WindowClips, self._run_windows, lambda part: part)

    def _batched(self, stream: Iterable[Any], kind: type, run: Callable[[list[Any]], Iterator[Any]],
                 other: Callable[[Any], Any]) -> Iterator[Any]:  # fmt: skip
        """Items of `kind` (each with `clips`), several videos' or windows' concatenated up to `batch_clips`
        clips per model call (`run`); anything else through `other`, at once."""
        pending: list[Any] = []
        for item in stream:
            if not isinstance(item, kind):
                yield other(item)
                continue
            pending.append(item)
            if sum(x.clips.shape[0] for x in pending) >= self.batch_clips:
                yield from run(pending)
                pending = []
        if pending:
            yield from run(pending)

    @torch.inference_mode()
    def _forward(self, items: list[Any]) -> Iterator[tuple[Any, torch.Tensor, torch.Tensor, torch.Tensor | None]]:
        """(item, its clips' probabilities (J, K), attention (J, T), embeddings (J, D') or None), one model
        call for all the items' clips."""
        clips = torch.cat([x.clips for x in items]).to(self.device, non_blocking=True)  # (N, [V,] T, C, H, W)
        out = self.model(clips)
        probs = torch.sigmoid(out.logits) if self.multilabel else out.logits.softmax(-1)  # (N, K)
        counts = [x.clips.shape[0] for x in items]
        embedded = out.embedding.split(counts) if self.embeddings else [None] * len(items)  # [(J, D')]
        yield from zip(items, probs.split(counts), out.attention.split(counts), embedded, strict=True)

    def _run(self, videos: list[DecodedVideo]) -> Iterator[ScoreRecord]:
        for video, p, att, emb in self._forward(videos):
            rec = self._record(video, p.mean(0).cpu(), att.cpu())  # (K,), (J, T)
            if emb is not None:
                rec.embedding = [round(float(x), 6) for x in emb.mean(0).cpu()]  # (D',) the video's
            yield rec

    def _run_windows(self, windows: list[WindowClips]) -> Iterator[ScoredWindow]:
        for w, p, _, emb in self._forward(windows):
            entry = {"index": w.index, "start": w.start, "end": w.end, **self._answer(p.mean(0).cpu())}
            if entry["scores"] is None:
                del entry["scores"]
            if emb is not None:
                entry["embedding"] = [round(float(x), 6) for x in emb.mean(0).cpu()]  # (D',)
            yield ScoredWindow(w.path, entry)

    def _record(self, video: DecodedVideo, probs: torch.Tensor, attention: torch.Tensor) -> ScoreRecord:
        rec = self._ok(video.path, probs, backend=video.backend, duration=video.duration, frames=video.num_frames,
                       fps=video.fps)  # fmt: skip
        rec.codec_frames = video.codec_frames
        if self.with_attention:
            frames = video.frame_indices.reshape(-1)  # (J*T,)
            weights = (attention / attention.shape[0]).reshape(-1).numpy()  # (J*T,) sums to 1 over the video
            rec.attention_frames = frames.tolist()
            rec.attention = [round(float(w), 6) for w in weights]
            best = [int(frames[i]) for i in np.argsort(-weights, kind="stable")]
            keys = list(dict.fromkeys(best))[: self.keyframes]  # distinct frames, most attended first
            rec.keyframe_times = [round(f / video.fps, 4) if video.fps > 0 else 0.0 for f in keys]
        return rec


class AgentScorer(Scorer):
    """A `task: glimpse` checkpoint: the episode runs in the decoding workers (decoding only the frames the
    agent looks at, one torch thread each), and the records say which frames it looked at."""

    kind = "agent"

    def __init__(self, model: torch.nn.Module, meta: CheckpointMeta, sampler: ClipSampler, transform: Compose,
                 **common: Any) -> None:  # fmt: skip
        super().__init__(meta, sampler, transform, **common)
        self.model = model.eval()

    def prepare(self, starts: dict[str, int] | None = None) -> Callable[[str], AgentEpisode | FailedVideo]:
        return partial(agent_episode, model=self.model, multilabel=self.meta.multilabel, sampler=self.sampler,
                       transform=self.transform, backend=self.backend)  # fmt: skip

    def score(self, stream: Iterable[AgentEpisode | FailedVideo]) -> Iterator[ScoreRecord]:
        for item in stream:
            if isinstance(item, FailedVideo):
                yield ScoreRecord(item.path, "error", error=item.reason)
                continue
            rec = self._ok(item.path, item.probs, backend=item.backend, duration=item.duration,
                           frames=item.num_frames, fps=item.fps)  # fmt: skip
            rec.glimpse_frames, rec.frames_decoded = item.looked_at, len(item.frames_decoded)
            rec.codec_frames, rec.seconds = item.codec_frames, item.seconds
            yield rec


class LongAgentScorer(AgentScorer):
    """A `task: long_glimpse` checkpoint: the agent looks at a long video's keyframes, then decodes the few
    short clips it chooses (`pipeline.inference.long_episodes`). With `windows`, every window of a video gets
    a line, but only those around what its glimpses saw are decoded and scored by its classifier; the rest
    are judged empty and skipped (`pipeline.inference.long_windows`)."""

    kind = "agent"

    def __init__(self, model: torch.nn.Module, meta: CheckpointMeta, transform: Compose, *,
                 windows: Windows | None = None, threshold: float = 0.5, **common: Any) -> None:  # fmt: skip
        from pipeline.data.long_videos import clip_offsets

        sampler, _ = eval_pipeline(meta.preprocessing, clips=1, three_crop=False)
        super().__init__(model, meta, sampler, transform, **common)
        self.offsets = clip_offsets(meta.preprocessing)
        self.step = float(meta.preprocessing.get("step_seconds", 1.0))
        self.clip_classes = list(meta.extra.get("clip_classes") or [])
        self.empty = {i for i, c in enumerate(self.clip_classes) if c not in set(self.class_names)}
        if windows is not None and not self.empty:
            raise ConfigError("--window: this agent's classifier has no class for windows where nothing happens "
                              "(a clip class that is no video's class, such as `background`), so it cannot judge "
                              "a window empty; score windows with its classifier's checkpoint")  # fmt: skip
        self.windows, self.threshold = windows, threshold
        self.window_sampler, self.window_transform = eval_pipeline(meta.preprocessing)  # the classifier's own

    @property
    def settings(self) -> dict[str, Any]:
        windowed = {} if self.windows is None else {
            "window": self.windows.window, "stride": self.windows.step, "threshold": self.threshold}  # fmt: skip
        return super().settings | {"step_seconds": self.step, **windowed}

    def prepare(self, starts: dict[str, int] | None = None) -> Callable[[str], Any]:
        if self.windows is not None:
            from pipeline.inference.long_windows import agent_windows

            return partial(agent_windows, model=self.model, transform=self.transform, offsets=self.offsets,
                           step=self.step, windows=self.windows, sampler=self.window_sampler,
                           window_transform=self.window_transform, empty=self.empty,
                           classes=len(self.clip_classes), sure=getattr(self.model.agent.second_look, "sure", 0.9),
                           starts=starts or None)  # fmt: skip
        from pipeline.inference.long_episodes import long_episode

        return partial(long_episode, model=self.model, transform=self.transform, offsets=self.offsets, step=self.step)

    def score(self, stream: Iterable[Any]) -> Iterator[Any]:
        if self.windows is None:
            yield from super().score(stream)
            return
        from pipeline.inference.long_windows import JudgedWindow

        for item in stream:  # JudgedWindow -> ScoredWindow; the other parts go on to the assembler
            if not isinstance(item, JudgedWindow):
                yield item
                continue
            entry: dict[str, Any] = {"index": item.index, "start": item.start, "end": item.end}
            if item.probs is None:
                entry |= {"labels": [], "probs": [], "skipped": True}
            else:
                entry |= self._answer(item.probs, self.clip_classes)
                if entry["scores"] is None:
                    del entry["scores"]
            yield ScoredWindow(item.path, entry)


def default_device(device: str = "auto") -> str:
    """`auto`: the first GPU where there is one, else the CPU; under torchrun, the rank's own GPU."""
    if device == "auto":
        if not torch.cuda.is_available():
            return "cpu"
        device = "cuda"
    if device == "cuda" and int(os.environ.get("WORLD_SIZE", "1")) > 1:
        return f"cuda:{int(os.environ.get('LOCAL_RANK', 0)) % max(torch.cuda.device_count(), 1)}"
    return device


def load_scorer(
    checkpoint: str | os.PathLike[str],
    *,
    topk: int = 5,
    all_scores: bool = False,
    with_attention: bool = False,
    embeddings: bool = False,
    clips: int | None = None,
    three_crop: bool | None = None,
    backend: str = "auto",
    batch_clips: int = 16,
    device: str = "cpu",
    windows: Windows | None = None,
    threshold: float = 0.5,
) -> Scorer:
    """The scorer of a `vap train` checkpoint, whichever kind it holds; the file is read once, here.
    `clips`/`three_crop` override the checkpoint's multi-view test settings (a classifier's only);
    `windows` scores each video in time windows (a classifier's, or a long-video agent's, which skips the
    windows it judges empty), `threshold` makes their segments."""
    if is_onnx(checkpoint):  # `vap export --format onnx`: ONNX Runtime runs it, the rest is the same
        from pipeline.inference.onnx_runtime import load_onnx

        model, meta = load_onnx(checkpoint, device=device)
    else:
        model, meta = load_any(checkpoint)
    common = {"backend": backend, "topk": topk, "all_scores": all_scores}
    if is_agent(meta):  # the agent picks frames within one clip, at the frozen classifier's single view
        if windows is not None and not is_long_agent(meta):
            raise ConfigError("--window: a glimpse agent's checkpoint answers for a whole video; score windows "
                              "with its classifier's checkpoint")  # fmt: skip
        if with_attention:
            raise ConfigError("--with-attention: a glimpse agent has no temporal attention; its records list "
                              "the frames it looked at (glimpse_frames)")  # fmt: skip
        if (clips or 1) > 1 or three_crop:
            raise ConfigError("--clips/--three-crop: a glimpse-agent checkpoint looks at one clip, one view")
        if embeddings:
            raise ConfigError("--embeddings: a glimpse agent's answer comes from the frames it chose; embed with "
                              "its classifier's checkpoint")  # fmt: skip
        sampler, transform = eval_pipeline(meta.preprocessing, clips=1, three_crop=False)
        if is_long_agent(meta):
            return LongAgentScorer(model, meta, transform, windows=windows, threshold=threshold, **common)
        return AgentScorer(model, meta, sampler, transform, **common)
    sampler, transform = eval_pipeline(meta.preprocessing, clips=clips, three_crop=three_crop)
    return ClassifierScorer(model, meta, sampler, transform, with_attention=with_attention, embeddings=embeddings,
                            batch_clips=batch_clips, device=device, windows=windows, threshold=threshold,
                            **common)  # fmt: skip
