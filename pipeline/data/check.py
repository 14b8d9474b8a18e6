"""Checking videos before a run: does each open, and do its first, middle and last frames decode?

path -> a worker process under a timeout (a decoder that hangs is killed) -> open, read the header,
decode a few frames (the last catches headers that promise more frames than the stream holds)
-> `CheckResult`; the bad ones go to a quarantine JSON with their reason (`vap check`).
"""

from __future__ import annotations

import json
import time
from collections.abc import Callable
from dataclasses import asdict, dataclass
from functools import partial
from pathlib import Path

import numpy as np

from pipeline.data.backends import open_video
from pipeline.data.pool import run_isolated
from pipeline.data.records import write_atomic
from pipeline.data.samplers import stretch
from pipeline.errors import VideoError, display_path, path_bytes_hex


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


def run_check(
    paths: list[Path],
    *,
    backend: str = "auto",
    jobs: int = 2,
    timeout: float = 60.0,
    progress: Callable[[CheckResult], None] | None = None,
) -> list[CheckResult]:
    """`check_video` of every path, each in a worker process under `timeout`; `progress(result)` as each
    finishes. Results in the order of `paths`."""
    results: dict[str, CheckResult] = {}
    fn = partial(check_video, backend=backend)
    for out in run_isolated(fn, [str(p) for p in paths], jobs=jobs, timeout=timeout):
        results[out.item] = out.result if out.error is None else CheckResult(out.item, False, out.error)
        if progress:
            progress(results[out.item])
    return [results[str(p)] for p in paths]


def _named(path: str, **fields: object) -> dict[str, object]:
    """A path as valid UTF-8 text, with its bytes in hex where they are not (`pipeline.errors`)."""
    hexed = path_bytes_hex(path)
    return {"path": display_path(path), **({"path_hex": hexed} if hexed else {}), **fields}


def write_quarantine(results: list[CheckResult], out: Path, source: str) -> Path:
    """The quarantine JSON: the bad videos with their reasons, the warnings, every result."""
    bad = [_named(r.path, reason=r.reason) for r in results if not r.ok]
    report = {
        "source": display_path(source),
        "checked": len(results),
        "good": len(results) - len(bad),
        "bad": len(bad),
        "quarantine": bad,
        "warnings": [_named(r.path, reason=r.reason) for r in results if r.ok and r.reason],
        "videos": [_named(r.path, **{k: v for k, v in asdict(r).items() if k != "path"}) for r in results],
    }
    # a killed check leaves the old list whole
    return write_atomic(out, json.dumps(report, indent=2, ensure_ascii=False) + "\n")
