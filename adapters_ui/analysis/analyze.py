"""The analysis of one finished comparison: token divergence from the base and reference scores.

It runs after the outputs (never while they stream), on demand. The model work is one
``read`` call per group of prompts (teacher-forced batches, ``Backend.read_back``), handed in by
the session, which takes a model turn for each so that other visitors' runs interleave:

    analysis = analyze(comparison, texts, session_read)   # texts: the rendered prompts
    analysis.summaries["pirate"].mean_divergence           # nats per token
    analysis.to_dict()                                     # the JSON export's "analysis" object
"""

from __future__ import annotations

import time
from dataclasses import dataclass, field
from typing import Callable

from adapters_ui.analysis.divergence import DivergenceSummary, ReadBack, TokenScores, base_summary, summarize
from adapters_ui.analysis.references import (
    ReferenceScores,
    leaderboard_by_category,
    leaderboard_rows,
    score_references,
    score_references_by_category,
)
from adapters_ui.names import BASE

# read(rendered prompts, {variant: output per prompt or None}, reference per prompt or None) -> ReadBack
Read = Callable[[list[str], dict[str, list[str | None]], list[str | None]], ReadBack]
PROMPTS_PER_TURN = 16  # prompts read back in one model turn: other visitors wait at most this long


@dataclass(frozen=True)
class Analysis:
    """What each variant changed against the base, token by token, and how close it came to the references."""

    variants: tuple[str, ...]
    tokens: dict[str, list[TokenScores | None]]  # variant -> per prompt (None: no output to score)
    summaries: dict[str, DivergenceSummary]
    references: list[ReferenceScores] = field(default_factory=list)  # empty: the prompts carry no reference
    analyze_s: float = 0.0
    # category -> its prompts' scores alone; empty: the prompts carry no category (or no reference)
    references_by_category: dict[str, list[ReferenceScores]] = field(default_factory=dict)

    @property
    def mean_divergence(self) -> dict[str, float]:
        return {v: self.summaries[v].mean_divergence for v in self.variants}

    def leaderboard(self) -> list[dict]:
        return leaderboard_rows(self.references) if self.references else []

    def leaderboard_by_category(self) -> dict[str, list[dict]]:
        """One leaderboard per category of the prompt set (each variant ranked on that category's prompts alone)."""
        return leaderboard_by_category(self.references_by_category)

    def to_dict(self) -> dict:
        """The JSON export's ``analysis`` object (divergence in nats; token arrays per variant and prompt)."""
        summaries = [self.summaries[v].to_dict() for v in self.variants]
        return {
            **{key: {s["variant"]: s[key] for s in summaries} for key in ("mean_divergence", "top1_changed_share", "first_divergent")},
            "summaries": summaries,
            "tokens": {v: [None if s is None else s.to_dict() for s in self.tokens[v]] for v in self.variants},
            "references": self.leaderboard() or None,
            "references_by_category": self.leaderboard_by_category() or None,
            "analyze_s": round(self.analyze_s, 3),
        }


def analyze(comparison, texts: list[str], read: Read, prompts_per_turn: int = PROMPTS_PER_TURN) -> Analysis:
    """Read every adapter output of ``comparison`` (a ``runs.Comparison``) back against the base, and
    every reference through every variant. ``texts``: the prompts as the model saw them."""
    started = time.perf_counter()
    records = comparison.records()
    variants = tuple(comparison.variants)
    compared = [v for v in variants if v != BASE]
    tokens: dict[str, list[TokenScores | None]] = {v: [] for v in compared}
    logprobs: dict[str, list[list[float] | None]] = {v: [] for v in variants}
    for first in range(0, len(records), prompts_per_turn):
        group = records[first : first + prompts_per_turn]
        outputs = {v: [r["outputs"].get(v) for r in group] for v in compared}
        got = read(texts[first : first + prompts_per_turn], outputs, [r.get("reference") or None for r in group])
        for v in compared:
            tokens[v] += got.tokens[v]
        for v in variants:
            logprobs[v] += got.reference_logprobs[v]
    summaries = {v: summarize(v, tokens[v]) for v in compared}
    if BASE in variants:
        summaries[BASE] = base_summary(sum(r["outputs"].get(BASE) is not None for r in records))
        tokens[BASE] = [None] * len(records)
    references = score_references(records, list(variants), logprobs)
    by_category = score_references_by_category(records, list(variants), logprobs)
    return Analysis(variants, tokens, summaries, references, time.perf_counter() - started, by_category)
