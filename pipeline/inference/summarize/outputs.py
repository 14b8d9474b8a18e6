"""The files of one video's summary: keyframes/*.jpg and contact_sheet.jpg (keyframes.py), scores.png,
summary.mp4 (the selected shots with their audio: splice.py), and summary.json, the record.

No writer changes the summary it is given: each returns what it did, and the record of summary.json is
composed from the summary and those outcomes, then written last, atomically, so its presence means the
folder is complete (a rerun skips it)."""

from __future__ import annotations

import hashlib
import json
import os
import time
from dataclasses import asdict, replace
from pathlib import Path

from pipeline.data.records import write_atomic
from pipeline.errors import ConfigError, display_path, path_bytes_hex, printable
from pipeline.inference.summarize.keyframes import SampledFrames, write_keyframes
from pipeline.inference.summarize.splice import write_summary_video
from pipeline.inference.summarize.video import VideoSummary

DONE = "summary.json"


def _safe(part: str) -> str:
    """A folder name that stays where it is put: "." and ".." (the stems of "..mp4" and "...mp4") and
    empty names become underscores."""
    return part if part.strip(".") else "_" * max(1, len(part))


def output_folders(inputs: list[Path], out: Path) -> list[tuple[Path, Path]]:
    """(video, its output folder) for every video the inputs name: OUT/<stem> for a file given by name,
    OUT/<folder>/<path below it without suffix> for the videos in a folder. Every folder is inside OUT
    whatever the names, and no two videos share one: where two would (`a/clip.mp4` and `b/clip.mp4`, or
    `x.avi` and `x.mp4`), each takes its suffix and, if still shared, a hash of its path."""
    from pipeline.data.discover import collect_videos

    jobs: list[tuple[Path, Path]] = []
    for src in inputs:
        if src.is_dir():
            top = _safe(src.resolve().name)
            for v in collect_videos(src):
                rel = v.relative_to(src)
                parts = [*rel.parent.parts, rel.stem]
                jobs.append((v, out.joinpath(top, *map(_safe, parts))))
        elif not src.exists() and not src.is_symlink():
            raise FileNotFoundError(f"{src}: no such file or folder")
        else:
            jobs.append((src, out / _safe(src.stem)))
    by_folder: dict[Path, list[int]] = {}
    for i, (_, folder) in enumerate(jobs):
        by_folder.setdefault(folder, []).append(i)
    for shared in (ix for ix in by_folder.values() if len(ix) > 1):
        for i in shared:
            video, folder = jobs[i]
            named = folder.with_name(_safe(f"{folder.name}{video.suffix}"))
            if sum(1 for j in shared if jobs[j][0].suffix == video.suffix) > 1:
                digest = hashlib.sha1(os.fsencode(os.path.abspath(video))).hexdigest()[:8]
                named = folder.with_name(f"{named.name}-{digest}")
            jobs[i] = (video, named)
    root = os.path.abspath(out)
    for video, folder in jobs:  # the names above cannot leave OUT; this says so if a change ever lets them
        if os.path.commonpath([root, os.path.abspath(folder)]) != root:
            raise ValueError(f"{video}: its output folder {folder} is outside {out}")
    return jobs


def finished(video: Path, folder: Path) -> bool:
    """Whether `folder` holds the finished summary of `video` (a rerun skips it). A summary of another
    video there is an error, not a reason to skip."""
    done = folder / DONE
    if not done.exists():
        return False
    try:
        recorded = json.loads(done.read_text(encoding="utf-8"))["path"]
    except (OSError, ValueError, KeyError, TypeError):
        return False  # a damaged record: summarize again, it is replaced atomically
    if os.path.abspath(recorded) != display_path(os.path.abspath(video)):
        raise ConfigError(f"{printable(display_path(folder))}: holds the summary of {printable(recorded)}, not of "
                          f"{printable(display_path(video))}; use another --out")  # fmt: skip
    return True


def write_scores_plot(summary: VideoSummary, out: Path) -> Path:
    """Importance over time, shot boundaries as lines, selected shots shaded."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fps = summary.fps if summary.fps > 0 else 1.0
    fig, ax = plt.subplots(figsize=(10, 3))
    for s, e in summary.clips:
        ax.axvspan(s / fps, (e + 1) / fps, color="tab:orange", alpha=0.3, lw=0)
    for s, _ in summary.shots[1:]:
        ax.axvline(s / fps, color="grey", lw=0.5)
    ax.plot(summary.timestamps, summary.scores, color="tab:blue", lw=1)
    for k in summary.keyframes:
        ax.axvline(k / fps, color="tab:red", lw=1, ls="--")
    ax.set_xlabel("time (s)")
    ax.set_ylabel("importance")
    ax.set_title(
        f"{printable(display_path(Path(summary.path).name))}: {summary.method}, "
        f"{len(summary.selected)}/{len(summary.shots)} shots kept"
    )
    fig.tight_layout()
    fig.savefig(out / "scores.png", dpi=100)
    plt.close(fig)
    return out / "scores.png"


def write_summary_json(summary: VideoSummary, out: Path) -> Path:
    """out/summary.json, atomically: its presence marks the video done for a rerun. The path is valid UTF-8
    text (`display_path`), with the name's bytes in `path_hex` where they are not UTF-8."""
    record = {**asdict(summary), "path": display_path(summary.path)}
    if hexed := path_bytes_hex(summary.path):
        record["path_hex"] = hexed
    return write_atomic(out / DONE, json.dumps(record, indent=1))


def write_outputs(
    summary: VideoSummary, out: Path, *, frames: SampledFrames | None = None, backend: str = "auto", video: bool = True
) -> VideoSummary:
    """Every file, summary.json last; returns the record written there: `summary` with what happened to the
    audio (`settings["summary_audio"]`), whether a summary.mp4 was asked for, and the time of each file.
    `frames`: the sampled frames the analysis kept (`summarize_video(keep=...)`), so that the key frames
    are not decoded again."""
    out.mkdir(parents=True, exist_ok=True)
    seconds: dict[str, float] = {}
    t0 = time.perf_counter()
    write_keyframes(summary.keyframes, summary.fps, out, frames, source=summary.path, backend=backend)
    seconds["keyframes + contact sheet"] = time.perf_counter() - t0
    t0 = time.perf_counter()
    write_scores_plot(summary, out)
    seconds["scores.png"] = time.perf_counter() - t0
    settings = dict(summary.settings)
    if video:
        t0 = time.perf_counter()
        written = write_summary_video(summary, out, backend=backend)
        seconds["summary.mp4"] = time.perf_counter() - t0
        if written is not None:
            settings["summary_audio"], settings["summary_video"] = written.audio, written.video
    else:
        settings["summary_video"] = False
    final = replace(
        summary, settings=settings, seconds={**summary.seconds, **{k: round(v, 3) for k, v in seconds.items()}}
    )
    write_summary_json(final, out)  # last: marks the folder complete
    return final
