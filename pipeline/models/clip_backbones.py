"""Clip backbones: torchvision's video models over the whole clip at once, with their Kinetics-400 weights.

video (B, T, C, H, W), normalised -> (B, C, T, H, W) -> stem -> 4 stages of 3D (or 2+1D) convolutions or
of video transformer blocks, time downsampled by `temporal_stride` -> (B, D, T', h, w) -> spatial mean ->
(B, T', D) -> the temporal head, as per-frame features would go (T' steps instead of T frames).

What a small dataset wants is a start trained on Kinetics-400 (PySlowFast #18, PyTorchVideo #197): these
are torchvision's own models and weights (`weights: kinetics400`, an enum name such as `KINETICS400_V1`, or
a local .pth file), normalised with the statistics they were trained with. The per-frame attention layers
(SE, CBAM, ...) are 2D and do not apply here; the two transformers attend over space and time themselves.
    r3d_18, mc3_18, r2plus1d_18: Tran et al., "A Closer Look at Spatiotemporal Convolutions", CVPR 2018
    s3d: Xie et al., "Rethinking Spatiotemporal Feature Learning", ECCV 2018
    mvit_v2_s: Li et al., "MViTv2: Improved Multiscale Vision Transformers", CVPR 2022 (trained on 16x224x224
        clips; other sizes run, its relative positions interpolated, the weights untried there)
    swin3d_t: Liu et al., "Video Swin Transformer", CVPR 2022 (any size: windows are padded)
"""

from __future__ import annotations

from collections.abc import Sequence

import torch
from einops import rearrange, reduce
from torch import nn

from pipeline.data.transforms import IMAGENET_MEAN, IMAGENET_STD  # swin3d_t's weights were trained with them
from pipeline.models.weights import torchvision_model

# the statistics torchvision's Kinetics-400 video weights were trained with (their `transforms()`)
KINETICS_MEAN = (0.43216, 0.394666, 0.37645)
KINETICS_STD = (0.22803, 0.22145, 0.216989)
MVIT_MEAN, MVIT_STD = (0.45, 0.45, 0.45), (0.225, 0.225, 0.225)  # mvit_v2_s's weights' own


class ClipBackbone(nn.Module):
    """A stem and stages of 3D convolutions; `forward` takes a clip and gives features per time step."""

    layout = "b d t h w"  # what the stages give; a Swin stage is channels-last

    def __init__(
        self,
        name: str,
        stem: nn.Module,
        stages: Sequence[nn.Module],
        norm: nn.Module | None = None,
        mean: tuple[float, ...] = KINETICS_MEAN,
        std: tuple[float, ...] = KINETICS_STD,
    ) -> None:
        super().__init__()
        self.name = name
        self.stem = stem
        self.stages = nn.ModuleList(stages)
        self.norm = norm if norm is not None else nn.Identity()  # a transformer's final LayerNorm
        self.mean, self.std = mean, std
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
        x = self.stem(x)  # (B, C0, T, H/2, W/2); Swin: (B, T/2, H/4, W/4, C0)
        for stage in self.stages:
            x = stage(x)  # (B, Ci, Ti, Hi, Wi); Swin: (B, Ti, Hi, Wi, Ci)
        return reduce(self.norm(x), f"{self.layout} -> b t d", "mean")  # (B, T', D)

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


class SwinBackbone(ClipBackbone):
    """Video Swin: the stages run channels-last; a patch embedding (2x4x4) is the stem."""

    layout = "b t h w d"


class TokenStem(nn.Module):
    """MViTv2's patch embedding and class token: a clip in, tokens and their (T, H, W) grid out."""

    def __init__(self, conv_proj: nn.Module, pos_encoding: nn.Module) -> None:
        super().__init__()
        self.conv_proj, self.pos_encoding = conv_proj, pos_encoding

    def forward(self, x: torch.Tensor) -> tuple[torch.Tensor, tuple[int, ...]]:
        x = self.conv_proj(x)  # (B, D0, T/2, H/4, W/4)
        thw = tuple(x.shape[2:])
        return self.pos_encoding(rearrange(x, "b d t h w -> b (t h w) d")), thw  # (B, 1 + N, D0)


class MViTBackbone(ClipBackbone):
    """MViTv2: tokens with a class token, each block pooling the (T, H, W) grid it is told of.

    torchvision's forward takes the grid from the size it was built for (16x224x224); here it comes from
    the clip, so other sizes run (torchvision interpolates its relative position tables)."""

    def forward(self, video: torch.Tensor) -> torch.Tensor:
        x, thw = self.stem(rearrange(video, "b t c h w -> b c t h w"))  # (B, 1 + N, D0)
        for stage in self.stages:
            for block in stage:
                x, thw = block(x, thw)  # (B, 1 + Ni, Di)
        tokens = self.norm(x)[:, 1:]  # (B, T' h w, D), the class token left out
        return reduce(tokens, "b (t hw) d -> b t d", "mean", t=thw[0])  # (B, T', D)


def swin3d_t(*, weights: str | None = None, trusted: bool = False) -> ClipBackbone:
    m = torchvision_model("swin3d_t", weights, trusted=trusted)
    f = m.features  # stage, merge, stage, merge, stage, merge, stage
    stages = [f[0], nn.Sequential(f[1], f[2]), nn.Sequential(f[3], f[4]), nn.Sequential(f[5], f[6])]
    return SwinBackbone("swin3d_t", nn.Sequential(m.patch_embed, m.pos_drop), stages, norm=m.norm,
                        mean=IMAGENET_MEAN, std=IMAGENET_STD)  # fmt: skip


def mvit_v2_s(*, weights: str | None = None, trusted: bool = False) -> ClipBackbone:
    m = torchvision_model("mvit_v2_s", weights, trusted=trusted)
    blocks = list(m.blocks)
    # a stage begins where a block pools the grid and widens the tokens: 1, 2, 11 and 2 blocks (the paper's)
    cuts = [0, *(i for i, b in enumerate(blocks) if b.pool_skip is not None), len(blocks)]
    stages = [nn.ModuleList(blocks[a:b]) for a, b in zip(cuts[:-1], cuts[1:], strict=True)]
    stem = TokenStem(m.conv_proj, m.pos_encoding)
    return MViTBackbone("mvit_v2_s", stem, stages, norm=m.norm, mean=MVIT_MEAN, std=MVIT_STD)
