"""Two CPU processes (DDP over gloo) evaluate exactly like one: every test video counted once, uneven shards."""

from __future__ import annotations

import csv
import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

TINY = {"num_train": 12, "num_val": 6, "num_test": 6}


def vap(args: list[str], cwd: Path, timeout: float = 600) -> subprocess.CompletedProcess:
    env = {**os.environ, "WANDB_MODE": "disabled"}
    cmd = [sys.executable, "-m", "pipeline.cli", *args]
    done = subprocess.run(cmd, cwd=cwd, env=env, capture_output=True, text=True, timeout=timeout)
    assert done.returncode == 0, done.stderr[-3000:]
    return done


def last_metrics(run: Path) -> dict[str, float]:
    with open(run / "metrics.csv") as f:
        rows = list(csv.DictReader(f))
    return {k: float(v) for r in rows for k, v in r.items() if v not in ("", None)}


@pytest.mark.timeout(900)
def test_two_process_evaluation_matches_one(tmp_path):
    data = ["--data.train", "md/train.txt", "--data.val", "md/val.txt", "--data.make_args", json.dumps(TINY),
            "--data.batch_size", "4", "--data.num_workers", "0", "--model.head_args", '{"hidden": 32}',
            "--trainer.enable_progress_bar", "false", "--trainer.accelerator", "cpu"]  # fmt: skip
    vap(["train", *data, "--trainer.max_epochs", "1"], tmp_path)
    ckpt = tmp_path / "runs" / "csv" / "version_0" / "checkpoints" / "last.ckpt"
    # 5 test videos x 1 clip over 2 ranks: the distributed sampler pads one rank with a repeat
    lines = (tmp_path / "md" / "test.txt").read_text().splitlines()[:5]
    (tmp_path / "md" / "test5.txt").write_text("\n".join(lines) + "\n")
    test = ["test", *data, "--data.test", "md/test5.txt", "--ckpt_path", str(ckpt)]
    vap([*test, "--trainer.devices", "1"], tmp_path)
    vap([*test, "--trainer.devices", "2", "--trainer.strategy", "ddp"], tmp_path)
    one = last_metrics(tmp_path / "runs" / "csv" / "version_1")
    two = last_metrics(tmp_path / "runs" / "csv" / "version_2")
    assert one["test/video_count"] == two["test/video_count"] == 5
    for key in ("test/video_top1", "test/video_top5", "test/video_mean_class_acc"):
        assert two[key] == pytest.approx(one[key], abs=1e-6)
    # uneven shards (3 and 2 clips), nothing repeated: the clip level is exact too, and every video's
    # one clip was summed once (a padded repeat would show as 2 clips for one video)
    assert two["test/clip_top1"] == pytest.approx(one["test/clip_top1"], abs=1e-6)
    predicted = []
    for version in ("version_1", "version_2"):
        with open(tmp_path / "runs" / "csv" / version / "predictions_test.csv") as f:
            rows = list(csv.DictReader(f))
        assert [r["clips"] for r in rows] == ["1"] * 5
        predicted.append([(r["video_id"], r["predicted"]) for r in rows])
    assert predicted[0] == predicted[1]


@pytest.mark.timeout(900)
def test_two_process_training_survives_an_all_bad_batch(tmp_path):
    """DDP training over gloo where rank 0's first batch is all undecodable while rank 1's is good:
    every rank still runs backward (a zero loss tied to the parameters), so nothing hangs."""
    from torch.utils.data import DistributedSampler

    from pipeline.data.datamodule import VideoDataModule

    md = tmp_path / "md"
    VideoDataModule(train=str(md / "train.txt"), make="moving-digits", make_args=TINY, num_workers=0).read("train")
    good = (md / "train.txt").read_text().splitlines()[:8]
    # 16 items; the ones Lightning's distributed sampler (shuffle, seed 0, epoch 0) gives rank 0 first are broken
    order = list(DistributedSampler(range(16), num_replicas=2, rank=0, shuffle=True, seed=0))
    broken = set(order[:2])
    lines, k = [], 0
    for i in range(16):
        if i in broken:
            (md / f"broken{i}.mp4").write_bytes(b"")
            lines.append(f"broken{i}.mp4 0")
        else:
            lines.append(good[k % len(good)])
            k += 1
    (md / "mixed.txt").write_text("\n".join(lines) + "\n")
    args = ["train", "--data.train", "md/mixed.txt", "--data.val", "md/train.txt", "--data.make", "null",
            "--data.batch_size", "2", "--data.num_workers", "0", "--data.max_bad_rate", "1.0",
            "--model.head_args", '{"hidden": 16}', "--trainer.enable_progress_bar", "false",
            "--trainer.accelerator", "cpu", "--trainer.devices", "2", "--trainer.strategy", "ddp",
            "--trainer.max_epochs", "1", "--trainer.limit_val_batches", "1"]  # fmt: skip
    done = vap(args, tmp_path, timeout=float(os.environ.get("VAP_TEST_DDP_TIMEOUT", 400)))  # a hang fails
    import torch

    ckpt = torch.load(tmp_path / "runs" / "csv" / "version_0" / "checkpoints" / "last.ckpt", weights_only=True)
    assert ckpt["global_step"] == 4  # 16 items / 2 ranks / 2 per batch: the all-bad step counted too
    assert "bad videos skipped" in done.stdout


@pytest.mark.slow
@pytest.mark.timeout(900)
def test_two_process_glimpse_agent_pools_frames_viewed_over_ranks(tmp_path):
    """The glimpse agent under DDP (pixels: no classifier needed): the frames-viewed histogram counts every
    validation video once, the 3 each rank saw pooled, not rank 0's alone."""
    config = Path(__file__).resolve().parents[2] / "configs" / "moving_digits_glimpse_pixels.yaml"
    vap(["train", "--config", str(config), "--data.train", "md/train.txt", "--data.val", "md/val.txt",
         "--data.make_args", json.dumps(TINY), "--data.batch_size", "3", "--data.num_workers", "0",
         "--trainer.enable_progress_bar", "false", "--trainer.accelerator", "cpu", "--trainer.max_epochs", "1",
         "--trainer.devices", "2", "--trainer.strategy", "ddp"], tmp_path)  # fmt: skip
    saved = json.loads((tmp_path / "runs" / "csv" / "version_0" / "attention" / "epoch_00" / "frames_viewed.json")
                       .read_text())  # fmt: skip
    assert saved["videos"] == TINY["num_val"] == sum(saved["histogram"].values())
