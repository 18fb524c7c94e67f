"""How much memory the model process holds now, for the status line next to the adapters.

On CUDA that is what PyTorch has allocated on the GPU; elsewhere (CPU, MPS's unified memory)
it is the process's resident set, read from /proc where it exists. No psutil needed.

    >>> describe_memory("cpu")   # doctest: +SKIP
    '612.3 MB RAM'
"""

from __future__ import annotations

import os
import sys
from pathlib import Path

from adapters_ui.formatting import format_bytes

_STATM = Path("/proc/self/statm")  # "size resident shared ..." in pages (Linux)


def _resident_bytes() -> int:
    """The process's resident set size now; where /proc is missing, its peak (getrusage's maxrss)."""
    try:
        pages = int(_STATM.read_text().split()[1])
        return pages * os.sysconf("SC_PAGE_SIZE")
    except (OSError, IndexError, ValueError):
        pass
    try:
        import resource
    except ImportError:  # Windows: no cheap way without psutil
        return 0
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    return peak if sys.platform == "darwin" else peak * 1024  # macOS reports bytes, Linux kB


def available_memory() -> int | None:
    """Bytes the machine can still give (MemAvailable in /proc/meminfo); None where that is unknown."""
    try:
        with open("/proc/meminfo") as handle:
            for line in handle:
                if line.startswith("MemAvailable:"):
                    return int(line.split()[1]) * 1024
    except OSError:
        return None
    return None


def memory_in_use(device: str) -> int:
    """Bytes in use: GPU memory PyTorch allocated on CUDA, else the process's resident memory."""
    if str(device).startswith("cuda"):
        import torch

        return int(torch.cuda.memory_allocated(device))
    return _resident_bytes()


def describe_memory(device: str) -> str:
    """'612.3 MB RAM' or '1.2 GB GPU'."""
    where = "GPU" if str(device).startswith("cuda") else "RAM"
    return f"{format_bytes(memory_in_use(device))} {where}"
