"""lm-eval's per-item samples (``log_samples``) become evaluation item records, then paired verdicts.

One record per task item and variant, in the shape an evaluation's ``items`` have (EVAL_SPEC): ``id``
is ``"<task>/<the doc's id, else its doc_id>"``, ``category`` the task (so the slices are by task),
``sample`` 0, ``output`` the filtered generation (generation tasks), and ``scores``:

- ``acc``, ``acc_norm``, ``exact_match``: lm-eval's own per-item value (0 or 1), pass/fail;
- ``loglikelihood``: the gold choice's log-likelihood (multiple choice), the continuation's (loglikelihood),
  or the whole passage's (loglikelihood_rolling), continuous, higher is better;
- ``bits_per_byte``: a rolling passage's ``-loglikelihood / (bytes · ln 2)``, continuous, lower is better.

``benchmark_verdicts`` compares each variant with the baseline on every task and metric both have
(exact McNemar on pass/fail, Wilcoxon with a paired bootstrap interval on continuous: ``analysis.paired``),
slice ``category:<task>``, and ONE Holm family over all of them. A task is never pooled with another:
a log-likelihood of a choice and one of a passage are on different scales.

    >>> samples = {"base": {"t": [{"doc_id": 0, "doc": {}, "target": 1, "filtered_resps": [(-3.0, False), (-1.0, True)],
    ...                             "metrics": ["acc"], "acc": 1.0}]}}
    >>> item_records(samples, {"t": "multiple_choice"})[0]["scores"]
    {'acc': 1.0, 'loglikelihood': -1.0}
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence

from adapters_ui.analysis.paired import METRICS, compare, holm
from adapters_ui.analysis.verdicts import chosen_variants, item_table, verdict_record
from adapters_ui.errors import StatisticsError

PASS_FAIL = ("acc", "acc_norm", "exact_match")  # lm-eval per-item metrics read as they are


def item_records(samples: Mapping[str, Mapping[str, Sequence[Mapping]]], output_types: Mapping[str, str]) -> list[dict]:
    """``samples[variant][task]`` (lm-eval's ``results["samples"]`` per variant) as item records, task by task."""
    records = []
    for variant, tasks in samples.items():
        for task, rows in tasks.items():
            kind = output_types.get(task)
            if kind is None:
                raise StatisticsError(f"task {task!r} has no output type: give output_types[{task!r}] (lm-eval's "
                                      "results['configs'][task]['output_type'])")
            for row in rows:
                records.append(item_record(task, kind, variant, row))
    return records


def item_record(task: str, kind: str, variant: str, row: Mapping) -> dict:
    """One logged sample of ``task`` (lm-eval output type ``kind``) as an item record of ``variant``."""
    doc = row.get("doc") or {}
    key = doc_key(doc, row["doc_id"])
    scores = {m: float(row[m]) for m in PASS_FAIL if m in row and _number(row[m])}
    responses = row.get("filtered_resps") or []
    output = None
    if kind == "multiple_choice" and isinstance(row.get("target"), int) and row["target"] < len(responses):
        scores["loglikelihood"] = float(responses[row["target"]][0])
    elif kind == "loglikelihood" and responses:
        scores["loglikelihood"] = float(responses[0][0])
    elif kind == "loglikelihood_rolling" and responses:
        scores["loglikelihood"] = float(responses[0])
        counted = row.get("bits_per_byte") or row.get("byte_perplexity")
        if isinstance(counted, (list, tuple)) and len(counted) == 2 and counted[1]:
            scores["bits_per_byte"] = -float(counted[0]) / (counted[1] * math.log(2))
    elif kind == "generate_until" and responses:
        output = str(responses[0])
    return {"id": f"{task}/{key}", "category": task, "tags": [], "variant": variant, "sample": 0, "output": output,
            "scores": scores}


def doc_key(doc, doc_id: int) -> str:
    """What names a doc in an item id: its own ``id`` field, else lm-eval's index (``bench/items`` names items so too)."""
    own = doc.get("id") if isinstance(doc, Mapping) else None
    return str(own) if own is not None else str(doc_id)


def _number(value) -> bool:
    try:
        return math.isfinite(float(value))
    except (TypeError, ValueError):
        return False


def benchmark_verdicts(records: Sequence[Mapping], *, baseline: str = "base", variants: Sequence[str] | None = None) -> list[dict]:
    """Every variant against ``baseline``, per task (slice ``category:<task>``) and metric, one Holm family;
    records in variant, task, then ``METRICS`` order."""
    table = item_table(records)
    if not table.ids:
        return []
    chosen = chosen_variants(table, baseline, variants)
    tasks = list(dict.fromkeys(table.categories[i] for i in table.ids))
    results = []
    for variant in chosen:
        for task in tasks:
            ids = [i for i in table.ids if table.categories[i] == task]
            for metric in METRICS:
                mine, theirs = table.values(variant, metric, ids), table.values(baseline, metric, ids)
                if _any(mine) and _any(theirs):
                    results.append(compare(variant, metric, mine, theirs, baseline_name=baseline, slice=f"category:{task}"))
    return [verdict_record(r) for r in holm(results)]


def _any(cells: list[list]) -> bool:
    return any(v is not None for cell in cells for v in cell)
