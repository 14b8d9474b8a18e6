"""Temporal heads, one registry (`vap list head`): tsn, lstm, transformer."""

from pipeline.models.heads import lstm, transformer, tsn  # noqa: F401 (register)
from pipeline.models.heads.base import HEADS, HeadOutput, TemporalHead, build_head

__all__ = ["HEADS", "HeadOutput", "TemporalHead", "build_head"]
