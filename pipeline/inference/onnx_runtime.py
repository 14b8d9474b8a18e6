"""An exported ONNX classifier run by ONNX Runtime, in place of the torch model, for `vap score`.

    model.onnx (`vap export`) -> its `vap` metadata (class names, preprocessing: the checkpoint's record)
    -> onnxruntime.InferenceSession (CUDA provider where there is one, else the CPU) -> `OnnxClassifier`:
    clips (B, [V,] T, C, H, W) uint8 -> VideoOutput, several views averaged as `VideoClassifier` does.

Why not torch: a deployment that only scores needs neither torch's autograd nor its model code, and ONNX
Runtime's CPU kernels run small convolutions faster (docs/bench/export.md). An ONNX file is a graph of
standard operators and some weights; loading it runs nothing from the file.
"""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Any

import numpy as np
import torch
from einops import rearrange
from torch import nn

from pipeline.errors import ConfigError
from pipeline.models.checkpoint import CheckpointMeta, checkpoint_meta
from pipeline.models.video_classifier import VideoOutput, merge_views

ONNX_SUFFIXES = (".onnx",)


def is_onnx(path: str | os.PathLike[str]) -> bool:
    return Path(path).suffix.lower() in ONNX_SUFFIXES


def providers(device: str = "cpu") -> list[str]:
    """ONNX Runtime's execution providers for `device`: CUDA first where asked for and built in, the CPU always."""
    import onnxruntime as ort

    have = ort.get_available_providers()
    wanted = ["CUDAExecutionProvider"] if str(device).startswith("cuda") else []
    return [p for p in wanted if p in have] + ["CPUExecutionProvider"]


class OnnxClassifier(nn.Module):
    """An exported classifier behind the call `VideoClassifier` answers: `model(clips) -> VideoOutput`."""

    def __init__(self, path: str | os.PathLike[str], *, device: str = "cpu") -> None:
        super().__init__()
        self.path, self.device = Path(path), str(device)
        self._session: Any = None

    @property
    def session(self) -> Any:
        """Made at the first call, with as many threads as torch has then (`vap score` sets them to the cores
        its decoding workers leave), and no spinning: idle threads would take the workers' cores."""
        if self._session is None:
            import onnxruntime as ort

            options = ort.SessionOptions()
            options.intra_op_num_threads = torch.get_num_threads()
            options.add_session_config_entry("session.intra_op.allow_spinning", "0")
            options.log_severity_level = 3  # errors only
            try:
                self._session = ort.InferenceSession(str(self.path), options, providers=providers(self.device))
            except Exception as e:  # a truncated or foreign file: ONNX Runtime's own error, one line
                why = " ".join(str(e).split())[:200]
                raise ConfigError(f"{self.path}: ONNX Runtime cannot load it ({why})") from None
        return self._session

    def forward(self, video: torch.Tensor, mask: torch.Tensor | None = None) -> VideoOutput:
        if video.dim() == 6:  # (B, V, T, C, H, W): views into the batch, averaged after
            v = video.shape[1]
            return merge_views(self.forward(rearrange(video, "b v t c h w -> (b v) t c h w")), v)
        if video.dim() != 5:
            raise ValueError(f"video must be (B, T, C, H, W) or (B, V, T, C, H, W), got {tuple(video.shape)}")
        length = self.session.get_inputs()[0].shape[1]  # an int where the export fixed it (an LSTM head)
        if isinstance(length, int) and video.shape[1] != length:
            raise ConfigError(f"{self.path}: exported for clips of {length} frames; these have {video.shape[1]} "
                              "(export again with --frames)")  # fmt: skip
        x = video.cpu().numpy() if video.dtype == torch.uint8 else video.to(torch.uint8).cpu().numpy()
        names = [o.name for o in self.session.get_outputs()]
        got = dict(zip(names, self.session.run(None, {"video": np.ascontiguousarray(x)}), strict=True))
        logits, attention = torch.from_numpy(got["logits"]), torch.from_numpy(got["attention"])  # (B, K), (B, T)
        embedding = torch.from_numpy(got["embedding"]) if "embedding" in got else None  # (B, D')
        return VideoOutput(logits, attention, None, embedding)


def read_meta(path: str | os.PathLike[str]) -> CheckpointMeta:
    """The checkpoint record `vap export` wrote into the file's metadata (JSON: nothing in it runs)."""
    import onnx

    try:
        proto = onnx.load_model(str(path), load_external_data=False)
    except Exception as e:
        raise ConfigError(f"{path}: not an ONNX file ({' '.join(str(e).split())[:200]})") from None
    outputs = [o.name for o in proto.graph.output]
    if outputs[:1] != ["logits"] or [i.name for i in proto.graph.input][:1] != ["video"]:
        raise ConfigError(f"{path}: not a `vap export` model (its inputs and outputs are not video -> logits)")
    props = {p.key: p.value for p in proto.metadata_props}
    if "vap" not in props:
        raise ConfigError(f"{path}: no `vap` metadata (class names, preprocessing); export it with `vap export`")
    return checkpoint_meta({"vap": json.loads(props["vap"])}, path)  # the checkpoint's own reader


def load_onnx(path: str | os.PathLike[str], *, device: str = "cpu") -> tuple[OnnxClassifier, CheckpointMeta]:
    """`model, meta = load_onnx("model.onnx")`: the runtime model and the record it was exported with."""
    if not Path(path).is_file():
        raise FileNotFoundError(f"{path}: model not found")
    try:
        import onnxruntime  # noqa: F401
    except ImportError:
        raise ConfigError(f"{path}: scoring an ONNX model needs onnxruntime (pip install onnxruntime)") from None
    meta = read_meta(path)
    return OnnxClassifier(path, device=device), meta
