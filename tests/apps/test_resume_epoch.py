"""Resuming in the middle of an epoch draws that epoch's clips, not epoch 0's again."""

from __future__ import annotations

from pathlib import Path

import lightning as L

from pipeline.data.datamodule import VideoDataModule
from pipeline.tasks.classification import VideoClassificationTask

TINY = {"num_train": 24, "num_val": 6, "num_test": 6}


class SeenEpochs(L.Callback):
    """Records the training set's clip epoch at every batch; saves a checkpoint mid-way through epoch 1."""

    def __init__(self, save_to: Path | None = None) -> None:
        self.save_to = save_to
        self.seen: list[tuple[int, int]] = []

    def on_train_batch_start(self, trainer, pl_module, batch, batch_idx) -> None:
        self.seen.append((trainer.current_epoch, trainer.datamodule.datasets["train"].epoch))

    def on_train_batch_end(self, trainer, pl_module, outputs, batch, batch_idx) -> None:
        if self.save_to is not None and trainer.current_epoch == 1 and batch_idx == 1:
            trainer.save_checkpoint(self.save_to)
            trainer.should_stop = True


def parts(tmp: Path) -> tuple[VideoClassificationTask, VideoDataModule]:
    md = tmp / "md"
    dm = VideoDataModule(
        train=str(md / "train.txt"), val=str(md / "val.txt"), make="moving-digits", make_args=TINY,
        size=32, flip=False, batch_size=6, num_workers=0, backend="pyav",
    )  # fmt: skip
    model = VideoClassificationTask(num_classes=6, head="tsn", head_args={"consensus": "avg"})
    return model, dm


def trainer(tmp: Path, cb: L.Callback, epochs: int) -> L.Trainer:
    return L.Trainer(
        max_epochs=epochs, callbacks=[cb], logger=False, enable_checkpointing=False, enable_progress_bar=False,
        enable_model_summary=False, default_root_dir=tmp, num_sanity_val_steps=0, limit_val_batches=0,
    )  # fmt: skip


def test_mid_epoch_resume_keeps_the_clip_epoch(tmp_path):
    ckpt = tmp_path / "mid.ckpt"
    first = SeenEpochs(save_to=ckpt)
    trainer(tmp_path, first, epochs=3).fit(*parts(tmp_path))
    assert first.seen[-1] == (1, 1) and ckpt.exists()  # stopped in the middle of epoch 1

    again = SeenEpochs()
    trainer(tmp_path, again, epochs=3).fit(*parts(tmp_path), ckpt_path=ckpt)
    assert again.seen, "the resumed run trained no batch"
    assert all(epoch == data_epoch for epoch, data_epoch in again.seen), again.seen
    assert again.seen[0][0] == 1 and again.seen[-1][0] == 2
