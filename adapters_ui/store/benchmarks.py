"""A benchmark's variants in the database: each written whole, its per-item outputs and lm-eval's numbers
in ONE transaction, so a benchmark killed at any moment resumes from its last finished variant.

A benchmark is an evaluation (``store/evaluations``: its items are lm-eval's docs, its outputs one per
doc and variant with lm-eval's per-item scores) plus one ``benchmark_variants`` row per variant that
holds what lm-eval itself reported (metric ± stderr per task), which per-item rows cannot rebuild
(lm-eval's aggregations: perplexities weighted by words, bootstrap stderrs).

    >>> write_variant(db, evaluation_id, "pirate", rows, VariantNumbers(results, {"t": 0}, 41.2, "0.4.13"))  # doctest: +SKIP
    >>> finished_variants(db, evaluation_id)  # doctest: +SKIP
    {'pirate'}
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass

from sqlalchemy import insert, select

from adapters_ui.store.database import Database
from adapters_ui.store.evaluations import insert_outputs
from adapters_ui.store.schema import BenchmarkVariant

KIND = "benchmark"  # an evaluation's settings["kind"] when it is a benchmark


@dataclass(frozen=True)
class VariantNumbers:
    """lm-eval's own numbers of one variant."""

    results: Mapping  # task -> lm-eval's keys
    n_shot: Mapping  # task -> few-shot examples
    seconds: float
    lm_eval_version: str

    def to_json(self) -> dict:
        return {"results": dict(self.results), "n_shot": dict(self.n_shot), "seconds": self.seconds,
                "lm_eval_version": self.lm_eval_version}


def is_benchmark(settings: Mapping) -> bool:
    return settings.get("kind") == KIND


def write_variant(db: Database, evaluation_id: str, variant: str, rows: Sequence[Mapping], numbers: VariantNumbers) -> None:
    """One variant's outputs (as ``evaluations.write_outputs`` takes them) and lm-eval's numbers, in one transaction."""
    with db.transaction() as tx:
        insert_outputs(tx, evaluation_id, rows)
        tx.execute(insert(BenchmarkVariant), [{"evaluation_id": evaluation_id, "variant": variant,
                                               "results": dict(numbers.results), "n_shot": dict(numbers.n_shot),
                                               "seconds": numbers.seconds, "lm_eval_version": numbers.lm_eval_version}])


def variant_numbers(db: Database, evaluation_id: str) -> dict[str, VariantNumbers]:
    """variant -> lm-eval's numbers, for every variant finished so far."""
    with db.read() as tx:
        rows = tx.execute(select(BenchmarkVariant).where(BenchmarkVariant.evaluation_id == evaluation_id)).scalars().all()
        return {row.variant: VariantNumbers(dict(row.results), dict(row.n_shot), row.seconds, row.lm_eval_version)
                for row in rows}


def finished_variants(db: Database, evaluation_id: str) -> set[str]:
    with db.read() as tx:
        return set(tx.execute(select(BenchmarkVariant.variant)
                              .where(BenchmarkVariant.evaluation_id == evaluation_id)).scalars())
