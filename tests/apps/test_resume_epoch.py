"""Resuming in the middle of an epoch draws that epoch's clips, not epoch 0's again, also in the workers."""

from __future__ import annotations

from pathlib import Path

import lightning as L
import numpy as np

from pipeline.data.datamodule import VideoDataModule
from pipeline.tasks.classification import VideoClassificationTask

TINY = {"num_train": 24, "num_val": 6, "num_test": 6}


def drawn_epoch(ds, video_id: str, frame_indices: np.ndarray, epochs: range) -> int | None:
    """Which epoch's random draw gave this clip (the dataset draws from (seed, epoch, index))."""
    index = [r.video_id for r in ds.records].index(video_id)
    for epoch in epochs:
        expected = ds.sampler(16, np.random.default_rng([ds.seed, epoch, index]), training=True, fps=8.0)[0]
        if np.array_equal(expected, frame_indices):
            return epoch
    return None


class SeenEpochs(L.Callback):
    """Records, per batch, the trainer's epoch and the epoch whose draw each clip came from (the clips
    are drawn in the loader's worker process); saves a checkpoint mid-way through epoch 1."""

    def __init__(self, save_to: Path | None = None) -> None:
        self.save_to = save_to
        self.seen: list[tuple[int, list[int | None]]] = []

    def on_train_batch_start(self, trainer, pl_module, batch, batch_idx) -> None:
        ds = trainer.datamodule.datasets["train"]
        pairs = zip(batch.video_id, batch.frame_indices, strict=True)
        drawn = [drawn_epoch(ds, v, f.numpy(), range(4)) for v, f in pairs]
        self.seen.append((trainer.current_epoch, drawn))

    def on_train_batch_end(self, trainer, pl_module, outputs, batch, batch_idx) -> None:
        if self.save_to is not None and trainer.current_epoch == 1 and batch_idx == 1:
            trainer.save_checkpoint(self.save_to)
            trainer.should_stop = True


def parts(tmp: Path) -> tuple[VideoClassificationTask, VideoDataModule]:
    md = tmp / "md"
    dm = VideoDataModule(
        train=str(md / "train.txt"), val=str(md / "val.txt"), make="moving-digits", make_args=TINY,
        size=32, flip=False, batch_size=6, num_workers=1, backend="pyav",
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
    assert first.seen[-1][0] == 1 and ckpt.exists()  # stopped in the middle of epoch 1
    assert all(drawn == [epoch] * len(drawn) for epoch, drawn in first.seen), first.seen

    # the loader has a worker process, as by default: its copy of the dataset must be at epoch 1 too
    again = SeenEpochs()
    trainer(tmp_path, again, epochs=3).fit(*parts(tmp_path), ckpt_path=ckpt)
    assert again.seen, "the resumed run trained no batch"
    assert all(drawn == [epoch] * len(drawn) for epoch, drawn in again.seen), again.seen
    assert again.seen[0][0] == 1 and again.seen[-1][0] == 2
