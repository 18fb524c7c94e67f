"""Judge-model statistics on hand-made verdicts: the position swap, and agreement with human reviewers."""

from __future__ import annotations

import doctest
import json
import math

import numpy as np
import pytest

from adapters_ui.analysis import judge_agreement
from adapters_ui.analysis.judge_agreement import (
    LABELS,
    JudgeHumanAgreement,
    SwapStats,
    cohen_kappa,
    combine_orders,
    judge_human_agreement,
    swap_stats,
)
from adapters_ui.analysis.review_stats import Judgement

# --- combine_orders ------------------------------------------------------------------------------

# left_first: the pair's left variant was shown first ("first" = left); right_first: shown second ("first" = right).
COMBINE_CASES = [
    # left_first, right_first, expected, error
    ("first", "first", ("tie", False), None),  # the first-shown answer always wins: position, not quality
    ("first", "second", ("left", True), None),
    ("first", "tie", ("tie", False), None),
    ("first", "unparseable", ("unparseable", False), None),
    ("second", "first", ("right", True), None),
    ("second", "second", ("tie", False), None),  # the second-shown answer always wins
    ("second", "tie", ("tie", False), None),
    ("second", "unparseable", ("unparseable", False), None),
    ("tie", "first", ("tie", False), None),
    ("tie", "second", ("tie", False), None),
    ("tie", "tie", ("tie", True), None),
    ("tie", "unparseable", ("unparseable", False), None),
    ("unparseable", "first", ("unparseable", False), None),
    ("unparseable", "second", ("unparseable", False), None),
    ("unparseable", "tie", ("unparseable", False), None),
    ("unparseable", "unparseable", ("unparseable", False), None),
    ("First", "second", None, "left-first verdict must be one of first, second, tie, unparseable, got 'First'"),
    ("first", "left", None, "right-first verdict must be one of first, second, tie, unparseable, got 'left'"),
    ("", "tie", None, "left-first verdict"),
]


@pytest.mark.parametrize(("left_first", "right_first", "expected", "error"), COMBINE_CASES)
def test_combine_orders(left_first, right_first, expected, error):
    if error:
        with pytest.raises(ValueError, match=error):
            combine_orders(left_first, right_first)
    else:
        assert combine_orders(left_first, right_first) == expected


def test_combine_orders_covers_all_sixteen_combinations():
    valid = {(lf, rf) for lf, rf, _, error in COMBINE_CASES if error is None}
    assert valid == {(lf, rf) for lf in judge_agreement.ORDER_VERDICTS for rf in judge_agreement.ORDER_VERDICTS}


def test_combine_orders_is_symmetric_under_relabelling_the_pair():
    """Swapping which variant is called left swaps the two orders and mirrors the choice."""
    mirror = {"left": "right", "right": "left", "tie": "tie", "unparseable": "unparseable"}
    for lf in judge_agreement.ORDER_VERDICTS:
        for rf in judge_agreement.ORDER_VERDICTS:
            choice, consistent = combine_orders(lf, rf)
            assert combine_orders(rf, lf) == (mirror[choice], consistent)


# --- swap_stats ----------------------------------------------------------------------------------


def test_a_judge_that_always_answers_first_is_fully_biased_and_never_consistent():
    stats = swap_stats([("first", "first")] * 7)
    assert stats.position_bias == 1.0
    assert stats.consistency == 0.0
    assert stats.consistent == 0
    assert (stats.favours_first, stats.favours_second) == (7, 0)
    assert [combine_orders(*o) for o in [("first", "first")] * 7] == [("tie", False)] * 7


def test_a_judge_that_always_answers_second_has_bias_zero():
    stats = swap_stats([("second", "second")] * 4)
    assert (stats.position_bias, stats.consistency, stats.favours_first, stats.favours_second) == (0.0, 0.0, 0, 4)


@pytest.mark.parametrize("left_wins", [0, 1, 3, 10])
def test_a_perfect_judge_is_consistent_and_unbiased(left_wins):
    """It names the better answer whichever side it is on: every decisive pair adds one first and one second win."""
    right_wins, ties = 10 - left_wins, 2
    orders = [("first", "second")] * left_wins + [("second", "first")] * right_wins + [("tie", "tie")] * ties
    stats = swap_stats(orders)
    assert stats == SwapStats(pairs=12, unparseable=0, consistent=12, consistency=1.0, favours_first=0,
                              favours_second=0, first_wins=10, decisive=20, position_bias=0.5)


SWAP_CASES = [
    # orders, pairs, unparseable, consistent, consistency, first_wins, decisive, position_bias
    ([], 0, 0, 0, None, 0, 0, None),
    ([("unparseable", "unparseable")] * 3, 3, 3, 0, None, 0, 0, None),
    # the readable half of an unparseable pair is not counted: no guess, and no bias from it either
    ([("first", "unparseable"), ("unparseable", "first")], 2, 2, 0, None, 0, 0, None),
    ([("first", "second"), ("first", "unparseable")], 2, 1, 1, 1.0, 1, 2, 0.5),
    ([("tie", "tie"), ("tie", "tie")], 2, 0, 2, 1.0, 0, 0, None),  # consistent, but never decisive
    ([("first", "tie"), ("tie", "second")], 2, 0, 0, 0.0, 1, 2, 0.5),
    ([("first", "second"), ("first", "first"), ("second", "first"), ("tie", "first")], 4, 0, 2, 0.5, 5, 7, 5 / 7),
]


@pytest.mark.parametrize(("orders", "pairs", "unparseable", "consistent", "consistency", "first_wins", "decisive",
                          "bias"), SWAP_CASES)
def test_swap_stats_counts(orders, pairs, unparseable, consistent, consistency, first_wins, decisive, bias):
    stats = swap_stats(orders)
    assert (stats.pairs, stats.unparseable, stats.consistent, stats.first_wins, stats.decisive) == (
        pairs, unparseable, consistent, first_wins, decisive)
    assert stats.consistency == (None if consistency is None else pytest.approx(consistency))
    assert stats.position_bias == (None if bias is None else pytest.approx(bias))


def test_swap_stats_rejects_an_unknown_verdict():
    with pytest.raises(ValueError, match="right-first verdict must be one of"):
        swap_stats([("first", "second"), ("first", "A")])


def test_swap_stats_document_is_plain_json():
    doc = swap_stats([("first", "second"), ("first", "first"), ("tie", "unparseable")]).to_document()
    assert json.loads(json.dumps(doc)) == doc
    assert list(doc) == ["pairs", "unparseable", "consistent", "consistency", "favours_first", "favours_second",
                         "first_wins", "decisive", "position_bias"]
    assert all(type(v) in (int, float, type(None)) for v in doc.values())


# --- judge vs humans -----------------------------------------------------------------------------


def votes_from_table(table: list[list[int]], reviewer: str = "ana") -> tuple[list[Judgement], list[Judgement]]:
    """Judge and human judgements whose agreement table is ``table[human][judge]`` (LABELS order), one prompt each."""
    judge, human, prompt = [], [], 0
    for h, row in zip(LABELS, table):
        for j, count in zip(LABELS, row):
            for _ in range(count):
                human.append(Judgement(prompt, "base", "pirate", reviewer, h))
                judge.append(Judgement(prompt, "base", "pirate", "judge", j))
                prompt += 1
    return judge, human


def test_agreement_matches_a_hand_worked_table():
    # rows human, columns judge, in left/right/tie order; 12 comparisons, 8 on the diagonal
    table = [[4, 1, 0],
             [1, 3, 1],
             [0, 1, 1]]
    # with ties: po = 8/12 = 2/3; margins rows (5, 5, 2), columns (5, 5, 2)
    #   pe = (5*5 + 5*5 + 2*2) / 12**2 = 54/144 = 3/8; kappa = (2/3 - 3/8) / (1 - 3/8) = (7/24) / (15/24) = 7/15
    # without ties: the left/right block [[4, 1], [1, 3]], 9 comparisons, 7 agree: po = 7/9
    #   margins rows (5, 4), columns (5, 4): pe = (25 + 16)/81 = 41/81; kappa = (63 - 41)/(81 - 41) = 22/40 = 11/20
    result = judge_human_agreement(*votes_from_table(table))
    assert result.compared == 12
    assert result.confusion == table
    assert result.labels == ["left", "right", "tie"]
    assert result.percent_with_ties == pytest.approx(100 * 2 / 3)
    assert result.kappa_with_ties == pytest.approx(7 / 15)
    assert result.compared_without_ties == 9
    assert result.percent_without_ties == pytest.approx(100 * 7 / 9)
    assert result.kappa_without_ties == pytest.approx(11 / 20)
    assert len(result.disagreements) == 12 - 8


def kappa_by_formula(a: np.ndarray, b: np.ndarray) -> float:
    """Cohen's kappa straight from two label arrays: (po - pe) / (1 - pe), pe from each rater's own rates."""
    po = float(np.mean(a == b))
    pe = sum(float(np.mean(a == c)) * float(np.mean(b == c)) for c in np.union1d(a, b))
    return (po - pe) / (1 - pe)


@pytest.mark.parametrize("seed", [0, 1, 2])
def test_kappa_matches_an_independent_formula_on_random_votes(seed):
    rng = np.random.default_rng(seed)
    human = rng.choice(LABELS, size=200, p=[0.45, 0.35, 0.2])
    judge = np.where(rng.random(200) < 0.6, human, rng.choice(LABELS, size=200))  # agrees 60% of the time, then noise
    js = [Judgement(i, "base", "pirate", "judge", str(c)) for i, c in enumerate(judge)]
    hs = [Judgement(i, "base", "pirate", "ana", str(c)) for i, c in enumerate(human)]
    result = judge_human_agreement(js, hs)
    assert result.kappa_with_ties == pytest.approx(kappa_by_formula(human, judge))
    assert result.percent_with_ties == pytest.approx(100 * float(np.mean(human == judge)))
    sided = (human != "tie") & (judge != "tie")
    assert result.compared_without_ties == int(sided.sum())
    assert result.kappa_without_ties == pytest.approx(kappa_by_formula(human[sided], judge[sided]))
    assert 0.2 < result.kappa_with_ties < 0.9  # the judge is informative, not perfect


AGREEMENT_CASES = [
    # human choice, judge choice, percent and kappa with ties, compared, percent and kappa without ties
    # (one vote each: agreeing, chance agreement is 1 and kappa None; disagreeing, chance agreement is 0 and kappa 0)
    ("left", "left", 100.0, None, 1, 100.0, None),
    ("left", "right", 0.0, 0.0, 1, 0.0, 0.0),
    ("left", "tie", 0.0, 0.0, 0, None, None),
    ("tie", "right", 0.0, 0.0, 0, None, None),
    ("tie", "tie", 100.0, None, 0, None, None),
    ("both_bad", "tie", 100.0, None, 0, None, None),  # "both bad" is a tie: neither side wins
    ("tie", "both_bad", 100.0, None, 0, None, None),
    ("both_bad", "both_bad", 100.0, None, 0, None, None),
    ("both_bad", "left", 0.0, 0.0, 0, None, None),
]


@pytest.mark.parametrize(("human_choice", "judge_choice", "with_ties", "kappa", "compared_without", "without_ties",
                          "kappa_without"), AGREEMENT_CASES)
def test_agreement_with_and_without_ties(human_choice, judge_choice, with_ties, kappa, compared_without, without_ties,
                                         kappa_without):
    result = judge_human_agreement([Judgement(3, "base", "pirate", "judge", judge_choice)],
                                   [Judgement(3, "base", "pirate", "ana", human_choice)])
    assert (result.compared, result.percent_with_ties, result.kappa_with_ties) == (1, with_ties, kappa)
    assert (result.compared_without_ties, result.percent_without_ties, result.kappa_without_ties) == (
        compared_without, without_ties, kappa_without)
    assert len(result.disagreements) == (with_ties == 0.0)


def test_both_bad_lands_in_the_tie_row_and_disagreements_show_it_as_voted():
    result = judge_human_agreement([Judgement(0, "base", "pirate", "judge", "left")],
                                   [Judgement(0, "base", "pirate", "ana", "both_bad")])
    assert result.confusion == [[0, 0, 0], [0, 0, 0], [1, 0, 0]]
    assert result.disagreements == [{"prompt_index": 0, "left": "base", "right": "pirate", "reviewer": "ana",
                                     "human": "both_bad", "judge": "left"}]


def test_several_humans_on_a_pair_are_several_comparisons():
    judge = [Judgement(0, "base", "pirate", "judge", "right")]
    human = [Judgement(0, "base", "pirate", name, choice)
             for name, choice in [("ana", "right"), ("bo", "right"), ("cy", "left")]]
    result = judge_human_agreement(judge, human)
    assert result.compared == 3
    assert result.percent_with_ties == pytest.approx(200 / 3)
    assert result.confusion == [[0, 1, 0], [0, 2, 0], [0, 0, 0]]
    assert [d["reviewer"] for d in result.disagreements] == ["cy"]


def test_a_pair_stored_the_other_way_round_is_matched_and_flipped():
    judge = [Judgement(0, "pirate", "base", "judge", "left"),  # pirate won
             Judgement(1, "pirate", "base", "judge", "tie")]
    human = [Judgement(0, "base", "pirate", "ana", "right"),  # pirate won
             Judgement(1, "base", "pirate", "ana", "left")]
    result = judge_human_agreement(judge, human)
    assert result.compared == 2
    assert result.percent_with_ties == 50.0
    # the item's orientation is the names sorted: (base, pirate)
    assert result.disagreements == [{"prompt_index": 1, "left": "base", "right": "pirate", "reviewer": "ana",
                                     "human": "left", "judge": "tie"}]


def test_a_reviewer_who_judged_an_item_twice_counts_with_the_last_verdict():
    judge = [Judgement(0, "base", "pirate", "judge", "left")]
    human = [Judgement(0, "base", "pirate", "ana", "right"), Judgement(0, "base", "pirate", "ana", "left")]
    assert judge_human_agreement(judge, human).compared == 1
    assert judge_human_agreement(judge, human).percent_with_ties == 100.0


@pytest.mark.parametrize(("judge", "human"), [
    ([], []),
    ([Judgement(0, "base", "pirate", "judge", "left")], []),
    ([Judgement(0, "base", "pirate", "judge", "left")], [Judgement(1, "base", "pirate", "ana", "left")]),  # other prompt
    ([Judgement(0, "base", "pirate", "judge", "left")], [Judgement(0, "base", "sailor", "ana", "left")]),  # other pair
])
def test_no_shared_item_gives_nothing_to_compare(judge, human):
    result = judge_human_agreement(judge, human)
    assert result == JudgeHumanAgreement(
        compared=0, percent_with_ties=None, kappa_with_ties=None, compared_without_ties=0, percent_without_ties=None,
        kappa_without_ties=None, labels=["left", "right", "tie"], confusion=[[0, 0, 0]] * 3, disagreements=[])


def test_kappa_is_none_when_both_sides_only_ever_say_one_thing():
    result = judge_human_agreement(*votes_from_table([[5, 0, 0], [0, 0, 0], [0, 0, 0]]))
    assert (result.percent_with_ties, result.kappa_with_ties) == (100.0, None)
    assert (result.percent_without_ties, result.kappa_without_ties) == (100.0, None)


def test_kappa_is_zero_not_none_when_only_one_side_is_constant():
    # the judge always says left, humans vary: chance agreement 5/8 < 1, observed agreement equal to it
    result = judge_human_agreement(*votes_from_table([[5, 0, 0], [2, 0, 0], [1, 0, 0]]))
    assert result.kappa_with_ties == pytest.approx(0.0)


@pytest.mark.parametrize(("table", "expected"), [
    ([[4, 1, 0], [1, 3, 1], [0, 1, 1]], 7 / 15),
    ([[4, 1], [1, 3]], 11 / 20),
    ([[0, 5], [5, 0]], -1.0),  # always the opposite, with balanced margins
    ([[3, 0], [0, 2]], 1.0),
    ([[0, 0], [0, 0]], None),
    ([[6, 0], [0, 0]], None),
])
def test_cohen_kappa_on_tables(table, expected):
    kappa = cohen_kappa(np.array(table, dtype=float))
    assert kappa == (None if expected is None else pytest.approx(expected))


def test_disagreements_are_sorted_by_prompt():
    judge = [Judgement(p, "base", "pirate", "judge", "left") for p in (5, 2, 9)]
    human = [Judgement(p, "base", "pirate", "ana", "right") for p in (9, 5, 2)]
    assert [d["prompt_index"] for d in judge_human_agreement(judge, human).disagreements] == [2, 5, 9]


def test_agreement_document_is_plain_json():
    doc = judge_human_agreement(*votes_from_table([[4, 1, 0], [1, 3, 1], [0, 1, 1]])).to_document()
    assert json.loads(json.dumps(doc)) == doc
    for key in ("compared", "compared_without_ties"):
        assert type(doc[key]) is int
    for key in ("percent_with_ties", "kappa_with_ties", "percent_without_ties", "kappa_without_ties"):
        assert type(doc[key]) is float and math.isfinite(doc[key])
    assert all(type(x) is int for row in doc["confusion"] for x in row)


def test_doctests_in_the_module_run():
    outcome = doctest.testmod(judge_agreement)
    assert outcome.attempted > 0 and outcome.failed == 0
