"""Blind A/B reviews of a saved comparison: pairs to judge, reviewers, votes, results.

The owner picks variants, pairs (every pair, or each adapter against the base) and how many
judgements each pair needs, and gets two secret links. Reviewers see a prompt and two
outputs labelled A and B, in an order drawn per reviewer; nothing a reviewer receives
names a variant. A vote carries an id from the client, so a retried request counts once,
and it is reported as recorded only after its transaction committed:

    >>> links = create_review(db, saved.id, ["base", "pirate"], per_pair=3)  # doctest: +SKIP
    >>> task = next_task(db, links.reviewer_token, "Ada")                     # doctest: +SKIP
    >>> cast_vote(db, links.reviewer_token, "Ada", task.task_id, "a", vote_id=str(uuid4()))  # doctest: +SKIP
"""

from __future__ import annotations

import hashlib
import itertools
import secrets
import unicodedata
from dataclasses import dataclass, field
from typing import Sequence

from sqlalchemy import delete, func, select
from sqlalchemy.exc import IntegrityError

from adapters_ui.analysis.review_stats import Judgement, RawVote, ReviewResults, summarise
from adapters_ui.errors import ReviewError
from adapters_ui.formatting import plural
from adapters_ui.names import BASE
from adapters_ui.store.database import Database, iso_time, utc_now
from adapters_ui.store.saved import is_owner, load_comparison
from adapters_ui.store.schema import Review, Reviewer, ReviewItem, Vote
from adapters_ui.store.tokens import new_id, new_token, token_hash, well_formed

PAIRINGS = {"all": "every pair", "vs_base": "each adapter against the base"}
VOTE_CHOICES = ("a", "b", "tie", "both_bad", "skip")  # what a reviewer answers; a/b are sides on screen
MAX_COMMENT = 1000
MAX_NAME = 80
MAX_PER_PAIR = 50
MAX_TITLE = 200


# ---- results of calls ---------------------------------------------------------------
@dataclass(frozen=True)
class ReviewLinks:
    """Shown once to the owner; the database keeps only hashes of the two tokens."""

    review_id: str
    reviewer_token: str
    owner_token: str
    items: int  # prompts x pairs


@dataclass(frozen=True)
class ReviewHead:
    """A review's own row: what it reviews, without counting its pairs or votes (a judge asks this often)."""

    id: str
    comparison_id: str
    title: str
    variants: list[str]
    pairing: str
    per_pair: int


@dataclass(frozen=True)
class ReviewInfo(ReviewHead):
    """What the owner sees of a review (reviewers never get this: it names the variants)."""

    items: int
    created: str
    revoked: bool
    votes: int = 0  # every stored answer, skips included: what deleting the review loses


@dataclass(frozen=True)
class Task:
    """One pair to judge, as a reviewer sees it: no variant name, only an opaque ``task_id``."""

    task_id: str
    prompt: str
    a: str
    b: str
    done: int
    total: int


@dataclass(frozen=True)
class VoteReceipt:
    recorded: bool  # committed (a repeat of a committed vote is recorded too, and counted once)
    duplicate: bool  # this vote id, or this reviewer's vote on this pair, was already stored
    done: int
    total: int


@dataclass(frozen=True)
class ReviewSnapshot:
    """Everything the results are computed from."""

    info: ReviewInfo
    prompts: list[str]
    judgements: list[Judgement]
    votes: list[RawVote] = field(default_factory=list)  # every answer as given, skips too, oldest first


# ---- the owner's calls ----------------------------------------------------------------
def create_review(db: Database, comparison_id: str, variants: Sequence[str], pairing: str = "all",
                  per_pair: int = 1, title: str = "", owner_key: str | None = None,
                  require_owner: bool = False) -> ReviewLinks:
    """A new review of ``variants`` of a saved comparison. ``require_owner`` (public mode) demands the
    comparison's owner key. Prompts where a variant has no output are left out."""
    saved = load_comparison(db, comparison_id)
    if require_owner and not is_owner(db, comparison_id, owner_key):
        raise ReviewError("Only the owner of this saved comparison can create reviews: open it from the page "
                          "that saved it, or pass its owner key.")
    chosen = _check_settings(saved.data.variants, variants, pairing, per_pair)
    pairs = _pairs(chosen, pairing)
    items = [(i, left, right) for i, record in enumerate(saved.data.results) for left, right in pairs
             if _has_output(record, left) and _has_output(record, right)]
    if not items:
        raise ReviewError("No prompt has finished outputs from both sides of any chosen pair: pick other variants.")
    links = ReviewLinks(review_id=new_token(12), reviewer_token=new_token(), owner_token=new_token(), items=len(items))
    title = " ".join(str(title or "").split())[:MAX_TITLE] or f"Blind review of {plural(len(saved.data.results), 'prompt')}"
    with db.transaction() as tx:
        tx.add(Review(id=links.review_id, comparison_id=comparison_id, title=title, variants=chosen, pairing=pairing,
                      per_pair=per_pair, seed=secrets.randbelow(2**31), created_at=utc_now(),
                      reviewer_token_hash=token_hash(links.reviewer_token),
                      owner_token_hash=token_hash(links.owner_token)))
        tx.flush()
        tx.add_all(ReviewItem(review_id=links.review_id, public_id=new_id(), prompt_index=i, left=left, right=right)
                   for i, left, right in items)
    return links


def review_results(db: Database, owner_token: str | None = None, review_id: str | None = None) -> ReviewSnapshot:
    """The review's votes (judgements: skips left out), by owner link, or by id for the CLI on the server."""
    with db.read() as tx:
        review = _by_owner(tx, owner_token) if review_id is None else _by_id(tx, review_id)
        rows = _vote_rows(tx, review.id)
        info = _info(tx, review)
    prompts = [r["prompt"] for r in load_comparison(db, info.comparison_id).data.results]
    votes = [RawVote(time=iso_time(r.created_at), reviewer=r.name, prompt_index=r.prompt_index, left=r.left,
                     right=r.right, shown_first=r.shown_first, choice=r.choice, comment=r.comment) for r in rows]
    return ReviewSnapshot(info=info, prompts=prompts, judgements=_judgements(rows), votes=votes)


def review_info(db: Database, review_id: str) -> ReviewHead | None:
    """Review ``review_id``'s own row (one read: no counts, no comparison), or None when there is no such review.

    >>> review_info(db, links.review_id).comparison_id, review_info(db, "nope")   # doctest: +SKIP
    ('3f9c0d2a1b7e', None)
    """
    if not isinstance(review_id, str) or not review_id:
        return None
    with db.read() as tx:
        row = tx.execute(select(Review.id, Review.comparison_id, Review.title, Review.variants, Review.pairing,
                                Review.per_pair).where(Review.id == review_id)).first()
    return None if row is None else ReviewHead(row.id, row.comparison_id, row.title, list(row.variants), row.pairing,
                                               row.per_pair)


def review_judgements(db: Database, review_id: str) -> list[Judgement]:
    """The people's judgements of review ``review_id`` (skips left out), oldest first, without loading its
    comparison (``review_results`` for the whole snapshot)."""
    with db.read() as tx:
        return _judgements(_vote_rows(tx, _by_id(tx, review_id).id))


def review_pairs(db: Database, review_id: str) -> list[tuple[int, str, str]]:
    """The review's items as (prompt index, left, right), in the order they were made (for a judge, by id)."""
    with db.read() as tx:
        review = _by_id(tx, review_id)
        return [tuple(row) for row in tx.execute(select(ReviewItem.prompt_index, ReviewItem.left, ReviewItem.right)
                                                 .where(ReviewItem.review_id == review.id).order_by(ReviewItem.id))]


def owner_info(db: Database, owner_token: str) -> ReviewInfo:
    """What the owner link's review is, with how many votes it holds (checks the link first)."""
    with db.read() as tx:
        return _info(tx, _by_owner(tx, owner_token))


def revoke_review(db: Database, owner_token: str) -> ReviewInfo:
    """Close voting: the reviewer link stops working; results stay readable by the owner."""
    with db.transaction() as tx:
        review = _by_owner(tx, owner_token)
        review.revoked_at = review.revoked_at or utc_now()
        return _info(tx, review)


def delete_review(db: Database, owner_token: str, expected_votes: int | None = None) -> None:
    """Remove the review, its pairs, reviewers and votes; both links stop working. ``expected_votes``: the count
    the owner was told would be lost; if votes arrived since, nothing is deleted and the error says how many."""
    with db.transaction() as tx:
        review = _by_owner(tx, owner_token)
        if expected_votes is not None:
            stored = _vote_count(tx, review)
            if stored != expected_votes:
                raise ReviewError(f"This review holds {plural(stored, 'vote')} now, not the {expected_votes} you were told of: "
                                  "press Delete review again to see what would be lost.")
        for table in (Vote, Reviewer, ReviewItem):
            tx.execute(delete(table).where(table.review_id == review.id))
        tx.delete(review)


def reviews_of(db: Database, comparison_id: str) -> list[ReviewInfo]:
    """The reviews of one saved comparison (for its owner's page and the CLI)."""
    with db.read() as tx:
        reviews = tx.scalars(select(Review).where(Review.comparison_id == comparison_id).order_by(Review.created_at))
        return [_info(tx, r) for r in reviews]


# ---- the reviewer's calls ------------------------------------------------------------
def review_title(db: Database, reviewer_token: str) -> str:
    """The title the reviewer page shows (checks the link first)."""
    with db.read() as tx:
        return _by_reviewer(tx, reviewer_token).title


def join_review(db: Database, reviewer_token: str, name: str) -> tuple[str, int, int]:
    """Register ``name`` (or find them again: names are case-insensitive) -> (name, done, total)."""
    try:
        return _join(db, reviewer_token, name)
    except IntegrityError:  # the same name joined at the same moment from elsewhere: it exists now
        return _join(db, reviewer_token, name)


def next_task(db: Database, reviewer_token: str, name: str) -> Task | None:
    """The reviewer's next pair (in their own random order), or None when nothing is left for them."""
    with db.read() as tx:
        review = _by_reviewer(tx, reviewer_token)
        reviewer = _reviewer(tx, review, name)
        open_items, done = _open_items(tx, review, reviewer)
        if not open_items:
            return None
        item = min(open_items, key=lambda it: _draw(review.seed, reviewer.id, it.id, "order"))
    record = load_comparison(db, review.comparison_id).data.results[item.prompt_index]
    first, second = _sides(review.seed, reviewer.id, item)
    return Task(task_id=item.public_id, prompt=record["prompt"], a=record["outputs"][first],
                b=record["outputs"][second], done=done, total=done + len(open_items))


def cast_vote(db: Database, reviewer_token: str, name: str, task_id: str, choice: str, comment: str = "",
              vote_id: str | None = None) -> VoteReceipt:
    """Store one judgement (a/b: the side shown as A/B; tie; both_bad; skip). Idempotent by ``vote_id``."""
    choice, comment = _check_vote(choice, comment)
    vote_id = vote_id or new_token(16)
    if not well_formed(vote_id):
        raise ReviewError("The vote id must be 16-64 letters, digits, '-' or '_' (a UUID works): send a new one.")
    try:
        return _cast(db, reviewer_token, name, task_id, choice, comment, vote_id)
    except IntegrityError:  # the same vote arrived twice at once: the other copy committed, count it once
        return _cast(db, reviewer_token, name, task_id, choice, comment, vote_id)


# ---- internals -------------------------------------------------------------------------
def _check_settings(available: Sequence[str], variants: Sequence[str], pairing: str, per_pair) -> list[str]:
    chosen = list(dict.fromkeys(str(v) for v in variants or []))
    unknown = [v for v in chosen if v not in available]
    if unknown:
        raise ReviewError(f"{', '.join(unknown)} took no part in this comparison: pick from {', '.join(available)}.")
    if len(chosen) < 2:
        raise ReviewError("A review needs at least 2 variants: pick two or more.")
    if pairing not in PAIRINGS:
        raise ReviewError(f"Unknown pairing {pairing!r}: use 'all' (every pair) or 'vs_base' (each adapter against the base).")
    if pairing == "vs_base" and BASE not in chosen:
        raise ReviewError("'Each adapter against the base' needs the base among the variants: add base, or pick every pair.")
    if isinstance(per_pair, bool) or not isinstance(per_pair, int) or not 1 <= per_pair <= MAX_PER_PAIR:
        raise ReviewError(f"Judgements per pair must be a whole number from 1 to {MAX_PER_PAIR}, got {per_pair!r}.")
    return chosen


def _pairs(variants: list[str], pairing: str) -> list[tuple[str, str]]:
    if pairing == "vs_base":
        return [(BASE, v) for v in variants if v != BASE]
    return list(itertools.combinations(variants, 2))


def _has_output(record: dict, variant: str) -> bool:
    return record["outputs"].get(variant) is not None and variant not in record.get("cut_off", [])


def _check_vote(choice: str, comment: str | None) -> tuple[str, str]:
    if choice not in VOTE_CHOICES:
        raise ReviewError(f"Unknown answer {choice!r}: use one of {', '.join(VOTE_CHOICES)}.")
    comment = (comment or "").strip()
    if len(comment) > MAX_COMMENT:
        raise ReviewError(f"A comment is at most {MAX_COMMENT} characters (this one has {len(comment)}): shorten it.")
    return choice, comment


def _clean_name(name: str | None) -> str:
    cleaned = "".join(ch for ch in " ".join(str(name or "").split()) if unicodedata.category(ch)[0] != "C")
    if not cleaned:
        raise ReviewError("Give your name first: it lets you come back and resume where you stopped.")
    if len(cleaned) > MAX_NAME:
        raise ReviewError(f"A name is at most {MAX_NAME} characters: shorten it.")
    return cleaned


def _join(db: Database, reviewer_token: str, name: str) -> tuple[str, int, int]:
    cleaned = _clean_name(name)
    with db.transaction() as tx:
        review = _by_reviewer(tx, reviewer_token)
        reviewer = tx.scalar(select(Reviewer).where(Reviewer.review_id == review.id,
                                                    Reviewer.name_key == cleaned.casefold()))
        if reviewer is None:
            reviewer = Reviewer(review_id=review.id, name=cleaned, name_key=cleaned.casefold(), created_at=utc_now())
            tx.add(reviewer)
            tx.flush()
        open_items, done = _open_items(tx, review, reviewer)
        return reviewer.name, done, done + len(open_items)


def _cast(db, reviewer_token, name, task_id, choice, comment, vote_id) -> VoteReceipt:
    with db.transaction() as tx:
        review = _by_reviewer(tx, reviewer_token)
        reviewer = _reviewer(tx, review, name)
        item = tx.scalar(select(ReviewItem).where(ReviewItem.public_id == task_id, ReviewItem.review_id == review.id)) \
            if well_formed(task_id) else None
        if item is None:
            raise ReviewError("This pair is not part of your review: reload the page to get your next pair.")
        earlier = tx.get(Vote, vote_id)
        if earlier is not None and (earlier.reviewer_id, earlier.item_id) != (reviewer.id, item.id):
            raise ReviewError("This vote id was already used for another pair: send a new id with each vote.")
        earlier = earlier or tx.scalar(select(Vote).where(Vote.item_id == item.id, Vote.reviewer_id == reviewer.id))
        if earlier is None:
            first, _ = _sides(review.seed, reviewer.id, item)
            shown_first = "left" if first == item.left else "right"
            tx.add(Vote(id=vote_id, review_id=review.id, item_id=item.id, reviewer_id=reviewer.id,
                        choice=_canonical(choice, shown_first), shown_first=shown_first, comment=comment,
                        created_at=utc_now()))
            tx.flush()
        open_items, done = _open_items(tx, review, reviewer)
    return VoteReceipt(recorded=True, duplicate=earlier is not None, done=done, total=done + len(open_items))


def _canonical(choice: str, shown_first: str) -> str:
    """'a'/'b' (sides on screen) -> 'left'/'right' (the pair's stored order)."""
    if choice not in ("a", "b"):
        return choice
    other = "right" if shown_first == "left" else "left"
    return shown_first if choice == "a" else other


def _open_items(tx, review: Review, reviewer: Reviewer) -> tuple[list, int]:
    """(pairs this reviewer may still judge, how many they answered): full pairs are not offered."""
    items = tx.execute(select(ReviewItem.id, ReviewItem.public_id, ReviewItem.prompt_index, ReviewItem.left,
                              ReviewItem.right).where(ReviewItem.review_id == review.id)).all()
    mine = set(tx.scalars(select(Vote.item_id).where(Vote.reviewer_id == reviewer.id)))
    counts = dict(tx.execute(select(Vote.item_id, func.count()).where(Vote.review_id == review.id, Vote.choice != "skip")
                             .group_by(Vote.item_id)).all())
    return [it for it in items if it.id not in mine and counts.get(it.id, 0) < review.per_pair], len(mine)


def _draw(seed: int, reviewer_id: int, item_id: int, what: str) -> bytes:
    """A per-reviewer, per-pair random draw that is the same on every call (so a reload shows the same A/B)."""
    return hashlib.sha256(f"{seed}:{reviewer_id}:{item_id}:{what}".encode()).digest()


def _sides(seed: int, reviewer_id: int, item) -> tuple[str, str]:
    """(variant shown as A, variant shown as B)."""
    flip = _draw(seed, reviewer_id, item.id, "side")[0] & 1
    return (item.right, item.left) if flip else (item.left, item.right)


def _reviewer(tx, review: Review, name: str) -> Reviewer:
    reviewer = tx.scalar(select(Reviewer).where(Reviewer.review_id == review.id,
                                                Reviewer.name_key == _clean_name(name).casefold()))
    if reviewer is None:
        raise ReviewError("Give your name first: this review has no reviewer by that name yet.")
    return reviewer


def _by_reviewer(tx, token: str | None) -> Review:
    review = _by_token(tx, Review.reviewer_token_hash, token, "review")
    if review.revoked_at is not None:
        raise ReviewError("This review was closed by its owner: it takes no more votes.")
    return review


def _by_owner(tx, token: str | None) -> Review:
    return _by_token(tx, Review.owner_token_hash, token, "owner")


def _by_token(tx, column, token: str | None, kind: str) -> Review:
    if not well_formed(token):
        raise ReviewError(f"This {kind} link is malformed: copy the whole link you were sent.")
    review = tx.scalar(select(Review).where(column == token_hash(token)))
    if review is None:
        raise ReviewError(f"This {kind} link is unknown or the review was deleted: ask the review's owner for a new link.")
    return review


def _by_id(tx, review_id: str) -> Review:
    review = tx.get(Review, review_id) if isinstance(review_id, str) and review_id else None
    if review is None:
        raise ReviewError(f"No review has the id {review_id!r}: list a comparison's reviews with `python -m adapters_ui review list RUN_ID`.")
    return review


def _vote_rows(tx, review_id: str) -> list:
    """Every answer of the review with its pair and reviewer, oldest first."""
    return tx.execute(
        select(ReviewItem.prompt_index, ReviewItem.left, ReviewItem.right, Reviewer.name, Vote.choice, Vote.comment,
               Vote.shown_first, Vote.created_at)
        .join(ReviewItem, Vote.item_id == ReviewItem.id).join(Reviewer, Vote.reviewer_id == Reviewer.id)
        .where(Vote.review_id == review_id).order_by(Vote.created_at, Vote.id)
    ).all()


def _judgements(rows: list) -> list[Judgement]:
    """The answers that judge (skips are not judgements)."""
    return [Judgement(prompt_index=r.prompt_index, left=r.left, right=r.right, reviewer=r.name, choice=r.choice,
                      comment=r.comment) for r in rows if r.choice != "skip"]


def _vote_count(tx, review: Review) -> int:
    return tx.scalar(select(func.count()).select_from(Vote).where(Vote.review_id == review.id))


def _info(tx, review: Review) -> ReviewInfo:
    items = tx.scalar(select(func.count()).select_from(ReviewItem).where(ReviewItem.review_id == review.id))
    return ReviewInfo(id=review.id, comparison_id=review.comparison_id, title=review.title,
                      variants=list(review.variants), pairing=review.pairing, per_pair=review.per_pair, items=items,
                      created=iso_time(review.created_at), revoked=review.revoked_at is not None,
                      votes=_vote_count(tx, review))



def summarise_review(snapshot: ReviewSnapshot, bootstrap: int = 1000) -> ReviewResults:
    """The statistics of a review (win rates, Bradley–Terry, agreement, comments) from its snapshot."""
    return summarise(snapshot.info.title, snapshot.prompts, snapshot.info.variants, snapshot.judgements,
                     bootstrap=bootstrap, votes=snapshot.votes)
