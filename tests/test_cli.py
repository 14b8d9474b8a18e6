"""The `vap` entry point as a user meets it."""

from __future__ import annotations

import subprocess
import sys

import pytest

from pipeline import __version__
from pipeline.cli import main


def test_help_lists_every_command(capsys):
    with pytest.raises(SystemExit) as e:
        main(["--help"])
    assert e.value.code == 0
    out = capsys.readouterr().out
    for command in ("train", "score", "summarize", "check", "data", "list"):
        assert f"    {command}" in out
    assert "bench-data" not in out  # a benchmark, under scripts/bench/, not a command of the product


def test_version(capsys):
    with pytest.raises(SystemExit):
        main(["--version"])
    assert capsys.readouterr().out.strip() == f"vap {__version__}"


def test_no_command_prints_help_and_fails(capsys):
    assert main([]) == 2
    assert "usage: vap" in capsys.readouterr().out


def test_list_prints_every_registry(capsys):
    assert main(["list"]) == 0
    out = capsys.readouterr().out
    for kind in ("backend", "sampler", "transform", "annotation format", "data maker", "agent"):
        assert f"{kind} (" in out
    for name in (
        "torchcodec",
        "decord",
        "pyav",
        "auto",
        "tsn",
        "dense",
        "ucf101",
        "kinetics",
        "moving-digits",
        "video_glimpse",
    ):
        assert name in out
    assert "installed backends: pyav, torchcodec, decord" in out


def test_list_one_kind_and_unknown_kind(capsys):
    assert main(["list", "sampler"]) == 0
    assert "tsn" in capsys.readouterr().out
    assert main(["list", "optimizer"]) == 1
    assert "unknown registry 'optimizer'; allowed:" in capsys.readouterr().err


def test_console_script_is_installed():
    out = subprocess.run([sys.executable, "-m", "pipeline.cli", "--version"], capture_output=True, text=True)
    assert out.returncode == 0 and out.stdout.startswith("vap ")


@pytest.mark.parametrize("bug", [RuntimeError("boom"), ValueError("boom"), KeyError("boom")])
def test_a_real_bug_shows_its_traceback(bug, monkeypatch):
    """Only our own error types end in one line; a bug inside a command propagates (a traceback)."""
    import pipeline.apps.listing as listing

    def broken(args):
        raise bug

    monkeypatch.setattr(listing, "main", broken)
    with pytest.raises(type(bug), match="boom"):
        main(["list"])


def test_our_errors_end_in_one_line(capsys, monkeypatch):
    import pipeline.apps.listing as listing
    from pipeline.errors import ConfigError, VideoError

    for error in (ConfigError("model.lr: must be positive"), VideoError("a.mp4", "empty file (0 bytes)")):
        monkeypatch.setattr(listing, "main", lambda args, e=error: (_ for _ in ()).throw(e))
        assert main(["list"]) == 1
        assert capsys.readouterr().err.strip() == f"vap list: error: {error}"
