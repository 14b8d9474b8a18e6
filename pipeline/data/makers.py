"""Every built-in dataset maker in one registry (`vap data make NAME`, `data.make` in a config).

`moving-digits` and `moving-digits-sparse` (pipeline.data.moving_digits) register where the registry is
defined; `moving-digits-timeline` (pipeline.data.digit_timeline) draws with moving-digits' helpers, so it
is imported here, after both, instead of from moving_digits (which would make an import cycle).
"""

from __future__ import annotations

from pipeline.data import digit_timeline  # noqa: F401 - registers moving-digits-timeline
from pipeline.data.moving_digits import DATA_MAKERS

__all__ = ["DATA_MAKERS"]
