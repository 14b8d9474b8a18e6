"""TVSum/SumMe h5 files in the exact ECCV16 layout: reading, checks with one-line errors, k-fold splits."""

from __future__ import annotations

import h5py
import numpy as np
import pytest

from pipeline.data.summary_h5 import SummaryVideo, kfold_splits, read_summary_h5, write_summary_h5
from pipeline.errors import AnnotationError


def _official_group(f: h5py.File, key: str, n_frames: int = 40, name: bytes | None = None) -> h5py.Group:
    """One video as the ECCV16 files store it: float32 arrays, int change points, a scalar n_frames."""
    g = f.create_group(key)
    picks = np.arange(0, n_frames, 15)  # every 15th frame
    g["features"] = np.ones((len(picks), 1024), np.float32)
    g["gtscore"] = np.linspace(0, 1, len(picks)).astype(np.float32)
    g["gtsummary"] = np.zeros(len(picks), np.float32)
    users = np.zeros((3, n_frames), np.float32)
    users[:, :5] = 1
    g["user_summary"] = users
    g["change_points"] = np.array([[0, 9], [10, n_frames - 1]], np.int32)
    g["n_frame_per_seg"] = np.array([10, n_frames - 10], np.int32)
    g["n_frames"] = np.float64(n_frames)  # stored as a float in the published files
    g["picks"] = picks.astype(np.int32)
    if name is not None:
        g["video_name"] = name
    return g


def test_reads_official_layout_in_natural_order(tmp_path):
    path = tmp_path / "eccv16_dataset_summe_google_pool5.h5"
    with h5py.File(path, "w") as f:
        for i in (10, 2, 1):
            _official_group(f, f"video_{i}", n_frames=40 + i, name=f"Clip {i}".encode())
    videos = read_summary_h5(path)
    assert [v.key for v in videos] == ["video_1", "video_2", "video_10"]
    v = videos[2]
    assert v.n_frames == 50 and v.video_name == "Clip 10" and v.n_steps == 4
    assert v.picks.tolist() == [0, 15, 30, 45] and v.features.shape == (4, 1024)
    assert v.change_points.tolist() == [[0, 9], [10, 49]] and v.user_summary.shape == (3, 50)
    assert v.user_scores is None
    assert read_summary_h5(path, features=False)[0].features.size == 0


def test_round_trip_through_writer(tmp_path):
    v = SummaryVideo(
        key="video_1", features=np.zeros((2, 4)), gtscore=np.array([0.5, 1.0]), user_summary=np.ones((2, 20)),
        change_points=np.array([[0, 19]]), n_frame_per_seg=np.array([20]), n_frames=20, picks=np.array([0, 10]),
        user_scores=np.ones((2, 20)),
    )  # fmt: skip
    (back,) = read_summary_h5(write_summary_h5(tmp_path / "x.h5", [v]))
    assert back.gtscore.tolist() == [0.5, 1.0] and back.user_scores.shape == (2, 20) and back.video_name is None


@pytest.mark.parametrize(
    ("break_it", "message"),
    [
        (lambda g: g.__delitem__("picks"), "video_1: missing picks"),
        (lambda g: (g.__delitem__("gtscore"), g.create_dataset("gtscore", data=np.ones(5))), "5 gtscore values for 3"),
        (
            lambda g: (g.__delitem__("features"), g.create_dataset("features", data=np.ones((2, 8)))),
            "features of shape",
        ),
        (lambda g: g["change_points"].__setitem__((1, 0), 12), "change_points must be"),
        (lambda g: g["change_points"].__setitem__((1, 1), 40), "run past n_frames = 40"),
        (lambda g: g["picks"].__setitem__(2, 10), "picks must increase"),
    ],
)
def test_broken_files_give_one_line_errors(tmp_path, break_it, message):
    path = tmp_path / "tvsum.h5"
    with h5py.File(path, "w") as f:
        break_it(_official_group(f, "video_1"))
    with pytest.raises(AnnotationError, match=message) as e:
        read_summary_h5(path)
    assert "\n" not in str(e.value) and str(path) in str(e.value)


def test_not_h5_and_missing_file(tmp_path):
    bad = tmp_path / "tvsum.h5"
    bad.write_text("hello")
    with pytest.raises(AnnotationError, match="not an HDF5 file"):
        read_summary_h5(bad)
    with pytest.raises(FileNotFoundError):
        read_summary_h5(tmp_path / "none.h5")


def test_kfold_splits_are_disjoint_and_deterministic():
    keys = [f"video_{i}" for i in range(1, 12)]
    splits = kfold_splits(keys, 5, seed=3)
    tests = [s.test for s in splits]
    assert sorted(k for t in tests for k in t) == sorted(keys)  # every video in exactly one test fold
    assert sorted(len(t) for t in tests) == [2, 2, 2, 2, 3]
    for s in splits:
        assert set(s.train).isdisjoint(s.test) and sorted(s.train + s.test) == sorted(keys)
    assert [s.test for s in kfold_splits(keys, 5, seed=3)] == tests
    assert [s.test for s in kfold_splits(keys, 5, seed=4)] != tests
    assert [s.fold for s in splits] == [0, 1, 2, 3, 4]
    with pytest.raises(ValueError, match="between 2 and the number of videos"):
        kfold_splits(keys[:3], 5)
