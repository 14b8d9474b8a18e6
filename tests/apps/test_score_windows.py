"""`vap score --window`: what happens when in a long video, as windows and segments, resumable window by window."""

from __future__ import annotations

import json
import shutil
import signal
import subprocess
import sys
import time
from pathlib import Path

import pyarrow.parquet as pq
import pytest
from conftest import train_tiny_checkpoint

from pipeline.cli import main
from pipeline.data.records import read_journal
from pipeline.data.windows import Windows
from pipeline.errors import ConfigError
from pipeline.inference.windows import segments

TINY = {"num_train": 12, "num_val": 6, "num_test": 6}


def concat(videos: list[Path], out: Path, *, repeat: int = 1, extra: list[str] | None = None) -> Path:
    """The videos one after another (re-encoded: one stream, one frame rate), `repeat` times."""
    listing = out.with_suffix(".txt")
    listing.write_text("".join(f"file '{v}'\n" for v in videos * repeat))
    cmd = ["ffmpeg", "-v", "error", "-y", "-f", "concat", "-safe", "0", "-i", str(listing), "-c:v", "libx264",
           "-preset", "ultrafast", "-pix_fmt", "yuv420p", *(extra or []), str(out)]  # fmt: skip
    subprocess.run(cmd, check=True, timeout=300)
    return out


@pytest.fixture(scope="module")
def long_video(tmp_path_factory) -> tuple[Path, Path, list[Path]]:
    """A tiny checkpoint, a 12 s video made of its 6 test clips (2 s each, 8 fps), and the clips."""
    root = tmp_path_factory.mktemp("windows")
    ckpt = train_tiny_checkpoint(root, make_args=TINY, num_segments=4)
    clips = sorted((root / "md").rglob("test_*.mp4"))[:6]
    return ckpt, concat(clips, root / "long video.mp4"), clips


def score(*args: str) -> int:
    return main(["score", *args, "--workers", "1", "--timeout", "60"])


# --- windows and segments, as numbers ------------------------------------------------------------------
def test_windows_cover_the_video_once_at_every_stride():
    assert Windows(2.0).spans(96, 8.0) == [(0, 16), (16, 32), (32, 48), (48, 64), (64, 80), (80, 96)]
    overlapping = Windows(2.0, 1.0).spans(40, 8.0)
    assert overlapping == [(0, 16), (8, 24), (16, 32), (24, 40)]  # the last window ends at the video's end
    assert Windows(2.0).spans(20, 8.0) == [(0, 16), (16, 20)]  # the last one is shorter where the video is
    assert Windows(100.0).spans(96, 8.0) == [(0, 96)]  # longer than the video: one window over all of it
    assert Windows(1.0, 3.0).spans(80, 8.0) == [(0, 8), (24, 32), (48, 56), (72, 80)]  # a stride that skips
    assert len(Windows(1.0).spans(2 * 3600 * 25, 25.0)) == 7200  # two hours, no drift
    assert Windows(1 / 3).spans(30, 30.0)[-1] == (20, 30)


@pytest.mark.parametrize("window, stride, match", [(0.0, None, "--window 0"), (-1.0, None, "--window -1"),
                                                   (2.0, -1.0, "--stride -1"), (2.0, 0.0, "--stride 0"),
                                                   (float("nan"), None, "--window nan")])  # fmt: skip
def test_a_window_or_stride_that_is_not_a_positive_time_is_refused(window, stride, match):
    with pytest.raises(ConfigError, match=match):
        Windows(window, stride)


def test_segments_merge_consecutive_windows_with_the_same_confident_label():
    best = [("a", 0.9), ("a", 0.7), ("b", 0.8), ("b", 0.3), ("b", 0.6), ("a", 0.9)]
    w = [{"start": s, "end": s + 2, "labels": [lab, "x"], "probs": [p, 0.1]} for s, (lab, p) in enumerate(best)]
    assert segments(w, 0.5) == [
        {"start": 0, "end": 3, "label": "a", "score": 0.8},
        {"start": 2, "end": 4, "label": "b", "score": 0.8},  # the 0.3 window breaks the run of b
        {"start": 4, "end": 6, "label": "b", "score": 0.6},
        {"start": 5, "end": 7, "label": "a", "score": 0.9},
    ]
    assert segments(w, 0.95) == []
    assert [s["label"] for s in segments(w, 0.0)] == ["a", "b", "a"]
    # each window stands for the stride around its centre (the first from its start, the last to its end):
    # overlapping windows no longer stretch a segment by the overlap at both ends
    assert [(s["start"], s["end"]) for s in segments(w, 0.5, stride=1.0)] == [(0, 2.5), (2.5, 3.5), (4.5, 5.5),
                                                                             (5.5, 7)]  # fmt: skip
    assert segments(w, 0.5, stride=2.0) == segments(w, 0.5)  # back to back: the windows themselves


# --- the command ---------------------------------------------------------------------------------------
def test_windows_and_segments_in_every_record(long_video, tmp_path):
    ckpt, video, _ = long_video
    out = tmp_path / "w.jsonl"
    assert score("--checkpoint", str(ckpt), str(video), "--out", str(out), "--window", "2", "--stride", "1",
                 "--topk", "3", "--threshold", "0") == 0  # fmt: skip
    (rec,) = read_journal(out)
    assert rec["status"] == "ok" and rec["stopped"] is None and rec["frames"] == 96 and rec["duration"] == 12.0
    windows = rec["windows"]
    assert [(w["start"], w["end"]) for w in windows] == [(float(s), float(s + 2)) for s in range(11)]
    assert all(set(w) == {"start", "end", "labels", "probs"} and len(w["labels"]) == 3 for w in windows)
    assert all(w["probs"] == sorted(w["probs"], reverse=True) for w in windows)
    assert rec["segments"] == segments(windows, 0.0, stride=1.0)  # threshold 0: every window is in one segment
    assert rec["segments"][0]["start"] == 0.0 and rec["segments"][-1]["end"] == 12.0
    assert not list(tmp_path.glob("*.windows.jsonl"))  # the run finished: its windows are in the record


def test_a_window_over_a_whole_short_video_scores_it_as_without_windows(long_video, tmp_path):
    """Each window is sampled and normalised as the checkpoint's test clips are: one window covering a
    whole clip gives the record of scoring that clip without --window."""
    ckpt, _, clips = long_video
    plain, windowed = tmp_path / "plain.jsonl", tmp_path / "windowed.jsonl"
    assert score("--checkpoint", str(ckpt), *map(str, clips[:3]), "--out", str(plain), "--all-scores") == 0
    assert score("--checkpoint", str(ckpt), *map(str, clips[:3]), "--out", str(windowed), "--all-scores",
                 "--window", "60") == 0  # fmt: skip
    a = {r["path"]: r for r in read_journal(plain)}
    b = {r["path"]: r for r in read_journal(windowed)}
    assert a.keys() == b.keys()
    for path, ra in a.items():
        (w,) = b[path]["windows"]
        assert (w["start"], w["end"]) == (0.0, ra["duration"])
        assert w["labels"] == ra["labels"] and w["probs"] == ra["probs"] and w["scores"] == ra["scores"]
        assert "windows" not in ra and "segments" not in ra  # without --window, the records are as before


def test_parquet_holds_nested_windows_and_segments_that_pandas_and_duckdb_query(long_video, tmp_path):
    ckpt, video, clips = long_video
    out = tmp_path / "w.parquet"
    assert score("--checkpoint", str(ckpt), str(video), *map(str, clips[:2]), "--out", str(out), "--window", "2",
                 "--threshold", "0") == 0  # fmt: skip
    table = pq.read_table(out)
    assert table.num_rows == 3
    assert str(table.schema.field("segments").type) == (
        "list<element: struct<start: double, end: double, label: string, score: double>>"
    )
    # docs/scoring.md: every video in which a label lasts more than N seconds, in pandas ...
    import pandas as pd

    label = read_journal(out.with_name("w.parquet.journal.jsonl"))[0]["segments"][0]["label"]
    df = pd.read_parquet(out, columns=["path", "segments"]).explode("segments").dropna()
    seg = pd.DataFrame(df["segments"].tolist(), index=df["path"])
    found = seg[(seg.label == label) & (seg.end - seg.start > 1.5)].index.unique().tolist()
    expected = sorted({r["path"] for r in read_journal(out.with_name("w.parquet.journal.jsonl"))
                       if any(s["label"] == label and s["end"] - s["start"] > 1.5 for s in r["segments"])})  # fmt: skip
    assert sorted(found) == expected and expected
    # ... and in DuckDB
    duckdb = pytest.importorskip("duckdb")
    rows = duckdb.sql(f"""SELECT DISTINCT path FROM (SELECT path, unnest(segments) AS s FROM '{out}')
                          WHERE s.label = '{label}' AND s."end" - s.start > 1.5""").fetchall()  # fmt: skip
    assert sorted(r[0] for r in rows) == expected


def test_plot_draws_a_timeline_per_video_inside_the_folder(long_video, tmp_path):
    ckpt, video, clips = long_video
    odd = tmp_path / "..mp4"  # a name that must not lead out of the folder
    shutil.copy(clips[0], odd)
    plots = tmp_path / "plots"
    assert score("--checkpoint", str(ckpt), str(video), str(odd), "--out", str(tmp_path / "w.jsonl"),
                 "--window", "1", "--plot", str(plots)) == 0  # fmt: skip
    pngs = sorted(plots.iterdir())
    assert len(pngs) == 2 and all(p.suffix == ".png" and p.stat().st_size > 5000 for p in pngs)
    assert pngs[0].read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    assert any(p.name.startswith("long_video-") for p in pngs)


@pytest.mark.parametrize(
    "args, message",
    [
        (["--window", "0"], "--window 0: must be a positive number of seconds"),
        (["--window", "2", "--stride", "-1"], "--stride -1: must be a positive number of seconds"),
        (["--stride", "1"], "--stride: needs --window SECONDS"),
        (["--window", "1", "--stride", "30"], "shorter than --stride 30 s"),
        (["--window", "2", "--threshold", "1.5"], "--threshold 1.5: a probability"),
        (["--window", "2", "--with-attention"], "--with-attention: not with --window"),
    ],
)
def test_bad_window_settings_stop_before_anything_runs(long_video, tmp_path, capsys, args, message):
    ckpt, video, _ = long_video
    out = tmp_path / "w.jsonl"
    rc = main(["score", "--checkpoint", str(ckpt), str(video), "--out", str(out), *args])
    err = capsys.readouterr().err
    assert rc == 1 and message in err and len(err.strip().splitlines()) == 1 and "Traceback" not in err
    assert not out.exists()


def test_a_truncated_file_ends_its_windows_with_a_reason_and_keeps_those_before(long_video, tmp_path, capsys):
    """The header promises 12 s; the frames stop decoding about halfway: the windows up to there stay,
    and the record says why there are no more."""
    _, video, _ = long_video
    ckpt = long_video[0]
    whole = concat([video], tmp_path / "whole.mp4", extra=["-movflags", "+faststart", "-g", "8"])
    data = whole.read_bytes()
    cut = tmp_path / "cut.mp4"
    cut.write_bytes(data[: int(len(data) * 0.55)])
    out = tmp_path / "w.jsonl"
    assert score("--checkpoint", str(ckpt), str(cut), "--out", str(out), "--window", "1") == 0
    (rec,) = read_journal(out)
    assert rec["status"] == "ok" and 2 <= len(rec["windows"]) < 12
    assert "do not decode" in rec["stopped"] or "decode failed" in rec["stopped"], rec["stopped"]
    assert [w["start"] for w in rec["windows"]] == [float(i) for i in range(len(rec["windows"]))]
    assert "windows stop early" in capsys.readouterr().err


def test_kill_9_in_a_long_video_goes_on_from_the_last_journaled_window(long_video, tmp_path):
    """kill -9 halfway through a long video: the rerun goes on from the last journaled window, and the
    final record holds every window once, equal to an uninterrupted run's."""
    ckpt, video, _ = long_video
    longer = concat([video], tmp_path / "longer.mp4", repeat=25)  # 300 s, 300 windows of 1 s
    out, whole = tmp_path / "killed.jsonl", tmp_path / "whole.jsonl"
    common = ["--checkpoint", str(ckpt), str(longer), "--window", "1", "--workers", "1", "--batch-clips", "1"]
    cmd = [sys.executable, "-m", "pipeline.cli", "score", *common, "--out", str(out)]
    proc = subprocess.Popen(cmd, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    windows = tmp_path / "killed.windows.jsonl"
    deadline = time.monotonic() + 120
    while time.monotonic() < deadline and len(read_journal(windows)) < 20:
        time.sleep(0.02)
    proc.send_signal(signal.SIGKILL)
    proc.wait(30)
    journaled = len(read_journal(windows))
    assert 20 <= journaled < 300 and not read_journal(out)
    again = subprocess.run(cmd, capture_output=True, text=True, timeout=300)
    assert again.returncode == 0, again.stderr[-2000:]
    assert f"going on from window {journaled} " in again.stderr
    assert main(["score", *common, "--out", str(whole), "--timeout", "60"]) == 0
    (resumed,), (straight,) = read_journal(out), read_journal(whole)
    assert len(resumed["windows"]) == 300
    assert resumed["windows"] == straight["windows"] and resumed["segments"] == straight["segments"]
    assert not windows.exists()


def test_windows_are_the_same_in_shards_and_under_torchrun(long_video, tmp_path):
    """--shard halves and torchrun's 2 ranks give the records one process gives, windows included."""
    ckpt, video, clips = long_video
    inputs = [str(video), *map(str, clips[:2])]
    common = ["--checkpoint", str(ckpt), *inputs, "--window", "2", "--stride", "1", "--workers", "1"]
    one = tmp_path / "one.jsonl"
    assert main(["score", *common, "--out", str(one)]) == 0
    parts = []
    for i in range(2):
        part = tmp_path / f"part{i}.jsonl"
        assert main(["score", *common, "--out", str(part), "--shard", f"{i}/2"]) == 0
        parts += read_journal(part)
    two = tmp_path / "two.jsonl"
    torchrun = [sys.executable, "-m", "torch.distributed.run", "--nproc_per_node", "2", "--master_port", "29541",
                "-m", "pipeline.cli", "score", *common, "--out", str(two)]  # fmt: skip
    done = subprocess.run(torchrun, capture_output=True, text=True, timeout=500)
    assert done.returncode == 0, done.stderr[-3000:]
    expect = {r["path"]: r for r in read_journal(one)}
    for got in (parts, read_journal(two)):
        assert sorted(r["path"] for r in got) == sorted(expect)
        for r in got:
            assert [(w["start"], w["labels"]) for w in r["windows"]] == [
                (w["start"], w["labels"]) for w in expect[r["path"]]["windows"]]  # fmt: skip
            for a, b in zip(r["windows"], expect[r["path"]]["windows"], strict=True):
                assert a["probs"] == pytest.approx(b["probs"], abs=1e-5)
    assert not list(tmp_path.glob("two.*rank*"))


@pytest.mark.timeout(600)
def test_windows_are_the_same_on_ray(long_video, tmp_path, monkeypatch):
    ray = pytest.importorskip("ray")
    ckpt, video, clips = long_video
    common = ["--checkpoint", str(ckpt), str(video), str(clips[0]), "--window", "2", "--workers", "1"]
    local, remote = tmp_path / "local.jsonl", tmp_path / "ray.jsonl"
    assert main(["score", *common, "--out", str(local)]) == 0
    monkeypatch.setenv("RAY_worker_niceness", "0")
    ray.init(num_cpus=2, include_dashboard=False, log_to_driver=False)
    try:
        assert main(["score", *common, "--out", str(remote), "--engine", "ray"]) == 0
    finally:
        ray.shutdown()
    a = {r["path"]: r for r in read_journal(local)}
    b = {r["path"]: r for r in read_journal(remote)}
    assert a.keys() == b.keys() and len(a) == 2
    for path, ra in a.items():
        assert [w["labels"] for w in ra["windows"]] == [w["labels"] for w in b[path]["windows"]]
        for x, y in zip(ra["segments"], b[path]["segments"], strict=True):
            assert (x["start"], x["end"], x["label"]) == (y["start"], y["end"], y["label"])
            assert x["score"] == pytest.approx(y["score"], abs=1e-5)
        assert len(ra["segments"]) == len(b[path]["segments"])
    assert json.loads(remote.read_text().splitlines()[0])["windows"]
