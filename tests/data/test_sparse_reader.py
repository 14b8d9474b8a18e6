"""SparseReader: the keyframes alone, and glimpses that skip the frames nothing refers to, return exactly
the frames a sequential decode presents, while the codec decodes fewer of them."""

from __future__ import annotations

import subprocess
from contextlib import closing
from pathlib import Path

import numpy as np
import pytest
import torch
from video_corpus import X264, Case, ffmpeg_numbers, read_number, write_case

from pipeline.data.backends.pyav import PyAVReader
from pipeline.data.sparse_reader import SparseReader

LONG_GOP = Case("long_gop_bframes", ".mp4", (*X264, "-bf", "3", "-g", "100"), num_frames=300, size=(96, 64))


@pytest.fixture(scope="module")
def long_gop(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, list[int], list[int]]:
    """A 300-frame H.264 mp4 with B-frames and a keyframe at most every 100 frames: path, the number on
    every presented frame, and the keyframes' indices (ffprobe's)."""
    d = tmp_path_factory.mktemp("sparse")
    path = write_case(LONG_GOP, d)
    cmd = ["ffprobe", "-v", "error", "-select_streams", "v:0", "-show_entries", "frame=key_frame", "-of", "csv=p=0"]
    probe = subprocess.run([*cmd, str(path)], capture_output=True, text=True, check=True, timeout=60)
    keys = [i for i, line in enumerate(probe.stdout.split()) if line.strip().startswith("1")]
    return path, ffmpeg_numbers(path), keys


def test_keyframes_alone_are_the_files_keyframes_and_cost_only_themselves(long_gop) -> None:
    path, numbers, keys = long_gop
    with SparseReader(path) as reader:
        index, frames = reader.keyframes()
        assert index.tolist() == keys and 3 <= len(keys) < 20
        assert [read_number(f) for f in frames] == [numbers[k] for k in keys]
        assert reader.codec_frames == len(keys)  # nothing but the keyframes was decoded
        assert torch.equal(reader.get_frames([5, 6]), PyAVReader(path).get_frames([5, 6]))  # decoding every frame again


@pytest.mark.parametrize("start", [0, 37, 90, 150, 270])
def test_a_glimpse_is_exact_and_decodes_no_more_than_from_the_keyframe_before(long_gop, start: int) -> None:
    path, numbers, keys = long_gop
    idx = np.unique(np.minimum(start + np.arange(8) * 3, 299))
    with SparseReader(path) as sparse, PyAVReader(path) as plain:
        got = sparse.sparse(idx)
        assert torch.equal(got, plain.get_frames(idx))
        assert [read_number(f) for f in got] == [numbers[i] for i in idx]
        key = max(k for k in keys if k <= idx[0])
        assert sparse.codec_frames <= idx[-1] - key + 1


def test_repeated_and_unordered_frames_come_back_in_the_order_asked(long_gop) -> None:
    path, numbers, _ = long_gop
    idx = np.array([299, 296, 299, 299, 293])  # the last clip of a video: clamped to its last frame
    with SparseReader(path) as sparse, SparseReader(path) as ordered:
        got = sparse.sparse(idx)
        assert [read_number(f) for f in got] == [numbers[i] for i in idx]
        ordered.sparse(np.unique(idx))
        assert sparse.codec_frames == ordered.codec_frames  # the same skipping decode, not a fallback


def test_reference_frames_are_exact_skip_the_frames_nothing_refers_to_and_may_stop_early(long_gop) -> None:
    path, numbers, _ = long_gop
    starts = np.arange(0, 300, 25)
    with SparseReader(path) as reader:
        got = list(reader.reference_frames(starts))
        assert [s for s, _, _ in got] == list(range(len(starts)))
        frames = [i for _, i, _ in got]
        assert all(s <= i < s + 4 for s, i in zip(starts, frames, strict=True))  # the first at or after each start
        assert [read_number(f) for _, _, f in got] == [numbers[i] for i in frames]
        assert reader.codec_frames < 0.7 * 300  # most B-frames were never decoded
        before = reader.codec_frames
        with closing(reader.reference_frames(starts)) as sweep:
            for s, _, _ in sweep:
                if s == 2:
                    break
        assert reader.codec_frames - before < 80  # stopped after the third slot
        idx = np.array([101, 102, 103])  # the decoder decodes every frame again
        assert [read_number(f) for f in reader.sparse(idx)] == [numbers[i] for i in idx]


def test_a_far_glimpse_skips_most_b_frames(tmp_path: Path) -> None:
    """One 300-frame group of pictures (no scene cut): a glimpse 200 frames in decodes about the reference
    frames before it (x264's default three B-frames: 1 in 4 is P) and every frame of the last `LEAD`."""
    path = tmp_path / "one_gop.mp4"
    source = ["-f", "lavfi", "-i", "testsrc2=size=96x64:rate=25", "-frames:v", "300"]
    one_gop = ["-bf", "3", "-g", "300", "-sc_threshold", "0"]
    subprocess.run(["ffmpeg", "-v", "error", *source, *X264, *one_gop, str(path)], check=True, timeout=60)
    idx = 200 + np.arange(8) * 3
    with SparseReader(path) as sparse, PyAVReader(path) as plain:
        assert sparse.keyframes()[0].tolist() == [0]
        before = sparse.codec_frames
        assert torch.equal(sparse.sparse(idx), plain.get_frames(idx))
        assert plain.codec_frames >= 220  # every frame from the keyframe (less the one opening decoded)
        assert sparse.codec_frames - before < 0.7 * plain.codec_frames  # B-frames before the lead skipped


@pytest.mark.parametrize("name", ["avi_mpeg4", "mpg_mpeg2", "mkv_h264", "mp4_rotated"])
def test_other_containers_give_the_frames_of_a_sequential_decode(corpus, name: str) -> None:
    path, numbers = corpus[name]
    with SparseReader(path) as reader:
        index, frames = reader.keyframes()
        idx = np.array([20, 23, 26, 29])
        got = reader.sparse(idx)
        swept = [i for _, i, _ in reader.reference_frames(np.array([0, 20, 40]))]
        assert swept[0] >= 0 and 20 <= swept[1] < 24 and 40 <= swept[2] < 44
        with PyAVReader(path) as plain:
            assert index[0] == 0 and torch.equal(frames, plain.get_frames(index))
            assert torch.equal(got, plain.get_frames(idx))
        if name != "mp4_rotated":
            assert [read_number(f) for f in got] == [numbers[i] for i in idx]
