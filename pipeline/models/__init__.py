"""Models: per-frame backbones, temporal heads, the glimpse agent, summarizers."""

from pipeline.models import heads  # noqa: F401 (registers the temporal heads)
from pipeline.models.backbones import BACKBONES, Backbone, Features, build_backbone
from pipeline.models.video_classifier import VideoClassifier, VideoOutput

__all__ = ["BACKBONES", "Backbone", "Features", "VideoClassifier", "VideoOutput", "build_backbone"]
