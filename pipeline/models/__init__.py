"""Floor 3, models: `nn.Module`s and their maths: backbones, temporal heads, the video classifier, the
glimpse agent and its retina, the summarizer networks, KTS / knapsack / the TVSum-SumMe protocol, and the
loading of their own weights (`weights_only=True`). No decoding, no optimiser, no other files; nothing
from tasks/, inference/ or apps/ (tests/test_floors.py holds the rule)."""

from pipeline.models import heads  # noqa: F401 (registers the temporal heads)
from pipeline.models.backbones import BACKBONES, Backbone, Features, build_backbone
from pipeline.models.video_classifier import VideoClassifier, VideoOutput

__all__ = ["BACKBONES", "Backbone", "Features", "VideoClassifier", "VideoOutput", "build_backbone"]
