"""Word diffs rebuild both texts; similarity and the per-adapter summary give the numbers a reader expects."""

from __future__ import annotations

import itertools
import random

import pytest

from adapters_ui.analysis.text_diff import (
    VariantDifference,
    difference_summary,
    rows_that_differ,
    similarity,
    tokens,
    word_diff,
)

OPS = {"same", "added", "removed"}


def rebuilt(pieces, keep: str) -> str:
    return "".join(text for op, text in pieces if op in ("same", keep))


@pytest.mark.parametrize("text", ["", "one", "  two  words \n", "tab\there\n\nnewlines", "héllo wörld 日本語 🙂"])
def test_tokens_join_back_to_the_text(text):
    assert "".join(tokens(text)) == text
    assert all(t.strip() == t or not t.strip() for t in tokens(text))  # each token is a word or whitespace


@pytest.mark.parametrize(
    "base, other, expected",
    [
        ("same text here", "same text here", [("same", "same text here")]),
        ("", "", []),
        ("", "new words", [("added", "new words")]),
        ("old words", "", [("removed", "old words")]),
        ("the fox", "the quick fox", [("same", "the "), ("added", "quick "), ("same", "fox")]),
        ("the quick fox", "the slow fox", [("same", "the "), ("removed", "quick"), ("added", "slow"), ("same", " fox")]),
        # a matching space between two changed words is folded into one replacement
        ("the quick brown fox", "a slow red fox", [("removed", "the quick brown"), ("added", "a slow red"), ("same", " fox")]),
        ("a b", "a  b", [("same", "a"), ("removed", " "), ("added", "  "), ("same", "b")]),
        ("Paris is nice", "Paris is nice.", [("same", "Paris is "), ("removed", "nice"), ("added", "nice.")]),
        ("héllo wörld", "héllo 世界 🙂", [("same", "héllo "), ("removed", "wörld"), ("added", "世界 🙂")]),
    ],
)
def test_word_diff_pieces(base, other, expected):
    assert word_diff(base, other) == expected


def test_word_diff_rebuilds_both_texts_and_merges_runs():
    rng = random.Random(0)
    words = ["a", "b", "c", "the", "fox", "é", "🙂", " ", "  ", "\n"]
    for _ in range(300):
        base = "".join(rng.choice(words) for _ in range(rng.randint(0, 12)))
        other = "".join(rng.choice(words) for _ in range(rng.randint(0, 12)))
        pieces = word_diff(base, other)
        assert rebuilt(pieces, "removed") == base and rebuilt(pieces, "added") == other
        assert all(op in OPS and text for op, text in pieces)
        assert all(a[0] != b[0] for a, b in itertools.pairwise(pieces)), pieces  # adjacent pieces of one op are merged


@pytest.mark.parametrize(
    "a, b, expected",
    [
        ("", "", 1.0),
        ("same words", "same words", 1.0),
        ("", "something", 0.0),
        ("something", "", 0.0),
        ("a  b\n", "a b", 1.0),  # whitespace is ignored
        ("a b c d", "a b c e", 0.75),  # 2 * 3 matches / 8 words
        ("one two", "three four", 0.0),
        ("a b", "b a", 0.5),
    ],
)
def test_similarity_values(a, b, expected):
    assert similarity(a, b) == pytest.approx(expected)
    assert similarity(b, a) == pytest.approx(expected)


def test_similarity_stays_in_bounds():
    rng = random.Random(1)
    for _ in range(200):
        a = " ".join(rng.choice("abcde") for _ in range(rng.randint(0, 8)))
        b = " ".join(rng.choice("abcde") for _ in range(rng.randint(0, 8)))
        assert 0.0 <= similarity(a, b) <= 1.0


RECORDS = [
    {"prompt": "p1", "outputs": {"base": "a b c d", "x": "a b c d", "y": "a b c e"}},
    {"prompt": "p2", "outputs": {"base": "one two", "x": "three four", "y": "one two"}},
]


def test_difference_summary_numbers():
    assert difference_summary(RECORDS) == [
        VariantDifference("x", prompts=2, changed=1, share_changed=0.5, mean_similarity=0.5),
        VariantDifference("y", prompts=2, changed=1, share_changed=0.5, mean_similarity=0.875),
    ]


def test_difference_summary_skips_outputs_still_running():
    records = [*RECORDS, {"prompt": "p3", "outputs": {"base": "z", "x": "w", "y": None}}]
    x, y = difference_summary(records)
    assert (x.prompts, x.changed, x.share_changed) == (3, 2, pytest.approx(2 / 3))
    assert (y.prompts, y.changed) == (2, 1)


@pytest.mark.parametrize(
    "records, base, expected",
    [
        ([], "base", []),
        ([{"prompt": "p", "outputs": {"x": "a", "y": "b"}}], "base", []),  # base was not run
        ([{"prompt": "p", "outputs": {"x": "a", "y": "b"}}], "x", [VariantDifference("y", 1, 1, 1.0, 0.0)]),
        ([{"prompt": "p", "outputs": {"base": "a", "x": None}}], "base", [VariantDifference("x", 0, 0, 0.0, 0.0)]),
    ],
)
def test_difference_summary_edges(records, base, expected):
    assert difference_summary(records, base=base) == expected


@pytest.mark.parametrize(
    "outputs, differs",
    [
        ({"base": "a", "x": "a", "y": "a"}, False),
        ({"base": "a", "x": "a", "y": "b"}, True),
        ({"base": "a"}, False),
        ({"base": "a", "x": "a "}, True),  # exact text, not word similarity
        ({"base": "a", "x": None}, False),  # still running: nothing to differ yet
        ({"base": "a", "x": None, "y": "b"}, True),
    ],
)
def test_rows_that_differ(outputs, differs):
    records = [{"prompt": "same", "outputs": {"base": "s", "x": "s"}}, {"prompt": "p", "outputs": outputs}]
    assert rows_that_differ(records) == ([1] if differs else [])


def test_cut_off_outputs_do_not_count_as_differences():
    """A Stop cuts outputs at any token: "The" against '{"' says nothing about the adapter."""
    from adapters_ui.analysis.text_diff import difference_summary

    records = [
        {"prompt": "a", "outputs": {"base": "The", "json": '{"'}, "cut_off": ["base", "json"]},
        {"prompt": "b", "outputs": {"base": "Blue sky", "json": '{"answer": "blue"}'}},
        {"prompt": "c", "outputs": {"base": "Red", "json": "Red"}, "cut_off": ["json"]},
    ]
    (summary,) = difference_summary(records)
    assert (summary.variant, summary.prompts, summary.changed) == ("json", 1, 1)
