"""A judging as the JSON document the CLI writes, and a judge's verdicts as metrics of an evaluation.

    {"id", "status", "error", "target": {"kind", "id"}, "judge": {"model", "url"}, "mode",
     "template": {"name", "hash"}, "rubric", "progress": {"done", "total"},
     "swap"        (pairwise: consistency and position bias, analysis/judge_agreement),
     "agreement"   (a review with human votes: judge-human agreement, with and without ties),
     "strengths"   (a review: plain and style-controlled Bradley-Terry, for the judge and for the people),
     "verdicts"    (an evaluation: judge_preference or judge_grade against the baseline, paired statistics),
     "grades"      (rubric: mean grade per variant),
     "results"     (one record per unit: the pair's two raw verdicts and choice, or the grade and its feedback)}

In an evaluation's own document the newest finished-or-running judgings join the verdict table:
``judge_grade`` as one more score of each item's first sample (Wilcoxon against the baseline's grade), and
``judge_preference`` as a sign test on the judge's decisive pair verdicts, in the same Holm family.
"""

from __future__ import annotations

from collections import defaultdict
from dataclasses import asdict

from adapters_ui.analysis.judge_agreement import judge_human_agreement, swap_stats
from adapters_ui.analysis.preference import human_preference_records
from adapters_ui.analysis.verdicts import JUDGE_PREFERENCE, verdict_records
from adapters_ui.names import BASE
from adapters_ui.runs.review_judging import pair_texts, style_parts
from adapters_ui.store.database import Database
from adapters_ui.store.evaluations import iter_outputs, load_items
from adapters_ui.store.judgements import (
    FAILED,
    GradeResult,
    StoredJudging,
    iter_results,
    judge_judgements,
    load_judging,
)
from adapters_ui.store.reviews import review_info, review_judgements

GRADE = "judge_grade"


def newest_judging(judgings: list[StoredJudging], mode: str, baseline: str | None = None) -> StoredJudging | None:
    """The newest of an evaluation's ``judgings`` (``list_judgings``: newest first) in ``mode`` that did not fail
    (a cancelled one keeps what it judged), against ``baseline`` for pairwise. The caller reads the list once
    per document, however many parts ask."""
    for judging in judgings:
        if judging.mode != mode or judging.status == FAILED:
            continue
        if baseline is None or judging.settings.get("baseline", BASE) == baseline:
            return judging
    return None


def judge_grades(db: Database, judging_id: str, item_ids: list[str]) -> dict[tuple[str, str], int]:
    """(item id, variant) -> the judge's grade, for every readable grade of a rubric judging."""
    return {(item_ids[r.prompt_index], r.variant): r.grade for r in iter_results(db, judging_id)
            if isinstance(r, GradeResult) and r.grade is not None}


def judge_votes(db: Database, judging_id: str, item_ids: list[str], baseline: str) -> list[dict]:
    """A pairwise judging's decisive verdicts on (baseline, variant) pairs as ``analysis/preference`` vote rows."""
    votes = []
    for r in iter_results(db, judging_id):
        if r.choice not in ("left", "right") or baseline not in (r.left, r.right):
            continue
        variant = r.right if r.left == baseline else r.left
        winner = r.left if r.choice == "left" else r.right
        votes.append({"id": item_ids[r.prompt_index], "variant": variant, "baseline": baseline,
                      "variant_votes": int(winner == variant), "baseline_votes": int(winner == baseline)})
    return votes


def add_judge_grades(db: Database, judgings: list[StoredJudging], records: list[dict], item_ids: list[str]) -> None:
    """Put the newest rubric judging's grades (of the evaluation's ``judgings``) into the first sample's scores of
    ``records`` (in place)."""
    judging = newest_judging(judgings, "rubric")
    if judging is None:
        return
    grades = judge_grades(db, judging.id, item_ids)
    for record in records:
        if record["sample"] == 0 and (record["id"], record["variant"]) in grades:
            record["scores"] = {**record["scores"], GRADE: float(grades[(record["id"], record["variant"])])}


def judge_preference_records(db: Database, judgings: list[StoredJudging], item_ids: list[str], baseline: str,
                             candidates: list[str]) -> list[dict]:
    """``judge_preference`` verdict records of the newest pairwise judging (of the evaluation's ``judgings``)
    against ``baseline`` (none: [])."""
    judging = newest_judging(judgings, "pairwise", baseline)
    if judging is None:
        return []
    votes = [v for v in judge_votes(db, judging.id, item_ids, baseline) if v["variant"] in candidates]
    return human_preference_records(votes, baseline=baseline, metric=JUDGE_PREFERENCE) if votes else []


# ---- the judging's own document -----------------------------------------------------------------------

def _review_parts(db: Database, judging: StoredJudging) -> dict:
    info = review_info(db, judging.target_id)
    if info is None:
        return {}  # the review was deleted since: the judge's own results stand alone
    people, judge = review_judgements(db, judging.target_id), judge_judgements(db, judging.id)
    _outputs, features = pair_texts(db, info.comparison_id)
    baseline = judging.settings.get("baseline", BASE)  # as the judging was started (`judge --baseline`)
    strengths, rates = style_parts({"judge": judge, "people": people}, info.variants, features, baseline)
    parts = {"strengths": strengths}
    if people:
        parts["agreement"] = judge_human_agreement(judge, people).to_document()
    if "judge" in rates:
        parts["length_controlled"] = rates["judge"]
    return parts


def _evaluation_parts(db: Database, judging: StoredJudging) -> dict:
    items = load_items(db, judging.target_id)
    item_ids = [item["id"] for item in items]
    baseline = judging.settings.get("baseline", BASE)
    if judging.mode == "pairwise":
        votes = judge_votes(db, judging.id, item_ids, baseline)
        return {"verdicts": human_preference_records(votes, baseline=baseline, metric=JUDGE_PREFERENCE) if votes else []}
    grades = judge_grades(db, judging.id, item_ids)
    records = [{"id": item_ids[r["position"]], "category": items[r["position"]].get("category"),
                "tags": items[r["position"]].get("tags") or [], "variant": r["variant"], "sample": 0,
                "scores": {GRADE: grades.get((item_ids[r["position"]], r["variant"]))}}
               for r in iter_outputs(db, judging.target_id) if r["sample"] == 0]
    has_baseline = any(r["variant"] == baseline and r["scores"][GRADE] is not None for r in records)
    return {"verdicts": verdict_records(records, baseline=baseline, metrics=[GRADE]) if has_baseline else []}


def _grades(results: list) -> list[dict]:
    """Per variant: outputs graded, grades read (the rest were unparseable) and their mean."""
    by_variant: dict[str, list[int | None]] = defaultdict(list)
    for r in results:
        by_variant[r.variant].append(r.grade)
    summary = []
    for variant, grades in by_variant.items():
        read = [g for g in grades if g is not None]
        summary.append({"variant": variant, "n": len(grades), "read": len(read),
                        "mean": sum(read) / len(read) if read else None})
    return summary


def judging_document(db: Database, judging_id: str, progress: dict | None = None) -> dict:
    """The whole document of judging ``judging_id`` (see the module docstring), from what is stored."""
    judging = load_judging(db, judging_id)
    results = list(iter_results(db, judging_id))
    document = {
        "id": judging.id, "status": judging.status, "error": judging.error,
        "target": {"kind": judging.target_kind, "id": judging.target_id},
        "judge": {"model": judging.judge_model, "url": judging.judge_url}, "mode": judging.mode,
        "template": {"name": judging.template["name"], "hash": judging.template["hash"]}, "rubric": judging.rubric,
        "progress": progress or {"done": len(results), "total": judging.total},
    }
    if judging.mode == "pairwise":
        document["swap"] = swap_stats([(r.left_first, r.right_first) for r in results]).to_document()
    else:
        document["grades"] = _grades(results)
    if results:
        document.update(_review_parts(db, judging) if judging.target_kind == "review" and judging.mode == "pairwise"
                        else _evaluation_parts(db, judging) if judging.target_kind == "evaluation" else {})
    document["results"] = [asdict(r) for r in results]
    return document
