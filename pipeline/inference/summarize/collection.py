"""Summarizing a collection where `vap score` runs: one process, `--shard I/N` (a SLURM array), torchrun
(every world-th video to each rank) or Ray Data (`engine="ray"`: actors that each load the model once).

(video, folder) jobs -> minus the finished ones (summary.json, written last) -> this shard's, this
rank's -> `Summarizing.one` per video, under a lock on its folder (two runs never write one summary) ->
one `Outcome` per video, in completion order. A killed run loses only the video it was on; a rerun skips
the rest. The videos must be reachable at the same paths from every node (a shared file system).
"""

from __future__ import annotations

import sys
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

from pipeline.errors import ConfigError, display_path, printable
from pipeline.inference.summarize.selection import Budget

LOCK = ".summarizing.lock"  # in a video's folder while a run writes it


@dataclass(frozen=True)
class Outcome:
    """What became of one video: status ok, error or skipped (done before, or another run is on it)."""

    video: Path
    status: str
    error: str = ""
    duration_s: float = 0.0
    shots: int = 0
    kept: int = 0
    summary_s: float = 0.0
    time_s: float = 0.0


@dataclass
class Summarizing:
    """How every video is summarized; picklable, so a Ray actor builds its own model (`ready`) once."""

    method: str
    budget: Budget
    checkpoint: Path | None = None
    method_args: dict = field(default_factory=dict)
    sample_fps: float = 2.0
    backend: str = "auto"
    seed: int = 0
    shot_value: str = "sum"
    threads: int = 1
    video: bool = True
    _summarizer: Any = field(default=None, repr=False)
    _backbone: Any = field(default=None, repr=False)
    _load_s: float | None = field(default=None, repr=False)  # the model's load time, until a video carries it

    def __getstate__(self) -> dict:  # the models are built again where the work is (a Ray actor)
        return {**self.__dict__, "_summarizer": None, "_backbone": None, "_load_s": None}

    def summarizer(self) -> Any:
        """The summarizer, built once (a checkpoint is read once for all videos): errors show up front."""
        if self._summarizer is None:
            from pipeline.inference.summarize.video import build_summarizer

            self._summarizer = build_summarizer(self.method, checkpoint=self.checkpoint, seed=self.seed,
                                                **self.method_args)  # fmt: skip
        return self._summarizer

    def ready(self) -> None:
        """Load the backbone (once) and check the summarizer can read its features."""
        summarizer = self.summarizer()
        if self._backbone is None:
            from pipeline.inference.summarize.video import default_backbone, features_id

            t0 = time.perf_counter()
            self._backbone = default_backbone()
            self._load_s = round(time.perf_counter() - t0, 3)
            summarizer.check_features(features_id(self._backbone), self._backbone.out_channels,
                                      sample_fps=self.sample_fps)  # fmt: skip

    def one(self, video: Path, folder: Path, progress: Callable[[int, int], None] | None = None) -> Outcome:
        """Summarize `video` into `folder` (skipped when done before or locked by another run); an error in
        this video is its outcome, never raised: the other videos go on."""
        from filelock import FileLock, Timeout

        from pipeline.inference.summarize.keyframes import SampledFrames
        from pipeline.inference.summarize.outputs import finished, write_outputs
        from pipeline.inference.summarize.video import summarize_video

        t0 = time.perf_counter()
        try:
            if finished(video, folder):
                return Outcome(video, "skipped")
            folder.mkdir(parents=True, exist_ok=True)
            lock = FileLock(str(folder / LOCK))
            try:
                lock.acquire(timeout=0)
            except Timeout:
                return Outcome(video, "skipped", error="another run is summarizing it")
            try:
                if finished(video, folder):  # the other run finished it while this one waited for the folder
                    return Outcome(video, "skipped")
                self.ready()
                with SampledFrames(folder=folder) as frames:
                    s = summarize_video(video, method=self.method, budget=self.budget, sample_fps=self.sample_fps,
                                        backbone=self._backbone, backend=self.backend, seed=self.seed,
                                        summarizer=self._summarizer, shot_value=self.shot_value,
                                        threads=self.threads, keep=frames, progress=progress)  # fmt: skip
                    if self._load_s is not None:  # the first video carries the model's load time
                        s = replace(s, seconds={"load model": self._load_s, **s.seconds})
                        self._load_s = None
                    s = write_outputs(s, folder, frames=frames, backend=self.backend, video=self.video)
            finally:
                lock.release()
                Path(folder / LOCK).unlink(missing_ok=True)
        except Exception as e:  # one bad video must not stop the others
            reason = " ".join(str(e).split()) or type(e).__name__
            where = "" if reason.startswith(printable(display_path(video))) else f"{display_path(video)}: "
            return Outcome(video, "error", error=printable(where + reason), time_s=time.perf_counter() - t0)
        fps = s.fps if s.fps > 0 else 1.0
        kept = sum(b - a + 1 for a, b in s.clips)
        return Outcome(video, "ok", duration_s=s.num_frames / fps, shots=len(s.shots), kept=len(s.selected),
                       summary_s=kept / fps, time_s=time.perf_counter() - t0)  # fmt: skip


def summarize_collection(
    jobs: list[tuple[Path, Path]],
    summarizing: Summarizing,
    *,
    engine: str = "local",
    workers: int = 2,
    rank: int = 0,
    world: int = 1,
    progress: Callable[[Path], Callable[[int, int], None] | None] | None = None,
) -> Iterator[Outcome]:
    """Every job's outcome (this rank's share under torchrun: every world-th of those not done), in
    completion order. `progress(video)` gives the per-frame callback of a local run."""
    from pipeline.inference.summarize.outputs import finished

    todo = []
    for video, folder in jobs:
        try:
            done = finished(video, folder)
        except ConfigError as e:  # the folder holds another video's summary
            yield Outcome(video, "error", error=str(e))
            continue
        if done:
            yield Outcome(video, "skipped")
        else:
            todo.append((video, folder))
    todo = todo[rank::world]
    if engine == "ray":
        yield from _with_ray(todo, summarizing, workers)
        return
    if engine != "local":
        raise ConfigError(f"--engine {engine!r}: local or ray")
    if todo:
        summarizing.ready()  # the model, once; a summarizer that cannot read its features says so before any video
    for video, folder in todo:
        yield summarizing.one(video, folder, progress(video) if progress else None)


class SummarizeStage:
    """A Ray actor: its own copy of the summarizing settings, the model loaded once, one video per call."""

    def __init__(self, summarizing: Summarizing) -> None:
        self.summarizing = summarizing

    def __call__(self, batch: dict[str, Any]) -> dict[str, list]:
        import os
        import pickle

        pairs = zip(batch["video"], batch["folder"], strict=True)  # bytes: any file name survives Arrow
        out = [self.summarizing.one(Path(os.fsdecode(v)), Path(os.fsdecode(f))) for v, f in pairs]
        return {"payload": [pickle.dumps(o) for o in out]}


def _with_ray(todo: list[tuple[Path, Path]], summarizing: Summarizing, workers: int) -> Iterator[Outcome]:
    """Ray Data: `workers` actors of one CPU each, one video per task, outcomes as they finish."""
    import os
    import pickle

    from pipeline.inference.ray import connect

    ray = connect()
    if not todo:
        return
    actors = max(1, min(workers, int(ray.cluster_resources().get("CPU", 1))))
    if actors < workers:
        print(f"Ray: {actors} summarizing actor(s), as many as the cluster's CPUs", file=sys.stderr)
    ds = ray.data.from_items([{"video": os.fsencode(v), "folder": os.fsencode(f)} for v, f in todo])
    ds = ds.map_batches(SummarizeStage, fn_constructor_kwargs={"summarizing": summarizing}, batch_size=1,
                        concurrency=actors, num_cpus=1)  # fmt: skip
    for row in ds.iter_rows():
        yield pickle.loads(row["payload"])
