"""Where a variant departs from the base, token by token.

A variant's output is read back (teacher-forced) through the variant and through the base.
At each of its tokens we keep what reviewers ask about:

    kl            KL(variant || base) of the two next-token distributions, in nats (0: same belief)
    logprob       log p_variant(token)         how sure the variant was of what it wrote
    base_logprob  log p_base(token)            how likely the base found that same token
    top1_changed  argmax p_base != argmax p_variant   the base would have picked another token

    >>> import torch
    >>> logits = torch.tensor([[2.0, 0.0], [0.0, 0.0]])                   # two positions, vocabulary of 2
    >>> s = token_stats(logits, logits, torch.tensor([0, 1]))
    >>> s["kl"].tolist(), s["top1_changed"].tolist()
    ([0.0, 0.0], [False, False])

Everything here is a pure function of tensors and plain lists: the model work that produces
the logits lives in the backends (``Backend.read_back``), the orchestration in ``analyze``.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import torch

from ..metrics import BASE


def token_stats(variant_logits: torch.Tensor, base_logits: torch.Tensor, targets: torch.Tensor) -> dict[str, torch.Tensor]:
    """Per position statistics of one teacher-forced text.

    variant_logits, base_logits: [tokens, vocab], the logits that predict each target token;
    targets: [tokens], the token ids written. Returns tensors of [tokens]: kl, logprob,
    base_logprob, top1_changed, base_top (the base's top-1 id) and base_top_prob.
    Computed in float32 whatever the model's dtype (log-softmax of bf16 logits loses the tail)."""
    variant = torch.log_softmax(variant_logits.float(), dim=-1)
    base = torch.log_softmax(base_logits.float(), dim=-1)
    kl = (variant.exp() * (variant - base)).sum(dim=-1).clamp_min(0.0)  # rounding can give -1e-8
    base_top_logprob, base_top = base.max(dim=-1)
    return {
        "kl": kl,
        "logprob": _chosen(variant, targets),
        "base_logprob": _chosen(base, targets),
        "top1_changed": variant.argmax(dim=-1) != base_top,
        "base_top": base_top,
        "base_top_prob": base_top_logprob.exp(),
    }


def target_logprobs(logits: torch.Tensor, targets: list[int]) -> list[float]:
    """log p of each target token under the logits [tokens, vocab] that predicted it (a reference's perplexity)."""
    return _chosen(torch.log_softmax(logits.float(), dim=-1), torch.tensor(targets, device=logits.device)).tolist()


def _chosen(logprobs: torch.Tensor, targets: torch.Tensor) -> torch.Tensor:
    return logprobs.gather(-1, targets[:, None])[:, 0]


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


def scores_from_stats(stats: dict[str, torch.Tensor], token_ids: list[int], pieces: list[str], top_pieces: list[str]) -> TokenScores:
    """``token_stats``' tensors as plain lists, with the display pieces of the tokens and the base's picks."""
    return TokenScores(
        tokens=pieces, token_ids=list(token_ids),
        logprob=stats["logprob"].tolist(), base_logprob=stats["base_logprob"].tolist(),
        kl=stats["kl"].tolist(), top1_changed=stats["top1_changed"].tolist(),
        base_top=top_pieces, base_top_prob=stats["base_top_prob"].tolist(),
    )


def token_pieces(tokenizer, ids: list[int]) -> list[str]:
    """Each token's share of the decoded text: text(ids[:i+1]) minus text(ids[:i]). A character
    split over several byte tokens shows on the token that completes it (not as '\\ufffd')."""
    pieces, previous = [], ""
    for end in range(1, len(ids) + 1):
        text = tokenizer.decode(ids[:end], skip_special_tokens=False)
        if text.endswith("\ufffd"):  # an incomplete character: wait for its last byte
            pieces.append("")
            continue
        pieces.append(text[len(previous):] if text.startswith(previous) else text)
        previous = text
    return pieces


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
