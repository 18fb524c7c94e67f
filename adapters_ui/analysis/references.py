"""How close each variant comes to a prompt set's reference answers: pure functions on strings and numbers.

Four scores, from strict to lenient, because a style adapter rarely repeats a reference word
for word but should still come closer to it than the base does:

    exact match   the whole answer, after normalizing case and whitespace
    contains      the reference appears somewhere inside the answer
    ROUGE-L F1    longest common word subsequence, as a share of both texts
    perplexity    how surprised the variant is by the reference (teacher-forced; lower is better)

    >>> rouge_l_f1("police kill the gunman", "police killed the gunman")   # LCS "police the gunman"
    0.75
    >>> perplexity([math.log(0.5), math.log(0.5)])                          # a coin flip per token
    2.0
"""

from __future__ import annotations

import math
import re
from dataclasses import dataclass

from adapters_ui.names import BASE

# Row keys of leaderboard_rows() -> column headers for the page, in display order.
LEADERBOARD_COLUMNS = {
    "variant": "variant",
    "prompts": "prompts",
    "exact_match": "exact match",
    "contains": "contains",
    "rouge_l": "ROUGE-L F1",
    "perplexity": "perplexity",
    "d_exact_match": "Δ exact match vs base",
    "d_contains": "Δ contains vs base",
    "d_rouge_l": "Δ ROUGE-L vs base",
    "d_perplexity": "Δ perplexity vs base",
}

REFERENCE_SCORES = ("exact_match", "contains", "rouge_l")  # the text scores of one output (reference_scores)
_SCORES = (*REFERENCE_SCORES, "perplexity")  # the columns that get a d_* change

_NOT_WORD = re.compile(r"[^a-z0-9]+")


# ---- text scores ---------------------------------------------------------------------------
def normalize(text: str) -> str:
    """Casefolded, trimmed, one space between words: " The  Sky\\n" -> "the sky".

    So that a trailing newline or a capital letter does not turn a right answer into a miss.
    """
    return " ".join(text.casefold().split())


def exact_match(output: str, reference: str) -> bool:
    """The output is the reference, up to case and whitespace."""
    return normalize(output) == normalize(reference)


def contains_reference(output: str, reference: str) -> bool:
    """The reference appears inside the output (both normalized): "Yes, it is 4." contains "4"."""
    return normalize(reference) in normalize(output)


def rouge_words(text: str) -> list[str]:
    """Words as rouge-score's default tokenizer sees them: lowercase ASCII letter and digit runs.

    "Arr, matey! Th' sea." -> ["arr", "matey", "th", "sea"]. Like rouge-score, anything else
    (punctuation, accents, other scripts) only separates words, so scores stay comparable with it.
    """
    return _NOT_WORD.sub(" ", text.lower()).split()


def lcs_length(a: list[str], b: list[str]) -> int:
    """Length of the longest common subsequence (not necessarily contiguous) of two word lists.

    One DP row over the shorter list, so memory is O(min(n, m)) while time is O(n * m):
    ["police", "kill", "the", "gunman"] vs ["police", "killed", "the", "gunman"] -> 3.
    """
    if len(b) > len(a):
        a, b = b, a
    previous = [0] * (len(b) + 1)  # previous[j]: LCS of a[:i-1] and b[:j]
    for word in a:
        current = [0] * (len(b) + 1)
        for j, other in enumerate(b, start=1):
            current[j] = previous[j - 1] + 1 if word == other else max(previous[j], current[j - 1])
        previous = current
    return previous[-1]


def rouge_l_f1(output: str, reference: str) -> float:
    """ROUGE-L F1 (Lin, 2004) on words: 2PR / (P + R), P = LCS / output words, R = LCS / reference words.

    0.0 when either side has no words. "the gunman kill police" vs "police killed the gunman":
    LCS 2 ("the gunman"), P = R = 2/4, F1 = 0.5.
    """
    out, ref = rouge_words(output), rouge_words(reference)
    if not out or not ref:
        return 0.0
    common = lcs_length(out, ref)
    if common == 0:
        return 0.0
    precision, recall = common / len(out), common / len(ref)
    return 2 * precision * recall / (precision + recall)


def reference_scores(output: str, reference: str | None) -> dict[str, float]:
    """One output's text scores against its reference: {"exact_match", "contains", "rouge_l"} -> number.

    Pass/fail scores are 1.0 or 0.0, so that every score is a number an evaluation can average.
    {} without a reference: there is nothing to score against.

        >>> reference_scores("It is 4.", "4")
        {'exact_match': 0.0, 'contains': 1.0, 'rouge_l': 0.5}
    """
    if reference is None:
        return {}
    return {
        "exact_match": float(exact_match(output, reference)),
        "contains": float(contains_reference(output, reference)),
        "rouge_l": rouge_l_f1(output, reference),
    }


def perplexity(logprobs: list[float]) -> float | None:
    """exp(-mean natural-log probability per token); None when there are no tokens.

    [log 0.5, log 0.5] -> 2.0: as unsure as a choice between two tokens at every step.
    """
    if not logprobs:
        return None
    return math.exp(-sum(logprobs) / len(logprobs))


# ---- per-variant summary -------------------------------------------------------------------
@dataclass(frozen=True)
class ReferenceScores:
    """How one variant's finished outputs compare with the references of a prompt set.

    ``prompts``: prompts with a reference and a finished output (not missing, not None, not cut
    off). ``exact_match``, ``contains`` and ``rouge_l`` are means over those prompts, in [0, 1]
    (0.0 when ``prompts`` is 0). ``perplexity`` pools every token of every reference the variant
    was given log-probabilities for (it does not depend on the output, so a cut-off output still
    counts); None without log-probabilities.
    """

    variant: str
    prompts: int
    exact_match: float
    contains: float
    rouge_l: float
    perplexity: float | None


def finished_pairs(records: list[dict], variant: str) -> list[tuple[str, str]]:
    """(output, reference) of every record with a reference and a finished output of ``variant``.

    Same rule as ``metrics.difference_summary``: a None (still running) or cut-off output is not
    scored, so a stopped comparison is judged on what really finished.
    """
    return [
        (r["outputs"][variant], r["reference"])
        for r in records
        if r.get("reference") is not None
        and r["outputs"].get(variant) is not None
        and variant not in (r.get("cut_off") or ())
    ]


def pooled_perplexity(records: list[dict], logprobs: list[list[float] | None] | None) -> float | None:
    """Corpus-level perplexity: exp(-all log-probabilities summed / all tokens counted).

    Pooled over tokens, not averaged over prompts, so a long reference weighs by its length:
    1 token at log(1/4) and 3 at log(1/2) -> exp((log 4 + 3 log 2) / 4) = 2 ** (5/4), not the
    mean of 4 and 2.
    """
    if logprobs is None:
        return None
    if len(logprobs) != len(records):
        raise ValueError(
            f"Got reference log-probabilities for {len(logprobs)} prompts but there are "
            f"{len(records)}: give one entry per prompt (None where it has no reference)."
        )
    tokens = [
        value
        for record, values in zip(records, logprobs)
        if record.get("reference") is not None and values is not None
        for value in values
    ]
    return perplexity(tokens)


def _mean(values: list[float]) -> float:
    return sum(values) / len(values) if values else 0.0


def score_variant(
    records: list[dict], variant: str, logprobs: list[list[float] | None] | None = None
) -> ReferenceScores:
    """The ReferenceScores of one variant (see ``score_references``)."""
    pairs = finished_pairs(records, variant)
    return ReferenceScores(
        variant=variant,
        prompts=len(pairs),
        exact_match=_mean([float(exact_match(out, ref)) for out, ref in pairs]),
        contains=_mean([float(contains_reference(out, ref)) for out, ref in pairs]),
        rouge_l=_mean([rouge_l_f1(out, ref) for out, ref in pairs]),
        perplexity=pooled_perplexity(records, logprobs),
    )


def score_references(
    records: list[dict],
    variants: list[str],
    reference_logprobs: dict[str, list[list[float] | None]] | None = None,
) -> list[ReferenceScores]:
    """One ReferenceScores per variant, in the order given; [] when no record has a reference.

    ``records``: a comparison's ``records()``, ``[{"prompt", "outputs": {variant: text | None},
    "reference"?, "cut_off"?: [variant, ...]}]``. ``reference_logprobs[variant][i]``: the natural-log
    probability of each token of record i's reference under that variant (teacher-forced), None
    where record i has no reference; a variant left out gets perplexity None.
    """
    if not any(r.get("reference") is not None for r in records):
        return []
    reference_logprobs = reference_logprobs or {}
    return [score_variant(records, v, reference_logprobs.get(v)) for v in variants]


# ---- leaderboard ---------------------------------------------------------------------------
def _change(value: float | None, base_value: float | None) -> float | None:
    """value - base_value, or None when either is missing."""
    if value is None or base_value is None:
        return None
    return value - base_value


def _changes(scores: ReferenceScores, base: ReferenceScores | None) -> dict:
    """The d_* changes from the base: all None for the base itself or without a base.

    A text score's change is also None when either side scored no prompt (its 0.0 mean is no
    evidence); the perplexity change needs only both perplexities.
    """
    if base is None or scores.variant == base.variant:
        return {f"d_{name}": None for name in _SCORES}
    both_scored = scores.prompts > 0 and base.prompts > 0
    changes = {
        f"d_{name}": _change(getattr(scores, name), getattr(base, name)) if both_scored else None
        for name in REFERENCE_SCORES
    }
    changes["d_perplexity"] = _change(scores.perplexity, base.perplexity)
    return changes


def _row(scores: ReferenceScores, base: ReferenceScores | None) -> dict:
    """One plain leaderboard dict, keys in LEADERBOARD_COLUMNS order."""
    row = {"variant": scores.variant, "prompts": scores.prompts}
    row |= {name: getattr(scores, name) for name in _SCORES}
    return row | _changes(scores, base)


def _rank(row: dict) -> tuple:
    """Sort key, best first: higher ROUGE-L, then lower perplexity (a missing one last)."""
    perplexity_value = row["perplexity"]
    return (-row["rouge_l"], perplexity_value is None, perplexity_value or 0.0)


def leaderboard_rows(scores: list[ReferenceScores], base: str = BASE) -> list[dict]:
    """Plain dicts, one per variant (keys: LEADERBOARD_COLUMNS), best first; the base row stays in.

    Each d_* is the change from the base: d_rouge_l +0.2 means 0.2 more ROUGE-L F1 than the base,
    d_perplexity -1.5 means the variant finds the references 1.5 less perplexing.
    """
    base_scores = next((s for s in scores if s.variant == base), None)
    rows = [_row(s, base_scores) for s in scores]
    return sorted(rows, key=_rank)  # stable: ties keep the order of ``scores``


# ---- per category ----------------------------------------------------------------------------
NO_CATEGORY = "(no category)"  # the group of prompts without one, in a set where others have one


def categories(records: list[dict]) -> list[str]:
    """The categories of ``records`` in order of first appearance; [] when no record has one.

    [{"category": "pirate"}, {}, {"category": "bullets"}, {"category": "pirate"}] -> ["pirate", NO_CATEGORY, "bullets"].
    """
    if not any(r.get("category") is not None for r in records):
        return []
    return list(dict.fromkeys(r.get("category") or NO_CATEGORY for r in records))


def score_references_by_category(
    records: list[dict],
    variants: list[str],
    reference_logprobs: dict[str, list[list[float] | None]] | None = None,
) -> dict[str, list[ReferenceScores]]:
    """``score_references`` on each category's records apart: {category: [ReferenceScores per variant]}.

    A set of style prompts scored all together ranks the base first, because every style adapter is
    also scored against the other styles' references; per category, each is ranked on its own.
    {} when no record has a category; a category none of whose prompts has a reference is left out.
    """
    groups: dict[str, list[int]] = {name: [] for name in categories(records)}
    if not groups:
        return {}
    for i, record in enumerate(records):
        groups[record.get("category") or NO_CATEGORY].append(i)
    reference_logprobs = reference_logprobs or {}
    scored = {}
    for name, indices in groups.items():
        group = [records[i] for i in indices]
        logprobs = {v: [values[i] for i in indices] for v, values in reference_logprobs.items()}
        scores = score_references(group, variants, logprobs)
        if scores:
            scored[name] = scores
    return scored


def leaderboard_by_category(by_category: dict[str, list[ReferenceScores]], base: str = BASE) -> dict[str, list[dict]]:
    """One ``leaderboard_rows`` per category, in the categories' order: {category: rows, best first}."""
    return {name: leaderboard_rows(scores, base) for name, scores in by_category.items()}
