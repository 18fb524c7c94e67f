"""One evaluation as the JSON document scripts, the API, the downloads and the views all read.

    {"id", "created_at", "status", "error", "base_model", "set", "variants", "samples", "settings",
     "baseline", "set_items", "items", "verdicts", "progress"}

``verdicts`` include ``human_preference`` (a sign test on the votes) once a blind review made from the
evaluation (``store/evaluation_reviews``) has decisive votes: one more metric in the same Holm family.

``items`` holds one record per item, variant and sample (``id``, ``category``, ``tags``, ``variant``,
``sample``, ``output``, ``checks``, ``scores``); ``verdicts`` one per variant, metric and slice
(``analysis/verdicts``). They are made from what is stored, so a running job's document covers the
items done so far, and the same id gives the same document after a restart.

The baseline is a variant of the same evaluation (``"base"`` by default), or a variant of another
evaluation on the same items: ``"<evaluation id>"`` (its variant of the candidate's name, or its only
adapter) or ``"<evaluation id>/<variant>"``.
"""

from __future__ import annotations

from adapters_ui.analysis.preference import human_preference_records
from adapters_ui.analysis.verdicts import holm_records, verdict_records, verdict_records_against
from adapters_ui.analysis.versions import compare_evaluation_versions
from adapters_ui.bench.records import benchmark_verdicts
from adapters_ui.errors import StatisticsError
from adapters_ui.names import BASE
from adapters_ui.runs.judging_document import add_judge_grades, judge_preference_records
from adapters_ui.store.benchmarks import is_benchmark, variant_numbers
from adapters_ui.store.database import Database
from adapters_ui.store.evaluation_reviews import evaluation_votes
from adapters_ui.store.evaluations import StoredEvaluation, iter_outputs, load_evaluation, load_items
from adapters_ui.store.judgements import StoredJudging, list_judgings


def item_records(db: Database, stored: StoredEvaluation, items: list[dict]) -> list[dict]:
    """Every stored output as an EVAL_SPEC item record, in set order, then variant order, then sample."""
    order = {variant: i for i, variant in enumerate(stored.variants)}
    records = []
    for row in iter_outputs(db, stored.id):
        item = items[row["position"]]
        records.append({"id": item["id"], "category": item.get("category"), "tags": list(item.get("tags") or []),
                        "variant": row["variant"], "sample": row["sample"], "output": row["output"],
                        "checks": row["checks"], "scores": row["scores"], "_order": (row["position"], order.get(row["variant"], 0))})
    records.sort(key=lambda r: (*r.pop("_order"), r["sample"]))
    return records


def split_baseline(baseline: str) -> tuple[str | None, str | None]:
    """(another evaluation's id or None, variant or None): "base" -> (None, "base"); "ID/pirate" -> ("ID", "pirate")."""
    from adapters_ui.store.tokens import well_formed

    head, _, variant = baseline.partition("/")
    if variant or (well_formed(head) and head != BASE):
        return head, variant or None
    return None, baseline


def verdicts_for(db: Database, stored: StoredEvaluation, records: list[dict], baseline: str,
                 candidates: list[str] | None = None) -> tuple[str, list[dict]]:
    """(the baseline's label, the verdict records) of ``records`` against ``baseline``."""
    item_ids = [item["id"] for item in load_items(db, stored.id)]
    judgings = list_judgings(db, "evaluation", stored.id)
    add_judge_grades(db, judgings, records, item_ids)
    label, verdicts, _ = _against(db, stored, records, baseline, candidates, item_ids, judgings)
    return label, verdicts


def _against(db: Database, stored: StoredEvaluation, records: list[dict], baseline: str,
             candidates: list[str] | None, item_ids: list[str], judgings: list[StoredJudging]
             ) -> tuple[str, list[dict], list[dict] | None]:
    """(label, verdicts, versions): ``versions`` (another evaluation as the baseline) holds, per candidate
    variant, each shared item marked improved / regressed / unchanged on ``checks``, regressed first, with
    both outputs (``analysis.versions.compare_evaluation_versions``). ``judgings``: the evaluation's, read once
    by the caller."""
    other_id, variant = split_baseline(baseline)
    if is_benchmark(stored.settings):
        return _benchmark_verdicts(stored, records, other_id, variant, candidates)
    if other_id is None:
        if variant not in stored.variants:
            raise StatisticsError(f"Baseline {variant!r} is not a variant of this evaluation: choose from "
                                  f"{', '.join(stored.variants)}, or give another evaluation's id.")
        chosen = candidates or [v for v in stored.variants if v != variant]
        votes = [v for v in evaluation_votes(db, stored.id, variant) if v["variant"] in chosen]
        verdicts = verdict_records(records, baseline=variant, variants=chosen)
        extra = human_preference_records(votes, baseline=variant) if votes else []  # a blind review of it
        extra += judge_preference_records(db, judgings, item_ids, variant, chosen)  # a judge model's verdicts
        if extra:  # they join the same Holm family
            verdicts = holm_records(verdicts + extra)
        return variant, verdicts, None
    other = load_evaluation(db, other_id)
    if variant is None:
        wanted = candidates or [v for v in stored.variants if v != BASE]
        adapters = [v for v in other.variants if v != BASE]
        variant = wanted[0] if len(wanted) == 1 and wanted[0] in other.variants else (adapters[0] if len(adapters) == 1 else None)
        if variant is None:
            raise StatisticsError(f"Evaluation {other_id} has several variants ({', '.join(other.variants)}): "
                                  f"name the baseline as {other_id}/VARIANT.")
    label = f"evaluation:{other_id}/{variant}"
    other_records = item_records(db, other, load_items(db, other_id))
    against = verdict_records_against(records, other_records, baseline_variant=variant, baseline_label=label,
                                      variants=candidates)
    chosen = candidates or list(stored.variants)
    versions = [{"variant": v, **compare_evaluation_versions(other_records, records, variant_old=variant, variant_new=v,
                                                             metric="checks").to_json()}
                for v in chosen if any(r["variant"] == v and r["scores"].get("checks") is not None for r in records)]
    return label, against.verdicts, versions


def _benchmark_verdicts(stored: StoredEvaluation, records: list[dict], other_id: str | None, variant: str | None,
                        candidates: list[str] | None) -> tuple[str, list[dict], None]:
    """A benchmark's verdicts: each variant against one of its own, per task and metric (never pooled over tasks)."""
    if other_id is not None or variant not in stored.variants:
        raise StatisticsError(f"A benchmark compares its own variants: pick one of {', '.join(stored.variants)} as the "
                              "baseline (run both versions in one benchmark to compare them).")
    chosen = candidates or [v for v in stored.variants if v != variant]
    return variant, benchmark_verdicts(records, baseline=variant, variants=chosen), None


def benchmark_part(db: Database, stored: StoredEvaluation) -> dict:
    """What lm-eval itself reported, per variant finished so far, with the benchmark's settings."""
    settings = stored.settings
    return {"tasks": settings["tasks"], "limit": settings.get("limit"), "num_fewshot": settings.get("num_fewshot"),
            "lm_eval_version": settings.get("lm_eval_version"),
            "variants": {v: numbers.to_json() for v, numbers in variant_numbers(db, stored.id).items()}}


def evaluation_document(db: Database, evaluation_id: str, baseline: str = BASE, progress: dict | None = None) -> dict:
    """The whole document of evaluation ``evaluation_id`` with verdicts against ``baseline``."""
    stored = load_evaluation(db, evaluation_id)
    items = load_items(db, evaluation_id)
    records = item_records(db, stored, items)
    item_ids = [item["id"] for item in items]
    judgings = list_judgings(db, "evaluation", stored.id)  # once: the page polls this document
    add_judge_grades(db, judgings, records, item_ids)  # a judge model's rubric grades, when one graded
    label, verdicts, versions = (_against(db, stored, records, baseline, None, item_ids, judgings) if records
                                 else (baseline, [], None))
    document = {
        "id": stored.id,
        "created_at": stored.created,
        "status": stored.status,
        "error": stored.error,
        "base_model": stored.base_model,
        "set": {"name": stored.set_name, "sha256": stored.set_sha256, "items": stored.items},
        "variants": list(stored.variants),
        "samples": stored.samples,
        "settings": stored.settings,
        "baseline": label,
        "progress": progress or {"done": len(records), "total": stored.rows},
        "set_items": [{key: item.get(key) for key in ("id", "prompt", "messages", "reference", "category", "tags", "checks")}
                      for item in items],
        "items": records,
        "verdicts": verdicts,
    }
    if versions is not None:
        document["versions"] = versions
    if is_benchmark(stored.settings):
        document["benchmark"] = benchmark_part(db, stored)
    return document
