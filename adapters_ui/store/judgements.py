"""A judge model's work in the database: the cache of its replies, and judging jobs filled a batch at a time.

**The cache** (``judge_replies``). A reply is stored under ``reply_key``: the SHA-256 of the judge model, the
template's hash and the exact messages the judge read. The messages hold the question, both outputs in the
order they were shown, the reference and the rubric, so a change to any of them (or to the order) is a new
key, and the same question asked again is answered from the table: free, and still there after a restart.

    >>> key = reply_key("prometheus-7b-v2.0", "3f2a9c0d1e2b4a5f", [{"role": "user", "content": "A or B?"}])
    >>> len(key)
    64

**The job** (``judgings``, ``judging_results``) follows the evaluation jobs (store/evaluations): a job's
result rows are its memory, a batch of rows commits in one transaction (``write_results``, together with the
replies it used), and a job killed at any moment resumes from ``done_units``. A unit is one pair judged in
both orders (``pair_unit``: "p3:base|pirate") or one output graded (``grade_unit``: "g3:pirate").

One results table, not one per mode: both modes share the key (judging, unit), the prompt, the resume query,
the order of reading and the cascade from their job; a job has one mode, and ``write_results`` checks each row
against it, so the mode's columns are always filled and the other mode's always empty. Two tables would
repeat all of that and make every reader pick a table first.

A unit written twice keeps its first row and the second is ignored, as a cached reply stored twice is: after
a restart two replicas may resume the same job, and both, asking the same judge through the same cache,
write the same verdicts. ``write_results`` returns how many units were new.
"""

from __future__ import annotations

import hashlib
import json
import re
from collections.abc import Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime, timezone
from urllib.parse import urlsplit, urlunsplit

from sqlalchemy import select, update
from sqlalchemy.dialects import postgresql, sqlite

from adapters_ui.analysis.review_stats import Judgement
from adapters_ui.errors import StoreError
from adapters_ui.store.database import Database, iso_time, utc_now
from adapters_ui.store.evaluations import CANCELLED, FAILED, FINISHED, RUNNING, STATUSES
from adapters_ui.store.schema import Evaluation, JudgeCacheEntry, Judging, JudgingResult, Review
from adapters_ui.store.tokens import new_id, same_secret, token_hash, well_formed

__all__ = ["CANCELLED", "FAILED", "FINISHED", "RUNNING", "CachedReply", "GradeResult", "PairResult", "StoredJudging",
           "cached_replies", "create_judging", "done_units", "grade_unit", "is_owner", "iter_results",
           "judge_judgements", "list_judgings", "load_judging", "pair_unit", "reply_key", "reply_row", "set_status",
           "store_replies", "unfinished_ids", "write_results"]

TARGET_KINDS = ("review", "evaluation")
MODES = ("pairwise", "rubric")
RAW_VERDICTS = ("first", "second", "tie", "unparseable")  # one order's verdict: which *shown* answer won
PAIR_CHOICES = ("left", "right", "tie", "unparseable")  # the pair's verdict from both orders
UNPARSEABLE = "unparseable"
GRADES = range(1, 6)
LIST_LIMIT = 50
KEY_CHUNK = 500  # keys per IN (...) query: well under any database's limit on bound parameters
READ_CHUNK = 2000
TEMPLATE_FIELDS = ("name", "kind", "system", "user", "hash")
_SECRET_SETTING = re.compile(r"api[_-]?key|authori[sz]ation|password|secret|bearer|access[_-]?token", re.IGNORECASE)
_REPLY_FIELDS = ("key", "judge_model", "template_hash", "text", "prompt_tokens", "completion_tokens", "seconds",
                 "structured")


# --- the cache --------------------------------------------------------------------------------------------

@dataclass(frozen=True)
class CachedReply:
    """A judge's stored reply: its raw text, what it cost, and whether it was constrained to a JSON schema."""

    key: str
    judge_model: str
    template_hash: str
    text: str
    prompt_tokens: int | None
    completion_tokens: int | None
    seconds: float
    structured: bool
    created: str


def reply_key(judge_model: str, template_hash: str, messages: Sequence[Mapping], options: Mapping | None = None) -> str:
    """The cache key of one question to a judge: SHA-256 hex of the model, the template hash and the messages
    as canonical JSON (keys sorted, so two dicts written in another order are one key; the messages' order
    counts). ``options`` (e.g. ``{"max_tokens": 512}``), when given, are part of the key too: a reply cut short
    by a smaller limit is then not served to a larger one."""
    parts = [judge_model, template_hash, list(messages)] + ([dict(options)] if options else [])
    text = json.dumps(parts, sort_keys=True, ensure_ascii=False, separators=(",", ":"))
    return hashlib.sha256(text.encode()).hexdigest()


def reply_row(key: str, judge_model: str, template_hash: str, reply) -> dict:
    """What ``store_replies`` takes, from a ``judging.client.JudgeReply`` (or anything with its fields)."""
    return {"key": key, "judge_model": judge_model, "template_hash": template_hash, "text": reply.text,
            "prompt_tokens": reply.prompt_tokens, "completion_tokens": reply.completion_tokens,
            "seconds": float(reply.seconds), "structured": bool(reply.structured)}


def cached_replies(db: Database, keys: Iterable[str]) -> dict[str, CachedReply]:
    """The stored replies among ``keys``; a key with no reply is simply absent."""
    wanted = sorted(set(keys))
    found: dict[str, CachedReply] = {}
    with db.read() as tx:
        for start in range(0, len(wanted), KEY_CHUNK):
            query = select(JudgeCacheEntry).where(JudgeCacheEntry.key.in_(wanted[start:start + KEY_CHUNK]))
            for row in tx.execute(query).scalars():
                found[row.key] = CachedReply(row.key, row.judge_model, row.template_hash, row.text, row.prompt_tokens,
                                             row.completion_tokens, row.seconds, row.structured, iso_time(row.created_at))
    return found


def store_replies(db: Database, rows: Iterable[Mapping]) -> int:
    """Store replies (``reply_row`` dicts) in one transaction; a key already stored keeps its reply, without
    error. Returns how many were new."""
    with db.transaction() as tx:
        return _insert_replies(tx, db.dialect, rows)


def _insert_replies(tx, dialect: str, rows: Iterable[Mapping]) -> int:
    values: dict[str, dict] = {}
    for number, row in enumerate(rows, 1):
        missing = [name for name in _REPLY_FIELDS if name not in row]
        if missing:
            raise StoreError(f"Judge reply {number} of the batch lacks {missing[0]!r}: build it with reply_row().")
        values.setdefault(row["key"], {name: row[name] for name in _REPLY_FIELDS} | {"created_at": utc_now()})
    if not values:
        return 0
    known = _existing(tx, JudgeCacheEntry.key, list(values))
    new = [value for key, value in values.items() if key not in known]
    if new:  # a replica that stored the same key in between is no error either: ON CONFLICT DO NOTHING
        tx.execute(_insert_ignoring_conflicts(JudgeCacheEntry, dialect), new)
    return len(new)


def _insert_ignoring_conflicts(table, dialect: str):
    """INSERT ... ON CONFLICT DO NOTHING, which SQLite and PostgreSQL both speak (each through its own dialect)."""
    module = postgresql if dialect == "postgresql" else sqlite
    return module.insert(table.__table__).on_conflict_do_nothing()


# --- the job ----------------------------------------------------------------------------------------------

@dataclass(frozen=True)
class StoredJudging:
    """One judging's settings and state, without its results."""

    id: str
    created: str
    updated: str
    status: str
    error: str | None
    target_kind: str  # review | evaluation
    target_id: str
    mode: str  # pairwise | rubric
    judge_model: str
    judge_url: str | None  # None: a model loaded in process
    template: dict  # name, kind, system, user, hash
    rubric: str | None
    settings: dict
    total: int  # units of work

    @property
    def reviewer(self) -> str:
        """The judge's name among the reviewers in the review statistics."""
        return f"judge: {self.judge_model}"

    @property
    def template_hash(self) -> str:
        return self.template["hash"]


@dataclass(frozen=True)
class PairResult:
    """One pair judged in both orders (left shown first, then right shown first) and the pair's choice."""

    unit: str
    prompt_index: int
    left: str
    right: str
    left_first: str  # first | second | tie | unparseable
    right_first: str
    choice: str  # left | right | tie | unparseable
    consistent: bool
    left_first_key: str | None  # the replies' cache keys
    right_first_key: str | None


@dataclass(frozen=True)
class GradeResult:
    """One output graded on the rubric (grade None: the reply could not be read)."""

    unit: str
    prompt_index: int
    variant: str
    grade: int | None
    feedback: str
    key: str | None


def pair_unit(prompt_index: int, left: str, right: str) -> str:
    """The unit of one pair: variant names hold no ':' or '|' (names.ADAPTER_NAME), so it reads back one way."""
    return f"p{int(prompt_index)}:{left}|{right}"


def grade_unit(prompt_index: int, variant: str) -> str:
    return f"g{int(prompt_index)}:{variant}"


def create_judging(db: Database, *, owner_key: str, target_kind: str, target_id: str, mode: str, judge_model: str,
                   judge_url: str | None, template: Mapping, rubric: str | None, settings: Mapping, total: int) -> str:
    """Store a new running judging of the review or evaluation ``target_id``; returns its id. ``owner_key``
    (kept only as a hash) is what cancelling it needs. ``judge_url`` loses any user, password and query
    before it is stored, and ``settings`` with a key such as ``api_key`` are refused: no secret is stored."""
    if target_kind not in TARGET_KINDS:
        raise StoreError(f"A judging's target is a review or an evaluation, not {target_kind!r}.")
    if mode not in MODES:
        raise StoreError(f"A judging is pairwise or rubric, not {mode!r}.")
    missing = [name for name in TEMPLATE_FIELDS if not template.get(name) and name != "system"]
    if missing or "system" not in template:
        raise StoreError(f"The judging's template lacks {(missing or ['system'])[0]!r}: give name, kind, system, user "
                         "and hash.")
    if template["kind"] != mode:
        raise StoreError(f"A {mode} judging needs a {mode} template, not {template['name']!r} ({template['kind']}).")
    if mode == "rubric" and not (rubric or "").strip():
        raise StoreError("A rubric judging needs a rubric: give the score descriptions 1 to 5.")
    if int(total) < 1:
        raise StoreError("A judging needs at least one unit of work: pick a review or evaluation with outputs.")
    if not well_formed(owner_key):
        raise StoreError("A judging needs an owner key (store.tokens.new_token()) to be cancelled with.")
    _refuse_secrets(settings)
    judging_id, now = new_id(), utc_now()
    with db.transaction() as tx:
        _target(tx, target_kind, target_id)
        tx.add(Judging(id=judging_id, owner_key_hash=token_hash(owner_key), created_at=now, updated_at=now,
                       status=RUNNING, error=None, target_kind=target_kind, target_id=target_id, mode=mode,
                       judge_model=judge_model, judge_url=_without_secrets(judge_url),
                       template={name: template[name] for name in TEMPLATE_FIELDS}, rubric=rubric,
                       settings=dict(settings), total=int(total)))
    return judging_id


def load_judging(db: Database, judging_id: str) -> StoredJudging:
    """The judging ``judging_id``, or a one-line StoreError for a malformed or unknown id."""
    with db.read() as tx:
        return _stored(_row(tx, judging_id))


def done_units(db: Database, judging_id: str) -> set[str]:
    """The units whose results are stored: what a resumed job skips."""
    with db.read() as tx:
        _row(tx, judging_id)
        return set(tx.execute(select(JudgingResult.unit).where(JudgingResult.judging_id == judging_id)).scalars())


def write_results(db: Database, judging_id: str, rows: Sequence[Mapping], replies: Iterable[Mapping] = ()) -> int:
    """One batch of results, with the judge replies they used, in one transaction: after a crash the batch is
    there whole or not at all, and a bad row stores none of it. Pairwise rows: prompt_index, left, right,
    left_first, right_first, choice, consistent, left_first_key, right_first_key. Rubric rows: prompt_index,
    variant, grade, feedback, key. A unit already stored keeps its row. Returns how many units were new."""
    with db.transaction() as tx:
        mode = _row(tx, judging_id).mode
        _insert_replies(tx, db.dialect, replies)
        values: dict[str, dict] = {}
        for number, row in enumerate(rows, 1):
            value = _pair_values(row, number) if mode == "pairwise" else _grade_values(row, number)
            values.setdefault(value["unit"], {"judging_id": judging_id, **value})
        if not values:
            return 0
        known = _existing(tx, JudgingResult.unit, list(values), JudgingResult.judging_id == judging_id)
        new = [value for unit, value in values.items() if unit not in known]
        if new:
            tx.execute(_insert_ignoring_conflicts(JudgingResult, db.dialect), new)
        tx.execute(update(Judging).where(Judging.id == judging_id).values(updated_at=utc_now()))
        return len(new)


def set_status(db: Database, judging_id: str, status: str, error: str | None = None) -> None:
    if status not in STATUSES:
        raise ValueError(f"unknown judging status {status!r}")
    with db.transaction() as tx:
        _row(tx, judging_id)
        tx.execute(update(Judging).where(Judging.id == judging_id).values(status=status, error=error, updated_at=utc_now()))


def unfinished_ids(db: Database, created_before: datetime | None = None) -> list[str]:
    """The judgings that were running when the process ended, oldest first: the app resumes them on start.
    ``created_before`` (the app's start): a judging a visitor started in this process since, while the model
    was still loading, is running already and is not the last process's."""
    with db.read() as tx:
        rows = tx.execute(select(Judging.id, Judging.created_at).where(Judging.status == RUNNING)
                          .order_by(Judging.created_at)).all()
    if created_before is None:
        return [row.id for row in rows]
    return [row.id for row in rows if _aware(row.created_at) < created_before]


def _aware(moment: datetime) -> datetime:
    return moment if moment.tzinfo is not None else moment.replace(tzinfo=timezone.utc)  # SQLite: naive, in UTC  # noqa: UP017


def list_judgings(db: Database, target_kind: str | None = None, target_id: str | None = None,
                  limit: int = LIST_LIMIT) -> list[StoredJudging]:
    """Newest first, of one kind of target or of one target when given."""
    query = select(Judging)
    if target_kind is not None:
        query = query.where(Judging.target_kind == target_kind)
    if target_id is not None:
        query = query.where(Judging.target_id == target_id)
    with db.read() as tx:
        return [_stored(row) for row in tx.execute(query.order_by(Judging.created_at.desc()).limit(limit)).scalars()]


def is_owner(db: Database, judging_id: str, owner_key: str | None) -> bool:
    """Whether ``owner_key`` is the key the judging was created with."""
    with db.read() as tx:
        return same_secret(owner_key, _row(tx, judging_id).owner_key_hash)


def iter_results(db: Database, judging_id: str) -> Iterator[PairResult | GradeResult]:
    """Every stored result in prompt order: ``PairResult`` for a pairwise judging, ``GradeResult`` for a rubric one."""
    mode = load_judging(db, judging_id).mode
    query = (select(JudgingResult).where(JudgingResult.judging_id == judging_id)
             .order_by(JudgingResult.prompt_index, JudgingResult.unit).execution_options(yield_per=READ_CHUNK))
    with db.read() as tx:
        for row in tx.execute(query).scalars():
            if mode == "pairwise":
                yield PairResult(row.unit, row.prompt_index, row.left, row.right, row.left_first, row.right_first,
                                 row.choice, bool(row.consistent), row.left_first_key, row.right_first_key)
            else:
                yield GradeResult(row.unit, row.prompt_index, row.left, row.grade, row.feedback or "", row.key)


def judge_judgements(db: Database, judging_id: str) -> list[Judgement]:
    """A pairwise judging's verdicts as one more reviewer's (``judge: <model>``) for the review statistics;
    unparseable pairs are left out, they are no verdict. The pairs keep the order they were stored in, which
    for a review's judging is its pairs' canonical order."""
    judging = load_judging(db, judging_id)
    if judging.mode != "pairwise":
        raise StoreError(f"Judging {judging_id!r} graded outputs on a rubric; only a pairwise judging gives "
                         "verdicts on pairs: start one with the pairwise template.")
    return [Judgement(result.prompt_index, result.left, result.right, judging.reviewer, result.choice)
            for result in iter_results(db, judging_id) if result.choice != UNPARSEABLE]


# --- checks and rows ---------------------------------------------------------------------------------------

def _pair_values(row: Mapping, number: int) -> dict:
    prompt_index, left, right = _index(row, number), _name(row, "left", number), _name(row, "right", number)
    if left == right:
        raise StoreError(f"Judging result {number} of the batch pairs {left!r} with itself: a pair is two variants.")
    for name, allowed in (("left_first", RAW_VERDICTS), ("right_first", RAW_VERDICTS), ("choice", PAIR_CHOICES)):
        if row.get(name) not in allowed:
            raise StoreError(f"Judging result {number} of the batch has {name} {row.get(name)!r}: use "
                             f"{', '.join(allowed)}.")
    if not isinstance(row.get("consistent"), bool):
        raise StoreError(f"Judging result {number} of the batch has consistent {row.get('consistent')!r}: use True or False.")
    return {"unit": pair_unit(prompt_index, left, right), "prompt_index": prompt_index, "left": left, "right": right,
            "left_first": row["left_first"], "right_first": row["right_first"], "choice": row["choice"],
            "consistent": row["consistent"], "left_first_key": row.get("left_first_key"),
            "right_first_key": row.get("right_first_key"), "grade": None, "feedback": None, "key": None}


def _grade_values(row: Mapping, number: int) -> dict:
    prompt_index, variant, grade = _index(row, number), _name(row, "variant", number), row.get("grade")
    if grade is not None and (isinstance(grade, bool) or not isinstance(grade, int) or grade not in GRADES):
        raise StoreError(f"Judging result {number} of the batch has grade {grade!r}: use 1 to 5, or None when unread.")
    return {"unit": grade_unit(prompt_index, variant), "prompt_index": prompt_index, "left": variant, "right": None,
            "left_first": None, "right_first": None, "choice": None, "consistent": None, "left_first_key": None,
            "right_first_key": None, "grade": grade, "feedback": str(row.get("feedback") or ""), "key": row.get("key")}


def _index(row: Mapping, number: int) -> int:
    value = row.get("prompt_index")
    if isinstance(value, bool) or not isinstance(value, int) or value < 0:
        raise StoreError(f"Judging result {number} of the batch has prompt_index {value!r}: use the prompt's position, 0 or more.")
    return value


def _name(row: Mapping, field: str, number: int) -> str:
    value = row.get(field)
    if not isinstance(value, str) or not value:
        raise StoreError(f"Judging result {number} of the batch lacks {field!r}: give the variant's name.")
    return value


def _refuse_secrets(settings: Mapping, path: str = "") -> None:
    for name, value in settings.items():
        if _SECRET_SETTING.fullmatch(str(name)):
            raise StoreError(f"The judging's settings hold {path + str(name)!r}: API keys are never stored, leave it out.")
        if isinstance(value, Mapping):
            _refuse_secrets(value, f"{path}{name}.")


def _without_secrets(url: str | None) -> str | None:
    """``https://user:key@host/v1?api_key=…`` -> ``https://host/v1``: what is shown of a judge, never its key."""
    if not url:
        return None
    parts = urlsplit(url)
    return urlunsplit((parts.scheme, parts.netloc.rpartition("@")[2], parts.path, "", ""))


def _target(tx, target_kind: str, target_id: str) -> None:
    table, name = (Review, "review") if target_kind == "review" else (Evaluation, "evaluation")
    if not well_formed(target_id) or tx.get(table, target_id) is None:
        raise StoreError(f"No {name} has the id {str(target_id or '')[:40]!r}: judge a stored {name}, "
                         "by the id its page or the CLI showed.")


def _existing(tx, column, values: Sequence[str], *where) -> set[str]:
    """Which of ``values`` ``column`` already holds, asked ``KEY_CHUNK`` at a time."""
    found: set[str] = set()
    for start in range(0, len(values), KEY_CHUNK):
        found |= set(tx.execute(select(column).where(*where, column.in_(values[start:start + KEY_CHUNK]))).scalars())
    return found


def _stored(row: Judging) -> StoredJudging:
    return StoredJudging(id=row.id, created=iso_time(row.created_at), updated=iso_time(row.updated_at), status=row.status,
                         error=row.error, target_kind=row.target_kind, target_id=row.target_id, mode=row.mode,
                         judge_model=row.judge_model, judge_url=row.judge_url, template=dict(row.template),
                         rubric=row.rubric, settings=dict(row.settings), total=row.total)


def _row(tx, judging_id: str) -> Judging:
    if not well_formed(judging_id):
        shown = str(judging_id or "")[:40]
        raise StoreError(f"{shown!r} is not a judging id: copy the whole id the page or the CLI printed.")
    row = tx.get(Judging, judging_id)
    if row is None:
        raise StoreError(f"No judging has the id {judging_id!r}: check the id, or list a review's or evaluation's "
                         "judgings.")
    return row
