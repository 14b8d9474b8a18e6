"""`vap train` / `vap test` end to end through the CLI, on tiny moving-digits, W&B offline."""

from __future__ import annotations

import csv
import json
import logging
from pathlib import Path

import pytest
import torch

from pipeline.cli import main
from pipeline.data.moving_digits import CLASS_NAMES

TINY = {"num_train": 24, "num_val": 12, "num_test": 12}


def common(tmp: Path) -> list[str]:
    return [
        "--data.train", str(tmp / "md" / "train.txt"), "--data.val", str(tmp / "md" / "val.txt"),
        "--data.test", str(tmp / "md" / "test.txt"), "--data.make_args", json.dumps(TINY),
        "--data.batch_size", "8", "--data.num_workers", "0", "--model.head_args", '{"hidden": 32}',
        "--trainer.log_every_n_steps", "1", "--trainer.enable_progress_bar", "false",
    ]  # fmt: skip


def read_csv(path: Path) -> list[dict[str, str]]:
    with open(path) as f:
        return list(csv.DictReader(f))


def test_train_resume_and_test(in_tmp, capsys):
    assert main(["train", *common(in_tmp), "--trainer.max_epochs", "1"]) == 0
    out = capsys.readouterr().out
    assert "best checkpoint:" in out and "W&B run (offline" in out
    run = in_tmp / "runs" / "csv" / "version_0"
    rows = read_csv(run / "metrics.csv")
    assert any(r.get("val/top1") for r in rows) and any(r.get("train/loss") for r in rows)
    assert any(r.get("perf/clips_per_s_epoch") for r in rows) and any(r.get("perf/data_fraction_epoch") for r in rows)
    snapshots = run / "attention" / "epoch_00"  # timelines, key frames, confusion matrix, as PNG
    for name in ("timeline_0.png", "key_frames.png", "confusion.png"):
        assert (snapshots / name).stat().st_size > 1000, name
    last = run / "checkpoints" / "last.ckpt"
    ckpt = torch.load(last, map_location="cpu", weights_only=True)
    assert ckpt["vap"]["class_names"] == list(CLASS_NAMES)
    assert ckpt["vap"]["preprocessing"]["size"] == 32 and ckpt["vap"]["preprocessing"]["sampler"] == "tsn"
    assert ckpt["epoch"] == 0 and ckpt["optimizer_states"] and ckpt["lr_schedulers"]
    steps = ckpt["global_step"]
    # W&B offline: a local run folder whose record log holds the logged metrics (protobuf records;
    # wandb 0.31 ships no Python reader for it, so the metric keys are looked for in the bytes)
    wandb_runs = list((in_tmp / "runs" / "wandb").glob("offline-run-*"))
    assert len(wandb_runs) == 1
    records = next(wandb_runs[0].glob("run-*.wandb")).read_bytes()
    for key in (b"val/top1", b"train/loss", b"perf/clips_per_s", b"lr-AdamW", b"val/key_frames", b"val/timeline"):
        assert key in records

    # resume: model, optimiser, scheduler and epoch come back; training goes on to epoch 2
    assert main(["train", *common(in_tmp), "--trainer.max_epochs", "2", "--ckpt_path", str(last)]) == 0
    resumed = torch.load(in_tmp / "runs" / "csv" / "version_1" / "checkpoints" / "last.ckpt", weights_only=True)
    assert resumed["epoch"] == 1 and resumed["global_step"] == 2 * steps
    assert "best checkpoint:" in capsys.readouterr().out

    # test: clip- and video-level metrics, every test video counted once
    # (and --trainer.default_root_dir moves the loggers' output too)
    args = ["--ckpt_path", str(last), "--trainer.default_root_dir", "elsewhere"]
    assert main(["test", *common(in_tmp), *args]) == 0
    printed = capsys.readouterr().out
    assert "test/video_top1" in printed and "test/clip_top1" in printed
    assert "best checkpoint" not in printed  # a test run keeps no checkpoint (it once printed a score of 0)
    tested = read_csv(in_tmp / "elsewhere" / "csv" / "version_0" / "metrics.csv")
    assert any(r.get("test/video_top1") for r in tested) and any(r.get("test/video_count") for r in tested)
    assert list((in_tmp / "elsewhere" / "wandb").glob("offline-run-*"))
    assert not (in_tmp / "runs" / "csv" / "version_2").exists()


def test_config_errors_name_the_key(in_tmp, capsys):
    assert main(["train", *common(in_tmp), "--model.head", "gru", "--trainer.logger", "false"]) == 1
    assert "unknown head 'gru'; allowed: lstm, transformer, tsn" in capsys.readouterr().err
    with pytest.raises(SystemExit) as e:
        main(["train", *common(in_tmp), "--model.optimizer", "adam"])
    assert e.value.code != 0
    assert "optimizer" in capsys.readouterr().err


def test_print_config_shows_the_default_experiment(in_tmp, capsys):
    with pytest.raises(SystemExit) as e:
        main(["train", "--print_config"])
    assert e.value.code == 0
    text = capsys.readouterr().out
    assert "head: lstm" in text and "make: moving-digits" in text and "num_segments: 8" in text


def test_wandb_variables_set_by_the_user_win(tmp_path, monkeypatch):
    from pipeline.apps.train.cli import default_loggers

    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("WANDB_DIR", str(tmp_path / "my_wandb"))
    monkeypatch.setenv("WANDB_PROJECT", "my-project")
    monkeypatch.setenv("WANDB_MODE", "offline")
    monkeypatch.setenv("WANDB_SILENT", "true")
    csv_logger, wandb_logger = default_loggers(save_dir="runs")
    assert csv_logger.save_dir == "runs" and wandb_logger.name == "my-project"
    run = wandb_logger.experiment
    try:
        assert Path(run.dir).is_relative_to(tmp_path / "my_wandb") and run.offline
    finally:
        run.finish()


def test_train_without_any_logger(in_tmp, capsys):
    """`--trainer.logger false` (documented in docs/training.md) trains; no learning-rate monitor is left
    without a logger to write to."""
    args = ["train", *common(in_tmp), "--trainer.logger", "false", "--trainer.max_epochs", "1",
            "--trainer.limit_train_batches", "1", "--trainer.limit_val_batches", "1"]  # fmt: skip
    assert main(args) == 0
    out = capsys.readouterr().out
    assert "best checkpoint:" in out and "metrics (CSV)" not in out and "W&B" not in out


def test_a_first_run_prints_each_line_once_and_no_third_party_noise(tmp_path):
    """`vap train` as a new user meets it (a fresh process, W&B not logged in, nothing W&B-specific set):
    each log line once, no advertising tips, no deprecation warnings about code the user cannot change."""
    import os
    import re
    import subprocess
    import sys

    env = {k: v for k, v in os.environ.items() if not k.startswith("WANDB_")}
    env["HOME"] = str(tmp_path)  # no ~/.netrc: W&B offline, as on a fresh machine
    args = [*common(tmp_path), "--trainer.max_epochs", "1", "--trainer.limit_train_batches", "1",
            "--trainer.limit_val_batches", "1"]  # fmt: skip
    done = subprocess.run([sys.executable, "-m", "pipeline.cli", "train", *args], cwd=tmp_path, env=env,
                          capture_output=True, text=True, timeout=600)  # fmt: skip
    assert done.returncode == 0, done.stderr[-2000:]
    printed = done.stdout + done.stderr
    logged = [re.sub(r"^INFO:?\s*", "", line) for line in printed.splitlines() if line.startswith("INFO")]
    assert logged and len(logged) == len(set(logged)), logged  # "Seed set to 0" once, not twice
    for noise in ("Tip:", "litlogger", "wandb leet", "anonymous setting", "is deprecated", "git root"):
        assert noise not in printed, noise
    assert "W&B run (offline: sync later with `wandb sync" in printed


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["--data.size", "0"], "data.size must be a whole number of at least 1, got 0"),
        (["--data.size", "-5"], "data.size must be a whole number of at least 1, got -5"),
        (["--data.batch_size", "0"], "data.batch_size must be a whole number of at least 1, got 0"),
        (["--model.head_args", '{"class_path": "subprocess.Popen"}'], "head 'lstm': got an unexpected keyword"),
        (["--model.attention", "se", "--model.attention_args", '{"nope": 1}'], "unexpected keyword argument 'nope'"),
    ],
)
def test_bad_values_are_one_line_naming_the_key(in_tmp, capsys, args, message):
    assert main(["train", *common(in_tmp), "--trainer.logger", "false", "--trainer.max_epochs", "1", *args]) == 1
    errors = [line for line in capsys.readouterr().err.splitlines() if line.startswith("vap")]
    assert len(errors) == 1 and message in errors[0] and errors[0].startswith("vap train: error:"), errors


def test_a_head_of_absurdly_many_classes_is_refused_before_any_allocation():
    from pipeline.errors import ConfigError
    from pipeline.models.heads import build_head

    with pytest.raises(ConfigError, match="num_classes must be a whole number from 1 to 1,000,000"):
        build_head("tsn", 16, 10**12)


def test_a_broken_or_hostile_ckpt_path_is_one_line_and_never_loaded(in_tmp, capsys):
    import os

    class Payload:
        def __reduce__(self):
            return (os.system, (f"touch {in_tmp / 'PWNED'}",))

    torch.save({"state_dict": Payload()}, in_tmp / "evil.ckpt")
    (in_tmp / "junk.ckpt").write_bytes(b"junk")
    for name, why in (("evil.ckpt", "holds code or types"), ("junk.ckpt", "cannot be read as a checkpoint")):
        assert main(["test", *common(in_tmp), "--trainer.logger", "false", "--ckpt_path", str(in_tmp / name)]) == 1
        errors = [line for line in capsys.readouterr().err.splitlines() if line.startswith("vap")]
        assert len(errors) == 1 and why in errors[0] and name in errors[0], errors
    assert not (in_tmp / "PWNED").exists()


def test_a_clip_backbone_trains_from_the_command_line_and_its_checkpoint_scores(in_tmp, capsys):
    """`--model.backbone mc3_18`: the validation pictures draw its temporal attention (it has no spatial
    attention layers to draw), and the checkpoint rebuilds with the Kinetics normalisation it trained with."""
    from pipeline.models.checkpoint import load_model

    args = ["train", *common(in_tmp), "--model.backbone", "mc3_18", "--trainer.max_epochs", "1",
            "--trainer.limit_train_batches", "1", "--trainer.limit_val_batches", "1"]  # fmt: skip
    assert main(args) == 0
    run = in_tmp / "runs" / "csv" / "version_0"
    assert (run / "attention" / "epoch_00" / "timeline_0.png").stat().st_size > 1000
    assert not (run / "attention" / "epoch_00" / "spatial.png").exists()
    model, meta = load_model(run / "checkpoints" / "last.ckpt")
    assert meta.model["backbone"] == "mc3_18" and tuple(meta.preprocessing["mean"]) == pytest.approx(model.mean)
    assert model.mean[0] == pytest.approx(0.43216)  # Kinetics', not ImageNet's


def test_init_from_fine_tunes_to_a_new_class_list_with_a_fresh_optimiser(in_tmp, capsys):
    """`--model.init_from`: a run on 4 classes starts one on 2 others and a new one (moving-digits `classes`);
    the line says what was loaded and what is new; the new run's checkpoint has the new class list, its own
    step count from zero, and stands alone (it loads with the first run's checkpoint gone)."""
    from pipeline.models.checkpoint import load_model

    four = {**TINY, "classes": ["move_right", "move_left", "move_down", "move_up"]}
    first = ["train", *common(in_tmp), "--data.make_args", json.dumps(four), "--trainer.max_epochs", "1",
             "--trainer.limit_train_batches", "2", "--trainer.limit_val_batches", "1"]  # fmt: skip
    assert main(first) == 0
    source = in_tmp / "runs" / "csv" / "version_0" / "checkpoints" / "last.ckpt"
    moved = in_tmp / "four.ckpt"
    source.rename(moved)
    capsys.readouterr()
    three = {**TINY, "classes": ["zoom_in", "zoom_out", "move_down_right"]}
    common_new = [a.replace(str(in_tmp / "md"), str(in_tmp / "new")) for a in common(in_tmp)]
    second = ["train", *common_new, "--data.make_args", json.dumps(three), "--model.init_from", str(moved),
              "--trainer.max_epochs", "1", "--trainer.limit_train_batches", "1",
              "--trainer.limit_val_batches", "1"]  # fmt: skip
    said: list[str] = []  # Lightning's info lines go to the stream its handler was made with, not to capsys
    handler = logging.Handler()
    handler.emit = lambda record: said.append(record.getMessage())  # type: ignore[method-assign]
    logging.getLogger("lightning.pytorch").addHandler(handler)
    try:
        assert main(second) == 0
    finally:
        logging.getLogger("lightning.pytorch").removeHandler(handler)
    line = next(x for x in said if x.startswith("init_from"))
    assert "loaded" in line and "new: head.fc" in line and "dropped: nothing" in line
    moved.rename(in_tmp / "gone.ckpt")  # the fine-tuned checkpoint must not need it
    tuned = torch.load(in_tmp / "runs" / "csv" / "version_1" / "checkpoints" / "last.ckpt", weights_only=True)
    assert tuned["vap"]["class_names"] == three["classes"] and tuned["global_step"] == 1  # its own single step
    model, meta = load_model(in_tmp / "runs" / "csv" / "version_1" / "checkpoints" / "last.ckpt")
    assert meta.class_names == three["classes"] and model.head.fc.out_features == 3
    four_model, _ = load_model(in_tmp / "gone.ckpt")
    conv = next(k for k, v in model.state_dict().items() if k.startswith("backbone.") and v.dim() == 4)
    assert not torch.equal(model.state_dict()[conv], four_model.state_dict()[conv])  # trained on from there
