"""A one-line description of the machine, for the header of every benchmark report."""

from __future__ import annotations

import os
import platform
from pathlib import Path


def describe_machine() -> str:
    """`"2-core CPU (Intel Xeon ...), shared with other jobs, no GPU"` (GPU names when there are some)."""
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
    return f"{os.cpu_count()}-core CPU ({cpu}), shared with other jobs, " + (", ".join(gpus) if gpus else "no GPU")
