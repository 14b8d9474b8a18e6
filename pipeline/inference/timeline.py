"""`vap score --window ... --plot DIR`: one picture per video of what happens when.

record (its `windows` and `segments`) -> the classes that lead any window, the `max_classes` most often
-> each one's probability at every window's centre (0 where it is outside that window's top-k) -> lines
over time, the segments shaded in their class's colour and labelled, the threshold dashed -> a PNG named
after the video and a hash of its path (unique, always inside DIR), written atomically (matplotlib).
"""

from __future__ import annotations

import hashlib
import os
import re
from collections import Counter
from pathlib import Path
from typing import Any

from pipeline.data.records import atomic_path, check_writable


def check_plot_folder(folder: Path) -> None:
    """Stop before any work if DIR cannot hold the pictures (a file, or a place that cannot be written)."""
    check_writable(folder / "probe.png", what="--plot (a folder)")


def plot_name(path: str) -> str:
    """`<stem>-<8 hex of the path>.png`: readable, one per video, and never a path out of the folder."""
    stem = re.sub(r"[^\w.-]+", "_", Path(path).stem).strip("._") or "video"
    return f"{stem[:60]}-{hashlib.sha1(path.encode('utf-8', 'surrogateescape')).hexdigest()[:8]}.png"


def plot_record(record: dict[str, Any], folder: Path, threshold: float) -> Path:
    """Draw `record`'s timeline into `folder` (see the module docstring); returns the file."""
    return plot_timeline(record, folder / plot_name(record["path"]), threshold=threshold)


def plot_timeline(record: dict[str, Any], out: Path, *, threshold: float, max_classes: int = 5) -> Path:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    windows = record["windows"]
    leaders = Counter(w["labels"][0] for w in windows if w["labels"])
    classes = [c for c, _ in leaders.most_common(max_classes)]
    colours = {c: plt.get_cmap("tab10")(i % 10) for i, c in enumerate(classes)}
    centres = [(w["start"] + w["end"]) / 2 for w in windows]
    duration = max(w["end"] for w in windows)
    fig, ax = plt.subplots(figsize=(min(16.0, 6.0 + duration / 30), 3.4))
    for seg in record.get("segments") or []:
        colour = colours.get(seg["label"], "lightgrey")
        ax.axvspan(seg["start"], seg["end"], color=colour, alpha=0.18, lw=0)
        upright = seg["end"] - seg["start"] < duration / 12  # a short segment's label stands up, inside it
        ax.text((seg["start"] + seg["end"]) / 2, 0.03, seg["label"], ha="center", va="bottom", fontsize=7,
                color=colour, rotation=90 if upright else 0)  # fmt: skip
    for c in classes:
        ys = [dict(zip(w["labels"], w["probs"], strict=True)).get(c, 0.0) for w in windows]
        ax.plot(centres, ys, color=colours[c], lw=1.4, label=c, marker="." if len(windows) < 60 else None)
    ax.axhline(threshold, ls="--", color="grey", lw=0.8)
    ax.set_xlim(0, duration)
    ax.set_ylim(0, 1)
    ax.set_xlabel("seconds")
    ax.set_ylabel("probability")
    ax.legend(fontsize=7, loc="upper left", bbox_to_anchor=(1.0, 1.0), frameon=False)
    span = windows[0]["end"] - windows[0]["start"]
    ax.set_title(f"{os.path.basename(record['path'])}: {len(windows)} windows of {span:g} s, "
                 f"{len(record.get('segments') or [])} segments", fontsize=9)  # fmt: skip
    fig.tight_layout()
    out.parent.mkdir(parents=True, exist_ok=True)
    with atomic_path(out) as tmp:
        fig.savefig(tmp, dpi=110, format="png")
    plt.close(fig)
    return out
