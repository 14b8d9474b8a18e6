"""Models: per-frame backbones, temporal heads, the glimpse agent, summarizers."""

from pipeline.models.backbones import BACKBONES, Backbone, Features, build_backbone

__all__ = ["BACKBONES", "Backbone", "Features", "build_backbone"]
