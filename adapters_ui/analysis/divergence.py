"""Where a variant departs from the base, token by token.

A variant's output is read back (teacher-forced) through the variant and through the base.
At each of its tokens we keep what reviewers ask about:

    kl            KL(variant || base) of the two next-token distributions, in nats (0: same belief)
    logprob       log p_variant(token)         how sure the variant was of what it wrote
    base_logprob  log p_base(token)            how likely the base found that same token
    top1_changed  argmax p_base != argmax p_variant   the base would have picked another token

Everything here is plain lists and numbers (no torch): the tensor work that computes these
statistics from logits lives in ``backends/inprocess/token_stats.py``, the model work that
produces the logits in the backends (``Backend.read_back``), the orchestration in ``analyze``.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

from adapters_ui.names import BASE


@dataclass(frozen=True)
class TokenScores:
    """One teacher-forced text, token by token (all lists are as long as ``tokens``)."""

    tokens: list[str]  # each token's piece of the text, as displayed
    token_ids: list[int]
    logprob: list[float]  # the scored model's log-probability of each token
    base_logprob: list[float]
    kl: list[float]  # KL(scored model || base), nats
    top1_changed: list[bool]
    base_top: list[str]  # the base's own first choice at each position
    base_top_prob: list[float]

    @property
    def first_divergent(self) -> int | None:
        """Index of the first token where the base would have chosen differently, or None."""
        return next((i for i, changed in enumerate(self.top1_changed) if changed), None)

    def to_dict(self) -> dict:
        return {
            "tokens": self.tokens, "token_ids": self.token_ids,
            "logprob": _rounded(self.logprob), "base_logprob": _rounded(self.base_logprob),
            "kl": _rounded(self.kl), "top1_changed": self.top1_changed,
            "base_top": self.base_top, "base_top_prob": _rounded(self.base_top_prob),
        }


@dataclass(frozen=True)
class ReadBack:
    """What a backend returns from reading a comparison's texts back (``Backend.read_back``)."""

    tokens: dict[str, list[TokenScores | None]]  # variant -> per prompt: its output against the base (None: no output)
    reference_logprobs: dict[str, list[list[float] | None]]  # variant -> per prompt: log p of each reference token


@dataclass(frozen=True)
class DivergenceSummary:
    """One variant's departure from the base over every scored output."""

    variant: str
    outputs: int  # outputs scored
    tokens: int | None  # None for the base: it is not read back (see ``base_summary``)
    mean_divergence: float  # mean KL over all tokens of all outputs, nats
    top1_changed_share: float  # share of tokens where the base's first choice differs
    first_divergent: float | None  # mean index of the first such token, over outputs that have one
    never_diverged: int  # outputs where the base agrees on every token

    def to_dict(self) -> dict:
        return {"variant": self.variant, "outputs": self.outputs, "tokens": self.tokens,
                "mean_divergence": round(self.mean_divergence, 6),
                "top1_changed_share": round(self.top1_changed_share, 6),
                "first_divergent": None if self.first_divergent is None else round(self.first_divergent, 3),
                "never_diverged": self.never_diverged}


def summarize(variant: str, scored: list[TokenScores | None]) -> DivergenceSummary:
    """Pool one variant's outputs (None: not scored, e.g. cut off) into its summary."""
    present = [s for s in scored if s is not None]
    kls = [k for s in present for k in s.kl]
    changed = [c for s in present for c in s.top1_changed]
    firsts = [s.first_divergent for s in present if s.first_divergent is not None]
    return DivergenceSummary(
        variant=variant, outputs=len(present), tokens=len(kls),
        mean_divergence=math.fsum(kls) / len(kls) if kls else 0.0,
        top1_changed_share=sum(changed) / len(changed) if changed else 0.0,
        first_divergent=sum(firsts) / len(firsts) if firsts else None,
        never_diverged=len(present) - len(firsts),
    )


def base_summary(outputs: int) -> DivergenceSummary:
    """The base against itself: no divergence by definition, so its outputs are not read back."""
    return DivergenceSummary(BASE, outputs, None, 0.0, 0.0, None, outputs)


def _rounded(values: list[float], digits: int = 5) -> list[float]:
    return [round(v, digits) for v in values]
