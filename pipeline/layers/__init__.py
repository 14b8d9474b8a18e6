"""Per-frame attention layers, one registry (`vap list attention`), one file each."""

from pipeline.layers import cbam, eca, non_local, residual_attention, squeeze_excite, stn  # noqa: F401 (register)
from pipeline.layers.base import ATTENTION, AttentionLayer, AttentionMaps, build_attention, collect_attention

__all__ = ["ATTENTION", "AttentionLayer", "AttentionMaps", "build_attention", "collect_attention"]
