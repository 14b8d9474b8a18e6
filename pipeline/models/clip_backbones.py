"""Clip backbones: torchvision's 3D CNNs over the whole clip at once, with their Kinetics-400 weights.

video (B, T, C, H, W), normalised -> (B, C, T, H, W) -> stem -> 4 stages of 3D (or 2+1D) convolutions,
time downsampled by `temporal_stride` -> (B, D, T', h, w) -> spatial mean -> (B, T', D) -> the temporal
head, as per-frame features would go (T' steps instead of T frames).

What a small dataset wants is a start trained on Kinetics-400 (PySlowFast #18, PyTorchVideo #197): these
are torchvision's own models and weights (`weights: kinetics400`, an enum name such as `KINETICS400_V1`, or
a local .pth file), normalised with the Kinetics statistics they were trained with. The per-frame
attention layers (SE, CBAM, ...) are 2D and do not apply here.
    r3d_18, mc3_18, r2plus1d_18: Tran et al., "A Closer Look at Spatiotemporal Convolutions", CVPR 2018
    s3d: Xie et al., "Rethinking Spatiotemporal Feature Learning", ECCV 2018
"""

from __future__ import annotations

from collections.abc import Sequence

import torch
from einops import rearrange, reduce
from torch import nn

from pipeline.models.weights import torchvision_model

# the statistics torchvision's Kinetics-400 video weights were trained with (their `transforms()`)
KINETICS_MEAN = (0.43216, 0.394666, 0.37645)
KINETICS_STD = (0.22803, 0.22145, 0.216989)


class ClipBackbone(nn.Module):
    """A stem and stages of 3D convolutions; `forward` takes a clip and gives features per time step."""

    mean, std = KINETICS_MEAN, KINETICS_STD

    def __init__(self, name: str, stem: nn.Module, stages: Sequence[nn.Module]) -> None:
        super().__init__()
        self.name = name
        self.stem = stem
        self.stages = nn.ModuleList(stages)
        self.attention_name = "none"
        self.out_channels, self.temporal_stride = self._probe()

    @torch.no_grad()
    def _probe(self) -> tuple[int, int]:
        was_training = self.training
        self.eval()
        out = self.forward(torch.zeros(1, 16, 3, 64, 64))  # (1, T', D)
        self.train(was_training)
        return int(out.shape[2]), max(1, 16 // int(out.shape[1]))

    def forward(self, video: torch.Tensor) -> torch.Tensor:
        x = rearrange(video, "b t c h w -> b c t h w")
        x = self.stem(x)  # (B, C0, T, H/2, W/2)
        for stage in self.stages:
            x = stage(x)  # (B, Ci, Ti, Hi, Wi)
        return reduce(x, "b d t h w -> b t d", "mean")  # (B, T', D)

    def freeze(self, stages: int | str = "all") -> None:
        """Freeze the stem and the first `stages` stages (`all`: all of them); frozen BatchNorm keeps its statistics."""
        n = len(self.stages) if stages == "all" else int(stages)
        self._frozen = [self.stem, *self.stages[:n]] if n > 0 else []
        for module in self._frozen:
            for p in module.parameters():
                p.requires_grad_(False)
        self.train(self.training)

    def partial_bn(self, enabled: bool = True) -> None:
        from pipeline.errors import ConfigError

        if enabled:
            raise ConfigError(f"partial_bn: TSN's recipe for 2D backbones; not for the clip backbone {self.name}")

    def train(self, mode: bool = True) -> ClipBackbone:
        super().train(mode)
        if mode:
            for module in getattr(self, "_frozen", []):
                module.eval()
        return self


def video_resnet(name: str, *, weights: str | None = None, trusted: bool = False) -> ClipBackbone:
    m = torchvision_model(name, weights, trusted=trusted)
    return ClipBackbone(name, m.stem, [m.layer1, m.layer2, m.layer3, m.layer4])


def s3d(*, weights: str | None = None, trusted: bool = False) -> ClipBackbone:
    f = torchvision_model("s3d", weights, trusted=trusted).features
    cuts = [4, 7, 13, len(f)]  # stages begin at each max-pool: convolutions, mixed 3, mixed 4, mixed 5
    return ClipBackbone("s3d", f[:1], [f[a:b] for a, b in zip([1, *cuts[:-1]], cuts, strict=True)])
