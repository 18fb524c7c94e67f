"""A judge model next to the human reviewers: is it stable under a position swap, and does it agree with people?

A judge model sees every pair twice, once with each variant shown first. Its raw verdict
for one order says which *shown* answer won ("first", "second", "tie", or "unparseable"
when its reply could not be read). Following MT-Bench (Zheng et al. 2023, "Judging
LLM-as-a-Judge with MT-Bench and Chatbot Arena", §3.3-3.4) and JudgeLM (Zhu et al. 2023,
swap augmentation), a variant wins only when it wins in both orders; orders that disagree
make a tie, and the share of pairs whose orders agree is the judge's *consistency*:

    >>> combine_orders("first", "second")  # left shown first won; right shown first lost
    ('left', True)
    >>> combine_orders("first", "first")  # whichever came first won: position, not quality
    ('tie', False)
    >>> s = swap_stats([("first", "second"), ("first", "first"), ("tie", "unparseable")])
    >>> (s.pairs, s.unparseable, s.consistent, s.consistency, s.first_wins, s.decisive, s.position_bias)
    (3, 1, 1, 0.5, 3, 4, 0.75)

The combined verdicts become ``Judgement`` rows (the judge's name as reviewer; unparseable
pairs are left out, they are not a verdict) and are compared with the human ones the way
FastChat's ``llm_judge/compute_agreement.py`` does it: every (judge vote, human vote) on
the same prompt and pair is one comparison, with ties and without them:

    >>> human = [Judgement(0, "base", "pirate", "ana", "right"), Judgement(1, "base", "pirate", "ana", "tie")]
    >>> judge = [Judgement(0, "pirate", "base", "judge", "left"), Judgement(1, "base", "pirate", "judge", "left")]
    >>> a = judge_human_agreement(judge, human)
    >>> (a.compared, a.percent_with_ties, a.compared_without_ties, a.percent_without_ties)
    (2, 50.0, 1, 100.0)
"""

from __future__ import annotations

import math
from collections import Counter, defaultdict
from dataclasses import asdict, dataclass

import numpy as np
from statsmodels.stats.inter_rater import cohens_kappa

from adapters_ui.analysis.review_stats import Judgement

ORDER_VERDICTS = ("first", "second", "tie", "unparseable")  # one order's raw verdict: which *shown* answer won
LABELS = ("left", "right", "tie")  # agreement categories; a human's "both_bad" counts as "tie"

_FLIP = {"left": "right", "right": "left", "tie": "tie", "both_bad": "both_bad"}
# One order's verdict in the pair's canonical orientation, by which variant was shown first.
_CANONICAL = {
    "left_first": {"first": "left", "second": "right", "tie": "tie"},
    "right_first": {"first": "right", "second": "left", "tie": "tie"},
}


# --- position swap -------------------------------------------------------------------------------


def _check_verdict(verdict: str, order: str) -> None:
    if verdict not in ORDER_VERDICTS:
        raise ValueError(f"the {order} verdict must be one of {', '.join(ORDER_VERDICTS)}, got {verdict!r}")


def combine_orders(left_first: str, right_first: str) -> tuple[str, bool]:
    """One pair's verdict from its two orders: ``(choice, consistent)``, choice in left | right | tie | unparseable.

    ``left_first`` is the raw verdict when the pair's left variant was shown first,
    ``right_first`` when the right one was. Both orders naming the same canonical choice
    (left, right or tie) give that choice, consistent. Orders that disagree give a tie,
    inconsistent (MT-Bench: a win must survive the swap). An unparseable order is never
    guessed from the other one: the pair is ``"unparseable"`` (not a tie, and not counted
    in consistency), so a judge that fails to answer cannot look undecided or stable.
    """
    _check_verdict(left_first, "left-first")
    _check_verdict(right_first, "right-first")
    if "unparseable" in (left_first, right_first):
        return "unparseable", False
    first, second = _CANONICAL["left_first"][left_first], _CANONICAL["right_first"][right_first]
    return (first, True) if first == second else ("tie", False)


@dataclass(frozen=True)
class SwapStats:
    """How a judge behaves when the two answers swap places (MT-Bench Table 2, JudgeLM's consistency and bias).

    A *parsed* pair has both orders readable. Everything but ``pairs`` and ``unparseable``
    is over parsed pairs only, so a judge's failures to answer never move its consistency
    or its bias.
    """

    pairs: int  # pairs judged (each in both orders)
    unparseable: int  # pairs with at least one unreadable order
    consistent: int  # parsed pairs whose two orders name the same canonical choice (ties included)
    consistency: float | None  # consistent / parsed pairs, 0..1; None: no parsed pair
    favours_first: int  # parsed pairs where the first-shown answer won in both orders (MT-Bench "biased toward first")
    favours_second: int  # parsed pairs where the second-shown answer won in both orders
    first_wins: int  # single-order verdicts, both orders of every parsed pair, that picked the first-shown answer
    decisive: int  # single-order verdicts, both orders of every parsed pair, that picked first or second (not tie)
    position_bias: float | None  # first_wins / decisive: 0.5 no bias, 1.0 always the first; None: nothing decisive

    def to_document(self) -> dict:
        """Plain JSON-ready data (ints, floats, None), keys in field order."""
        return asdict(self)


def swap_stats(orders: list[tuple[str, str]]) -> SwapStats:
    """Consistency and position bias over ``(left_first, right_first)`` raw verdicts, one tuple per pair.

    ``position_bias`` counts single orders, not pairs: a consistent decisive pair adds one
    first-shown win and one second-shown win (0.5 by construction), so only inconsistent
    pairs move it, towards 1.0 when the judge favours what it reads first.
    """
    pairs = unparseable = consistent = favours_first = favours_second = first_wins = decisive = 0
    for left_first, right_first in orders:
        pairs += 1
        choice, agrees = combine_orders(left_first, right_first)
        if choice == "unparseable":
            unparseable += 1
            continue
        consistent += agrees
        favours_first += left_first == right_first == "first"
        favours_second += left_first == right_first == "second"
        first_wins += (left_first == "first") + (right_first == "first")
        decisive += (left_first != "tie") + (right_first != "tie")
    parsed = pairs - unparseable
    return SwapStats(
        pairs=pairs,
        unparseable=unparseable,
        consistent=consistent,
        consistency=consistent / parsed if parsed else None,
        favours_first=favours_first,
        favours_second=favours_second,
        first_wins=first_wins,
        decisive=decisive,
        position_bias=first_wins / decisive if decisive else None,
    )


# --- judge vs humans -----------------------------------------------------------------------------


@dataclass(frozen=True)
class JudgeHumanAgreement:
    """How often the judge picks what a human picked on the same prompt and pair, raw and beyond chance.

    Percentages are 0..100 (like ``review_stats.Agreement``); kappas are Cohen's. A value
    is None when it cannot be computed: no comparison, or (kappa) when chance agreement is
    1 because both sides only ever used one and the same category.
    """

    compared: int  # (judge vote, human vote) comparisons on shared (prompt, pair) items
    percent_with_ties: float | None
    kappa_with_ties: float | None  # over left / right / tie
    compared_without_ties: int  # comparisons where neither side voted tie (or both_bad)
    percent_without_ties: float | None
    kappa_without_ties: float | None  # over left / right
    labels: list[str]  # row and column order of ``confusion``
    confusion: list[list[int]]  # [human label][judge label] counts
    disagreements: list[dict]  # {prompt_index, left, right, reviewer, human, judge}, by prompt

    def to_document(self) -> dict:
        """Plain JSON-ready data (ints, floats, None, lists), keys in field order."""
        return asdict(self)


def _votes_by_item(judgements: list[Judgement]) -> dict[tuple, dict[str, str]]:
    """(prompt, left, right) with the pair's names sorted -> {reviewer: choice in that orientation, as voted}.

    One orientation for everyone, so a judge that stored (pirate, base) meets a human who
    stored (base, pirate); a reviewer who judged an item twice counts with the last
    verdict, as in ``review_stats.agreement``.
    """
    items: dict[tuple, dict[str, str]] = defaultdict(dict)
    for j in judgements:
        left, right = sorted((j.left, j.right))
        items[j.prompt_index, left, right][j.reviewer] = j.choice if j.left == left else _FLIP[j.choice]
    return items


def _label(choice: str) -> str:
    return "tie" if choice == "both_bad" else choice


def cohen_kappa(table: np.ndarray) -> float | None:
    """Cohen's kappa of a square agreement table, by statsmodels; None for no votes or chance agreement 1."""
    n = float(table.sum())
    if n == 0:
        return None
    chance = float((table.sum(axis=0) * table.sum(axis=1)).sum()) / n**2
    if math.isclose(chance, 1.0):
        return None
    return float(cohens_kappa(table, return_results=False))


def _percent(table: np.ndarray) -> float | None:
    n = float(table.sum())
    return 100.0 * float(np.trace(table)) / n if n else None


def judge_human_agreement(judge: list[Judgement], human: list[Judgement]) -> JudgeHumanAgreement:
    """The judge's votes against the humans' on every (prompt, pair) both judged, MT-Bench style.

    Each (judge vote, human vote) on one item is one comparison: three humans on a pair
    give three. "both_bad" counts as a tie (it gives no side a win). Without ties, only
    comparisons where neither side said tie remain, as in FastChat's ``ban=["tie"]``.
    ``disagreements`` show choices in the item's sorted orientation, as voted (a human's
    "both_bad" stays "both_bad"), ordered by prompt, pair and reviewer.
    """
    judge_items, human_items = _votes_by_item(judge), _votes_by_item(human)
    counts: Counter = Counter()
    disagreements = []
    for key in sorted(judge_items.keys() & human_items.keys()):
        prompt_index, left, right = key
        for reviewer, human_choice in sorted(human_items[key].items()):
            for _, judge_choice in sorted(judge_items[key].items()):
                counts[_label(human_choice), _label(judge_choice)] += 1
                if _label(human_choice) != _label(judge_choice):
                    disagreements.append({"prompt_index": prompt_index, "left": left, "right": right,
                                          "reviewer": reviewer, "human": human_choice, "judge": judge_choice})
    table = np.array([[counts[h, j] for j in LABELS] for h in LABELS], dtype=float)
    decisive = table[:2, :2]  # left/right only: both sides took a side
    return JudgeHumanAgreement(
        compared=int(table.sum()),
        percent_with_ties=_percent(table),
        kappa_with_ties=cohen_kappa(table),
        compared_without_ties=int(decisive.sum()),
        percent_without_ties=_percent(decisive),
        kappa_without_ties=cohen_kappa(decisive),
        labels=list(LABELS),
        confusion=[[int(x) for x in row] for row in table],
        disagreements=disagreements,
    )
