"""TVSum / SumMe in the ECCV16 h5 layout (Zhang et al., "Video summarization with LSTM", ECCV 2016;
the files eccv16_dataset_{tvsum,summe}_google_pool5.h5 that every summarization paper since reads).

file.h5 -> one group per video (`video_1`, ...) -> `SummaryVideo` with the arrays checked against
each other, so a broken file stops with one line naming the file, the video and the field, not with
an IndexError deep in the evaluation. Splits: disjoint k folds (every video in exactly one test fold),
not the usual five overlapping random 80/20 splits (see REFERENCE.md, Apostolidis et al. 2020).
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from pipeline.data.records import atomic_path
from pipeline.errors import AnnotationError, ConfigError

REQUIRED = ("features", "gtscore", "user_summary", "change_points", "n_frame_per_seg", "n_frames", "picks")


@dataclass
class SummaryVideo:
    """One video of a TVSum/SumMe h5 file; steps are the sampled frames (every 15th in ECCV16 files)."""

    key: str  # the h5 group name, e.g. "video_1"
    features: np.ndarray  # (n_steps, D) float32
    gtscore: np.ndarray  # (n_steps,) mean user importance per step
    user_summary: np.ndarray  # (n_users, n_frames) 0/1
    change_points: np.ndarray  # (n_segs, 2) inclusive [start, end] frames of each shot
    n_frame_per_seg: np.ndarray  # (n_segs,)
    n_frames: int
    picks: np.ndarray  # (n_steps,) frame index of each step
    video_name: str | None = None  # SumMe files name the source video
    user_scores: np.ndarray | None = None  # (n_users, n_frames) raw annotator scores, when the file has them

    @property
    def n_steps(self) -> int:
        return len(self.picks)


@dataclass
class Split:
    """One fold: the videos to train and choose a model on, and the disjoint videos to test on."""

    fold: int
    train: list[str]
    test: list[str]


def natural_key(key: str) -> tuple:
    """`video_2` before `video_10`."""
    return tuple(int(t) if t.isdigit() else t for t in re.split(r"(\d+)", key))


def read_summary_h5(path: str | Path, *, features: bool = True) -> list[SummaryVideo]:
    """Every video of an ECCV16-layout h5 file, in natural key order; `features=False` skips them."""
    import h5py

    path = Path(path)
    if not path.is_file():
        raise FileNotFoundError(f"{path}: no such file")
    try:
        f = h5py.File(path, "r")
    except OSError as e:
        raise AnnotationError(path, f"not an HDF5 file ({e})") from None
    videos = []
    with f:
        for key in sorted(f.keys(), key=natural_key):
            g = f[key]
            if not isinstance(g, h5py.Group):
                raise AnnotationError(path, f"{key}: expected a group per video, found a dataset")
            missing = [name for name in REQUIRED if name not in g]
            if missing:
                raise AnnotationError(path, f"{key}: missing {', '.join(missing)}")
            name = g["video_name"][()] if "video_name" in g else None
            video = SummaryVideo(
                key=key,
                features=np.asarray(g["features"][()], dtype=np.float32) if features else np.empty((0, 0), np.float32),
                gtscore=np.asarray(g["gtscore"][()], dtype=np.float64),
                user_summary=np.atleast_2d(np.asarray(g["user_summary"][()])),
                change_points=np.asarray(g["change_points"][()], dtype=np.int64),
                n_frame_per_seg=np.asarray(g["n_frame_per_seg"][()], dtype=np.int64),
                n_frames=int(np.asarray(g["n_frames"][()])),
                picks=np.asarray(g["picks"][()], dtype=np.int64),
                video_name=name.decode() if isinstance(name, bytes) else (None if name is None else str(name)),
                user_scores=np.atleast_2d(np.asarray(g["user_scores"][()], np.float64)) if "user_scores" in g else None,
            )
            _check(path, video, features)
            videos.append(video)
    if not videos:
        raise AnnotationError(path, "no videos in the file")
    return videos


def _check(path: Path, v: SummaryVideo, features: bool) -> None:
    def bad(reason: str) -> AnnotationError:
        return AnnotationError(path, f"{v.key}: {reason}")

    if v.picks.ndim != 1 or v.gtscore.shape != v.picks.shape:
        raise bad(f"{v.gtscore.size} gtscore values for {v.picks.size} picks")
    if features and (v.features.ndim != 2 or len(v.features) != len(v.picks)):
        raise bad(f"features of shape {v.features.shape} for {v.picks.size} picks")
    if v.picks.size == 0 or (np.diff(v.picks) <= 0).any() or v.picks[0] < 0 or v.picks[-1] >= v.n_frames:
        raise bad(f"picks must increase within [0, {v.n_frames})")
    cp = v.change_points
    if cp.ndim != 2 or cp.shape[1] != 2 or cp[0, 0] != 0 or (cp[1:, 0] != cp[:-1, 1] + 1).any():
        raise bad("change_points must be (n_segs, 2) inclusive [start, end] frames covering the video in order")
    if cp[-1, 1] >= v.n_frames or (cp[:, 1] < cp[:, 0]).any():
        raise bad(f"change_points run past n_frames = {v.n_frames}")
    if v.n_frame_per_seg.shape != (len(cp),):
        raise bad(f"{v.n_frame_per_seg.size} n_frame_per_seg values for {len(cp)} segments")
    if v.user_summary.ndim != 2:
        raise bad("user_summary must be (n_users, n_frames)")
    if v.user_scores is not None and v.user_scores.shape[1] != v.n_frames:
        raise bad(f"user_scores of shape {v.user_scores.shape} for {v.n_frames} frames")


def kfold_splits(keys: list[str], k: int, *, seed: int = 0) -> list[Split]:
    """k disjoint test folds over `keys`, shuffled under `seed` (scikit-learn's KFold)."""
    from sklearn.model_selection import KFold

    if not 2 <= k <= len(keys):
        raise ConfigError(f"--splits must be between 2 and the number of videos ({len(keys)}), got {k}")
    keys = list(keys)
    return [
        Split(fold=i, train=[keys[j] for j in train], test=[keys[j] for j in test])
        for i, (train, test) in enumerate(KFold(n_splits=k, shuffle=True, random_state=seed).split(keys))
    ]


def features_id(path: str | Path) -> str:
    """What extracted a file's features: the root attribute `features` that `vap summarize features`
    writes, else (the ECCV16 files) "<file name> features" (GoogLeNet pool5, which cannot be reproduced)."""
    import h5py

    with h5py.File(path, "r") as f:
        name = f.attrs.get("features")
    if name is None:
        return f"{Path(path).name} features"
    return name.decode() if isinstance(name, bytes) else str(name)


def write_summary_h5(path: str | Path, videos: list[SummaryVideo], *, attrs: dict | None = None) -> Path:
    """Write videos in the ECCV16 layout (for your own data, and the tests), to a temp name then renamed.
    `attrs` go on the file's root (the layout's groups stay as they are)."""
    import h5py

    path = Path(path)
    with atomic_path(path) as tmp, h5py.File(tmp, "w") as f:
        f.attrs.update(attrs or {})
        for v in videos:
            g = f.create_group(v.key)
            g["features"] = np.asarray(v.features, dtype=np.float32)
            g["gtscore"] = np.asarray(v.gtscore, dtype=np.float32)
            g["user_summary"] = np.asarray(v.user_summary, dtype=np.float32)
            g["change_points"] = np.asarray(v.change_points, dtype=np.int32)
            g["n_frame_per_seg"] = np.asarray(v.n_frame_per_seg, dtype=np.int32)
            g["n_frames"] = np.int64(v.n_frames)
            g["picks"] = np.asarray(v.picks, dtype=np.int32)
            if v.video_name is not None:
                g["video_name"] = np.bytes_(v.video_name)
            if v.user_scores is not None:
                g["user_scores"] = np.asarray(v.user_scores, dtype=np.float32)
    return path
