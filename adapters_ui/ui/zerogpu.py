"""ZeroGPU: mark the handlers that run the model, so a ZeroGPU Space lends them a GPU per call.

``spaces.GPU`` (the ``spaces`` package, preinstalled on Spaces) returns the function itself
unless the process runs on ZeroGPU (env ``SPACES_ZERO_GPU=true``); there it runs each call in a
worker process forked from the app, holding a GPU for at most ``duration`` seconds, and streams
a generator's values back. Without ``spaces`` installed, ``gpu_task`` is the identity too, so
nothing changes off ZeroGPU.

    >>> gpu_task(len, 60) is len or on_zero_gpu()
    True
"""

from __future__ import annotations

import os
from typing import Callable, TypeVar

try:
    import spaces
except ImportError:  # not on a Space (or an old one): nothing to mark
    spaces = None

F = TypeVar("F", bound=Callable)


def on_zero_gpu() -> bool:
    """Whether this process runs on ZeroGPU hardware (as ``spaces`` itself reads it)."""
    return spaces is not None and os.environ.get("SPACES_ZERO_GPU", "").lower() in ("1", "t", "true")


def gpu_task(fn: F, duration_s: int) -> F:
    """``fn`` marked for ZeroGPU with ``spaces.GPU(duration=duration_s)``; ``fn`` itself without ``spaces``.
    Pass bound methods: only the call's arguments travel to the worker, never ``self`` (which holds locks)."""
    if spaces is None:
        return fn
    return spaces.GPU(duration=duration_s)(fn)


def startup() -> None:
    """On ZeroGPU, what ``spaces`` does when ``Blocks.launch()`` starts: pack the weights loaded on "cuda"
    for the workers and report the marked functions. ``python app.py`` serves with uvicorn, never
    through ``launch()``, so ``serve()`` calls this once the model has loaded. Elsewhere: nothing."""
    if not on_zero_gpu():
        return
    import spaces.zero

    spaces.zero.startup()
