"""summary.mp4 by stream copy (pipeline/data/remux.py): keyframe-aligned frame ranges of an mp4 come out
packet for packet, with B-frames, in order and no frame more or less; anything else is refused, not
half-written."""

import subprocess

import numpy as np
import pytest
import torch

from pipeline.data.backends import open_video
from pipeline.data.remux import copy_ranges, keyframe_frames
from pipeline.data.writer import write_video
from tests.video_corpus import number_frame, read_number

N = 60


def _numbered(path, gop: int = 10, **kw):
    frames = torch.from_numpy(np.stack([number_frame(n, 64, 96) for n in range(N)])).permute(0, 3, 1, 2)
    return write_video(path, frames, fps=25, gop=gop, crf=10, **kw)


def _numbers(path) -> list[int]:
    with open_video(path, backend="pyav") as v:
        return [read_number(f) for f in v.get_frames(list(range(v.meta.num_frames)))]


@pytest.fixture()
def mp4(tmp_path):
    path = _numbered(tmp_path / "n.mp4")
    out = subprocess.run(["ffprobe", "-v", "error", "-select_streams", "v", "-show_entries", "stream=has_b_frames",
                          "-of", "csv=p=0", str(path)], capture_output=True, text=True, check=True).stdout  # fmt: skip
    assert int(out.strip()) > 0  # B-frames: decode order differs from presentation order
    return path


def _keys(path) -> list[int]:
    """Keyframes as a sequential decode finds them (PyAV's key_frame flag), to check the index against."""
    import av

    with av.open(str(path)) as c:
        return [i for i, f in enumerate(c.decode(video=0)) if f.key_frame]


def test_keyframes_come_from_the_index(mp4):
    keys = keyframe_frames(mp4)
    assert keys is not None and keys.tolist() == _keys(mp4) and len(keys) >= 5  # at most 10 frames apart


def test_aligned_ranges_are_copied_frame_for_frame(mp4, tmp_path):
    k = keyframe_frames(mp4).tolist()  # x264 adds keyframes where the picture changes: take them as they are
    ranges = [(k[1], k[2] - 1), (k[3], k[4] - 1), (k[-1], N - 1)]
    dst = tmp_path / "copy.mp4"
    assert copy_ranges(mp4, ranges, dst, num_frames=N)
    expected = [n for a, b in ranges for n in range(a, b + 1)]
    assert _numbers(dst) == expected
    with open_video(dst, backend="pyav") as v:
        assert v.meta.num_frames == len(expected) and v.meta.fps == pytest.approx(25)
    # the copy is the source's own pixels: the same frames as decoding the source
    with open_video(mp4, backend="pyav") as src, open_video(dst, backend="pyav") as out:
        assert torch.equal(src.get_frames(expected), out.get_frames(list(range(len(expected)))))


@pytest.mark.parametrize("case", ["start off a keyframe", "end off a keyframe", "one range off", "past the end",
                                  "nothing"])  # fmt: skip
def test_unaligned_ranges_are_refused_and_nothing_is_written(mp4, tmp_path, case):
    k = keyframe_frames(mp4).tolist()
    ranges = {
        "start off a keyframe": [(k[1] + 1, k[2] - 1)],
        "end off a keyframe": [(k[1], k[2] - 2)],
        "one range off": [(k[1], k[2] - 1), (k[3] + 1, k[4] - 1)],
        "past the end": [(k[-1], N)],
        "nothing": [],
    }[case]
    dst = tmp_path / "copy.mp4"
    assert not copy_ranges(mp4, ranges, dst, num_frames=N)
    assert not dst.exists()


def test_other_containers_and_frame_counts_are_refused(tmp_path):
    mkv = _numbered(tmp_path / "n.mkv", lossless=True)
    assert keyframe_frames(mkv) is None
    assert not copy_ranges(mkv, [(0, 9)], tmp_path / "a.mp4", num_frames=N)
    mp4 = _numbered(tmp_path / "n.mp4")
    assert not copy_ranges(mp4, [(0, 9)], tmp_path / "b.mp4", num_frames=N - 1)  # the decode sees other frames
    assert not (tmp_path / "a.mp4").exists() and not (tmp_path / "b.mp4").exists()
