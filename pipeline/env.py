"""Where a run ran: the machine in one line (a `vap score` run record keeps it), and the command and
date of a benchmark report, for its header."""

from __future__ import annotations

import datetime as dt
import os
import platform
import shlex
import sys
from pathlib import Path


def describe_machine() -> str:
    """`"2-core CPU (Intel Xeon ...), no GPU"` (GPU names when there are some). Whether other jobs shared
    the machine is for the report's writer to say: this cannot know."""
    cpu = platform.processor() or platform.machine()
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                cpu = line.split(":", 1)[1].strip()
                break
    except OSError:
        pass
    import torch

    gpus = (
        [torch.cuda.get_device_name(i) for i in range(torch.cuda.device_count())] if torch.cuda.is_available() else []
    )
    return f"{os.cpu_count()}-core CPU ({cpu}), " + (", ".join(gpus) if gpus else "no GPU")


def provenance(script: str, argv: list[str] | None = None) -> dict[str, str]:
    """`command` (`python scripts/<script> ARGS`, ARGS from `argv` or the command line), `machine` and `date`
    (UTC, to the minute) of a report."""
    args = sys.argv[1:] if argv is None else argv
    return {
        "command": f"python scripts/{script} " + shlex.join(args),
        "machine": describe_machine(),
        "date": dt.datetime.now(dt.timezone.utc).strftime("%Y-%m-%d %H:%M UTC"),
    }
