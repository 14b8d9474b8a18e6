"""A trained classifier as one file another runtime can load: ONNX (ONNX Runtime, TensorRT, OpenVINO) or
TorchScript (libtorch, C++).

    VideoClassifier -> `ClipModel`: uint8 clips (B, T, C, H, W) -> logits (B, K), attention (B, T),
    embedding (B, D'), normalisation inside -> `EXPORT_FORMATS[fmt](model, example, out, meta)`: the
    file, with the checkpoint's record (class names, preprocessing) in its metadata.

ONNX goes through `torch.onnx.export(dynamo=True)` (torch.export, then onnxscript), with the batch
dynamic and the clip length dynamic where the head allows (up to a transformer's `max_frames`; an LSTM's
is fixed at export: `dynamic_length`).
TorchScript goes through `torch.jit.trace`, which PyTorch has deprecated in favour of torch.export: it
is here for C++ deployments that still load TorchScript. Several views (B, V, T, ...) are averaged by the
caller (`pipeline.inference.onnx_runtime.OnnxClassifier` does it as `VideoClassifier` does).
"""

from __future__ import annotations

import json
import warnings
from collections.abc import Callable
from dataclasses import asdict
from pathlib import Path

import torch
from torch import nn

from pipeline.data.records import atomic_path
from pipeline.errors import ConfigError
from pipeline.models.checkpoint import CheckpointMeta
from pipeline.models.heads.lstm import LSTMHead
from pipeline.models.video_classifier import VideoClassifier
from pipeline.registry import Registry

OUTPUTS = ("logits", "attention", "embedding")
METADATA_KEY = "vap"  # the ONNX metadata property / TorchScript extra file holding the checkpoint's record

Exporter = Callable[[nn.Module, torch.Tensor, Path, CheckpointMeta], None]
EXPORT_FORMATS: Registry[Exporter] = Registry("export format")


class ClipModel(nn.Module):
    """What an exported file computes: uint8 clips (B, T, C, H, W) -> (logits (B, K), temporal attention
    (B, T), embedding (B, D')), the classifier's own normalisation included."""

    def __init__(self, model: VideoClassifier) -> None:
        super().__init__()
        self.model = model.eval()

    def forward(self, video: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
        out = self.model(video)
        assert out.embedding is not None  # every temporal head returns its pooled clip
        return out.logits, out.attention, out.embedding  # (B, K), (B, T), (B, D')


def max_frames(model: VideoClassifier) -> int:
    """The longest clip the model takes: a transformer head's position table, else no real limit."""
    return int(getattr(model.head, "max_frames", 4096))


def dynamic_length(model: VideoClassifier) -> bool:
    """Whether the exported file takes clips of any length. Not with an LSTM head: torch.export unrolls the
    LSTM over the traced clip's frames (it kept the ONNX LSTM op the first time in a process and unrolled on
    later exports, seen here with torch 2.14), so its length is fixed at export, to the test clips' length."""
    return not isinstance(model.head, LSTMHead)


def record_json(meta: CheckpointMeta) -> str:
    """The checkpoint's record as JSON (plain types only), what `onnx_runtime.read_meta` gives back."""
    return json.dumps(asdict(meta))


@EXPORT_FORMATS.register("onnx", doc="ONNX (opset 18+): ONNX Runtime on CPU or GPU, TensorRT, OpenVINO.")
def export_onnx(model: nn.Module, example: torch.Tensor, out: Path, meta: CheckpointMeta) -> None:
    import onnx

    assert isinstance(model, ClipModel)
    dims = {0: torch.export.Dim("batch", min=1, max=4096)}
    if dynamic_length(model.model):
        dims[1] = torch.export.Dim("frames", min=2, max=max_frames(model.model))
    with warnings.catch_warnings():  # torch.export's and onnxscript's notes on what they did
        warnings.simplefilter("ignore")
        program = torch.onnx.export(model, (example,), dynamo=True, input_names=["video"], output_names=list(OUTPUTS),
                                    dynamic_shapes={"video": dims}, verbose=False, report=False)  # fmt: skip
    proto = program.model_proto
    proto.metadata_props.add(key=METADATA_KEY, value=record_json(meta))
    with atomic_path(out) as tmp:
        onnx.save_model(proto, str(tmp))


@EXPORT_FORMATS.register("torchscript", doc="TorchScript (torch.jit.trace): libtorch in C++; deprecated upstream.")
def export_torchscript(model: nn.Module, example: torch.Tensor, out: Path, meta: CheckpointMeta) -> None:
    with warnings.catch_warnings(), atomic_path(out) as tmp:  # the tracer's notes and its deprecation notices
        warnings.simplefilter("ignore")
        traced = torch.jit.trace(model, (example,), check_trace=False)
        torch.jit.save(traced, str(tmp), _extra_files={f"{METADATA_KEY}.json": record_json(meta)})


def export(model: VideoClassifier, meta: CheckpointMeta, out: Path, fmt: str, *, frames: int) -> ClipModel:
    """Write `model` to `out` in format `fmt`, traced on a (2, frames, 3, size, size) uint8 clip; returns
    the module that was exported (to check the file against)."""
    exporter = EXPORT_FORMATS.get(fmt)
    if not 2 <= frames <= max_frames(model):
        raise ConfigError(f"--frames {frames}: the model takes clips of 2 to {max_frames(model)} frames")
    size = int(meta.preprocessing.get("size", 224))
    example = torch.randint(0, 256, (2, frames, 3, size, size), dtype=torch.uint8)  # (B, T, C, H, W)
    clip_model = ClipModel(model).eval()
    try:
        exporter(clip_model, example, out, meta)
    except Exception as e:  # torch.export, onnxscript or the tracer: what it could not convert, in one line
        parts = f"backbone {meta.model['backbone']}, attention {meta.model['attention']}, head {meta.model['head']}"
        why = " ".join(str(e).split())[:300]
        raise ConfigError(f"cannot export this model ({parts}) to {fmt}: {type(e).__name__}: {why}") from None
    return clip_model


def load_exported(path: Path, fmt: str) -> Callable[[torch.Tensor], tuple[torch.Tensor, ...]]:
    """The exported file, loaded as its users would load it: uint8 clips (B, T, C, H, W) -> its outputs."""
    if fmt == "onnx":
        from pipeline.inference.onnx_runtime import OnnxClassifier

        runtime = OnnxClassifier(path)

        def run(clips: torch.Tensor) -> tuple[torch.Tensor, ...]:
            out = runtime(clips)
            assert out.embedding is not None
            return out.logits, out.attention, out.embedding

        return run
    with warnings.catch_warnings():  # our own file, written a moment ago
        warnings.simplefilter("ignore")  # torch.jit's deprecation notice
        loaded = torch.jit.load(str(path), map_location="cpu")
    return lambda clips: tuple(loaded(clips))


def check_export(path: Path, fmt: str, model: ClipModel, clips: torch.Tensor) -> dict[str, float]:
    """Max |exported - eager| of each output on `clips`, and on the same clips one at a time and three at
    once (the batch is dynamic)."""
    worst = dict.fromkeys(OUTPUTS, 0.0)
    run = load_exported(path, fmt)
    one = clips[:1]  # (1, T, C, H, W)
    batches = [one, torch.cat([one, one.flip(-1)]), torch.cat([one, one.flip(-1), one.flip(-2)])]
    for batch in batches:
        with torch.inference_mode():
            eager, exported = model(batch), run(batch)
        for name, a, b in zip(OUTPUTS, exported, eager, strict=True):
            worst[name] = max(worst[name], float((a.float() - b.float()).abs().max()))
    return worst
