"""Saved comparisons: a finished comparison frozen with everything needed to show it again.

What is kept is the export document (``report.ReportData``: prompts, references, variants,
outputs, settings, base model, storage) plus each adapter's name, type, size and weights
SHA-256. Reopening needs no model and no attached adapter, so a permalink still works
after the adapters are gone or the app runs another base:

    >>> ref = save_comparison(db, data, session.adapters())  # doctest: +SKIP
    >>> load_comparison(db, ref.id).data.results             # doctest: +SKIP
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, fields
from typing import TYPE_CHECKING, Mapping, Sequence

from sqlalchemy import func, select

from adapters_ui.errors import StoreError
from adapters_ui.store.database import Database, iso_time, utc_now
from adapters_ui.store.schema import Review, SavedRun
from adapters_ui.store.tokens import new_id, new_token, same_secret, token_hash, well_formed
from adapters_ui.views.document import ReportData

if TYPE_CHECKING:
    from adapters_ui.records import AdapterInfo

LIST_LIMIT = 100


@dataclass(frozen=True)
class SavedRef:
    """What saving returns. ``owner_key`` is shown once; the database keeps only its hash."""

    id: str
    owner_key: str
    created: str


@dataclass(frozen=True)
class SavedComparison:
    id: str
    created: str
    data: ReportData
    adapters: list[dict]  # name, type, peft_type, bytes, sha256 of each adapter that took part


@dataclass(frozen=True)
class SavedSummary:
    """One line of the list of saved comparisons."""

    id: str
    created: str
    base_model: str
    prompts: int
    variants: list[str]


def adapter_fingerprints(adapters: Sequence[AdapterInfo], variants: Sequence[str]) -> list[dict]:
    """Name, type, size and weights hash of the adapters among ``variants``."""
    return [
        {"name": a.name, "type": a.method, "peft_type": a.peft_type, "bytes": a.bytes_on_disk,
         "sha256": a.sha256, "weights_format": a.weights_format}
        for a in adapters if a.name in variants
    ]


def save_comparison(db: Database, data: ReportData, adapters: Sequence[AdapterInfo]) -> SavedRef:
    """Store a finished comparison; a stopped or failed one is refused (its outputs are incomplete)."""
    if data.status != "finished":
        raise StoreError(f"This comparison {data.status} before the end: only a finished comparison "
                         "can be saved. Run it again to the end, then save.")
    if not data.results:
        raise StoreError("There is nothing to save: run a comparison first.")
    document = asdict(data)
    document["saved_adapters"] = adapter_fingerprints(adapters, data.variants)
    ref = SavedRef(id=new_id(), owner_key=new_token(), created=utc_now().isoformat(timespec="seconds"))
    row = SavedRun(id=ref.id, owner_key_hash=token_hash(ref.owner_key), created_at=utc_now(), base_model=data.base_model,
                   prompts=len(data.results), variants=list(data.variants), document=document)
    with db.transaction() as tx:
        tx.add(row)
    return ref


def load_comparison(db: Database, comparison_id: str) -> SavedComparison:
    """The saved comparison ``comparison_id``, or a one-line StoreError for a malformed or unknown id."""
    with db.read() as tx:
        row = _row(tx, comparison_id)
        document = dict(row.document)
    adapters = document.pop("saved_adapters", [])
    data = ReportData(**{f.name: document[f.name] for f in fields(ReportData) if f.name in document})
    return SavedComparison(id=row.id, created=iso_time(row.created_at), data=data, adapters=adapters)


def list_comparisons(db: Database, ids: Sequence[str] | None = None, limit: int = LIST_LIMIT) -> list[SavedSummary]:
    """Newest first; ``ids`` limits the list to those (a public Space lists only a visitor's own)."""
    query = select(SavedRun.id, SavedRun.created_at, SavedRun.base_model, SavedRun.prompts, SavedRun.variants)
    if ids is not None:
        query = query.where(SavedRun.id.in_([i for i in ids if well_formed(i)]))
    query = query.order_by(SavedRun.created_at.desc()).limit(limit)
    with db.read() as tx:
        rows = tx.execute(query).all()
    return [SavedSummary(id=r.id, created=iso_time(r.created_at), base_model=r.base_model, prompts=r.prompts,
                         variants=list(r.variants)) for r in rows]


def owned_ids(db: Database, owned: Mapping[str, str] | None) -> list[str]:
    """The ids of ``owned`` (id -> owner key, as a browser keeps them) whose owner key is right.

    What a browser sends can be forged, so a listed id must come with its secret: a reviewer who
    knows a permalink's id cannot get that comparison listed (with its variant names) as theirs."""
    claimed = {i: k for i, k in dict(owned or {}).items() if isinstance(i, str) and well_formed(i)}
    if not claimed:
        return []
    with db.read() as tx:
        rows = tx.execute(select(SavedRun.id, SavedRun.owner_key_hash).where(SavedRun.id.in_(list(claimed)))).all()
    return [r.id for r in rows if isinstance(claimed[r.id], str) and same_secret(claimed[r.id], r.owner_key_hash)]


def under_review(db: Database, comparison_id: str) -> bool:
    """Whether a blind review of ``comparison_id`` takes votes now (created, not closed, not deleted)."""
    with db.read() as tx:
        return bool(tx.scalar(select(func.count()).select_from(Review).where(
            Review.comparison_id == comparison_id, Review.revoked_at.is_(None))))


def is_owner(db: Database, comparison_id: str, owner_key: str | None) -> bool:
    """Whether ``owner_key`` is the key given when ``comparison_id`` was saved."""
    with db.read() as tx:
        return same_secret(owner_key, _row(tx, comparison_id).owner_key_hash)


def _row(tx, comparison_id: str) -> SavedRun:
    if not well_formed(comparison_id):
        raise StoreError(f"{_quoted(comparison_id)} is not a saved comparison id: copy the whole ?run= link.")
    row = tx.get(SavedRun, comparison_id)
    if row is None:
        raise StoreError(f"No saved comparison has the id {comparison_id!r}: check the link, or save the comparison again.")
    return row


def _quoted(value: str | None) -> str:
    text = "" if value is None else str(value)
    return repr(text if len(text) <= 40 else text[:40] + "…")

