"""The regression gate: may this candidate replace the baseline? One decision and one line for a CI log.

It reads the all-items verdict of one metric (``verdicts.verdict_records``; the slices only
explain), or one slice's when asked (a benchmark has verdicts per task only). It fails when:

- the candidate is significantly worse (verdict ``worse``: Holm-corrected p below 0.05 and
  the difference's 95% interval on the wrong side of 0);
- ``max_drop`` is given and the candidate's mean falls behind the baseline's by more than
  it (lower on a higher-is-better metric, higher on a lower-is-better one), significant or
  not: a drop of exactly ``max_drop`` passes;
- nothing can be judged: no item has a value on both sides.

    >>> items = [{"id": f"q{i}", "variant": v, "scores": {"checks": float(v == "base" or i < 2)}}
    ...          for i in range(12) for v in ("base", "pirate")]
    >>> decision = gate(items, "pirate")
    >>> decision.passed, decision.reason
    (False, 'pirate is worse than base on checks: 0.167 vs 1.00 (difference -0.833, 95% CI -1.00..-0.500, p_holm 0.002, 12 items)')
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass

from adapters_ui.analysis.verdicts import metric_kind, verdict_records
from adapters_ui.errors import StatisticsError

TOLERANCE = 1e-12  # a drop equal to max_drop, give or take float rounding, passes


@dataclass(frozen=True)
class GateDecision:
    """``passed``, the one-line ``reason``, and the verdict record it was read from."""

    passed: bool
    reason: str
    record: dict
    max_drop: float | None = None

    def to_json(self) -> dict:
        return {"passed": self.passed, "reason": self.reason, "max_drop": self.max_drop, "record": dict(self.record)}


def _verdicts(evaluation: Mapping | Sequence[Mapping], baseline: str) -> list[Mapping]:
    """Verdict records from a document (its verdicts, else its items), a verdict list, or an item list."""
    if isinstance(evaluation, Mapping):
        evaluation = evaluation.get("verdicts") or evaluation.get("items") or []
    if evaluation and "verdict" not in evaluation[0]:  # item records: the verdicts a document would have
        return verdict_records(evaluation, baseline=baseline)
    return list(evaluation)


def _num(x: float | None, sign: str = "", digits: str = "#.3g") -> str:
    """Three significant digits, kept even when 0 (``1.00``, ``0.410``); a p-value gets two (``0.0004``)."""
    return "?" if x is None else f"{x:{sign}{digits}}".rstrip(".")  # "116." (#.3g of 116.3) reads "116"


def _numbers(r: Mapping) -> str:
    return (f"{_num(r['mean'])} vs {_num(r['baseline_mean'])} (difference {_num(r['difference'], '+')}, "
            f"95% CI {_num(r['low'])}..{_num(r['high'])}, p_holm {_num(r['p_holm'], digits='.2g')}, {r['n']} items)")


def _find(records: Sequence[Mapping], candidate: str, baseline: str, metric: str, slice: str | None = None) -> dict:
    pairs = {(r["variant"], r["baseline"]) for r in records}
    if not any(b == baseline for _, b in pairs):
        raise StatisticsError(f"no verdicts against {baseline!r}: pick a baseline from "
                              f"{', '.join(sorted({b for _, b in pairs})) or '(none: no verdicts)'}")
    if (candidate, baseline) not in pairs:
        raise StatisticsError(f"no verdicts for {candidate!r} against {baseline!r}: pick a candidate from "
                              f"{', '.join(sorted(v for v, b in pairs if b == baseline))}")
    found = [r for r in records if (r["variant"], r["baseline"], r["metric"], r["slice"]) ==
             (candidate, baseline, metric, slice)]
    if not found:
        mine = [r for r in records if (r["variant"], r["baseline"]) == (candidate, baseline)]
        scored = dict.fromkeys(r["metric"] for r in mine if r["slice"] == slice)
        if not scored:  # a benchmark's verdicts are per task only: the slice must be named
            slices = dict.fromkeys(str(r["slice"]) for r in mine if r["metric"] == metric and r["slice"] is not None)
            raise StatisticsError(f"no {metric} verdict of {candidate!r} against {baseline!r} on "
                                  f"{slice or 'all items'}: pick a slice from {', '.join(slices) or '(none)'}")
        raise StatisticsError(f"no {metric} verdict for {candidate!r} against {baseline!r}: nothing scored it; "
                              f"pick a metric from {', '.join(scored)}")
    return dict(found[0])


def gate(evaluation: Mapping | Sequence[Mapping], candidate: str, baseline: str = "base", *, metric: str = "checks",
         max_drop: float | None = None, slice: str | None = None) -> GateDecision:
    """Pass or fail ``candidate`` against ``baseline`` on ``metric``'s all-items verdict.

    ``evaluation``: an evaluation document, its ``verdicts`` list, or its ``items`` list (the
    verdicts are then computed as the document has them: every variant, one Holm family).
    For a baseline in another evaluation, pass ``verdict_records_against(...).verdicts`` and
    its label, e.g. ``baseline="evaluation:ev_3f9c/pirate"``. ``slice`` gates on one slice's verdict instead
    (``"category:adapters_ui_arith_mc"``: a benchmark's verdicts are per task only).
    """
    kind = metric_kind(metric)
    if kind.better is None:
        raise StatisticsError(f"{metric} has no better side, so it cannot gate: pick one of checks, exact_match, "
                              "contains, rouge_l, reference_perplexity, cut_off, latency_s, human_preference")
    if max_drop is not None and not max_drop >= 0:
        raise StatisticsError(f"max_drop must be 0 or more (a difference in {metric}'s units), not {max_drop!r}")
    record = _find(_verdicts(evaluation, baseline), candidate, baseline, metric, slice)
    if slice is not None:
        metric = f"{metric} ({slice})"
    head = f"{candidate} against {baseline} on {metric}"
    if not record["n"]:
        return GateDecision(False, f"{head}: cannot judge, no item has a value on both sides", record, max_drop)
    if record["verdict"] == "worse":
        return GateDecision(False, f"{candidate} is worse than {baseline} on {metric}: {_numbers(record)}",
                            record, max_drop)
    drop = -record["difference"] if kind.better == "higher" else record["difference"]
    if max_drop is not None and drop > max_drop + TOLERANCE:
        return GateDecision(False, f"{candidate} falls {_num(drop)} behind {baseline} on {metric}, more than the "
                            f"allowed {_num(max_drop)} (not significant): {_numbers(record)}", record, max_drop)
    if record["verdict"] == "better":
        return GateDecision(True, f"{candidate} is better than {baseline} on {metric}: {_numbers(record)}",
                            record, max_drop)
    within = "" if max_drop is None else f", within the allowed drop of {_num(max_drop)}"
    return GateDecision(True, f"{candidate} is not significantly worse than {baseline} on {metric}{within}: "
                        f"{_numbers(record)}", record, max_drop)
