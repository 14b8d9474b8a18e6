"""`vap score --engine ray`: the same records from a Ray cluster (Ray Data), streamed into the same journal.

paths -> `DecodeStage` actors on CPUs running the scorer's `prepare()` (each keeps an `IsolatedPool`, so
a video that hangs its decoder is cut at the timeout and becomes an error record inside the task: Ray's
`max_errored_blocks` would drop a whole block silently) -> a `ModelStage` actor running the scorer's
`score` (on a GPU where there is one) -> one JSON record per video back to the driver, which appends it
to the journal as the local engine does, so resuming works the same. Ray's own `read_videos` yields
frames, not clips, so paths are read and decoded inside the tasks. The scorer, its model included,
travels to the actors with the tasks: the checkpoint is read once, by the driver, and only the videos
must be reachable at the same paths from every node (a shared file system).
"""

from __future__ import annotations

import os
import pickle
import sys
from collections.abc import Callable, Iterator
from typing import Any

import numpy as np

from pipeline.data.clips import FailedVideo
from pipeline.data.pool import IsolatedPool
from pipeline.errors import ConfigError
from pipeline.inference.score import Scorer


class DecodeStage:
    """Decodes a batch of paths in a worker process under a per-video timeout. Scoring in windows, the
    prepared parts of a video leave in blocks of `parts_per_block` as they are made (a generator UDF), so
    a long video streams through Ray instead of sitting in one block."""

    def __init__(self, decode: Callable[[str], Any], timeout: float, parts_per_block: int = 8) -> None:
        self.pool = IsolatedPool(decode, jobs=1, timeout=timeout)
        self.parts_per_block = parts_per_block

    def __call__(self, batch: dict[str, np.ndarray]) -> Iterator[dict[str, list]]:
        paths = [str(p) for p in batch["path"]]
        block: list[bytes] = []
        for o in self.pool.map(paths):
            if o.error is not None:
                item = FailedVideo(o.item, o.error)
            elif o.partial or o.result is not None:
                item = o.result
            else:
                continue  # a generator's end: its last part (VideoEnd) said it
            # Our own objects between our own processes (Ray pickles too); a column of bytes keeps Arrow simple.
            block.append(pickle.dumps(item))
            if len(block) >= self.parts_per_block:
                yield {"payload": block}
                block = []
        if block:
            yield {"payload": block}


class ModelStage:
    """Scores prepared videos with the scorer the driver built (its model moved to this actor's device);
    what it gives (records, or scored windows and the parts the driver's assembler needs) goes back pickled."""

    def __init__(self, scorer: Scorer, threads: int | None = None) -> None:
        import torch

        if threads:  # on the CPU: the cores reserved for this actor, so it does not compete with the decoders
            torch.set_num_threads(threads)
        self.scorer = scorer.to("cuda" if torch.cuda.is_available() else "cpu")

    def __call__(self, batch: dict[str, np.ndarray]) -> dict[str, list]:
        items = [pickle.loads(b) for b in batch["payload"]]
        return {"payload": [pickle.dumps(r) for r in self.scorer.score(items)]}


def decode_actors(decoders: int, model_cpus: float) -> int:
    """How many decoding actors (one CPU each) fit beside the model actor's `model_cpus` in the Ray cluster:
    at most `decoders`, at least 1. A pool asking for more CPUs than there are waits for them and ends up
    slower than a smaller one, and a pool left to Ray's autoscaling between 1 and `decoders` stayed at one
    actor (docs/bench/score.md)."""
    import ray

    room = int(ray.cluster_resources().get("CPU", 1) - model_cpus)
    return max(1, min(decoders, room))


def decoded_dataset(
    paths: list[str], *, decode: Callable[[str], Any], timeout: float, actors: int, decode_batch: int = 16
) -> Any:
    """The decode stage as a Ray Dataset of pickled payloads: `actors` CPU actors, `decode_batch` videos
    per task."""
    import ray

    ds = ray.data.from_items([{"path": p} for p in paths])
    return ds.map_batches(DecodeStage, fn_constructor_kwargs={"decode": decode, "timeout": timeout},
                          batch_size=decode_batch, concurrency=actors, num_cpus=1)  # fmt: skip


def connect() -> Any:
    """The `ray` module, connected: to the cluster RAY_ADDRESS names (set by `ray job submit`, or by hand),
    or to a local instance started here. One-line error without the [ray] extra."""
    try:
        import ray
    except ImportError as e:
        raise ConfigError("--engine ray needs Ray: pip install 'video-attention-pipeline[ray]'") from e
    if not ray.is_initialized():
        address = os.environ.get("RAY_ADDRESS")
        if address is None:
            # Ray starts its workers at niceness 15, to yield to its own services; in our own instance they do
            # all the work, and on a machine busy with other jobs they starved until those ended. At 0 they
            # share the cores like the local engine's workers.
            os.environ.setdefault("RAY_worker_niceness", "0")
        ray.init(address=address, include_dashboard=False, log_to_driver=False)
    return ray


def score_with_ray(
    paths: list[str],
    scorer: Scorer,
    *,
    timeout: float,
    decoders: int,
    threads: int | None = None,
    batch_videos: int = 16,
    decode_batch: int = 16,
    starts: dict[str, int] | None = None,
) -> Iterator[Any]:
    """What the scorer's `score` gives (records; scoring in windows, scored windows and video parts), in
    completion order, streamed from a Ray Data pipeline. `starts`: windows journaled by a killed run.

    `decoders` CPU actors decode `decode_batch` videos per Ray task: with short videos a task's scheduling
    costs as much as its decoding, so 16 videos per task and per model call did better than 4 and 8
    (docs/bench/score.md). The model actor takes a GPU where there
    is one, otherwise `threads` CPUs (default 1), reserved so that decoding and the model do not share one."""
    connect()
    if not paths:
        return
    import torch

    gpu = torch.cuda.is_available()
    model_resources = {"num_gpus": 1} if gpu else {"num_cpus": threads or 1}
    model_args = {"scorer": scorer, "threads": None if gpu else threads or 1}
    actors = decode_actors(decoders, 0 if gpu else threads or 1)
    if actors < decoders:
        print(f"Ray: {actors} decoding actor(s), as many as the cluster's CPUs hold beside the model", file=sys.stderr)
    ds = decoded_dataset(paths, decode=scorer.prepare(starts), timeout=timeout, actors=actors,
                         decode_batch=decode_batch)  # fmt: skip
    ds = ds.map_batches(ModelStage, fn_constructor_kwargs=model_args, batch_size=batch_videos, concurrency=1,
                        **model_resources)  # fmt: skip
    for row in ds.iter_rows():
        yield pickle.loads(row["payload"])
