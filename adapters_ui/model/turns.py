"""Fair sharing of one model: work is taken in turns, first come first served among visitors.

A comparison takes a turn for each slice of a batch: when somebody waits (``waiting``), a running
decode gives the model up between two steps and queues again behind them (``runs.HOLD_S``). So a
short request (a chat reply, a one-prompt run) waits for a fraction of a second per request queued
before it, never for somebody's whole batch, however many rows it holds.

Background work (an evaluation job: it belongs to no page and runs for minutes) takes its turns with
``background=True``: it goes only when no visitor waits, and gives the model up after one step as soon
as one does (``visitors_waiting``). Taking turns with a visitor instead would cost the visitor one of
the job's turns (a step of a 128-row batch, seconds on a CPU) for every one of its own: a 64-token
chat waited 31 s that way, behind a job that waits a few seconds more without noticing.

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


class _Ticket:
    __slots__ = ("background",)

    def __init__(self, background: bool) -> None:
        self.background = background


class TurnQueue:
    """A first-in-first-out lock: the longest waiting visitor gets the model next; background work
    gets it only when no visitor waits (the longest waiting background request first)."""

    def __init__(self, slots: int = 1) -> None:
        self.slots = slots  # turns held at once: 1 for a model in this process; more for a server that batches
        self._changed = threading.Condition()
        self._waiting: deque[_Ticket] = deque()
        self._busy = 0

    @property
    def waiting(self) -> int:
        """How many requests wait for a turn now, background ones included."""
        with self._changed:
            return len(self._waiting)

    @property
    def visitors_waiting(self) -> int:
        """How many requests that are not background work wait for a turn now."""
        with self._changed:
            return sum(not ticket.background for ticket in self._waiting)

    def _line(self) -> list[_Ticket]:
        """The waiters in the order they will go: visitors first come first served, then background work."""
        return sorted(self._waiting, key=lambda ticket: ticket.background)  # stable: arrival order within each

    @contextmanager
    def turn(
        self,
        on_wait: Callable[[int], None] | None = None,
        cancel: threading.Event | None = None,
        background: bool = False,
    ) -> Iterator[None]:
        """Hold the model for one unit of work. While waiting, ``on_wait(position)`` hears the
        place in line whenever it changes (1 = next); a set ``cancel`` ends the wait with TurnCancelled.
        ``background``: go only when no visitor waits (see the module's docstring)."""
        ticket = _Ticket(background)
        with self._changed:
            self._waiting.append(ticket)
            reported = None
            while True:
                line, free = self._line(), self._busy < self.slots
                if free and line[0] is ticket:
                    break
                position = line.index(ticket) + (0 if free else 1)
                if on_wait is not None and position != reported:
                    reported = position
                    on_wait(position)
                if cancel is not None and cancel.is_set():
                    self._waiting.remove(ticket)
                    self._changed.notify_all()
                    raise TurnCancelled()
                self._changed.wait(POLL_S)
            self._waiting.remove(ticket)
            self._busy += 1
            self._changed.notify_all()  # with a free slot left, the next waiter may go too
        try:
            yield
        finally:
            with self._changed:
                self._busy -= 1
                self._changed.notify_all()
