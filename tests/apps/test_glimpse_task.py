"""GlimpseTask: the agent trains on a frozen classifier's features, taken from a checkpoint alone."""

from __future__ import annotations

import lightning as L
import torch
from torch.utils.data import DataLoader

from pipeline.data.dataset import VideoBatch
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


def test_agent_trains_on_frozen_checkpoint_features(tmp_path):
    classifier = VideoClassificationTask(num_classes=3, class_names=["a", "b", "c"], backbone="tiny", head="tsn",
                                         head_args={"consensus": "avg"})  # fmt: skip
    trainer = fit(classifier, 1, tmp_path)
    ckpt = tmp_path / "classifier.ckpt"
    trainer.save_checkpoint(ckpt)
    task = GlimpseTask(num_classes=3, features_from=str(ckpt), max_glimpses=3, hidden=16)
    frozen = {k: v.clone() for k, v in task.features.state_dict().items()}
    agent_before = {k: v.clone() for k, v in task.agent.state_dict().items()}
    trainer = fit(task, 5, tmp_path)
    assert all(torch.equal(v, task.features.state_dict()[k]) for k, v in frozen.items())  # features untouched
    assert any(not torch.equal(v, task.agent.state_dict()[k]) for k, v in agent_before.items())  # agent learned
    assert not task.features.training  # batch norm statistics stay the classifier's
    logged = trainer.callback_metrics
    for key in ("train/reward", "train/viewed", "train/halt_entropy", "val/top1", "val/viewed_fraction"):
        assert key in logged and torch.isfinite(logged[key])
    assert 1 <= float(logged["val/viewed"]) <= 3
