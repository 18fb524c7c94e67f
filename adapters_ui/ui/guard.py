"""What a visitor sees when a handler fails in a way nobody planned for.

Handlers turn bad input (``AdaptersUIError``) into a one-line message themselves; anything else
escaping one is a bug. Outside public mode gradio shows that exception as it is (``show_error``),
which is what a developer wants. In public mode a stranger must not read tracebacks, paths or
library internals: ``guard_events`` wraps every event handler so an unexpected exception becomes
one line naming an error id, and the whole traceback goes to the server log under that id.

    >>> guard(lambda: 1 / 0, public=True)()  # doctest: +SKIP
    gradio.exceptions.Error: 'Something went wrong on the server (logged as error 3f2a9c1e): try again, or reload the page.'
"""

from __future__ import annotations

import functools
import inspect
import logging
import uuid
from typing import Callable

import gradio as gr

from adapters_ui.errors import AdaptersUIError

log = logging.getLogger("adapters_ui.ui")

UNEXPECTED = "Something went wrong on the server (logged as error {ref}): try again, or reload the page."


def _one_line(exc: Exception, where: str) -> gr.Error:
    """The gr.Error a visitor sees in public mode; an unexpected exception is logged with its traceback first."""
    if isinstance(exc, gr.Error):
        return exc  # meant for the visitor already
    if isinstance(exc, AdaptersUIError):
        return gr.Error(str(exc), print_exception=False)  # one line by construction
    ref = uuid.uuid4().hex[:8]
    log.error("unexpected error %s in %s", ref, where, exc_info=exc)
    return gr.Error(UNEXPECTED.format(ref=ref), print_exception=False)


def guard(fn: Callable, public: bool, where: str | None = None) -> Callable:
    """``fn`` (plain, generator, async or async generator) with public mode's error handling; ``fn`` itself
    outside public mode. The wrapper keeps ``fn``'s signature (gradio reads it for ``gr.Request``)."""
    if not public or fn is None or getattr(fn, "_guarded", False):
        return fn
    where = where or getattr(fn, "__qualname__", None) or repr(fn)

    if inspect.isasyncgenfunction(fn):
        async def guarded(*args, **kwargs):
            try:
                async for value in fn(*args, **kwargs):
                    yield value
            except Exception as exc:
                raise _one_line(exc, where) from None
    elif inspect.iscoroutinefunction(fn):
        async def guarded(*args, **kwargs):
            try:
                return await fn(*args, **kwargs)
            except Exception as exc:
                raise _one_line(exc, where) from None
    elif inspect.isgeneratorfunction(fn):
        def guarded(*args, **kwargs):
            try:
                yield from fn(*args, **kwargs)  # close() reaches fn's own finally (a run's stop)
            except Exception as exc:
                raise _one_line(exc, where) from None
    else:
        def guarded(*args, **kwargs):
            try:
                return fn(*args, **kwargs)
            except Exception as exc:
                raise _one_line(exc, where) from None

    guarded = functools.wraps(fn)(guarded)
    guarded._guarded = True
    return guarded


def guard_events(blocks: gr.Blocks, public: bool) -> gr.Blocks:
    """Every event handler of ``blocks`` guarded (public mode); call once the events are wired."""
    if public:
        for block_fn in blocks.fns.values():
            block_fn.fn = guard(block_fn.fn, True, block_fn.name)
    return blocks
