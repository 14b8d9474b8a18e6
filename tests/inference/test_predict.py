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


def test_embeddings_are_what_the_classifier_reads_in_records_and_in_python(checkpoint_and_video, tmp_path):
    import numpy as np
    import pyarrow as pa
    import pyarrow.parquet as pq
    import torch

    from pipeline.data.clips import decode_clips, eval_pipeline
    from pipeline.models.checkpoint import load_model

    ckpt, video = checkpoint_and_video
    out = tmp_path / "s.parquet"
    assert main(["score", "--checkpoint", str(ckpt), str(video), "--out", str(out), "--embeddings",
                 "--workers", "1"]) == 0  # fmt: skip
    table = pq.read_table(out)
    assert pa.types.is_fixed_size_list(table.schema.field("embedding").type)
    recorded = np.asarray(table.column("embedding").to_pylist()[0], dtype=np.float32)
    model, meta = load_model(ckpt)
    sampler, transform = eval_pipeline(meta.preprocessing)
    clips = decode_clips(str(video), sampler=sampler, transform=transform).clips  # (J, T, C, H, W)
    with torch.no_grad():
        out_model = model(clips)
    expected = out_model.embedding.mean(0).numpy()  # (D',) the head's pooled clips, averaged
    assert recorded.shape == expected.shape and np.allclose(recorded, expected, atol=1e-5)
    assert torch.allclose(model.head.fc(out_model.embedding), out_model.logits, atol=1e-5)  # the classifier reads it
    assert np.allclose(Predictor.load(ckpt).embed(video), recorded, atol=1e-6)
