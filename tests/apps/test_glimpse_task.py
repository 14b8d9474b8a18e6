"""GlimpseTask: the agent trains on a frozen classifier's features, its checkpoint stands alone, and
`vap train` / `vap test` run it from a config (`task: glimpse`)."""

from __future__ import annotations

import json
import warnings
from pathlib import Path

import lightning as L
import pytest
import torch
from einops import rearrange
from torch.utils.data import DataLoader

from pipeline.cli import main
from pipeline.data.dataset import VideoBatch
from pipeline.errors import ConfigError
from pipeline.models.checkpoint import load_agent, load_model
from pipeline.tasks.classification import VideoClassificationTask
from pipeline.tasks.glimpse import GlimpseTask


def batches(n: int, b: int = 4, t: int = 6) -> list[VideoBatch]:
    g = torch.Generator().manual_seed(0)
    return [
        VideoBatch(
            torch.randint(0, 256, (b, t, 3, 32, 32), dtype=torch.uint8, generator=g),
            torch.randint(0, 3, (b,), generator=g),
            [str(i) for i in range(b)],
            torch.zeros(b, dtype=torch.long),
            torch.arange(t).repeat(b, 1),
        )  # fmt: skip
        for _ in range(n)
    ]


def fit(model: L.LightningModule, steps: int, root) -> L.Trainer:
    trainer = L.Trainer(max_steps=steps, logger=False, enable_checkpointing=False, enable_progress_bar=False,
                        enable_model_summary=False, num_sanity_val_steps=0, limit_val_batches=1,
                        default_root_dir=root, accelerator="cpu")  # fmt: skip
    data = batches(steps)
    trainer.fit(model, DataLoader(data, batch_size=None), DataLoader(data[:1], batch_size=None))
    return trainer


def classifier_checkpoint(root: Path, classes: int = 3) -> Path:
    names = [chr(97 + i) for i in range(classes)]
    classifier = VideoClassificationTask(num_classes=classes, class_names=names, backbone="tiny", head="tsn",
                                         head_args={"consensus": "avg"})  # fmt: skip
    trainer = fit(classifier, 1, root)
    ckpt = root / "classifier.ckpt"
    trainer.save_checkpoint(ckpt)
    return ckpt


def test_agent_trains_on_frozen_checkpoint_features_and_its_checkpoint_stands_alone(tmp_path):
    ckpt = classifier_checkpoint(tmp_path)
    task = GlimpseTask(num_classes=3, class_names=["x", "y", "z"], num_frames=6, features_from=str(ckpt),
                       max_glimpses=3, hidden=16, halt_threshold=0.3, memory=4, memory_kernel=3)  # fmt: skip
    frozen = {k: v.clone() for k, v in task.model.features.state_dict().items()}
    agent_before = {k: v.clone() for k, v in task.model.agent.state_dict().items()}
    trainer = fit(task, 5, tmp_path)
    assert all(torch.equal(v, task.model.features.state_dict()[k]) for k, v in frozen.items())  # untouched
    assert any(not torch.equal(v, task.model.agent.state_dict()[k]) for k, v in agent_before.items())  # learned
    assert not task.model.features.training  # batch norm statistics stay the classifier's
    logged = trainer.callback_metrics
    for key in ("train/reward", "train/viewed", "train/policy_entropy", "train/halt_entropy", "train/baseline",
                "val/top1", "val/viewed_fraction", "val/reward"):  # fmt: skip
        assert key in logged and torch.isfinite(logged[key]), key
    assert 1 <= float(logged["val/viewed"]) <= 3

    agent_ckpt = tmp_path / "agent.ckpt"
    trainer.save_checkpoint(agent_ckpt)
    ckpt.unlink()  # the classifier's own file is not needed any more
    model, meta = load_agent(agent_ckpt)
    assert meta.class_names == ["x", "y", "z"] and meta.extra["task"] == "glimpse"
    assert meta.extra["agent"]["args"]["num_frames"] == 6 and not model.training
    assert model.agent.halt_threshold == 0.3  # the halting threshold travels with the checkpoint
    assert model.agent.memory == 4 and model.agent.scan[1].kernel_size == (3,)  # and so does the timeline map
    video = batches(1)[0].video
    task.eval()
    with torch.no_grad():
        expected, got = task(video), model(video)
    assert torch.equal(expected.logits, got.logits) and torch.equal(expected.frames, got.frames)
    with pytest.raises(ConfigError, match="load_agent"):
        load_model(agent_ckpt)
    with pytest.raises(ConfigError, match="features_from"):
        GlimpseTask(num_classes=3, num_frames=6)  # no classifier and no pretrained weights: say what to do


def test_an_agent_checkpoint_from_before_the_timeline_map_still_loads(tmp_path):
    """Checkpoints written before `memory` existed record no such argument and hold no map weights."""
    task = GlimpseTask(num_classes=3, num_frames=6, features_from=str(classifier_checkpoint(tmp_path)),
                       max_glimpses=3, hidden=16, memory=0)  # fmt: skip
    trainer = fit(task, 1, tmp_path)
    path = tmp_path / "old.ckpt"
    trainer.save_checkpoint(path)
    ckpt = torch.load(path, weights_only=True)
    args = ckpt["vap"]["agent"]["args"]
    del args["memory"], args["memory_kernel"]  # as the old task wrote them
    torch.save(ckpt, path)
    model, meta = load_agent(path)
    assert model.agent.memory == 0 and "memory" not in meta.extra["agent"]["args"]
    video = batches(1)[0].video
    task.eval()
    with torch.no_grad():
        assert torch.equal(task(video).frames, model(video).frames)


def test_a_classifier_checkpoint_is_not_an_agent(tmp_path):
    with pytest.raises(ConfigError, match="not a glimpse-agent checkpoint"):
        load_agent(classifier_checkpoint(tmp_path))


TINY = {"num_train": 12, "num_val": 6, "num_test": 6}


@pytest.mark.slow
def test_vap_train_and_test_a_glimpse_agent_from_its_config(in_tmp, capsys):
    """Step 2 of docs/glimpse.md as a user runs it (step 1's checkpoint stands in: a tiny classifier)."""
    ckpt = classifier_checkpoint(in_tmp, classes=6)
    md = in_tmp / "mds"
    common = [
        "--config", "configs/moving_digits_glimpse.yaml", "--data.train", str(md / "train.txt"),
        "--data.val", str(md / "val.txt"), "--data.test", str(md / "test.txt"),
        "--data.make_args", json.dumps(TINY), "--data.batch_size", "6", "--data.num_workers", "0",
        "--trainer.enable_progress_bar", "false", "--trainer.log_every_n_steps", "1",
    ]  # fmt: skip
    common[1] = str(Path(__file__).resolve().parents[2] / common[1])
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        assert main(["train", *common, "--model.features_from", str(ckpt), "--trainer.max_epochs", "2"]) == 0
    # the frozen classifier stays in eval mode on purpose: Lightning's warning about it is not shown
    assert not [w for w in caught if "in eval mode" in str(w.message)]
    out = capsys.readouterr().out
    assert "best checkpoint:" in out and "val/reward" in out  # the checkpoint kept is the best reward's
    run = in_tmp / "runs" / "csv" / "version_0"
    rows = (run / "metrics.csv").read_text()
    for key in ("val/top1", "val/viewed", "train/reward", "train/policy_entropy", "train/halt_entropy"):
        assert key in rows, key
    assert (run / "attention" / "epoch_01" / "glimpses.png").stat().st_size > 1000
    viewed = json.loads((run / "attention" / "epoch_01" / "frames_viewed.json").read_text())
    assert viewed["videos"] == TINY["num_val"] and sum(viewed["histogram"].values()) == TINY["num_val"]
    assert not (run / "attention" / "epoch_01" / "timeline_0.png").exists()  # the classifier's pictures: not here
    records = next(next((in_tmp / "runs" / "wandb").glob("offline-run-*")).glob("run-*.wandb")).read_bytes()
    assert b"val/glimpses" in records and b"val/viewed" in records and b"val/frames_viewed" in records
    last = run / "checkpoints" / "last.ckpt"
    ckpt.unlink()  # vap test rebuilds the classifier from the agent's checkpoint alone
    model, meta = load_agent(last)
    assert meta.extra["agent"]["args"]["num_frames"] == 16 and meta.preprocessing["sampler"] == "uniform"
    assert meta.extra["agent"]["args"]["memory"] == 16 and model.agent.memory == 16  # the config's timeline map
    assert main(["test", *common, "--ckpt_path", str(last)]) == 0
    assert "test/top1" in capsys.readouterr().out


def test_an_agent_over_pixels_trains_without_a_classifier_and_its_checkpoint_stands_alone(tmp_path):
    """`looks_at: pixels`: no classifier; the policy picks a frame and a place, the retina reads it there."""
    torch.manual_seed(0)
    task = GlimpseTask(num_classes=3, class_names=["x", "y", "z"], num_frames=6, looks_at="pixels", glimpse_size=8,
                       scales=2, max_glimpses=3, hidden=16, memory=4, memory_kernel=3)  # fmt: skip
    assert task.model.features is None and task.model.agent.what[1].in_features == 2 * 3 * 8 * 8
    before = {k: v.clone() for k, v in task.model.agent.state_dict().items()}
    trainer = fit(task, 5, tmp_path)
    moved = {k.split(".")[0] for k, v in task.model.agent.state_dict().items() if not torch.equal(v, before[k])}
    assert {"what", "core", "classifier", "loc", "when_abs"} <= moved  # the place policy learns too
    assert all(torch.isfinite(trainer.callback_metrics[k]) for k in ("train/reward", "val/top1", "val/viewed"))

    path = tmp_path / "pixels.ckpt"
    trainer.save_checkpoint(path)
    model, meta = load_agent(path)  # torch.load(weights_only=True); nothing else to read
    assert model.features is None and meta.extra["agent"]["args"]["glimpse_size"] == 8
    assert "feature_dim" not in meta.extra["agent"]["args"] and meta.model["backbone"] is None
    video = batches(1)[0].video
    task.eval()
    with torch.no_grad():
        expected, got = task(video), model(video)
    assert torch.equal(expected.logits, got.logits) and torch.equal(expected.locations, got.locations)
    assert got.locations.abs().max() <= 1 and bool((got.locations != 0).any())  # somewhere in the frame
    # the frames are normalised as the record says before the retina reads them
    manual = model.agent(model.encode(rearrange(video, "b t c h w -> (b t) c h w")).view(video.shape), sample=False)
    assert torch.allclose(manual.logits, got.logits, atol=1e-5)
    with pytest.raises(ConfigError, match="looks_at: features"):
        GlimpseTask(num_classes=3, num_frames=6, looks_at="pixels", features_from=str(path))
    with pytest.raises(ConfigError, match="looks_at"):
        GlimpseTask(num_classes=3, num_frames=6, looks_at="pixel")


def test_vap_train_an_agent_over_pixels_from_its_config(in_tmp, capsys):
    """One command, no classifier first: configs/moving_digits_glimpse_pixels.yaml on a few made videos."""
    md = in_tmp / "mds"
    config = Path(__file__).resolve().parents[2] / "configs" / "moving_digits_glimpse_pixels.yaml"
    assert main(["train", "--config", str(config), "--data.train", str(md / "train.txt"), "--data.val",
                 str(md / "val.txt"), "--data.test", str(md / "test.txt"), "--data.make_args", json.dumps(TINY),
                 "--data.batch_size", "6", "--data.num_workers", "0", "--trainer.enable_progress_bar", "false",
                 "--trainer.log_every_n_steps", "1", "--trainer.max_epochs", "1"]) == 0  # fmt: skip
    assert "best checkpoint:" in capsys.readouterr().out
    run = in_tmp / "runs" / "csv" / "version_0"
    assert "val/reward" in (run / "metrics.csv").read_text()
    assert (run / "attention" / "epoch_00" / "glimpses.png").stat().st_size > 1000  # boxes where it looked
    model, meta = load_agent(run / "checkpoints" / "last.ckpt")
    assert model.features is None and meta.extra["agent"]["args"]["scales"] == 2 and model.agent.max_glimpses == 6
