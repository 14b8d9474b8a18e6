"""`Predictor`: one call from a video (or its frames) to labels, equal to what `vap score` records."""

from __future__ import annotations

import json

import pytest
from conftest import train_tiny_checkpoint

from pipeline.cli import main
from pipeline.data.backends import open_video
from pipeline.errors import VideoError
from pipeline.inference.predict import Predictor


@pytest.fixture(scope="module")
def checkpoint_and_video(tmp_path_factory):
    root = tmp_path_factory.mktemp("predict")
    ckpt = train_tiny_checkpoint(root, make_args={"num_train": 6, "num_val": 3, "num_test": 3}, num_segments=4,
                                 test_clips=2)  # fmt: skip
    return ckpt, sorted((root / "md").rglob("*.mp4"))[0]


def test_a_prediction_is_the_score_record(checkpoint_and_video, tmp_path):
    ckpt, video = checkpoint_and_video
    predictor = Predictor.load(ckpt, topk=3)
    got = predictor.predict(video)
    assert main(["score", "--checkpoint", str(ckpt), str(video), "--out", str(tmp_path / "s.jsonl"), "--topk", "3",
                 "--all-scores", "--workers", "1"]) == 0  # fmt: skip
    record = json.loads((tmp_path / "s.jsonl").read_text())
    assert got.labels == record["labels"] and got.probs == record["probs"] and got.scores == record["scores"]
    assert len(got.labels) == 3 and set(got.labels) <= set(predictor.class_names)


def test_frames_give_what_their_file_gives(checkpoint_and_video):
    ckpt, video = checkpoint_and_video
    predictor = Predictor.load(ckpt)
    with open_video(video) as reader:
        frames = reader.get_frames(list(range(reader.meta.num_frames)))  # (N, C, H, W) uint8, in order
        fps = reader.meta.fps
    assert predictor.predict(frames, fps=fps) == predictor.predict(video)
    with pytest.raises(ValueError, match="frames must be uint8"):
        predictor.predict(frames.float())


def test_a_video_that_cannot_be_decoded_raises(checkpoint_and_video, tmp_path):
    bad = tmp_path / "bad.mp4"
    bad.write_bytes(b"\x00" * 100)
    with pytest.raises(VideoError, match="bad.mp4"):
        Predictor.load(checkpoint_and_video[0]).predict(bad)
