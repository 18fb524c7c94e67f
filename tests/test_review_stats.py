"""Blind-review statistics on hand-made judgements: known values, invariants, exports, escaping, figures."""

from __future__ import annotations

import csv
import html
import io
import json
import math
import re
import time

import numpy as np
import pytest

from adapters_ui.analysis.review_stats import (
    CSV_COLUMNS,
    Agreement,
    Judgement,
    Strength,
    agreement,
    bradley_terry,
    comments,
    fleiss_kappa,
    fleiss_kappa_by_formula,
    kappa_words,
    per_prompt,
    summarise,
    to_csv,
    to_json,
    wilson_interval,
    win_matrix,
    win_rates,
)
from adapters_ui.views.charts import NO_JUDGEMENTS, NO_STRENGTHS, strength_figure, win_matrix_figure
from adapters_ui.views.review_report import NOT_ENOUGH_OVERLAP, results_html, results_tables_html, verdict


def pair_games(left: str, right: str, left_wins: int, right_wins: int, ties: int = 0, both_bad: int = 0,
               reviewer: str = "r") -> list[Judgement]:
    """Judgements of one pair, spread over prompts 0, 1, 2, ... in a fixed order."""
    choices = ["left"] * left_wins + ["right"] * right_wins + ["tie"] * ties + ["both_bad"] * both_bad
    return [Judgement(i, left, right, reviewer, c) for i, c in enumerate(choices)]


# strong beats both others most of the time, mid beats weak: a clear order
CLEAR = ["strong", "mid", "weak"]
CLEAR_JUDGEMENTS = (pair_games("strong", "mid", 40, 5, ties=5)
                    + pair_games("strong", "weak", 45, 5)
                    + pair_games("mid", "weak", 35, 15))


# --- Wilson ---------------------------------------------------------------------------------------

@pytest.mark.parametrize("successes, n, expected", [
    (8, 10, (0.4902, 0.9433)),
    (0, 0, (0.0, 1.0)),
    (0, 10, (0.0, 0.2775)),  # upper = z² / (n + z²)
    (10, 10, (0.7225, 1.0)),
    (5, 10, (0.2366, 0.7634)),
])
def test_wilson_interval_known_values(successes, n, expected):
    low, high = wilson_interval(successes, n)
    assert low == pytest.approx(expected[0], abs=1e-4) and high == pytest.approx(expected[1], abs=1e-4)


def test_wilson_interval_takes_fractional_successes():
    four, half, five = wilson_interval(4, 10), wilson_interval(4.5, 10), wilson_interval(5, 10)
    assert four[0] < half[0] < five[0] and four[1] < half[1] < five[1]


# --- judgements -----------------------------------------------------------------------------------

@pytest.mark.parametrize("kwargs, message", [
    ({"choice": "A"}, "choice must be one of"),
    ({"right": "a"}, "two different variants"),
])
def test_judgement_rejects_bad_values(kwargs, message):
    values = {"prompt_index": 0, "left": "a", "right": "b", "reviewer": "r", "choice": "left", **kwargs}
    with pytest.raises(ValueError, match=message):
        Judgement(**values)


@pytest.mark.parametrize("function", [win_rates, win_matrix, bradley_terry])
def test_unknown_variant_is_named(function):
    with pytest.raises(ValueError, match="'ghost'"):
        function([Judgement(0, "a", "ghost", "r", "left")], ["a", "b"])


# --- win rates ------------------------------------------------------------------------------------

def test_win_rates_count_ties_and_both_bad_as_half():
    judgements = [
        Judgement(0, "a", "b", "r", "left"),
        Judgement(1, "a", "b", "r", "tie"),
        Judgement(2, "a", "b", "r", "both_bad"),
        Judgement(3, "a", "c", "r", "left"),
        Judgement(4, "b", "c", "r", "left"),
    ]
    rows = {w.variant: w for w in win_rates(judgements, ["d", "c", "b", "a"])}
    assert [w.variant for w in win_rates(judgements, ["d", "c", "b", "a"])] == ["a", "b", "d", "c"]  # equal rates keep input order
    a, b, c, d = rows["a"], rows["b"], rows["c"], rows["d"]
    assert (a.wins, a.losses, a.ties, a.both_bad, a.n, a.rate) == (2, 0, 1, 1, 4, 0.75)
    assert (b.wins, b.losses, b.ties, b.both_bad, b.n, b.rate) == (1, 1, 1, 1, 4, 0.5)
    assert (c.wins, c.losses, c.n, c.rate) == (0, 2, 2, 0.0)
    assert (a.low, a.high) == wilson_interval(3, 4)
    assert (d.n, d.rate, d.low, d.high) == (0, 0.0, 0.0, 1.0)  # never judged: knows nothing


# --- Bradley–Terry --------------------------------------------------------------------------------

def test_bradley_terry_ranks_the_dominant_variant_first_with_a_clear_interval():
    strengths = bradley_terry(CLEAR_JUDGEMENTS, CLEAR, bootstrap=300, seed=1)
    assert [s.variant for s in strengths] == ["strong", "mid", "weak"]
    strong, weak = strengths[0], strengths[-1]
    assert strong.low > weak.score and weak.high < strong.score
    assert all(s.low <= s.score <= s.high for s in strengths)
    assert sum(s.score for s in strengths) / 3 == pytest.approx(1000)


@pytest.mark.parametrize("left_wins, right_wins", [(3, 1), (10, 0), (0, 4)])
def test_bradley_terry_two_variants_match_the_closed_form(left_wins, right_wins):
    # With one virtual tie (half a win each way), the odds are (w + 0.5) / (l + 0.5), even for 10-0.
    strengths = {s.variant: s.score for s in bradley_terry(pair_games("a", "b", left_wins, right_wins), ["a", "b"], bootstrap=0)}
    expected = 400 * math.log10((left_wins + 0.5) / (right_wins + 0.5))
    assert strengths["a"] - strengths["b"] == pytest.approx(expected, abs=1e-6)
    assert all(math.isfinite(s) for s in strengths.values())


def test_bradley_terry_all_ties_gives_equal_scores():
    judgements = pair_games("a", "b", 0, 0, ties=6) + pair_games("b", "c", 0, 0, both_bad=4) + pair_games("a", "c", 0, 0, ties=3)
    strengths = bradley_terry(judgements, ["a", "b", "c"], bootstrap=100)
    for s in strengths:
        assert s.score == pytest.approx(1000, abs=1e-6)
        assert s.low == pytest.approx(1000, abs=1e-6) and s.high == pytest.approx(1000, abs=1e-6)


def test_bradley_terry_bootstrap_is_reproducible_with_its_seed():
    first = bradley_terry(CLEAR_JUDGEMENTS, CLEAR, bootstrap=200, seed=7)
    assert bradley_terry(CLEAR_JUDGEMENTS, CLEAR, bootstrap=200, seed=7) == first
    assert bradley_terry(CLEAR_JUDGEMENTS, CLEAR, bootstrap=200, seed=8) != first


@pytest.mark.parametrize("judgements, variants, expected", [
    ([], ["a", "b"], [Strength("a", 1000.0, 1000.0, 1000.0), Strength("b", 1000.0, 1000.0, 1000.0)]),
    ([], [], []),
])
def test_bradley_terry_without_data(judgements, variants, expected):
    assert bradley_terry(judgements, variants) == expected


def test_bradley_terry_is_fast_on_a_realistic_round():
    variants = ["a", "b", "c", "d"]
    pairs = [(x, y) for i, x in enumerate(variants) for y in variants[i + 1:]]
    choices = ["left", "left", "right", "tie", "both_bad", "left", "right"]
    judgements = [Judgement(t % 50, *pairs[t % len(pairs)], f"r{t % 5}", choices[t % len(choices)]) for t in range(1000)]
    start = time.perf_counter()
    bradley_terry(judgements, variants, bootstrap=1000, seed=0)
    assert time.perf_counter() - start < 2.0


# --- win matrix -----------------------------------------------------------------------------------

def test_win_matrix_is_complementary_and_empty_where_unjudged():
    judgements = CLEAR_JUDGEMENTS + pair_games("new", "strong", 1, 1)
    variants = [*CLEAR, "new"]
    m = win_matrix(judgements, variants)
    assert m[0][1] == pytest.approx((40 + 2.5) / 50)  # ties are half a win
    assert m[3][0] == 0.5
    assert all(m[i][i] is None for i in range(4))
    assert m[3][1] is None and m[1][3] is None  # new never met mid
    for i in range(4):
        for j in range(4):
            if m[i][j] is not None:
                assert m[i][j] + m[j][i] == pytest.approx(1.0)


# --- agreement ------------------------------------------------------------------------------------

WIKIPEDIA_FLEISS = [  # https://en.wikipedia.org/wiki/Fleiss%27_kappa#Worked_example: 14 raters, 10 items, 5 categories
    [0, 0, 0, 0, 14], [0, 2, 6, 4, 2], [0, 0, 3, 5, 6], [0, 3, 9, 2, 0], [2, 2, 8, 1, 1],
    [7, 7, 0, 0, 0], [3, 2, 6, 3, 0], [2, 5, 3, 2, 2], [6, 5, 2, 1, 0], [0, 2, 2, 3, 7],
]


@pytest.mark.parametrize("counts, expected", [
    (WIKIPEDIA_FLEISS, 0.210),
    ([[3, 0], [0, 3], [3, 0]], 1.0),  # full agreement, two categories in use
    ([[2, 1, 0, 0], [0, 0, 2, 0]], 0.4792),  # the tiny case below: P̄ = 2/3, P̄e = 0.36
    ([[1, 1], [1, 1]], -1.0),  # every pair disagrees, chance expects half
    ([[4, 0], [2, 0]], None),  # one category only: chance agreement is 1
    ([[1, 0, 0], [0, 1, 0]], None),  # no item with two votes
    ([], None),
])
def test_fleiss_kappa(counts, expected):
    kappa = fleiss_kappa(counts)
    assert kappa is None if expected is None else kappa == pytest.approx(expected, abs=1e-3)



@pytest.mark.parametrize("counts", [WIKIPEDIA_FLEISS, [[3, 0], [0, 3], [3, 0]], [[1, 1], [1, 1]], [[2, 1, 0], [0, 1, 2], [1, 1, 1]]])
def test_fleiss_kappa_equals_statsmodels_when_every_item_has_the_same_raters(counts):
    from statsmodels.stats.inter_rater import fleiss_kappa as statsmodels_fleiss_kappa

    expected = statsmodels_fleiss_kappa(counts, method="fleiss")
    assert fleiss_kappa(counts) == pytest.approx(expected, abs=1e-12)  # statsmodels itself computes it here
    # and the written-out formula that takes over when raters vary gives the same number
    assert fleiss_kappa_by_formula(np.asarray(counts, dtype=float)) == pytest.approx(expected, abs=1e-12)

TINY = [
    Judgement(0, "a", "b", "ana", "left"),
    Judgement(0, "a", "b", "bo", "left"),
    Judgement(0, "a", "b", "cy", "right"),  # item 0: 3 pairs, 1 agrees
    Judgement(1, "a", "b", "ana", "tie"),
    Judgement(1, "a", "b", "bo", "tie"),  # item 1: 1 pair, it agrees
    Judgement(2, "a", "b", "ana", "left"),  # one reviewer only: no agreement to measure
    Judgement(0, "a", "c", "dan", "left"),  # another pair on prompt 0: its own item, one reviewer
]


def test_agreement_pools_reviewer_pairs_and_computes_kappa():
    result = agreement(TINY)
    assert result.percent == pytest.approx(50.0)  # 2 agreeing pairs of 4
    assert (result.items, result.reviewers) == (2, 3)
    assert result.fleiss_kappa == pytest.approx((2 / 3 - 0.36) / (1 - 0.36))


def test_agreement_flips_a_pair_stored_the_other_way_and_keeps_a_reviewers_last_verdict():
    judgements = [
        Judgement(0, "a", "b", "ana", "left"),
        Judgement(0, "b", "a", "bo", "right"),  # also "a better"
        Judgement(0, "a", "b", "cy", "right"),
        Judgement(0, "a", "b", "cy", "left"),  # cy changed their mind: counts once, as "a better"
    ]
    assert agreement(judgements) == Agreement(percent=100.0, items=1, reviewers=3, fleiss_kappa=None)


def test_agreement_without_overlap():
    assert agreement(TINY[-2:]) == Agreement(percent=None, items=0, reviewers=0, fleiss_kappa=None)


# --- per prompt, comments -------------------------------------------------------------------------

def test_per_prompt_rows_count_wins_per_variant():
    judgements = [
        Judgement(2, "a", "b", "ana", "left"),
        Judgement(2, "a", "b", "bo", "tie"),
        Judgement(0, "b", "c", "ana", "right"),
    ]
    rows = per_prompt(judgements, ["first", "second", "third"], ["a", "b", "c"])
    assert rows == [
        {"prompt_index": 0, "prompt": "first", "judgements": 1, "wins": {"a": "—", "b": "0/1", "c": "1/1"}},
        {"prompt_index": 2, "prompt": "third", "judgements": 2, "wins": {"a": "1.5/2", "b": "0.5/2", "c": "—"}},
    ]


def test_comments_keep_only_written_ones_in_order():
    judgements = [
        Judgement(1, "a", "b", "ana", "right", "b is clearer"),
        Judgement(0, "a", "b", "bo", "tie", "   "),
        Judgement(0, "a", "b", "cy", "both_bad", "both wrong"),
    ]
    assert comments(judgements, ["p0", "p1"]) == [
        {"reviewer": "ana", "prompt_index": 1, "prompt": "p1", "pair": ["a", "b"], "choice": "right", "comment": "b is clearer"},
        {"reviewer": "cy", "prompt_index": 0, "prompt": "p0", "pair": ["a", "b"], "choice": "both_bad", "comment": "both wrong"},
    ]


@pytest.mark.parametrize("choice, expected", [
    ("left", "a better"), ("right", "b better"), ("tie", "tie"), ("both_bad", "both bad"),
])
def test_verdict_in_words(choice, expected):
    assert verdict(["a", "b"], choice) == expected


@pytest.mark.parametrize("kappa, expected", [(-0.1, "poor"), (0.1, "slight"), (0.21, "fair"), (0.5, "moderate"),
                                             (0.7, "substantial"), (0.95, "almost perfect")])
def test_kappa_words(kappa, expected):
    assert kappa_words(kappa) == expected


# --- summary and exports --------------------------------------------------------------------------

PROMPTS = ["Say hi", "Tell a joke about café owners", "Explain LoRA"]


# The clear round spread over three prompts, plus zoé, who agrees with r's last verdict on prompt 0.
ROUND = [Judgement(j.prompt_index % 3, j.left, j.right, j.reviewer, j.choice) for j in CLEAR_JUDGEMENTS] + [
    Judgement(0, "strong", "mid", "zoé", "left", "clearly better"),
    Judgement(0, "strong", "mid", "r", "left"),
]


@pytest.fixture(scope="module")
def results():
    return summarise("Round 1 — café", PROMPTS, CLEAR, ROUND, bootstrap=200, seed=3)


def test_summarise_collects_every_statistic(results):
    assert results.judgements_count == len(ROUND)
    assert results.reviewers == ["r", "zoé"]
    assert results.win_rates == win_rates(ROUND, CLEAR)
    assert results.strengths == bradley_terry(ROUND, CLEAR, bootstrap=200, seed=3)
    assert [s.variant for s in results.strengths] == ["strong", "mid", "weak"]
    assert results.win_matrix == win_matrix(ROUND, CLEAR)
    assert [r["prompt_index"] for r in results.per_prompt] == [0, 1, 2]
    assert results.agreement == Agreement(percent=100.0, items=1, reviewers=2, fleiss_kappa=None)
    assert [c["comment"] for c in results.comments] == ["clearly better"]


def test_to_csv_round_trip(results):
    rows = list(csv.DictReader(io.StringIO(to_csv(results))))
    assert list(rows[0]) == CSV_COLUMNS
    assert [r["variant"] for r in rows] == ["strong", "mid", "weak"]
    rates = {w.variant: w for w in results.win_rates}
    for row, strength in zip(rows, results.strengths):
        rate = rates[row["variant"]]
        assert [int(row[c]) for c in ("judgements", "wins", "losses", "ties", "both_bad")] == \
            [rate.n, rate.wins, rate.losses, rate.ties, rate.both_bad]
        assert float(row["win_rate"]) == pytest.approx(rate.rate, abs=1e-4)
        assert float(row["win_rate_low"]) == pytest.approx(rate.low, abs=1e-4)
        assert float(row["bt_score"]) == pytest.approx(strength.score, abs=0.05)
        assert float(row["bt_high"]) == pytest.approx(strength.high, abs=0.05)


def test_to_json_round_trip(results):
    text = to_json(results)
    assert text.endswith("}\n") and "café" in text  # readable UTF-8, not \u escapes
    document = json.loads(text)
    assert document == results.to_document()
    assert list(document)[:5] == ["title", "variants", "prompts", "judgements_count", "reviewers"]
    assert document["win_matrix"][0][0] is None
    assert document["strengths"][0]["variant"] == "strong"
    assert document["agreement"] == {"percent": 100.0, "items": 1, "reviewers": 2, "fleiss_kappa": None}


# --- HTML -----------------------------------------------------------------------------------------

SCRIPT, IMG = "<script>alert(1)</script>", "<img src=x onerror=alert(1)>"


@pytest.mark.parametrize("where", ["comment", "reviewer", "prompt", "variant", "title"])
def test_results_html_escapes_user_text(where):
    names = {"variant": f"v{IMG}", "reviewer": f"r{IMG}", "prompt": f"p{SCRIPT}", "title": f"t{SCRIPT}", "comment": f"c{SCRIPT} {IMG}"}
    other = "v" + IMG if where == "variant" else "b"
    reviewer = names["reviewer"] if where == "reviewer" else "ana"
    comment = names["comment"] if where == "comment" else "fine"
    judgements = [Judgement(0, "a", other, reviewer, "left", comment), Judgement(0, "a", other, "bo", "right")]
    prompts = [names["prompt"] if where == "prompt" else "hello"]
    title = names["title"] if where == "title" else "round"
    page = results_html(summarise(title, prompts, ["a", other], judgements, bootstrap=20))
    assert "<script>alert" not in page and "<img src=x" not in page
    assert html.escape(names[where]) in page


def test_results_html_is_one_offline_page_around_the_tables(results):
    page = results_html(results)
    assert page.startswith("<!DOCTYPE html>") and page.endswith("</html>\n")
    assert len(re.findall(r"plotly\.js v\d", page)) == 1  # inlined once, for two figures
    assert not re.search(r"<(script|link|img)[^>]+(src|href)=", page)
    assert results_tables_html(results) in page
    for heading in ("Win rates", "Strength (Bradley–Terry)", "Prompt by prompt", "Do reviewers agree?", "Comments"):
        assert f"<h2>{heading}</h2>" in page
    assert "clearly better" in page and "100% of reviewer pairs agreed" in page


def test_results_tables_html_says_when_there_is_nothing_yet():
    empty = summarise("empty", ["p"], ["a", "b"], [], bootstrap=10)
    assert "No judgements yet" in results_tables_html(empty) and "<table" not in results_tables_html(empty)
    no_overlap = summarise("solo", ["p"], ["a", "b"], [Judgement(0, "a", "b", "ana", "left")], bootstrap=10)
    assert NOT_ENOUGH_OVERLAP in results_tables_html(no_overlap)
    kappa = summarise("trio", ["p", "q"], ["a", "b"], TINY[:5], bootstrap=10)
    assert html.escape("Fleiss' κ = 0.48: moderate agreement beyond chance.") in results_tables_html(kappa)


# --- figures --------------------------------------------------------------------------------------

def test_win_matrix_figure_draws_the_matrix_with_percent_text():
    matrix = [[None, 0.85, None], [0.15, None, 0.5], [None, 0.5, None]]
    fig = win_matrix_figure(["a", "b", "c"], matrix)
    (heat,) = fig.data
    assert heat.type == "heatmap"
    assert [list(row) for row in heat.z] == matrix
    assert [list(row) for row in heat.text] == [["—", "85%", "—"], ["15%", "—", "50%"], ["—", "50%", "—"]]
    assert (heat.zmin, heat.zmid, heat.zmax) == (0, 0.5, 1)
    assert list(heat.x) == list(heat.y) == ["a", "b", "c"] and fig.layout.yaxis.autorange == "reversed"
    assert "beats" in fig.layout.title.text


def test_strength_figure_has_scores_and_interval_whiskers():
    strengths = [Strength("a", 1100.0, 1050.0, 1180.0), Strength("b", 900.0, 820.0, 950.0)]
    (dots,) = strength_figure(strengths).data
    assert list(dots.y) == ["a", "b"] and list(dots.x) == [1100.0, 900.0]
    assert list(dots.error_x.array) == [80.0, 50.0] and list(dots.error_x.arrayminus) == [50.0, 80.0]


@pytest.mark.parametrize("fig, message", [
    (win_matrix_figure(["a", "b"], [[None, None], [None, None]]), NO_JUDGEMENTS),
    (win_matrix_figure([], []), NO_JUDGEMENTS),
    (strength_figure([]), NO_STRENGTHS),
])
def test_review_figures_say_what_to_do_when_empty(fig, message):
    assert not fig.data and fig.layout.annotations[0].text == message


def test_raw_votes_read_as_shown_and_export_as_a_second_csv():
    """Issue 21, item 16: every vote, skips too, with what was shown as A and B and the variant picked."""
    from adapters_ui.analysis.review_stats import VOTE_COLUMNS, RawVote, to_json, votes_csv

    votes = [RawVote("2026-01-02T03:04:05+00:00", "ana", 0, "base", "pirate", "right", "left", "arr, better"),
             RawVote("2026-01-02T03:05:00+00:00", "bo", 1, "base", "pirate", "left", "skip")]
    judgements = [Judgement(0, "base", "pirate", "ana", "left", "arr, better")]
    results = summarise("t", ["Say hi", "Say bye"], ["base", "pirate"], judgements, bootstrap=0, votes=votes)
    rows = list(csv.DictReader(io.StringIO(votes_csv(results))))
    assert list(rows[0]) == VOTE_COLUMNS
    assert rows[0] == {"time": "2026-01-02T03:04:05+00:00", "reviewer": "ana", "prompt_index": "0", "prompt": "Say hi",
                       "left": "base", "right": "pirate", "shown_a": "pirate", "shown_b": "base", "choice": "left",
                       "winner": "base", "comment": "arr, better"}
    assert (rows[1]["shown_a"], rows[1]["choice"], rows[1]["winner"]) == ("base", "skip", "")
    assert json.loads(to_json(results))["votes"][1]["pair"] == ["base", "pirate"]
    assert results.judgements_count == 1  # a skip is a vote, not a judgement
