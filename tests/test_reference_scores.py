"""Reference scores: the text scores and perplexity a reader can check by hand, the per-variant
summary of a comparison's records, the leaderboard, and the shipped styles prompt set."""

from __future__ import annotations

import importlib.util
import json
import math
from pathlib import Path

import pytest

from adapters_ui.adapters.demo import PROMPT_SETS
from adapters_ui.analysis.references import (
    LEADERBOARD_COLUMNS,
    NO_CATEGORY,
    ReferenceScores,
    categories,
    contains_reference,
    exact_match,
    lcs_length,
    leaderboard_by_category,
    leaderboard_rows,
    normalize,
    perplexity,
    rouge_l_f1,
    rouge_words,
    score_references,
    score_references_by_category,
)
from adapters_ui.runs.prompts import read_prompt_items

ROOT = Path(__file__).resolve().parent.parent
STYLES = PROMPT_SETS / "styles.jsonl"
HALF = math.log(0.5)
QUARTER = math.log(0.25)


# ---- text scores ---------------------------------------------------------------------------
@pytest.mark.parametrize(
    "text, expected",
    [
        ("  The  Sky\n is\tBLUE ", "the sky is blue"),
        ("", ""),
        ("Straße", "strasse"),  # casefold, not just lower
    ],
)
def test_normalize(text, expected):
    assert normalize(text) == expected


@pytest.mark.parametrize(
    "text, expected",
    [
        ("Arr, matey! Th' sea.", ["arr", "matey", "th", "sea"]),
        ('{"answer": "42"}', ["answer", "42"]),
        ("- one\n- two", ["one", "two"]),
        ("naïve", ["na", "ve"]),  # like rouge-score: only ASCII letters and digits make words
        ("!?", []),
    ],
)
def test_rouge_words(text, expected):
    assert rouge_words(text) == expected


@pytest.mark.parametrize(
    "a, b, expected",
    [
        ("police kill the gunman", "police killed the gunman", 3),  # police _ the gunman
        ("the gunman kill police", "police killed the gunman", 2),  # the gunman
        ("a b c d e", "a c e", 3),
        ("a b", "c d", 0),
        ("", "a b", 0),
    ],
)
def test_lcs_length_either_way_round(a, b, expected):
    assert lcs_length(a.split(), b.split()) == expected
    assert lcs_length(b.split(), a.split()) == expected


@pytest.mark.parametrize(
    "output, reference, expected",
    [
        # Lin (2004): LCS 3 of 4 words each side -> P = R = 3/4 -> F1 = 0.75
        ("police kill the gunman", "police killed the gunman", 0.75),
        # LCS "the gunman" = 2 of 4 -> P = R = 1/2 -> F1 = 0.5
        ("the gunman kill police", "police killed the gunman", 0.5),
        ("police killed the gunman", "police killed the gunman", 1.0),
        ("cats sleep", "dogs bark", 0.0),  # no shared word
        ("", "dogs bark", 0.0),  # empty output
        ("dogs bark", "", 0.0),  # empty reference
        ("...", "dogs bark", 0.0),  # no words at all
        ("Police, KILLED the gunman!", "police killed the gunman", 1.0),  # case and punctuation ignored
        # LCS 2: P = 2/2, R = 2/6 -> F1 = 2 * 1 * 1/3 / (4/3) = 0.5
        ("the cat", "the cat sat on the mat", 0.5),
    ],
)
def test_rouge_l_f1(output, reference, expected):
    assert rouge_l_f1(output, reference) == pytest.approx(expected)


@pytest.mark.parametrize(
    "output, reference, exact, contains",
    [
        ("4", "4", True, True),
        ("  The Answer\n", "the   answer", True, True),  # case and whitespace normalized
        ("the answer.", "the answer", False, True),  # punctuation is not
        ("Yes, it is 4.", "4", False, True),
        ("The\n  Capital is PARIS!", "capital is paris", False, True),
        ("Paris", "The capital is Paris", False, False),  # the reference inside the output, not the reverse
        ("", "4", False, False),
        ("forty", "four", False, False),
    ],
)
def test_exact_match_and_contains(output, reference, exact, contains):
    assert exact_match(output, reference) is exact
    assert contains_reference(output, reference) is contains


@pytest.mark.parametrize(
    "logprobs, expected",
    [
        ([HALF, HALF], 2.0),  # exp(-(2 log 1/2) / 2) = 2
        ([QUARTER], 4.0),
        ([0.0, 0.0, 0.0], 1.0),  # certain of every token
        ([QUARTER, HALF, HALF, HALF], 2 ** (5 / 4)),  # exp((log 4 + 3 log 2) / 4)
        ([], None),
    ],
)
def test_perplexity(logprobs, expected):
    assert perplexity(logprobs) == (pytest.approx(expected) if expected is not None else None)


# ---- score_references ------------------------------------------------------------------------
RECORDS = [
    {"prompt": "p0", "outputs": {"base": "police kill the gunman", "a": "police killed the gunman"},
     "reference": "police killed the gunman"},
    {"prompt": "p1", "outputs": {"base": "four", "a": "It is 4"}, "reference": "4"},
    {"prompt": "p2", "outputs": {"base": "hello", "a": None}, "reference": "hello"},  # a still running
    {"prompt": "p3", "outputs": {"base": "hel", "a": "hello"}, "reference": "hello", "cut_off": ["base"]},
    {"prompt": "p4", "outputs": {"base": "x", "a": "y"}},  # no reference: never scored
]


@pytest.mark.parametrize(
    "variant, prompts, exact, contains, rouge",
    [
        # base: p0 (F, F, 0.75), p1 "four" vs "4" (F, F, 0), p2 (T, T, 1); p3 cut off
        ("base", 3, 1 / 3, 1 / 3, (0.75 + 0 + 1) / 3),
        # a: p0 (T, T, 1), p1 "It is 4" (F, T, LCS 1: P 1/3, R 1 -> F1 0.5), p3 (T, T, 1); p2 None
        ("a", 3, 2 / 3, 1.0, (1 + 0.5 + 1) / 3),
    ],
)
def test_score_references_skips_unfinished_outputs_and_averages(variant, prompts, exact, contains, rouge):
    (scores,) = score_references(RECORDS, [variant])
    assert scores == ReferenceScores(variant, prompts, pytest.approx(exact), pytest.approx(contains),
                                     pytest.approx(rouge), None)


@pytest.mark.parametrize(
    "logprobs, expected",
    [
        # p0: 1 token at log 1/4, p1: 3 at log 1/2 -> exp((log 4 + 3 log 2) / 4) = 2 ** (5/4),
        # pooled over tokens (not the mean of 4 and 2 = 3)
        ([[QUARTER], [HALF] * 3, None, None, None], 2 ** (5 / 4)),
        # the reference of p2 counts though a's output is unfinished: teacher forcing needs no output
        ([None, None, [HALF, HALF], None, None], 2.0),
        # p4 has no reference: its values are ignored
        ([[HALF], None, None, None, [QUARTER]], 2.0),
        ([None] * 5, None),  # no tokens at all
    ],
)
def test_perplexity_is_pooled_over_reference_tokens(logprobs, expected):
    (scores,) = score_references(RECORDS, ["a"], {"a": logprobs})
    assert scores.perplexity == (pytest.approx(expected) if expected is not None else None)


def test_score_references_order_and_variants_without_logprobs():
    scores = score_references(RECORDS, ["a", "base"], {"a": [[HALF]] + [None] * 4})
    assert [s.variant for s in scores] == ["a", "base"]
    assert scores[0].perplexity == pytest.approx(2.0) and scores[1].perplexity is None


@pytest.mark.parametrize(
    "records",
    [
        [],
        [{"prompt": "p", "outputs": {"base": "x"}}],
        [{"prompt": "p", "outputs": {"base": "x"}, "reference": None}],
    ],
)
def test_score_references_without_references_is_empty(records):
    assert score_references(records, ["base"]) == []


def test_logprobs_for_the_wrong_number_of_prompts_is_an_error():
    with pytest.raises(ValueError, match="for 2 prompts but there are 5"):
        score_references(RECORDS, ["a"], {"a": [[HALF], None]})


def test_a_variant_identical_to_the_base_scores_the_same_and_changes_nothing():
    records = [
        dict(r, outputs={**r["outputs"], "twin": r["outputs"]["base"]},
             **({"cut_off": ["base", "twin"]} if "base" in r.get("cut_off", ()) else {}))
        for r in RECORDS
    ]  # the twin answers and is cut off exactly where the base is
    logprobs = [[QUARTER], [HALF] * 3, [HALF], None, None]
    base, twin = score_references(records, ["base", "twin"], {"base": logprobs, "twin": logprobs})
    assert twin == ReferenceScores("twin", base.prompts, base.exact_match, base.contains, base.rouge_l,
                                   base.perplexity)
    rows = {row["variant"]: row for row in leaderboard_rows([base, twin])}
    assert all(rows["twin"][f"d_{name}"] == 0 for name in ("exact_match", "contains", "rouge_l", "perplexity"))


# ---- leaderboard ---------------------------------------------------------------------------
SCORES = [
    ReferenceScores("base", 4, 0.0, 0.25, 0.30, 8.0),
    ReferenceScores("pirate", 4, 0.50, 0.75, 0.80, 3.0),
    ReferenceScores("json_answer", 4, 0.25, 0.50, 0.80, 2.0),  # ties pirate on ROUGE-L, lower perplexity
    ReferenceScores("bullets", 4, 0.0, 0.25, 0.30, None),  # ties base on ROUGE-L, no perplexity: after it
    ReferenceScores("stopped", 0, 0.0, 0.0, 0.0, None),  # no finished output
]


def test_leaderboard_is_sorted_best_first_and_keeps_the_base():
    rows = leaderboard_rows(SCORES)
    assert [row["variant"] for row in rows] == ["json_answer", "pirate", "base", "bullets", "stopped"]
    assert all(list(row) == list(LEADERBOARD_COLUMNS) for row in rows)


@pytest.mark.parametrize(
    "variant, d_exact, d_contains, d_rouge, d_perplexity",
    [
        ("base", None, None, None, None),  # no change from itself
        ("json_answer", 0.25, 0.25, 0.50, -6.0),  # 2 - 8
        ("pirate", 0.50, 0.50, 0.50, -5.0),  # 3 - 8
        ("bullets", 0.0, 0.0, 0.0, None),  # no perplexity to compare
        ("stopped", None, None, None, None),  # a 0.0 mean over no prompt is no evidence
    ],
)
def test_leaderboard_changes_from_the_base(variant, d_exact, d_contains, d_rouge, d_perplexity):
    row = next(row for row in leaderboard_rows(SCORES) if row["variant"] == variant)
    expected = {"d_exact_match": d_exact, "d_contains": d_contains, "d_rouge_l": d_rouge, "d_perplexity": d_perplexity}
    for key, value in expected.items():
        assert row[key] == (pytest.approx(value) if value is not None else None), key


def test_leaderboard_without_the_base_has_no_changes():
    rows = leaderboard_rows(SCORES[1:])
    assert [row["variant"] for row in rows] == ["json_answer", "pirate", "bullets", "stopped"]
    assert all(row[key] is None for row in rows for key in row if key.startswith("d_"))
    assert leaderboard_rows(SCORES, base="pirate")[0]["d_perplexity"] == pytest.approx(-1.0)  # 2 - 3


# ---- per category ----------------------------------------------------------------------------
# Two styles, one prompt each; each adapter writes its own style and misses the other's entirely.
# ROUGE-L F1 on words (rouge_words):
#   p0 (pirate), reference [arr, matey, the, sea]:
#     base [the, sea]: LCS 2, P 2/2, R 2/4 -> 2/3;  pirate: the reference itself -> 1;  json [answer, no]: LCS 0 -> 0
#   p1 (json), reference [answer, blue]:
#     base [blue, sky]: LCS 1, P 1/2, R 1/2 -> 1/2;  pirate [arr, matey]: 0;  json: the reference itself -> 1
# All together: base (2/3 + 1/2) / 2 = 7/12 leads pirate and json (1/2 each), as on the styles set;
# per category each adapter leads its own, the base second.
STYLED = [
    {"prompt": "p0", "category": "pirate", "reference": "Arr, matey! The sea.",
     "outputs": {"base": "The sea.", "pirate": "Arr, matey! The sea.", "json": '{"answer": "no"}'}},
    {"prompt": "p1", "category": "json", "reference": '{"answer": "blue"}',
     "outputs": {"base": "Blue sky.", "pirate": "Arr, matey!", "json": '{"answer": "blue"}'}},
]
STYLED_VARIANTS = ["base", "pirate", "json"]
# perplexity: pirate finds p0's reference (2 tokens at 1/2) easy and p1's (1 token at 1/4) hard
STYLED_LOGPROBS = {"pirate": [[HALF, HALF], [QUARTER]]}


def test_all_together_the_base_leads_but_per_category_each_adapter_leads_its_own():
    together = leaderboard_rows(score_references(STYLED, STYLED_VARIANTS, STYLED_LOGPROBS))
    assert [(row["variant"], row["rouge_l"]) for row in together] == [
        ("base", pytest.approx(7 / 12)), ("pirate", 0.5), ("json", 0.5)]  # pirate before json: lower perplexity
    boards = leaderboard_by_category(score_references_by_category(STYLED, STYLED_VARIANTS, STYLED_LOGPROBS))
    assert list(boards) == ["pirate", "json"]  # the order the categories first appear in
    assert [(row["variant"], row["rouge_l"], row["prompts"]) for row in boards["pirate"]] == [
        ("pirate", 1.0, 1), ("base", pytest.approx(2 / 3), 1), ("json", 0.0, 1)]
    assert [(row["variant"], row["rouge_l"], row["prompts"]) for row in boards["json"]] == [
        ("json", 1.0, 1), ("base", 0.5, 1), ("pirate", 0.0, 1)]
    assert boards["pirate"][0]["d_rouge_l"] == pytest.approx(1 / 3)  # the change from the base of that category
    # each category pools its own reference tokens: exp(log 2) = 2 and exp(log 4) = 4; all together 2 ** (4/3)
    pirate = {name: next(r for r in rows if r["variant"] == "pirate") for name, rows in boards.items()}
    assert (pirate["pirate"]["perplexity"], pirate["json"]["perplexity"]) == (pytest.approx(2.0), pytest.approx(4.0))
    assert together[1]["perplexity"] == pytest.approx(2 ** (4 / 3))
    assert all(row["perplexity"] is None for rows in boards.values() for row in rows if row["variant"] != "pirate")


@pytest.mark.parametrize(
    "records, expected",
    [
        ([], []),
        ([{"prompt": "a"}, {"prompt": "b", "category": None}], []),  # no category: one overall leaderboard
        ([{"category": "x"}, {}, {"category": "y"}, {"category": "x"}], ["x", NO_CATEGORY, "y"]),
    ],
)
def test_categories_in_order_of_first_appearance(records, expected):
    assert categories(records) == expected


def test_by_category_without_categories_is_empty_and_the_overall_board_is_unchanged():
    plain = [{k: v for k, v in r.items() if k != "category"} for r in STYLED]
    assert score_references_by_category(plain, STYLED_VARIANTS, STYLED_LOGPROBS) == {}
    assert score_references(plain, STYLED_VARIANTS) == score_references(STYLED, STYLED_VARIANTS)


def test_by_category_groups_the_uncategorized_and_leaves_out_categories_without_references():
    records = [*STYLED,
               {"prompt": "p2", "reference": "Blue sky.", "outputs": {"base": "Blue sky.", "pirate": "x", "json": "y"}},
               {"prompt": "p3", "category": "chat", "outputs": {"base": "hi", "pirate": "arr", "json": "{}"}}]
    logprobs = {"pirate": [[HALF, HALF], [QUARTER], [HALF], None]}
    by_category = score_references_by_category(records, STYLED_VARIANTS, logprobs)
    assert list(by_category) == ["pirate", "json", NO_CATEGORY]  # "chat" has no reference to score against
    assert [(s.variant, s.exact_match) for s in by_category[NO_CATEGORY]] == [("base", 1.0), ("pirate", 0.0), ("json", 0.0)]
    assert by_category[NO_CATEGORY][1].perplexity == pytest.approx(2.0)


# ---- the shipped styles prompt set -----------------------------------------------------------
def _raw_lines(path: Path) -> list[dict]:
    return [json.loads(line) for line in path.read_text(encoding="utf-8").splitlines() if line.strip()]


def _styles_script():
    spec = importlib.util.spec_from_file_location("make_styles_prompts", ROOT / "scripts" / "make_styles_prompts.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_styles_prompt_set_parses_with_a_reference_and_a_category_per_prompt_4_per_category():
    items = read_prompt_items(STYLES)
    raw = _raw_lines(STYLES)
    assert len(items) == 12 and all(item.reference and item.reference.strip() for item in items)
    assert [item.text for item in items] == [r["prompt"] for r in raw]
    assert len({item.text for item in items}) == 12  # different prompts for each style
    tasks = [item.category for item in items]  # the style of each reference, read as the prompt's category
    assert tasks == [r["category"] for r in raw]
    assert {task: tasks.count(task) for task in set(tasks)} == {"pirate": 4, "json_answer": 4, "bullets": 4}
    assert tasks[:3] == ["pirate", "json_answer", "bullets"]  # interleaved


def test_styles_prompt_set_is_what_the_script_makes_from_the_held_out_answers():
    heldout = _raw_lines(ROOT / "assets" / "data" / "heldout.jsonl")
    assert _raw_lines(STYLES) == _styles_script().styles_records(heldout)
    answers = {r["prompt"]: r for r in heldout}
    assert all(answers[r["prompt"]][r["category"]] == r["reference"] for r in _raw_lines(STYLES))
