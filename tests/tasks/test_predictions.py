"""predictions_test.csv: a spreadsheet opens it as text (no cell runs as a formula), and it is written
atomically with the user's file mode."""

from __future__ import annotations

import csv
import os
import stat

import torch

from pipeline.tasks.metrics import VideoLevel
from pipeline.tasks.predictions import read_predictions, spreadsheet_safe, write_predictions

HOSTILE = ['=HYPERLINK("http://x","y")', "+1+2", "-cmd", "@SUM(A1)", "\tTAB", "walk"]


def test_cells_that_start_like_a_formula_are_text(tmp_path):
    ids = ["=1+1.mp4", "-rf.mp4", "@x.mp4", "plain.mp4", "+a.mp4", "\rcr.mp4"]
    n, k = len(ids), len(HOSTILE)
    scores = torch.eye(n, k) * 0.9 + 0.01  # video i predicts class i
    result = VideoLevel(scores, torch.ones(n), torch.arange(n), torch.zeros(n))
    path = write_predictions(tmp_path / "predictions_test.csv", ids, result, HOSTILE)
    with open(path, newline="") as f:
        cells = [c for row in csv.reader(f) for c in row]
    risky = [c for c in cells if c.startswith(("=", "+", "-", "@", "\t", "\r"))]
    assert risky == [], risky  # 18 such cells before the escape
    rows = read_predictions(path)
    assert [r["video_id"] for r in rows] == [spreadsheet_safe(i) for i in ids]
    assert rows[0]["predicted"] == '\'=HYPERLINK("http://x","y")' and rows[5]["predicted"] == "walk"
    assert rows[0]["score"] == "0.910000"  # numbers stay numbers


def test_the_csv_follows_the_umask(tmp_path):
    old = os.umask(0o022)
    try:
        result = VideoLevel(torch.tensor([[0.2, 0.8]]), torch.ones(1), torch.tensor([1]), torch.zeros(1))
        path = write_predictions(tmp_path / "p.csv", ["a.mp4"], result, ["x", "y"])
    finally:
        os.umask(old)
    assert stat.S_IMODE(path.stat().st_mode) == 0o644  # not mkstemp's 0600
    assert [p.name for p in tmp_path.iterdir()] == ["p.csv"]
