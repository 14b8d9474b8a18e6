"""Pretrained weights: torchvision's own weights API online, its cache offline, or a local file.

`weights` in a config is one of:
  - none: random initialisation;
  - `imagenet` (2D backbones) or `kinetics400` (clip backbones): torchvision's weights for the model
    trained on that dataset; a weights file already in torch hub's `checkpoints/` folder is preferred to
    a download (offline machines seed that folder);
  - an enum name such as `IMAGENET1K_V2`: exactly those torchvision weights;
  - a path to a `.pth`/`.pt` file: a state dict, loaded with `torch.load(weights_only=True)`.
"""

from __future__ import annotations

import os
import pickle
from pathlib import Path
from typing import Any

import torch
from torch import nn
from torchvision.models import WeightsEnum, get_model, get_model_weights

from pipeline.errors import ConfigError


def hub_checkpoint_dir() -> Path:
    return Path(torch.hub.get_dir()) / "checkpoints"


def cached_file(weights: WeightsEnum) -> Path:
    return hub_checkpoint_dir() / os.path.basename(weights.url)


# `weights: imagenet` / `kinetics400`: the model's torchvision weights trained on that dataset
DATASET_WEIGHTS = {"imagenet": "IMAGENET", "kinetics400": "KINETICS400"}


def resolve_torchvision_weights(model: str, spec: str) -> WeightsEnum:
    """`imagenet`, `kinetics400` or an enum name -> the torchvision weights enum member."""
    try:
        enum = get_model_weights(model)
    except (ValueError, KeyError) as e:
        raise ConfigError(f"{model} has no torchvision pretrained weights") from e
    if (dataset := DATASET_WEIGHTS.get(spec.lower())) is not None:
        trained = [w for w in enum if w.name.startswith(dataset)]
        if not trained:
            names = ", ".join(w.name for w in enum)
            raise ConfigError(f"{model} has no {spec} weights in torchvision; it has {names}")
        best = enum.DEFAULT if enum.DEFAULT in trained else trained[0]
        for w in [best, *trained]:  # prefer a file that is already here to a download
            if cached_file(w).exists():
                return w
        return best
    try:
        return enum[spec]
    except KeyError:
        names = ", ".join(w.name for w in enum)
        datasets = [k for k, v in DATASET_WEIGHTS.items() if any(w.name.startswith(v) for w in enum)]  # its own
        raise ConfigError(
            f"unknown weights {spec!r} for {model}; allowed: none, {', '.join(datasets)}, {names}, or a .pth path"
        ) from None


def is_path(spec: str) -> bool:
    return spec.endswith((".pth", ".pt", ".ckpt", ".bin")) or os.sep in spec or Path(spec).exists()


def safe_load(
    path: str | os.PathLike[str], *, map_location: str | torch.device = "cpu", what: str = "checkpoint"
) -> Any:
    """`torch.load(weights_only=True)`, its failures in one line: a file that holds code or types a `vap`
    file never holds is refused and not loaded (torch's own message would advise loading it unsafely), and
    an empty, truncated, tampered or foreign file says so instead of a decoder's traceback."""
    path = Path(path)
    if not path.is_file():
        raise FileNotFoundError(f"{path}: {what} not found")
    try:
        return torch.load(path, map_location=map_location, weights_only=True)
    except pickle.UnpicklingError as e:
        if "GLOBAL" in str(e):  # torch names the function or class the file wanted to import
            raise ConfigError(f"{path}: holds code or types a {what} of vap never holds; it was not loaded") from None
        raise ConfigError(f"{path}: cannot be read as a {what}: damaged, or not a {what} (or it holds what one "
                          "never holds); it was not loaded") from None  # fmt: skip
    except Exception as e:  # EOFError, zip and stream errors, KeyError, ... of a file that is not one of ours
        why = "empty" if path.stat().st_size == 0 else f"truncated, damaged or not a {what} ({type(e).__name__})"
        raise ConfigError(f"{path}: cannot be read as a {what}: {why}") from None


def load_state_dict(path: str | os.PathLike[str], *, trusted: bool = False) -> dict[str, torch.Tensor]:
    """A state dict from a file; `weights_only=True` unless the user trusts the file (`trusted`)."""
    path = Path(path)
    if not trusted:
        obj = safe_load(path, what="weights file")
    elif not path.is_file():
        raise FileNotFoundError(f"{path}: weights file not found")
    else:
        obj = torch.load(path, map_location="cpu", weights_only=False)  # the user said they trust it
    if isinstance(obj, dict) and "state_dict" in obj and isinstance(obj["state_dict"], dict):
        obj = obj["state_dict"]
    if not isinstance(obj, dict):
        raise ConfigError(f"{path}: expected a state dict, got {type(obj).__name__}")
    return obj


def torchvision_model(name: str, weights: str | None, *, trusted: bool = False) -> nn.Module:
    """A torchvision classification model with the requested weights."""
    if not weights or str(weights).lower() == "none":
        return get_model(name, weights=None)
    if is_path(str(weights)):
        model = get_model(name, weights=None)
        try:
            missing, unexpected = model.load_state_dict(load_state_dict(weights, trusted=trusted), strict=False)
        except RuntimeError as e:  # shape mismatches
            lines = [ln.strip() for ln in str(e).splitlines() if ln.strip()]
            raise ConfigError(f"{weights}: does not fit {name}: {lines[min(1, len(lines) - 1)]}") from e
        if missing:
            raise ConfigError(f"{weights}: does not fit {name}: {len(missing)} missing keys, e.g. {missing[:3]}")
        del unexpected  # extra keys (e.g. a different classifier head) are harmless
        return model
    w = resolve_torchvision_weights(name, str(weights))
    try:
        return get_model(name, weights=w)
    except (OSError, RuntimeError) as e:  # URLError is an OSError: no network and no cached file
        raise ConfigError(
            f"{name} weights {w.name} are not in {hub_checkpoint_dir()} and could not be downloaded ({e}). "
            f"Copy {os.path.basename(w.url)} there from a machine with a network "
            f"(python -c \"import torchvision; torchvision.models.get_model('{name}', weights='{w.name}')\"), "
            "or set weights to a local .pth file"
        ) from e
