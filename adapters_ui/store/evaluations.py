"""Evaluation jobs in the database: created with their set's items, filled a committed batch at a time.

A job's rows are its memory: what is in ``evaluation_outputs`` is done, and nothing else is. Each batch
of outputs commits in one transaction (``write_outputs``), so a job killed at any moment restarts from
its last committed batch, and the table's key (evaluation, item, variant, sample) makes a second copy of
an output impossible rather than unlikely.

    >>> ref = create_evaluation(db, base_model="SmolLM2", set_name="qa.jsonl", set_sha256="…", variants=["base"],
    ...                         samples=1, batch_items=16, settings={}, items=[{"id": "q1", "prompt": "2+2?"}])  # doctest: +SKIP
    >>> write_outputs(db, ref.id, [{"position": 0, "variant": "base", "sample": 0, "output": "4",
    ...                             "checks": {}, "scores": {"output_tokens": 1}}])                              # doctest: +SKIP
    >>> completed(db, ref.id)                                                                                   # doctest: +SKIP
    {(0, 0)}
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass

from sqlalchemy import func, insert, select, update

from adapters_ui.errors import StoreError
from adapters_ui.store.database import Database, iso_time, utc_now
from adapters_ui.store.schema import Evaluation, EvaluationItem, EvaluationOutput
from adapters_ui.store.tokens import new_id, new_token, same_secret, token_hash, well_formed

RUNNING, FINISHED, CANCELLED, FAILED = "running", "finished", "cancelled", "failed"
STATUSES = (RUNNING, FINISHED, CANCELLED, FAILED)
LIST_LIMIT = 50
READ_CHUNK = 2000  # rows fetched at a time when streaming outputs: memory stays flat with the set's size


@dataclass(frozen=True)
class EvaluationRef:
    """What creating returns. ``owner_key`` (needed to cancel) is shown once; the database keeps its hash."""

    id: str
    owner_key: str


@dataclass(frozen=True)
class StoredEvaluation:
    """One evaluation's settings and state, without its items or outputs."""

    id: str
    created: str
    updated: str
    status: str
    error: str | None
    base_model: str
    set_name: str
    set_sha256: str
    items: int
    variants: tuple[str, ...]
    samples: int
    batch_items: int
    settings: dict

    @property
    def rows(self) -> int:
        """Outputs the finished job holds: one per item, variant and sample."""
        return self.items * len(self.variants) * self.samples


def create_evaluation(db: Database, *, base_model: str, set_name: str, set_sha256: str, variants: Sequence[str],
                      samples: int, batch_items: int, settings: Mapping, items: Sequence[Mapping]) -> EvaluationRef:
    """Store a new running job and its set's items (each a dict with ``id``, ``category`` and the rest of the
    item), in one transaction: a job is stored whole or not at all."""
    if not items:
        raise StoreError("An evaluation needs at least one item: pick a set with items.")
    ref = EvaluationRef(id=new_id(), owner_key=new_token())
    now = utc_now()
    with db.transaction() as tx:
        tx.add(Evaluation(id=ref.id, owner_key_hash=token_hash(ref.owner_key), created_at=now, updated_at=now,
                          status=RUNNING, error=None, base_model=base_model, set_name=set_name, set_sha256=set_sha256,
                          items=len(items), variants=list(variants), samples=samples, batch_items=batch_items,
                          settings=dict(settings)))
        tx.flush()
        tx.execute(insert(EvaluationItem), [
            {"evaluation_id": ref.id, "position": position, "item_id": item["id"], "category": item.get("category"),
             "data": dict(item)}
            for position, item in enumerate(items)
        ])
    return ref


def load_evaluation(db: Database, evaluation_id: str) -> StoredEvaluation:
    """The job ``evaluation_id``, or a one-line StoreError for a malformed or unknown id."""
    with db.read() as tx:
        return _stored(_row(tx, evaluation_id))


def load_items(db: Database, evaluation_id: str) -> list[dict]:
    """The set's items as they were stored, in set order."""
    with db.read() as tx:
        _row(tx, evaluation_id)
        rows = tx.execute(select(EvaluationItem.data).where(EvaluationItem.evaluation_id == evaluation_id)
                          .order_by(EvaluationItem.position)).scalars().all()
    return [dict(data) for data in rows]


def completed(db: Database, evaluation_id: str, variants: int) -> set[tuple[int, int]]:
    """The (item position, sample) pairs whose outputs for all ``variants`` variants are stored."""
    query = (select(EvaluationOutput.position, EvaluationOutput.sample)
             .where(EvaluationOutput.evaluation_id == evaluation_id)
             .group_by(EvaluationOutput.position, EvaluationOutput.sample)
             .having(func.count() == variants))
    with db.read() as tx:
        return {(position, sample) for position, sample in tx.execute(query).all()}


def count_outputs(db: Database, evaluation_id: str) -> int:
    with db.read() as tx:
        return tx.scalar(select(func.count()).select_from(EvaluationOutput)
                         .where(EvaluationOutput.evaluation_id == evaluation_id)) or 0


def write_outputs(db: Database, evaluation_id: str, rows: Sequence[Mapping]) -> None:
    """One batch of outputs (dicts with position, variant, sample, output, checks, scores), in one
    transaction: after a crash the batch is there whole or not at all."""
    with db.transaction() as tx:
        insert_outputs(tx, evaluation_id, rows)


def insert_outputs(tx, evaluation_id: str, rows: Sequence[Mapping]) -> None:
    """``write_outputs``' inserts inside a transaction the caller holds (a benchmark adds its numbers to it)."""
    tx.execute(insert(EvaluationOutput), [{"evaluation_id": evaluation_id, **row} for row in rows])
    tx.execute(update(Evaluation).where(Evaluation.id == evaluation_id).values(updated_at=utc_now()))


def set_status(db: Database, evaluation_id: str, status: str, error: str | None = None) -> None:
    if status not in STATUSES:
        raise ValueError(f"unknown evaluation status {status!r}")
    with db.transaction() as tx:
        tx.execute(update(Evaluation).where(Evaluation.id == evaluation_id)
                   .values(status=status, error=error, updated_at=utc_now()))


def unfinished_ids(db: Database) -> list[str]:
    """The jobs that were running when the process ended, oldest first: the app resumes them on start."""
    with db.read() as tx:
        return list(tx.execute(select(Evaluation.id).where(Evaluation.status == RUNNING)
                               .order_by(Evaluation.created_at)).scalars())


def iter_outputs(db: Database, evaluation_id: str) -> Iterator[dict]:
    """Every stored output in item order, streamed ``READ_CHUNK`` rows at a time."""
    query = (select(EvaluationOutput.position, EvaluationOutput.variant, EvaluationOutput.sample,
                    EvaluationOutput.output, EvaluationOutput.checks, EvaluationOutput.scores)
             .where(EvaluationOutput.evaluation_id == evaluation_id)
             .order_by(EvaluationOutput.position, EvaluationOutput.variant, EvaluationOutput.sample)
             .execution_options(yield_per=READ_CHUNK))
    with db.read() as tx:
        for row in tx.execute(query):
            yield {"position": row.position, "variant": row.variant, "sample": row.sample, "output": row.output,
                   "checks": dict(row.checks), "scores": dict(row.scores)}


def list_evaluations(db: Database, ids: Sequence[str] | None = None, limit: int = LIST_LIMIT) -> list[StoredEvaluation]:
    """Newest first; ``ids`` limits the list to those (a public Space lists only a visitor's own)."""
    query = select(Evaluation)
    if ids is not None:
        query = query.where(Evaluation.id.in_([i for i in ids if well_formed(i)]))
    with db.read() as tx:
        return [_stored(row) for row in tx.execute(query.order_by(Evaluation.created_at.desc()).limit(limit)).scalars()]


def is_owner(db: Database, evaluation_id: str, owner_key: str | None) -> bool:
    """Whether ``owner_key`` is the key given when ``evaluation_id`` was created."""
    with db.read() as tx:
        return same_secret(owner_key, _row(tx, evaluation_id).owner_key_hash)


def _stored(row: Evaluation) -> StoredEvaluation:
    return StoredEvaluation(id=row.id, created=iso_time(row.created_at), updated=iso_time(row.updated_at),
                            status=row.status, error=row.error, base_model=row.base_model, set_name=row.set_name,
                            set_sha256=row.set_sha256, items=row.items, variants=tuple(row.variants),
                            samples=row.samples, batch_items=row.batch_items, settings=dict(row.settings))


def _row(tx, evaluation_id: str) -> Evaluation:
    if not well_formed(evaluation_id):
        shown = str(evaluation_id or "")[:40]
        raise StoreError(f"{shown!r} is not an evaluation id: copy the whole ?evaluation= link or the id the CLI printed.")
    row = tx.get(Evaluation, evaluation_id)
    if row is None:
        raise StoreError(f"No evaluation has the id {evaluation_id!r}: check the link, or list them with "
                         "`adapters-ui evaluations`.")
    return row
