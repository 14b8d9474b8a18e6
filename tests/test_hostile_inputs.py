"""Every command on a corpus of hostile and careless names and files: no traceback reaches the user, the
exit code is the documented one (0 all done, 1 some input bad, 2 usage), and every error names the file
and the reason, on one line."""

from __future__ import annotations

import os
import shutil
from pathlib import Path

import pytest
from conftest import train_tiny_checkpoint

from pipeline.cli import main
from pipeline.errors import display_path, printable
from pipeline.models.backbones import build_backbone

REPO = Path(__file__).resolve().parents[1]
GOOD = ["ok.mp4", "a b.mp4", "-rf.mp4", ".hidden.mp4", "...mp4", "new\nline.mp4", os.fsdecode(b"caf\xe9.mp4")]
BAD = {"empty.mp4": "empty file", "text.mp4": "", "truncated.mp4": "", "dangling.mp4": "dangling symbolic link",
       "loop.mp4": "symbolic link loop"}  # fmt: skip


@pytest.fixture(scope="module")
def corpus(tmp_path_factory) -> Path:
    root = tmp_path_factory.mktemp("hostile") / "in"
    root.mkdir()
    sample = REPO / "datasets" / "samples" / "carphone_pristine.mp4"
    for name in GOOD:
        shutil.copy(sample, root / name)
    (root / "empty.mp4").write_bytes(b"")
    (root / "text.mp4").write_text("this is not a video\n")
    (root / "truncated.mp4").write_bytes(sample.read_bytes()[:4000])
    (root / "dangling.mp4").symlink_to(root / "nowhere" / "x.mp4")
    (root / "loop.mp4").symlink_to(root / "loop.mp4")
    return root


def shown(name: str) -> str:
    return printable(display_path(name))


def check_errors(err: str, expect_bad: dict[str, str]) -> None:
    assert "Traceback" not in err, err
    lines = [line for line in err.splitlines() if line.strip()]
    assert not [line for line in lines if line.lstrip("│ ").startswith("line.mp4")], err  # no forged line
    for name, reason in expect_bad.items():
        hits = [line for line in lines if shown(name) in line]
        assert hits, (name, err)
        assert reason in hits[0], (name, hits[0])


def test_vap_check(corpus, tmp_path, capsys):
    assert main(["check", str(corpus), "--out", str(tmp_path / "q.json"), "--jobs", "1"]) == 1  # some are bad
    out, err = capsys.readouterr()
    check_errors(out + err, BAD)
    for name in GOOD:
        assert f"bad {shown(name)}" not in out + err


def test_vap_score(corpus, tmp_path, capsys):
    ckpt = train_tiny_checkpoint(tmp_path, make_args={"num_train": 6, "num_val": 3, "num_test": 3}, num_segments=4)
    out = tmp_path / "s.parquet"
    assert main(["score", "--checkpoint", str(ckpt), str(corpus), "--out", str(out), "--workers", "1"]) == 0
    _, err = capsys.readouterr()
    check_errors(err, BAD)
    import pyarrow.parquet as pq

    records = pq.read_table(out).to_pylist()
    assert len(records) == len(GOOD) + len(BAD)
    assert sorted(r["path"] for r in records if r["status"] == "ok") == sorted(
        display_path(corpus / n) for n in GOOD
    )  # fmt: skip
    for r in records:  # every record finds its file again
        assert os.path.lexists(os.fsdecode(bytes.fromhex(r["path_hex"])) if r["path_hex"] else r["path"])


def test_vap_summarize(corpus, tmp_path, capsys, monkeypatch):
    monkeypatch.setattr("pipeline.inference.summarize.video.default_backbone", lambda: build_backbone("tiny").eval())
    out = tmp_path / "out"
    assert main(["summarize", str(corpus), "--out", str(out), "--no-video", "--ratio", "0.3"]) == 1
    _, err = capsys.readouterr()
    check_errors(err, BAD)
    done = [p for p in out.rglob("summary.json")]
    assert len(done) == len(GOOD)
    root = os.path.realpath(out)
    assert all(os.path.commonpath([root, os.path.realpath(p)]) == root for p in out.rglob("*"))


MISSING = [["score", "--checkpoint", "nope.ckpt", "x", "--out", "s.jsonl"], ["check", "no/such/folder"],
           ["summarize", "no/such.mp4", "--out", "o"]]  # fmt: skip


@pytest.mark.parametrize("command", MISSING)
def test_a_missing_input_is_one_line(command, tmp_path, monkeypatch, capsys):
    monkeypatch.chdir(tmp_path)
    assert main(command) == 1
    err = [line for line in capsys.readouterr().err.splitlines() if line.strip()]
    assert len(err) == 1 and err[0].startswith(f"vap {command[0]}: error:") and "no" in err[0], err
