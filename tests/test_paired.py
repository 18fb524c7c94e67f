"""Paired statistics and version flips: hand-worked cases, verdict tables, degenerate data, and agreement with
scipy/statsmodels called directly on seeded random data."""

from __future__ import annotations

import math
from dataclasses import replace

import numpy as np
import pytest
from scipy import stats
from statsmodels.stats.contingency_tables import mcnemar
from statsmodels.stats.multitest import multipletests
from statsmodels.stats.proportion import proportion_confint

from adapters_ui.analysis.paired import (
    METRICS,
    RESAMPLES,
    SEED,
    PairedResult,
    bootstrap_interval,
    compare,
    holm,
    mcnemar_p,
    mde_continuous,
    mde_mcnemar,
    slices,
    verdict,
    wilcoxon_p,
)
from adapters_ui.analysis.versions import ItemChange, compare_versions
from adapters_ui.errors import StatisticsError


def binary_pairs(both: int, candidate_only: int, baseline_only: int, neither: int) -> tuple[list[int], list[int]]:
    """Candidate and baseline 0/1 lists with the given 2x2 table."""
    candidate = [1] * both + [1] * candidate_only + [0] * baseline_only + [0] * neither
    baseline = [1] * both + [0] * candidate_only + [1] * baseline_only + [0] * neither
    return candidate, baseline


# --- hand-worked cases ----------------------------------------------------------------------------

def test_mcnemar_exact_by_hand():
    # b = 9 items only the candidate passes, c = 1 only the baseline passes: under H0 the 10 discordant pairs
    # are fair coin flips, p = 2 * P(X <= 1), X ~ Bin(10, 1/2) = 2 * (C(10,0) + C(10,1)) / 2^10 = 22/1024.
    candidate, baseline = binary_pairs(both=5, candidate_only=9, baseline_only=1, neither=5)
    assert 2 * (math.comb(10, 0) + math.comb(10, 1)) / 2**10 == pytest.approx(0.021484375)
    assert mcnemar_p(np.array(candidate), np.array(baseline)) == pytest.approx(0.021484375, abs=1e-12)
    result = compare("pirate", "checks", candidate, baseline)
    assert (result.n, result.test, result.samples) == (20, "mcnemar", 1)
    assert result.p_value == pytest.approx(0.021484375, abs=1e-12)
    assert (result.mean, result.baseline_mean, result.difference) == pytest.approx((0.7, 0.3, 0.4))  # (9 - 1) / 20
    assert result.low > 0 and result.verdict == "better"


@pytest.mark.parametrize("differences", [[-1, 2, 3, 4, 5], [0, -1, 2, 3, 4, 5]])
def test_wilcoxon_by_hand(differences):
    # |d| ranks 1..5, W+ = 2+3+4+5 = 14, W- = 1. Exact null: each rank's sign a coin flip, 2^5 = 32 sign patterns;
    # W- <= 1 in 2 of them ({} and {1}), so p = 2 * 2/32 = 0.125. zero_method="wilcox" drops the 0 first.
    baseline = [10.0] * len(differences)
    candidate = [10.0 + d for d in differences]
    result = compare("pirate", "latency_s", candidate, baseline)
    assert result.test == "wilcoxon" and result.p_value == pytest.approx(0.125, abs=1e-12)
    assert result.verdict == "no evidence"


def test_holm_on_three_p_values_by_hand():
    # sorted 0.01, 0.03, 0.04 -> 3*0.01 = 0.03, 2*0.03 = 0.06, max(1*0.04, 0.06) = 0.06; back in input order
    template = compare("a", "checks", [1, 1], [0, 0])
    results = [replace(template, p_value=p, p_holm=p) for p in (0.01, 0.04, 0.03)]
    assert [r.p_holm for r in holm(results)] == pytest.approx([0.03, 0.06, 0.06])
    assert [r.p_value for r in holm(results)] == [0.01, 0.04, 0.03]


def test_holm_decides_the_verdict():
    clear = compare("a", "rouge_l", [0.9] * 8, [0.1] * 8)  # every difference +0.8: Wilcoxon exact 2/2^8
    assert clear.p_value == pytest.approx(2 / 2**8) and clear.verdict == "better"
    family = holm([clear] + [replace(clear, p_value=0.5)] * 2)
    assert family[0].p_holm == pytest.approx(3 * 2 / 2**8) and family[0].verdict == "better"
    family = holm([clear] + [replace(clear, p_value=0.5)] * 9)  # 10 looks: 10 * 0.0078 = 0.078 > 0.05
    assert family[0].p_holm == pytest.approx(10 * 2 / 2**8) and family[0].verdict == "no evidence"


def test_bootstrap_interval_contains_the_true_mean_difference_and_is_reproducible():
    rng = np.random.default_rng(3)
    baseline = rng.normal(0.4, 0.1, 300)
    candidate = baseline + rng.normal(0.05, 0.1, 300)  # true mean difference 0.05
    result = compare("a", "rouge_l", candidate.tolist(), baseline.tolist())
    assert result.low < 0.05 < result.high and result.high - result.low < 0.05
    assert result.low < result.difference < result.high
    assert compare("a", "rouge_l", candidate.tolist(), baseline.tolist()) == result


def test_clustering_uses_items_not_samples():
    # 3 samples per item, 6 items: n is 6, and the test runs on the per-item means (Wilcoxon, not McNemar)
    candidate = [[1, 1, 0], [1, 1, 1], [1, 0, 1], [1, 1, 1], [0, 1, 1], [1, 1, 1]]
    baseline = [[0, 0, 0], [1, 0, 0], [0, 0, 1], [0, 0, 0], [0, 1, 0], [1, 1, 0]]
    result = compare("a", "checks", candidate, baseline)
    assert (result.n, result.samples, result.test) == (6, 3, "wilcoxon")
    item_diffs = [2 / 3, 2 / 3, 1 / 3, 1, 1 / 3, 1 / 3]
    assert result.difference == pytest.approx(np.mean(item_diffs))
    assert result.p_value == pytest.approx(stats.wilcoxon(item_diffs).pvalue)
    assert result.mean == pytest.approx(np.mean([2 / 3, 1, 2 / 3, 1, 2 / 3, 1]))


def test_missing_values_are_dropped_and_counted():
    candidate = [1, None, 0, [None, None], 1, [1, None]]
    baseline = [1, 0, None, 1, float("nan"), 0]
    result = compare("a", "exact_match", candidate, baseline)
    assert (result.n, result.dropped) == (2, 4)  # items 0 and 5 (one sample left: still one sample per item)
    assert (result.mean, result.baseline_mean, result.test) == (1.0, 0.5, "mcnemar")


# --- directions and verdicts ----------------------------------------------------------------------

@pytest.mark.parametrize("metric, difference, low, high, p_holm, expected", [
    ("checks", 0.2, 0.1, 0.3, 0.01, "better"),
    ("checks", -0.2, -0.3, -0.1, 0.01, "worse"),
    ("exact_match", 0.1, 0.05, 0.2, 0.049, "better"),
    ("contains", -0.1, -0.2, -0.05, 0.001, "worse"),
    ("rouge_l", 0.1, 0.02, 0.2, 0.01, "better"),
    ("cut_off", 0.2, 0.1, 0.3, 0.01, "worse"),  # more outputs cut off
    ("cut_off", -0.2, -0.3, -0.1, 0.01, "better"),
    ("reference_perplexity", -1.5, -2.0, -1.0, 0.01, "better"),
    ("latency_s", 0.3, 0.1, 0.5, 0.01, "worse"),
    ("output_tokens", 5.0, 2.0, 8.0, 0.01, "higher"),  # information only: no better side
    ("output_tokens", -5.0, -8.0, -2.0, 0.01, "lower"),
    ("checks", 0.2, 0.1, 0.3, 0.05, "no evidence"),  # not below alpha
    ("checks", 0.2, -0.01, 0.3, 0.01, "no evidence"),  # the interval holds 0
    ("latency_s", -0.2, -0.3, 0.0, 0.01, "no evidence"),  # touching 0 is holding it
    ("checks", None, None, None, None, "no evidence"),  # n == 0
])
def test_verdict_table(metric, difference, low, high, p_holm, expected):
    assert verdict(METRICS[metric], difference, low, high, p_holm) == expected


@pytest.mark.parametrize("metric, candidate, baseline, expected", [
    ("checks", [1] * 12, [0] * 12, "better"),
    ("cut_off", [1] * 12, [0] * 12, "worse"),
    ("reference_perplexity", [2.0 + i / 10 for i in range(12)], [5.0] * 12, "better"),
    ("latency_s", [2.0 + i / 10 for i in range(12)], [1.0] * 12, "worse"),
    ("output_tokens", [40 + i for i in range(12)], [10] * 12, "higher"),
    ("rouge_l", [0.5, 0.6] * 6, [0.6, 0.5] * 6, "no evidence"),
])
def test_compare_reads_each_metrics_direction(metric, candidate, baseline, expected):
    assert compare("a", metric, candidate, baseline).verdict == expected


@pytest.mark.parametrize("call, error", [
    (lambda: compare("a", "bleu", [1], [1]), "unknown metric 'bleu': use one of checks"),
    (lambda: compare("a", "checks", [1, 0], [1]), "the candidate has 2 items and the baseline 1"),
    (lambda: compare("a", "checks", [1, 0.5], [1, 1]), "item 1 of the candidate has 0.5"),
    (lambda: compare("a", "cut_off", [1, 1], [[0, 2], 1]), "item 0 of the baseline has"),
    (lambda: slices("a", "checks", [1, 0], [1, 1], categories=["x"]), "2 items but 1 categories"),
    (lambda: compare_versions("output_tokens", {"a": 5}, {"a": 6}), "need a metric with a better side"),
    (lambda: compare_versions("checks", {"a": 1}, {"a": 3}), "item 0 of the new evaluation has 3"),
    (lambda: bootstrap_interval(np.array([])), "needs at least one value"),
    (lambda: compare("a", "checks", [1], [1]), None),
])
def test_bad_input_is_one_line_error(call, error):
    if error is None:
        call()
        return
    with pytest.raises(StatisticsError, match=error) as caught:
        call()
    assert "\n" not in str(caught.value)


# --- degenerate cases -----------------------------------------------------------------------------

@pytest.mark.parametrize("candidate, baseline", [([], []), ([None, 1], [0, None]), ([[None]], [[None]])])
def test_no_item_with_both_values_is_a_result_with_no_evidence(candidate, baseline):
    result = compare("a", "checks", candidate, baseline)
    assert (result.n, result.dropped, result.verdict) == (0, len(candidate), "no evidence")
    assert (result.mean, result.difference, result.low, result.p_value, result.p_holm, result.mde) == (None,) * 6
    tested = compare("a", "checks", [1] * 10, [0] * 10)
    family = holm([result, tested])
    assert family[0].p_holm is None and family[1].p_holm == tested.p_value  # a family of one tested result


@pytest.mark.parametrize("metric, values, test", [
    ("checks", [1, 0, 1, 1, 0], "mcnemar"),
    ("rouge_l", [0.1, 0.5, 0.3, 0.3], "wilcoxon"),
    ("checks", [[1, 0], [0, 0], [1, 1]], "wilcoxon"),
])
def test_all_ties_give_p_one_and_a_zero_width_interval(metric, values, test):
    result = compare("a", metric, values, values)
    assert (result.difference, result.low, result.high) == (0.0, 0.0, 0.0)
    assert (result.test, result.p_value, result.verdict, result.mde) == (test, 1.0, "no evidence", None)


def test_constant_nonzero_difference_gives_a_point_interval():
    result = compare("a", "latency_s", [2.5, 3.5, 4.5], [2.0, 3.0, 4.0])
    assert (result.low, result.high) == (0.5, 0.5) and result.mde is None  # no spread: sd 0
    assert result.p_value == pytest.approx(0.25)  # n = 3, all positive: 2 / 2^3
    assert compare("a", "latency_s", [2.5], [2.0]).n == 1


# --- minimal detectable difference ---------------------------------------------------------------

def test_mde_continuous_by_hand():
    # sd([1, -1, 1, -1], ddof=1) = sqrt(4/3); (1.959964 + 0.841621) * 1.154701 / sqrt(4) = 1.617502
    assert mde_continuous(np.array([1.0, -1.0, 1.0, -1.0])) == pytest.approx(1.617502, abs=1e-5)
    assert mde_continuous(np.array([1.0])) is None


def test_mde_mcnemar_solves_connors_equation():
    n, discordant = 200, 40
    delta, psi = mde_mcnemar(discordant, n), discordant / n
    z_a, z_b = stats.norm.ppf(0.975), stats.norm.ppf(0.8)
    assert n * delta**2 == pytest.approx((z_a * math.sqrt(psi) + z_b * math.sqrt(psi - delta**2)) ** 2)
    assert delta == pytest.approx(2.8 * math.sqrt(psi / n), rel=0.02)  # the rule-of-thumb it refines
    assert mde_mcnemar(0, 100) is None and mde_mcnemar(3, 3) is None  # no discordant pair; too few items
    assert mde_mcnemar(20, 400) < mde_mcnemar(10, 100)  # same rate, more items: smaller differences visible


# --- slices ---------------------------------------------------------------------------------------

def test_slices_give_all_items_then_categories_then_tags_in_one_holm_family():
    candidate = [1, 1, 1, 0, 1, 1, 0, 1]
    baseline = [0, 0, 1, 0, 1, 0, 1, 0]
    categories = ["json", "json", "json", "pirate", "pirate", "pirate", None, "json"]
    tags = [["short"], ["short", "hard"], None, ["hard"], [], ["short"], ["hard"], []]
    results = slices("a", "checks", candidate, baseline, categories=categories, tags=tags, baseline_name="v1")
    assert [(r.slice, r.n) for r in results] == [
        (None, 8), ("category:json", 4), ("category:pirate", 3), ("tag:hard", 3), ("tag:short", 3)]
    assert all(r.baseline == "v1" and r.metric == "checks" for r in results)
    json_only = compare("a", "checks", [1, 1, 1, 1], [0, 0, 1, 0], baseline_name="v1", slice="category:json")
    assert results[1] == json_only
    corrected = holm(results)
    expected = multipletests([r.p_value for r in results], method="holm")[1]
    assert [r.p_holm for r in corrected] == pytest.approx(list(expected))


def test_slices_without_categories_or_tags_is_all_items_only():
    assert [r.slice for r in slices("a", "rouge_l", [0.2, 0.4], [0.1, 0.3])] == [None]


# --- versions -------------------------------------------------------------------------------------

def test_version_flips_by_hand():
    # v1 -> v2 on checks: 9 items fixed, 1 broken, 5 pass both, 5 fail both: McNemar p = 22/1024 as above
    new, old = binary_pairs(both=5, candidate_only=9, baseline_only=1, neither=5)
    ids = [f"q{i}" for i in range(20)]
    result = compare_versions("checks", dict(zip(ids, old)), dict(zip(ids, new)))
    assert (result.improved, result.regressed, result.unchanged) == (9, 1, 10)
    assert result.items[0] == ItemChange("q14", 1.0, 0.0, "regressed")  # regressed first
    assert (result.test, result.p_value) == ("mcnemar", pytest.approx(0.021484375, abs=1e-12))
    assert result.p_value == pytest.approx(stats.binomtest(1, 10, 0.5).pvalue)


def test_version_flips_follow_the_metric_direction_and_report_unshared_ids():
    old = {"a": 0, "b": 1, "c": None, "d": 0}
    new = {"a": 1, "b": 0, "c": 1, "e": 1}
    result = compare_versions("cut_off", old, new)  # lower is better: a started being cut off
    assert [(c.item_id, c.change) for c in result.items] == [("a", "regressed"), ("b", "improved")]
    assert (result.dropped, result.only_old, result.only_new) == (("c",), ("d",), ("e",))
    assert result.p_value == 1.0


def test_version_flips_with_samples_use_wilcoxon_on_item_rates():
    old = {"a": [1, 0, 0], "b": [1, 1, 1], "c": [0, 0, 0]}
    new = {"a": [1, 1, 0], "b": [1, 1, 0], "c": [0, 0, 0]}
    result = compare_versions("checks", old, new)
    assert [c.change for c in result.items] == ["regressed", "improved", "unchanged"]
    assert result.test == "wilcoxon"
    assert result.p_value == pytest.approx(stats.wilcoxon([1 / 3, -1 / 3]).pvalue)


def test_version_changes_on_a_continuous_metric_use_wilcoxon():
    old = {"a": 0.5, "b": 0.2, "c": 0.4, "d": 0.9}
    new = {"a": 0.3, "b": 0.6, "c": 0.4, "d": 1.0}
    result = compare_versions("rouge_l", old, new)
    assert [(c.item_id, c.change) for c in result.items] == [("a", "regressed"), ("b", "improved"), ("d", "improved"),
                                                             ("c", "unchanged")]
    assert result.test == "wilcoxon"
    assert result.p_value == pytest.approx(stats.wilcoxon([-0.2, 0.4, 0.1]).pvalue)
    latency = compare_versions("latency_s", {"a": 1.0, "b": 2.0}, {"a": 1.5, "b": 1.0})  # lower is better
    assert [(c.item_id, c.change) for c in latency.items] == [("a", "regressed"), ("b", "improved")]


def test_version_flips_without_shared_items():
    result = compare_versions("checks", {"a": 1}, {"b": 1})
    assert (result.items, result.test, result.p_value, result.only_old, result.only_new) == ((), None, None, ("a",), ("b",))


# --- agreement with the libraries on random data -------------------------------------------------

@pytest.mark.parametrize("seed", range(5))
def test_binary_results_equal_the_libraries(seed):
    rng = np.random.default_rng(seed)
    n = int(rng.integers(20, 200))
    baseline = rng.integers(0, 2, n)
    candidate = np.where(rng.random(n) < 0.3, 1 - baseline, baseline)
    result = compare("a", "checks", candidate.tolist(), baseline.tolist())
    table = [[np.sum((candidate == 1) & (baseline == 1)), np.sum((candidate == 1) & (baseline == 0))],
             [np.sum((candidate == 0) & (baseline == 1)), np.sum((candidate == 0) & (baseline == 0))]]
    assert result.p_value == pytest.approx(mcnemar(table, exact=True).pvalue, rel=1e-12)
    assert (result.mean_low, result.mean_high) == pytest.approx(
        proportion_confint(int(candidate.sum()), n, alpha=0.05, method="wilson"), rel=1e-12)
    ci = stats.bootstrap(((candidate - baseline).astype(float),), np.mean, n_resamples=RESAMPLES, method="BCa",
                         rng=SEED).confidence_interval
    assert (result.low, result.high) == pytest.approx((ci.low, ci.high), rel=1e-9)


@pytest.mark.parametrize("seed", range(5))
def test_continuous_results_equal_the_libraries(seed):
    rng = np.random.default_rng(100 + seed)
    n = int(rng.integers(10, 120))
    baseline = rng.gamma(2.0, 1.0, n)
    candidate = baseline + rng.normal(0.1 * seed, 0.5, n)
    candidate[: n // 10] = baseline[: n // 10]  # some exact ties, as real scores have
    result = compare("a", "reference_perplexity", candidate.tolist(), baseline.tolist())
    assert result.p_value == pytest.approx(stats.wilcoxon(candidate - baseline, zero_method="wilcox").pvalue, rel=1e-12)
    ci = stats.bootstrap((candidate - baseline,), np.mean, n_resamples=RESAMPLES, method="BCa", rng=SEED)
    assert (result.low, result.high) == pytest.approx(tuple(ci.confidence_interval), rel=1e-9)
    assert result.difference == pytest.approx(float(np.mean(candidate - baseline)))


@pytest.mark.parametrize("seed", range(3))
def test_clustered_binary_and_holm_equal_the_libraries(seed):
    rng = np.random.default_rng(200 + seed)
    n = 60
    candidate, baseline = rng.integers(0, 2, (n, 3)), rng.integers(0, 2, (n, 3))
    results = [compare(f"v{k}", "checks", (candidate ^ (rng.random((n, 3)) < 0.1 * k)).tolist(), baseline.tolist())
               for k in range(4)]
    for r in results:
        assert r.n == n and r.test == "wilcoxon"
    direct = stats.wilcoxon(candidate.mean(axis=1) - baseline.mean(axis=1), zero_method="wilcox").pvalue
    assert results[0].p_value == pytest.approx(direct, rel=1e-12)
    corrected = holm(results)
    assert [r.p_holm for r in corrected] == pytest.approx(list(multipletests([r.p_value for r in results],
                                                                             method="holm")[1]), rel=1e-12)


def test_wilcoxon_and_mcnemar_helpers_on_their_own():
    assert wilcoxon_p(np.zeros(5)) == 1.0
    assert mcnemar_p(np.array([1, 0]), np.array([1, 0])) == 1.0
    assert isinstance(compare("a", "checks", [True, False], [False, False]), PairedResult)  # bools are 0/1
    arrays = compare("a", "checks", [np.array([1, 0, 1]), np.array([1, 1, 1])], [[0, 0, 0], [1, 0, 1]])
    assert (arrays.n, arrays.samples, arrays.difference) == (2, 3, pytest.approx(1 / 2))  # a numpy array is samples


def test_docstring_examples_hold():
    import doctest

    from adapters_ui.analysis import paired, versions

    for module in (paired, versions):
        outcome = doctest.testmod(module)
        assert outcome.attempted > 0 and outcome.failed == 0, module.__name__
