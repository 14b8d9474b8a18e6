"""The files of one video's summary: summary.json, keyframes/*.jpg, contact_sheet.jpg, scores.png,
summary.mp4 (the selected shots with their audio: splice.py). summary.json is written last, to a temp name then
renamed, so its presence means the folder is complete (a rerun skips it)."""

from __future__ import annotations

import json
import time
from dataclasses import asdict
from pathlib import Path

from pipeline.data.backends import open_video
from pipeline.data.records import write_atomic
from pipeline.inference.summarize.splice import write_summary_video
from pipeline.inference.summarize.video import VideoSummary

DONE = "summary.json"


def _timestamp(seconds: float) -> str:
    m, s = divmod(seconds, 60)
    return f"{int(m):02d}:{s:05.2f}"


def write_keyframes(summary: VideoSummary, out: Path, *, backend: str = "auto") -> list[Path]:
    """keyframes/NNN_mm-ss.ss.jpg (one per selected shot) and a contact sheet with timestamps."""
    from PIL import Image, ImageDraw

    kdir = out / "keyframes"
    kdir.mkdir(parents=True, exist_ok=True)
    if not summary.keyframes:
        return []
    with open_video(summary.path, backend=backend) as video:
        frames = video.get_frames(summary.keyframes)  # (K, C, H, W) uint8
    images, paths = [], []
    for i, (frame, index) in enumerate(zip(frames, summary.keyframes, strict=True)):
        img = Image.fromarray(frame.permute(1, 2, 0).numpy())
        stamp = _timestamp(index / summary.fps if summary.fps > 0 else 0.0)
        path = kdir / f"{i:03d}_{stamp.replace(':', '-')}.jpg"
        img.save(path, quality=90)
        images.append((img, stamp))
        paths.append(path)
    cols = min(4, len(images))
    tw = 320
    th = max(1, round(tw * images[0][0].height / images[0][0].width))
    sheet = Image.new("RGB", (cols * tw, -(-len(images) // cols) * (th + 18)), "white")
    draw = ImageDraw.Draw(sheet)
    for i, (img, stamp) in enumerate(images):
        x, y = (i % cols) * tw, (i // cols) * (th + 18)
        sheet.paste(img.resize((tw, th)), (x, y))
        draw.text((x + 4, y + th + 3), stamp, fill="black")
    sheet.save(out / "contact_sheet.jpg", quality=90)
    return paths


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


def write_outputs(summary: VideoSummary, out: Path, *, backend: str = "auto", video: bool = True) -> None:
    """Every file; the time of each goes into `summary.seconds` (and so into summary.json)."""
    out.mkdir(parents=True, exist_ok=True)
    stages = [("keyframes + contact sheet", write_keyframes), ("scores.png", write_scores_plot)]
    if video:
        stages.append(("summary.mp4", write_summary_video))
    for name, write in stages:
        t0 = time.perf_counter()
        write(summary, out, **({"backend": backend} if write is not write_scores_plot else {}))
        summary.seconds[name] = round(time.perf_counter() - t0, 3)
    write_summary_json(summary, out)  # last: marks the folder complete
