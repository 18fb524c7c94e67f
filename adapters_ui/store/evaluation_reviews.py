"""Blind reviews made from an evaluation: a stratified sample of its items, judged by people, whose votes then
join the evaluation's verdict table as one more metric (``human_preference``, a sign test).

The sample takes up to ``per_category`` items from every category (items without one form their own
stratum), chosen by a hash of the evaluation and item ids: the same evaluation always offers the same
items, and no category crowds out the others. The sampled items' first-sample outputs are saved as a
comparison (the review pages show comparisons) and the review is created on it, each adapter against the
baseline variant; the review remembers the evaluation it came from (``reviews.evaluation_id``).

    >>> links = create_evaluation_review(db, evaluation_id, ["base", "pirate"], per_category=10)  # doctest: +SKIP
    >>> evaluation_votes(db, evaluation_id)   # after some votes                                     # doctest: +SKIP
    [{"id": "pirate-003", "variant": "pirate", "baseline": "base", "variant_votes": 1, "baseline_votes": 0}, ...]
"""

from __future__ import annotations

import hashlib
from collections.abc import Sequence

from sqlalchemy import select, update

from adapters_ui.errors import ReviewError
from adapters_ui.names import BASE
from adapters_ui.store.database import Database, utc_now
from adapters_ui.store.evaluations import FINISHED, is_owner, iter_outputs, load_evaluation, load_items
from adapters_ui.store.reviews import ReviewLinks, create_review, review_results
from adapters_ui.store.saved import load_comparison, save_comparison
from adapters_ui.store.schema import Review
from adapters_ui.views.document import ReportData

MAX_PER_CATEGORY = 200
NO_CATEGORY = "(none)"


def stratified_sample(evaluation_id: str, items: Sequence[dict], per_category: int) -> list[int]:
    """Positions of up to ``per_category`` items of each category, in set order; the same ids give the same sample."""
    strata: dict[str, list[int]] = {}
    for position, item in enumerate(items):
        strata.setdefault(item.get("category") or NO_CATEGORY, []).append(position)

    def draw(position: int) -> str:
        return hashlib.sha256(f"{evaluation_id}/{items[position]['id']}".encode()).hexdigest()

    chosen = [p for members in strata.values() for p in sorted(members, key=draw)[:per_category]]
    return sorted(chosen)


def create_evaluation_review(db: Database, evaluation_id: str, variants: Sequence[str], per_category: int = 10,
                             title: str = "", owner_key: str | None = None, require_owner: bool = False,
                             baseline: str = BASE) -> ReviewLinks:
    """A blind review of ``variants`` (the baseline and at least one adapter) on a stratified sample of a
    finished evaluation's items, each adapter against ``baseline``."""
    stored = load_evaluation(db, evaluation_id)
    if require_owner and not is_owner(db, evaluation_id, owner_key):
        raise ReviewError("Only the owner of this evaluation can create reviews of it: open it from the page that "
                          "started it, or pass its owner key.")
    if stored.status != FINISHED:
        raise ReviewError(f"This evaluation is {stored.status}: reviews are made of finished evaluations only.")
    chosen = list(dict.fromkeys(variants))
    unknown = [v for v in chosen if v not in stored.variants]
    if unknown:
        raise ReviewError(f"{unknown[0]} took no part in this evaluation: pick from {', '.join(stored.variants)}.")
    if baseline not in chosen or len(chosen) < 2:
        raise ReviewError(f"A review of an evaluation needs {baseline} and at least one adapter: pick them.")
    if isinstance(per_category, bool) or not isinstance(per_category, int) or not 1 <= per_category <= MAX_PER_CATEGORY:
        raise ReviewError(f"Items per category must be a whole number from 1 to {MAX_PER_CATEGORY}, got {per_category!r}.")
    items = load_items(db, evaluation_id)
    sample = stratified_sample(evaluation_id, items, per_category)
    outputs = _first_sample_outputs(db, evaluation_id, set(sample), set(chosen))
    results = [{"prompt": _prompt_text(items[p]), "outputs": {v: outputs.get((p, v)) for v in chosen},
                "reference": items[p].get("reference"), "category": items[p].get("category"), "item_id": items[p]["id"]}
               for p in sample]
    data = ReportData(base_model=stored.base_model, device="", dtype="", created=utc_now().isoformat(timespec="seconds"),
                      settings=stored.settings, routes={}, variants=chosen, results=results, adapters=[], storage={},
                      timing={}, status=FINISHED)
    saved = save_comparison(db, data, [])
    pairing = "vs_base" if baseline == BASE else "all"
    title = title or f"Blind review of evaluation {stored.set_name} ({len(sample)} items)"
    links = create_review(db, saved.id, chosen, pairing=pairing, title=title)
    with db.transaction() as tx:
        tx.execute(update(Review).where(Review.id == links.review_id).values(evaluation_id=evaluation_id))
    return links


def evaluation_votes(db: Database, evaluation_id: str, baseline: str = BASE) -> list[dict]:
    """Every decisive judgement of the reviews made from ``evaluation_id`` on an adapter against ``baseline``, as
    ``analysis/preference`` vote rows (one per judgement: ``variant_votes`` or ``baseline_votes`` is 1)."""
    with db.read() as tx:
        review_ids = list(tx.execute(select(Review.id).where(Review.evaluation_id == evaluation_id)).scalars())
    votes = []
    for review_id in review_ids:
        snapshot = review_results(db, review_id=review_id)
        item_ids = [r.get("item_id") for r in load_comparison(db, snapshot.info.comparison_id).data.results]
        for judgement in snapshot.judgements:
            pair = {judgement.left, judgement.right}
            if baseline not in pair or judgement.choice not in ("left", "right"):
                continue
            variant = (pair - {baseline}).pop()
            winner = judgement.left if judgement.choice == "left" else judgement.right
            votes.append({"id": item_ids[judgement.prompt_index], "variant": variant, "baseline": baseline,
                          "variant_votes": int(winner == variant), "baseline_votes": int(winner == baseline)})
    return votes


def _first_sample_outputs(db: Database, evaluation_id: str, positions: set[int], variants: set[str]) -> dict:
    return {(row["position"], row["variant"]): row["output"] for row in iter_outputs(db, evaluation_id)
            if row["sample"] == 0 and row["position"] in positions and row["variant"] in variants}


def _prompt_text(item: dict) -> str:
    """What a reviewer reads as the prompt: the prompt, or the conversation's turns one per line."""
    if item.get("messages"):
        return "\n".join(f"{turn['role']}: {turn['content']}" for turn in item["messages"])
    return item["prompt"]
