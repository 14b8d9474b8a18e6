"""`vap export`: every head and attention layer to ONNX (checked against eager with ONNX Runtime), TorchScript,
the record in the file, `vap score` with the exported model, and what is refused."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
import torch

from pipeline.cli import main
from pipeline.data.records import read_journal
from pipeline.errors import ConfigError
from pipeline.inference.export import ClipModel, check_export, dynamic_length, export
from pipeline.inference.onnx_runtime import load_onnx
from pipeline.models.checkpoint import CheckpointMeta
from pipeline.models.video_classifier import VideoClassifier
from tests.conftest import train_tiny_checkpoint

pytest.importorskip("onnxruntime")

TINY = {"num_train": 12, "num_val": 6, "num_test": 6}


def meta_of(model: dict, size: int = 32) -> CheckpointMeta:
    return CheckpointMeta(model=model, class_names=[f"c{i}" for i in range(model["num_classes"])],
                          preprocessing={"size": size, "mean": [0.5] * 3, "std": [0.25] * 3})  # fmt: skip


@pytest.mark.parametrize(
    ("head", "attention"),
    [
        ("tsn", "se"),
        ("tsn", "stn"),
        ("lstm", "cbam"),
        ("lstm", "eca"),
        ("transformer", "residual"),
        ("transformer", "nonlocal"),
    ],  # fmt: skip
)
def test_every_head_and_attention_layer_exports_to_onnx_with_dynamic_batch_and_length(tmp_path, head, attention):
    torch.manual_seed(0)
    spec = {"backbone": "tiny", "attention": attention, "attention_stages": None, "attention_args": {},
            "head": head, "head_args": {}, "num_classes": 5}  # fmt: skip
    model = VideoClassifier.build(num_classes=5, backbone="tiny", attention=attention, head=head).eval()
    meta = meta_of(spec)
    out = tmp_path / "m.onnx"
    clip_model = export(model, meta, out, "onnx", frames=8)
    clips = torch.randint(0, 256, (1, 8, 3, 32, 32), dtype=torch.uint8)
    worst = check_export(out, "onnx", clip_model, clips)  # batches of 1, 2 and 3
    assert max(worst.values()) < 1e-4
    runtime, read = load_onnx(out)
    assert read.class_names == meta.class_names and read.model == spec
    length = 12 if dynamic_length(model) else 8  # an LSTM's clip length is fixed at export
    longer = torch.randint(0, 256, (2, length, 3, 32, 32), dtype=torch.uint8)  # another length than traced
    got, want = runtime(longer), model(longer)
    assert got.logits.shape == (2, 5) and got.attention.shape == (2, length)
    assert torch.allclose(got.logits, want.logits, atol=1e-4) and torch.allclose(
        got.embedding, want.embedding, atol=1e-4
    )


def test_a_transformer_head_refuses_clips_longer_than_its_position_table(tmp_path):
    model = VideoClassifier.build(num_classes=3, backbone="tiny", head="transformer", head_args={"max_frames": 16})
    spec = {"backbone": "tiny", "attention": "none", "attention_stages": None, "attention_args": {},
            "head": "transformer", "head_args": {"max_frames": 16}, "num_classes": 3}  # fmt: skip
    with pytest.raises(ConfigError, match="clips of 2 to 16 frames"):
        export(model.eval(), meta_of(spec), tmp_path / "m.onnx", "onnx", frames=32)
    assert not (tmp_path / "m.onnx").exists()


@pytest.fixture(scope="module")
def lstm_checkpoint(tmp_path_factory) -> tuple[Path, list[Path]]:
    root = tmp_path_factory.mktemp("export")
    ckpt = train_tiny_checkpoint(root, make_args=TINY, num_segments=4, head="lstm", attention="cbam")
    return ckpt, sorted((root / "md").rglob("*.mp4"))[-3:]


def test_vap_export_onnx_checks_on_a_real_clip_and_vap_score_runs_it_like_the_checkpoint(lstm_checkpoint, tmp_path,
                                                                                        capsys):  # fmt: skip
    ckpt, videos = lstm_checkpoint
    out = tmp_path / "out dir" / "model.onnx"
    assert main(["export", str(ckpt), "--format", "onnx", "--out", str(out), "--video", str(videos[0])]) == 0
    said = capsys.readouterr().err
    assert "checked on the first test clip of" in said and "max |exported - eager|" in said
    sidecar = json.loads((out.parent / "model.onnx.json").read_text())
    assert sidecar["class_names"] == load_onnx(out)[1].class_names and sidecar["model"]["head"] == "lstm"
    assert sorted(p.name for p in out.parent.iterdir()) == ["model.onnx", "model.onnx.json"]  # no temporary left
    records = {}
    for name, model in (("eager", ckpt), ("onnx", out)):
        o = tmp_path / f"{name}.jsonl"
        assert main(["score", "--checkpoint", str(model), *map(str, videos), "--out", str(o), "--all-scores",
                     "--embeddings", "--three-crop", "--workers", "1"]) == 0  # fmt: skip
        records[name] = {r["path"]: r for r in read_journal(o)}
    assert records["eager"].keys() == records["onnx"].keys() and len(records["onnx"]) == 3
    for path, want in records["eager"].items():
        got = records["onnx"][path]
        assert got["status"] == "ok" and got["labels"] == want["labels"]
        assert got["scores"] == pytest.approx(want["scores"], abs=1e-5)
        assert got["embedding"] == pytest.approx(want["embedding"], abs=1e-4)
    from pipeline.inference.predict import Predictor  # the Python call takes the exported model too

    eager, exported = Predictor.load(ckpt, device="cpu"), Predictor.load(out, device="cpu")
    assert exported.class_names == eager.class_names
    assert exported.predict(videos[1]).scores == pytest.approx(eager.predict(videos[1]).scores, abs=1e-5)


def test_vap_export_torchscript_holds_the_record_and_matches_eager(lstm_checkpoint, tmp_path):
    ckpt, videos = lstm_checkpoint
    out = tmp_path / "model.pt"
    assert main(["export", str(ckpt), "--format", "torchscript", "--out", str(out), "--video", str(videos[0])]) == 0
    extra = {"vap.json": ""}
    with pytest.warns(FutureWarning):  # torch.jit is deprecated upstream; it still loads
        loaded = torch.jit.load(str(out), _extra_files=extra)
    assert json.loads(extra["vap.json"])["model"]["attention"] == "cbam"
    from pipeline.models.checkpoint import load_model

    model, _ = load_model(ckpt)
    clips = torch.randint(0, 256, (3, 6, 3, 32, 32), dtype=torch.uint8)
    with torch.no_grad():
        assert torch.allclose(loaded(clips)[0], ClipModel(model)(clips)[0], atol=1e-5)


def test_what_vap_export_refuses_is_one_line_and_leaves_no_file(lstm_checkpoint, tmp_path, capsys):
    ckpt, _ = lstm_checkpoint
    cases = [
        (["--format", "onnx", "--out", str(tmp_path / "m.pt")], "a onnx file ends in .onnx"),
        (["--format", "onnx", "--out", str(tmp_path / "m.onnx"), "--frames", "1"], "clips of 2 to"),
        (["--format", "onnx", "--out", str(tmp_path / "m.onnx"), "--tolerance", "0"], "disagrees with the eager"),
        (["--format", "onnx", "--out", str(tmp_path / "m.onnx"), "--video", str(tmp_path / "none.mp4")], "none.mp4"),
    ]
    for extra, message in cases:
        assert main(["export", str(ckpt), *extra]) == 1
        err = capsys.readouterr().err
        assert message in err and "Traceback" not in err
    assert not list(tmp_path.glob("*.onnx*")) and not list(tmp_path.glob(".*tmp*"))


def test_an_agent_checkpoint_is_refused_by_name(tmp_path, capsys):
    from pipeline.tasks.glimpse import GlimpseTask
    from tests.apps.test_glimpse_task import classifier_checkpoint, fit

    task = GlimpseTask(num_classes=3, num_frames=6, features_from=str(classifier_checkpoint(tmp_path)),
                       max_glimpses=3, hidden=16)  # fmt: skip
    ckpt = tmp_path / "agent.ckpt"
    fit(task, 1, tmp_path).save_checkpoint(ckpt)
    assert main(["export", str(ckpt), "--out", str(tmp_path / "a.onnx")]) == 1
    assert "a glimpse agent cannot be exported" in capsys.readouterr().err
