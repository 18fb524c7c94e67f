"""The scores of one evaluation output: its checks, the reference scores, its length, cut-off and latency.

Every score is a number (pass/fail as 1.0/0.0) or None where it cannot be measured for this item
(no reference, no checks, no perplexity from a server), so that an evaluation can average any of
them and the paired statistics (``analysis/paired``) can drop the items that lack one.

    >>> checks, scores = score_output("Arr, 4!", reference="4", checks=parse_checks([{"type": "icontains", "value": "arr"}]),
    ...                               output_tokens=4, cut_off=False, latency_s=0.5)
    >>> checks, scores["checks"], scores["contains"], scores["exact_match"]
    ({'icontains:arr': True}, 1.0, 1.0, 0.0)
"""

from __future__ import annotations

from collections.abc import Sequence

from adapters_ui.analysis.checks import Check, parse_checks, passes_all, run_checks  # noqa: F401 (parse_checks: doctest)
from adapters_ui.analysis.references import reference_scores

SCORES = ("checks", "exact_match", "contains", "rouge_l", "reference_perplexity", "output_tokens", "cut_off", "latency_s")


def score_output(output: str, *, reference: str | None, checks: Sequence[Check], output_tokens: int, cut_off: bool,
                 latency_s: float, reference_perplexity: float | None = None) -> tuple[dict[str, bool], dict]:
    """(check name -> passed, metric -> number or None) for one output. ``checks`` is 1.0 when every
    check passes, 0.0 when one fails, None when the item has none."""
    passed = run_checks(tuple(checks), output)
    every = passes_all(passed)
    by_reference = reference_scores(output, reference)
    scores = {
        "checks": None if every is None else float(every),
        "exact_match": by_reference.get("exact_match"),
        "contains": by_reference.get("contains"),
        "rouge_l": by_reference.get("rouge_l"),
        "reference_perplexity": reference_perplexity,
        "output_tokens": int(output_tokens),
        "cut_off": float(bool(cut_off)),
        "latency_s": round(float(latency_s), 4),
    }
    return passed, scores
