"""A benchmark job: lm-eval tasks through every variant, stored as an evaluation a finished variant at a time.

A benchmark is an evaluation whose items are lm-eval's docs (``bench/items``) and whose ``settings``
say ``kind: benchmark`` with the tasks, limit and few-shot count. So everything an evaluation has applies
to it: the Evaluate tab's view, ``?evaluation=<id>``, the API, the downloads, the gate; its verdicts are
per task (``bench.records.benchmark_verdicts``: a task is never pooled with another).

The job runs lm-eval's ``simple_evaluate`` once per variant on the loaded base (``bench.run``), asked in
chunks (``bench.counted_lm``) so its bar moves with every 64 requests and Cancel stops it between two.
A variant's per-item outputs and lm-eval's numbers are written in ONE transaction (``store/benchmarks``):
a SIGKILL or a Cancel loses at most the variant in progress, and ``resume`` (the app at start, or
``adapters-ui evaluate --resume ID``) goes on with the variants not yet stored.

    >>> ref = create_benchmark(db, session.backend, "SmolLM2", ["adapters_ui_arith_mc"], ["base", "pirate"], limit=20)  # doctest: +SKIP
    >>> job = BenchmarkJob(db, ref.id, session.backend, session.turns).start(); job.wait()                     # doctest: +SKIP
"""

from __future__ import annotations

import hashlib
import json
import time
from collections.abc import Sequence
from pathlib import Path

from adapters_ui.bench.counted_lm import BenchmarkCancelled, CountedLM
from adapters_ui.bench.items import benchmark_items
from adapters_ui.bench.records import PASS_FAIL, item_record
from adapters_ui.bench.run import checked_request, evaluate_variant, lm_eval_version, task_manager, variant_lm
from adapters_ui.errors import BenchmarkError
from adapters_ui.model.turns import TurnCancelled, TurnQueue
from adapters_ui.runs.evaluation import EvaluationProgress
from adapters_ui.runs.stored_job import JobCancelled, StoredJob
from adapters_ui.store.benchmarks import KIND, VariantNumbers, finished_variants, write_variant
from adapters_ui.store.database import Database
from adapters_ui.store.evaluations import EvaluationRef, create_evaluation, load_evaluation, load_items, set_status


def create_benchmark(db: Database, backend, base_model: str, tasks: Sequence[str], variants: Sequence[str], *,
                     include_path: str | Path | None = None, limit: int | float | None = None,
                     num_fewshot: int | None = None, batch_size: int = 8) -> EvaluationRef:
    """Store a benchmark of ``tasks`` x ``variants`` with lm-eval's docs as its items; checked before anything is stored."""
    tasks, variants = checked_request(backend, tasks, variants)
    if limit is not None and not limit > 0:
        raise BenchmarkError(f"limit {limit} is not positive: give a number of items per task (or a share below 1).")
    if num_fewshot is not None and num_fewshot < 0:
        raise BenchmarkError(f"num_fewshot {num_fewshot} is negative: give 0 or more few-shot examples.")
    include = str(Path(include_path).resolve()) if include_path else None
    with task_manager(tasks, include and Path(include)) as manager:
        found = benchmark_items(manager, tasks, limit)
    digest = hashlib.sha256(json.dumps(found.items, sort_keys=True, ensure_ascii=False).encode()).hexdigest()
    settings = {"kind": KIND, "tasks": list(tasks), "include_path": include, "limit": limit, "num_fewshot": num_fewshot,
                "batch_size": batch_size, "requests": found.requests, "lm_eval_version": lm_eval_version()}
    return create_evaluation(db, base_model=base_model, set_name=f"lm-eval: {', '.join(tasks)}", set_sha256=digest,
                             variants=variants, samples=1, batch_items=len(found.items), settings=settings,
                             items=found.items)


class BenchmarkJob(StoredJob):
    """Runs the variants a stored benchmark lacks, one ``simple_evaluate`` each, in a thread of its own."""

    kind = "benchmark"
    cancelled_by = (TurnCancelled, JobCancelled, BenchmarkCancelled)

    def __init__(self, db: Database, evaluation_id: str, backend, turns: TurnQueue, owner: str = "local"):
        super().__init__(evaluation_id)
        self.db, self.backend, self.turns, self.owner = db, backend, turns, owner
        self.stored = load_evaluation(db, evaluation_id)
        self.variants = list(self.stored.variants)
        self.requests = int(self.stored.settings["requests"])  # one variant's
        self._finished = len(finished_variants(db, evaluation_id))
        self._resumed_from = self._finished
        self._lm: CountedLM | None = None
        self.current: str | None = None  # the variant being scored

    def progress(self) -> EvaluationProgress:
        answered = self._lm.done if self._lm is not None and self.current else 0
        done = self._finished * self.requests + answered
        elapsed = time.perf_counter() - self._started
        ran = done - self._resumed_from * self.requests
        rate = ran / elapsed if ran > 0 and elapsed > 0 else None
        return EvaluationProgress(done, self.requests * len(self.variants), rate, self._status, self._error,
                                  unit="requests")

    def batch_line(self) -> str | None:
        """The variant being scored: 'pirate (2 of 4): 120 of 498 requests'."""
        if self.current is None or self._lm is None:
            return None
        index = self.variants.index(self.current) + 1
        return f"{self.current} ({index} of {len(self.variants)}): {self._lm.done:,} of {self.requests:,} requests"

    def _store_status(self, status: str, error: str | None) -> None:
        set_status(self.db, self.id, status, error)

    def _run(self) -> None:
        settings = self.stored.settings
        positions = {(item["category"], item["doc_id"]): p for p, item in enumerate(load_items(self.db, self.id))}
        include = settings.get("include_path")
        with task_manager(settings["tasks"], include and Path(include)) as manager:
            self._lm = CountedLM(variant_lm(self.backend, self.turns, cancel=self._stop,
                                            batch_size=int(settings.get("batch_size") or 8)), cancel=self._stop)
            for variant in self.variants:
                if variant in finished_variants(self.db, self.id):
                    continue
                if self._stop.is_set():
                    return
                self._lm.done, self.current = 0, variant
                scores = evaluate_variant(self._lm, variant, settings["tasks"], manager, limit=settings.get("limit"),
                                          num_fewshot=settings.get("num_fewshot"))
                if self._stop.is_set():
                    raise JobCancelled()
                write_variant(self.db, self.id, variant, _rows(scores, variant, positions),
                              VariantNumbers(scores.results, scores.n_shot, scores.seconds, lm_eval_version()))
                self._finished += 1
                self.current = None


def _rows(scores, variant: str, positions: dict) -> list[dict]:
    """lm-eval's logged samples of one variant as output rows at their items' positions."""
    rows = []
    for task, samples in scores.samples.items():
        for sample in samples:
            position = positions.get((task, sample["doc_id"]))
            if position is None:
                raise BenchmarkError(f"lm-eval scored doc {sample['doc_id']} of {task}, which the benchmark did not "
                                     "store: the task's data changed since it was created; start a new benchmark.")
            record = item_record(task, scores.output_types[task], variant, sample)
            rows.append({"position": position, "variant": variant, "sample": 0, "output": record["output"] or "",
                         "checks": _passed(record["scores"]), "scores": record["scores"]})
    return rows


def _passed(scores: dict) -> dict[str, bool]:
    """lm-eval's first pass/fail metric of the item (acc, else exact_match) as its check, so the item table marks
    it ✓ or ✗ and "Only regressions" finds the docs a variant gets wrong that the baseline gets right."""
    metric = next((m for m in PASS_FAIL if scores.get(m) is not None), None)
    return {} if metric is None else {metric: scores[metric] == 1}
