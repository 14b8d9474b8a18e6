"""The one atomic writer: whole or absent, the user's file mode, and no temporary file left for long."""

from __future__ import annotations

import os
import stat
import subprocess
import sys

import pytest

from pipeline.data.records import atomic_path, write_atomic


def dead_pid() -> int:
    proc = subprocess.Popen([sys.executable, "-c", "pass"])
    proc.wait()
    return proc.pid


def test_a_killed_writers_temp_files_are_removed_by_the_next_write(tmp_path):
    target = tmp_path / "summary.mp4"
    stale = [tmp_path / f".summary.{dead_pid()}.tmp.mp4", tmp_path / f".summary.{dead_pid()}.tmp.video.mp4"]
    running = tmp_path / f".summary.{os.getppid()}.tmp.mp4"  # a writer that is still alive
    other = tmp_path / f".other.{dead_pid()}.tmp.mp4"  # another output's: not this write's business
    for p in (*stale, running, other):
        p.write_bytes(b"half")
    write_atomic(target, b"whole")
    assert target.read_bytes() == b"whole"
    assert sorted(p.name for p in tmp_path.iterdir()) == sorted([target.name, running.name, other.name])


def test_a_failed_write_leaves_the_old_file_and_no_temp(tmp_path):
    target = tmp_path / "s.json"
    target.write_text("old")
    with pytest.raises(OSError), atomic_path(target) as tmp:
        tmp.write_text("half")
        raise OSError(28, "No space left on device")
    assert target.read_text() == "old" and [p.name for p in tmp_path.iterdir()] == ["s.json"]


def test_outputs_follow_the_umask(tmp_path):
    old = os.umask(0o027)
    try:
        path = write_atomic(tmp_path / "summary.json", "{}")
    finally:
        os.umask(old)
    assert stat.S_IMODE(path.stat().st_mode) == 0o640
