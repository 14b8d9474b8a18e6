"""Per-video predictions as a CSV a later step (scoring, a spreadsheet) can trust.

video_id, clips, label, predicted, score, top5 -- one row per video in record order. `label` is empty
for unlabeled videos; `clips` (clips scored) is 0 for a video none of whose clips decoded (nothing
predicted).
Written to a temp name in the same folder and renamed, so a killed run never leaves half a file. Text
cells that a spreadsheet would run as a formula start with an apostrophe (`spreadsheet_safe`).
"""

from __future__ import annotations

import csv
import io
import os
from collections.abc import Sequence
from pathlib import Path

import torch

from pipeline.data.records import write_atomic
from pipeline.tasks.metrics import VideoLevel, labeled

FORMULA_STARTS = ("=", "+", "-", "@", "\t", "\r")


def spreadsheet_safe(text: str) -> str:
    """A cell a spreadsheet shows as text: one that starts like a formula (=, +, -, @, tab, carriage
    return) gets a leading apostrophe, as OWASP advises against CSV injection. Applied to every text
    cell (video ids, class names); numbers are written as numbers."""
    return f"'{text}" if text.startswith(FORMULA_STARTS) else text


def _names(indices: Sequence[int], class_names: Sequence[str]) -> str:
    return ";".join(class_names[i] for i in indices)


def prediction_rows(
    video_ids: Sequence[str], result: VideoLevel, class_names: Sequence[str], *, multilabel: bool
) -> list[dict[str, str]]:
    rows = []
    has_label = labeled(result.labels).tolist()
    k = min(5, len(class_names))
    for i, vid in enumerate(video_ids):
        clips = int(result.clips[i])
        row = {"video_id": vid, "clips": str(clips), "label": "", "predicted": "", "score": "", "top5": ""}
        if has_label[i]:
            lab = result.labels[i]
            indices = lab.nonzero().flatten().tolist() if multilabel else [int(lab)]
            row["label"] = _names(indices, class_names)
        if clips:
            p = result.scores[i]
            top = p.topk(k)
            if multilabel:  # every class above one half; else the most likely one
                chosen = (p >= 0.5).nonzero().flatten().tolist() or [int(top.indices[0])]
            else:
                chosen = [int(top.indices[0])]
            row["predicted"] = _names(chosen, class_names)
            row["score"] = f"{float(p[chosen[0]]):.6f}"
            row["top5"] = ";".join(f"{class_names[int(c)]}:{float(s):.4f}" for s, c in zip(*top, strict=True))
        rows.append({k: spreadsheet_safe(v) if k in ("video_id", "label", "predicted", "top5") else v
                     for k, v in row.items()})  # fmt: skip
    return rows


def write_predictions(
    path: str | os.PathLike[str], video_ids: Sequence[str], result: VideoLevel, class_names: Sequence[str],
    *, multilabel: bool = False,
) -> Path:  # fmt: skip
    """Write the CSV atomically (temp file + rename) and return its path."""
    result = VideoLevel(result.scores.cpu(), result.clips.cpu(), result.labels.cpu(), result.failed.cpu())
    rows = prediction_rows(video_ids, result, class_names, multilabel=multilabel)
    text = io.StringIO(newline="")
    w = csv.DictWriter(text, fieldnames=["video_id", "clips", "label", "predicted", "score", "top5"])
    w.writeheader()
    w.writerows(rows)
    return write_atomic(path, text.getvalue())


def read_predictions(path: str | os.PathLike[str]) -> list[dict[str, str]]:
    with open(path, newline="", encoding="utf-8") as f:
        return list(csv.DictReader(f))


__all__ = ["prediction_rows", "read_predictions", "spreadsheet_safe", "write_predictions", "torch"]
