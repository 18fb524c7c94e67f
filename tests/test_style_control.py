"""Style control on hand-made texts and seeded synthetic votes with a planted (or no) length effect.

The simulated judge prefers the longer answer through a known logistic coefficient on the
normalised length difference ``(a - b) / (a + b + 1)``; "c" writes 150..900 words, "a" and "b"
40..250. Every number asserted below was checked on seeds 0..7, not only the ones run here.
"""

from __future__ import annotations

import dataclasses
import doctest
import json
import math
import warnings

import numpy as np
import pytest

from adapters_ui.analysis import style_control
from adapters_ui.analysis.review_stats import Judgement, bradley_terry
from adapters_ui.analysis.style_control import (
    STYLE_NAMES,
    StyleFeatures,
    length_controlled_win_rates,
    style_controlled_strengths,
    style_features,
)
from adapters_ui.errors import StatisticsError

PLANTED = 2.5  # log-odds per unit of normalised length difference
VARIANTS = ["a", "b", "c"]
FLIP = {"left": "right", "right": "left", "tie": "tie", "both_bad": "both_bad"}


def simulate(seed: int, length_effect: float = PLANTED, strength: dict | None = None, prompts: int = 150):
    """Each prompt: a, b, c answer (c at length), each of the 3 pairs is judged once; c is always on the right."""
    rng = np.random.default_rng(seed)
    strength = strength or {"a": 0.0, "b": 0.0, "c": 0.0}
    features, judgements = {}, []
    for p in range(prompts):
        words = {"a": int(rng.integers(40, 250)), "b": int(rng.integers(40, 250)), "c": int(rng.integers(150, 900))}
        for v, w in words.items():
            features[p, v] = StyleFeatures(w, int(rng.integers(0, 3)), 0, 0)  # headers at random: no effect planted
        for left, right in (("a", "b"), ("a", "c"), ("b", "c")):
            difference = (words[left] - words[right]) / (words[left] + words[right] + 1)
            p_left = 1 / (1 + math.exp(-(strength[left] - strength[right] + length_effect * difference)))
            judgements.append(Judgement(p, left, right, "judge", "left" if rng.random() < p_left else "right"))
    return judgements, features


def by_variant(result):
    return {s.variant: s for s in result.strengths}


def same_style(judgements, words: int = 10):
    return {(j.prompt_index, v): StyleFeatures(words, 0, 0, 0) for j in judgements for v in (j.left, j.right)}


# --- features ------------------------------------------------------------------------------------

@pytest.mark.parametrize("text, expected", [
    ("", (0, 0, 0, 0)),
    ("Just  one\tline\nand two", (5, 0, 0, 0)),
    ("# Title\n## Sub title\n###### Six\n####### seven is too many\n#hashtag\n    # indented code", (16, 3, 0, 0)),
    ("- one\n* two\n+ three\n• four\n•five\n1. six\n12) seven\n  - nested", (15, 0, 8, 0)),
    ("-not a list\n*emphasis*\n2024 was a year\n1.5 litres", (10, 0, 0, 0)),
    ("* * *\n---\n- - -\n___", (8, 0, 0, 0)),  # lines across, not lists (nor bold)
    ("**bold** and __also__ and **two words**", (6, 0, 0, 3)),
    ("a snake_case_name, ****, ** spaced **, x__y__z", (7, 0, 0, 0)),
    ("Use `**kwargs` here", (3, 0, 0, 0)),  # inline code is not style
    ("```python\n# comment\n- x\n**y**\n```\n# Real", (9, 1, 0, 0)),  # fenced code either
    ("~~~\n# inside\n~~~\n- item **b**", (7, 0, 1, 1)),
    ("```\n# an unclosed fence runs to the end\n- x", (11, 0, 0, 0)),
])
def test_style_features_count_hand_written_texts(text, expected):
    assert style_features(text).counts() == expected


def test_style_features_are_frozen_plain_ints():
    features = style_features("# A\n- **b**")
    assert all(type(x) is int for x in features.counts())
    with pytest.raises(dataclasses.FrozenInstanceError):
        features.words = 3


# --- plain fit = review_stats' Bradley–Terry ---------------------------------------------------------

def test_two_variants_hand_worked():
    """3 wins of 4 plus one virtual tie: pirate wins 3.5 of 5, odds 7:3, so 400·log10(7/3) Elo points apart."""
    js = [Judgement(p, "base", "pirate", "r", c) for p, c in enumerate(["right", "right", "right", "left"])]
    result = style_controlled_strengths(js, ["base", "pirate"], same_style(js))
    pirate, base = result.strengths
    assert pirate.variant == "pirate"
    assert pirate.plain == pytest.approx(1000 + 200 * math.log10(7 / 3), abs=1e-6)
    assert base.plain == pytest.approx(1000 - 200 * math.log10(7 / 3), abs=1e-6)
    assert (pirate.controlled, base.controlled) == pytest.approx((pirate.plain, base.plain), abs=1e-6)
    assert result.coefficients == [] and [d.name for d in result.dropped] == list(STYLE_NAMES)


@pytest.mark.parametrize("seed", range(3))
def test_plain_fit_is_review_stats_bradley_terry(seed):
    rng = np.random.default_rng(seed)
    variants = ["w", "x", "y", "z"]
    choices = rng.choice(["left", "right", "tie", "both_bad"], size=120, p=[0.45, 0.3, 0.15, 0.1])
    pairs = [(variants[i], variants[j]) for i in range(4) for j in range(i + 1, 4)]
    js = [Judgement(n, *pairs[n % len(pairs)], "r", str(c)) for n, c in enumerate(choices)]
    js += [Judgement(999, "w", "z", "r", "left")] * 5  # w never loses to z: separation, kept finite by the virtual tie
    features = {(j.prompt_index, v): StyleFeatures(int(rng.integers(5, 300)), 0, 0, 0) for j in js for v in (j.left, j.right)}
    plain = {s.variant: s.plain for s in style_controlled_strengths(js, variants, features).strengths}
    expected = {s.variant: s.score for s in bradley_terry(js, variants, bootstrap=0)}
    assert plain == pytest.approx(expected, abs=1e-3)


# --- a planted length effect -------------------------------------------------------------------------

@pytest.mark.parametrize("seed", range(5))
def test_planted_length_effect_is_controlled_away(seed):
    js, features = simulate(seed)
    result = style_controlled_strengths(js, VARIANTS, features)
    s = by_variant(result)
    assert s["c"].plain_rank == 1 and s["c"].plain - max(s["a"].plain, s["b"].plain) > 150  # length wins plain
    controlled = [x.controlled for x in result.strengths]
    assert max(controlled) - min(controlled) < 100  # equal strengths: within noise once length is controlled
    length, headers = result.coefficients
    assert length.name == "length" and length.low <= PLANTED * length.scale <= length.high and length.p_value < 1e-6
    assert headers.name == "headers" and headers.low <= 0 <= headers.high  # headers were random: no effect found
    assert [(d.name, d.reason) for d in result.dropped] == [("lists", "no judged pair differs in lists"),
                                                           ("bold", "no judged pair differs in bold")]


def test_planted_length_effect_bootstrap_intervals():
    js, features = simulate(0)
    s = by_variant(style_controlled_strengths(js, VARIANTS, features, bootstrap=100, seed=1))
    assert all(x.controlled_low <= 1000 <= x.controlled_high for x in s.values())  # all three plausibly equal
    assert s["c"].plain_low > max(s["a"].plain_high, s["b"].plain_high)  # plain: c clearly first
    assert all(x.plain_low <= x.plain <= x.plain_high and x.controlled_low <= x.controlled <= x.controlled_high
               for x in s.values())


@pytest.mark.parametrize("seed", range(5))
def test_a_weaker_variant_that_writes_more_loses_its_rank(seed):
    js, features = simulate(seed, strength={"a": 0.0, "b": 0.0, "c": -0.5})
    s = by_variant(style_controlled_strengths(js, VARIANTS, features))
    assert (s["c"].plain_rank, s["c"].controlled_rank, s["c"].rank_changed) == (1, 3, True)
    assert all(x.rank_changed == (x.plain_rank != x.controlled_rank) for x in s.values())


@pytest.mark.parametrize("seed", range(5))
def test_without_a_style_effect_control_changes_nothing(seed):
    js, features = simulate(seed, length_effect=0.0, strength={"a": 0.6, "b": 0.0, "c": -0.6})
    result = style_controlled_strengths(js, VARIANTS, features)
    assert all(abs(x.controlled - x.plain) < 50 and not x.rank_changed for x in result.strengths)
    assert [x.variant for x in result.strengths] == ["a", "b", "c"]
    length = result.coefficients[0]
    assert length.low <= 0 <= length.high


def test_the_pairs_order_does_not_matter():
    """A difference flips sign with the pair's order; centring it (as LMArena does) would break this."""
    js, features = simulate(3)
    flipped = [Judgement(j.prompt_index, j.right, j.left, j.reviewer, FLIP[j.choice]) for j in js]
    one, other = style_controlled_strengths(js, VARIANTS, features), style_controlled_strengths(flipped, VARIANTS, features)
    for x, y in zip(one.strengths, other.strengths):
        assert (x.variant, x.plain, x.controlled) == (y.variant, pytest.approx(y.plain), pytest.approx(y.controlled))
    for x, y in zip(one.coefficients, other.coefficients):
        assert (x.estimate, x.low, x.high, x.p_value) == pytest.approx((y.estimate, y.low, y.high, y.p_value))


# --- length-controlled win rates -----------------------------------------------------------------------

@pytest.mark.parametrize("seed", range(5))
def test_lc_win_rate_of_the_long_winded_variant_falls_toward_half(seed):
    js, features = simulate(seed)
    rows = {r.variant: r for r in length_controlled_win_rates(js, "a", features)}
    assert set(rows) == {"b", "c"} and rows["c"].n == rows["b"].n == 150
    c, b = rows["c"], rows["b"]
    assert c.win_rate > 0.7 and c.lc_win_rate < c.win_rate - 0.1 and c.lc_low <= 0.5 <= c.lc_high
    assert c.length_coefficient > 0
    assert abs(b.lc_win_rate - b.win_rate) < 0.1  # b writes like a: nothing to control


def test_lc_win_rate_hand_worked_with_equal_lengths():
    """8 wins, 1 tie, 1 loss of 10 at equal length: (8.5 + half of one virtual tie) / 11."""
    js = [Judgement(p, "base", "v", "r", c) for p, c in enumerate(["right"] * 8 + ["tie", "left"])]
    [row] = length_controlled_win_rates(js, "base", same_style(js))
    assert (row.variant, row.n, row.win_rate, row.length_coefficient) == ("v", 10, 0.85, None)
    assert row.lc_win_rate == pytest.approx(9 / 11)
    assert row.lc_low < row.lc_win_rate < row.lc_high


def test_lc_win_rate_reads_the_baseline_on_either_side():
    js, features = simulate(5)
    flipped = [Judgement(j.prompt_index, j.right, j.left, j.reviewer, FLIP[j.choice]) for j in js]
    one, other = length_controlled_win_rates(js, "a", features), length_controlled_win_rates(flipped, "a", features)
    assert [(r.variant, r.win_rate) for r in one] == [(r.variant, r.win_rate) for r in other]
    assert [r.lc_win_rate for r in one] == pytest.approx([r.lc_win_rate for r in other])


# --- degenerate inputs -----------------------------------------------------------------------------

def test_no_judgements_give_every_variant_the_mean():
    result = style_controlled_strengths([], VARIANTS, {}, bootstrap=10)
    assert [(s.plain, s.controlled, s.plain_rank, s.controlled_rank, s.rank_changed) for s in result.strengths] == [
        (1000.0, 1000.0, 1, 1, False)] * 3
    assert result.coefficients == [] and {d.reason for d in result.dropped} == {"no judgements"}


@pytest.mark.parametrize("variants, expected", [
    (["solo"], [("solo", 1000.0, 1)]),
    ([], []),
])
def test_fewer_than_two_variants(variants, expected):
    result = style_controlled_strengths([], variants, {})
    assert [(s.variant, s.controlled, s.controlled_rank) for s in result.strengths] == expected
    assert len(result.dropped) == len(STYLE_NAMES)


def test_a_style_that_follows_the_variant_is_dropped_not_singular():
    """pirate always writes twice as long: its length and its strength cannot be told apart."""
    js = [Judgement(p, "base", "pirate", "r", "right" if p % 3 else "left") for p in range(9)]
    features = {(p, v): StyleFeatures(20, 0, 0, 1) if v == "pirate" else StyleFeatures(10, p % 2, 0, 0)
                for p in range(9) for v in ("base", "pirate")}
    result = style_controlled_strengths(js, ["base", "pirate"], features)
    assert [d.name for d in result.dropped] == ["length", "lists", "bold"]
    assert "cannot be told apart" in result.dropped[0].reason and "cannot be told apart" in result.dropped[2].reason
    assert result.dropped[1].reason == "no judged pair differs in lists"
    assert [c.name for c in result.coefficients] == ["headers"]  # base has a header on odd prompts: estimable
    assert all(math.isfinite(s.controlled) for s in result.strengths)


def test_perfect_separation_stays_finite_and_quiet():
    """a always wins, and it writes longer (or as long) answers: the virtual ties keep every estimate finite."""
    js = [Judgement(p, "a", "b", "r", "left") for p in range(20)]
    features = {(p, v): StyleFeatures(100 + (3 * p if v == "a" else p), p % 3 if v == "a" else 0, 0, 0)
                for p in range(20) for v in ("a", "b")}
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        result = style_controlled_strengths(js, ["a", "b"], features, bootstrap=20)
        [lc] = length_controlled_win_rates(js, "b", features)
    numbers = [x for s in result.strengths for x in dataclasses.astuple(s)[1:]]
    numbers += [x for c in result.coefficients for x in dataclasses.astuple(c)[1:]]
    assert all(math.isfinite(x) for x in numbers)
    assert result.strengths[0].variant == "a" and result.strengths[0].plain > 1200
    assert lc.win_rate == 1.0 and 0.5 < lc.lc_win_rate < 1.0 and math.isfinite(lc.length_coefficient)


@pytest.mark.parametrize("call, error", [
    (lambda: style_controlled_strengths([Judgement(0, "a", "ghost", "r", "left")], ["a", "b"], {}),
     "names 'ghost', not one of the variants"),
    (lambda: style_controlled_strengths([Judgement(0, "a", "b", "r", "left"), Judgement(1, "a", "b", "r", "left")], ["a", "b"],
                                        {(0, "a"): StyleFeatures(1, 0, 0, 0), (0, "b"): StyleFeatures(1, 0, 0, 0)}),
     "no style features for 2 judged output.*prompt 1 of 'a'"),
    (lambda: length_controlled_win_rates([Judgement(0, "a", "b", "r", "left")], "base", {}),
     r"the baseline 'base' is in no judgement: pick one of \['a', 'b'\]"),
    (lambda: length_controlled_win_rates([Judgement(0, "a", "b", "r", "left")], "a", {(0, "a"): StyleFeatures(1, 0, 0, 0)}),
     "prompt 0 of 'b'"),
    (lambda: style_controlled_strengths([], ["a"], {}), None),
])
def test_errors_are_one_clear_line(call, error):
    if error is None:
        call()
        return
    with pytest.raises(StatisticsError, match=error) as caught:
        call()
    assert "\n" not in str(caught.value)


# --- results are plain data ----------------------------------------------------------------------------

def test_results_are_plain_floats_and_json_and_reproducible():
    js, features = simulate(2, prompts=30)
    result = style_controlled_strengths(js, VARIANTS, features, bootstrap=20, seed=4)
    again = style_controlled_strengths(js, VARIANTS, features, bootstrap=20, seed=4)
    assert result == again
    document = result.to_document()
    json.dumps(document, allow_nan=False)
    for row in document["strengths"] + document["coefficients"]:
        assert all(type(v) in (str, int, float, bool) for v in row.values())
    lc_rows = length_controlled_win_rates(js, "a", features)
    assert all(type(v) in (str, int, float) for r in lc_rows for v in dataclasses.astuple(r))


def test_without_bootstrap_the_interval_is_the_point():
    js, features = simulate(2, prompts=30)
    for s in style_controlled_strengths(js, VARIANTS, features).strengths:
        assert (s.plain_low, s.plain_high, s.controlled_low, s.controlled_high) == (s.plain, s.plain, s.controlled, s.controlled)


def test_doctests_in_the_module_run():
    outcome = doctest.testmod(style_control)
    assert outcome.attempted >= 5 and outcome.failed == 0
