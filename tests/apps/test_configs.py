"""Every experiment config builds its whole object graph on a tiny fake dataset in the official layout."""

from __future__ import annotations

import csv
import json
from pathlib import Path

import pytest
import torch

from pipeline.apps.train.cli import CONFIGS, build
from pipeline.data.writer import write_video

REAL = {
    "ucf101_tsn_r50": "ucf101",
    "hmdb51_tsn_r50": "hmdb51",
    "kinetics400_tsn_r50": "kinetics400",
    "kinetics400_transformer_r50": "kinetics400",
    "ssv2_transformer_r50": "ssv2",
    "ucf101_r2plus1d_kinetics": "ucf101",
}
FRAMES = {"ucf101_r2plus1d_kinetics": 16}  # a clip backbone's clips; the others sample TSN-8


def clip(path: Path, seed: int) -> None:
    g = torch.Generator().manual_seed(seed)
    write_video(path, torch.randint(0, 256, (12, 3, 40, 64), dtype=torch.uint8, generator=g), fps=10)


def fake_ucf101(root: Path) -> None:
    lists = root / "datasets/ucf101/ucfTrainTestlist"
    lists.mkdir(parents=True)
    classes = ["ApplyEyeMakeup", "Archery"]
    (lists / "classInd.txt").write_text("".join(f"{i + 1} {c}\n" for i, c in enumerate(classes)))
    train, test = [], []
    for i, c in enumerate(classes):
        for g in (8, 9):
            name = f"{c}/v_{c}_g{g:02d}_c01.avi"
            clip(root / "datasets/ucf101/videos" / name, g + i)
            train.append(f"{name} {i + 1}\n")
        name = f"{c}/v_{c}_g01_c01.avi"
        clip(root / "datasets/ucf101/videos" / name, i)
        test.append(f"{name}\n")
    (lists / "trainlist01.txt").write_text("".join(train))
    (lists / "testlist01.txt").write_text("".join(test))


def fake_hmdb51(root: Path) -> None:
    splits = root / "datasets/hmdb51/testTrainMulti_7030_splits"
    splits.mkdir(parents=True)
    for i, c in enumerate(["brush_hair", "cartwheel"]):
        rows = []
        for k, mark in enumerate((1, 1, 2, 0)):
            name = f"{c}_clip_{k}.avi"
            clip(root / "datasets/hmdb51/videos" / c / name, 10 * i + k)
            rows.append(f"{name} {mark} \n")
        (splits / f"{c}_test_split1.txt").write_text("".join(rows))


def fake_kinetics(root: Path) -> None:
    ann = root / "datasets/kinetics400/annotations"
    ann.mkdir(parents=True)
    classes = ["abseiling", "air drumming"]
    (ann / "classes.txt").write_text("\n".join(classes) + "\n")
    for split, file in (("train", "train.csv"), ("val", "validate.csv")):
        with open(ann / file, "w", newline="") as f:
            w = csv.writer(f)
            w.writerow(["label", "youtube_id", "time_start", "time_end", "split"])
            for i, c in enumerate(classes):
                for k in range(2):
                    yid = f"{split[:2]}{i}{k}xxxxxxx"
                    w.writerow([c, yid, 10, 20, split])
                    clip(root / f"datasets/kinetics400/videos/{split}/{c}/{yid}_000010_000020.mp4", i * 7 + k)


def fake_ssv2(root: Path) -> None:
    labels = root / "datasets/ssv2/labels"
    labels.mkdir(parents=True)
    templates = ["Pushing something from left to right", "Pushing something from right to left"]
    (labels / "labels.json").write_text(json.dumps({t: str(i) for i, t in enumerate(templates)}))
    for file, start in (("train.json", 1), ("validation.json", 100)):
        items = []
        for i, t in enumerate(templates):
            for k in range(2):
                vid = str(start + 10 * i + k)
                label, template = t.replace("something", "a cup"), t.replace("something", "[something]")
                items.append({"id": vid, "label": label, "template": template, "placeholders": ["a cup"]})
                clip(root / f"datasets/ssv2/videos/{vid}.webm", int(vid))
        (labels / file).write_text(json.dumps(items))


FAKES = {"ucf101": fake_ucf101, "hmdb51": fake_hmdb51, "kinetics400": fake_kinetics, "ssv2": fake_ssv2}


GLIMPSE = {"moving_digits_glimpse": None, "moving_digits_glimpse_pixels": None, "ucf101_glimpse_r50": "ucf101"}


LONG = {"moving_digits_long_clips", "moving_digits_long_glimpse"}  # both trained in tests/apps/test_long_agent.py


def test_every_config_is_covered():
    experiments = {p.stem for p in CONFIGS.glob("*.yaml")}
    heads = {f"moving_digits_{h}" for h in ("transformer", "lstm", "tsn_avg", "tsn_attention")}
    assert set(REAL) | heads | set(GLIMPSE) | LONG == experiments


@pytest.mark.parametrize("config", sorted(REAL))
def test_real_dataset_config_builds_and_runs_a_batch(config, tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    FAKES[REAL[config]](tmp_path)
    cli = build(
        CONFIGS / f"{config}.yaml",
        # no network here: no ImageNet download; small frames so the ResNet-50 forward is quick
        ["--model.weights", "none", "--data.size", "32", "--data.batch_size", "2", "--data.num_workers", "0",
         "--data.test_clips", "2", "--trainer.accelerator", "cpu", "--trainer.logger", "false",
         "--trainer.precision", "32"],
    )  # fmt: skip
    dm, model = cli.datamodule, cli.model
    assert dm.num_classes == 2 and model.hparams.num_classes == 2 and model.class_names == dm.class_names
    dm.setup("fit")
    dm.setup("test")
    assert len(dm.datasets["train"]) >= 4 and len(dm.datasets["test"]) >= 2 * 2  # 2 test clips per video
    batch = next(iter(dm.train_dataloader()))
    t = FRAMES.get(config, 8)
    assert not batch.failures and batch.video.shape == (2, t, 3, 32, 32)
    test_batch = next(iter(dm.test_dataloader()))
    assert test_batch.video.shape == (2, 3, t, 3, 32, 32)  # 3 crops per test clip
    with torch.no_grad():
        model.eval()
        assert model(batch.video).logits.shape == (2, 2)
        assert model(test_batch.video).logits.shape == (2, 2)


def test_config_values_never_build_objects(tmp_path, monkeypatch):
    """A `class_path` inside a free-form field stays data: no program runs from a config.

    The config is otherwise valid (it builds), and the field is one nothing else reads (`make_args`
    with `make: null`), so the only thing that could fail is the guard itself (`safe_parsing`)."""
    monkeypatch.chdir(tmp_path)
    marker = tmp_path / "pwned"
    (tmp_path / "train.txt").write_text("a.mp4 0\nb.mp4 1\n")
    evil = {"x": {"class_path": "subprocess.Popen", "init_args": {"args": f"touch {marker}", "shell": True}}}
    cfg = tmp_path / "evil.yaml"
    cfg.write_text(json.dumps({"data": {"make": None, "make_args": evil, "train": "train.txt"}}))
    cli = build(cfg, ["--trainer.logger", "false", "--trainer.enable_progress_bar", "false"])
    got = cli.datamodule.make_args["x"]
    if hasattr(got, "wait"):  # the guard failed: a process was started; let it finish, then fail
        got.wait(timeout=30)
    got = got.as_dict() if hasattr(got, "as_dict") else got  # jsonargparse keeps it as a Namespace
    assert isinstance(got, dict) and got["class_path"] == "subprocess.Popen" and not marker.exists()


def tiny_classifier(path: Path, classes: int) -> Path:
    """A classification checkpoint (untrained) with its `vap` record, as step 1 of docs/glimpse.md leaves."""
    from pipeline.models.checkpoint import MODEL_KEYS, checkpoint_record
    from pipeline.tasks.classification import VideoClassificationTask

    task = VideoClassificationTask(num_classes=classes, backbone="tiny", head="tsn")
    record = checkpoint_record(
        model={k: task.hparams[k] for k in MODEL_KEYS}, class_names=[str(i) for i in range(classes)],
        preprocessing={"mean": list(task.model.mean), "std": list(task.model.std)},
    )  # fmt: skip
    torch.save({"state_dict": task.state_dict(), "vap": record}, path)
    return path


@pytest.mark.parametrize("config", sorted(GLIMPSE))
def test_glimpse_config_builds_the_agent_and_runs_an_episode(config, tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    overrides = ["--data.batch_size", "2", "--data.num_workers", "0", "--trainer.accelerator", "cpu",
                 "--trainer.logger", "false", "--trainer.precision", "32"]  # fmt: skip
    if GLIMPSE[config] is None:  # moving-digits-sparse, made on first use: a few videos
        md = tmp_path / "mds"
        overrides += ["--data.train", str(md / "train.txt"), "--data.val", str(md / "val.txt"),
                      "--data.test", str(md / "test.txt"),
                      "--data.make_args", json.dumps({"num_train": 6, "num_val": 0, "num_test": 0})]  # fmt: skip
    else:
        FAKES[GLIMPSE[config]](tmp_path)
        overrides += ["--data.size", "32"]
    if not config.endswith("_pixels"):  # the agent over pixels needs no classifier
        overrides += ["--model.features_from", str(tiny_classifier(tmp_path / "classifier.ckpt", 6))]
    cli = build(CONFIGS / f"{config}.yaml", overrides)
    dm, model = cli.datamodule, cli.model
    assert type(model).__name__ == "GlimpseTask" and model.hparams.num_classes == dm.num_classes
    assert model.class_names == dm.class_names and model.hparams.num_frames == dm.clip_len
    dm.setup("fit")
    batch = next(iter(dm.train_dataloader()))
    assert batch.video.shape[1] == dm.clip_len and dm.clip_len in (16, 32)
    model.eval()
    with torch.no_grad():
        out = model(batch.video)
    assert out.logits.shape == (2, dm.num_classes)
    assert int(out.viewed.min()) >= 2 and int(out.viewed.max()) <= model.hparams.max_glimpses < dm.clip_len
    pixels = model.hparams.looks_at == "pixels"
    assert (model.model.features is None) == pixels == config.endswith("_pixels")
    assert bool((out.locations != 0).any()) == pixels  # a place in the frame only when it looks at pixels
    best = [cb for cb in cli.trainer.callbacks if type(cb).__name__ == "ModelCheckpoint"]
    assert best and best[0].monitor == "val/reward"


def test_the_glimpse_config_reads_the_data_its_classifier_was_trained_on():
    """Step 2 writes out step 1's data config (to set its own batch): the videos must stay the same."""
    import yaml

    agent = yaml.safe_load((CONFIGS / "moving_digits_glimpse.yaml").read_text())["data"]
    classifier = yaml.safe_load((CONFIGS / "data" / "moving_digits_sparse.yaml").read_text())
    assert agent.pop("batch_size") == 64 and classifier.pop("batch_size") == 16
    assert agent == classifier


def test_a_glimpse_config_without_a_classifier_says_what_to_do(tmp_path, monkeypatch):
    from pipeline.errors import ConfigError

    monkeypatch.chdir(tmp_path)
    (tmp_path / "x.txt").write_text("a.mp4 0\nb.mp4 1\n")
    with pytest.raises(ConfigError, match="features_from"):
        build(CONFIGS / "moving_digits_glimpse.yaml", ["--data.make", "null", "--data.train", "x.txt",
                                                         "--trainer.logger", "false"])  # fmt: skip


def test_the_task_key_names_a_registered_task_only(tmp_path, monkeypatch):
    from pipeline.apps.train.cli import task_name
    from pipeline.errors import UnknownNameError

    monkeypatch.chdir(tmp_path)
    (tmp_path / "a.yaml").write_text("task: glimpse\n")
    assert task_name(["--config", "a.yaml"]) == "glimpse" and task_name([]) == "classification"
    assert task_name(["--config", "a.yaml", "--task", "classification"]) == "classification"
    with pytest.raises(UnknownNameError, match="allowed: classification, glimpse"):
        task_name(["--task", "subprocess.Popen"])


@pytest.mark.parametrize(
    ("section", "value", "name"),
    [
        (
            "callbacks",
            [{"class_path": "lightning.pytorch.callbacks.LambdaCallback", "init_args": {"on_fit_start": "os.system"}}],
            "os.system",
        ),  # fmt: skip
        ("logger", {"class_path": "this.Nothing"}, "this.Nothing"),  # importing `this` prints a poem
    ],
)
def test_a_config_names_only_the_parts_of_a_run(tmp_path, monkeypatch, capsys, section, value, name):
    """A config cannot call any importable function, nor import a module to run its side effects: what is
    not a part of a run is refused before it is imported."""
    monkeypatch.chdir(tmp_path)
    (tmp_path / "train.txt").write_text("a.mp4 0\nb.mp4 1\n")
    cfg = tmp_path / "evil.yaml"
    cfg.write_text(json.dumps({"data": {"make": None, "train": "train.txt"}, "trainer": {section: value}}))
    with pytest.raises(SystemExit) as e:
        build(cfg, ["--trainer.enable_progress_bar", "false"])
    assert e.value.code == 2
    out, err = capsys.readouterr()
    assert f"a config may not name {name!r}" in err and "VAP_CONFIG_IMPORTS" in err and len(err.splitlines()) == 1
    assert "Zen of Python" not in out + err  # refused before the import, not after it


def test_your_own_modules_by_an_explicit_opt_in(tmp_path, monkeypatch, capsys):
    monkeypatch.chdir(tmp_path)
    (tmp_path / "train.txt").write_text("a.mp4 0\nb.mp4 1\n")
    (tmp_path / "mylab").mkdir()
    (tmp_path / "mylab" / "__init__.py").write_text("")
    (tmp_path / "mylab" / "callbacks.py").write_text("import lightning as L\nclass Beep(L.Callback):\n    pass\n")
    monkeypatch.syspath_prepend(str(tmp_path))
    cfg = tmp_path / "mine.yaml"
    callbacks = [{"class_path": "mylab.callbacks.Beep"}]
    cfg.write_text(json.dumps({"data": {"make": None, "train": "train.txt"}, "trainer": {"callbacks": callbacks}}))
    with pytest.raises(SystemExit):
        build(cfg, ["--trainer.logger", "false"])
    assert "a config may not name 'mylab.callbacks.Beep'" in capsys.readouterr().err
    monkeypatch.setenv("VAP_CONFIG_IMPORTS", "mylab.callbacks")
    cli = build(cfg, ["--trainer.logger", "false"])
    assert any(type(c).__name__ == "Beep" for c in cli.trainer.callbacks)
