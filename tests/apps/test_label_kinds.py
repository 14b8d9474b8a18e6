"""Every label kind the data layer makes, through `vap train` / `vap test` / `vap predict`: multi-label
(multi-hot -> BCE, mAP, per-class AP), unlabeled (-1: predictions written, metrics skipped with a note),
and videos that fail to decode (reported by count and name)."""

from __future__ import annotations

import csv
from pathlib import Path

import pytest
import torch
import torch.nn.functional as F

from pipeline.cli import main
from pipeline.data.writer import write_video
from pipeline.models.checkpoint import load_model
from pipeline.tasks.classification import VideoClassificationTask

CLASSES = ["red", "green", "blue"]


def coloured(path: Path, channels: list[int], seed: int) -> None:
    """A video lit in the channels of its labels (a multi-label task a tiny model can learn)."""
    g = torch.Generator().manual_seed(seed)
    frames = torch.randint(0, 40, (8, 3, 32, 32), dtype=torch.uint8, generator=g)
    frames[:, channels] += 200
    write_video(path, frames, fps=8)


@pytest.fixture(scope="module")
def data(tmp_path_factory) -> Path:
    root = tmp_path_factory.mktemp("labels")
    (root / "videos").mkdir()
    (root / "classes.txt").write_text("\n".join(CLASSES) + "\n")
    combos = [[0], [1], [2], [0, 1], [1, 2], [0, 2]]
    lines = []
    for i in range(12):
        labels = combos[i % len(combos)]
        coloured(root / "videos" / f"v{i:02d}.mp4", labels, i)
        lines.append(f"videos/v{i:02d}.mp4 {' '.join(map(str, labels))}\n")
    (root / "train.txt").write_text("".join(lines[:8]))
    (root / "val.txt").write_text("".join(lines[8:]))
    # test lists: one unlabeled (Kinetics/SSv2-style), one with a video that cannot be decoded
    (root / "unlabeled.txt").write_text("".join(f"videos/v{i:02d}.mp4 -1\n" for i in range(8, 12)))
    (root / "videos" / "broken.mp4").write_bytes(b"not a video at all")
    (root / "with_bad.txt").write_text("".join(lines[8:]) + "videos/broken.mp4 0 1\n")
    return root


def cli(data: Path, *extra: str) -> list[str]:
    return [
        "--data.train", str(data / "train.txt"), "--data.val", str(data / "val.txt"), "--data.make", "null",
        "--data.batch_size", "4", "--data.num_workers", "0", "--model.head_args", '{"hidden": 16}',
        "--trainer.enable_progress_bar", "false", "--trainer.log_every_n_steps", "1", *extra,
    ]  # fmt: skip


def rows(path: Path) -> list[dict[str, str]]:
    with open(path, newline="") as f:
        return list(csv.DictReader(f))


@pytest.fixture(scope="module")
def trained(data: Path, tmp_path_factory) -> tuple[Path, Path]:
    run = tmp_path_factory.mktemp("run")
    mp = pytest.MonkeyPatch()
    mp.chdir(run)
    # offline, as in test_train: a "disabled" W&B in this process would stay disabled for later tests
    mp.setenv("WANDB_MODE", "offline")
    mp.setenv("WANDB_SILENT", "true")
    try:
        assert main(["train", *cli(data, "--trainer.max_epochs", "2")]) == 0
    finally:
        mp.undo()
    return run, run / "runs" / "csv" / "version_0"


def test_multilabel_data_trains_with_bce_and_reports_map(trained):
    run, version = trained
    logged = {k for r in rows(version / "metrics.csv") for k, v in r.items() if v}
    assert {"val/mAP", "val/micro_f1", "val/video_mAP", "train/mAP"} <= logged
    assert {f"val/ap/{c}" for c in CLASSES} <= logged and {f"val/video_ap/{c}" for c in CLASSES} <= logged
    assert not any("top1" in k for k in logged)  # no single-label metric on multi-label data
    best = list((version / "checkpoints").glob("best-*mAP*.ckpt"))  # the best checkpoint follows mAP
    assert best
    model, meta = load_model(best[0])
    assert meta.multilabel and meta.class_names == CLASSES


def test_multilabel_loss_is_binary_cross_entropy():
    task = VideoClassificationTask(num_classes=3, multilabel=True, head="tsn")
    logits = torch.tensor([[2.0, -1.0, 0.5], [0.0, 0.0, 0.0]])
    target = torch.tensor([[1.0, 0.0, 1.0], [-1.0, -1.0, -1.0]])  # the second row is unlabeled
    expected = F.binary_cross_entropy_with_logits(logits[:1], target[:1])
    assert torch.allclose(task._loss(logits, target), expected)


def test_unlabeled_test_and_predict_write_predictions_and_skip_metrics(data, trained, capsys):
    run, version = trained
    ckpt = version / "checkpoints" / "last.ckpt"
    for command, name in (("test", "predictions_test.csv"), ("predict", "predictions_predict.csv")):
        out_dir = run / command
        args = cli(data, "--data.test", str(data / "unlabeled.txt"), "--ckpt_path", str(ckpt),
                   "--trainer.default_root_dir", str(out_dir), "--trainer.logger", "false")  # fmt: skip
        assert main([command, *args]) == 0, capsys.readouterr().err
        printed = capsys.readouterr().out
        assert "none of the 4 videos has a label: metrics skipped" in printed, printed
        got = rows(out_dir / name)
        assert [r["video_id"] for r in got] == [f"videos/v{i:02d}.mp4" for i in range(8, 12)]
        assert all(r["label"] == "" and r["predicted"] and r["clips"] == "1" for r in got)
        assert all(set(r["predicted"].split(";")) <= set(CLASSES) for r in got)


def test_failed_videos_are_counted_and_named(data, trained, capsys, monkeypatch):
    run, version = trained
    monkeypatch.setenv("WANDB_MODE", "offline")
    monkeypatch.setenv("WANDB_SILENT", "true")
    ckpt = str(version / "checkpoints" / "last.ckpt")
    args = cli(data, "--data.test", str(data / "with_bad.txt"), "--ckpt_path", ckpt,
               "--trainer.default_root_dir", str(run / "bad"))  # fmt: skip
    assert main(["test", *args]) == 0
    printed = capsys.readouterr().out
    assert "test: 4 of 5 videos scored, 4 with labels" in printed
    assert "test: 1 videos failed to decode, not scored: videos/broken.mp4" in printed
    metrics = {k: v for r in rows(run / "bad" / "csv" / "version_0" / "metrics.csv") for k, v in r.items() if v}
    assert float(metrics["test/video_failed"]) == 1 and float(metrics["test/video_count"]) == 4
    assert "test/video_mAP" in metrics
    broken = [r for r in rows(run / "bad" / "csv" / "version_0" / "predictions_test.csv") if "broken" in r["video_id"]]
    assert broken[0]["clips"] == "0" and broken[0]["predicted"] == ""
