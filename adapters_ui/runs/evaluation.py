"""An evaluation job: every item of a stored evaluation through every variant, a committed batch at a time.

The database is the job's memory (``store/evaluations``). The job splits the set into fixed batches of
``batch_items`` items (fixed when the job is created, so a resumed job batches exactly as an
uninterrupted one and greedy outputs come out equal), and for each batch and sample not yet stored:

1. generates it as one ``CompareRun`` (each model turn is a slice of a batch that gives the model up
   whenever somebody waits, so a visitor's Compare waits a fraction of a second, not the job);
2. reads each reference back through every variant for its perplexity (in process only);
3. scores every output (``analysis/scores``) and writes the batch in ONE transaction.

An output's ``latency_s`` is the time from its batch's start to its last token (its text's last change):
the rows of a batch run together, so a row that ends sooner is done sooner, and the batch's end alone
would give every variant the same number.

A SIGKILL loses at most the batch in progress; ``resume`` (the CLI's ``--resume``, or the app at start)
goes on from the last committed batch. Outputs go to the database as they come, never kept here, so
memory stays flat however many items the set has.

    >>> job = EvaluationJob(db, evaluation_id, session.backend, session.turns, render, count_tokens).start()  # doctest: +SKIP
    >>> job.wait(); job.progress().line()                                                                        # doctest: +SKIP
    '4,000 of 4,000 outputs (100%), 3.1 outputs/s'
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, replace

from adapters_ui.analysis.checks import parse_checks
from adapters_ui.analysis.references import perplexity
from adapters_ui.analysis.scores import score_output
from adapters_ui.backends.protocol import Backend
from adapters_ui.decoding import GenerationSettings
from adapters_ui.errors import AdaptersUIError
from adapters_ui.formatting import format_seconds
from adapters_ui.model.thread import model_call
from adapters_ui.model.turns import TurnCancelled, TurnQueue
from adapters_ui.runs.run import FAILED as RUN_FAILED
from adapters_ui.runs.run import STOPPED as RUN_STOPPED
from adapters_ui.runs.run import CompareRun, Output, Partial, RunRequest
from adapters_ui.runs.stored_job import JobCancelled, StoredJob
from adapters_ui.store.database import Database
from adapters_ui.store.evaluations import (
    RUNNING,
    StoredEvaluation,
    completed,
    count_outputs,
    load_evaluation,
    load_items,
    set_status,
    write_outputs,
)

log = logging.getLogger(__name__)

BATCH_ITEMS = 32  # items per committed batch: x variants x samples rows generated together
HEARTBEAT_S = 0.5
# Items whose references one model reads in one turn (a turn per model: a read-back cannot pause mid-way).
# Each call pays ~3 forward passes whatever its rows (a shared prefix, the prompts, the references): 8 items
# through all 4 demo models in one turn held the model for 5 to 35 s on 2 CPU cores, while 1 item a turn
# tripled the read-back's time; 8 items of one model is a quarter of that turn at the same cost.
READ_BACK_ROWS = 8

Render = Callable[[dict, bool], str]  # (stored item, use the chat template) -> the text the model sees
CountTokens = Callable[[str], int]


@dataclass(frozen=True)
class EvaluationProgress:
    """How far a job is: outputs stored (``done`` of ``total``), the pace of this process, and the state."""

    done: int
    total: int
    rate: float | None  # outputs per second since this process took the job up
    status: str
    error: str | None = None
    unit: str = "outputs"  # what is counted: a benchmark counts lm-eval's requests

    @property
    def eta_s(self) -> float | None:
        if self.status != RUNNING or not self.rate:
            return None
        return (self.total - self.done) / self.rate

    def line(self) -> str:
        """e.g. '1,240 of 4,000 outputs (31%), 12.3 outputs/s, about 3 min 44 s left'."""
        share = f" ({100 * self.done / self.total:.0f}%)" if self.total else ""
        text = f"{self.done:,} of {self.total:,} {self.unit}{share}"
        if self.rate:
            text += f", {self.rate:.1f} {self.unit}/s"
        if self.eta_s is not None:
            text += f", about {format_seconds(self.eta_s)} left"
        if self.status != RUNNING:
            text += f": {self.status}" + (f" ({self.error})" if self.error else "")
        return text


def batches(items: int, batch_items: int) -> list[range]:
    """The job's fixed batches of item positions: [0, b), [b, 2b), ..."""
    return [range(start, min(items, start + batch_items)) for start in range(0, items, batch_items)]


class EvaluationJob(StoredJob):
    """Runs what is missing of stored evaluation ``evaluation_id`` in a thread of its own."""

    kind = "evaluation"
    cancelled_by = (TurnCancelled, JobCancelled)

    def __init__(self, db: Database, evaluation_id: str, backend: Backend, turns: TurnQueue, render: Render,
                 count_tokens: CountTokens, owner: str = "local"):
        super().__init__(evaluation_id)
        self.db, self.backend, self.turns = db, backend, turns
        self.render, self.count_tokens, self.owner = render, count_tokens, owner
        self.stored: StoredEvaluation = load_evaluation(db, evaluation_id)
        self.variants = list(self.stored.variants)
        # outputs stored, the ones from before this process included: a resumed job's bar starts where it was
        self._done = self._resumed_from = count_outputs(db, evaluation_id)
        self._started = time.perf_counter()
        self._compare: CompareRun | None = None  # the batch being generated (Cancel stops it)
        self.batch_seconds: list[float] = []  # model and scoring time of each batch this process ran
        self.write_seconds = 0.0  # time spent in the database writes
        self.generate_seconds = 0.0  # the batches' CompareRuns, waits for other visitors' turns included
        self.read_back_seconds = 0.0  # the references read back for their perplexity
        self.score_seconds = 0.0  # checks and scores (output tokens counted)

    # ---- control ------------------------------------------------------------------------------
    def cancel(self) -> None:
        """Stop at the next token; the batch in progress is dropped whole, every committed one is kept."""
        self._stop.set()
        run = self._compare
        if run is not None:
            run.stop()

    def progress(self) -> EvaluationProgress:
        elapsed = time.perf_counter() - self._started
        ran = self._done - self._resumed_from
        rate = ran / elapsed if ran and elapsed > 0 else None
        return EvaluationProgress(self._done, self.stored.rows, rate, self._status, self._error)

    def batch_line(self) -> str | None:
        """The batch being generated now, as its run says it ("40 of 96 outputs done · 1,234 of 1,536 tokens"),
        for a page whose bar moves only when a batch is committed; None between batches."""
        run = self._compare
        return None if run is None else run.progress().line

    # ---- the worker thread --------------------------------------------------------------------
    def _store_status(self, status: str, error: str | None) -> None:
        set_status(self.db, self.id, status, error)

    def _run(self) -> None:
        items = load_items(self.db, self.id)
        done = completed(self.db, self.id, len(self.variants))
        self._done = self._resumed_from = len(done) * len(self.variants)
        self._started = time.perf_counter()
        settings = GenerationSettings(**self.stored.settings)
        for positions in batches(len(items), self.stored.batch_items):
            read_back: dict = {}  # the batch's reference perplexities, read once: its samples share their references
            for sample in range(self.stored.samples):
                if all((p, sample) in done for p in positions):
                    continue
                if self._stop.is_set():
                    return
                sampled = replace(settings, seed=settings.seed + sample)
                self._run_batch([items[p] for p in positions], list(positions), sample, sampled, read_back)

    def _run_batch(self, items: list[dict], positions: list[int], sample: int, settings: GenerationSettings,
                   read_back: dict) -> None:
        began = time.perf_counter()
        texts = [self.render(item, settings.use_chat_template) for item in items]
        outputs, cut_off, latency = self._generate(items, texts, settings)
        generated = time.perf_counter()
        self.generate_seconds += generated - began
        if not read_back:
            read_back.update(self._reference_perplexities(texts, [item.get("reference") for item in items]))
        scoring = time.perf_counter()
        self.read_back_seconds += scoring - generated
        rows = []
        for index, (item, position) in enumerate(zip(items, positions)):
            checks = parse_checks(item.get("checks") or [])
            for variant in self.variants:
                text = outputs[(index, variant)]
                passed, scores = score_output(
                    text, reference=item.get("reference"), checks=checks, output_tokens=self.count_tokens(text),
                    cut_off=(index, variant) in cut_off, latency_s=latency[(index, variant)],
                    reference_perplexity=read_back.get(variant, {}).get(index))
                rows.append({"position": position, "variant": variant, "sample": sample, "output": text,
                             "checks": passed, "scores": scores})
        writing = time.perf_counter()
        self.score_seconds += writing - scoring
        write_outputs(self.db, self.id, rows)
        self.write_seconds += time.perf_counter() - writing
        self._done += len(rows)
        self.batch_seconds.append(time.perf_counter() - began)

    def _generate(self, items: list[dict], texts: list[str], settings: GenerationSettings):
        """One CompareRun over the batch: (outputs by (row, variant), the cut-off ones, latency of each)."""
        request = RunRequest([item["id"] for item in items], texts, self.variants, settings)
        run = self._compare = CompareRun(self.backend, self.turns, request, owner=self.owner, kind="evaluation",
                                         background=True).start()
        if self._stop.is_set():
            run.stop()
        began = time.perf_counter()
        latency: dict[tuple[int, str], float] = {}  # (row, variant) -> when its text last grew
        written: dict[tuple[int, str], str] = {}
        for event in run.events(heartbeat=HEARTBEAT_S):
            if isinstance(event, Partial):
                now = time.perf_counter() - began
                for row, text in event.texts.items():
                    if text != written.get(row):
                        written[row], latency[row] = text, now
            elif isinstance(event, Output) and (event.index, event.variant) not in latency:
                latency[(event.index, event.variant)] = time.perf_counter() - began  # a backend that sent no partial
        self._compare = None
        comparison = run.final()
        if comparison.status == RUN_STOPPED or self._stop.is_set():
            raise JobCancelled()
        if comparison.status == RUN_FAILED:
            raise AdaptersUIError(comparison.error or "The evaluation's batch failed: see the log.")
        outputs = {(i, v): text for i, result in enumerate(comparison.results) for v, text in result.outputs.items()}
        cut_off = {(i, v) for i, result in enumerate(comparison.results) for v in result.cut_off}
        return outputs, cut_off, latency

    def _reference_perplexities(self, texts: list[str], references: Sequence[str | None]) -> dict[str, dict[int, float]]:
        """variant -> row -> perplexity of the row's reference after its prompt; {} on a server (no read-back)."""
        if not self.backend.in_process or not any(references):
            return {}
        found: dict[str, dict[int, float]] = {v: {} for v in self.variants}
        for start in range(0, len(texts), READ_BACK_ROWS):
            rows = slice(start, start + READ_BACK_ROWS)
            if not any(references[rows]):
                continue
            for v in self.variants:  # a turn each: a visitor waits for one model's reading, not the batch's
                with self.turns.turn(cancel=self._stop, background=True):
                    read = model_call(self.backend, self.backend.read_references, texts[rows], list(references[rows]), v)
                for i, logprobs in enumerate(read):
                    if logprobs and (value := perplexity(logprobs)) is not None:
                        found[v][start + i] = value
        return found


class EvaluationBook:
    """The jobs this process runs, by id: they belong to no page, so closing one never stops them."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._jobs: dict[str, EvaluationJob] = {}

    def add(self, job: EvaluationJob) -> EvaluationJob:
        with self._lock:
            running = self._jobs.get(job.id)
            if running is not None and not running.ended:
                raise AdaptersUIError(f"Evaluation {job.id} is already running here: wait for it, or cancel it first.")
            self._jobs[job.id] = job
        return job

    def get(self, evaluation_id: str) -> EvaluationJob | None:
        with self._lock:
            return self._jobs.get(evaluation_id)

    def running(self) -> list[EvaluationJob]:
        with self._lock:
            return [job for job in self._jobs.values() if not job.ended]

    def in_use(self) -> set[str]:
        """The variants of every running job: they must stay attached."""
        return {variant for job in self.running() for variant in job.variants}
