"""Two evaluations on shared item ids (adapter v1 then v2): which items improved, which regressed, and is it real?

Each shared item is ``improved`` (moved the metric's better way), ``regressed`` or
``unchanged``. For a pass/fail metric the p-value is the exact McNemar test on the flips,
the same test ``paired.compare`` uses; Wilcoxon on the per-item values when an item has
several samples (pass rates) or the metric is continuous (``rouge_l``, ``latency_s``, where
any difference at all is a change). A metric with no better side (``output_tokens``) has
no improved or regressed, and is refused. Regressed items come first, so the page and the
gate show them first.

    >>> v = compare_versions("checks", {"a": 1, "b": 0, "c": 1}, {"a": 0, "b": 0, "c": 1, "d": 1})
    >>> [(c.item_id, c.change) for c in v.items], (v.improved, v.regressed, v.unchanged), v.only_new
    ([('a', 'regressed'), ('b', 'unchanged'), ('c', 'unchanged')], (0, 1, 2), ('d',))
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass

import numpy as np

from adapters_ui.analysis.paired import METRICS, ItemValue, item_means, mcnemar_p, metric_of, wilcoxon_p
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
