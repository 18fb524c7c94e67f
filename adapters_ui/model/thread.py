"""Every piece of model work in the process runs on one thread.

PyTorch's CPU kernels run on an OpenMP thread team, and each Python thread that calls into
them gets a team of its own that lives as long as that thread. Once the process holds more
team threads than it has cores, OpenMP stops spinning between parallel regions and puts its
threads to sleep after each one; a decode step runs thousands of small regions, so every
step pays the wake-ups. Measured on 2 cores: the same LoRA decode took 6.6 s on the thread
that loaded the model and 12.3 s on a second thread (and the first one was slow from then on).
So loading, attaching and generating all go through ``on_model_thread``.

A forked child (ZeroGPU runs each marked call in one) inherits the executor but not its thread,
so work submitted there would wait forever: the child starts a model thread of its own.

    >>> on_model_thread(sum, [1, 2, 3])
    6
"""

from __future__ import annotations

import os
import threading
from concurrent.futures import ThreadPoolExecutor
from typing import Callable, TypeVar

T = TypeVar("T")

_thread: list[threading.Thread] = []


def _remember() -> None:
    _thread.append(threading.current_thread())


def _start() -> ThreadPoolExecutor:
    executor = ThreadPoolExecutor(max_workers=1, thread_name_prefix="adapters-ui-model")
    _thread.clear()
    executor.submit(_remember).result()
    return executor


_executor = _start()
_forked = False  # set in a forked child, whose copy of _executor has no thread behind it
_starting = threading.Lock()


def _after_fork_in_child() -> None:
    global _forked, _starting
    _forked, _starting = True, threading.Lock()  # a lock held by a parent thread at fork would stay held


os.register_at_fork(after_in_child=_after_fork_in_child)


def on_model_thread(fn: Callable[..., T], *args, **kwargs) -> T:
    """Call ``fn`` on the model thread and wait for it; exceptions come back as they are.
    Called from the model thread itself (nested work), it just calls ``fn``."""
    global _executor, _forked
    if _forked:
        with _starting:
            if _forked:
                _executor, _forked = _start(), False
    if threading.current_thread() is _thread[0]:
        return fn(*args, **kwargs)
    return _executor.submit(fn, *args, **kwargs).result()


def model_call(backend, fn: Callable[..., T], *args, **kwargs) -> T:
    """``fn`` on the model thread when ``backend`` runs the model in this process; a server's backend
    is called from the caller's thread, so several runs can wait on the server at once."""
    if getattr(backend, "in_process", True):
        return on_model_thread(fn, *args, **kwargs)
    return fn(*args, **kwargs)
