"""An evaluation's ``items`` become its ``verdicts``: every variant against the baseline, per metric and slice.

The statistics are ``paired.py``'s; this module only shapes the data. Item records (one per
item id, variant and sample, as in EVAL_SPEC) are grouped per item id, an item's samples
becoming its list of values (one cluster, counted once); each variant is paired with the
baseline on the same item ids; every metric with any value is compared over all items, each
category and each tag (``paired.slices``); and ONE Holm family covers every variant, metric
and slice of the evaluation (``paired.holm``), so a win in one tag out of twenty must survive
all twenty looks.

    >>> items = [{"id": f"q{i}", "variant": v, "sample": 0, "scores": {"checks": float(v == "pirate" or i == 0)}}
    ...          for i in range(10) for v in ("base", "pirate")]
    >>> [r] = verdict_records(items)
    >>> r["variant"], r["slice"], r["n"], r["difference"], r["test"], round(r["p_value"], 4), r["verdict"]
    ('pirate', None, 10, 0.9, 'mcnemar', 0.0039, 'better')

Records are plain JSON (``VERDICT_KEYS``, floats or None, never NaN or a numpy type).
Human reviews join the same family through ``holm_records`` (see ``preference.py``).
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass

from statsmodels.stats.multitest import multipletests

from adapters_ui.analysis.paired import ALPHA, METRICS, Metric, PairedResult, holm, metric_of, slices, verdict
from adapters_ui.errors import StatisticsError

VERDICT_KEYS = ("variant", "metric", "slice", "baseline", "n", "mean", "mean_low", "mean_high", "baseline_mean",
                "difference", "low", "high", "test", "p_value", "p_holm", "verdict", "mde")

# A blind review's verdict joins the table as one more metric: the share of decisive items the reviewers
# gave the variant (see preference.py). Pass/fail per item, higher is better.
HUMAN_PREFERENCE = Metric("human_preference", True, "higher")
# A judge model's pairwise verdicts (both orders agreeing) against the baseline, read the same way.
JUDGE_PREFERENCE = Metric("judge_preference", True, "higher")
KINDS = {**METRICS, HUMAN_PREFERENCE.name: HUMAN_PREFERENCE, JUDGE_PREFERENCE.name: JUDGE_PREFERENCE}


def metric_kind(name: str) -> Metric:
    """A ``METRICS`` metric or ``human_preference``; a one-line error naming them all for anything else."""
    if name in KINDS:
        return KINDS[name]
    raise StatisticsError(f"unknown metric {name!r}: use one of {', '.join(KINDS)}")


# --- items, grouped ------------------------------------------------------------------------------


@dataclass(frozen=True)
class ItemTable:
    """An evaluation's item records by (variant, item id), each list in sample order; ids in first-seen order."""

    ids: tuple[str, ...]
    variants: tuple[str, ...]
    categories: Mapping[str, str | None]
    tags: Mapping[str, tuple[str, ...]]
    records: Mapping[tuple[str, str], tuple[dict, ...]]

    def values(self, variant: str, metric: str, ids: Sequence[str]) -> list[list]:
        """Per item id, the variant's sample values of ``metric`` (``[]``: not scored; paired drops the item)."""
        return [[(r.get("scores") or {}).get(metric) for r in self.records.get((variant, i), ())] for i in ids]

    def scored(self, variant: str) -> list[str]:
        """The item ids ``variant`` has a record for, in item order."""
        return [i for i in self.ids if (variant, i) in self.records]

    def output(self, variant: str, item_id: str) -> str | None:
        """The variant's output on the item's first sample (None: no record)."""
        found = self.records.get((variant, item_id))
        return found[0].get("output") if found else None

    def require(self, variant: str, role: str) -> None:
        if variant not in self.variants:
            raise StatisticsError(f"the {role} {variant!r} has no item records: pick one of "
                                  f"{', '.join(self.variants) or '(none: the evaluation has no items yet)'}")


def item_table(items: Iterable[Mapping]) -> ItemTable:
    """Group EVAL_SPEC item records; a record without an id or variant, or a sample given twice, is an error."""
    grouped: dict[tuple[str, str], list[dict]] = {}
    ids: dict[str, None] = {}
    variants: dict[str, None] = {}
    categories: dict[str, str | None] = {}
    tags: dict[str, tuple[str, ...]] = {}
    for index, record in enumerate(items):
        if not record.get("id") or not record.get("variant"):
            raise StatisticsError(f"item record {index} has no 'id' or no 'variant': give both, as the items of "
                                  "an evaluation document have")
        item_id, variant = str(record["id"]), str(record["variant"])
        ids.setdefault(item_id)
        variants.setdefault(variant)
        categories.setdefault(item_id, record.get("category"))
        tags.setdefault(item_id, tuple(record.get("tags") or ()))
        grouped.setdefault((variant, item_id), []).append(dict(record))
    for (variant, item_id), rows in grouped.items():
        samples = [r.get("sample") or 0 for r in rows]
        if len(set(samples)) != len(samples):
            raise StatisticsError(f"item {item_id!r} of {variant!r} has a sample number twice ({sorted(samples)}): "
                                  "give each sample once")
        rows.sort(key=lambda r: r.get("sample") or 0)
    return ItemTable(tuple(ids), tuple(variants), categories, tags, {k: tuple(v) for k, v in grouped.items()})


# --- records -------------------------------------------------------------------------------------


def _plain(value):
    """A JSON-safe scalar: numpy numbers to Python, NaN and infinities to None."""
    if value is None or isinstance(value, (str, bool)):
        return value
    if isinstance(value, int) or (hasattr(value, "dtype") and value.dtype.kind in "iu"):
        return int(value)
    value = float(value)
    return value if math.isfinite(value) else None


def verdict_record(result: PairedResult) -> dict:
    """The EVAL_SPEC verdict dict of one ``PairedResult`` (its ``dropped`` and ``samples`` are not in the spec)."""
    return {key: _plain(getattr(result, key)) for key in VERDICT_KEYS}


def _has_values(table: ItemTable, variants: Sequence[str], metric: str) -> bool:
    return any(v is not None for variant in variants for cell in table.values(variant, metric, table.ids) for v in cell)


def _measured(candidates: ItemTable, variants: Sequence[str], base: ItemTable, baseline_variant: str,
              metrics: Sequence[str] | None) -> list[str]:
    """The metrics asked for, or else each metric the baseline and at least one variant have a value of."""
    if metrics is not None:
        return [metric_of(m).name for m in metrics]
    return [m for m in METRICS if _has_values(base, [baseline_variant], m) and _has_values(candidates, variants, m)]


def _family(candidates: ItemTable, variants: Sequence[str], base: ItemTable, baseline_variant: str,
            baseline_name: str, ids: Sequence[str], metrics: Sequence[str]) -> list[dict]:
    """``slices`` for every variant and metric on ``ids``, one Holm family over them all, as records."""
    categories = [candidates.categories[i] for i in ids]
    tags = [candidates.tags[i] for i in ids]
    results = []
    for variant in variants:
        for metric in metrics:
            results += slices(variant, metric, candidates.values(variant, metric, ids),
                              base.values(baseline_variant, metric, ids), categories=categories, tags=tags,
                              baseline_name=baseline_name)
    return [verdict_record(r) for r in holm(results)]


def chosen_variants(table: ItemTable, baseline: str, variants: Sequence[str] | None) -> list[str]:
    """The variants to set against ``baseline`` (default: all but it), each checked to be in ``table``."""
    table.require(baseline, "baseline")
    chosen = [v for v in table.variants if v != baseline] if variants is None else list(variants)
    for variant in chosen:
        table.require(variant, "variant")
    return chosen


def verdict_records(items: Iterable[Mapping], *, baseline: str = "base", variants: Sequence[str] | None = None,
                    metrics: Sequence[str] | None = None) -> list[dict]:
    """Every variant (default: all but ``baseline``) against ``baseline`` on every metric both have values of.

    Order: variant (as given, or first seen), metric (``METRICS`` order), then all items,
    categories, tags; ``best_first`` sorts them for a table. No items: no records.
    """
    table = item_table(items)
    if not table.ids:
        return []
    chosen = chosen_variants(table, baseline, variants)
    if baseline in chosen:
        raise StatisticsError(f"{baseline!r} is the baseline, so it cannot also be a variant here: leave it out")
    measured = _measured(table, chosen, table, baseline, metrics)
    return _family(table, chosen, table, baseline, baseline, table.ids, measured)


@dataclass(frozen=True)
class VerdictsAgainst:
    """Verdicts of one evaluation's variants against a variant of another, on the item ids both scored."""

    verdicts: list[dict]
    shared: int  # item ids both sides have: every record's n counts from these
    only_candidate: tuple[str, ...]  # ids only this evaluation scored: left out
    only_baseline: tuple[str, ...]  # ids only the baseline evaluation scored: left out

    def to_json(self) -> dict:
        return {"verdicts": self.verdicts, "shared": self.shared, "only_candidate": list(self.only_candidate),
                "only_baseline": list(self.only_baseline)}


def verdict_records_against(items: Iterable[Mapping], other_items: Iterable[Mapping], *, baseline_variant: str,
                            baseline_label: str, variants: Sequence[str] | None = None,
                            metrics: Sequence[str] | None = None) -> VerdictsAgainst:
    """Every variant of ``items`` (default: all) against ``baseline_variant`` of another evaluation's items.

    Pairs on item ids both have (the candidate side's categories and tags make the slices);
    ids on one side only are dropped and listed. ``baseline_label`` names the baseline in
    every record, e.g. ``"evaluation:ev_3f9c/pirate"``. One Holm family, as ``verdict_records``.
    """
    table, other = item_table(items), item_table(other_items)
    other.require(baseline_variant, "baseline variant of the other evaluation")
    chosen = list(table.variants) if variants is None else list(variants)
    for variant in chosen:
        table.require(variant, "variant")
    baseline_ids = set(other.scored(baseline_variant))
    shared = [i for i in table.ids if i in baseline_ids]
    mine = set(table.ids)
    against = VerdictsAgainst([], len(shared), tuple(i for i in table.ids if i not in baseline_ids),
                              tuple(i for i in other.scored(baseline_variant) if i not in mine))
    if not shared:
        return against
    measured = _measured(table, chosen, other, baseline_variant, metrics)
    records = _family(table, chosen, other, baseline_variant, baseline_label, shared, measured)
    return VerdictsAgainst(records, against.shared, against.only_candidate, against.only_baseline)


# --- many records: one family, and a table order -------------------------------------------------


def holm_records(records: Sequence[Mapping], alpha: float = ALPHA) -> list[dict]:
    """The records with ``p_holm`` and ``verdict`` redone over them all as ONE Holm family.

    To join a blind review's records to an evaluation's verdicts:
    ``holm_records(verdict_records(items) + human_preference_records(votes))``. Records without a
    p-value (n == 0) stay out of the family. Redoing a family that is already one changes nothing.
    """
    out = [dict(r) for r in records]
    tested = [r for r in out if r["p_value"] is not None]
    adjusted = multipletests([r["p_value"] for r in tested], alpha=alpha, method="holm")[1] if tested else []
    for r, p in zip(tested, adjusted):
        r["p_holm"] = float(p)
        r["verdict"] = verdict(metric_kind(r["metric"]), r["difference"], r["low"], r["high"], float(p), alpha)
    return out


def _gain(record: Mapping | None) -> float:
    """The all-items difference turned so that larger is better; -inf when there is none or no better side."""
    if record is None or record["difference"] is None or metric_kind(record["metric"]).better is None:
        return -math.inf
    return record["difference"] if metric_kind(record["metric"]).better == "higher" else -record["difference"]


def best_first(verdicts: Sequence[Mapping], metric: str = "checks") -> list[dict]:
    """The records for a table: the best variant first, then its metrics, each metric's slices together.

    Variants are ranked by their all-items difference on ``metric`` (turned so that larger is
    better: a drop in latency ranks as a gain), ties and missing values broken by the other
    metrics' all-items differences in ``METRICS`` order, then by name. Within a variant: ``metric``
    first, then ``METRICS`` order, then ``human_preference``; all items first, then categories,
    then tags. ``output_tokens`` has no better side and never ranks a variant.
    """
    metric_kind(metric)
    order = [metric, *(m for m in KINDS if m != metric)]
    overall = {(r["variant"], r["baseline"], r["metric"]): r for r in verdicts if r["slice"] is None}
    pairs = dict.fromkeys((r["variant"], r["baseline"]) for r in verdicts)
    rank = {pair: k for k, pair in enumerate(sorted(pairs, key=lambda p: (
        [-_gain(overall.get((*p, m))) for m in order], p)))}

    def slice_rank(name: str | None) -> tuple:
        return (0, "") if name is None else (1 if name.startswith("category:") else 2, name)

    return [dict(r) for r in sorted(verdicts, key=lambda r: (
        rank[(r["variant"], r["baseline"])], order.index(r["metric"]) if r["metric"] in order else len(order),
        slice_rank(r["slice"])))]
