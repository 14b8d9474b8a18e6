"""`vap score`: score a collection of videos with a checkpoint, resumably, into JSONL or Parquet.

inputs (folders, globs, list files, CSVs) -> sorted unique paths -> minus those already in the journal
-> decoding in worker processes, each video under a timeout (`run_isolated`: a hung decoder is killed)
-> clips of several videos per model call (`VideoScorer`) -> one record per video appended to the
journal and flushed -> at the end, Parquet written whole from the journal (temp name + rename).
A run record beside the output (checkpoint hash, settings, input list hash) makes a rerun with other
ones stop with a message instead of mixing two runs in one file.
"""

from __future__ import annotations

import argparse
import csv
import glob
import hashlib
import json
import os
import re
from dataclasses import asdict
from pathlib import Path
from typing import Any

from pipeline.data.annotations import VIDEO_EXTENSIONS
from pipeline.errors import ConfigError

EXAMPLE = """example:
  vap score --checkpoint runs/csv/version_0/checkpoints/last.ckpt videos/ --out scores.jsonl
  vap score --checkpoint best.ckpt "clips/**/*.mp4" list.txt --out scores.parquet --all-scores --with-attention
  torchrun --nproc_per_node 4 -m pipeline.cli score --checkpoint best.ckpt videos/ --out scores.jsonl
  vap score --checkpoint best.ckpt videos/ --out part_$SLURM_ARRAY_TASK_ID.jsonl \\
      --shard $SLURM_ARRAY_TASK_ID/$SLURM_ARRAY_TASK_COUNT

Rerun the same command to resume after a crash or a kill: finished videos are skipped."""


LABELS = re.compile(r"(\s+-?\d+)+$")


class RunMismatch(ConfigError):
    """The output belongs to a run with another checkpoint, other settings or other inputs."""


def collect_inputs(inputs: list[str]) -> list[str]:
    """Absolute paths of the videos named by folders (recursive), globs, list files (one path a line,
    or `path label` annotation lists) and CSVs (a `path` column; relative paths are relative to the
    file), sorted and without repeats."""
    paths: set[str] = set()
    for item in inputs:
        p = Path(item)
        if p.is_dir():
            found = [q for q in p.rglob("*") if q.suffix.lower() in VIDEO_EXTENSIONS and q.is_file()]
        elif p.is_file() and p.suffix.lower() in VIDEO_EXTENSIONS:
            found = [p]
        elif p.is_file() and p.suffix.lower() == ".csv":
            with open(p, newline="", encoding="utf-8") as f:
                reader = csv.DictReader(f)
                if "path" not in (reader.fieldnames or []):
                    raise ConfigError(f"{p}: a CSV of videos needs a 'path' column (has: {reader.fieldnames})")
                found = [p.parent / row["path"] for row in reader if row["path"].strip()]
        elif p.is_file():
            lines = [ln.strip() for ln in p.read_text(encoding="utf-8").splitlines()]
            # a `path label [label ...]` annotation list works too: trailing integer labels are dropped
            found = [p.parent / LABELS.sub("", ln) for ln in lines if ln and not ln.startswith("#")]
        else:
            found = [Path(g) for g in glob.glob(item, recursive=True) if Path(g).suffix.lower() in VIDEO_EXTENSIONS]
            if not found:
                raise FileNotFoundError(f"{item}: no such file or folder, and no video matches it as a glob")
        paths.update(os.path.abspath(q) for q in found)
    return sorted(paths)


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


def sha256_file(path: Path) -> str:
    h = hashlib.sha256()
    with open(path, "rb") as f:
        for block in iter(lambda: f.read(1 << 20), b""):
            h.update(block)
    return h.hexdigest()


def check_run(record_path: Path, journal: Path, run: dict[str, Any]) -> None:
    """Refuse to resume an output that another run made; write this run's record otherwise."""
    from pipeline.data.records import write_atomic

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


def add_parser(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser(
        "score",
        help="score many videos with a checkpoint into JSONL or Parquet (resumable)",
        description="Score every video named by INPUT (folders, searched recursively; globs; text lists, one path "
        "per line; CSVs with a 'path' column) with a `vap train` checkpoint, which needs no config and no network. "
        "One record per video: path, status (ok or error) and error reason, backend, duration, frames, fps, top-k "
        "labels and probabilities; optionally every class's score and the temporal attention with key-frame times. "
        "A corrupt, missing or hanging video becomes an error record and the run goes on.",
        epilog=EXAMPLE,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    p.add_argument("inputs", nargs="+", metavar="INPUT", help="folder, glob, list file or CSV of videos")
    p.add_argument("--checkpoint", required=True, type=Path, help="a checkpoint written by `vap train`")
    p.add_argument("--out", required=True, type=Path, help="output file, .jsonl or .parquet")
    p.add_argument("--topk", type=int, default=5, help="labels per video (default: %(default)s)")
    p.add_argument("--all-scores", action="store_true", help="also write every class's score")
    p.add_argument("--with-attention", action="store_true", help="also write temporal attention and key frames")
    p.add_argument("--clips", type=int, default=None, help="clips per video (default: the checkpoint's test clips)")
    p.add_argument("--three-crop", action=argparse.BooleanOptionalAction, default=None,
                   help="three crops per clip (default: as the checkpoint was tested)")  # fmt: skip
    p.add_argument("--backend", default="auto", help="decoding backend (default: %(default)s)")
    p.add_argument("--workers", type=int, default=2, help="decoding processes (default: %(default)s)")
    p.add_argument("--timeout", type=float, default=120.0, help="seconds allowed to decode one video (default: 120)")
    p.add_argument("--batch-clips", type=int, default=16, help="clips per model call (default: %(default)s)")
    p.add_argument("--device", default="auto", help="cpu, cuda, cuda:1, or auto (default: %(default)s)")
    p.add_argument("--threads", type=int, default=None,
                   help="torch threads of the model on the CPU (default: the cores the decoding workers leave, "
                   "at least 1; each worker uses one; with --engine ray, the CPUs the model actor reserves, "
                   "default 1)")  # fmt: skip
    p.add_argument("--shard", default=None, metavar="I/N",
                   help="score only the I-th of N static parts of the sorted inputs (0-based), e.g. a SLURM "
                   "array task: --shard $SLURM_ARRAY_TASK_ID/$SLURM_ARRAY_TASK_COUNT with its own --out")  # fmt: skip
    p.add_argument("--engine", choices=("local", "ray"), default="local",
                   help="local: this machine (or one process per GPU under torchrun); ray: a Ray cluster, or a "
                   "local Ray instance (needs the [ray] extra; --workers = at most that many decoding actors, one CPU "
                   "each)")  # fmt: skip
    p.set_defaults(func=main)


class Ranks:
    """One independent scorer per process under torchrun (WORLD_SIZE > 1): rank r scores every
    world-th video still to do and appends to a journal of its own; rank 0 merges them at the end.
    Gloo is used only for barriers, so it runs on CPU-only machines and between GPU nodes alike."""

    def __init__(self) -> None:
        import torch.distributed as dist

        self.world = int(os.environ.get("WORLD_SIZE", "1"))
        if self.world > 1 and not dist.is_initialized():
            dist.init_process_group("gloo")
        self.rank = dist.get_rank() if self.world > 1 else 0

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
    from pipeline.data.records import Journal, read_journal

    done = {r["path"] for r in read_journal(journal)}
    with Journal(journal) as out:
        for part in rank_journals(journal):
            for rec in read_journal(part):
                if rec["path"] not in done:
                    out.append(rec)
                    done.add(rec["path"])
    for part in rank_journals(journal):
        part.unlink()


def main(args: argparse.Namespace) -> int:
    from collections import Counter
    from functools import partial

    import torch
    from rich.console import Console
    from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeRemainingColumn
    from rich.table import Table

    from pipeline import __version__
    from pipeline.apps.isolate import buffered, run_isolated
    from pipeline.data.clips import FailedVideo, decode_clips, eval_pipeline
    from pipeline.data.records import Journal, read_journal, write_parquet
    from pipeline.models.checkpoint import is_agent, load_any
    from pipeline.tasks.agent_scoring import AgentScorer, agent_episode
    from pipeline.tasks.scoring import VideoScorer

    console = Console(stderr=True)
    journal_path, record_path = output_files(args.out)
    paths = shard_of(collect_inputs(args.inputs), args.shard)
    model, meta = load_any(args.checkpoint)
    agent = is_agent(meta)
    if agent:  # the agent picks frames within one clip, at the frozen classifier's single view
        if args.with_attention:
            raise ConfigError("--with-attention: a glimpse agent has no temporal attention; its records list "
                              "the frames it looked at (glimpse_frames)")  # fmt: skip
        if (args.clips or 1) > 1 or args.three_crop:
            raise ConfigError("--clips/--three-crop: a glimpse-agent checkpoint looks at one clip, one view")
        sampler, transform = eval_pipeline(meta.preprocessing, clips=1, three_crop=False)
    else:
        sampler, transform = eval_pipeline(meta.preprocessing, clips=args.clips, three_crop=args.three_crop)
    settings = {"topk": args.topk, "all_scores": args.all_scores, "with_attention": args.with_attention,
                "sampler": repr(sampler), "transform": repr(transform), "backend": args.backend}  # fmt: skip
    run = {"checkpoint": str(args.checkpoint), "checkpoint_sha256": sha256_file(args.checkpoint),
           "settings": settings, "inputs_sha256": hashlib.sha256("\n".join(paths).encode()).hexdigest(),
           "num_inputs": len(paths), "version": __version__}  # fmt: skip
    ranks = Ranks()
    if ranks.rank == 0:
        check_run(record_path, journal_path, run)
        merge_rank_journals(journal_path)  # what the ranks of a killed run had finished
    ranks.barrier()
    if ranks.rank > 0:
        check_run(record_path, journal_path, run)
    done = {r["path"] for r in read_journal(journal_path)}
    todo_all = [p for p in paths if p not in done]
    ranks.barrier()  # every rank has its list before any rank writes
    todo = todo_all[ranks.rank :: ranks.world]
    mine = journal_path if ranks.world == 1 else journal_path.with_name(f"{journal_path.name}.rank{ranks.rank}")
    device = ("cuda" if torch.cuda.is_available() else "cpu") if args.device == "auto" else args.device
    if device.startswith("cuda") and ranks.world > 1 and ":" not in device:
        device = f"cuda:{int(os.environ.get('LOCAL_RANK', 0)) % max(torch.cuda.device_count(), 1)}"
    if device == "cpu" and args.engine == "local":
        # the workers decode on the same cores: a model with every core's thread oversubscribes them, and
        # its small ops then wait on each other (on 2 cores with 2 workers, end to end fell to 0.66 of
        # decoding alone; docs/bench/score.md)
        torch.set_num_threads(args.threads or max(1, (os.cpu_count() or 1) // ranks.world - args.workers))
    scorer_args = {"topk": args.topk, "all_scores": args.all_scores, "with_attention": args.with_attention,
                   "batch_clips": args.batch_clips}  # fmt: skip
    if agent:  # the episode runs in the decoding workers: each decision waits for the frame before it
        decode = partial(agent_episode, checkpoint=str(Path(args.checkpoint).resolve()), sampler=sampler,
                         transform=transform, backend=args.backend)  # fmt: skip
    else:
        decode = partial(decode_clips, sampler=sampler, transform=transform, backend=args.backend)
    if args.engine == "ray":
        if ranks.world > 1:
            raise ConfigError("--engine ray runs from one driver process; do not start it under torchrun")
        from pipeline.apps.score_ray import score_with_ray

        stream = score_with_ray(todo, decode=decode, checkpoint=args.checkpoint, scorer_args=scorer_args,
                                timeout=args.timeout, decoders=args.workers, threads=args.threads)  # fmt: skip
    else:
        scorer = (
            AgentScorer(meta.class_names, **scorer_args)
            if agent
            else VideoScorer(model, meta.class_names, multilabel=meta.multilabel, device=device, **scorer_args)
        )

        def decoded():  # noqa: ANN202 - a generator of DecodedVideo | FailedVideo
            outcomes = run_isolated(decode, todo, jobs=args.workers, timeout=args.timeout)
            # decoding runs ahead while the model computes: up to 4 model calls' worth of videos
            for out in buffered(outcomes, 4 * max(args.batch_clips, args.workers)):
                yield out.result if out.error is None else FailedVideo(out.item, out.error)

        stream = (asdict(rec) for rec in scorer.score(decoded() if todo else ()))

    counts: Counter[str] = Counter()
    columns = (TextColumn("scoring"), BarColumn(), MofNCompleteColumn(),
               TextColumn("{task.fields[rate]} videos/s"), TimeRemainingColumn())  # fmt: skip
    show = console.is_terminal and ranks.rank == 0
    with Journal(mine) as journal, Progress(*columns, console=console, disable=not show) as bar:
        task = bar.add_task("score", total=len(todo), rate="-")
        for rec in stream:
            journal.append(rec)
            counts[rec["status"]] += 1
            bar.advance(task)
            elapsed = bar.tasks[0].elapsed or 0.0
            bar.update(task, rate=f"{sum(counts.values()) / elapsed:.1f}" if elapsed > 0 else "-")
            if rec["status"] == "error":
                console.print(f"[red]error[/] {rec['path']}: {rec['error']}", highlight=False, soft_wrap=True)
    ranks.barrier()
    if ranks.rank == 0:
        if ranks.world > 1:
            merge_rank_journals(journal_path)
        records = read_journal(journal_path)
        if args.out.suffix == ".parquet":
            write_parquet(records, args.out)
        new = Counter(r["status"] for r in records if r["path"] not in done)
        table = Table(title=f"vap score -> {args.out}", show_edge=False)
        for col in ("videos", "ok", "error", "skipped (done before)"):
            table.add_column(col, justify="right")
        table.add_row(str(len(paths)), str(new["ok"]), str(new["error"]), str(len(done)))
        console.print(table)
    ranks.close()
    return 0
