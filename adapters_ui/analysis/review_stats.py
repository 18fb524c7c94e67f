"""Blind A/B review statistics, Chatbot-Arena style: who wins, how sure we are, do reviewers agree.

Reviewers see two outputs for one prompt and pick the better one, a tie, or "both bad".
Each pick is a ``Judgement`` stored in the pair's canonical order (``left``, ``right``),
whatever side the screen showed it on. Everything here is a pure function over those
judgements, so the UI, the JSON/CSV exports and the HTML report read the same numbers:

    >>> js = [Judgement(0, "base", "pirate", "ana", "right"),
    ...       Judgement(0, "base", "pirate", "bo", "right", "more fun"),
    ...       Judgement(1, "base", "pirate", "ana", "tie")]
    >>> [(w.variant, w.wins, w.n, round(w.rate, 2)) for w in win_rates(js, ["base", "pirate"])]
    [('pirate', 2, 3, 0.83), ('base', 0, 3, 0.17)]
    >>> [round(x, 3) for x in wilson_interval(8, 10)]
    [0.49, 0.943]
    >>> agreement(js)  # both reviewers picked pirate on prompt 0; kappa needs more than one category
    Agreement(percent=100.0, items=1, reviewers=2, fleiss_kappa=None)
    >>> [(s.variant, round(s.score)) for s in bradley_terry(js, ["base", "pirate"], bootstrap=0)]
    [('pirate', 1095), ('base', 905)]

A tie and "both bad" count as half a win to each side everywhere (win rates, the win
matrix, Bradley–Terry), so a variant is never rewarded for a reviewer's shrug.
"""

from __future__ import annotations

import csv
import io
import json
import math
from collections import Counter, defaultdict
from dataclasses import asdict, dataclass, field

import numpy as np
from statsmodels.stats import inter_rater
from statsmodels.stats.proportion import proportion_confint

CHOICES = ("left", "right", "tie", "both_bad")  # canonical orientation of the pair, not the A/B shown on screen

ELO_SCALE, ELO_MEAN = 400.0, 1000.0  # strengths read like chess ratings: +400 = 10:1 odds
PRIOR_TIES = 1.0  # virtual tied games per pair of variants: a variant that never wins keeps a finite strength
_MM_TOL, _MM_MAX_ITER = 1e-9, 10_000

# How much of a win each choice gives the left variant (the right one gets the rest).
_LEFT_SHARE = {"left": 1.0, "right": 0.0, "tie": 0.5, "both_bad": 0.5}


@dataclass(frozen=True)
class Judgement:
    """One reviewer's verdict on one prompt's pair of outputs."""

    prompt_index: int
    left: str  # first variant of the pair (canonical order)
    right: str  # second variant
    reviewer: str  # reviewer's display name
    choice: str  # one of CHOICES
    comment: str = ""

    def __post_init__(self):
        if self.choice not in CHOICES:
            raise ValueError(f"choice must be one of {', '.join(CHOICES)}, got {self.choice!r}")
        if self.left == self.right:
            raise ValueError(f"a judgement compares two different variants, got {self.left!r} twice")


@dataclass(frozen=True)
class RawVote:
    """One stored answer as it was given (skips too), for the raw-votes exports."""

    time: str  # ISO time it was stored
    reviewer: str  # display name, as in the comments
    prompt_index: int
    left: str  # the pair, in its canonical order
    right: str
    shown_first: str  # which of the pair was shown as A: left | right
    choice: str  # left | right | tie | both_bad | skip (left/right: the pair's order, not the screen's)
    comment: str = ""


@dataclass(frozen=True)
class WinRate:
    """A variant's record over every judgement it took part in; ``low``..``high`` is the Wilson 95% interval."""

    variant: str
    wins: int
    losses: int
    ties: int
    both_bad: int
    n: int
    rate: float  # (wins + half of ties and both_bad) / n
    low: float
    high: float


@dataclass(frozen=True)
class Strength:
    """A Bradley–Terry strength on an Elo-like scale (mean 1000); ``low``..``high``: bootstrap 95% interval."""

    variant: str
    score: float
    low: float
    high: float


@dataclass(frozen=True)
class Agreement:
    """How often reviewers who judged the same pair on the same prompt agree."""

    percent: float | None  # agreeing reviewer pairs / all reviewer pairs, 0..100; None: no overlap
    items: int  # (prompt, pair) judged by 2+ different reviewers
    reviewers: int  # distinct reviewers on those items
    fleiss_kappa: float | None  # None: no overlap, or every vote in one category (chance agreement is 1)


# --- helpers -------------------------------------------------------------------------------------


def _index(judgements: list[Judgement], variants: list[str]) -> dict[str, int]:
    """Variant -> position; a judgement naming another variant is a caller's mistake, so say which."""
    index = {v: i for i, v in enumerate(variants)}
    for j in judgements:
        for name in (j.left, j.right):
            if name not in index:
                raise ValueError(f"judgement on prompt {j.prompt_index} names {name!r}, not one of the variants {list(variants)}")
    return index


def _count(x: float) -> str:
    """Wins for people: ``2`` or ``1.5`` (ties give halves), never ``2.0``."""
    return f"{x:g}"


def _prompt_text(prompts: list[str], index: int) -> str:
    return prompts[index] if 0 <= index < len(prompts) else ""


# --- win rates -----------------------------------------------------------------------------------


def wilson_interval(successes: float, n: int, alpha: float = 0.05) -> tuple[float, float]:
    """Wilson score interval for ``successes`` out of ``n`` (fractional successes allowed), by statsmodels.

    Wilson, not ``p ± z·se``: it stays inside 0..1 and is honest for the small ``n`` a
    review round has (8/10 -> 0.49..0.94, not 0.55..1.05). ``n == 0`` knows nothing: (0, 1).
    """
    if n <= 0:
        return 0.0, 1.0
    low, high = proportion_confint(successes, n, alpha=alpha, method="wilson")
    return max(0.0, float(low)), min(1.0, float(high))


def win_rates(judgements: list[Judgement], variants: list[str]) -> list[WinRate]:
    """Each variant's wins, losses, ties and "both bad", best rate first (ties keep ``variants`` order)."""
    _index(judgements, variants)
    tallies = {v: Counter() for v in variants}
    for j in judgements:
        for side, name in (("left", j.left), ("right", j.right)):
            outcome = j.choice if j.choice in ("tie", "both_bad") else ("wins" if j.choice == side else "losses")
            tallies[name][outcome] += 1
    rows = []
    for v in variants:
        t = tallies[v]
        n = t["wins"] + t["losses"] + t["tie"] + t["both_bad"]
        score = t["wins"] + 0.5 * (t["tie"] + t["both_bad"])
        low, high = wilson_interval(score, n)
        rows.append(WinRate(v, t["wins"], t["losses"], t["tie"], t["both_bad"], n, score / n if n else 0.0, low, high))
    return sorted(rows, key=lambda r: -r.rate)


# --- win matrix ----------------------------------------------------------------------------------


def _wins_matrix(judgements: list[Judgement], index: dict[str, int]) -> np.ndarray:
    """``W[i, j]``: how many times i beat j, a tie or "both bad" being half a win each way."""
    wins = np.zeros((len(index), len(index)))
    for j in judgements:
        share = _LEFT_SHARE[j.choice]
        wins[index[j.left], index[j.right]] += share
        wins[index[j.right], index[j.left]] += 1 - share
    return wins


def win_matrix(judgements: list[Judgement], variants: list[str]) -> list[list[float | None]]:
    """``[i][j]``: the share of i-vs-j judgements that i won (ties half); None on the diagonal and unjudged pairs."""
    wins = _wins_matrix(judgements, _index(judgements, variants))
    games = wins + wins.T
    return [[None if i == j or games[i, j] == 0 else float(wins[i, j] / games[i, j]) for j in range(len(variants))]
            for i in range(len(variants))]


# --- Bradley–Terry -------------------------------------------------------------------------------


def _fit_mm(wins: np.ndarray) -> np.ndarray:
    """Bradley–Terry strengths for a stack of win matrices ``(B, k, k)``, by Hunter's (2004) MM iteration.

    ``p_i <- W_i / sum_j N_ij / (p_i + p_j)`` for all B fits at once (one numpy step per
    iteration, not B Python loops), until the slowest fit has converged. Returns ``log10``
    strengths with mean 0 per fit.
    """
    wins = wins + PRIOR_TIES / 2 * (1 - np.eye(wins.shape[-1]))  # every pair: a virtual tie
    games = wins + np.swapaxes(wins, -1, -2)
    total = wins.sum(axis=-1)
    log_p = np.zeros(wins.shape[:-1])
    for _ in range(_MM_MAX_ITER):
        p = np.exp(log_p)
        new = np.log(total / (games / (p[..., :, None] + p[..., None, :])).sum(axis=-1))
        new -= new.mean(axis=-1, keepdims=True)  # strengths are only defined up to a factor
        done = np.max(np.abs(new - log_p), initial=0.0) < _MM_TOL
        log_p = new
        if done:
            break
    return log_p / math.log(10)


def _elo(log10_p: np.ndarray) -> np.ndarray:
    return ELO_SCALE * log10_p + ELO_MEAN


def _outcome_types(judgements: list[Judgement], index: dict[str, int]) -> tuple[np.ndarray, np.ndarray]:
    """The distinct (pair, outcome) kinds as rows of a flattened win matrix, and how many judgements each has.

    Resampling judgements with replacement is a multinomial draw over these few kinds,
    so a bootstrap costs ``B x kinds`` numbers, not ``B x judgements``.
    """
    k = len(index)
    kinds = Counter()
    for j in judgements:
        kinds[index[j.left], index[j.right], _LEFT_SHARE[j.choice]] += 1
    rows = np.zeros((len(kinds), k * k))
    for row, (i, j, share) in zip(rows, kinds):
        row[i * k + j] += share
        row[j * k + i] += 1 - share
    return rows, np.array(list(kinds.values()), dtype=float)


def bradley_terry(judgements: list[Judgement], variants: list[str], bootstrap: int = 1000, seed: int = 0) -> list[Strength]:
    """Bradley–Terry strengths, best first, with a bootstrap 95% interval (``bootstrap=0``: the point only).

    The judgements are resampled with replacement ``bootstrap`` times (numpy Generator
    seeded with ``seed``, so the same data gives the same interval) and refitted;
    ``low``/``high`` are the 2.5th/97.5th percentiles of the refitted scores.
    """
    index = _index(judgements, variants)
    k = len(variants)
    if k == 0:
        return []
    scores = _elo(_fit_mm(_wins_matrix(judgements, index)[None]))[0]
    low, high = scores, scores
    if bootstrap > 0 and judgements:
        rows, counts = _outcome_types(judgements, index)
        draws = np.random.default_rng(seed).multinomial(len(judgements), counts / counts.sum(), size=bootstrap)
        samples = _elo(_fit_mm((draws @ rows).reshape(bootstrap, k, k)))
        low, high = np.percentile(samples, [2.5, 97.5], axis=0)
    strengths = [Strength(v, float(scores[i]), float(low[i]), float(high[i])) for i, v in enumerate(variants)]
    return sorted(strengths, key=lambda s: -s.score)


# --- per prompt, comments ------------------------------------------------------------------------


def per_prompt(judgements: list[Judgement], prompts: list[str], variants: list[str]) -> list[dict]:
    """One row per judged prompt, in prompt order: ``{"prompt_index", "prompt", "judgements", "wins"}``.

    ``wins`` maps each variant to ``"wins/n"`` on that prompt (ties half: ``"1.5/3"``), or
    ``"—"`` when it was not judged there; nested, so a variant called "prompt" cannot clash.
    """
    _index(judgements, variants)
    by_prompt: dict[int, list[Judgement]] = defaultdict(list)
    for j in judgements:
        by_prompt[j.prompt_index].append(j)
    rows = []
    for p in sorted(by_prompt):
        wins, games = Counter(), Counter()
        for j in by_prompt[p]:
            share = _LEFT_SHARE[j.choice]
            wins[j.left] += share
            wins[j.right] += 1 - share
            games[j.left] += 1
            games[j.right] += 1
        rows.append({
            "prompt_index": p,
            "prompt": _prompt_text(prompts, p),
            "judgements": len(by_prompt[p]),
            "wins": {v: f"{_count(wins[v])}/{games[v]}" if games[v] else "—" for v in variants},
        })
    return rows


def comments(judgements: list[Judgement], prompts: list[str]) -> list[dict]:
    """Every judgement with a non-blank comment, in the order given (reviewers' words stay as written)."""
    return [
        {"reviewer": j.reviewer, "prompt_index": j.prompt_index, "prompt": _prompt_text(prompts, j.prompt_index),
         "pair": [j.left, j.right], "choice": j.choice, "comment": j.comment}
        for j in judgements if j.comment.strip()
    ]


def vote_rows(votes: list[RawVote], prompts: list[str]) -> list[dict]:
    """Each vote as plain data, oldest first: who, which prompt, the pair, what was shown as A and B, the answer."""
    rows = []
    for v in votes:
        shown = (v.left, v.right) if v.shown_first == "left" else (v.right, v.left)
        winner = {"left": v.left, "right": v.right}.get(v.choice, "")
        rows.append({"time": v.time, "reviewer": v.reviewer, "prompt_index": v.prompt_index,
                     "prompt": _prompt_text(prompts, v.prompt_index), "pair": [v.left, v.right],
                     "shown_a": shown[0], "shown_b": shown[1], "choice": v.choice, "winner": winner,
                     "comment": v.comment})
    return rows


# --- agreement -----------------------------------------------------------------------------------


def fleiss_kappa(counts: list[list[int]]) -> float | None:
    """Fleiss' kappa for ``counts[item][category]`` votes, each item with its own number of raters.

    Items with fewer than 2 votes say nothing about agreement and are skipped. None when
    no item is left, or when every vote falls in one category (chance agreement is 1,
    kappa is 0/0).

    Where every item has the same number of raters, ``statsmodels.stats.inter_rater.fleiss_kappa``
    computes it. That one asserts equal counts, and a review round's items often differ (one prompt
    judged by 3 reviewers, another by 2): then Fleiss' formula is written out below, with each item's
    own rater count (it gives statsmodels' number when the counts are equal; tests/test_review_stats.py
    checks both paths on the same values).
    """
    table = np.asarray(counts, dtype=float).reshape(len(counts), -1) if counts else np.zeros((0, 0))
    table = table[table.sum(axis=1) >= 2]
    if len(table) == 0:
        return None
    raters = table.sum(axis=1)
    p_category = table.sum(axis=0) / raters.sum()
    if math.isclose(float((p_category**2).sum()), 1.0):
        return None
    if np.all(raters == raters[0]):
        return float(inter_rater.fleiss_kappa(table, method="fleiss"))
    return fleiss_kappa_by_formula(table)


def fleiss_kappa_by_formula(table: np.ndarray) -> float:
    """Fleiss' kappa written out, each item (row, at least 2 votes) with its own number of raters."""
    raters = table.sum(axis=1)
    p_item = ((table**2).sum(axis=1) - raters) / (raters * (raters - 1))
    chance = float(((table.sum(axis=0) / raters.sum()) ** 2).sum())
    return (float(p_item.mean()) - chance) / (1 - chance)


# Landis & Koch (1977): the usual words for a kappa, so a stakeholder need not know the scale.
_KAPPA_WORDS = ((0.0, "poor"), (0.2, "slight"), (0.4, "fair"), (0.6, "moderate"), (0.8, "substantial"))


def kappa_words(kappa: float) -> str:
    """``0.21`` -> ``"fair"``: Landis & Koch's words for how far agreement goes beyond chance (the HTML report and
    the CLI's text results both say it)."""
    if kappa > 0.8:
        return "almost perfect"
    return next(word for limit, word in _KAPPA_WORDS if kappa <= limit)


def _votes_by_item(judgements: list[Judgement]) -> dict[tuple, dict[str, str]]:
    """(prompt, pair) -> {reviewer: choice}; a pair stored the other way round has its choice flipped,
    and a reviewer who judged an item twice counts with the last verdict."""
    flip = {"left": "right", "right": "left", "tie": "tie", "both_bad": "both_bad"}
    items: dict[tuple, dict[str, str]] = defaultdict(dict)
    for j in judgements:
        swapped = j.right < j.left
        key = (j.prompt_index, *sorted((j.left, j.right)))
        items[key][j.reviewer] = flip[j.choice] if swapped else j.choice
    return items


def agreement(judgements: list[Judgement]) -> Agreement:
    """Pairwise percent agreement and Fleiss' kappa over the items 2+ reviewers judged.

    Percent agreement pools every within-item pair of reviewers (an item three people
    judged gives three pairs); kappa corrects it for the agreement chance alone would give.
    """
    shared = [votes for votes in _votes_by_item(judgements).values() if len(votes) >= 2]
    if not shared:
        return Agreement(percent=None, items=0, reviewers=0, fleiss_kappa=None)
    agreeing = pairs = 0
    for votes in shared:
        tally = Counter(votes.values())
        agreeing += sum(c * (c - 1) // 2 for c in tally.values())
        pairs += len(votes) * (len(votes) - 1) // 2
    counts = [[Counter(votes.values())[c] for c in CHOICES] for votes in shared]
    return Agreement(
        percent=100.0 * agreeing / pairs,
        items=len(shared),
        reviewers=len({r for votes in shared for r in votes}),
        fleiss_kappa=fleiss_kappa(counts),
    )


# --- everything at once, and its exports ---------------------------------------------------------


@dataclass(frozen=True)
class ReviewResults:
    """One review round summarised: what the UI tables, the exports and the HTML report show."""

    title: str
    variants: list[str]
    prompts: list[str]
    judgements_count: int
    reviewers: list[str]  # distinct display names, sorted
    win_rates: list[WinRate]  # best first
    strengths: list[Strength]  # best first
    win_matrix: list[list[float | None]]  # in ``variants`` order
    per_prompt: list[dict]
    agreement: Agreement
    comments: list[dict]
    bootstrap: int = 1000
    seed: int = 0
    votes: list[dict] = field(default_factory=list)  # vote_rows: every answer, skips included, oldest first

    def to_document(self) -> dict:
        """Plain JSON-ready data, keys in field order, so two exports of one round diff cleanly."""
        return asdict(self)


def summarise(title: str, prompts: list[str], variants: list[str], judgements: list[Judgement],
              bootstrap: int = 1000, seed: int = 0, votes: list[RawVote] = ()) -> ReviewResults:
    """Every statistic of a review round, from its judgements; ``votes`` (skips too) are passed on as rows."""
    prompts, variants, judgements = list(prompts), list(variants), list(judgements)
    return ReviewResults(
        title=title,
        variants=variants,
        prompts=prompts,
        judgements_count=len(judgements),
        reviewers=sorted({j.reviewer for j in judgements}),
        win_rates=win_rates(judgements, variants),
        strengths=bradley_terry(judgements, variants, bootstrap=bootstrap, seed=seed),
        win_matrix=win_matrix(judgements, variants),
        per_prompt=per_prompt(judgements, prompts, variants),
        agreement=agreement(judgements),
        comments=comments(judgements, prompts),
        bootstrap=bootstrap,
        seed=seed,
        votes=vote_rows(list(votes), prompts),
    )


def to_json(results: ReviewResults) -> str:
    """``to_document`` as indented UTF-8 JSON (readable text, not \\u escapes), ending in a newline."""
    return json.dumps(results.to_document(), indent=2, ensure_ascii=False) + "\n"


CSV_COLUMNS = ["variant", "judgements", "wins", "losses", "ties", "both_bad", "win_rate", "win_rate_low",
               "win_rate_high", "bt_score", "bt_low", "bt_high"]


def to_csv(results: ReviewResults) -> str:
    """One row per variant, strongest (Bradley–Terry) first; rates to 4 decimals, scores to 1."""
    rates = {w.variant: w for w in results.win_rates}
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\n")
    writer.writerow(CSV_COLUMNS)
    for s in results.strengths:
        w = rates[s.variant]
        writer.writerow([s.variant, w.n, w.wins, w.losses, w.ties, w.both_bad,
                         *(round(x, 4) for x in (w.rate, w.low, w.high)),
                         *(round(x, 1) for x in (s.score, s.low, s.high))])
    return out.getvalue()


VOTE_COLUMNS = ["time", "reviewer", "prompt_index", "prompt", "left", "right", "shown_a", "shown_b", "choice", "winner",
                "comment"]


def votes_csv(results: ReviewResults) -> str:
    """The raw votes, one row per answer (skips too), oldest first; ``choice`` is left/right of the pair's order,
    ``shown_a``/``shown_b`` what the reviewer saw on each side, ``winner`` the variant picked (blank otherwise)."""
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\n")
    writer.writerow(VOTE_COLUMNS)
    for row in results.votes:
        left, right = row["pair"]
        writer.writerow([row["time"], row["reviewer"], row["prompt_index"], row["prompt"], left, right, row["shown_a"],
                         row["shown_b"], row["choice"], row["winner"], row["comment"]])
    return out.getvalue()
