"""One comparison as an object you iterate for events, stop, and ask for its result.

A ``CompareRun`` works in its own thread, one model turn per batch (see ``model/turns.py``); an
in-process batch gives its turn up between decode steps when somebody waits (``HOLD_S``), keeping
its KV cache, and goes on at its next turn, so nobody waits for a whole batch. It belongs to the visitor who started it: only its owner's Stop (or closing their
page) ends it. The UI, the API, the CLI and the playground all drive one:

    >>> run = session.start_compare(["Hi!"], ["base", "pirate"], owner="me")  # doctest: +SKIP
    >>> for event in run:                                                      # doctest: +SKIP
    ...     if isinstance(event, Output):
    ...         print(event.variant, event.text)
    >>> run.result().outputs("pirate")                                         # doctest: +SKIP
"""

from __future__ import annotations

import logging
import queue
import threading
import time
from dataclasses import dataclass, field
from typing import Iterator

from adapters_ui.analysis.text_diff import finished_outputs
from adapters_ui.backends.protocol import Backend, Generation, Plan, begin
from adapters_ui.decoding import GenerationSettings
from adapters_ui.errors import AdaptersUIError, first_line
from adapters_ui.model.thread import model_call
from adapters_ui.model.turns import TurnCancelled, TurnQueue

log = logging.getLogger(__name__)

FINISHED, STOPPED, FAILED = "finished", "stopped", "failed"
HOLD_S = 0.3  # a batch keeps the model at least this long per turn before it lets a waiting visitor go first
Row = tuple[int, str]  # (prompt index, variant)


# ---- the result -------------------------------------------------------------------------
@dataclass(frozen=True)
class PromptResult:
    prompt: str
    outputs: dict[str, str | None]  # variant -> text; None: never ran (the run stopped first)
    reference: str | None = None  # an expected answer from the prompt file, kept for scoring
    cut_off: tuple[str, ...] = ()  # variants whose text a stop ended before it was complete
    category: str | None = None  # the prompt file's group for it: reference scores are ranked per category


@dataclass(frozen=True)
class Comparison:
    """Every variant's output for every prompt, with the settings that made them.

    ``status`` is finished, stopped (outputs so far; cut-off and missing ones are marked)
    or failed (``error`` says why; outputs so far are kept)."""

    variants: tuple[str, ...]
    results: tuple[PromptResult, ...]
    settings: GenerationSettings
    routes: dict[str, str]  # variant -> backend route
    generate_s: float  # this run's own model time; waiting for other visitors is not in it
    waited_s: float = 0.0
    status: str = FINISHED
    error: str | None = None

    def outputs(self, variant: str) -> list[str | None]:
        return [r.outputs[variant] for r in self.results]

    @property
    def complete(self) -> bool:
        return self.status == FINISHED

    def counts(self) -> tuple[int, int]:
        """(finished outputs, all outputs): cut-off and missing ones are not finished."""
        return finished_outputs(self.records(), list(self.variants))

    def records(self) -> list[dict]:
        """Plain rows for views and exports: prompt, outputs, and, when present, reference, category and cut_off."""
        rows = []
        for r in self.results:
            row = {"prompt": r.prompt, "outputs": dict(r.outputs)}
            if r.reference is not None:
                row["reference"] = r.reference
            if r.category is not None:
                row["category"] = r.category
            if r.cut_off:
                row["cut_off"] = list(r.cut_off)
            rows.append(row)
        return rows


# ---- events -----------------------------------------------------------------------------
@dataclass(frozen=True)
class Queued:
    """Waiting for another visitor's batch; ``position`` 1 means next."""

    position: int


@dataclass(frozen=True)
class Started:
    """The first model turn began; the plan is what will run."""

    routes: dict[str, str]
    batches: int
    total: int  # outputs


@dataclass(frozen=True)
class Partial:
    """The text so far of every row of the running batch, after one more token."""

    texts: dict[Row, str]


@dataclass(frozen=True)
class Output:
    index: int
    variant: str
    text: str
    cut_off: bool = False  # a stop ended it before it was complete


@dataclass(frozen=True)
class Progress:
    done: int  # finished outputs
    total: int
    generate_s: float  # own model time so far
    waited_s: float
    waiting: int | None = None  # position in line while waiting, else None
    tokens: int | None = None  # tokens written so far, the running batch's included (None: the backend cannot tell)
    tokens_total: int | None = None  # tokens the run will write at most (rows that ended early count what they wrote)

    @property
    def line(self) -> str:
        """``3 of 80 outputs done · 1,234 of 5,120 tokens``: moves with every token, not only when outputs end."""
        line = f"{self.done} of {self.total} outputs done"
        if self.tokens is not None and self.tokens_total:
            line += f" · {self.tokens:,} of {self.tokens_total:,} tokens"
        return line


@dataclass(frozen=True)
class Ended:
    """Always the last event."""

    comparison: Comparison


Event = Queued | Started | Partial | Output | Progress | Ended


# ---- the run ------------------------------------------------------------------------------
@dataclass
class RunRequest:
    """What to run: ``texts`` are the prompts as the model sees them (chat template applied)."""

    prompts: list[str]
    texts: list[str]
    variants: list[str]
    settings: GenerationSettings
    references: list[str | None] = field(default_factory=list)
    categories: list[str | None] = field(default_factory=list)  # empty: no prompt has one


class CompareRun:
    """Generates ``request`` in a thread of its own, one turn of ``turns`` per batch."""

    def __init__(self, backend: Backend, turns: TurnQueue, request: RunRequest, owner: str = "local", kind: str = "compare",
                 background: bool = False):
        self.backend, self.turns, self.request = backend, turns, request
        self.owner, self.kind = owner, kind
        self.background = background  # a job's batch: it yields to every visitor (see model/turns.py)
        self.plan: Plan | None = None  # the plan that ran, made in the first turn
        self.outputs: dict[Row, str] = {}
        self.cut_off: set[Row] = set()
        self._events: queue.Queue[Event] = queue.Queue()
        self._stop = threading.Event()
        self._ended = threading.Event()
        self._result: Comparison | None = None
        self._failure: AdaptersUIError | None = None
        self._generate_s = 0.0  # model time of finished turns
        self._turn_began: float | None = None  # start of the turn in progress
        self._waiting: int | None = None
        self._generation: Generation | None = None  # the batch in progress (it may be paused between turns)
        self._tokens_done = 0  # tokens of finished batches
        self._tokens_unneeded = 0  # max_new_tokens the rows that ended early did not need
        self._tokens_known = True  # False once a backend could not tell its tokens
        self._counting = threading.Lock()  # the counts above change together with _generation
        self._started = time.perf_counter()
        self._thread = threading.Thread(target=self._work, name=f"compare-run-{owner}", daemon=True)

    @property
    def total(self) -> int:
        return len(self.request.prompts) * len(self.request.variants)

    def start(self) -> "CompareRun":
        self._started = time.perf_counter()
        self._thread.start()
        return self

    def stop(self) -> None:
        """End at the next token (or before the next turn); what was written is kept."""
        self._stop.set()

    @property
    def ended(self) -> bool:
        return self._ended.is_set()

    def __iter__(self) -> Iterator[Event]:
        return self.events()

    def events(self, heartbeat: float | None = None) -> Iterator[Event]:
        """Every event in order, ending with ``Ended``. With ``heartbeat``, a ``Progress`` comes
        at least that often (seconds), so a consumer can redraw while it waits. One consumer only."""
        while True:
            try:
                event = self._events.get(timeout=heartbeat)
            except queue.Empty:
                yield self.progress()
                continue
            yield event
            if isinstance(event, Ended):
                return

    def progress(self) -> Progress:
        now = time.perf_counter()
        began = self._turn_began
        generate_s = self._generate_s + (now - began if began is not None else 0.0)  # the running batch counts
        tokens, tokens_total = self._tokens()
        return Progress(len(self.outputs) - len(self.cut_off), self.total, generate_s,
                        max(0.0, now - self._started - generate_s), self._waiting, tokens, tokens_total)

    def _tokens(self) -> tuple[int | None, int | None]:
        """(tokens written, tokens the run will write at most), the running batch's included."""
        with self._counting:
            generation, done, unneeded, known = (self._generation, self._tokens_done, self._tokens_unneeded,
                                                 self._tokens_known)
        running = generation.tokens() if generation is not None else (0, 0)
        if running is None or not known:
            return None, None
        written, expected = running
        rows = len(generation.batch.rows) if generation is not None else 0
        limit = self.request.settings.max_new_tokens
        return done + written, self.total * limit - unneeded - (rows * limit - expected)

    def result(self, timeout: float | None = None) -> Comparison:
        """The comparison once the run ended (finished or stopped); a failed run raises its error."""
        comparison = self.final(timeout)
        if self._failure is not None:
            raise self._failure
        return comparison

    def final(self, timeout: float | None = None) -> Comparison:
        """The comparison once the run ended, whatever its status: a failed one carries its
        error and keeps what was written before it."""
        if not self._ended.wait(timeout):
            raise TimeoutError(f"The run did not end within {timeout} s.")
        return self._result

    # ---- the worker thread --------------------------------------------------------------
    def _work(self) -> None:
        status, error = FINISHED, None
        try:
            self._run_batches()
            if self._stop.is_set() and (self.plan is None or len(self.outputs) < self.plan.rows or self.cut_off):
                status = STOPPED
        except TurnCancelled:
            status = STOPPED
        except AdaptersUIError as exc:
            status, error, self._failure = FAILED, str(exc), exc
        except Exception as exc:  # noqa: BLE001 - reported as one line; the traceback goes to the log
            log.exception("comparison failed")
            status, error = FAILED, f"The comparison failed: {type(exc).__name__}: {first_line(exc)}"
            self._failure = AdaptersUIError(error)
        self._result = self._comparison(status, error)
        done, total = self._result.counts()
        log.info("%s run of %s %s: %d of %d outputs, %.1f s model time, %.1f s waiting", self.kind, self.owner,
                 status, done, total, self._result.generate_s, self._result.waited_s)
        self._ended.set()
        self._events.put(Ended(self._result))

    def _run_batches(self) -> None:
        """One turn per slice of a batch: a batch that pauses (somebody waits) queues again and goes on."""
        done = 0
        try:
            while not self._stop.is_set() and (self.plan is None or done < len(self.plan.batches)):
                with self.turns.turn(on_wait=self._on_wait, cancel=self._stop, background=self.background):
                    self._waiting = None
                    began = self._turn_began = time.perf_counter()
                    try:
                        if self.plan is None:
                            r = self.request
                            self.plan = self.backend.plan(r.variants, r.texts, r.settings)
                            self._events.put(Started(dict(self.plan.routes), len(self.plan.batches), self.total))
                        if self._generation is None:
                            self._generation = self._begin(self.plan.batches[done])
                        generated = model_call(self.backend, self._generation.advance, self._stop, self._pause)
                    finally:
                        self._generate_s += time.perf_counter() - began
                        self._turn_began = None
                if generated is not None:
                    self._finish_batch(generated)
                    done += 1
                self._events.put(self.progress())
        except TurnCancelled:
            if self._generation is not None:  # stopped while a paused batch waited: keep what it wrote
                self._finish_batch(self._generation.written(), stopped=True)
            raise
        if self._generation is not None:  # stopped between two slices
            self._finish_batch(self._generation.written(), stopped=True)

    def _pause(self) -> bool:
        """Asked between decode steps, on the model thread: give the model up when somebody waits and
        this turn has held it for ``HOLD_S`` (the batch goes on at its next turn). A background run gives
        it up at once to a waiting visitor; a visitor's run never gives it up to background work."""
        began = self._turn_began
        if began is None:
            return False
        if self.background and self.turns.visitors_waiting > 0:
            return True
        waiting = self.turns.waiting if self.background else self.turns.visitors_waiting
        return waiting > 0 and time.perf_counter() - began >= HOLD_S

    def _on_wait(self, position: int) -> None:
        self._waiting = position
        self._events.put(Queued(position))

    def _begin(self, batch) -> Generation:
        def on_rows(texts: list[str]) -> None:
            self._events.put(Partial(dict(zip(batch.rows, texts))))

        return begin(self.backend, batch, self.request.texts, self.request.settings, on_rows)

    def _finish_batch(self, generated, stopped: bool = False) -> None:
        """Keep a batch's outputs; ``stopped``: a paused batch that will not go on, whose rows that
        wrote nothing yet (prompts not read) were not run."""
        generation = self._generation
        counted = generation.tokens()
        with self._counting:
            self._generation = None
            if counted is None:
                self._tokens_known = False
            else:
                written, expected = counted
                self._tokens_done += written
                self._tokens_unneeded += len(generation.batch.rows) * self.request.settings.max_new_tokens - expected
        for row, text, complete in zip(generation.batch.rows, generated.texts, generated.complete):
            if stopped and not complete and not text:
                continue
            self.outputs[row] = text
            if not complete:
                self.cut_off.add(row)
            self._events.put(Output(row[0], row[1], text, cut_off=not complete))

    def _comparison(self, status: str, error: str | None) -> Comparison:
        r = self.request
        references = r.references or [None] * len(r.prompts)
        categories = r.categories or [None] * len(r.prompts)
        results = tuple(
            PromptResult(
                prompt,
                {v: self.outputs.get((i, v)) for v in r.variants},
                references[i],
                tuple(v for v in r.variants if (i, v) in self.cut_off),
                categories[i],
            )
            for i, prompt in enumerate(r.prompts)
        )
        wall = time.perf_counter() - self._started
        routes = dict(self.plan.routes) if self.plan else {}
        return Comparison(tuple(r.variants), results, r.settings, routes, self._generate_s,
                          max(0.0, wall - self._generate_s), status, error)


class RunBook:
    """The runs in progress, by owner: a visitor's Stop or closed page ends only their own."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._runs: list[CompareRun] = []

    def add(self, run: CompareRun) -> CompareRun:
        with self._lock:
            self._runs = [r for r in self._runs if not r.ended] + [run]
        return run

    def in_use(self) -> set[str]:
        """The variants of every run that has not ended (an adapter in here must stay attached)."""
        with self._lock:
            return {variant for run in self._runs if not run.ended for variant in run.request.variants}

    def running(self, owner: str, kind: str | None = None) -> list[CompareRun]:
        with self._lock:
            return [r for r in self._runs if not r.ended and r.owner == owner and kind in (None, r.kind)]

    def stop(self, owner: str, kind: str | None = None) -> int:
        """Stop every running run of ``owner`` (of one ``kind``, or all); how many were stopped."""
        runs = self.running(owner, kind)
        for run in runs:
            run.stop()
        return len(runs)
