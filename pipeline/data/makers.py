"""Every built-in dataset maker in one registry (`vap data make NAME`, `data.make` in a config).

`moving-digits` and `moving-digits-sparse` (pipeline.data.moving_digits) register where the registry is
defined; `moving-digits-timeline` (pipeline.data.digit_timeline) and `moving-digits-long`
(pipeline.data.long_digits) draw with moving-digits' helpers, so they are imported here, after both,
instead of from moving_digits (which would make an import cycle).
"""

from __future__ import annotations

from pipeline.data import digit_timeline, long_digits  # noqa: F401 - register moving-digits-timeline, -long
from pipeline.data.moving_digits import DATA_MAKERS

__all__ = ["DATA_MAKERS"]
