"""Floor 2, layers: per-frame attention modules (`nn.Module`s), one registry (`vap list attention`), one
file each. No decoding, no files, no optimiser; imports only data/ types below it (tests/test_floors.py)."""

from pipeline.layers import cbam, eca, non_local, residual_attention, squeeze_excite, stn  # noqa: F401 (register)
from pipeline.layers.base import ATTENTION, AttentionLayer, AttentionMaps, build_attention, collect_attention

__all__ = ["ATTENTION", "AttentionLayer", "AttentionMaps", "build_attention", "collect_attention"]
