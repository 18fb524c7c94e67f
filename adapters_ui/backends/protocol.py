"""What the session needs from whatever generates text: the ``Backend`` protocol.

A backend holds the base model (in this process, or behind a server) and the adapters
loaded into it. The session never touches a model: it asks the backend to plan a
comparison into batches, then runs the batches one model turn at a time
(``scheduler.TurnQueue``), so that visitors share the model fairly.

    plan = backend.plan(["base", "pirate"], rendered_prompts, settings)
    for batch in plan.batches:                 # each batch is one model turn
        texts = backend.generate(batch, rendered_prompts, settings, on_rows=print, stop=event)

A backend that runs the model in this process also offers ``begin``: a batch as a ``Generation``
that gives the model up between decode steps (``pause``) and goes on later, so a visitor waits for
a fraction of a second, not for somebody's whole batch (``runs.CompareRun`` takes a turn per slice).
    read = backend.read_back(rendered_prompts, {"pirate": outputs}, references)  # per token: KL from the base, ...
"""

from __future__ import annotations

import threading
from dataclasses import dataclass
from typing import TYPE_CHECKING, Callable, Protocol

from adapters_ui.analysis.divergence import ReadBack
from adapters_ui.decoding import GenerationSettings

if TYPE_CHECKING:  # annotations only: the protocol loads no torch (an AdapterSpec holds a PEFT config)
    from adapters_ui.adapters.validation import AdapterSpec

OnRows = Callable[[list[str]], None]  # the partial text of every row, after each new token


@dataclass(frozen=True)
class GeneratedRows:
    """What one ``generate`` call wrote: each row's new text, and whether the row ended by
    itself (end of text or max_new_tokens) rather than being cut off by a stop."""

    texts: list[str]
    complete: list[bool]


MIXED, BATCH, SINGLE = "mixed", "batch", "single"  # routes: how a variant's rows are batched


@dataclass(frozen=True)
class Batch:
    """Rows generated together in one call: one model turn.

    ``group`` is the backend's own tag (e.g. which adapter family must be mounted)."""

    route: str
    rows: tuple[tuple[int, str], ...]  # (prompt index, variant)
    group: str | None = None

    @property
    def variants(self) -> tuple[str, ...]:
        return tuple(dict.fromkeys(variant for _, variant in self.rows))


@dataclass(frozen=True)
class Plan:
    """Every batch of one comparison, in the order they run, and each variant's route."""

    batches: tuple[Batch, ...]
    routes: dict[str, str]  # variant -> route

    @property
    def rows(self) -> int:
        return sum(len(b.rows) for b in self.batches)


Pause = Callable[[], bool]  # asked between decode steps: True gives the model up now (the batch goes on later)


class Generation(Protocol):
    """One batch being generated, resumable: each ``advance`` is one model turn's slice of it."""

    batch: Batch

    def advance(self, stop: threading.Event | None = None, pause: Pause | None = None) -> GeneratedRows | None:
        """Go on with the batch (re-establishing whatever other model work changed meanwhile) until it
        ends (its texts) or ``pause()`` says to give the model up (None: call again later). Raises the
        one-line error when one of its adapters was detached meanwhile."""

    def written(self) -> GeneratedRows:
        """Every row's text so far, without model work (a paused batch that is stopped)."""

    def tokens(self) -> tuple[int, int] | None:
        """(tokens written, tokens the batch will write at most), or None when the backend cannot tell."""


class WholeBatch:
    """A ``Generation`` for a backend without ``begin`` (a server batches by itself): one ``generate``
    call, never paused."""

    def __init__(self, backend: "Backend", batch: Batch, texts: list[str], settings: GenerationSettings,
                 on_rows: OnRows | None = None):
        self.backend, self.batch, self.texts, self.settings, self.on_rows = backend, batch, texts, settings, on_rows

    def advance(self, stop: threading.Event | None = None, pause: Pause | None = None) -> GeneratedRows:
        return self.backend.generate(self.batch, self.texts, self.settings, self.on_rows, stop)

    def written(self) -> GeneratedRows:
        return GeneratedRows([""] * len(self.batch.rows), [False] * len(self.batch.rows))

    def tokens(self) -> None:
        return None


def begin(backend: "Backend", batch: Batch, texts: list[str], settings: GenerationSettings,
          on_rows: OnRows | None = None) -> Generation:
    """``batch`` as a ``Generation``: the backend's own resumable one, or one whole ``generate`` call."""
    own = getattr(backend, "begin", None)
    return own(batch, texts, settings, on_rows) if own is not None else WholeBatch(backend, batch, texts, settings, on_rows)


class Backend(Protocol):
    """The generation engine behind a session. Calls are never concurrent: the session
    serialises them with its TurnQueue."""

    description: str  # for people, e.g. "transformers + PEFT, in process"
    in_process: bool  # True: calls run on the model thread, one turn at a time; False: a server, called concurrently

    def route(self, name: str) -> str:
        """The route (MIXED, BATCH, SINGLE, or the backend's own) attached adapter ``name`` takes."""

    def refusal(self, spec: AdapterSpec) -> str | None:
        """Why this backend cannot run the adapter (one line), or None when it can."""

    def attach(self, spec: AdapterSpec) -> None:
        """Load an adapter; on failure nothing of it stays behind."""

    def detach(self, name: str) -> None:
        """Unload an adapter and free its weights."""

    def plan(self, variants: list[str], texts: list[str], settings: GenerationSettings) -> Plan:
        """Split prompts (``texts``, rendered) x variants into batches; UnknownVariantError for a
        variant not loaded."""

    def generate(
        self,
        batch: Batch,
        texts: list[str],
        settings: GenerationSettings,
        on_rows: OnRows | None = None,
        stop: threading.Event | None = None,
    ) -> GeneratedRows:
        """Generate one batch from ``texts`` (the rendered prompts, by prompt index). ``on_rows``
        hears each row's text so far after every token; once ``stop`` is set the call returns
        at the next token with what was written."""

    def read_back(self, texts: list[str], outputs: dict[str, list[str | None]],
                  references: list[str | None]) -> ReadBack:
        """Teacher-force each variant's outputs (by prompt; None: none) after their prompts (``texts``,
        rendered) through that variant and the base: per token log-probabilities, KL and top-1
        choices; and each reference (None: none) through every variant, for its perplexity.
        Batched forward passes on each variant's correct route; never token by token."""

    def read_references(self, texts: list[str], references: list[str | None], variant: str) -> list[list[float] | None]:
        """``read_back``'s reference log-probabilities for one variant alone (the same numbers): one model's
        reading, so a job can read references a model per turn (a read-back cannot pause mid-way)."""
