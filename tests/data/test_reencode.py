"""`vap data reencode`: size, keyframe interval, no audio; both encoders; clear errors."""

from __future__ import annotations

import av
import numpy as np
import pytest
from conftest import SAMPLES

from pipeline.cli import main
from pipeline.data.reencode import reencode, scaled_size
from pipeline.errors import VideoError


def keyframe_gaps(path) -> tuple[int, int, int, int]:
    with av.open(str(path)) as c:
        s = c.streams.video[0]
        keys = [p.is_keyframe for p in c.demux(s) if p.size]
        w, h = s.codec_context.width, s.codec_context.height
        audio = len(c.streams.audio)
    gaps = np.diff(np.flatnonzero(keys)) if sum(keys) > 1 else np.array([len(keys)])
    return int(gaps.max()), w, h, audio


def test_scaled_size():
    assert scaled_size(1280, 720, 256) == (454, 256)
    assert scaled_size(720, 1280, 256) == (256, 454)
    assert scaled_size(176, 144, 256) == (176, 144)  # never upscaled
    assert scaled_size(641, 273, None) == (640, 272)  # even for yuv420p


@pytest.mark.parametrize("tool", ["pyav", "ffmpeg"])
def test_reencode_short_side_and_gop(tool, tmp_path):
    src = SAMPLES / "bigbuckbunny.mp4"  # 1280x720, a single keyframe in 132 frames
    assert keyframe_gaps(src)[0] > 100
    out = reencode(src, tmp_path / "out.mp4", short_side=128, gop=8, tool=tool)
    gap, w, h, audio = keyframe_gaps(out)
    assert (w, h) == (228, 128) and gap <= 8 and audio == 0
    with av.open(str(out)) as c:
        assert sum(1 for p in c.demux(c.streams.video[0]) if p.size) == 132


def test_reencode_folder_through_cli(tmp_path, capsys):
    src = tmp_path / "in" / "a"
    src.mkdir(parents=True)
    (src / "clip.mp4").write_bytes((SAMPLES / "carphone_pristine.mp4").read_bytes())
    (src / "bad.mp4").write_bytes(b"junk" * 100)
    code = main(["data", "reencode", str(tmp_path / "in"), str(tmp_path / "out"), "--short-side", "64", "--gop", "4"])
    assert code == 1  # one video failed; the other is done
    assert keyframe_gaps(tmp_path / "out" / "a" / "clip.mp4")[1:3] == (78, 64)
    assert "bad.mp4: not a readable video" in capsys.readouterr().out


def test_reencode_missing_file(tmp_path):
    with pytest.raises(VideoError, match="no such file"):
        reencode(tmp_path / "nope.mp4", tmp_path / "o.mp4")


def test_a_killed_encoder_leaves_no_truncated_output_for_skip_existing(tmp_path, monkeypatch):
    """ffmpeg killed mid-way (here: its timeout) leaves no file under the output name, so a rerun with
    --skip-existing re-encodes the video instead of keeping half of it."""
    import subprocess

    src, dst = SAMPLES / "bigbuckbunny.mp4", tmp_path / "out" / "bbb.mp4"
    real_run = subprocess.run

    def killed(cmd, **kwargs):
        assert kwargs.get("timeout"), "ffmpeg must run under a timeout"
        with open(cmd[-1], "wb") as f:  # the encoder got this far
            f.write(b"\x00\x00\x00\x18ftypisom" + b"\x00" * 100)
        raise subprocess.TimeoutExpired(cmd, kwargs["timeout"])

    monkeypatch.setattr(subprocess, "run", killed)
    with pytest.raises(VideoError, match="did not finish"):
        reencode(src, dst, short_side=64, tool="ffmpeg")
    assert not dst.exists() and not list(dst.parent.iterdir())  # no output, no temp file left
    monkeypatch.setattr(subprocess, "run", real_run)
    args = ["data", "reencode", str(src), str(dst), "--short-side", "64", "--skip-existing", "--tool", "ffmpeg"]
    assert main(args) == 0
    assert keyframe_gaps(dst)[1:3] == (114, 64)  # 1280x720 -> short side 64, even
