"""The files of one video's summary: keyframes/*.jpg and contact_sheet.jpg (keyframes.py), scores.png,
summary.mp4 (the selected shots with their audio: splice.py), and summary.json, the record.

No writer changes the summary it is given: each returns what it did, and the record of summary.json is
composed from the summary and those outcomes, then written last, atomically, so its presence means the
folder is complete (a rerun skips it)."""

from __future__ import annotations

import json
import time
from dataclasses import asdict, replace
from pathlib import Path

from pipeline.data.records import write_atomic
from pipeline.inference.summarize.keyframes import SampledFrames, write_keyframes
from pipeline.inference.summarize.splice import write_summary_video
from pipeline.inference.summarize.video import VideoSummary

DONE = "summary.json"


def write_scores_plot(summary: VideoSummary, out: Path) -> Path:
    """Importance over time, shot boundaries as lines, selected shots shaded."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fps = summary.fps if summary.fps > 0 else 1.0
    fig, ax = plt.subplots(figsize=(10, 3))
    for k in summary.selected:
        s, e = summary.shots[k]
        ax.axvspan(s / fps, (e + 1) / fps, color="tab:orange", alpha=0.3, lw=0)
    for s, _ in summary.shots[1:]:
        ax.axvline(s / fps, color="grey", lw=0.5)
    ax.plot(summary.timestamps, summary.scores, color="tab:blue", lw=1)
    ax.set_xlabel("time (s)")
    ax.set_ylabel("importance")
    ax.set_title(
        f"{Path(summary.path).name}: {summary.method}, {len(summary.selected)}/{len(summary.shots)} shots kept"
    )
    fig.tight_layout()
    fig.savefig(out / "scores.png", dpi=100)
    plt.close(fig)
    return out / "scores.png"


def write_summary_json(summary: VideoSummary, out: Path) -> Path:
    """out/summary.json, atomically: its presence marks the video done for a rerun."""
    return write_atomic(out / DONE, json.dumps(asdict(summary), indent=1))


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
            settings["summary_audio"] = written.audio
    else:
        settings["summary_video"] = False
    final = replace(
        summary, settings=settings, seconds={**summary.seconds, **{k: round(v, 3) for k, v in seconds.items()}}
    )
    write_summary_json(final, out)  # last: marks the folder complete
    return final
