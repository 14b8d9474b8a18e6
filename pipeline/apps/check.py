"""`vap check`: find the videos a run would choke on, before the run.

Every video under a folder (recursive) or named in an annotation file is opened, its frame count and
rate read, and a few frames decoded (first, middle, last: the last catches headers that promise more
frames than the stream holds). Each check runs in a worker process under a timeout, so a decoder that
hangs is killed instead of hanging the check. Bad videos go to a quarantine JSON with their reason.
"""

from __future__ import annotations

import argparse
import json
import os
import time
from dataclasses import asdict, dataclass
from functools import partial
from pathlib import Path

import numpy as np

from pipeline.data.annotations import VIDEO_EXTENSIONS


@dataclass
class CheckResult:
    path: str
    ok: bool
    reason: str = ""
    num_frames: int = 0
    fps: float = 0.0
    width: int = 0
    height: int = 0
    seconds: float = 0.0
    backend: str = ""  # the backend that served the video ("" when none could)
    tried: str = ""  # backends passed over or failed before it, and why


def check_video(path: str, backend: str = "auto", sample_frames: int = 3) -> CheckResult:
    """Open and decode a few frames of one video; never raises for a bad video."""
    from pipeline.data.backends import open_video
    from pipeline.data.samplers import stretch
    from pipeline.errors import VideoError

    t0 = time.perf_counter()
    try:
        with open_video(path, backend) as reader:
            n = reader.meta.num_frames
            idx = np.unique(np.concatenate([stretch(n, sample_frames), [0, n - 1]]))
            frames = reader.get_frames(idx)  # (k, C, H, W)
            m = reader.meta  # after decoding: a truncated stream has lowered the count
            if frames.shape[1] != 3 or frames.shape[2] != m.height or frames.shape[3] != m.width:
                raise VideoError(
                    path, f"decoded frames have shape {tuple(frames.shape)}, header says {m.width}x{m.height}"
                )
            reason = "" if m.num_frames == n else f"{n} frames at open, {m.num_frames} decode"
            tried = "; ".join(f"{b}: {why}" for b, why in getattr(reader, "tried", []))
            backend = reader.backend
        return CheckResult(path, True, reason, m.num_frames, m.fps, m.width, m.height, time.perf_counter() - t0,
                           backend, tried)  # fmt: skip
    except VideoError as e:
        return CheckResult(path, False, e.reason, seconds=time.perf_counter() - t0)
    except Exception as e:  # any decoder failure is a finding, not a crash of the check
        return CheckResult(path, False, f"{type(e).__name__}: {e}", seconds=time.perf_counter() - t0)


def collect_videos(source: Path, *, fmt: str | None = None, root: str | None = None) -> list[Path]:
    """Video files under a folder, or the videos an annotation file names."""
    if source.is_dir():
        return sorted(p for p in source.rglob("*") if p.suffix.lower() in VIDEO_EXTENSIONS and p.is_file())
    if not source.exists():
        raise FileNotFoundError(f"{source}: no such file or folder")
    if source.suffix.lower() in VIDEO_EXTENSIONS:
        return [source]
    from pipeline.data.annotations import read_annotations

    fmt = fmt or ("csv" if source.suffix.lower() == ".csv" else "list")
    return [r.path for r in read_annotations(fmt, source, root=root).records]


def run_check(
    paths: list[Path], *, backend: str = "auto", jobs: int = 2, timeout: float = 60.0, progress: bool = True
) -> list[CheckResult]:
    from rich.progress import Progress

    from pipeline.apps.isolate import run_isolated

    results: dict[str, CheckResult] = {}
    fn = partial(check_video, backend=backend)
    with Progress(disable=not progress, transient=True) as bar:
        task = bar.add_task("checking videos", total=len(paths))
        for out in run_isolated(fn, [str(p) for p in paths], jobs=jobs, timeout=timeout):
            results[out.item] = out.result if out.error is None else CheckResult(out.item, False, out.error)
            bar.advance(task)
    return [results[str(p)] for p in paths]


def write_quarantine(results: list[CheckResult], out: Path, source: str) -> Path:
    bad = [{"path": r.path, "reason": r.reason} for r in results if not r.ok]
    report = {
        "source": source,
        "checked": len(results),
        "good": len(results) - len(bad),
        "bad": len(bad),
        "quarantine": bad,
        "warnings": [{"path": r.path, "reason": r.reason} for r in results if r.ok and r.reason],
        "videos": [asdict(r) for r in results],
    }
    out.parent.mkdir(parents=True, exist_ok=True)
    tmp = out.with_name(f".{out.name}.{os.getpid()}.tmp")  # a killed check leaves the old list whole
    tmp.write_text(json.dumps(report, indent=2, ensure_ascii=False) + "\n", encoding="utf-8")
    os.replace(tmp, out)
    return out


def add_parser(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser(
        "check",
        help="check that videos open and decode; write a quarantine list of the bad ones",
        description="Open every video under PATH (a folder, searched recursively; a video; or an annotation "
        "file), read its header and decode its first, middle and last frames, each in a worker process "
        "under a timeout. With --backend auto each video gets the first backend that is exact for "
        "its container and decodes it (TorchCodec, decord, PyAV); it is bad only when all fail. "
        "Writes a quarantine JSON (path and reason of each bad video) and prints a summary. "
        "Exit code 0 when every video is good, 1 when some are bad.",
    )
    p.add_argument("path", type=Path, help="folder of videos, one video, or an annotation file")
    p.add_argument(
        "--out",
        type=Path,
        default=Path("quarantine.json"),
        help="quarantine JSON to write (default: %(default)s)",
    )
    p.add_argument(
        "--format",
        dest="fmt",
        default=None,
        help="annotation format when PATH is a file (default: list, or csv for .csv)",
    )
    p.add_argument(
        "--root",
        default=None,
        help="folder the annotation paths are relative to (default: the file's folder)",
    )
    p.add_argument("--backend", default="auto", help="decoding backend (default: %(default)s; see `vap list`)")
    p.add_argument("--jobs", type=int, default=2, help="worker processes (default: %(default)s)")
    p.add_argument("--timeout", type=float, default=60.0, help="seconds allowed per video (default: %(default)s)")
    p.set_defaults(func=main)


def main(args: argparse.Namespace) -> int:
    from collections import Counter

    from rich.console import Console
    from rich.table import Table

    console = Console(stderr=True)
    paths = collect_videos(args.path, fmt=args.fmt, root=args.root)
    if not paths:
        console.print(f"[yellow]{args.path}: no videos found[/]")
    results = run_check(paths, backend=args.backend, jobs=args.jobs, timeout=args.timeout, progress=console.is_terminal)
    write_quarantine(results, args.out, str(args.path))
    bad = [r for r in results if not r.ok]
    table = Table(title=f"vap check {args.path}", show_edge=False)
    table.add_column("checked", justify="right")
    table.add_column("good", justify="right")
    table.add_column("bad", justify="right")
    table.add_column("frames (total)", justify="right")
    table.add_column("served by", justify="left")
    served = Counter(r.backend for r in results if r.ok)
    table.add_row(
        str(len(results)),
        str(len(results) - len(bad)),
        str(len(bad)),
        str(sum(r.num_frames for r in results)),
        ", ".join(f"{b} {n}" for b, n in served.most_common()),
    )
    console.print(table)
    for r in bad:
        console.print(f"[red]bad[/] {r.path}: {r.reason}", highlight=False, soft_wrap=True)
    for r in results:
        if r.ok and r.reason:
            console.print(f"[yellow]warning[/] {r.path}: {r.reason}", highlight=False, soft_wrap=True)
    console.print(f"quarantine list: {args.out}", highlight=False)
    return 1 if bad else 0
