"""Two evaluations on shared item ids (adapter v1 then v2): which items improved, which regressed, and is it real?

Each shared item is ``improved`` (moved the metric's better way), ``regressed`` or
``unchanged``. For a pass/fail metric the p-value is the exact McNemar test on the flips,
the same test ``paired.compare`` uses; Wilcoxon on the per-item values when an item has
several samples (pass rates) or the metric is continuous (``rouge_l``, ``latency_s``, where
any difference at all is a change). A metric with no better side (``output_tokens``) has
no improved or regressed, and is refused. Regressed items come first, so the page and the
gate show them first. ``compare_evaluation_versions`` does the same on two evaluations' item
records, carrying each item's two outputs for a side-by-side view.

    >>> v = compare_versions("checks", {"a": 1, "b": 0, "c": 1}, {"a": 0, "b": 0, "c": 1, "d": 1})
    >>> [(c.item_id, c.change) for c in v.items], (v.improved, v.regressed, v.unchanged), v.only_new
    ([('a', 'regressed'), ('b', 'unchanged'), ('c', 'unchanged')], (0, 1, 2), ('d',))
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass

import numpy as np

from adapters_ui.analysis.paired import METRICS, ItemValue, item_means, mcnemar_p, metric_of, wilcoxon_p
from adapters_ui.analysis.verdicts import ItemTable, item_table
from adapters_ui.errors import StatisticsError

CHANGES = ("regressed", "improved", "unchanged")  # also the order items are listed in


@dataclass(frozen=True)
class ItemChange:
    """One shared item: its per-item value (mean over samples) in each evaluation, and what changed."""

    item_id: str
    old: float
    new: float
    change: str  # one of CHANGES


@dataclass(frozen=True)
class VersionComparison:
    """The new evaluation against the old one on the items both scored."""

    metric: str
    items: tuple[ItemChange, ...]  # regressed first, then improved, then unchanged; the old order within each
    improved: int
    regressed: int
    unchanged: int
    test: str | None  # "mcnemar" | "wilcoxon" | None (no shared item)
    p_value: float | None
    dropped: tuple[str, ...]  # shared ids missing a value on either side
    only_old: tuple[str, ...]  # ids only the old evaluation has
    only_new: tuple[str, ...]


def _change(old: float, new: float, better: str) -> str:
    if new == old:
        return "unchanged"
    return "improved" if (new > old) == (better == "higher") else "regressed"


def compare_versions(metric: str, old: Mapping[str, ItemValue], new: Mapping[str, ItemValue]) -> VersionComparison:
    """Per shared item id: improved / regressed / unchanged, and McNemar (pass/fail) or Wilcoxon on the changes."""
    kind = metric_of(metric)
    if kind.better is None:
        raise StatisticsError(f"version changes need a metric with a better side, not {metric!r}: "
                              f"use one of {', '.join(m.name for m in METRICS.values() if m.better)}")
    shared = [i for i in old if i in new]
    old_means, old_samples = item_means([old[i] for i in shared], kind, "old evaluation")
    new_means, new_samples = item_means([new[i] for i in shared], kind, "new evaluation")
    kept = [(i, o, n) for i, o, n in zip(shared, old_means, new_means) if o is not None and n is not None]
    changes = [ItemChange(str(i), o, n, _change(o, n, kind.better)) for i, o, n in kept]
    ordered = tuple(sorted(changes, key=lambda c: CHANGES.index(c.change)))
    counts = {change: sum(c.change == change for c in changes) for change in CHANGES}
    test = p = None
    if kept:
        old_values, new_values = np.array([o for _, o, _ in kept]), np.array([n for _, _, n in kept])
        if kind.binary and max(old_samples, new_samples) == 1:
            test, p = "mcnemar", mcnemar_p(new_values, old_values)
        else:
            test, p = "wilcoxon", wilcoxon_p(new_values - old_values)
    kept_ids = {i for i, _, _ in kept}
    return VersionComparison(metric, ordered, counts["improved"], counts["regressed"], counts["unchanged"], test, p,
                             tuple(str(i) for i in shared if i not in kept_ids),
                             tuple(str(i) for i in old if i not in new), tuple(str(i) for i in new if i not in old))


@dataclass(frozen=True)
class EvaluationVersions:
    """``compare_versions`` on two evaluations' item records, with each item's outputs for a side-by-side view.

    ``items`` rows, regressed first: ``{"id", "category", "tags", "change", "old", "new", "old_output",
    "new_output"}`` (``old``/``new``: the item's value, the mean over its samples; outputs: the first
    sample's). The word diff is left to the view, for the rows it shows:
    ``text_diff.word_diff(row["old_output"], row["new_output"])``.
    """

    metric: str
    variant_old: str
    variant_new: str
    comparison: VersionComparison
    items: tuple[dict, ...]

    def to_json(self) -> dict:
        c = self.comparison
        return {"metric": self.metric, "variant_old": self.variant_old, "variant_new": self.variant_new,
                "improved": c.improved, "regressed": c.regressed, "unchanged": c.unchanged, "test": c.test,
                "p_value": c.p_value, "dropped": list(c.dropped), "only_old": list(c.only_old),
                "only_new": list(c.only_new), "items": [dict(row) for row in self.items]}


def _values_by_id(table: ItemTable, variant: str, metric: str) -> dict[str, list]:
    ids = table.scored(variant)
    return dict(zip(ids, table.values(variant, metric, ids)))


def compare_evaluation_versions(old_items: Iterable[Mapping], new_items: Iterable[Mapping], *, variant_old: str,
                                variant_new: str, metric: str = "checks") -> EvaluationVersions:
    """``variant_old`` of one evaluation against ``variant_new`` of another, item by shared item id.

    Items one variant has no record of are in ``only_old``/``only_new``; scored without a value
    of ``metric`` (no reference, say), in ``dropped``.
    """
    old, new = item_table(old_items), item_table(new_items)
    old.require(variant_old, "old variant")
    new.require(variant_new, "new variant")
    comparison = compare_versions(metric, _values_by_id(old, variant_old, metric),
                                  _values_by_id(new, variant_new, metric))
    rows = tuple({"id": c.item_id, "category": new.categories[c.item_id], "tags": list(new.tags[c.item_id]),
                  "change": c.change, "old": c.old, "new": c.new, "old_output": old.output(variant_old, c.item_id),
                  "new_output": new.output(variant_new, c.item_id)} for c in comparison.items)
    return EvaluationVersions(metric, variant_old, variant_new, comparison, rows)
