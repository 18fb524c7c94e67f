"""Token statistics of teacher-forced logits: the tensor half of ``analysis/divergence.py``.

At each token of a variant's output, read back through the variant and through the base:

    kl            KL(variant || base) of the two next-token distributions, in nats (0: same belief)
    logprob       log p_variant(token)         how sure the variant was of what it wrote
    base_logprob  log p_base(token)            how likely the base found that same token
    top1_changed  argmax p_base != argmax p_variant   the base would have picked another token

    >>> import torch
    >>> logits = torch.tensor([[2.0, 0.0], [0.0, 0.0]])                   # two positions, vocabulary of 2
    >>> s = token_stats(logits, logits, torch.tensor([0, 1]))
    >>> s["kl"].tolist(), s["top1_changed"].tolist()
    ([0.0, 0.0], [False, False])
"""

from __future__ import annotations

import torch

from adapters_ui.analysis.divergence import TokenScores


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
