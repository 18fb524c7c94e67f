"""The regression gate: its pass/fail table on hand-made verdicts, its one-line reasons, and the errors that say
what to pick; then end to end from an evaluation's items and with a blind review's records."""

from __future__ import annotations

import json

import pytest

from adapters_ui.analysis.gate import GateDecision, gate
from adapters_ui.analysis.preference import human_preference_records
from adapters_ui.analysis.verdicts import VERDICT_KEYS, holm_records, verdict_records, verdict_records_against
from adapters_ui.errors import StatisticsError


def verdict(variant="pirate", metric="checks", slice=None, baseline="base", **numbers) -> dict:
    record = {key: None for key in VERDICT_KEYS} | {
        "variant": variant, "metric": metric, "slice": slice, "baseline": baseline, "n": 152, "mean": 0.41,
        "mean_low": 0.33, "mean_high": 0.49, "baseline_mean": 0.62, "difference": -0.21, "low": -0.30,
        "high": -0.12, "test": "mcnemar", "p_value": 0.0001, "p_holm": 0.0004, "verdict": "worse", "mde": 0.1}
    return record | numbers


NOT_SIGNIFICANT = {"low": -0.3, "high": 0.05, "p_value": 0.2, "p_holm": 0.4, "verdict": "no evidence"}
SLOWER = {"metric": "latency_s", "mean": 1.5, "baseline_mean": 1.2, "difference": 0.3, "low": -0.1, "high": 0.7,
          "test": "wilcoxon", "p_holm": 0.3, "verdict": "no evidence"}
OTHERS = [verdict(variant="bullets", difference=0.3, verdict="better"),  # other variants, metrics and slices: ignored
          verdict(slice="category:json", difference=0.2, verdict="better"),
          verdict(metric="rouge_l", difference=0.01, verdict="no evidence")]


@pytest.mark.parametrize("record, max_drop, passed, reason", [
    (verdict(), None, False,  # significantly worse
     "pirate is worse than base on checks: 0.410 vs 0.620 (difference -0.210, 95% CI -0.300..-0.120, "
     "p_holm 0.0004, 152 items)"),
    (verdict(), 0.5, False, "pirate is worse than base on checks"),  # worse fails whatever drop is allowed
    (verdict(difference=-0.05, **NOT_SIGNIFICANT), 0.1, True,  # a drop within max_drop
     "pirate is not significantly worse than base on checks, within the allowed drop of 0.100: 0.410 vs 0.620"),
    (verdict(difference=-0.15, **NOT_SIGNIFICANT), 0.1, False,  # beyond max_drop, though not significant
     "pirate falls 0.150 behind base on checks, more than the allowed 0.100 (not significant): 0.410 vs 0.620 "
     "(difference -0.150, 95% CI -0.300..0.0500, p_holm 0.4, 152 items)"),
    (verdict(difference=-0.1, **NOT_SIGNIFICANT), 0.1, True, "within the allowed drop"),  # exactly max_drop passes
    (verdict(difference=-0.15, **NOT_SIGNIFICANT), None, True, "not significantly worse"),  # no max_drop: only worse
    (verdict(mean=0.7, difference=0.29, low=0.2, high=0.38, verdict="better"), 0.0, True,
     "pirate is better than base on checks: 0.700 vs 0.620 (difference +0.290"),
    (verdict(**SLOWER), 0.2, False, "pirate falls 0.300 behind base on latency_s"),  # lower is better: slower drops
    (verdict(**SLOWER), 0.5, True, "within the allowed drop of 0.500"),
    (verdict(**(SLOWER | {"difference": -0.3})), 0.0, True, "not significantly worse"),  # faster never drops
    (verdict(n=0, mean=None, baseline_mean=None, difference=None, low=None, high=None, p_value=None, p_holm=None,
             test=None, verdict="no evidence"), 0.1, False,
     "pirate against base on checks: cannot judge, no item has a value on both sides"),
])
def test_gate_table(record, max_drop, passed, reason):
    decision = gate([*OTHERS, record], "pirate", metric=record["metric"], max_drop=max_drop)
    assert decision.passed is passed
    assert reason in decision.reason and "\n" not in decision.reason
    assert decision.record == record
    assert json.loads(json.dumps(decision.to_json(), allow_nan=False)) == {
        "passed": passed, "reason": decision.reason, "max_drop": max_drop, "record": record}


@pytest.mark.parametrize("kwargs, error", [
    ({"metric": "bleu"}, "unknown metric 'bleu': use one of checks"),
    ({"metric": "output_tokens"}, "output_tokens has no better side, so it cannot gate: pick one of checks"),
    ({"metric": "exact_match"}, "no exact_match verdict for 'pirate' against 'base': nothing scored it; "
                                "pick a metric from checks, rouge_l"),
    ({"candidate": "v9"}, "no verdicts for 'v9' against 'base': pick a candidate from bullets, pirate"),
    ({"baseline": "v1"}, "no verdicts against 'v1': pick a baseline from base"),
    ({"max_drop": -0.1}, "max_drop must be 0 or more"),
    ({"max_drop": float("nan")}, "max_drop must be 0 or more"),
    ({}, None),
])
def test_gate_errors_say_what_to_pick(kwargs, error):
    args = {"candidate": "pirate", "baseline": "base"} | kwargs
    records = [verdict(), *OTHERS]
    if error is None:
        assert isinstance(gate(records, **args), GateDecision)
        return
    with pytest.raises(StatisticsError, match=error) as caught:
        gate(records, **args)
    assert "\n" not in str(caught.value)


def items(pirate_passes: int, n: int = 12) -> list[dict]:
    """n items; the base passes every check, pirate only on the first ``pirate_passes`` items."""
    return [{"id": f"q{i}", "variant": v, "sample": 0, "scores": {"checks": float(v == "base" or i < pirate_passes)}}
            for i in range(n) for v in ("base", "pirate")]


def test_gate_from_items_and_from_a_document():
    # 10 of 12 items only the base passes: McNemar 2 / 2^10, alone in its family
    failing = gate(items(2), "pirate")
    assert not failing.passed and failing.record["p_holm"] == pytest.approx(2 / 2**10)
    assert failing.reason.startswith("pirate is worse than base on checks: 0.167 vs 1.00 (difference -0.833")
    document = {"items": items(11), "verdicts": verdict_records(items(11))}
    one_drop = gate(document, "pirate", max_drop=0.05)  # 1 of 12 lost: -0.0833, not significant, beyond 0.05
    assert not one_drop.passed and one_drop.reason.startswith("pirate falls 0.0833 behind base on checks")
    assert gate({"items": items(11)}, "pirate", max_drop=0.1).passed  # no verdicts yet: made from the items


def test_gate_against_another_evaluation_and_on_human_preference():
    old = [r for r in items(0) if r["variant"] == "base"]
    new = [r for r in items(12) if r["variant"] == "pirate"]
    against = verdict_records_against(new, old, baseline_variant="base", baseline_label="evaluation:ev_1/base")
    decision = gate(against.verdicts, "pirate", "evaluation:ev_1/base")
    assert decision.passed and decision.reason.startswith("pirate is not significantly worse than evaluation:ev_1/base")
    losses = [{"id": f"q{i}", "variant": "pirate", "baseline_votes": 2} for i in range(9)]
    family = holm_records(verdict_records(items(12)) + human_preference_records(losses))
    human = gate(family, "pirate", metric="human_preference")
    assert not human.passed and human.reason.startswith("pirate is worse than base on human_preference: 0.00 vs 1.00")
