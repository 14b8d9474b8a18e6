"""VideoClassifier: per-frame attention CNN + temporal head, built from config.

video (B, T, C, H, W) uint8 -> normalise -> fold to frames (B*T, C, H, W) -> backbone (+ spatial and
channel attention) -> pooled (B*T, D) -> unfold (B, T, D) -> temporal head -> logits (B, K) and
temporal attention (B, T). Multi-view input (B, V, T, C, H, W) is folded into the batch and the
views' logits and attention are averaged.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import torch
from einops import rearrange
from torch import nn

from pipeline.data.transforms import IMAGENET_MEAN, IMAGENET_STD, normalize
from pipeline.errors import ConfigError
from pipeline.models.backbones import Backbone, build_backbone
from pipeline.models.clip_backbones import ClipBackbone
from pipeline.models.heads import TemporalHead, build_head


@dataclass
class VideoOutput:
    logits: torch.Tensor  # (B, K)
    attention: torch.Tensor  # (B, T) temporal attention, rows sum to 1
    features: torch.Tensor | None = None  # (B, T, D) per-frame features, when asked for
    embedding: torch.Tensor | None = None  # (B, D') what the classifier reads (the head's pooled clip)


def merge_views(out: VideoOutput, views: int) -> VideoOutput:
    """The output of (B*V) clips, the V views of each clip next to each other, averaged over the views."""
    logits = rearrange(out.logits, "(b v) k -> b v k", v=views).mean(dim=1)  # (B, K)
    attention = rearrange(out.attention, "(b v) t -> b v t", v=views).mean(dim=1)  # (B, T)
    feats = None if out.features is None else rearrange(out.features, "(b v) t d -> b v t d", v=views).mean(1)
    emb = None if out.embedding is None else rearrange(out.embedding, "(b v) d -> b v d", v=views).mean(dim=1)
    return VideoOutput(logits, attention, feats, emb)  # (B, K), (B, T), (B, T, D), (B, D')


class VideoClassifier(nn.Module):
    """Backbone x attention x head, composed."""

    def __init__(
        self,
        backbone: Backbone | ClipBackbone,
        head: TemporalHead,
        *,
        mean: Sequence[float] = IMAGENET_MEAN,
        std: Sequence[float] = IMAGENET_STD,
        cache_features: bool = False,
    ) -> None:
        super().__init__()
        self.backbone = backbone
        self.head = head
        self.mean, self.std = tuple(mean), tuple(std)
        self.cache_features = cache_features
        self._cache: dict[tuple[str, int, int], torch.Tensor] = {}

    @classmethod
    def build(
        cls,
        *,
        num_classes: int,
        backbone: str = "tiny",
        weights: str | None = None,
        attention: str = "none",
        attention_stages: Sequence[int] | None = None,
        attention_args: dict | None = None,
        freeze: int | str = 0,
        partial_bn: bool = False,
        head: str = "tsn",
        head_args: dict | None = None,
        mean: Sequence[float] | None = None,
        std: Sequence[float] | None = None,
        cache_features: bool = False,
    ) -> VideoClassifier:
        """`mean`/`std` default to the statistics the backbone's weights were trained with (ImageNet's, or
        Kinetics' for a clip backbone)."""
        bb = build_backbone(
            backbone, weights=weights, attention=attention, attention_stages=attention_stages,
            attention_args=attention_args, freeze=freeze, partial_bn=partial_bn,
        )  # fmt: skip
        if cache_features and isinstance(bb, ClipBackbone):
            raise ConfigError(f"cache_features: {backbone} computes features per clip, not per frame")
        head_module = build_head(head, bb.out_channels, num_classes, **(head_args or {}))
        mean = mean if mean is not None else getattr(bb, "mean", IMAGENET_MEAN)
        std = std if std is not None else getattr(bb, "std", IMAGENET_STD)
        return cls(bb, head_module, mean=mean, std=std, cache_features=cache_features)

    def frame_features(self, video: torch.Tensor) -> torch.Tensor:
        """(B, T, C, H, W) uint8 or normalised float -> (B, T, D); a clip backbone's (B, T', D), one step per
        `temporal_stride` frames."""
        b = video.shape[0]
        x = normalize(video, self.mean, self.std) if video.dtype == torch.uint8 else video
        if isinstance(self.backbone, ClipBackbone):
            return self.backbone(x)  # (B, T', D)
        frames = rearrange(x, "b t c h w -> (b t) c h w")
        pooled = self.backbone(frames)  # (B*T, D)
        return rearrange(pooled, "(b t) d -> b t d", b=b)

    def _cached_features(
        self, video: torch.Tensor, keys: Sequence[tuple[str, int]], frames: torch.Tensor
    ) -> torch.Tensor:
        """Frozen backbone: reuse features of frames seen before (eval transforms must be deterministic)."""
        if any(p.requires_grad for p in self.backbone.parameters()) or self.backbone.training:
            raise RuntimeError("cache_features needs a frozen backbone in eval mode (freeze='all', .eval())")
        b, t = frames.shape
        out = [
            [self._cache.get((vid, clip, int(frames[i, j]))) for j in range(t)] for i, (vid, clip) in enumerate(keys)
        ]
        if any(f is None for row in out for f in row):
            with torch.no_grad():
                fresh = self.frame_features(video)  # (B, T, D)
            for i, (vid, clip) in enumerate(keys):
                for j in range(t):
                    self._cache[(vid, clip, int(frames[i, j]))] = fresh[i, j].detach().cpu()
            return fresh
        return torch.stack([torch.stack(row) for row in out]).to(video.device)  # (B, T, D)

    def forward(
        self,
        video: torch.Tensor,
        mask: torch.Tensor | None = None,
        *,
        cache_keys: Sequence[tuple[str, int]] | None = None,
        frame_indices: torch.Tensor | None = None,
        return_features: bool = False,
    ) -> VideoOutput:
        if video.dim() == 6:  # multi-view (B, V, T, C, H, W): every view through the model, then averaged
            v = video.shape[1]
            views = rearrange(video, "b v t c h w -> (b v) t c h w")
            vmask = None if mask is None else mask.repeat_interleave(v, dim=0)
            return merge_views(self.forward(views, vmask, return_features=return_features), v)
        if video.dim() != 5:
            raise ValueError(f"video must be (B, T, C, H, W) or (B, V, T, C, H, W), got {tuple(video.shape)}")
        if self.cache_features and cache_keys is not None and frame_indices is not None:
            feats = self._cached_features(video, cache_keys, frame_indices)
        else:
            feats = self.frame_features(video)  # (B, T, D), or (B, T', D) from a clip backbone
        t = video.shape[1]
        if feats.shape[1] == t:
            out = self.head(feats, mask)
            return VideoOutput(out.logits, out.attention, feats if return_features else None, out.pooled)
        if mask is not None and not bool(mask.all()):
            raise ConfigError(f"{self.backbone.name}: a clip backbone takes whole clips, not padded ones (a mask)")
        out = self.head(feats)
        # each of the T' steps stands for the frames it was pooled from: its attention, shared among them
        step = -(-t // feats.shape[1])  # ceil
        attention = out.attention.repeat_interleave(step, dim=1)[:, :t]  # (B, T)
        attention = attention / attention.sum(dim=1, keepdim=True)
        return VideoOutput(out.logits, attention, feats if return_features else None, out.pooled)
