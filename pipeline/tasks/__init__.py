"""Floor 5, tasks: training, every loop that updates weights: the LightningModules (classification,
the glimpse agent) with their metrics and callbacks, DR-DSN's REINFORCE loop (`dr_dsn`) and VASNet's
(`summarization`). Imports the floors below; never inference or apps (tests/test_floors.py).

`TASKS` names the tasks a config may choose (`task: glimpse`; `vap train --task glimpse`), so a config
never names an import path. Each entry returns its class when called, importing Lightning only then.
"""

from __future__ import annotations

from typing import Any

from pipeline.registry import Registry

TASKS: Registry[Any] = Registry("task")


@TASKS.register("classification", doc="action recognition: backbone x attention x temporal head (the default)")
def _classification() -> type:
    from pipeline.tasks.classification import VideoClassificationTask

    return VideoClassificationTask


@TASKS.register("glimpse", doc="RL glimpse agent: which frames of a clip to look at (and where, on pixels)")
def _glimpse() -> type:
    from pipeline.tasks.glimpse import GlimpseTask

    return GlimpseTask


@TASKS.register("long_glimpse", doc="RL glimpse agent for long videos: where to decode a short clip, and when to stop")
def _long_glimpse() -> type:
    from pipeline.tasks.long_glimpse import LongGlimpseTask

    return LongGlimpseTask


def datamodule_class(name: str) -> type:
    """The data module a task trains on: long videos' for `long_glimpse`, VideoDataModule otherwise."""
    if name == "long_glimpse":
        from pipeline.data.long_videos import LongVideoDataModule

        return LongVideoDataModule
    from pipeline.data.datamodule import VideoDataModule

    return VideoDataModule


def task_class(name: str) -> type:
    """The LightningModule class of a registered task; an unknown name lists the allowed ones."""
    return TASKS.get(name)()
