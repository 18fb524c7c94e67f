"""Fair sharing of one model: work is taken in turns, first come first served.

A comparison takes a turn for each slice of a batch: when somebody waits (``waiting``), a running
decode gives the model up between two steps and queues again behind them (``runs.HOLD_S``). So a
short request (a chat reply, a one-prompt run) waits for a fraction of a second per request queued
before it, never for somebody's whole batch, however many rows it holds.

    >>> turns = TurnQueue()
    >>> with turns.turn():
    ...     pass  # model work here: nobody else touches the model meanwhile
"""

from __future__ import annotations

import threading
from collections import deque
from contextlib import contextmanager
from typing import Callable, Iterator

POLL_S = 0.25  # how often a waiter re-checks its cancel event and reports its position


class TurnCancelled(Exception):
    """The request gave up (Stop, page closed) while it was still waiting for its turn."""


class TurnQueue:
    """A first-in-first-out lock: the longest waiter gets the model next."""

    def __init__(self, slots: int = 1) -> None:
        self.slots = slots  # turns held at once: 1 for a model in this process; more for a server that batches
        self._changed = threading.Condition()
        self._waiting: deque[object] = deque()
        self._busy = 0

    @property
    def waiting(self) -> int:
        """How many requests wait for a turn now."""
        with self._changed:
            return len(self._waiting)

    @contextmanager
    def turn(
        self,
        on_wait: Callable[[int], None] | None = None,
        cancel: threading.Event | None = None,
    ) -> Iterator[None]:
        """Hold the model for one unit of work. While waiting, ``on_wait(position)`` hears the
        place in line whenever it changes (1 = next); a set ``cancel`` ends the wait with TurnCancelled."""
        ticket = object()
        with self._changed:
            self._waiting.append(ticket)
            reported = None
            while self._busy >= self.slots or self._waiting[0] is not ticket:
                position = self._waiting.index(ticket) + (1 if self._busy >= self.slots else 0)
                if on_wait is not None and position != reported:
                    reported = position
                    on_wait(position)
                if cancel is not None and cancel.is_set():
                    self._waiting.remove(ticket)
                    self._changed.notify_all()
                    raise TurnCancelled()
                self._changed.wait(POLL_S)
            self._waiting.popleft()
            self._busy += 1
            self._changed.notify_all()  # with a free slot left, the next waiter may go too
        try:
            yield
        finally:
            with self._changed:
                self._busy -= 1
                self._changed.notify_all()
