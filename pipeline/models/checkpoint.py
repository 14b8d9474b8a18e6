"""A trained model from a `vap train` checkpoint alone: no config, no network, no pretrained weights.

checkpoint (`torch.load(weights_only=True)`) -> `vap` record -> VideoClassifier built with random
initialisation (never `weights="imagenet"`: the trained weights replace them anyway, and an offline
machine could not fetch them) -> the checkpoint's `model.*` weights loaded strictly.

The record is written by the training task (`VideoClassificationTask.on_save_checkpoint`) from
`checkpoint_record(...)` below, so the writer and the reader share one definition of its fields.
"""

from __future__ import annotations

import os
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

import torch

from pipeline.errors import ConfigError
from pipeline.models.video_classifier import VideoClassifier
from pipeline.models.weights import safe_load

if TYPE_CHECKING:
    from pipeline.models.glimpse_video import GlimpseVideoModel

RECORD_FORMAT = 2  # version 1 (before self-contained checkpoints) had no num_classes or arguments
MODEL_KEYS = ("backbone", "attention", "attention_stages", "attention_args", "head", "head_args", "num_classes")


@dataclass
class CheckpointMeta:
    """What a checkpoint says about its model and how its inputs were made."""

    model: dict[str, Any]  # backbone, attention, attention_stages, attention_args, head, head_args, num_classes
    class_names: list[str]
    preprocessing: dict[str, Any]  # size, mean, std, sampler, sampler_args, test_clips, eval_transforms, ...
    multilabel: bool = False
    version: str = "unknown"  # the package version that wrote the checkpoint
    format: int = RECORD_FORMAT
    extra: dict[str, Any] = field(default_factory=dict)

    @property
    def num_classes(self) -> int:
        return int(self.model["num_classes"])


def checkpoint_record(
    *, model: dict[str, Any], class_names: list[str], preprocessing: dict[str, Any], multilabel: bool = False
) -> dict[str, Any]:
    """The `vap` record of a checkpoint: plain Python types only, so `weights_only=True` reads it."""
    from pipeline import __version__

    missing = [k for k in MODEL_KEYS if k not in model]
    if missing:
        raise ConfigError(f"checkpoint record: model fields {missing} missing")
    meta = CheckpointMeta(
        model={k: model[k] for k in MODEL_KEYS}, class_names=list(class_names), preprocessing=dict(preprocessing),
        multilabel=multilabel, version=__version__,
    )  # fmt: skip
    return asdict(meta)


def read_checkpoint(path: str | os.PathLike[str], *, map_location: str | torch.device = "cpu") -> dict[str, Any]:
    """The raw checkpoint dict, loaded the safe way (`weights_only=True`: no code runs from the file)."""
    path = Path(path)
    ckpt = safe_load(path, map_location=map_location)
    if not isinstance(ckpt, dict):
        raise ConfigError(f"{path}: not a checkpoint (a {type(ckpt).__name__})")
    return ckpt


def checkpoint_meta(ckpt: dict[str, Any], path: str | os.PathLike[str] = "checkpoint") -> CheckpointMeta:
    """The checkpoint's `vap` record as a `CheckpointMeta`."""
    record = ckpt.get("vap")
    if not isinstance(record, dict) or record.get("format", 1) < RECORD_FORMAT:
        raise ConfigError(
            f"{path}: no self-contained `vap` record (written by `vap train` before version 0.2?); "
            "rebuild it with the config it was trained with"
        )
    known = {k: record[k] for k in ("model", "class_names", "preprocessing", "multilabel", "version", "format")}
    return CheckpointMeta(**known, extra={k: v for k, v in record.items() if k not in known})


def build_classifier(model: dict[str, Any], *, mean: Any, std: Any) -> VideoClassifier:
    """A VideoClassifier from a record's `model` fields, randomly initialised (no download)."""
    return VideoClassifier.build(
        num_classes=model["num_classes"], backbone=model["backbone"], weights=None, attention=model["attention"],
        attention_stages=model["attention_stages"], attention_args=model["attention_args"], head=model["head"],
        head_args=model["head_args"], mean=mean, std=std,
    )  # fmt: skip


def _load_weights(model: torch.nn.Module, ckpt: dict[str, Any], path: str | os.PathLike[str]) -> None:
    prefix = "model."
    state = {k[len(prefix) :]: v for k, v in ckpt.get("state_dict", {}).items() if k.startswith(prefix)}
    if not state:
        raise ConfigError(f"{path}: the checkpoint holds no model weights")
    model.load_state_dict(state)  # strict: the record and the weights must describe the same model


def is_agent(meta: CheckpointMeta) -> bool:
    """Whether a checkpoint's record describes a glimpse agent (`load_agent`), not a classifier: over a
    clip's frames (`task: glimpse`) or over a long video's slots (`task: long_glimpse`)."""
    return meta.extra.get("task") in ("glimpse", "long_glimpse")


def is_long_agent(meta: CheckpointMeta) -> bool:
    """Whether a checkpoint holds the long-video agent (`pipeline.models.long_glimpse`)."""
    return meta.extra.get("task") == "long_glimpse"


def _classifier(ckpt: dict[str, Any], meta: CheckpointMeta, path: str | os.PathLike[str]) -> VideoClassifier:
    model = build_classifier(meta.model, mean=meta.preprocessing["mean"], std=meta.preprocessing["std"])
    _load_weights(model, ckpt, path)
    return model.eval()


def _agent(ckpt: dict[str, Any], meta: CheckpointMeta, path: str | os.PathLike[str]) -> GlimpseVideoModel:
    from pipeline.models.glimpse_video import AGENTS, GlimpseVideoModel

    agent = meta.extra.get("agent")
    if not is_agent(meta) or not isinstance(agent, dict):
        raise ConfigError(f"{path}: not a glimpse-agent checkpoint (no agent record); load it with load_model")
    mean, std = meta.preprocessing["mean"], meta.preprocessing["std"]
    if is_long_agent(meta):
        from pipeline.models.long_glimpse import LongGlimpseModel

        classifier = build_classifier(meta.model, mean=mean, std=std)
        model = LongGlimpseModel(classifier, AGENTS.build(agent["name"], **agent["args"]))
        _load_weights(model, ckpt, path)
        return model.eval()
    pixels = agent["args"].get("feature_dim") is None  # an agent over pixels has no classifier to rebuild
    features = None if pixels else build_classifier(meta.model, mean=mean, std=std)
    model = GlimpseVideoModel(features, AGENTS.build(agent["name"], **agent["args"]), mean=mean, std=std)
    _load_weights(model, ckpt, path)
    return model.eval()


def load_model(
    path: str | os.PathLike[str], *, map_location: str | torch.device = "cpu"
) -> tuple[VideoClassifier, CheckpointMeta]:
    """`model, meta = load_model("runs/.../best.ckpt")`: the trained VideoClassifier (in eval mode) and
    its record (class names, preprocessing, ...). Needs no config and no network."""
    ckpt = read_checkpoint(path, map_location=map_location)
    meta = checkpoint_meta(ckpt, path)
    if is_agent(meta):
        raise ConfigError(f"{path}: a glimpse-agent checkpoint; load it with pipeline.models.checkpoint.load_agent")
    return _classifier(ckpt, meta, path), meta


def load_agent(
    path: str | os.PathLike[str], *, map_location: str | torch.device = "cpu"
) -> tuple[GlimpseVideoModel, CheckpointMeta]:
    """`model, meta = load_agent("runs/.../best.ckpt")` for a `task: glimpse` checkpoint: the frozen
    classifier and the agent (eval mode: the most likely decisions), rebuilt from the checkpoint alone.
    `model(video)` on a (B, T, C, H, W) uint8 clip of `meta.extra["agent"]["args"]["num_frames"]` frames
    gives an `EpisodeOutput` (answer, frames looked at, glimpses taken)."""
    ckpt = read_checkpoint(path, map_location=map_location)
    meta = checkpoint_meta(ckpt, path)
    return _agent(ckpt, meta, path), meta


def load_any(
    path: str | os.PathLike[str], *, map_location: str | torch.device = "cpu"
) -> tuple[VideoClassifier | GlimpseVideoModel, CheckpointMeta]:
    """A classifier or a glimpse agent, whichever the checkpoint holds (`is_agent(meta)` tells which),
    from one read of the file."""
    ckpt = read_checkpoint(path, map_location=map_location)
    meta = checkpoint_meta(ckpt, path)
    return (_agent if is_agent(meta) else _classifier)(ckpt, meta, path), meta


CLASSIFIER = "head.fc."  # the one layer whose shape follows the class list, in every temporal head


@dataclass
class Transfer:
    """What `init_from_checkpoint` did: tensors loaded, left new (the classifier of another class list),
    and in the file but not in the model (dropped)."""

    loaded: list[str]
    new: list[str]
    dropped: list[str]

    def summary(self, path: str | os.PathLike[str]) -> str:
        def names(keys: list[str]) -> str:
            return ", ".join(sorted({k.rsplit(".", 1)[0] for k in keys})) or "nothing"

        return (f"init_from {path}: loaded {len(self.loaded)} tensors (backbone, attention, temporal head); "
                f"new: {names(self.new)}; dropped: {names(self.dropped)}")  # fmt: skip


def init_from_checkpoint(model: VideoClassifier, path: str | os.PathLike[str]) -> Transfer:
    """Start `model` from the weights of a `vap` checkpoint (or a plain state dict of a VideoClassifier):
    every tensor whose name and shape match is loaded; the classifier (`head.fc`) is rebuilt when its class
    list differs; any other mismatch (another backbone, attention or head) is refused, naming the tensor."""
    raw = safe_load(path)
    state = raw.get("state_dict", raw) if isinstance(raw, dict) else None
    if not isinstance(state, dict) or not all(isinstance(v, torch.Tensor) for v in state.values()):
        raise ConfigError(f"{path}: holds no state dict of a video classifier")
    if any(k.startswith("model.") for k in state):  # a `vap train` (Lightning) checkpoint: the task's `model.`
        state = {k.removeprefix("model."): v for k, v in state.items() if k.startswith("model.")}
    own = model.state_dict()
    loaded, new = [], []
    for key, value in own.items():
        theirs = state.get(key)
        if theirs is not None and theirs.shape == value.shape:
            loaded.append(key)
        elif key.startswith(CLASSIFIER):
            new.append(key)
        elif theirs is None:
            raise ConfigError(f"{path}: has no {key!r}; it was trained with another backbone, attention or head")
        else:
            raise ConfigError(f"{path}: {key!r} is {tuple(theirs.shape)} there, {tuple(value.shape)} here; only "
                              "the classifier may differ (another backbone, attention or head?)")  # fmt: skip
    if not loaded:
        raise ConfigError(f"{path}: not one tensor fits this model")
    model.load_state_dict({k: state[k] for k in loaded}, strict=False)
    dropped = sorted(set(state) - set(own))
    return Transfer(loaded, new, dropped)
