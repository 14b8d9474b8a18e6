"""Conformance of the three decoding backends, bad input, and the measured `auto` choice."""

from __future__ import annotations

import subprocess

import numpy as np
import pytest
import torch
from conftest import SAMPLE_VIDEOS

from pipeline.data.backends import BACKENDS, available_backends, open_video
from pipeline.data.backends import auto as auto_mod
from pipeline.errors import VideoError

BACKEND_NAMES = ["pyav", "decord", "torchcodec"]
INDICES = [29, 0, 7, 7, 13, 6, 12, 5, 28]  # any order, repeats, keyframes (0, 6, 12) and their neighbours


def test_all_backends_installed():
    assert available_backends() == ["pyav", "torchcodec", "decord"]
    assert {*BACKEND_NAMES, "auto"} <= set(BACKENDS.names())


@pytest.mark.parametrize("backend", BACKEND_NAMES)
def test_lossless_frames_are_exact(backend, lossless_video):
    path, frames = lossless_video
    with open_video(path, backend) as r:
        assert (r.meta.num_frames, r.meta.width, r.meta.height) == (30, 40, 36)
        assert r.meta.fps == pytest.approx(25.0)
        assert r.meta.duration == pytest.approx(30 / 25)
        got = r.get_frames(INDICES)
    assert got.dtype == torch.uint8 and got.shape == (len(INDICES), 3, 36, 40)
    assert torch.equal(got, frames[INDICES])


@pytest.mark.parametrize("backend", BACKEND_NAMES)
def test_every_frame_in_order_is_exact(backend, lossless_video):
    path, frames = lossless_video
    with open_video(path, backend) as r:
        assert torch.equal(r.get_frames(range(30)), frames)


@pytest.mark.parametrize("backend", ["decord", "torchcodec"])
def test_backends_agree_on_lossy_h264(backend, lossy_video):
    path, frames = lossy_video
    idx = [39, 0, 8, 9, 17, 16, 31, 38, 3]
    with open_video(path, "pyav") as ref, open_video(path, backend) as r:
        assert r.meta == ref.meta
        a, b = ref.get_frames(idx), r.get_frames(idx)
    assert torch.equal(a, b)
    # and they are the frames that were written (lossy: close, and each the nearest written frame)
    err = (a.float()[:, None] - frames.float()[None]).abs().mean(dim=(2, 3, 4))  # (k, T)
    assert err.argmin(dim=1).tolist() == idx


@pytest.mark.parametrize("backend", ["decord", "torchcodec"])
@pytest.mark.parametrize("video", SAMPLE_VIDEOS, ids=lambda p: p.stem)
def test_backends_agree_on_real_videos(backend, video):
    with open_video(video, "pyav") as ref, open_video(video, backend) as r:
        assert r.meta.num_frames == ref.meta.num_frames
        assert (r.meta.width, r.meta.height) == (ref.meta.width, ref.meta.height)
        n = ref.meta.num_frames
        idx = np.linspace(0, n - 1, 8).astype(int)[::-1]
        a, b = ref.get_frames(idx).float(), r.get_frames(idx).float()
    assert (a - b).abs().mean() < 1.0  # lossy decoders may round differently, never by frames


@pytest.mark.parametrize("backend", BACKEND_NAMES)
def test_index_errors(backend, lossless_video):
    with open_video(lossless_video[0], backend) as r:
        with pytest.raises(IndexError, match="lossless.mkv"):
            r.get_frames([30])
        with pytest.raises(IndexError):
            r.get_frames([-1])
        with pytest.raises(ValueError, match="no frame"):
            r.get_frames([])


@pytest.mark.parametrize("backend", [*BACKEND_NAMES, "auto"])
@pytest.mark.parametrize(
    "case, reason",
    [
        ("zero_bytes", "empty file (0 bytes)"),
        ("random_bytes", "not a readable video"),
        ("truncated", "not a readable video"),
        ("text", "not a readable video"),
        ("audio_only", "no video stream"),
        ("missing", "no such file"),
    ],
)
def test_bad_input_is_one_clear_line(backend, case, reason, bad_videos):
    path = bad_videos[case]
    with pytest.raises(VideoError) as info:
        open_video(path, backend)
    msg = str(info.value)
    assert msg.startswith(f"{path}: ") and reason in msg
    assert "\n" not in msg and ".cc:" not in msg and ".cpp" not in msg
    assert info.value.path == str(path)


def test_directory_is_not_a_video(tmp_path):
    with pytest.raises(VideoError, match="is a directory"):
        open_video(tmp_path, "pyav")


@pytest.mark.parametrize("backend", BACKEND_NAMES)
def test_odd_but_valid_videos(backend, odd_good_videos):
    with open_video(odd_good_videos["one_frame"], backend) as r:
        assert r.meta.num_frames == 1
        assert r.get_frames([0, 0, 0]).shape == (3, 3, 40, 40)
    with open_video(odd_good_videos["non_ascii"], backend) as r:
        assert r.meta.num_frames == 10
        assert r.get_frames([9]).shape == (1, 3, 40, 40)


@pytest.mark.timeout(60)
@pytest.mark.parametrize("backend", BACKEND_NAMES)
def test_header_that_lies_is_clamped_not_hung(backend, tmp_path):
    """An mp4 with its index in front whose data is cut: the index promises frames that are gone."""
    import subprocess

    src = SAMPLE_VIDEOS[0]
    full = tmp_path / "faststart.mp4"
    subprocess.run(["ffmpeg", "-v", "error", "-y", "-i", str(src), "-c", "copy", "-movflags", "+faststart",
                    str(full)], check=True)  # fmt: skip
    cut = tmp_path / "cut.mp4"
    data = full.read_bytes()
    cut.write_bytes(data[: int(len(data) * 0.6)])
    with open_video(cut, backend) as r:
        promised = r.meta.num_frames
        frames = r.get_frames([0, promised - 1])
        assert frames.shape[0] == 2
        assert r.meta.num_frames < promised  # the reader learned the true count
        assert torch.equal(frames[1], frames[0])  # clamped to the last frame that decoded
        assert r.get_frames([r.meta.num_frames - 1]).shape[0] == 1  # later requests stay in range


@pytest.mark.parametrize("backend", BACKEND_NAMES)
def test_close_releases_and_is_idempotent(backend, lossless_video):
    r = open_video(lossless_video[0], backend)
    r.close()
    r.close()
    for attr in ("_container", "_vr", "_dec"):
        assert getattr(r, attr, None) is None


def test_bounded_memory_long_video_is_not_decoded_whole(tmp_path):
    """PyAV seeks to the keyframe before each wanted frame: decoding work is bounded by the GOP."""
    from pipeline.data.backends.pyav import PyAVReader
    from pipeline.data.writer import write_video

    frames = torch.zeros(300, 3, 32, 32, dtype=torch.uint8)
    frames[:, 0] = torch.arange(300)[:, None, None] % 256
    path = write_video(tmp_path / "long.mp4", frames, fps=25, gop=10)
    decoded = []

    class Counting(PyAVReader):
        def _decode(self, indices):
            import av

            original = av.container.InputContainer.decode
            count = [0]

            def counting(container, *a, **k):
                for f in original(container, *a, **k):
                    count[0] += 1
                    yield f

            av.container.InputContainer.decode = counting
            try:
                return super()._decode(indices)
            finally:
                av.container.InputContainer.decode = original
                decoded.append(count[0])

    with Counting(path) as r:
        r.get_frames([5, 150, 295])
    assert decoded[0] <= 3 * 12  # at most about one GOP per wanted frame, never the 300


def test_auto_order_is_fixed_and_serves_mp4_with_the_first(lossless_video):
    """The same order on every rank and worker: no measurement that could differ between processes."""
    assert auto_mod.candidates("auto") == ["pyav", "torchcodec", "decord"]
    assert auto_mod.candidates("decord") == ["decord", "pyav"] and auto_mod.candidates("pyav") == ["pyav"]
    with open_video(lossless_video[0], "auto") as r:
        assert r.backend == "pyav" and r.tried == []


def test_auto_falls_back_when_a_backend_is_missing(lossless_video, monkeypatch):
    import importlib.util

    real = importlib.util.find_spec
    monkeypatch.setattr(
        importlib.util, "find_spec", lambda name, *a: None if name in ("torchcodec", "decord") else real(name, *a)
    )
    auto_mod._installed.cache_clear()
    try:
        assert auto_mod.available_backends() == ["pyav"] and auto_mod.candidates("auto") == ["pyav"]
        with open_video(lossless_video[0], "auto") as r:
            assert r.backend == "pyav"
    finally:
        auto_mod._installed.cache_clear()


def test_a_backend_whose_library_does_not_load_is_passed_over(corpus, monkeypatch):
    """Installed but broken (e.g. TorchCodec without FFmpeg's libraries): the next backend serves."""
    monkeypatch.setattr(auto_mod, "_load_error", lambda name: "cannot load av: simulated" if name == "pyav" else None)
    with open_video(corpus["mp4_h264_bframes"][0], "auto") as r:
        assert r.backend == "torchcodec" and r.tried == [("pyav", "cannot load av: simulated")]


def test_auto_loads_only_the_backend_it_uses(lossless_video):
    """A fresh process serving an mp4 with `auto` imports PyAV only, not decord (about 430 MB)."""
    import subprocess
    import sys

    code = ("import sys\nfrom pipeline.data.backends import open_video\n"
            f"open_video({str(lossless_video[0])!r}, 'auto').get_frames([0])\n"
            "print('decord' in sys.modules, 'torchcodec.decoders' in sys.modules)")  # fmt: skip
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120, check=True)
    assert out.stdout.split() == ["False", "False"]


def test_unknown_backend_lists_allowed(lossless_video):
    with pytest.raises(KeyError, match="allowed: auto, decord, pyav, torchcodec"):
        open_video(lossless_video[0], "opencv")


@pytest.mark.timeout(120)
def test_pyav_decodes_in_a_forked_child_after_the_parent_did(lossless_video):
    """swscale's slice threads do not survive fork: a child must not reuse the parent's context."""
    import multiprocessing as mp

    path, frames = lossless_video
    with open_video(path, "pyav") as r:
        r.get_frames([0, 1])  # the parent converts first
    ctx = mp.get_context("fork")
    with ctx.Pool(1, initializer=torch.set_num_threads, initargs=(1,)) as pool:  # as DataLoader workers do
        got = pool.apply_async(_decode_sum, (str(path),)).get(timeout=60)
    assert got == int(frames[[3, 4]].sum())


def _decode_sum(path: str) -> int:
    with open_video(path, "pyav") as r:
        return int(r.get_frames([3, 4]).sum())


def test_decord_private_frame_index_is_still_there(lossy_video):
    """Pinned: the decord backend reads decord2's `_frame_pts` (its packet index; no public length)."""
    import decord

    vr = decord.VideoReader(str(lossy_video[0]))
    vr.get_frame_timestamp(0)
    assert len(vr._frame_pts) == 40


def test_pyav_counts_the_frames_its_codec_decodes(tmp_path):
    """A seek decodes from the keyframe before its frame: asked for frame 9 of a video with a keyframe every
    4 frames, the codec decodes frames 8 and 9; a sequential read decodes each frame once."""
    path = tmp_path / "gop4.mp4"
    subprocess.run(["ffmpeg", "-v", "error", "-f", "lavfi", "-i", "testsrc2=size=64x48:rate=25:duration=0.48",
                    "-c:v", "libx264", "-g", "4", "-keyint_min", "4", "-sc_threshold", "0", "-bf", "0",
                    "-pix_fmt", "yuv420p", str(path)], check=True, timeout=60)  # fmt: skip
    with open_video(path, "pyav") as reader:
        assert reader.meta.num_frames == 12 and reader.codec_frames == 0
        reader.get_frames([9])
        assert reader.codec_frames == 2
        reader.get_frames(list(range(12)))
        assert reader.codec_frames == 2 + 12
    with open_video(path, "decord") as reader:
        assert reader.codec_frames is None  # decord does not say
