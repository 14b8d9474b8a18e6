"""`pip install .` (a wheel, not editable) carries everything `vap train` needs: run from another folder,
with the source checkout out of reach, a shipped config found by its name trains and checkpoints."""

from __future__ import annotations

import json
import os
import site
import subprocess
import sys
import zipfile
from pathlib import Path

import pytest

from pipeline.apps.train.configs import configs_dir, resolve_config, resolve_config_args, shipped_configs

REPO = Path(__file__).resolve().parents[1]


def test_shipped_configs_are_found_by_name(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)  # no configs/ folder here
    assert "moving_digits_lstm" in shipped_configs()
    for given in ("moving_digits_lstm", "moving_digits_lstm.yaml", "configs/moving_digits_lstm.yaml"):
        assert resolve_config(given) == str(configs_dir() / "moving_digits_lstm.yaml")
    assert resolve_config("no_such_config") == "no_such_config"  # LightningCLI reports it
    mine = tmp_path / "moving_digits_lstm.yaml"
    mine.write_text("seed_everything: 1\n")
    assert resolve_config("moving_digits_lstm.yaml") == "moving_digits_lstm.yaml"  # the user's own file wins
    args = resolve_config_args(["-c", "ucf101_tsn_r50", "--config=moving_digits_tsn_avg", "--x", "y"])
    assert args == ["-c", str(configs_dir() / "ucf101_tsn_r50.yaml"),
                    f"--config={configs_dir() / 'moving_digits_tsn_avg.yaml'}", "--x", "y"]  # fmt: skip


def test_installed_wheel_trains_from_another_folder(tmp_path):
    wheels, target, work = tmp_path / "wheels", tmp_path / "site", tmp_path / "elsewhere"
    work.mkdir()
    pip = [sys.executable, "-m", "pip", "--disable-pip-version-check", "-q"]
    subprocess.run([*pip, "wheel", "--no-deps", "--no-build-isolation", str(REPO), "-w", str(wheels)],
                   check=True, timeout=300, cwd=tmp_path)  # fmt: skip
    wheel = next(wheels.glob("*.whl"))
    subprocess.run([*pip, "install", "--no-deps", "--target", str(target), str(wheel)], check=True, timeout=300)
    assert (target / "pipeline" / "configs" / "model" / "tiny_tsn_avg.yaml").is_file()

    # `-S`: no site processing, so the checkout's editable install is not importable; the dependencies
    # come from this environment's site-packages, the package only from the installed wheel.
    env = {**os.environ, "PYTHONPATH": os.pathsep.join([str(target), *site.getsitepackages()]),
           "WANDB_MODE": "disabled"}  # fmt: skip
    train = (
        "import sys, pipeline; from pipeline.cli import main; print('from', pipeline.__file__);"
        "sys.argv = ['vap', 'train', '--config', 'moving_digits_tsn_avg', '--trainer.max_epochs', '1',"
        " '--trainer.limit_train_batches', '2', '--trainer.limit_val_batches', '1',"
        " '--trainer.enable_progress_bar', 'false', '--data.make_args', '{num_train: 24, num_val: 6, num_test: 6}'];"
        "sys.exit(main())"
    )
    run = subprocess.run([sys.executable, "-S", "-c", train], cwd=work, env=env, capture_output=True, text=True,
                         timeout=600)  # fmt: skip
    assert run.returncode == 0, run.stdout[-2000:] + run.stderr[-3000:]
    assert f"from {target}" in run.stdout
    last = work / "runs" / "csv" / "version_0" / "checkpoints" / "last.ckpt"
    assert last.is_file() and (work / "datasets" / "moving-digits" / "train.txt").is_file()

    from pipeline.models.checkpoint import load_model

    model, meta = load_model(last)
    assert meta.num_classes == 6 and meta.model["head"] == "tsn"

    # the wheel holds the package and nothing of the research: the same modules as pipeline/ here
    shipped = {n for n in zipfile.ZipFile(wheel).namelist() if n.endswith(".py")}
    assert shipped == {p.relative_to(REPO).as_posix() for p in (REPO / "pipeline").rglob("*.py")}
    for research in ("fashion_mnist", "machine.py", "models/glimpse.py", "apps/bench.py", "scripts/"):
        assert not [n for n in shipped if research in n], research

    # and `vap --help`, `vap score`, `vap summarize` work from it in that folder
    def vap(*args: str) -> subprocess.CompletedProcess:
        code = f"import sys; from pipeline.cli import main; sys.argv = ['vap', *{list(args)!r}]; sys.exit(main())"
        return subprocess.run([sys.executable, "-S", "-c", code], cwd=work, env=env, capture_output=True, text=True,
                              timeout=600)  # fmt: skip

    assert "summarize" in vap("--help").stdout
    video = sorted((work / "datasets" / "moving-digits").rglob("*.mp4"))[0]
    scored = vap("score", "--checkpoint", str(last), str(video), "--out", "scores.jsonl", "--workers", "1")
    assert scored.returncode == 0, scored.stderr[-2000:]
    assert json.loads((work / "scores.jsonl").read_text())["status"] == "ok"
    summary = vap("summarize", str(video), "--out", "summaries", "--no-video")
    assert summary.returncode == 0, summary.stderr[-2000:]
    assert (work / "summaries" / video.stem / "summary.json").is_file()


@pytest.mark.parametrize("name", ["moving_digits_lstm", "ucf101_tsn_r50"])
def test_checkout_and_package_agree(name):
    assert (REPO / "configs" / f"{name}.yaml").is_file() and (configs_dir() / f"{name}.yaml").is_file()
