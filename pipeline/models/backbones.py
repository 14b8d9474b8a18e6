"""Per-frame CNN backbones with attention layers inserted after chosen stages.

image (B, C, H, W) -> stem -> stage 1 [-> attention] -> ... -> stage S [-> attention] -> feature map
(B, D, h, w) -> global average pool -> (B, D). Clips are folded to frames by the video model.

Attention layers sit in their own ModuleDict beside the stages, so the pretrained stages keep their
parameter names and values; a fresh layer is the identity, so ImageNet features survive insertion.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from functools import partial

import torch
from torch import nn

from pipeline.errors import ConfigError
from pipeline.layers import build_attention
from pipeline.models.clip_backbones import ClipBackbone, mvit_v2_s, s3d, swin3d_t, video_resnet
from pipeline.models.weights import torchvision_model
from pipeline.registry import Registry

# a 2D backbone's factory gives (stem, stages), wrapped in a Backbone with attention; a clip backbone's, itself
BACKBONES: Registry[Callable[..., tuple[nn.Module, list[nn.Module]] | ClipBackbone]] = Registry("backbone")


@dataclass
class Features:
    """What `forward_features` returns."""

    map: torch.Tensor  # (B, D, h, w) last feature map
    pooled: torch.Tensor  # (B, D)
    stages: list[torch.Tensor] | None = None  # every stage's output, when asked for


class Backbone(nn.Module):
    """A stem, a list of stages, optional attention after some stages, global pooling."""

    def __init__(
        self,
        name: str,
        stem: nn.Module,
        stages: Sequence[nn.Module],
        *,
        attention: str = "none",
        attention_stages: Sequence[int] | None = None,
        attention_args: dict | None = None,
    ) -> None:
        super().__init__()
        self.name = name
        self.stem = stem
        self.stages = nn.ModuleList(stages)
        self.stage_channels = self._probe_channels()
        self.out_channels = self.stage_channels[-1]
        n = len(self.stages)
        if attention_stages is None:  # default: the last two stages, where features are semantic
            attention_stages = [n - 2, n - 1] if attention != "none" else []
        bad = [i for i in attention_stages if not -n <= i < n]
        if bad:
            raise ConfigError(f"attention_stages {bad} out of range for {name}, which has stages 0..{n - 1}")
        self.attention_name = attention
        self.attention = nn.ModuleDict(
            {
                str(i % n): build_attention(attention, self.stage_channels[i % n], **(attention_args or {}))
                for i in attention_stages
            }
        )

    @torch.no_grad()
    def _probe_channels(self) -> list[int]:
        was_training = self.training
        self.eval()
        x = self.stem(torch.zeros(1, 3, 64, 64))
        channels = []
        for stage in self.stages:
            x = stage(x)
            channels.append(int(x.shape[1]))
        self.train(was_training)
        return channels

    def forward_features(self, x: torch.Tensor, *, return_stages: bool = False) -> Features:
        x = self.stem(x)  # (B, C0, H/2.., W/2..)
        outs = []
        for i, stage in enumerate(self.stages):
            x = stage(x)  # (B, Ci, Hi, Wi)
            if str(i) in self.attention:
                x = self.attention[str(i)](x)
            if return_stages:
                outs.append(x)
        return Features(map=x, pooled=x.mean(dim=(2, 3)), stages=outs if return_stages else None)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.forward_features(x).pooled  # (B, D)

    def freeze(self, stages: int | str = "all") -> None:
        """Freeze the stem and the first `stages` stages (`all`: every pretrained part).

        Attention layers are new and stay trainable. Frozen BatchNorm layers keep their running
        statistics (they are held in eval mode by `train()`).
        """
        n = len(self.stages) if stages == "all" else int(stages)
        frozen = [self.stem, *self.stages[:n]] if n > 0 else []
        for module in frozen:
            for p in module.parameters():
                p.requires_grad_(False)
        self._frozen = frozen
        self.train(self.training)

    def partial_bn(self, enabled: bool = True) -> None:
        """TSN's partial BN: freeze every BatchNorm's statistics and affine except the first one.

        Fine-tuning on small video datasets with small batches corrupts BatchNorm statistics; TSN
        (Wang et al., ECCV 2016) keeps all but the first BN layer frozen.
        """
        self._partial_bn = enabled
        self.train(self.training)

    def train(self, mode: bool = True) -> Backbone:
        super().train(mode)
        if not mode:
            return self
        for module in getattr(self, "_frozen", []):
            module.eval()
        if getattr(self, "_partial_bn", False):
            pretrained = nn.ModuleList([self.stem, *self.stages])
            bns = [m for m in pretrained.modules() if isinstance(m, nn.BatchNorm2d)]
            for bn in bns[1:]:
                bn.eval()
                for p in bn.parameters():
                    p.requires_grad_(False)
        return self


def build_backbone(
    name: str,
    *,
    weights: str | None = None,
    attention: str = "none",
    attention_stages: Sequence[int] | None = None,
    attention_args: dict | None = None,
    freeze: int | str = 0,
    partial_bn: bool = False,
    trusted_weights: bool = False,
) -> Backbone | ClipBackbone:
    """`build_backbone("resnet18", weights="imagenet", attention="cbam", attention_stages=[2, 3])`; a clip
    backbone (`r2plus1d_18`, ...: `pipeline.models.clip_backbones`) comes whole, without attention layers."""
    built = BACKBONES.build(name, weights=weights, trusted=trusted_weights)
    if isinstance(built, ClipBackbone):
        if attention != "none":
            raise ConfigError(f"attention {attention!r}: the attention layers are per-frame 2D; {name} is a 3D "
                              "clip backbone (use a 2D backbone such as resnet18 for them)")  # fmt: skip
        if freeze:
            built.freeze(freeze)
        built.partial_bn(partial_bn)
        return built
    stem, stages = built
    model = Backbone(
        name, stem, stages, attention=attention, attention_stages=attention_stages, attention_args=attention_args
    )
    if freeze:
        model.freeze(freeze)
    if partial_bn:
        model.partial_bn()
    return model


# --- torchvision models, split into a stem and stages at each drop in resolution -----------------


def _resnet(name: str) -> Callable[..., tuple[nn.Module, list[nn.Module]]]:
    def make(*, weights: str | None = None, trusted: bool = False) -> tuple[nn.Module, list[nn.Module]]:
        m = torchvision_model(name, weights, trusted=trusted)
        stem = nn.Sequential(m.conv1, m.bn1, m.relu, m.maxpool)
        return stem, [m.layer1, m.layer2, m.layer3, m.layer4]

    make.__doc__ = f"torchvision {name} (He et al., CVPR 2016): stages layer1..layer4."
    return make


def _features(name: str, cuts: Sequence[int], paper: str) -> Callable[..., tuple[nn.Module, list[nn.Module]]]:
    def make(*, weights: str | None = None, trusted: bool = False) -> tuple[nn.Module, list[nn.Module]]:
        f = torchvision_model(name, weights, trusted=trusted).features
        bounds = [*cuts, len(f)]
        return f[: cuts[0]], [f[a:b] for a, b in zip(bounds[:-1], bounds[1:], strict=True)]

    make.__doc__ = f"torchvision {name} ({paper}): features split at {list(cuts)}."
    return make


for _name in ("resnet18", "resnet34", "resnet50"):
    BACKBONES.register(_name)(_resnet(_name))
_VIDEO_RESNETS = {"r3d_18": "3D ResNet-18", "mc3_18": "mixed 3D/2D ResNet-18", "r2plus1d_18": "(2+1)D ResNet-18"}
for _name, _kind in _VIDEO_RESNETS.items():
    _doc = f"torchvision {_kind} over whole clips (Tran et al., CVPR 2018); weights: kinetics400"
    BACKBONES.register(_name, doc=_doc)(partial(video_resnet, _name))
CLIP_BACKBONES = (*_VIDEO_RESNETS, "s3d", "mvit_v2_s", "swin3d_t")  # whole clips in; the other backbones: per frame
BACKBONES.register("s3d", doc="torchvision S3D over whole clips (Xie et al., ECCV 2018); weights: kinetics400")(s3d)
BACKBONES.register("mvit_v2_s", doc="torchvision MViTv2-S, a video transformer (Li et al., CVPR 2022); "
                   "weights: kinetics400 (trained on 16x224x224)")(mvit_v2_s)  # fmt: skip
BACKBONES.register("swin3d_t", doc="torchvision Video Swin-T (Liu et al., CVPR 2022); weights: kinetics400")(swin3d_t)
BACKBONES.register("mobilenet_v2")(_features("mobilenet_v2", [1, 2, 4, 7, 14], "Sandler et al., CVPR 2018"))
BACKBONES.register("mobilenet_v3_large")(_features("mobilenet_v3_large", [1, 2, 4, 7, 13], "Howard et al., ICCV 2019"))
BACKBONES.register("efficientnet_b0")(_features("efficientnet_b0", [1, 2, 3, 4, 6], "Tan & Le, ICML 2019"))


def _conv_bn_relu(c_in: int, c_out: int, stride: int) -> nn.Sequential:
    return nn.Sequential(nn.Conv2d(c_in, c_out, 3, stride, 1, bias=False), nn.BatchNorm2d(c_out), nn.ReLU(inplace=True))


@BACKBONES.register("tiny")
def tiny(*, weights: str | None = None, trusted: bool = False, width: int = 16) -> tuple[nn.Module, list[nn.Module]]:
    """A 4-stage CNN (about 100k parameters), for tests and the CPU demo; no pretrained weights."""
    if weights and str(weights).lower() != "none":
        raise ConfigError("the tiny backbone has no pretrained weights; use weights: none")
    stem = _conv_bn_relu(3, width, 1)
    stages = [_conv_bn_relu(width * 2**i, width * 2 ** (i + 1), 2) for i in range(3)]
    return stem, [nn.Identity(), *stages]
