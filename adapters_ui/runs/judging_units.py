"""What a judge is asked to judge: a review's pairs, or an evaluation's outputs against its baseline.

A *unit* is one pair of outputs on one prompt (pairwise: judged in both orders) or one output (rubric).
Units are made from what is stored, in a fixed order, so a resumed job asks exactly what is missing.
An evaluation is judged on its first sample of each item; its pairs are (baseline, variant).
"""

from __future__ import annotations

from dataclasses import dataclass

from adapters_ui.errors import ReviewError, StoreError
from adapters_ui.names import BASE
from adapters_ui.store.database import Database
from adapters_ui.store.evaluations import iter_outputs, load_evaluation, load_items
from adapters_ui.store.judgements import grade_unit, pair_unit
from adapters_ui.store.reviews import review_info, review_pairs
from adapters_ui.store.saved import load_comparison


@dataclass(frozen=True)
class Unit:
    """One thing to judge. Pairwise: ``left`` and ``right`` variants with their texts; rubric: ``left`` only."""

    prompt_index: int
    question: str
    left: str
    left_text: str
    right: str | None = None
    right_text: str | None = None
    reference: str | None = None

    @property
    def name(self) -> str:
        return grade_unit(self.prompt_index, self.left) if self.right is None else pair_unit(self.prompt_index, self.left, self.right)


def question_text(item: dict) -> str:
    """An evaluation item as the judge reads the question: the prompt, or the conversation as a transcript."""
    if item.get("messages"):
        return "\n\n".join(f"{m['role'].capitalize()}: {m['content']}" for m in item["messages"])
    return str(item.get("prompt") or "")


def review_units(db: Database, review_id: str, mode: str) -> list[Unit]:
    """The review's (prompt, pair) items with the saved comparison's outputs; rubric: each output once."""
    items = review_pairs(db, review_id)  # a one-line error for an unknown id
    info = review_info(db, review_id)
    if info is None:
        raise ReviewError(f"Review {review_id} was deleted while its pairs were read: judge another review.")
    results = load_comparison(db, info.comparison_id).data.results
    if mode == "rubric":
        seen = dict.fromkeys((i, v) for i, left, right in items for v in (left, right))
        return [Unit(i, results[i]["prompt"], v, results[i]["outputs"][v]) for i, v in seen]
    return [Unit(i, results[i]["prompt"], left, results[i]["outputs"][left], right, results[i]["outputs"][right])
            for i, left, right in items]


def evaluation_units(db: Database, evaluation_id: str, mode: str, baseline: str = BASE) -> list[Unit]:
    """Every item's first-sample outputs: (baseline, variant) pairs, or each variant's output graded."""
    stored = load_evaluation(db, evaluation_id)
    if baseline not in stored.variants:
        raise StoreError(f"Baseline {baseline!r} is not a variant of evaluation {evaluation_id}: choose from "
                         f"{', '.join(stored.variants)}.")
    items = load_items(db, evaluation_id)
    outputs = {(r["position"], r["variant"]): r["output"] for r in iter_outputs(db, evaluation_id) if r["sample"] == 0}
    units = []
    for position, item in enumerate(items):
        question, reference = question_text(item), item.get("reference")
        for variant in stored.variants:
            text = outputs.get((position, variant))
            if text is None:
                continue
            if mode == "rubric":
                units.append(Unit(position, question, variant, text, reference=reference))
            elif variant != baseline and (position, baseline) in outputs:
                units.append(Unit(position, question, baseline, outputs[(position, baseline)], variant, text, reference))
    return units


def evaluation_has_reference(db: Database, evaluation_id: str) -> bool:
    """Whether any item of the evaluation has a reference answer: then its judge reads the with-reference
    template (as ``start_judging`` picks it for a finished evaluation), and the pages show that one."""
    return any(item.get("reference") for item in load_items(db, evaluation_id))
