"""Output files that a killed run leaves valid: an append-only JSONL journal, Parquet written whole.

A run appends one JSON line per finished video and flushes it to the operating system before the
next, so a `kill -9` loses at most the line being written (reading the journal drops a torn last line);
`fsync`, which guards against a machine crash as well, runs every few seconds and at the end (after
every line it cost more than the scoring of a small video). Parquet has
its footer at the end and a `ParquetWriter` killed before `close()` leaves an unreadable file
(apache/arrow#42729), so Parquet is written only from finished records, to a temporary name, then
renamed (`os.replace` is atomic on one file system). The same temp-and-rename serves every file a later
run trusts: `atomic_path` for a writer that wants a file name (PyAV, h5py, torch.save, ffmpeg),
`write_atomic` for bytes or text; nothing else in the package renames temp files.
"""

from __future__ import annotations

import glob
import json
import os
import time
from collections.abc import Iterable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from pipeline.errors import ConfigError


def check_writable(path: str | os.PathLike[str], *, what: str = "--out") -> Path:
    """Make sure a file can be written at `path` before any work: it is not a folder, and its folder
    exists (or can be made) and is writable. One-line ConfigError otherwise."""
    path = Path(path)
    if path.is_dir():
        raise ConfigError(f"{path}: is a folder; {what} names a file")
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
    except OSError as e:
        raise ConfigError(f"{path}: cannot make its folder {path.parent} ({e.strerror or e})") from None
    if not os.access(path.parent, os.W_OK):
        raise ConfigError(f"{path}: its folder {path.parent} is not writable")
    return path


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:  # someone else's process
        return True
    return True


def _remove_stale(path: Path) -> None:
    """Remove the temporary files of `path` that a killed writer left (`.<stem>.<pid>.tmp...` of a process
    that is gone); those of a writer still running stay."""
    for tmp in path.parent.glob(f".{glob.escape(path.stem)}.*.tmp*"):
        pid = tmp.name[len(path.stem) + 2 :].split(".", 1)[0]
        if pid.isdigit() and int(pid) != os.getpid() and not _alive(int(pid)):
            tmp.unlink(missing_ok=True)


@contextmanager
def atomic_path(path: str | os.PathLike[str]) -> Iterator[Path]:
    """A temporary name beside `path` to write to: renamed to `path` when the block ends, removed when it
    raises. It keeps `path`'s suffix, for writers that choose the format by the name (muxers)."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    _remove_stale(path)
    tmp = path.with_name(f".{path.stem}.{os.getpid()}.tmp{path.suffix}")
    try:
        yield tmp
        os.replace(tmp, path)
    finally:
        tmp.unlink(missing_ok=True)


def write_atomic(path: str | os.PathLike[str], data: bytes | str) -> Path:
    """Write `data` to `path` through a temporary file in the same folder (synced), then rename it."""
    with atomic_path(path) as tmp, open(tmp, "wb") as f:
        f.write(data.encode("utf-8") if isinstance(data, str) else data)
        f.flush()
        os.fsync(f.fileno())
    return Path(path)


def _record(line: bytes) -> dict[str, Any] | None:
    try:
        record = json.loads(line)
    except ValueError:
        return None
    return record if isinstance(record, dict) else None


def read_journal(path: str | os.PathLike[str]) -> list[dict[str, Any]]:
    """The complete records of a JSONL journal; a last line torn by a kill is left out. A line in the
    middle that is not a JSON record (a disk or an editor damaged it) stops with the file and the line:
    `repair_journal` takes such lines out."""
    path = Path(path)
    if not path.exists():
        return []
    records = []
    with open(path, "rb") as f:
        for n, line in enumerate(f, 1):
            if not line.endswith(b"\n"):
                break  # the line being written when the run was killed
            record = _record(line)
            if record is None:
                raise ValueError(f"{path}: line {n} is not a JSON record")
            records.append(record)
    return records


def repair_journal(path: str | os.PathLike[str]) -> list[int]:
    """Take out of a journal the lines in the middle that are not JSON records (atomically), so a run can
    resume: the videos they stood for are not done and are scored again. Returns their line numbers."""
    path = Path(path)
    if not path.exists():
        return []
    good, bad = [], []
    with open(path, "rb") as f:
        for n, line in enumerate(f, 1):
            if not line.endswith(b"\n"):
                break  # a torn last line: `Journal` cuts it
            if _record(line) is None:
                bad.append(n)
            else:
                good.append(line)
    if bad:
        write_atomic(path, b"".join(good))
    return bad


class Journal:
    """Append-only JSONL: `append(record)` returns once the line is with the operating system."""

    def __init__(self, path: str | os.PathLike[str], *, sync_seconds: float = 2.0) -> None:
        self.path = Path(path)
        self.sync_seconds = sync_seconds
        self._synced = time.monotonic()
        self.path.parent.mkdir(parents=True, exist_ok=True)
        self._cut_torn_tail()
        self._file = open(self.path, "ab")  # noqa: SIM115 - kept open for the run, closed in close()

    def _cut_torn_tail(self) -> None:
        """Drop a partial last line left by a kill, so the next record starts on a line of its own."""
        if not self.path.exists() or self.path.stat().st_size == 0:
            return
        data = self.path.read_bytes()
        end = data.rfind(b"\n") + 1
        if end != len(data):
            with open(self.path, "r+b") as f:
                f.truncate(end)

    def append(self, record: dict[str, Any]) -> None:
        self._file.write(json.dumps(record, ensure_ascii=False).encode("utf-8") + b"\n")
        self._file.flush()
        if time.monotonic() - self._synced >= self.sync_seconds:
            os.fsync(self._file.fileno())
            self._synced = time.monotonic()

    def close(self) -> None:
        self._file.flush()
        os.fsync(self._file.fileno())
        self._file.close()

    def __enter__(self) -> Journal:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


def write_parquet(records: Iterable[dict[str, Any]], path: str | os.PathLike[str]) -> Path:
    """All `records` as one Parquet file, written under a temporary name and renamed."""
    import pyarrow as pa
    import pyarrow.parquet as pq

    table = pa.Table.from_pylist(list(records))
    if "embedding" in table.column_names:  # one length for every video: a fixed-size float column
        lengths = {len(e) for e in table.column("embedding").to_pylist() if e is not None}
        if len(lengths) == 1:
            typ = pa.list_(pa.float32(), lengths.pop())
            table = table.set_column(table.column_names.index("embedding"), "embedding",
                                     table.column("embedding").cast(typ))  # fmt: skip
    with atomic_path(path) as tmp:
        pq.write_table(table, tmp)
    return Path(path)
