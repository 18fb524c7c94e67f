"""Every piece of model work in the process runs on one thread.

PyTorch's CPU kernels run on an OpenMP thread team, and each Python thread that calls into
them gets a team of its own that lives as long as that thread. Once the process holds more
team threads than it has cores, OpenMP stops spinning between parallel regions and puts its
threads to sleep after each one; a decode step runs thousands of small regions, so every
step pays the wake-ups. Measured on 2 cores: the same LoRA decode took 6.6 s on the thread
that loaded the model and 12.3 s on a second thread (and the first one was slow from then on).
So loading, attaching and generating all go through ``on_model_thread``.

    >>> on_model_thread(sum, [1, 2, 3])
    6
"""

from __future__ import annotations

import threading
from concurrent.futures import ThreadPoolExecutor
from typing import Callable, TypeVar

T = TypeVar("T")

_executor = ThreadPoolExecutor(max_workers=1, thread_name_prefix="adapters-ui-model")
_thread: list[threading.Thread] = []


def _remember() -> None:
    _thread.append(threading.current_thread())


_executor.submit(_remember).result()


def on_model_thread(fn: Callable[..., T], *args, **kwargs) -> T:
    """Call ``fn`` on the model thread and wait for it; exceptions come back as they are.
    Called from the model thread itself (nested work), it just calls ``fn``."""
    if threading.current_thread() is _thread[0]:
        return fn(*args, **kwargs)
    return _executor.submit(fn, *args, **kwargs).result()


def model_call(backend, fn: Callable[..., T], *args, **kwargs) -> T:
    """``fn`` on the model thread when ``backend`` runs the model in this process; a server's backend
    is called from the caller's thread, so several runs can wait on the server at once."""
    if getattr(backend, "in_process", True):
        return on_model_thread(fn, *args, **kwargs)
    return fn(*args, **kwargs)
