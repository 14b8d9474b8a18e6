"""The built-in `moving-digits` dataset: layout, decoding, determinism, idempotence, and above all
that its classes need time: each pair is the same frames in opposite order."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import av
import numpy as np
import pytest
import torch

import pipeline.data.moving_digits as md
from pipeline.data.moving_digits import (
    CLASS_NAMES,
    DATA_MAKERS,
    MovingDigitsConfig,
    default_data_dir,
    digit_pools,
    make_moving_digits,
    render_split,
    render_video,
)

TINY = MovingDigitsConfig(seed=3, num_train=12, num_val=6, num_test=6)


@pytest.fixture(scope="module")
def tiny_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return make_moving_digits(tmp_path_factory.mktemp("md") / "moving-digits", TINY, progress=False)


def _ink(frames: torch.Tensor) -> np.ndarray:
    """How far each pixel is from the background, `(T, H, W)`; zero on background and noise."""
    f = frames.numpy().astype(np.float32)  # (T, 3, H, W)
    background = np.median(f, axis=(2, 3), keepdims=True)  # the digit covers well under half the canvas
    return np.clip(np.abs(f - background).max(axis=1) - 40.0, 0.0, None)


def _centroid(frames: torch.Tensor) -> np.ndarray:
    """Ink-weighted centre (x, y) of the digit in each frame, `(T, 2)`."""
    ink = _ink(frames)
    ys, xs = np.mgrid[: ink.shape[1], : ink.shape[2]]
    total = ink.sum(axis=(1, 2))
    return np.stack([(ink * xs).sum(axis=(1, 2)) / total, (ink * ys).sum(axis=(1, 2)) / total], axis=1)


def _area(frames: torch.Tensor) -> np.ndarray:
    return (_ink(frames) > 0).sum(axis=(1, 2)).astype(float)  # (T,)


def _read_list(path: Path) -> list[tuple[str, int]]:
    return [(p, int(label)) for p, label in (line.rsplit(" ", 1) for line in path.read_text().splitlines())]


def test_layout_lists_and_balance(tiny_dir: Path) -> None:
    assert (tiny_dir / "classes.txt").read_text().splitlines() == list(CLASS_NAMES)
    for split in ("train", "val", "test"):
        entries = _read_list(tiny_dir / f"{split}.txt")
        assert len(entries) == TINY.count(split)
        for rel, label in entries:
            parts = Path(rel).parts
            assert parts[:3] == ("videos", split, CLASS_NAMES[label]) and parts[3].startswith(f"{split}_")
            assert (tiny_dir / rel).is_file()
        counts = np.bincount([label for _, label in entries], minlength=len(CLASS_NAMES))
        assert counts.max() - counts.min() <= 1
        meta = json.loads((tiny_dir / "videos" / split / "meta.json").read_text())
        assert sorted(meta) == sorted(Path(rel).stem for rel, _ in entries)
        assert all(v == list(range(TINY.frames)) for v in meta.values())  # dense: every frame counts
    manifest = json.loads((tiny_dir / "manifest.json").read_text())
    assert manifest["complete"] and manifest["config"]["seed"] == 3
    assert "distractor" not in manifest["config"]  # no distractor frames in the dense variant
    provenance = (tiny_dir / "PROVENANCE.md").read_text()
    assert "BSD-3" in provenance and "`seed`: 3" in provenance


def test_videos_decode_to_the_rendered_frames(tiny_dir: Path) -> None:
    rendered = {vid: frames for vid, _, frames, _ in render_split(TINY, "val")}
    for rel, _ in _read_list(tiny_dir / "val.txt")[:3]:
        with av.open(str(tiny_dir / rel)) as container:
            decoded = np.stack([f.to_ndarray(format="rgb24") for f in container.decode(video=0)])
        assert decoded.shape == (TINY.frames, TINY.size, TINY.size, 3)
        expected = rendered[Path(rel).stem].permute(0, 2, 3, 1).numpy()  # (T, H, W, 3)
        assert np.abs(decoded.astype(float) - expected).mean() < 6.0  # lossy, but the same video


def test_a_build_in_another_process_writes_the_same_bytes(tiny_dir: Path, tmp_path: Path) -> None:
    # Built here (the fixture, two threads) and in a fresh process (two threads): without x264's mbtree
    # off, about two thirds of the videos came out different from one process to the next.
    code = (
        "import sys; from pipeline.data.moving_digits import MovingDigitsConfig, make_moving_digits; "
        "make_moving_digits(sys.argv[1], MovingDigitsConfig(seed=3, num_train=12, num_val=6, num_test=6), "
        "progress=False, workers=2)"
    )
    subprocess.run([sys.executable, "-c", code, str(tmp_path / "again")], check=True, timeout=300)
    ours, theirs = sorted(tiny_dir.rglob("*.mp4")), sorted((tmp_path / "again").rglob("*.mp4"))
    assert len(ours) == len(theirs) == 24
    assert [p.relative_to(tiny_dir) for p in ours] == [p.relative_to(tmp_path / "again") for p in theirs]
    differ = [p.name for p, q in zip(ours, theirs, strict=True) if p.read_bytes() != q.read_bytes()]
    assert differ == []
    assert b"mbtree=0" in ours[0].read_bytes()  # x264 writes its options into the stream


def test_same_seed_same_frames_other_seed_differs() -> None:
    cfg = MovingDigitsConfig(seed=5, num_train=4, num_val=0, num_test=0)
    first = [frames for _, _, frames, _ in render_split(cfg, "train")]
    again = [frames for _, _, frames, _ in render_split(cfg, "train")]
    other = [frames for _, _, frames, _ in render_split(MovingDigitsConfig(seed=6, num_train=4), "train")]
    assert all(torch.equal(a, b) for a, b in zip(first, again, strict=True))
    assert not any(torch.equal(a, b) for a, b in zip(first, other, strict=True))


def test_splits_use_disjoint_handwriting() -> None:
    pools = digit_pools(0)
    assert sum(len(p) for p in pools.values()) == 1797
    train = {row.tobytes() for row in pools["train"]}
    assert not any(row.tobytes() in train for row in np.concatenate([pools["val"], pools["test"]]))


def test_second_call_is_instant_and_rewrites_nothing(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    cfg = MovingDigitsConfig(seed=3, num_train=6, num_val=3, num_test=3)
    out = make_moving_digits(tmp_path / "d", cfg, progress=False)
    stamps = {p: p.stat().st_mtime_ns for p in out.rglob("*") if p.is_file()}

    def fail(*args: object, **kwargs: object) -> None:
        raise AssertionError("regenerated a complete dataset")

    with monkeypatch.context() as m:
        m.setattr(md, "write_video", fail)
        m.setattr(md, "render_video", fail)
        assert make_moving_digits(out, cfg, progress=False) == out
    assert {p: p.stat().st_mtime_ns for p in out.rglob("*") if p.is_file()} == stamps

    smaller = MovingDigitsConfig(seed=3, num_train=4, num_val=2, num_test=0)  # other parameters: regenerate
    make_moving_digits(out, smaller, progress=False)
    assert len(_read_list(out / "train.txt")) == 4 and len(list(out.rglob("*.mp4"))) == 6


def test_refuses_a_foreign_directory(tmp_path: Path) -> None:
    (tmp_path / "precious.txt").write_text("not ours")
    cfg = MovingDigitsConfig(num_train=2, num_val=0, num_test=0)
    with pytest.raises(FileExistsError):
        make_moving_digits(tmp_path, cfg, progress=False)
    make_moving_digits(tmp_path, cfg, progress=False, overwrite=True)
    assert (tmp_path / "precious.txt").exists() and (tmp_path / "train.txt").exists()


@pytest.mark.parametrize("variant", ["dense", "sparse"])
@pytest.mark.parametrize("pair", [0, 1, 2])
def test_each_pair_is_the_other_played_backwards(pair: int, variant: str) -> None:
    cfg, pool = MovingDigitsConfig(variant=variant), digit_pools(0)["train"]
    for seed in range(3):
        forward, f_info = render_video(2 * pair, np.random.default_rng(seed), pool, cfg)
        backward, b_info = render_video(2 * pair + 1, np.random.default_rng(seed), pool, cfg)
        assert torch.equal(backward, forward.flip(0))
        assert b_info == sorted(cfg.frames - 1 - i for i in f_info)


def test_motion_goes_the_way_the_class_says() -> None:
    cfg, pool = MovingDigitsConfig(), digit_pools(0)["test"]
    for seed in range(4):
        for label in range(len(CLASS_NAMES)):
            frames, _ = render_video(label, np.random.default_rng([seed, label]), pool, cfg)
            sign = -1.0 if label % 2 else 1.0
            if label < 4:
                along = _centroid(frames)[:, label // 2]  # x for right/left, y for down/up
                assert np.all(sign * np.diff(along) > 0.3), (CLASS_NAMES[label], along)
            else:
                area = _area(frames)
                assert np.mean(sign * np.diff(area) > 0) > 0.8 and sign * (area[-1] - area[0]) > area.min()


def _pooled_grey(frames: torch.Tensor) -> np.ndarray:
    # numpy, not torch: torch's thread pool makes these tiny ops slow on a busy 2-core machine
    grey = frames.numpy().astype(np.float32).mean(axis=1)  # (T, H, W)
    return grey.reshape(len(grey), 16, grey.shape[1] // 16, 16, grey.shape[2] // 16).mean(axis=(2, 4))  # (T, 16, 16)


def _within_pair_ncm(features: dict[str, np.ndarray], labels: dict[str, np.ndarray]) -> float:
    """Accuracy of a nearest-class-mean classifier asked only to tell the two classes of a pair apart."""
    xtr, ytr, xte, yte = features["train"], labels["train"], features["test"], labels["test"]
    correct = 0
    for a in (0, 2, 4):
        means = np.stack([xtr[ytr == a].mean(0), xtr[ytr == a + 1].mean(0)])  # (2, D)
        mask = (yte == a) | (yte == a + 1)
        nearest = ((xte[mask][:, None] - means[None]) ** 2).sum(-1).argmin(1) + a
        correct += int((nearest == yte[mask]).sum())
    return correct / len(yte)


def _features(cfg: MovingDigitsConfig, per_class: int) -> tuple[dict[str, dict], dict[str, np.ndarray]]:
    """Per split: the time-averaged frame ("mean"), last minus first frame ("ends"), last minus first
    informative frame ("window"), each on a 16x16 grey grid; and the labels."""
    features: dict[str, dict] = {"mean": {}, "ends": {}, "window": {}}
    labels = {}
    for split in ("train", "test"):
        pool, rows, y = digit_pools(cfg.seed)[split], [], []
        for i in range(per_class * len(CLASS_NAMES)):
            label = i % len(CLASS_NAMES)
            frames, informative = render_video(label, np.random.default_rng([7, len(split), i]), pool, cfg)
            grey = _pooled_grey(frames)  # (T, 16, 16)
            rows.append((grey.mean(0), grey[-1] - grey[0], grey[informative[-1]] - grey[informative[0]]))
            y.append(label)
        for name, column in zip(features, zip(*rows, strict=True), strict=True):
            features[name][split] = np.stack(column).reshape(len(y), -1)  # (N, 256)
        labels[split] = np.array(y)
    return features, labels


def test_order_blind_average_is_at_chance_within_pairs_but_order_is_not() -> None:
    features, labels = _features(MovingDigitsConfig(), per_class=24)
    assert 0.35 <= _within_pair_ncm(features["mean"], labels) <= 0.65  # the time-averaged frame cannot tell
    assert _within_pair_ncm(features["ends"], labels) >= 0.95  # last minus first can


@pytest.mark.parametrize("distractor", ["empty", "still"])
def test_sparse_motion_only_in_the_recorded_frames(tmp_path: Path, distractor: str) -> None:
    cfg = MovingDigitsConfig(variant="sparse", informative_frames=4, distractor=distractor)
    pool = digit_pools(0)["test"]
    for label in range(len(CLASS_NAMES)):
        frames, informative = render_video(label, np.random.default_rng(label), pool, cfg)
        assert len(informative) == 4 and informative == list(range(informative[0], informative[0] + 4))
        others = [t for t in range(cfg.frames) if t not in informative]
        area = _area(frames)
        assert (area[informative] > 10).all()
        if distractor == "empty":  # background and noise only
            assert (area[others] == 0).all()
            centre = np.full((cfg.frames, 2), np.nan)
            centre[informative] = _centroid(frames[informative])
        else:  # the digit held still
            centre = _centroid(frames)
            assert np.ptp(centre[others], axis=0).max() < 0.5 and np.ptp(area[others]) < 0.1 * area[others].mean()
        moving = centre[informative] if label < 4 else area[informative, None]
        assert np.abs(np.diff(moving, axis=0)).max() > 1.0

    # Only the informative frames separate a pair: their ends do, the video's own ends do not.
    features, labels = _features(cfg, per_class=24)
    assert _within_pair_ncm(features["mean"], labels) <= 0.7
    assert _within_pair_ncm(features["ends"], labels) <= 0.7
    assert _within_pair_ncm(features["window"], labels) >= 0.95

    small = MovingDigitsConfig(seed=1, num_train=6, num_val=0, num_test=0, variant="sparse", distractor=distractor)
    out = DATA_MAKERS.build(
        "moving-digits-sparse", out=tmp_path, seed=1, progress=False, num_train=6, num_val=0, num_test=0,
        distractor=distractor,
    )  # fmt: skip
    meta = json.loads((out / "videos" / "train" / "meta.json").read_text())
    assert meta == {vid: info for vid, _, _, info in render_split(small, "train")}


def test_makers_and_default_dir(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    assert {"moving-digits", "moving-digits-sparse"} <= set(DATA_MAKERS.names())
    with pytest.raises(TypeError, match="unknown moving-digits option"):
        DATA_MAKERS.build("moving-digits", out=tmp_path, num_trian=3)
    with pytest.raises(ValueError, match="variant"):
        MovingDigitsConfig(variant="dens")
    with pytest.raises(ValueError, match="distractor must be one of"):
        MovingDigitsConfig(variant="sparse", distractor="blank")
    with pytest.raises(ValueError, match="sparse variant only"):
        MovingDigitsConfig(variant="dense", distractor="still")
    monkeypatch.setenv("VAP_DATA_DIR", str(tmp_path / "here"))
    assert default_data_dir() == tmp_path / "here"
    monkeypatch.delenv("VAP_DATA_DIR")
    repo = Path(md.__file__).resolve().parents[2]
    assert default_data_dir() == repo / "datasets" / "moving-digits"  # the tests run from a checkout


def test_timeline_videos_hold_their_events_where_truth_says():
    """moving-digits-timeline: deterministic; events in time order, apart, no class twice in a row; the
    frames inside an event show a digit (bright ink), the frames between them only the dark noisy canvas."""
    from pipeline.data.digit_timeline import render_timeline

    frames, events = render_timeline(3, 0, seconds=60, size=32, fps=8)
    again, same = render_timeline(3, 0, seconds=60, size=32, fps=8)
    assert torch.equal(frames, again) and events == same and frames.shape == (480, 3, 32, 32)
    assert len(events) >= 2
    for a, b in zip(events, events[1:], strict=False):
        assert b["start"] - a["end"] >= 3 and a["label"] != b["label"]
    inside = np.zeros(480, dtype=bool)
    for e in events:
        inside[round(e["start"] * 8) : round(e["end"] * 8)] = True
    peak = frames.flatten(1).float().quantile(0.999, dim=1).numpy()  # (T,) brightest pixels of each frame
    assert (peak[inside] > 120).mean() > 0.95 and peak[~inside].max() < 90  # (a digit can start tiny or at an edge)
    # one scene: the canvas before the first event and after it has the same colour (noise aside)
    before, after = (
        frames[: round(events[0]["start"] * 8)],
        frames[round(events[0]["end"] * 8) : round(events[1]["start"] * 8)],
    )
    assert (before.float().mean(dim=(0, 2, 3)) - after.float().mean(dim=(0, 2, 3))).abs().max() < 2.0


def test_timeline_training_clips_cross_event_boundaries_labelled_by_majority():
    """Two clips in five show a move in only part of their frames, at the start or the end; a move's clip
    shows it in 10-15 of its 16 frames, a background clip in 1-6."""
    from pipeline.data.digit_timeline import MOVES, render_clip
    from pipeline.data.moving_digits import digit_pools

    digits = digit_pools(0)["val"]
    shown: dict[int, list[int]] = {0: [], 4: []}
    ends = set()
    for i in range(60):
        for label in shown:
            clip = render_clip(label, np.random.default_rng([i, label]), digits, 32, 16)  # (16, 3, 32, 32)
            ink = clip.flatten(1).float().quantile(0.999, dim=1).numpy() > 120  # (16,) frames with a digit
            shown[label].append(int(ink.sum()))
            if 0 < ink.sum() < 16:
                ends.add("start" if ink[-1] else "end")
    move, background = np.array(shown[0]), np.array(shown[len(MOVES)])
    assert (move >= 9).all() and (background <= 7).all()  # a clear majority (a digit at an edge may look dark a frame)
    assert 0.2 < (move < 16).mean() < 0.6 and 0.2 < (background > 0).mean() < 0.6
    assert ends == {"start", "end"}


def test_a_chosen_class_list_draws_those_motions_under_new_labels(tmp_path: Path) -> None:
    """`classes=`: label i is the i-th name; a default class keeps its frames under its new label, the
    diagonal pair moves down-right and up-left (one the other backwards), and the files say so."""
    chosen = MovingDigitsConfig(classes=["zoom_in", "zoom_out", "move_down_right", "move_up_left"])
    assert chosen.classes == ("zoom_in", "zoom_out", "move_down_right", "move_up_left")
    pool = digit_pools(0)["test"]
    for seed in range(3):
        zoom, _ = render_video(0, np.random.default_rng(seed), pool, chosen)
        assert torch.equal(zoom, render_video(4, np.random.default_rng(seed), pool, MovingDigitsConfig())[0])
        diagonal, _ = render_video(2, np.random.default_rng(seed), pool, chosen)
        back, _ = render_video(3, np.random.default_rng(seed), pool, chosen)
        assert torch.equal(back, diagonal.flip(0))
        centre = _centroid(diagonal)  # (T, 2): x, y
        assert np.all(np.diff(centre, axis=0) > 0.3), centre  # right and down at every step
    out = make_moving_digits(
        tmp_path / "new",
        MovingDigitsConfig(
            seed=3, num_train=6, num_val=3, num_test=3, classes=("zoom_out", "move_down_right", "move_up")
        ),
    )
    assert (out / "classes.txt").read_text().split() == ["zoom_out", "move_down_right", "move_up"]
    lines = [line.split() for line in (out / "train.txt").read_text().splitlines()]
    assert [int(label) for _, label in lines] == [0, 1, 2, 0, 1, 2]
    assert all(f"/{('zoom_out', 'move_down_right', 'move_up')[int(label)]}/" in rel for rel, label in lines)
    assert json.loads((out / "manifest.json").read_text())["config"]["classes"] == [
        "zoom_out",
        "move_down_right",
        "move_up",
    ]
    assert (
        make_moving_digits(
            out,
            MovingDigitsConfig(
                seed=3, num_train=6, num_val=3, num_test=3, classes=("zoom_out", "move_down_right", "move_up")
            ),
        )
        == out
    )


def test_the_default_class_list_leaves_manifests_as_they_were(tiny_dir: Path) -> None:
    assert "classes" not in json.loads((tiny_dir / "manifest.json").read_text())["config"]
    assert (tiny_dir / "classes.txt").read_text().split() == list(CLASS_NAMES)


@pytest.mark.parametrize(("classes", "reason"), [(["zoom_in", "spin"], "spin"), (["zoom_in"], "at least 2"),
                                                 (["zoom_in", "zoom_in"], "at least 2 different")])  # fmt: skip
def test_a_bad_class_list_is_one_line_from_the_command(tmp_path: Path, classes: list[str], reason: str) -> None:
    command = ["data", "make", "moving-digits", "--out", str(tmp_path / "d"), "--classes", ",".join(classes)]
    done = subprocess.run([sys.executable, "-m", "pipeline.cli", *command], capture_output=True, text=True)
    assert done.returncode != 0 and "Traceback" not in done.stderr
    assert reason in done.stderr and len(done.stderr.strip().splitlines()) == 1, done.stderr
    assert not (tmp_path / "d").exists()
