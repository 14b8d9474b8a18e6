"""`vap check` and the isolated runner behind it: bad videos found, named, quarantined; hangs killed."""

from __future__ import annotations

import json
import shutil
import time
from pathlib import Path

import pytest
import torch

from pipeline.cli import main
from pipeline.data.check import check_video
from pipeline.data.discover import collect_videos
from pipeline.data.pool import run_isolated


@pytest.fixture
def mixed_folder(tmp_path, bad_videos, odd_good_videos, lossy_video) -> Path:
    d = tmp_path / "collection"
    (d / "sub dir").mkdir(parents=True)
    shutil.copy(lossy_video[0], d / "good.mp4")
    shutil.copy(odd_good_videos["non_ascii"], d / "sub dir" / odd_good_videos["non_ascii"].name)
    shutil.copy(odd_good_videos["one_frame"], d / "one frame.mp4")
    for case in ("zero_bytes", "random_bytes", "truncated", "text"):
        shutil.copy(bad_videos[case], d / "sub dir" / f"{case}.mp4")
    shutil.copy(bad_videos["audio_only"], d / "audio.mp4")
    (d / "readme.txt").write_text("not a video, not listed")
    return d


def test_check_folder_writes_quarantine_and_exit_code(mixed_folder, tmp_path, capsys):
    out = tmp_path / "q" / "quarantine.json"
    code = main(["check", str(mixed_folder), "--out", str(out), "--jobs", "2", "--timeout", "60"])
    assert code == 1
    report = json.loads(out.read_text())
    assert report["checked"] == 8 and report["good"] == 3 and report["bad"] == 5
    reasons = {Path(q["path"]).name: q["reason"] for q in report["quarantine"]}
    assert reasons == {
        "zero_bytes.mp4": "empty file (0 bytes)",
        "random_bytes.mp4": "not a readable video: invalid data (corrupt, truncated, or not a video file)",
        "truncated.mp4": "not a readable video: invalid data (corrupt, truncated, or not a video file)",
        "text.mp4": "not a readable video: invalid data (corrupt, truncated, or not a video file)",
        "audio.mp4": "no video stream (audio-only or not a video)",
    }
    err = capsys.readouterr().err
    assert "zero_bytes.mp4: empty file (0 bytes)" in err and "quarantine list" in err


def test_check_all_good_exits_zero(tmp_path, lossy_video):
    (tmp_path / "v").mkdir()
    shutil.copy(lossy_video[0], tmp_path / "v" / "a.mp4")
    assert main(["check", str(tmp_path / "v"), "--out", str(tmp_path / "q.json")]) == 0
    assert json.loads((tmp_path / "q.json").read_text())["quarantine"] == []


def test_check_annotation_file_includes_missing_videos(tmp_path, lossy_video):
    shutil.copy(lossy_video[0], tmp_path / "a.mp4")
    (tmp_path / "list.txt").write_text("a.mp4 0\nnot here.mp4 1\n")
    assert main(["check", str(tmp_path / "list.txt"), "--out", str(tmp_path / "q.json")]) == 1
    q = json.loads((tmp_path / "q.json").read_text())["quarantine"]
    assert [(Path(x["path"]).name, x["reason"]) for x in q] == [("not here.mp4", "no such file")]


def test_check_missing_path_is_one_line_error(tmp_path, capsys):
    assert main(["check", str(tmp_path / "nowhere")]) == 1
    err = capsys.readouterr().err.strip()
    assert err == f"vap check: error: {tmp_path / 'nowhere'}: no such file or folder"


def test_check_video_reports_counts(lossy_video):
    r = check_video(str(lossy_video[0]), backend="pyav")
    assert r.ok and (r.num_frames, r.width, r.height) == (40, 64, 48) and r.fps == pytest.approx(24)


def test_collect_videos_recursive(mixed_folder):
    names = sorted(p.name for p in collect_videos(mixed_folder))
    assert "readme.txt" not in names and "audio.mp4" in names and len(names) == 8


def _sleepy(x: float) -> float:
    if x < 0:
        raise ValueError("negative")
    time.sleep(x)
    return x


def test_isolated_runner_kills_hangs_and_keeps_going():
    t0 = time.monotonic()
    outcomes = {o.item: o for o in run_isolated(_sleepy, [0.0, 30.0, -1.0, 0.1, 0.0], jobs=2, timeout=1.5)}
    assert time.monotonic() - t0 < 15
    assert outcomes[30.0].error == "timed out after 1.5 s"
    assert outcomes[-1.0].error == "ValueError: negative"
    assert outcomes[0.1].result == 0.1 and outcomes[0.0].error is None


def test_isolated_pool_requeues_what_waited_behind_a_hang():
    """Two items per worker: the one queued behind a hung item is not lost when the worker is killed,
    and every item is answered exactly once."""
    from pipeline.data.pool import IsolatedPool

    with IsolatedPool(_sleepy, jobs=1, timeout=1.5, depth=2) as pool:
        outcomes = list(pool.map([30.0, 0.2, 0.3]))
        again = list(pool.map([0.1]))  # the pool is reusable after a kill
    assert sorted(o.item for o in outcomes) == [0.2, 0.3, 30.0]
    by_item = {o.item: o for o in outcomes}
    assert by_item[30.0].error == "timed out after 1.5 s"
    assert by_item[0.2].result == 0.2 and by_item[0.3].result == 0.3
    assert again[0].result == 0.1


def _torch_threads(_: object) -> int:
    import torch

    return torch.get_num_threads()


def test_isolated_workers_use_one_torch_thread_each():
    # two workers on a shared machine: one intra-op thread each, or they oversubscribe the cores
    torch.set_num_threads(2)
    assert [o.result for o in run_isolated(_torch_threads, [0, 1], jobs=2, timeout=60)] == [1, 1]


def _slow_big(x: int) -> bytes:
    time.sleep(0.1)
    return bytes([x]) * 1_000_000  # larger than a pipe holds: the worker waits until it is read


def _consume_in_batches(outcomes, batch: int = 4, pause: float = 0.8) -> tuple[list[int], float]:
    """Take `batch` results, then pause as a model call would; the items got and the seconds it took."""
    t0, got = time.monotonic(), []
    for out in outcomes:
        got.append(out.result[0])
        if len(got) % batch == 0:
            time.sleep(pause)
    return sorted(got), time.monotonic() - t0


def test_buffered_lets_the_workers_decode_while_the_consumer_computes():
    from pipeline.data.pool import IsolatedPool, buffered

    with IsolatedPool(_slow_big, jobs=1, timeout=30) as pool:
        list(pool.map([0]))  # the worker is started
        # 12 items of 0.1 s, consumed 4 at a time with a 0.8 s pause after each 4: the worker blocks on its
        # full pipe during every pause unless something reads it (about 1.2 + 2.4 s); buffered: about 2.8 s
        got, seconds = _consume_in_batches(buffered(pool.map(range(12)), 16))
    assert got == list(range(12)) and seconds < 3.2


def test_buffered_raises_the_error_of_its_source_in_the_consumer():
    from pipeline.data.pool import buffered

    def broken():
        yield 1
        raise ValueError("bad")

    with pytest.raises(ValueError, match="bad"):
        list(buffered(broken(), 2))


def test_an_out_that_cannot_be_written_stops_before_the_checking(tmp_path, capsys, monkeypatch):
    (tmp_path / "file").write_text("x")
    checked = []
    monkeypatch.setattr("pipeline.data.check.run_check", lambda *a, **k: checked.append(1) or [])
    assert main(["check", str(tmp_path), "--out", str(tmp_path / "file" / "q.json")]) == 1
    err = [line for line in capsys.readouterr().err.splitlines() if line.strip()]
    assert len(err) == 1 and "cannot make its folder" in err[0] and "Traceback" not in err[0]
    assert checked == []  # nothing checked first


def _slow_parts(n: float):  # a generator: one part every 0.4 s, n parts; a negative n fails after one part
    for i in range(int(abs(n))):
        time.sleep(0.4)
        if n < 0 and i == 1:
            raise ValueError("broken at part 1")
        yield i


def test_isolated_pool_streams_a_generator_part_by_part_under_a_per_part_timeout():
    """A long video's windows come back one by one as they are made; each part restarts the clock, so a
    run of 6 parts (2.4 s) lives under a 1.5 s timeout, and a failure after some parts keeps them."""
    outcomes = list(run_isolated(_slow_parts, [6.0, -3.0], jobs=2, timeout=1.5))
    parts = [(o.item, o.result) for o in outcomes if o.partial]
    ends = {o.item: o for o in outcomes if not o.partial}
    assert [p for i, p in parts if i == 6.0] == [0, 1, 2, 3, 4, 5]
    assert [p for i, p in parts if i == -3.0] == [0]
    assert ends[6.0].error is None and ends[6.0].result is None
    assert ends[-3.0].error == "ValueError: broken at part 1"


def test_warm_up_has_the_workers_start_with_the_modules_already_imported(tmp_path):
    """`warm_up` (called first thing by `vap score`) starts the fork server importing what the decoding
    workers need, so a worker finds it in memory; without it a worker starts with none of it."""
    import subprocess
    import sys

    probe = "'pipeline.data.windows' in __import__('sys').modules"  # evaluated in the worker (eval pickles by name)
    code = (
        "import sys\n"
        "from pipeline.data.pool import run_isolated, warm_up\n"
        "if sys.argv[1] == 'warm': warm_up('pipeline.data.windows')\n"
        f"print([o.result for o in run_isolated(eval, [{probe!r}], timeout=60)])\n"
    )
    said = {
        mode: subprocess.run([sys.executable, "-c", code, mode], capture_output=True, text=True, timeout=120).stdout
        for mode in ("warm", "cold")
    }
    assert said == {"warm": "[True]\n", "cold": "[False]\n"}
