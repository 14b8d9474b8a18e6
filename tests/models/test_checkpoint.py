"""A `vap train` checkpoint stands alone: `load_model` (and `vap test`, `vap attention`) rebuild the model
from its record, with no config, no network and no pretrained weights at hand."""

from __future__ import annotations

import json
import socket
from pathlib import Path

import lightning as L
import pytest
import torch
import torchvision
from torch.utils.data import DataLoader

from pipeline import __version__
from pipeline.cli import main
from pipeline.data.datamodule import VideoDataModule
from pipeline.data.dataset import VideoBatch
from pipeline.models.checkpoint import load_model, read_checkpoint
from pipeline.tasks.classification import VideoClassificationTask

B, T = 2, 4
TINY = {"num_train": 12, "num_val": 6, "num_test": 6}


def fake_imagenet_hub(root: Path) -> Path:
    """A torch hub folder holding a file under MobileNetV2's ImageNet name (random values: torchvision
    checks the hash only when it downloads), so a model can be built with `weights="imagenet"`."""
    ckpt_dir = root / "hub" / "checkpoints"
    ckpt_dir.mkdir(parents=True)
    state = torchvision.models.mobilenet_v2().state_dict()
    torch.save(state, ckpt_dir / "mobilenet_v2-b0353104.pth")
    return root / "hub"


def no_network(monkeypatch: pytest.MonkeyPatch, tmp: Path) -> None:
    """Any connection attempt fails, and torch hub points to an empty folder."""

    def refuse(*args, **kwargs):
        raise OSError("network disabled by the test")

    monkeypatch.setattr(socket.socket, "connect", refuse)
    monkeypatch.setattr(socket, "create_connection", refuse)
    empty = tmp / "empty_hub"
    empty.mkdir()
    monkeypatch.setattr(torch.hub, "get_dir", lambda: str(empty))


def one_step(model: VideoClassificationTask, root: Path, datamodule: VideoDataModule | None = None) -> Path:
    """Fit one optimizer step and save a checkpoint."""
    trainer = L.Trainer(
        max_steps=1, logger=False, enable_checkpointing=False, enable_progress_bar=False,
        enable_model_summary=False, num_sanity_val_steps=0, limit_val_batches=0, default_root_dir=root,
    )  # fmt: skip
    if datamodule is None:
        g = torch.Generator().manual_seed(0)
        batch = VideoBatch(
            torch.randint(0, 256, (B, T, 3, 32, 32), dtype=torch.uint8, generator=g), torch.tensor([0, 1]),
            ["a", "b"], torch.zeros(B, dtype=torch.long), torch.arange(T).repeat(B, 1),
        )  # fmt: skip
        trainer.fit(model, train_dataloaders=DataLoader([batch], batch_size=None))
    else:
        trainer.fit(model, datamodule=datamodule)
    path = root / "model.ckpt"
    trainer.save_checkpoint(path)
    return path


@pytest.fixture
def imagenet_checkpoint(tmp_path, monkeypatch) -> tuple[Path, VideoClassificationTask]:
    """A checkpoint of a model that started from (stand-in) ImageNet weights, with CBAM and a transformer."""
    hub = str(fake_imagenet_hub(tmp_path))
    monkeypatch.setattr(torch.hub, "get_dir", lambda: hub)
    task = VideoClassificationTask(
        num_classes=2, class_names=["no", "yes"], backbone="mobilenet_v2", weights="imagenet", attention="cbam",
        attention_stages=[4], attention_args={"reduction": 4}, head="transformer",
        head_args={"dim": 32, "depth": 1, "heads": 2},
    )  # fmt: skip
    path = one_step(task, tmp_path)
    monkeypatch.undo()
    return path, task


def test_load_model_needs_no_network_and_no_pretrained_weights(imagenet_checkpoint, tmp_path, monkeypatch):
    path, task = imagenet_checkpoint
    no_network(monkeypatch, tmp_path)
    model, meta = load_model(path)
    assert meta.class_names == ["no", "yes"] and meta.num_classes == 2 and meta.version == __version__
    assert meta.model["attention"] == "cbam" and meta.model["attention_args"] == {"reduction": 4}
    assert meta.model["head_args"] == {"dim": 32, "depth": 1, "heads": 2}
    assert meta.preprocessing["mean"] == list(task.model.mean)
    assert not model.training
    video = torch.randint(0, 256, (B, T, 3, 32, 32), dtype=torch.uint8)
    with torch.no_grad():
        assert torch.equal(model(video).logits, task.model.eval()(video).logits)  # the trained weights


def test_checkpoint_loads_with_weights_only(imagenet_checkpoint):
    ckpt = torch.load(imagenet_checkpoint[0], map_location="cpu", weights_only=True)
    assert ckpt["vap"]["model"]["backbone"] == "mobilenet_v2"


def test_a_plain_state_dict_is_not_a_checkpoint(tmp_path):
    torch.save({"w": torch.zeros(1)}, tmp_path / "x.pt")
    with pytest.raises(ValueError, match="no self-contained `vap` record"):
        load_model(tmp_path / "x.pt")


def test_vap_test_builds_the_checkpoint_model_offline(tmp_path, monkeypatch, capsys):
    """`vap test --ckpt_path`: the model is the checkpoint's (here mobilenet_v2 + tsn, started from
    ImageNet), not the config's (tiny + lstm), and nothing pretrained is fetched."""
    monkeypatch.chdir(tmp_path)
    hub = str(fake_imagenet_hub(tmp_path))
    monkeypatch.setattr(torch.hub, "get_dir", lambda: hub)
    md = tmp_path / "md"
    data = dict(train=str(md / "train.txt"), val=str(md / "val.txt"), test=str(md / "test.txt"))
    dm = VideoDataModule(**data, make="moving-digits", make_args=TINY, size=32, batch_size=4, num_workers=0,
                         backend="pyav")  # fmt: skip
    task = VideoClassificationTask(num_classes=6, backbone="mobilenet_v2", weights="imagenet", head="tsn",
                                   head_args={"consensus": "avg"})  # fmt: skip
    ckpt = one_step(task, tmp_path, dm)
    monkeypatch.undo()
    monkeypatch.chdir(tmp_path)
    no_network(monkeypatch, tmp_path)
    config = tmp_path / "cfg.yaml"
    config.write_text(json.dumps({"model": {"backbone": "mobilenet_v2", "weights": "imagenet"}}))
    args = ["test", "--config", str(config), "--ckpt_path", str(ckpt), "--trainer.logger", "false",
            "--trainer.enable_progress_bar", "false", "--data.num_workers", "0", "--data.make_args", json.dumps(TINY),
            *[x for k, v in data.items() for x in (f"--data.{k}", v)]]  # fmt: skip
    assert main(args) == 0, capsys.readouterr().err
    assert "test/video_top1" in capsys.readouterr().out


def test_vap_attention_draws_a_training_checkpoint(imagenet_checkpoint, lossy_video, tmp_path, monkeypatch):
    path, _ = imagenet_checkpoint
    no_network(monkeypatch, tmp_path)
    out = tmp_path / "att"
    # the default --backbone/--weights (mobilenet_v2, imagenet) are not needed: the checkpoint says it all
    assert main(["attention", str(lossy_video[0]), "--checkpoint", str(path), "--frames", "2", "--size", "32",
                 "--out", str(out)]) == 0  # fmt: skip
    summary = json.loads((out / "attention.json").read_text())
    assert summary["backbone"] == "mobilenet_v2" and summary["attention"] == "cbam"
    assert len(summary["overlays"]) == 2  # one attention layer (stage 4) x two frames
    assert read_checkpoint(path)["vap"]["format"] == 2


class _Payload:
    """Unpickling this runs `os.system`: what a malicious checkpoint would do."""

    def __init__(self, marker: Path) -> None:
        self.marker = marker

    def __reduce__(self):
        import os

        return (os.system, (f"touch {self.marker}",))


def hostile_checkpoints(tmp: Path, real: Path) -> dict[str, Path]:
    """Files a careless or hostile user passes as a checkpoint, and the marker the payload would create."""
    data = real.read_bytes()
    files = {"empty": b"", "text": b"model: lstm\nepochs: 3\n", "truncated": data[: len(data) // 2],
             "tampered": data[:2000] + bytes(b ^ 0x5A for b in data[2000:4000]) + data[4000:]}  # fmt: skip
    out = {}
    for name, content in files.items():
        out[name] = tmp / f"{name}.ckpt"
        out[name].write_bytes(content)
    out["malicious"] = tmp / "malicious.ckpt"
    torch.save({"vap": _Payload(tmp / "PWNED")}, out["malicious"])
    return out


def test_a_hostile_or_broken_checkpoint_is_one_line_and_never_runs(imagenet_checkpoint, tmp_path, capsys):
    files = hostile_checkpoints(tmp_path, imagenet_checkpoint[0])
    for name, path in files.items():
        with pytest.raises(ValueError) as e:
            load_model(path)
        message = str(e.value)
        assert message.startswith(str(path)) and "\n" not in message, (name, message)
        assert "weights_only=False" not in message and "likely succeed" not in message
        assert main(["score", "--checkpoint", str(path), str(tmp_path), "--out", str(tmp_path / f"{name}.jsonl")]) == 1
        err = capsys.readouterr().err
        assert err.count("\n") == 1 and str(path) in err and "Traceback" not in err, (name, err)
    assert "it was not loaded" in str(pytest.raises(ValueError, load_model, files["malicious"]).value)
    assert "empty" in str(pytest.raises(ValueError, load_model, files["empty"]).value)
    assert not (tmp_path / "PWNED").exists()  # the payload never ran
