"""Scoring a collection resumably: the run behind `vap score`, usable from Python.

paths -> minus those already in the journal -> (under torchrun: every world-th to each rank) -> the
scorer's `prepare` in worker processes, each video under a timeout (`run_isolated`: a hung decoder is
killed), or a Ray Data pipeline -> the scorer's `score` -> one record per video appended to the journal
and flushed -> at the end, the ranks' journals merged and Parquet written whole (temp name + rename).
A run record beside the output (checkpoint hash, settings, input list hash) makes a rerun with other
ones stop with a message instead of mixing two runs in one file.

    run = ScoreRun(scorer, checkpoint, paths, out=Path("scores.jsonl"))
    for record in run.records():   # dicts, as journaled
        ...
    summary = run.finish()
"""

from __future__ import annotations

import glob
import hashlib
import json
import os
from collections import Counter
from collections.abc import Iterator
from contextlib import ExitStack
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

import torch

from pipeline.data.clips import FailedVideo
from pipeline.data.pool import buffered, run_isolated
from pipeline.data.records import Journal, check_writable, read_journal, repair_journal, write_atomic, write_parquet
from pipeline.errors import ConfigError, display_path
from pipeline.inference.score import Scorer, readable

WINDOW_FIELDS = ("windows", "segments", "stopped")  # record fields of --window runs only


class RunMismatch(ConfigError):
    """The output belongs to a run with another checkpoint, other settings or other inputs."""


def shard_of(paths: list[str], shard: str | None) -> list[str]:
    """The I-th of N parts ("I/N") of the sorted paths: every N-th path from the I-th."""
    if shard is None:
        return paths
    try:
        i, n = (int(x) for x in shard.split("/"))
    except ValueError:
        raise ConfigError(f"--shard {shard!r}: expected I/N, e.g. 0/4") from None
    if not 0 <= i < n:
        raise ConfigError(f"--shard {shard}: I must be in 0..N-1")
    return paths[i::n]


def output_files(out: Path) -> tuple[Path, Path]:
    """(journal, run record) for an output: a .jsonl is its own journal; a .parquet keeps one beside."""
    if out.suffix == ".jsonl":
        journal = out
    elif out.suffix == ".parquet":
        journal = out.with_name(out.name + ".journal.jsonl")
    else:
        raise ConfigError(f"{out}: --out must end in .jsonl or .parquet")
    return journal, out.with_name(out.name + ".run.json")


def windows_journal(journal: Path) -> Path:
    """Where `--window` runs journal each scored window (scores.windows.jsonl beside scores.jsonl): a killed
    run goes on from a video's last journaled window. Removed when the run finishes."""
    return journal.with_name(journal.name.removesuffix(".jsonl") + ".windows.jsonl")


def journaled_windows(path: Path) -> dict[str, list[dict[str, Any]]]:
    """The windows in a windows journal, by video: each index once, only the run from window 0 with no
    gap (what a rerun can go on from)."""
    found: dict[str, dict[int, dict[str, Any]]] = {}
    for line in read_journal(path):
        entry = {k: v for k, v in line.items() if k != "path"}
        found.setdefault(line["path"], {}).setdefault(entry["index"], entry)
    out = {}
    for video, by_index in found.items():
        n = 0
        while n in by_index:
            n += 1
        out[video] = [by_index[i] for i in range(n)]
    return out


def merge_window_journals(journal: Path) -> None:
    """Append the ranks' window lines to the windows journal (each window once), then remove the rank files."""
    seen = {(p, w["index"]) for p, ws in journaled_windows(journal).items() for w in ws}
    with Journal(journal) as out:
        for part in rank_journals(journal):
            for line in read_journal(part):
                if (line["path"], line["index"]) not in seen:
                    out.append(line)
                    seen.add((line["path"], line["index"]))
    for part in rank_journals(journal):
        part.unlink()


def check_output(out: Path) -> tuple[Path, Path]:
    """`output_files`, after making sure the run can write them, before any work: none of them is a
    folder, and their folder exists (or can be made) and is writable."""
    journal, record = output_files(out)
    for p in (out, journal, record):
        check_writable(p, what="--out (.jsonl or .parquet)")
    return journal, record


def lock_output(journal: Path) -> Any:
    """An exclusive lock on the output, held for the run: a second run on the same --out stops at once
    instead of writing every record a second time. Released when the process ends, however it ends."""
    from filelock import FileLock, Timeout

    lock = FileLock(f"{journal}.lock")
    try:
        lock.acquire(timeout=0)
    except Timeout:
        raise ConfigError(f"{journal}: another `vap score` run is writing it (it holds {journal.name}.lock); "
                          "wait for it to end, or use another --out") from None  # fmt: skip
    except OSError as e:
        raise ConfigError(f"{journal}: cannot lock it ({e.strerror or e})") from None
    return lock


def sha256_file(path: str | os.PathLike[str]) -> str:
    h = hashlib.sha256()
    with open(path, "rb") as f:
        for block in iter(lambda: f.read(1 << 20), b""):
            h.update(block)
    return h.hexdigest()


def check_run(record_path: Path, journal: Path, run: dict[str, Any]) -> None:
    """Refuse to resume an output that another run made; write this run's record otherwise."""
    if record_path.exists():
        old = json.loads(record_path.read_text(encoding="utf-8"))
        diffs = [k for k in ("checkpoint_sha256", "settings", "inputs_sha256") if old.get(k) != run[k]]
        if diffs:
            what = {"checkpoint_sha256": "the checkpoint", "settings": "the settings", "inputs_sha256": "the inputs"}
            detail = ""
            if "settings" in diffs:
                before = old["settings"]
                changed = [f"{k}: {before.get(k)} -> {v}" for k, v in run["settings"].items() if before.get(k) != v]
                detail = " (" + ", ".join(changed) + ")"
            raise RunMismatch(
                f"{journal}: made by another run ({', '.join(what[d] for d in diffs)} differ{detail}); "
                "use another --out, or delete it and its .run.json to start again"
            )
    elif journal.exists() and journal.stat().st_size > 0:
        raise RunMismatch(f"{journal}: exists without its run record {record_path.name}; use another --out")
    write_atomic(record_path, json.dumps(run, indent=2) + "\n")


class Ranks:
    """One independent scorer per process under torchrun (WORLD_SIZE > 1): rank r scores every
    world-th video still to do and appends to a journal of its own; rank 0 merges them at the end.
    Gloo is used only for barriers, so it runs on CPU-only machines and between GPU nodes alike."""

    def __init__(self) -> None:
        self.world = int(os.environ.get("WORLD_SIZE", "1"))
        self.rank = 0
        if self.world > 1:  # torch.distributed takes a few tenths of a second to import: only under torchrun
            import torch.distributed as dist

            if not dist.is_initialized():
                dist.init_process_group("gloo")
            self.rank = dist.get_rank()

    def barrier(self) -> None:
        if self.world > 1:
            import torch.distributed as dist

            dist.barrier()

    def close(self) -> None:
        if self.world > 1:
            import torch.distributed as dist

            dist.destroy_process_group()


def rank_journals(journal: Path) -> list[Path]:
    return sorted(journal.parent.glob(f"{glob.escape(journal.name)}.rank*"))


def merge_rank_journals(journal: Path) -> None:
    """Append the ranks' records to the journal (each path once: a merge cut short is redone), then
    remove the rank files."""
    done = {r["path"] for r in read_journal(journal)}
    with Journal(journal) as out:
        for part in rank_journals(journal):
            for rec in read_journal(part):
                if rec["path"] not in done:
                    out.append(rec)
                    done.add(rec["path"])
    for part in rank_journals(journal):
        part.unlink()


@dataclass
class RunSummary:
    """What a finished run did: `videos` named, `ok` and `error` records written now, `skipped` done before."""

    out: Path
    videos: int
    ok: int
    error: int
    skipped: int


class ScoreRun:
    """One `vap score` run over `paths` into `out` (.jsonl or .parquet), resumable, on this machine (one
    process, or one per rank under torchrun) or on Ray (`engine="ray"`)."""

    def __init__(
        self,
        scorer: Scorer,
        checkpoint: str | os.PathLike[str],
        paths: list[str],
        *,
        out: Path,
        workers: int = 2,
        timeout: float = 120.0,
        engine: str = "local",
        threads: int | None = None,
    ) -> None:
        from pipeline import __version__
        from pipeline.env import describe_machine

        self.scorer, self.paths, self.out = scorer, paths, Path(out)
        self.workers, self.timeout, self.engine, self.threads = workers, timeout, engine, threads
        self.journal, self.record_path = check_output(self.out)
        self.run = {"checkpoint": str(checkpoint), "checkpoint_sha256": sha256_file(checkpoint),
                    "settings": scorer.settings,
                    "inputs_sha256": hashlib.sha256(b"\n".join(map(os.fsencode, paths))).hexdigest(),
                    "num_inputs": len(paths), "version": __version__, "machine": describe_machine()}  # fmt: skip
        self.ranks = Ranks()
        if engine == "ray" and self.ranks.world > 1:
            raise ConfigError("--engine ray runs from one driver process; do not start it under torchrun")
        self.lock, self.repaired = None, {}
        self.windowed = getattr(scorer, "windows", None) is not None
        self.window_journal = windows_journal(self.journal)
        if self.ranks.rank == 0:
            self.lock = lock_output(self.journal)  # the ranks of one run write under rank 0's lock
            check_run(self.record_path, self.journal, self.run)
            wj = self.window_journal
            for journal in (self.journal, *rank_journals(self.journal), wj, *rank_journals(wj)):
                if lines := repair_journal(journal):
                    self.repaired[journal] = lines  # damaged lines out; their videos (windows) are scored again
            merge_rank_journals(self.journal)  # what the ranks of a killed run had finished
            merge_window_journals(wj)
        self.ranks.barrier()
        if self.ranks.rank > 0:
            check_run(self.record_path, self.journal, self.run)
        self.done = {r["path"] for r in read_journal(self.journal)}  # as records show them: display_path
        todo_all = [p for p in paths if display_path(p) not in self.done]
        self.ranks.barrier()  # every rank has its list before any rank writes
        self.todo = todo_all[self.ranks.rank :: self.ranks.world]
        single = self.ranks.world == 1
        self.mine = self.journal if single else self.journal.with_name(f"{self.journal.name}.rank{self.ranks.rank}")
        wj = self.window_journal
        self.my_windows = wj if single else wj.with_name(f"{wj.name}.rank{self.ranks.rank}")
        # windows a killed run journaled, for the videos this rank scores: they go on from there
        mine = {display_path(p): p for p in self.todo}
        self.previous = {k: v for k, v in journaled_windows(wj).items() if k in mine and v} if self.windowed else {}
        self.resumed = {mine[k]: len(v) for k, v in self.previous.items()}  # path -> windows already done
        self.on_window = None  # progress inside a video: on_window(path shown, windows done, windows in all)

    @property
    def rank(self) -> int:
        return self.ranks.rank

    def _stream(self) -> Iterator[dict[str, Any]]:
        if self.engine == "ray":
            from pipeline.inference.ray import score_with_ray

            yield from score_with_ray(self.todo, self.scorer, timeout=self.timeout, decoders=self.workers,
                                      threads=self.threads, starts=self.resumed)  # fmt: skip
            return
        if getattr(self.scorer, "device", torch.device("cpu")).type == "cpu":
            # the workers decode on the same cores: a model with every core's thread oversubscribes them, and
            # its small ops then wait on each other (docs/bench/score.md)
            torch.set_num_threads(self.threads or max(1, (os.cpu_count() or 1) // self.ranks.world - self.workers))
        if not self.todo:
            return
        batch = getattr(self.scorer, "batch_clips", 1)

        def prepared() -> Iterator[Any]:
            decode = self.scorer.prepare(self.resumed)
            outcomes = run_isolated(decode, self.todo, jobs=self.workers, timeout=self.timeout)
            # decoding runs ahead while the model computes: up to 4 model calls' worth of videos (or windows)
            for o in buffered(outcomes, 4 * max(batch, self.workers)):
                if o.error is not None:
                    yield FailedVideo(o.item, o.error)
                elif o.partial or not self.windowed:  # a windowed video's own end is its VideoEnd part
                    yield o.result

        yield from self.scorer.score(prepared())

    def records(self) -> Iterator[dict[str, Any]]:
        """Score what is still to do, appending each record to the journal before yielding it (and, with
        windows, each window to the windows journal as it is scored)."""
        from pipeline.inference.windows import WindowAssembler

        with Journal(self.mine) as journal, ExitStack() as stack:
            windows = stack.enter_context(Journal(self.my_windows)) if self.windowed else None
            windows_of = getattr(self.scorer, "windows", None)
            journaled = {"journal": windows.append} if windows else {}  # (without --window: no window parts)
            assembler = WindowAssembler(getattr(self.scorer, "threshold", 0.5), previous=self.previous,
                                        stride=windows_of.step if windows_of is not None else None,
                                        on_window=self.on_window, **journaled)  # fmt: skip
            for rec in assembler.feed(self._stream()):
                line = readable(asdict(rec))
                if not self.windowed:  # records without --window stay as they were
                    for key in WINDOW_FIELDS:
                        del line[key]
                journal.append(line)
                yield line

    def finish(self) -> RunSummary | None:
        """Merge the ranks' journals, write Parquet; the summary on rank 0 (None on the others)."""
        self.ranks.barrier()
        summary = None
        if self.ranks.rank == 0:
            if self.ranks.world > 1:
                merge_rank_journals(self.journal)
            records = read_journal(self.journal)
            for wj in (self.window_journal, *rank_journals(self.window_journal)):
                wj.unlink(missing_ok=True)  # every video has its record: the windows are in it
            if self.out.suffix == ".parquet":
                write_parquet(records, self.out)
            new = Counter(r["status"] for r in records if r["path"] not in self.done)
            summary = RunSummary(self.out, len(self.paths), new["ok"], new["error"], len(self.done))
        self.close()
        return summary

    def close(self) -> None:
        """Leave the process group and release the output (also when the run stops early); once."""
        if self.ranks is None:
            return
        self.ranks.close()
        self.ranks = None
        if self.lock is not None:
            self.lock.release()
            self.lock = None
