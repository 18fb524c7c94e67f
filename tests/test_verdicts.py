"""An evaluation's items into verdicts: a tiny hand-worked evaluation, against another evaluation, the table
order, version comparison on item records, human preference as a sign-test metric, and one Holm family."""

from __future__ import annotations

import json

import numpy as np
import pytest
from scipy import stats
from statsmodels.stats.descriptivestats import sign_test
from statsmodels.stats.multitest import multipletests
from statsmodels.stats.proportion import proportion_confint

from adapters_ui.analysis.paired import mde_mcnemar
from adapters_ui.analysis.preference import human_preference_records
from adapters_ui.analysis.text_diff import word_diff
from adapters_ui.analysis.verdicts import (
    VERDICT_KEYS,
    best_first,
    holm_records,
    item_table,
    verdict_records,
    verdict_records_against,
)
from adapters_ui.analysis.versions import compare_evaluation_versions
from adapters_ui.errors import StatisticsError

# The tiny evaluation. json items j1..j5 have one sample, prose items p1..p3 two; j1, j2 and p1 are tagged easy.
# checks per item (a list: the samples):
#              j1  j2  j3  j4  j5   p1      p2      p3
#   base        0   0   0   1   1   [0, 0]  [1, 0]  [0, 0]
#   pirate      1   1   1   1   0   [1, 1]  [1, 1]  [1, 0]
#   bullets     = base everywhere
# latency_s: base 1.0 everywhere; bullets 1.5 everywhere; pirate 1.0 + 0.1 · item number (j1 = 1 .. p3 = 8).
# "contains" only the base has (no variant scored it): no verdicts on it.
CATEGORY = {"j1": "json", "j2": "json", "j3": "json", "j4": "json", "j5": "json",
            "p1": "prose", "p2": "prose", "p3": "prose"}
EASY = {"j1", "j2", "p1"}
CHECKS = {
    "base": {"j1": [0], "j2": [0], "j3": [0], "j4": [1], "j5": [1], "p1": [0, 0], "p2": [1, 0], "p3": [0, 0]},
    "pirate": {"j1": [1], "j2": [1], "j3": [1], "j4": [1], "j5": [0], "p1": [1, 1], "p2": [1, 1], "p3": [1, 0]},
}
CHECKS["bullets"] = CHECKS["base"]


def latency(variant: str, number: int) -> float:
    return {"base": 1.0, "bullets": 1.5, "pirate": 1.0 + 0.1 * number}[variant]


def tiny_items() -> list[dict]:
    items = []
    for number, item_id in enumerate(CATEGORY, start=1):
        for variant in ("base", "pirate", "bullets"):
            for sample, passed in enumerate(CHECKS[variant][item_id]):
                items.append({"id": item_id, "category": CATEGORY[item_id],
                              "tags": ["easy"] if item_id in EASY else [], "variant": variant, "sample": sample,
                              "output": f"{variant} says {item_id} #{sample}", "checks": {"is-json": bool(passed)},
                              "scores": {"checks": float(passed), "latency_s": latency(variant, number),
                                         "contains": 1 if variant == "base" else None, "rouge_l": None}})
    return items[::-1]  # any order: grouping restores item order by first sight, samples by number


def by_key(records):
    return {(r["variant"], r["metric"], r["slice"]): r for r in records}


# --- verdict_records: the tiny evaluation by hand -----------------------------------------------

def test_tiny_evaluation_gives_one_record_per_variant_metric_and_slice():
    records = verdict_records(tiny_items())
    assert [tuple(r) for r in records] == [VERDICT_KEYS] * 16  # keys exactly as EVAL_SPEC lists them
    slices = [None, "category:json", "category:prose", "tag:easy"]
    # variants in first-seen order (the items are reversed: bullets was seen before pirate), METRICS order
    assert [(r["variant"], r["metric"], r["slice"]) for r in records] == [
        (v, m, s) for v in ("bullets", "pirate") for m in ("checks", "latency_s") for s in slices]
    assert all(r["baseline"] == "base" for r in records)


def test_tiny_evaluation_mcnemar_on_the_one_sample_slice_by_hand():
    r = by_key(verdict_records(tiny_items()))[("pirate", "checks", "category:json")]
    # j1, j2, j3 only pirate passes (b = 3), j5 only base (c = 1): p = 2 · P(X <= 1), X ~ Bin(4, 1/2) = 2 · 5/16
    assert (r["n"], r["test"], r["p_value"]) == (5, "mcnemar", pytest.approx(0.625, abs=1e-12))
    assert (r["mean"], r["baseline_mean"], r["difference"]) == pytest.approx((0.8, 0.4, 0.4))  # (3 - 1) / 5
    assert (r["mean_low"], r["mean_high"]) == pytest.approx(proportion_confint(4, 5, method="wilson"))
    assert r["verdict"] == "no evidence"


def test_tiny_evaluation_samples_are_clusters_by_hand():
    records = by_key(verdict_records(tiny_items()))
    everything = records[("pirate", "checks", None)]
    # per-item differences: j 1 1 1 0 -1, p1 1 - 0 = 1, p2 1 - 1/2, p3 1/2 - 0: n counts items (8), not samples (11)
    differences = [1, 1, 1, 0, -1, 1, 0.5, 0.5]
    assert (everything["n"], everything["test"]) == (8, "wilcoxon")  # p1..p3 have two samples: pass rates
    assert everything["difference"] == pytest.approx(np.mean(differences)) == pytest.approx(0.5)
    assert (everything["mean"], everything["baseline_mean"]) == pytest.approx((6.5 / 8, 2.5 / 8))
    assert everything["p_value"] == pytest.approx(stats.wilcoxon(differences, zero_method="wilcox").pvalue)
    easy = records[("pirate", "checks", "tag:easy")]  # j1, j2, p1: three differences of +1, exact 2 / 2^3
    assert (easy["n"], easy["difference"], easy["p_value"]) == (3, 1.0, pytest.approx(0.25))
    prose = records[("pirate", "checks", "category:prose")]
    assert (prose["n"], prose["difference"]) == (3, pytest.approx(2 / 3))


def test_tiny_evaluation_ties_and_a_constant_slowdown():
    records = by_key(verdict_records(tiny_items()))
    same = records[("bullets", "checks", None)]
    assert (same["difference"], same["low"], same["high"], same["p_value"], same["mde"]) == (0.0, 0.0, 0.0, 1.0, None)
    slower = records[("bullets", "latency_s", None)]  # +0.5 s on all 8 items: Wilcoxon exact 2 / 2^8
    assert (slower["difference"], slower["low"], slower["high"]) == pytest.approx((0.5, 0.5, 0.5))
    assert slower["p_value"] == pytest.approx(2 / 2**8)


def test_one_holm_family_over_every_variant_metric_and_slice():
    records = verdict_records(tiny_items())
    expected = multipletests([r["p_value"] for r in records], method="holm")[1]
    assert [r["p_holm"] for r in records] == pytest.approx(list(expected))
    slower = by_key(records)[("bullets", "latency_s", None)]
    # 16 p-values; the smallest two are 2/256 (pirate's latency is also slower on all 8 items): Holm gives both
    # 16 · 2/256 = 0.125 (the second's 15 · 2/256 is raised to the first's, Holm being monotone)
    assert slower["p_holm"] == pytest.approx(16 * 2 / 2**8) and slower["verdict"] == "no evidence"
    assert holm_records(records) == records  # the family is already one: redoing it changes nothing


def test_every_record_is_plain_json():
    items = tiny_items()
    items.append({"id": "x1", "variant": "pirate", "category": None, "tags": None,
                  "scores": {"checks": np.float64(1.0), "latency_s": float("nan")}})  # numpy in, NaN in
    for record in verdict_records(items) + human_preference_records([{"id": "a", "variant": "p", "variant_votes": 1}]):
        text = json.dumps(record, allow_nan=False)
        assert json.loads(text) == record
        assert all(type(v) in (str, int, float, type(None)) for v in record.values())


def test_choosing_variants_and_metrics():
    records = verdict_records(tiny_items(), variants=["pirate"], metrics=["checks", "exact_match"])
    assert {(r["variant"], r["metric"]) for r in records} == {("pirate", "checks"), ("pirate", "exact_match")}
    nothing = [r for r in records if r["metric"] == "exact_match"]  # asked for, never scored: n 0, no evidence
    assert all(r["n"] == 0 and r["p_value"] is None and r["verdict"] == "no evidence" for r in nothing)
    assert verdict_records([]) == []


def test_another_variant_as_the_baseline():
    records = by_key(verdict_records(tiny_items(), baseline="bullets"))
    assert {k[0] for k in records} == {"base", "pirate"}
    assert records[("base", "latency_s", None)]["difference"] == pytest.approx(-0.5)


@pytest.mark.parametrize("call, error", [
    (lambda: verdict_records(tiny_items(), baseline="v9"), "the baseline 'v9' has no item records: pick one of"),
    (lambda: verdict_records(tiny_items(), variants=["v9"]), "the variant 'v9' has no item records"),
    (lambda: verdict_records(tiny_items(), metrics=["bleu"]), "unknown metric 'bleu': use one of checks"),
    (lambda: verdict_records([{"id": "a", "scores": {}}]), "item record 0 has no 'id' or no 'variant'"),
    (lambda: verdict_records([{"id": "a", "variant": "base", "sample": 0}] * 2), "'a' of 'base' has a sample number"),
    (lambda: verdict_records([{"id": "a", "variant": "base", "scores": {"checks": 0.5}},
                              {"id": "a", "variant": "p", "scores": {"checks": 1}}]), "checks is pass/fail"),
    (lambda: verdict_records_against(tiny_items(), tiny_items(), baseline_variant="v9", baseline_label="x"),
     "the baseline variant of the other evaluation 'v9'"),
    (lambda: best_first([], metric="bleu"), "unknown metric 'bleu'"),
    (lambda: verdict_records(tiny_items(), variants=["pirate", "base"]), "'base' is the baseline, so it cannot"),
    (lambda: verdict_records(tiny_items(), variants=["pirate"]), None),
])
def test_bad_input_is_one_line_error(call, error):
    if error is None:
        call()
        return
    with pytest.raises(StatisticsError, match=error) as caught:
        call()
    assert "\n" not in str(caught.value)


# --- against another evaluation ------------------------------------------------------------------

def test_against_another_evaluation_pairs_on_shared_ids():
    old = [r for r in tiny_items() if r["variant"] == "base" and r["id"] != "j1"]
    old.append({"id": "z9", "variant": "base", "scores": {"checks": 1.0}})
    new = [r for r in tiny_items() if r["variant"] == "pirate"]
    against = verdict_records_against(new, old, baseline_variant="base", baseline_label="evaluation:ev_1/base")
    assert (against.shared, against.only_candidate, against.only_baseline) == (7, ("j1",), ("z9",))
    assert {r["baseline"] for r in against.verdicts} == {"evaluation:ev_1/base"}
    # the same numbers as one evaluation holding both sides on those 7 items
    merged = [r for r in tiny_items() if r["variant"] in ("base", "pirate") and r["id"] != "j1"]
    within = verdict_records(merged, baseline="base")
    assert [{**r, "baseline": "base"} for r in against.verdicts] == within
    assert json.loads(json.dumps(against.to_json()))["only_candidate"] == ["j1"]


def test_against_an_evaluation_with_no_shared_item():
    new = [{"id": "a", "variant": "pirate", "scores": {"checks": 1.0}}]
    old = [{"id": "b", "variant": "base", "scores": {"checks": 1.0}}]
    against = verdict_records_against(new, old, baseline_variant="base", baseline_label="evaluation:ev_1/base")
    assert (against.verdicts, against.shared, against.only_candidate, against.only_baseline) == ([], 0, ("a",), ("b",))


# --- the table order ----------------------------------------------------------------------------

def record(variant, metric, difference, slice=None):
    return {key: None for key in VERDICT_KEYS} | {"variant": variant, "metric": metric, "slice": slice,
                                                   "baseline": "base", "difference": difference}


def test_best_first_ranks_variants_by_checks_then_the_other_metrics():
    records = [
        record("a", "checks", 0.1), record("a", "checks", 0.4, "tag:z"), record("a", "checks", 0.0, "category:y"),
        record("b", "latency_s", 0.1), record("b", "checks", 0.3),
        record("c", "rouge_l", 0.2), record("c", "checks", None),  # no checks value: ranks after every checks value
        record("d", "checks", 0.3), record("d", "latency_s", -0.5),  # ties b on checks; faster, and faster is better
        record("d", "output_tokens", -100.0), record("b", "output_tokens", 100.0),  # no better side: never ranks
    ]
    ordered = [(r["variant"], r["metric"], r["slice"]) for r in best_first(records)]
    assert ordered == [("d", "checks", None), ("d", "latency_s", None), ("d", "output_tokens", None),
                       ("b", "checks", None), ("b", "latency_s", None), ("b", "output_tokens", None),
                       ("a", "checks", None), ("a", "checks", "category:y"), ("a", "checks", "tag:z"),
                       ("c", "checks", None), ("c", "rouge_l", None)]
    by_rouge = [r["variant"] for r in best_first(records, metric="rouge_l") if r["slice"] is None]
    assert by_rouge[:2] == ["c", "c"]  # rouge_l first; the others (no rouge_l) fall back to checks


# --- versions on item records -----------------------------------------------------------------------

def test_evaluation_versions_list_regressed_first_with_both_outputs():
    old = [{"id": i, "variant": "pirate", "sample": 0, "output": f"old answer {i}", "category": "c", "tags": ["t"],
            "scores": {"checks": v}} for i, v in [("a", 1.0), ("b", 0.0), ("c", 1.0), ("d", 0.0), ("e", 1.0)]]
    old.append({"id": "a", "variant": "pirate", "sample": 1, "output": "second sample", "scores": {"checks": 1.0}})
    new = [{"id": i, "variant": "pirate-v2", "sample": 0, "output": f"new answer {i}", "category": "c", "tags": ["t"],
            "scores": {"checks": v}} for i, v in [("b", 1.0), ("c", 0.0), ("d", 0.0), ("e", 0.0), ("f", 1.0)]]
    result = compare_evaluation_versions(old, new, variant_old="pirate", variant_new="pirate-v2")
    assert [(row["id"], row["change"]) for row in result.items] == [
        ("c", "regressed"), ("e", "regressed"), ("b", "improved"), ("d", "unchanged")]
    c = result.comparison
    assert (c.improved, c.regressed, c.unchanged, c.only_old, c.only_new) == (1, 2, 1, ("a",), ("f",))
    # b = 1 improved, c = 2 regressed: exact McNemar 2 · P(X <= 1), X ~ Bin(3, 1/2) = 2 · 4/8 = 1
    assert (c.test, c.p_value) == ("mcnemar", pytest.approx(1.0))
    first = result.items[0]
    assert (first["old_output"], first["new_output"], first["old"], first["new"]) == (
        "old answer c", "new answer c", 1.0, 0.0)
    assert word_diff(first["old_output"], first["new_output"]) == [
        ("removed", "old"), ("added", "new"), ("same", " answer c")]  # what the view draws from the two outputs
    assert json.loads(json.dumps(result.to_json(), allow_nan=False)) == result.to_json()


def test_evaluation_versions_refuse_an_unknown_variant():
    with pytest.raises(StatisticsError, match="the new variant 'v2' has no item records: pick one of pirate"):
        compare_evaluation_versions(tiny_items(), [{"id": "a", "variant": "pirate"}], variant_old="pirate",
                                    variant_new="v2")


# --- human preference -----------------------------------------------------------------------------

def test_sign_test_by_hand():
    votes = [{"id": f"q{i}", "variant": "pirate", "variant_votes": 1, "baseline_votes": 0} for i in range(9)]
    votes.append({"id": "q9", "variant": "pirate", "variant_votes": 0, "baseline_votes": 1})
    [r] = human_preference_records(votes)
    # 9 wins, 1 loss: p = 2 · P(X <= 1), X ~ Bin(10, 1/2) = 2 · (1 + 10) / 2^10
    assert r["p_value"] == pytest.approx(2 * 11 / 1024, abs=1e-12) == pytest.approx(0.02148, abs=1e-5)
    assert (r["metric"], r["test"], r["slice"], r["baseline"], r["n"]) == ("human_preference", "sign", None, "base", 10)
    assert (r["mean"], r["baseline_mean"], r["difference"]) == pytest.approx((0.9, 0.1, 0.8))
    low, high = proportion_confint(9, 10, method="wilson")
    assert (r["mean_low"], r["mean_high"], r["low"], r["high"]) == pytest.approx((low, high, 2 * low - 1, 2 * high - 1))
    assert r["p_holm"] == r["p_value"] and r["verdict"] == "better" and r["mde"] == mde_mcnemar(10, 10)


def test_items_count_once_however_many_reviewers():
    votes = [
        {"id": "q1", "variant": "pirate", "variant_votes": 3, "baseline_votes": 0},  # one item, three votes: a win
        {"id": "q2", "variant": "pirate", "variant_votes": 1, "baseline_votes": 0},  # split over two rows: even, out
        {"id": "q2", "variant": "pirate", "variant_votes": 0, "baseline_votes": 1},
        {"id": "q3", "variant": "pirate", "variant_votes": 0, "baseline_votes": 2},  # a loss
        {"id": "q4", "variant": "pirate", "variant_votes": 0, "baseline_votes": 0},  # ties only: out
        {"id": "q1", "variant": "bullets", "baseline": "pirate", "variant_votes": 1},  # another pair
    ]
    pirate, bullets = human_preference_records(votes)
    assert (pirate["variant"], pirate["baseline"], pirate["n"], pirate["mean"], pirate["p_value"]) == (
        "pirate", "base", 2, 0.5, 1.0)
    assert (bullets["variant"], bullets["baseline"], bullets["n"], bullets["mean"]) == ("bullets", "pirate", 1, 1.0)
    [empty] = human_preference_records([{"id": "q1", "variant": "pirate"}])
    assert (empty["n"], empty["test"], empty["p_value"], empty["verdict"]) == (0, None, None, "no evidence")


@pytest.mark.parametrize("seed", range(5))
def test_sign_test_equals_statsmodels(seed):
    rng = np.random.default_rng(seed)
    n = int(rng.integers(5, 80))
    wins, losses = rng.integers(0, 4, n), rng.integers(0, 4, n)
    votes = [{"id": f"q{i}", "variant": "pirate", "variant_votes": int(w), "baseline_votes": int(b)}
             for i, (w, b) in enumerate(zip(wins, losses))]
    [r] = human_preference_records(votes)
    assert r["n"] == int(np.sum(wins != losses))
    assert r["p_value"] == pytest.approx(float(sign_test(wins - losses, 0)[1]), rel=1e-12)


@pytest.mark.parametrize("votes, error", [
    ([{"id": "q1", "variant": "pirate", "variant_votes": -1}], "variant_votes=-1: give a whole number"),
    ([{"id": "q1", "variant": "pirate", "baseline_votes": 1.5}], "baseline_votes=1.5"),
    ([{"variant": "pirate", "variant_votes": 1}], "vote row 0 has no 'id'"),
    ([{"id": "q1", "variant": "base", "variant_votes": 1}], "compares 'base' with itself"),
    ([{"id": "q1", "variant": "pirate", "variant_votes": 1}], None),
])
def test_bad_votes_are_one_line_errors(votes, error):
    if error is None:
        human_preference_records(votes)
        return
    with pytest.raises(StatisticsError, match=error):
        human_preference_records(votes)


def test_human_records_join_the_evaluations_holm_family():
    verdicts = verdict_records(tiny_items())
    human = human_preference_records([{"id": f"q{i}", "variant": "pirate", "variant_votes": 1} for i in range(12)])
    assert human[0]["p_holm"] == pytest.approx(2 / 2**12)  # alone: a family of one
    joined = holm_records(verdicts + human)
    expected = multipletests([r["p_value"] for r in verdicts + human], method="holm")[1]
    assert [r["p_holm"] for r in joined] == pytest.approx(list(expected))
    assert joined[-1]["p_holm"] == pytest.approx(17 * 2 / 2**12) and joined[-1]["verdict"] == "better"
    assert [r["variant"] for r in best_first(joined) if r["slice"] is None][-1] == "bullets"
    assert joined[-1]["mde"] == human[0]["mde"] == mde_mcnemar(12, 12)


def test_docstring_examples_hold():
    import doctest

    from adapters_ui.analysis import gate, preference, verdicts, versions

    for module in (verdicts, preference, gate, versions):
        outcome = doctest.testmod(module)
        assert outcome.attempted > 0 and outcome.failed == 0, module.__name__


def test_item_table_keeps_item_order_and_sample_order():
    table = item_table(tiny_items())
    assert table.ids == tuple(reversed(CATEGORY)) and table.variants == ("bullets", "pirate", "base")
    assert table.values("pirate", "checks", ["p3", "nope"]) == [[1.0, 0.0], []]
    assert table.output("pirate", "p1") == "pirate says p1 #0" and table.output("pirate", "nope") is None
