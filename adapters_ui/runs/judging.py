"""A judging job: a judge model over a review's pairs or an evaluation's outputs, a committed batch at a time.

Like an evaluation job (``runs/evaluation``), the database is its memory (``store/judgements``): each batch
of ``BATCH_UNITS`` units is asked of the judge (all requests in flight together, the judge's concurrency
at a time), read (``judging/parse``), and written in ONE transaction with the replies it used. Every reply
goes through the cache first, keyed by the judge model, the template's hash and the exact messages, so a
second run of the same judge asks nothing, and a job killed at any moment resumes from what is stored.

    >>> job = JudgingJob(db, judging_id, judge, units).start()   # doctest: +SKIP
    >>> job.wait(); job.progress().line()                        # doctest: +SKIP
    '40 of 40 pairs (100%), 1.9 pairs/s: finished'
"""

from __future__ import annotations

import logging
import time
from dataclasses import dataclass

from adapters_ui.analysis.judge_agreement import combine_orders
from adapters_ui.errors import JudgeError, StoreError
from adapters_ui.formatting import format_seconds
from adapters_ui.judging.client import JudgeClient
from adapters_ui.judging.parse import PAIRWISE_SCHEMA, RUBRIC_SCHEMA, parse_grade, parse_pairwise
from adapters_ui.judging.templates import DEFAULT_RUBRIC, NO_REFERENCE, JudgeTemplate, template_for
from adapters_ui.names import BASE
from adapters_ui.runs.judging_units import Unit, evaluation_units, review_units
from adapters_ui.runs.stored_job import StoredJob
from adapters_ui.store.benchmarks import is_benchmark
from adapters_ui.store.database import Database
from adapters_ui.store.evaluations import load_evaluation
from adapters_ui.store.judgements import (
    FINISHED,
    RUNNING,
    StoredJudging,
    cached_replies,
    create_judging,
    done_units,
    load_judging,
    reply_key,
    reply_row,
    set_status,
    write_results,
)
from adapters_ui.store.tokens import new_token

log = logging.getLogger(__name__)

BATCH_UNITS = 8  # units per committed batch: 16 requests in flight for pairwise


@dataclass(frozen=True)
class JudgingProgress:
    """Units stored (``done`` of ``total``), this process's pace, what the judge cost, and the state."""

    done: int
    total: int
    rate: float | None  # units per second since this process took the job up
    status: str
    error: str | None
    unit: str  # "pairs" | "outputs"
    requests: int  # replies asked of the judge by this process (cache hits are free and not counted)
    cached: int  # replies found in the cache
    seconds_per_request: float | None
    tokens: int  # prompt + completion tokens of the replies asked

    def line(self) -> str:
        """e.g. '16 of 40 pairs (40%), 0.8 pairs/s, about 30 s left; 32 judge requests, 1.2 s each, 41,230 tokens'."""
        text = f"{self.done:,} of {self.total:,} {self.unit}" + (f" ({100 * self.done / self.total:.0f}%)" if self.total else "")
        if self.rate:
            text += f", {self.rate:.1f} {self.unit}/s"
            if self.status == RUNNING:
                text += f", about {format_seconds((self.total - self.done) / self.rate)} left"
        cost = [f"{self.requests:,} judge requests"] if self.requests else []
        if self.seconds_per_request is not None:
            cost.append(f"{self.seconds_per_request:.2f} s each")
        if self.tokens:
            cost.append(f"{self.tokens:,} tokens")
        if self.cached:
            cost.append(f"{self.cached:,} from the cache")
        text += ("; " + ", ".join(cost)) if cost else ""
        if self.status != RUNNING:
            text += f": {self.status}" + (f" ({self.error})" if self.error else "")
        return text


class JudgingJob(StoredJob):
    """Judges what is missing of stored judging ``judging_id`` over ``units``, in a thread of its own. Cancel
    stops after the batch in flight (its replies are answered and kept in the cache, not lost)."""

    kind = "judging"

    def __init__(self, db: Database, judging_id: str, judge, units: list[Unit], batch_units: int = BATCH_UNITS):
        super().__init__(judging_id)
        self.db, self.judge, self.batch_units = db, judge, max(1, batch_units)
        self.stored = load_judging(db, judging_id)
        self.template = JudgeTemplate(**{k: self.stored.template[k] for k in ("name", "kind", "system", "user")})
        self.units = units
        self.options = {"max_tokens": getattr(judge, "max_tokens", None)}
        done = done_units(db, judging_id)
        self._done = self._resumed_from = sum(u.name in done for u in units)
        self.requests = self.cached = self.tokens = 0
        self.request_seconds = 0.0

    def progress(self) -> JudgingProgress:
        elapsed, ran = time.perf_counter() - self._started, self._done - self._resumed_from
        return JudgingProgress(
            self._done, len(self.units), ran / elapsed if ran and elapsed > 0 else None, self._status, self._error,
            "pairs" if self.stored.mode == "pairwise" else "outputs", self.requests, self.cached,
            self.request_seconds / self.requests if self.requests else None, self.tokens)

    # ---- the worker thread --------------------------------------------------------------------
    def _run(self) -> None:
        done = done_units(self.db, self.id)
        missing = [u for u in self.units if u.name not in done]
        for start in range(0, len(missing), self.batch_units):
            if self._stop.is_set():
                return
            self._run_batch(missing[start : start + self.batch_units])

    def _stopped_early(self) -> bool:
        return self._stop.is_set() and self._done < len(self.units)

    def _store_status(self, status: str, error: str | None) -> None:
        set_status(self.db, self.id, status, error)

    def _conversations(self, unit: Unit) -> list[list[dict]]:
        values = {"question": unit.question, "reference": unit.reference or NO_REFERENCE}
        if unit.right is None:
            return [self.template.render(**values, answer=unit.left_text, rubric=self.stored.rubric or "")]
        return [self.template.render(**values, answer_a=unit.left_text, answer_b=unit.right_text),
                self.template.render(**values, answer_a=unit.right_text, answer_b=unit.left_text)]

    def _run_batch(self, units: list[Unit]) -> None:
        asked = [[(reply_key(self.stored.judge_model, self.template.hash, m, self.options), m)
                  for m in self._conversations(u)] for u in units]
        texts = {key: reply.text for key, reply in cached_replies(self.db, [k for pairs in asked for k, _ in pairs]).items()}
        missing = list(dict.fromkeys(k for pairs in asked for k, _ in pairs if k not in texts))
        self.cached += sum(1 for pairs in asked for k, _ in pairs if k in texts)
        messages = {k: m for pairs in asked for k, m in pairs}
        schema = PAIRWISE_SCHEMA if self.stored.mode == "pairwise" else RUBRIC_SCHEMA
        replies = self.judge.ask_many([messages[k] for k in missing], schema)
        new_rows = []
        for key, reply in zip(missing, replies):
            texts[key] = reply.text
            new_rows.append(reply_row(key, self.stored.judge_model, self.template.hash, reply))
            self.requests += 1
            self.request_seconds += reply.seconds
            self.tokens += (reply.prompt_tokens or 0) + (reply.completion_tokens or 0)
        rows = [self._result(unit, [(k, texts[k]) for k, _ in pairs]) for unit, pairs in zip(units, asked)]
        self._done += write_results(self.db, self.id, rows, new_rows)

    @staticmethod
    def _result(unit: Unit, replies: list[tuple[str, str]]) -> dict:
        if unit.right is None:
            (key, text), = replies
            grade, feedback = parse_grade(text)
            return {"prompt_index": unit.prompt_index, "variant": unit.left, "grade": grade, "feedback": feedback,
                    "key": key}
        (left_key, left_text), (right_key, right_text) = replies
        left_first, right_first = parse_pairwise(left_text), parse_pairwise(right_text)
        choice, consistent = combine_orders(left_first, right_first)
        return {"prompt_index": unit.prompt_index, "left": unit.left, "right": unit.right, "left_first": left_first,
                "right_first": right_first, "choice": choice, "consistent": consistent, "left_first_key": left_key,
                "right_first_key": right_key}


def target_kind(db: Database, target_id: str) -> str:
    """"evaluation" or "review": which of them ``target_id`` is; a one-line error when it is neither."""
    from adapters_ui.store.reviews import review_info

    try:
        load_evaluation(db, target_id)
        return "evaluation"
    except StoreError:
        pass
    if review_info(db, target_id) is not None:
        return "review"
    raise StoreError(f"{target_id!r} is neither a stored evaluation nor a review: `adapters-ui evaluations` and "
                     "`adapters-ui review list` show their ids.")


def units_of(db: Database, kind: str, target_id: str, mode: str, baseline: str) -> list[Unit]:
    if kind == "review":
        return review_units(db, target_id, mode)
    return evaluation_units(db, target_id, mode, baseline)


def start_judging(db: Database, target_id: str, judge, mode: str = "pairwise", baseline: str = BASE,
                  template: JudgeTemplate | None = None, rubric: str | None = None, owner_key: str | None = None,
                  batch_units: int = BATCH_UNITS) -> JudgingJob:
    """Store a judging of review or evaluation ``target_id`` by ``judge`` and start it in the background.

    One template judges every unit, so every verdict of the judging keeps the same template hash. Without
    ``template``, the shipped one of ``mode``, with the reference when any unit has one. A with-reference
    template (shipped or edited) reads ``NO_REFERENCE`` in ``{reference}`` for an item that has none, which
    tells the judge to judge those answers on their own; a template without ``{reference}`` never shows the
    judge a reference, even for items that have one.
    """
    if mode not in ("pairwise", "rubric"):
        raise JudgeError(f"Judge mode {mode!r} is not known: use pairwise or rubric.")
    kind = target_kind(db, target_id)
    if kind == "evaluation" and is_benchmark(load_evaluation(db, target_id).settings):
        raise JudgeError(f"Evaluation {target_id} is a benchmark, scored by lm-eval's own metrics: judge an evaluation "
                         "set's outputs instead.")
    units = units_of(db, kind, target_id, mode, baseline)
    if not units:
        raise JudgeError(f"The {kind} {target_id} has no outputs to judge yet: let it finish, then judge it.")
    template = template or template_for(mode, any(u.reference for u in units))
    if template.kind != mode:
        raise JudgeError(f"The template {template.name!r} is for {template.kind} judging, not {mode}.")
    judging_id = create_judging(
        db, owner_key=owner_key or new_token(), target_kind=kind, target_id=target_id, mode=mode,
        judge_model=judge.model, judge_url=getattr(getattr(judge, "server", None), "url", None),
        template={"name": template.name, "kind": template.kind, "system": template.system, "user": template.user,
                  "hash": template.hash},
        rubric=(rubric or DEFAULT_RUBRIC) if mode == "rubric" else None,
        settings={"baseline": baseline, "max_tokens": getattr(judge, "max_tokens", None), "batch_units": batch_units,
                  "concurrency": getattr(judge, "concurrency", None)},
        total=len(units))
    return JudgingJob(db, judging_id, judge, units, batch_units).start()


def resume_judging(db: Database, judging_id: str, judge) -> JudgingJob:
    """Go on with a stored judging that did not finish, with the same judge model, from what is stored."""
    stored = load_judging(db, judging_id)
    if stored.status == FINISHED:
        raise JudgeError(f"Judging {judging_id} has already finished: read it with `adapters-ui judge --show {judging_id}`.")
    if judge.model != stored.judge_model:
        raise JudgeError(f"Judging {judging_id} was made by {stored.judge_model}, not {judge.model}: point "
                         "--judge-url/--judge-model at that model to resume it.")
    units = units_of(db, stored.target_kind, stored.target_id, stored.mode, stored.settings.get("baseline", BASE))
    set_status(db, judging_id, RUNNING)
    return JudgingJob(db, judging_id, judge, units, int(stored.settings.get("batch_units") or BATCH_UNITS)).start()


def stored_judge(stored: StoredJudging, api_key: str | None = None) -> JudgeClient:
    """The judge server a stored judging was made by, asked as it was (its URL, model, max_tokens: the cache keys
    match), for resuming it without flags (the app at start). ``api_key``: read by the caller from the variable
    its settings name, never stored. A one-line JudgeError when it cannot be asked again: a judge model loaded in
    the process that started it, a server that does not answer, or one that no longer serves the model."""
    if stored.judge_url is None:
        raise JudgeError(f"Judging {stored.id} was made by {stored.judge_model} loaded in the process that started it: "
                         f"resume it with `adapters-ui judge --resume {stored.id} --judge-local MODEL`.")
    judge = JudgeClient(stored.judge_url, stored.judge_model, api_key,
                        concurrency=int(stored.settings.get("concurrency") or 4),
                        max_tokens=int(stored.settings.get("max_tokens") or 512))
    try:
        served = judge.served_models()
        if stored.judge_model not in served:
            raise JudgeError(f"The judge server at {stored.judge_url} no longer serves {stored.judge_model} (it serves "
                             f"{', '.join(served[:5]) or 'nothing'}): serve that model there, then resume judging "
                             f"{stored.id} with `adapters-ui judge --resume {stored.id}`.")
    except JudgeError:
        judge.close()
        raise
    return judge
