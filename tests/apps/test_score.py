"""`vap score`: one record per video, the checkpoint's own predictions, errors as records, resumable."""

from __future__ import annotations

import json
import os
import shutil
import signal
import subprocess
import sys
import time
from pathlib import Path

import pyarrow.parquet as pq
import pytest
import torch
from conftest import train_tiny_checkpoint

from pipeline.cli import main
from pipeline.data.clips import decode_clips, eval_pipeline
from pipeline.data.discover import collect_inputs
from pipeline.data.records import Journal, read_journal
from pipeline.models.checkpoint import load_model

TINY = {"num_train": 12, "num_val": 6, "num_test": 6}


@pytest.fixture(scope="module")
def checkpoint_and_videos(tmp_path_factory) -> tuple[Path, list[Path]]:
    """A tiny model trained for two steps on moving-digits, and the test videos it has not seen."""
    root = tmp_path_factory.mktemp("score")
    md = root / "md"
    ckpt = train_tiny_checkpoint(root, make_args=TINY, num_segments=4, test_clips=2)
    videos = sorted((md / "test").rglob("*.mp4")) if (md / "test").exists() else sorted(md.rglob("*.mp4"))[-6:]
    return ckpt, videos[:6]


def score(*args: str) -> int:
    return main(["score", *args, "--workers", "1", "--timeout", "60"])


def test_records_are_the_checkpoint_predictions(checkpoint_and_videos, tmp_path):
    ckpt, videos = checkpoint_and_videos
    out = tmp_path / "s.jsonl"
    assert score("--checkpoint", str(ckpt), *map(str, videos[:3]), "--out", str(out), "--all-scores",
                 "--with-attention", "--topk", "2") == 0  # fmt: skip
    records = {r["path"]: r for r in read_journal(out)}
    assert set(records) == {str(v.resolve()) for v in videos[:3]}
    model, meta = load_model(ckpt)
    sampler, transform = eval_pipeline(meta.preprocessing)
    for path, rec in records.items():
        assert rec["status"] == "ok" and rec["error"] is None and rec["frames"] > 0 and rec["fps"] > 0
        assert rec["backend"] == "pyav" and rec["duration"] == pytest.approx(rec["frames"] / rec["fps"], 1e-3)
        decoded = decode_clips(path, sampler=sampler, transform=transform)
        assert decoded.clips.shape[:2] == (2, 4)  # the checkpoint's 2 test clips of 4 frames
        with torch.no_grad():
            probs = model(decoded.clips).logits.softmax(-1).mean(0)  # (K,)
        assert rec["scores"] == pytest.approx(probs.tolist(), abs=1e-5)
        top = probs.topk(2)
        assert rec["labels"] == [meta.class_names[i] for i in top.indices] and len(rec["probs"]) == 2
        assert len(rec["attention_frames"]) == len(rec["attention"]) == 8
        assert sum(rec["attention"]) == pytest.approx(1.0, abs=1e-4)
        assert len(rec["keyframe_times"]) == 3


def test_bad_videos_become_error_records_and_the_run_goes_on(checkpoint_and_videos, bad_videos, tmp_path, capsys):
    ckpt, videos = checkpoint_and_videos
    d = tmp_path / "in"
    d.mkdir()
    shutil.copy(videos[0], d / "good.mp4")
    for case in ("zero_bytes", "random_bytes", "text"):
        shutil.copy(bad_videos[case], d / f"{case}.mp4")
    out = tmp_path / "s.jsonl"
    assert score("--checkpoint", str(ckpt), str(d), "--out", str(out)) == 0
    records = {Path(r["path"]).name: r for r in read_journal(out)}
    assert records["good.mp4"]["status"] == "ok"
    assert records["zero_bytes.mp4"] == {**records["zero_bytes.mp4"], "status": "error",
                                         "error": "empty file (0 bytes)", "labels": None}  # fmt: skip
    assert "not a readable video" in records["random_bytes.mp4"]["error"]
    assert "zero_bytes.mp4: empty file" in capsys.readouterr().err


def test_rerun_skips_finished_videos_and_refuses_other_settings(checkpoint_and_videos, tmp_path, capsys):
    ckpt, videos = checkpoint_and_videos
    out = tmp_path / "s.jsonl"
    assert score("--checkpoint", str(ckpt), *map(str, videos[:2]), "--out", str(out)) == 0
    first = out.read_text()
    # the same run with more inputs would be another run: refused
    assert score("--checkpoint", str(ckpt), *map(str, videos[:3]), "--out", str(out)) == 1
    assert "the inputs differ" in capsys.readouterr().err
    assert score("--checkpoint", str(ckpt), *map(str, videos[:2]), "--out", str(out), "--topk", "3") == 1
    assert "the settings differ (topk: 5 -> 3)" in capsys.readouterr().err
    assert score("--checkpoint", str(ckpt), *map(str, videos[:2]), "--out", str(out)) == 0
    assert out.read_text() == first  # nothing scored twice
    assert "skipped" in capsys.readouterr().err


def test_parquet_output_is_written_whole(checkpoint_and_videos, tmp_path):
    ckpt, videos = checkpoint_and_videos
    out = tmp_path / "s.parquet"
    assert score("--checkpoint", str(ckpt), *map(str, videos[:3]), "--out", str(out), "--with-attention") == 0
    table = pq.read_table(out)
    assert table.num_rows == 3 and set(table.column("status").to_pylist()) == {"ok"}
    assert len(table.column("attention").to_pylist()[0]) == 8


def test_a_killed_run_resumes_without_losing_or_repeating_a_video(checkpoint_and_videos, tmp_path):
    """kill -9 in the middle of a run: the journal parses, and the rerun scores only what is missing."""
    ckpt, small = checkpoint_and_videos
    videos = []  # enough videos that the kill lands mid-run however fast scoring is
    for i in range(48):
        videos.append(tmp_path / "videos" / f"v{i:02d}.mp4")
        videos[-1].parent.mkdir(exist_ok=True)
        shutil.copy(small[i % len(small)], videos[-1])
    out = tmp_path / "s.jsonl"
    cmd = [sys.executable, "-m", "pipeline.cli", "score", "--checkpoint", str(ckpt), *map(str, videos), "--out",
           str(out), "--workers", "1", "--batch-clips", "1"]  # fmt: skip
    proc = subprocess.Popen(cmd, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    deadline = time.monotonic() + 120
    while time.monotonic() < deadline and len(read_journal(out)) < 2:
        time.sleep(0.05)
    proc.send_signal(signal.SIGKILL)
    proc.wait(30)
    with open(out, "ab") as f:
        f.write(b'{"path": "torn')  # as if the kill had come in the middle of a line
    before = read_journal(out)
    assert 2 <= len(before) < len(videos)
    assert subprocess.run(cmd, capture_output=True, timeout=300).returncode == 0
    after = read_journal(out)
    assert sorted(r["path"] for r in after) == sorted(str(v.resolve()) for v in videos)  # each exactly once
    assert after[: len(before)] == before
    assert all(json.loads(line) for line in out.read_text().splitlines())  # every line parses


def test_journal_drops_a_torn_last_line(tmp_path):
    path = tmp_path / "j.jsonl"
    with Journal(path) as j:
        j.append({"a": 1})
    with open(path, "ab") as f:
        f.write(b'{"a": ')
    assert read_journal(path) == [{"a": 1}]
    with Journal(path) as j:
        j.append({"a": 2})
    assert read_journal(path) == [{"a": 1}, {"a": 2}]


def test_inputs_from_folders_globs_lists_and_csv(tmp_path):
    (tmp_path / "a" / "b").mkdir(parents=True)
    for name in ("a/x.mp4", "a/b/y.avi", "a/notes.txt", "z.mkv"):
        (tmp_path / name).write_bytes(b"x")
    (tmp_path / "list.txt").write_text("# comment\nz.mkv\na/x.mp4 3\na/b/y.avi 0 2\n")  # paths, or `path label`
    (tmp_path / "v.csv").write_text("path,label\nz.mkv,1\n")
    got = collect_inputs([str(tmp_path / "a"), str(tmp_path / "list.txt"), str(tmp_path / "v.csv"),
                          str(tmp_path / "**" / "*.mkv")])  # fmt: skip
    assert [Path(p).relative_to(tmp_path).as_posix() for p in got] == ["a/b/y.avi", "a/x.mp4", "z.mkv"]
    with pytest.raises(FileNotFoundError, match="no video matches"):
        collect_inputs([str(tmp_path / "nothing*.mp4")])


@pytest.mark.timeout(600)
def test_two_processes_under_torchrun_give_the_records_of_one(checkpoint_and_videos, tmp_path):
    """torchrun with 2 CPU processes: 5 videos (uneven over 2 ranks), each scored exactly once, with the
    records a single process writes; the ranks' journals are merged into the output."""
    ckpt, videos = checkpoint_and_videos
    common = ["score", "--checkpoint", str(ckpt), *map(str, videos[:5]), "--workers", "1", "--with-attention"]
    one, two = tmp_path / "one.jsonl", tmp_path / "two.jsonl"
    assert main([*common, "--out", str(one)]) == 0
    torchrun = [sys.executable, "-m", "torch.distributed.run", "--nproc_per_node", "2", "--master_port", "29533",
                "-m", "pipeline.cli", *common, "--out", str(two)]  # fmt: skip
    done = subprocess.run(torchrun, capture_output=True, text=True, timeout=500)
    assert done.returncode == 0, done.stderr[-3000:]
    a = sorted(read_journal(one), key=lambda r: r["path"])
    b = sorted(read_journal(two), key=lambda r: r["path"])
    assert [r["path"] for r in b] == [r["path"] for r in a] and len(b) == 5
    for ra, rb in zip(a, b, strict=True):
        assert ra["labels"] == rb["labels"] and ra["probs"] == pytest.approx(rb["probs"], abs=1e-5)
        assert ra["attention_frames"] == rb["attention_frames"]
    assert not list(tmp_path.glob("two.jsonl.rank*"))  # merged and removed


@pytest.mark.timeout(600)
def test_ray_engine_gives_the_records_of_the_local_engine_and_resumes(
    checkpoint_and_videos, bad_videos, tmp_path, monkeypatch
):
    """A local Ray instance with 2 CPUs: decoding actors and a model actor, the same records, a bad video
    as an error record inside the task, and a rerun that scores nothing twice."""
    ray = pytest.importorskip("ray")
    ckpt, videos = checkpoint_and_videos
    d = tmp_path / "in"
    d.mkdir()
    for v in videos[:3]:
        shutil.copy(v, d / v.name)
    shutil.copy(bad_videos["random_bytes"], d / "noise.mp4")
    local, remote = tmp_path / "local.jsonl", tmp_path / "ray.jsonl"
    assert score("--checkpoint", str(ckpt), str(d), "--out", str(local), "--all-scores") == 0
    # Ray starts its workers at niceness 15: on a machine already busy (the CI beside other jobs) they
    # starved until the other processes ended (a 600 s timeout); at 0 they share the cores fairly
    monkeypatch.setenv("RAY_worker_niceness", "0")
    ray.init(num_cpus=2, include_dashboard=False, log_to_driver=False)
    try:
        args = ["--checkpoint", str(ckpt), str(d), "--out", str(remote), "--all-scores", "--engine", "ray"]
        assert main(["score", *args, "--workers", "1"]) == 0
        first = remote.read_text()
        assert main(["score", *args, "--workers", "1"]) == 0
        assert remote.read_text() == first  # resumed: nothing scored twice
    finally:
        ray.shutdown()
    a = sorted(read_journal(local), key=lambda r: r["path"])
    b = sorted(read_journal(remote), key=lambda r: r["path"])
    assert [r["path"] for r in a] == [r["path"] for r in b] and len(b) == 4
    for ra, rb in zip(a, b, strict=True):
        assert ra["status"] == rb["status"] and ra["error"] == rb["error"]
        if ra["status"] == "ok":
            assert ra["scores"] == pytest.approx(rb["scores"], abs=1e-5)
    assert {Path(r["path"]).name for r in b if r["status"] == "error"} == {"noise.mp4"}


def test_shards_split_the_inputs_into_disjoint_parts(checkpoint_and_videos, tmp_path):
    """`--shard I/N` (a SLURM array task): the parts hold every video exactly once."""
    from pipeline.inference.collection import shard_of

    assert shard_of(list("abcde"), "1/2") == ["b", "d"] and shard_of(list("abcde"), None) == list("abcde")
    with pytest.raises(ValueError, match="I must be in 0..N-1"):
        shard_of(["a"], "2/2")
    ckpt, videos = checkpoint_and_videos
    seen = []
    for i in range(2):
        out = tmp_path / f"part_{i}.jsonl"
        assert score("--checkpoint", str(ckpt), *map(str, videos[:3]), "--out", str(out), "--shard", f"{i}/2") == 0
        seen += [r["path"] for r in read_journal(out)]
    assert sorted(seen) == sorted(str(v.resolve()) for v in videos[:3])


def test_model_threads_leave_the_decoding_workers_their_cores(checkpoint_and_videos, tmp_path, monkeypatch):
    ckpt, videos = checkpoint_and_videos
    before = torch.get_num_threads()
    try:
        monkeypatch.setattr("os.cpu_count", lambda: 4)
        torch.set_num_threads(4)
        assert main(["score", "--checkpoint", str(ckpt), str(videos[0]), "--out", str(tmp_path / "a.jsonl"),
                     "--workers", "3", "--device", "cpu"]) == 0  # fmt: skip
        assert torch.get_num_threads() == 1  # 4 cores - 3 workers
        assert main(["score", "--checkpoint", str(ckpt), str(videos[0]), "--out", str(tmp_path / "b.jsonl"),
                     "--workers", "1", "--device", "cpu"]) == 0  # fmt: skip
        assert torch.get_num_threads() == 3
        assert main(["score", "--checkpoint", str(ckpt), str(videos[0]), "--out", str(tmp_path / "c.jsonl"),
                     "--workers", "1", "--device", "cpu", "--threads", "2"]) == 0  # fmt: skip
        assert torch.get_num_threads() == 2
    finally:
        torch.set_num_threads(before)


def test_ray_starts_as_many_decoding_actors_as_fit_beside_the_model(monkeypatch):
    """On 2 CPUs, 2 decoders and a 1-CPU model actor asked for 3 CPUs and waited; a pool left to Ray's
    autoscaling stayed at 1. The pool is sized to the CPUs the model leaves: at most --workers, at least 1."""
    ray = pytest.importorskip("ray")
    from pipeline.inference.ray import decode_actors

    monkeypatch.setattr(ray, "cluster_resources", lambda: {"CPU": 2.0})
    assert decode_actors(2, 1) == 1  # this machine: the model's CPU and one decoder
    assert decode_actors(2, 0) == 2  # the model on a GPU
    assert decode_actors(8, 0) == 2  # never more actors than CPUs
    assert decode_actors(1, 4) == 1  # at least one
    monkeypatch.setattr(ray, "cluster_resources", lambda: {"CPU": 64.0})
    assert decode_actors(32, 1) == 32  # a cluster: as many as asked


@pytest.mark.parametrize(
    ("address", "set_by_user", "want"), [(None, None, "0"), (None, "7", "7"), ("ray://head:10001", None, None)]
)
def test_a_local_ray_instance_runs_its_workers_at_normal_priority(monkeypatch, address, set_by_user, want):
    """Ray's workers default to niceness 15 and starved beside other jobs; `vap score` starts its own local
    instance with them at 0, unless the user chose a niceness, and leaves a cluster's settings alone."""
    ray = pytest.importorskip("ray")
    from pipeline.inference.ray import score_with_ray

    for name, value in (("RAY_ADDRESS", address), ("RAY_worker_niceness", set_by_user)):
        if value is None:
            monkeypatch.delenv(name, raising=False)
        else:
            monkeypatch.setenv(name, value)
    seen = {}

    def init(**kwargs):
        seen.update(kwargs, niceness=os.environ.get("RAY_worker_niceness"))  # noqa: SIM112 (Ray's spelling)

    monkeypatch.setattr(ray, "is_initialized", lambda: False)
    monkeypatch.setattr(ray, "init", init)
    assert list(score_with_ray([], None, timeout=1.0, decoders=1)) == []
    assert seen["address"] == address and seen["niceness"] == want


def test_a_second_run_on_the_same_output_stops_at_once(checkpoint_and_videos, tmp_path, capsys):
    """Two runs on one --out would write every video twice: the second stops before any work."""
    ckpt, videos = checkpoint_and_videos
    out = tmp_path / "s.jsonl"
    holder = subprocess.Popen(
        [sys.executable, "-c", "import sys, time; from filelock import FileLock; lock = FileLock(sys.argv[1]); "
         "lock.acquire(); print('held', flush=True); time.sleep(120)", f"{out}.lock"], stdout=subprocess.PIPE,
        text=True,
    )  # fmt: skip
    try:
        assert holder.stdout.readline().strip() == "held"  # another run is writing `out`
        assert score("--checkpoint", str(ckpt), str(videos[0]), "--out", str(out)) == 1
        err = capsys.readouterr().err
        assert "another `vap score` run is writing it" in err and str(out) in err and len(err.splitlines()) == 1
        assert not out.exists()
    finally:
        holder.kill()
        holder.wait()
    assert score("--checkpoint", str(ckpt), str(videos[0]), "--out", str(out)) == 0  # the lock went with it
    assert len(read_journal(out)) == 1


def test_a_damaged_journal_line_is_taken_out_and_its_video_scored_again(checkpoint_and_videos, tmp_path, capsys):
    ckpt, videos = checkpoint_and_videos
    out = tmp_path / "s.jsonl"
    assert score("--checkpoint", str(ckpt), *map(str, videos[:3]), "--out", str(out)) == 0
    lines = out.read_bytes().splitlines(keepends=True)
    damaged = json.loads(lines[1])["path"]
    out.write_bytes(lines[0] + b'{"path": "half a rec\x00\n' + lines[2])  # a disk error in the middle
    with pytest.raises(ValueError, match=rf"{out.name}: line 2 is not a JSON record"):
        read_journal(out)
    capsys.readouterr()
    assert score("--checkpoint", str(ckpt), *map(str, videos[:3]), "--out", str(out)) == 0
    assert "line(s) 2 were not JSON records" in capsys.readouterr().err
    records = read_journal(out)
    assert sorted(r["path"] for r in records) == sorted(str(v.resolve()) for v in videos[:3])  # each once
    assert records[-1]["path"] == damaged  # the one that was lost, scored again


@pytest.mark.parametrize("case", ["folder", "below_a_file", "read_only"])
def test_an_output_that_cannot_be_written_stops_before_any_work(checkpoint_and_videos, tmp_path, capsys, case):
    ckpt, videos = checkpoint_and_videos
    if case == "folder":
        out = tmp_path / "existing.parquet"
        out.mkdir()
        why = "is a folder"
    elif case == "below_a_file":
        (tmp_path / "file").write_text("x")
        out, why = tmp_path / "file" / "s.jsonl", "cannot make its folder"
    else:
        if os.geteuid() == 0:
            pytest.skip("root writes into read-only folders; the folder case covers the check")
        (tmp_path / "ro").mkdir(mode=0o555)
        out, why = tmp_path / "ro" / "s.jsonl", "is not writable"
    started = time.monotonic()
    assert score("--checkpoint", str(ckpt), *map(str, videos), "--out", str(out)) == 1
    err = capsys.readouterr().err
    assert why in err and len(err.splitlines()) == 1 and "Traceback" not in err
    assert time.monotonic() - started < 20  # nothing scored first
    assert not [p for p in tmp_path.rglob("*") if p.name.endswith(".tmp") or ".tmp." in p.name]


@pytest.mark.parametrize(
    ("sig", "rc", "word"), [(signal.SIGTERM, 143, "terminated"), (signal.SIGINT, 130, "interrupted")]
)
def test_a_stopped_run_says_so_in_one_line_and_its_journal_stays_valid(checkpoint_and_videos, tmp_path, sig, rc,
                                                                       word):  # fmt: skip
    """SIGTERM (a scheduler's stop) to the process, Ctrl-C to the whole process group, as a terminal sends
    it: one line, no worker traceback, and a journal a rerun resumes from."""
    ckpt, small = checkpoint_and_videos
    videos = [tmp_path / "videos" / f"v{i:02d}.mp4" for i in range(40)]
    videos[0].parent.mkdir()
    for i, v in enumerate(videos):
        shutil.copy(small[i % len(small)], v)
    out = tmp_path / "s.jsonl"
    cmd = [sys.executable, "-m", "pipeline.cli", "score", "--checkpoint", str(ckpt), str(videos[0].parent), "--out",
           str(out), "--workers", "2", "--batch-clips", "1"]  # fmt: skip
    # as a terminal's foreground job: SIGINT at its default even where this test runs in the background
    # (`cmd &` in a script starts with SIGINT ignored, and a child inherits that)
    proc = subprocess.Popen(cmd, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True, start_new_session=True,
                            preexec_fn=lambda: signal.signal(signal.SIGINT, signal.SIG_DFL))  # fmt: skip
    deadline = time.monotonic() + 120
    while time.monotonic() < deadline and len(read_journal(out)) < 2:
        time.sleep(0.05)
    if sig == signal.SIGINT:
        os.killpg(proc.pid, sig)  # the terminal's Ctrl-C: the main process and its workers
    else:
        proc.send_signal(sig)
    err = proc.communicate(timeout=60)[1]
    assert proc.returncode == rc, err
    assert "Traceback" not in err and [line for line in err.splitlines() if line.strip()] == [f"vap: {word}"], err
    done = read_journal(out)
    assert 2 <= len(done) < len(videos)
    assert subprocess.run(cmd, capture_output=True, timeout=300).returncode == 0
    assert sorted(r["path"] for r in read_journal(out)) == sorted(str(v) for v in videos)  # each once
