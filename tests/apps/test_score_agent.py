"""`vap score` with a glimpse-agent checkpoint: the agent's own answers, and only its frames are decoded."""

from __future__ import annotations

from pathlib import Path

import lightning as L
import numpy as np
import pytest
import torch

from pipeline.cli import main
from pipeline.data.backends import open_video
from pipeline.data.clips import eval_pipeline
from pipeline.data.datamodule import VideoDataModule
from pipeline.data.records import read_journal
from pipeline.models.checkpoint import load_agent
from pipeline.tasks.classification import VideoClassificationTask
from pipeline.tasks.glimpse import GlimpseTask

TINY = {"num_train": 12, "num_val": 6, "num_test": 6}


def quick_trainer(root: Path) -> L.Trainer:
    return L.Trainer(max_steps=2, logger=False, enable_checkpointing=False, enable_progress_bar=False,
                     enable_model_summary=False, num_sanity_val_steps=0, limit_val_batches=0,
                     default_root_dir=root)  # fmt: skip


def data(md: Path) -> VideoDataModule:
    return VideoDataModule(train=str(md / "train.txt"), val=str(md / "val.txt"), test=str(md / "test.txt"),
                           make="moving-digits", make_args=TINY, size=32, batch_size=4, num_workers=0,
                           sampler_args={"num_segments": 8})  # fmt: skip


@pytest.fixture(scope="module")
def agent_and_videos(tmp_path_factory) -> tuple[Path, list[Path]]:
    """A classifier, then an agent over its frozen features (8 positions, at most 3 glimpses), both tiny."""
    root = tmp_path_factory.mktemp("score_agent")
    md = root / "md"
    classifier = VideoClassificationTask(num_classes=6, backbone="tiny", weights=None, head="tsn")
    trainer = quick_trainer(root)
    trainer.fit(classifier, datamodule=data(md))
    trainer.save_checkpoint(root / "classifier.ckpt")
    dm = data(md)
    dm.setup("fit")
    agent = GlimpseTask(num_classes=6, class_names=dm.class_names, num_frames=8, max_glimpses=3, hidden=16,
                        features_from=str(root / "classifier.ckpt"))  # fmt: skip
    trainer = quick_trainer(root)
    trainer.fit(agent, datamodule=dm)
    ckpt = root / "agent.ckpt"
    trainer.save_checkpoint(ckpt)
    videos = [md / line.split()[0] for line in (md / "test.txt").read_text().splitlines()[:4]]
    assert all(v.is_file() for v in videos)
    return ckpt, videos


@pytest.fixture(scope="module")
def pixel_agent(agent_and_videos) -> Path:
    """An agent over the pixels of the same videos (no classifier): it picks a frame and a place in it."""
    root = agent_and_videos[0].parent
    dm = data(root / "md")
    dm.setup("fit")
    agent = GlimpseTask(num_classes=6, class_names=dm.class_names, num_frames=8, max_glimpses=3, hidden=16,
                        looks_at="pixels", glimpse_size=8, scales=2)  # fmt: skip
    trainer = quick_trainer(root)
    trainer.fit(agent, datamodule=dm)
    ckpt = root / "pixel_agent.ckpt"
    trainer.save_checkpoint(ckpt)
    return ckpt


@pytest.mark.parametrize("looks_at", ["features", "pixels"])
def test_records_are_the_agents_answers_from_the_frames_it_chose(looks_at, agent_and_videos, request, tmp_path):
    ckpt, videos = agent_and_videos
    if looks_at == "pixels":
        ckpt = request.getfixturevalue("pixel_agent")
    out = tmp_path / "agent.jsonl"
    assert main(["score", "--checkpoint", str(ckpt), *map(str, videos), "--out", str(out), "--all-scores",
                 "--workers", "1", "--timeout", "60"]) == 0  # fmt: skip
    records = {r["path"]: r for r in read_journal(out)}
    assert set(records) == {str(v.resolve()) for v in videos}
    model, meta = load_agent(ckpt)
    assert (model.features is None) == (looks_at == "pixels")
    sampler, transform = eval_pipeline(meta.preprocessing, clips=1)
    for path, rec in records.items():
        assert rec["status"] == "ok" and rec["backend"] == "pyav"
        # the whole clip decoded up front gives the same episode: same frames looked at, same answer
        with open_video(path, "pyav") as reader:
            positions = sampler(reader.meta.num_frames, training=False, fps=reader.meta.fps)[0]  # (8,)
            clip = transform(reader.get_frames(positions), np.random.default_rng(0))[None]  # (1, 8, C, h, w)
        with torch.no_grad():
            episode = model(clip, sample=False)
        viewed = int(episode.viewed[0])
        assert rec["glimpse_frames"] == [int(positions[f]) for f in episode.frames[0, :viewed]]
        assert rec["scores"] == pytest.approx(episode.logits[0].softmax(-1).tolist(), abs=1e-5)
        # only the frames it looked at were decoded: at most 3 of the 8 positions
        assert rec["frames_decoded"] == viewed <= 3 < len(positions)
        with open_video(path, "pyav") as again:  # the codec's work: the same frames asked one at a time
            for f in rec["glimpse_frames"]:
                again.get_frames([f])
            assert rec["codec_frames"] == again.codec_frames >= viewed
        assert rec["labels"][0] == meta.class_names[int(episode.logits[0].argmax())]


def test_bad_videos_become_error_records(agent_and_videos, tmp_path):
    ckpt, videos = agent_and_videos
    broken = tmp_path / "broken.mp4"
    broken.write_bytes(b"not a video at all" * 100)
    out = tmp_path / "agent.jsonl"
    assert main(["score", "--checkpoint", str(ckpt), str(videos[0]), str(broken), "--out", str(out),
                 "--workers", "1", "--timeout", "60"]) == 0  # fmt: skip
    status = {Path(r["path"]).name: r["status"] for r in read_journal(out)}
    assert status == {videos[0].name: "ok", "broken.mp4": "error"}


def test_agent_refuses_what_it_cannot_do(agent_and_videos, tmp_path, capsys):
    ckpt, videos = agent_and_videos
    for extra, reason in ((["--with-attention"], "no temporal attention"), (["--clips", "3"], "one clip"),
                          (["--three-crop"], "one view")):  # fmt: skip
        code = main(["score", "--checkpoint", str(ckpt), str(videos[0]), "--out", str(tmp_path / "x.jsonl"), *extra])
        assert code != 0 and reason in capsys.readouterr().err
        assert not (tmp_path / "x.jsonl").exists()
