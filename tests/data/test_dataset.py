"""VideoDataset, collate, failure tracking and the data module, on tiny videos written here."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
import torch
from torch.utils.data import DataLoader

from pipeline.data.annotations import VideoRecord, read_annotations
from pipeline.data.datamodule import VideoDataModule
from pipeline.data.dataset import (
    FailureTracker,
    TooManyBadVideos,
    VideoBatch,
    VideoDataset,
    VideoFailure,
    VideoSample,
    collate_videos,
)
from pipeline.data.samplers import DenseSampler, TSNSampler
from pipeline.data.writer import write_video

NUM_FRAMES = 24


def flat_video(path: Path, shade: int) -> Path:
    """Frame t is flat grey 8*t + shade: the decoded mean tells which frame (and video) it is."""
    t = torch.arange(NUM_FRAMES)[:, None, None, None]
    frames = (8 * t + shade).expand(NUM_FRAMES, 3, 40, 40).to(torch.uint8)
    return write_video(path, frames, fps=12, crf=10)


@pytest.fixture(scope="module")
def tiny_set(tmp_path_factory) -> Path:
    """6 good videos (3 per class) and one corrupt file, with `path label` lists and classes.txt."""
    root = tmp_path_factory.mktemp("tiny set")
    lines = []
    for i in range(6):
        p = flat_video(root / "videos" / f"class {i % 2}" / f"v{i}.mp4", shade=i)
        lines.append(f"{p.relative_to(root).as_posix()} {i % 2}")
    (root / "videos" / "broken.mp4").write_bytes(b"\x00" * 2048)
    (root / "train.txt").write_text("\n".join(lines) + "\n")
    (root / "with_bad.txt").write_text("\n".join([*lines[:3], "videos/broken.mp4 1", *lines[3:]]) + "\n")
    (root / "classes.txt").write_text("left\nright\n")
    return root


def test_sample_is_typed_and_right(tiny_set):
    ann = read_annotations("list", tiny_set / "train.txt")
    ds = VideoDataset(ann.records, sampler=TSNSampler(num_segments=4), training=True, backend="pyav", seed=3)
    assert len(ds) == 6
    s = ds[2]
    assert isinstance(s, VideoSample)
    assert s.video.shape == (4, 3, 40, 40) and s.video.dtype == torch.uint8
    assert s.label.item() == 0 and s.video_id == "videos/class 0/v2.mp4" and s.clip_index == 0
    # the decoded frames are the ones the sampler chose, of this video (shade 2)
    means = s.video.float().mean(dim=(1, 2, 3))
    assert torch.allclose(means, 8 * s.frame_indices.float() + 2, atol=1.5)
    edges = np.arange(5) * NUM_FRAMES // 4
    assert ((s.frame_indices.numpy() >= edges[:-1]) & (s.frame_indices.numpy() < edges[1:])).all()


@pytest.mark.timeout(300)
def test_same_clips_whatever_the_worker_count(tiny_set):
    ann = read_annotations("list", tiny_set / "train.txt")
    ds = VideoDataset(ann.records, sampler=TSNSampler(num_segments=4), training=True, backend="pyav", seed=7)
    runs = []
    for workers in (0, 2):
        loader = DataLoader(ds, batch_size=4, num_workers=workers, collate_fn=collate_videos)
        runs.append(torch.cat([b.frame_indices for b in loader]))
    assert torch.equal(runs[0], runs[1])
    ds.set_epoch(1)
    new = torch.cat([b.frame_indices for b in DataLoader(ds, batch_size=4, collate_fn=collate_videos)])
    assert not torch.equal(new, runs[0])  # a new epoch draws new clips


def test_eval_expands_test_clips(tiny_set):
    ann = read_annotations("list", tiny_set / "train.txt")
    ds = VideoDataset(ann.records, sampler=DenseSampler(length=4, interval=1, test_clips=3), backend="pyav")
    assert len(ds) == 18
    items = [ds[i] for i in range(3)]
    assert [s.clip_index for s in items] == [0, 1, 2]
    assert {s.video_id for s in items} == {"videos/class 0/v0.mp4"}
    assert [s.frame_indices[0].item() for s in items] == [0, 10, 20]
    assert torch.equal(ds[1].video, ds[1].video)  # evaluation is deterministic


def test_bad_video_is_recorded_never_replaced(tiny_set):
    ann = read_annotations("list", tiny_set / "with_bad.txt")
    ds = VideoDataset(ann.records, sampler=TSNSampler(num_segments=4), backend="pyav")
    item = ds[3]
    assert isinstance(item, VideoFailure)
    assert item.path.endswith("broken.mp4") and "not a readable video" in item.reason
    batch = collate_videos([ds[i] for i in range(7)])
    assert isinstance(batch, VideoBatch) and len(batch) == 6
    assert "videos/broken.mp4" not in batch.video_id
    assert [f.video_id for f in batch.failures] == ["videos/broken.mp4"]
    # the good samples are exactly the six good videos, each once (nothing substituted)
    assert sorted(batch.video_id) == sorted(r.video_id for r in ann.records if "broken" not in r.video_id)


def test_all_bad_batch_is_empty_not_a_crash():
    batch = collate_videos([VideoFailure("a.mp4", "a.mp4", "empty file (0 bytes)")])
    assert len(batch) == 0 and batch.video.numel() == 0 and len(batch.failures) == 1


def test_failure_tracker_threshold():
    good = VideoSample(torch.zeros(2, 3, 4, 4, dtype=torch.uint8), torch.tensor(0), "g", 0, torch.tensor([0, 1]))
    bad = VideoFailure("/data/x.mp4", "x.mp4", "no video stream")
    tracker = FailureTracker(max_rate=0.2, min_seen=10)
    tracker.update(collate_videos([good] * 4 + [bad]))  # 1 of 5, too few seen to judge
    tracker.update(collate_videos([good] * 5))
    assert tracker.seen == 10 and tracker.failed_items == 1 and tracker.rate == pytest.approx(0.1)
    with pytest.raises(TooManyBadVideos, match=r"3 of 12 clips failed.*/data/x.mp4: no video stream.*vap check"):
        tracker.update(collate_videos([bad, bad]))
    assert list(tracker.failures) == ["/data/x.mp4"]  # logged once, however often it failed


def test_multilabel_is_multi_hot(tiny_set):
    rec = VideoRecord(tiny_set / "videos" / "class 0" / "v0.mp4", (0, 2), "v0")
    ds = VideoDataset([rec], sampler=TSNSampler(num_segments=2), num_classes=3, backend="pyav")
    assert ds[0].label.tolist() == [1.0, 0.0, 1.0]


def test_datamodule_end_to_end(tiny_set):
    dm = VideoDataModule(
        train=str(tiny_set / "train.txt"), val=str(tiny_set / "with_bad.txt"), size=32, batch_size=3,
        num_workers=0, backend="pyav", sampler="tsn", sampler_args={"num_segments": 4},
    )  # fmt: skip
    assert dm.class_names == ["left", "right"] and dm.num_classes == 2
    dm.setup("fit")
    train = list(dm.train_dataloader())
    assert [len(b) for b in train] == [3, 3]
    assert train[0].video.shape == (3, 4, 3, 32, 32)
    val = list(dm.val_dataloader())
    assert sum(len(b) for b in val) == 6 and sum(len(b.failures) for b in val) == 1
    moved = dm.transfer_batch_to_device(train[0], torch.device("cpu"), 0)
    assert isinstance(moved, VideoBatch)
    for batch in val:  # Lightning calls this hook on every batch: failures are counted there
        dm.on_after_batch_transfer(batch, 0)
    assert dm.train_failures.seen == 7 and dm.train_failures.failed_items == 1  # no trainer: training


def test_datamodule_stops_training_past_the_bad_rate(tiny_set):
    dm = VideoDataModule(
        train=str(tiny_set / "with_bad.txt"), size=32, batch_size=7, num_workers=0, backend="pyav",
        max_bad_rate=0.1, sampler_args={"num_segments": 2},
    )  # fmt: skip
    dm.train_failures.min_seen = 5
    dm.setup("fit")
    with pytest.raises(TooManyBadVideos, match="1 of 7 clips failed"):
        for batch in dm.train_dataloader():
            dm.on_after_batch_transfer(batch, 0)


def test_datamodule_without_split_says_so(tiny_set):
    dm = VideoDataModule(train=str(tiny_set / "train.txt"), num_workers=0)
    with pytest.raises(ValueError, match="no test annotations"):
        dm.test_dataloader()


def _stuck(self, index):
    import time

    time.sleep(3600)  # a decoder hung in native code


@pytest.mark.timeout(120)
def test_a_stuck_loader_worker_fails_the_run_with_a_message(tiny_set, monkeypatch):
    monkeypatch.setattr(VideoDataset, "__getitem__", _stuck)
    dm = VideoDataModule(train=str(tiny_set / "train.txt"), size=32, batch_size=2, num_workers=1, backend="pyav",
                         loader_timeout=3)  # fmt: skip
    dm.setup("fit")
    with pytest.raises(RuntimeError, match="DataLoader timed out after 3 seconds"):
        next(iter(dm.train_dataloader()))
