"""Reading texts back through a model (teacher forcing): each prompt once, every continuation on top.

An analysis reads many continuations after the same prompts: each variant's outputs through
the base, each variant's own outputs, every reference through every model. A ``PromptReader``
reads one group of prompts once (their shared chat-template prefix once for all of them), keeps
the KV cache, and reads any number of continuation sets on top of it in a few batched passes:

    with model_as_variant() as model:                   # the same adapter state for every pass
        reader = PromptReader(model, prompt_ids, pad_id, device)
        outputs_logits, references_logits = reader.read([output_ids, reference_ids])
    outputs_logits[row]   # [tokens, vocab]: the logits that predicted each token of that row's text

Rows are left-padded prompts followed by right-padded continuations: padding on the right
never reaches a real token, and position ids skip the padding as ``generate`` does.
"""

from __future__ import annotations

import torch

Ids = list[int]


class PromptReader:
    """The prompts of one group read once by one model; continuations read on their KV cache. The
    caller holds the model in one adapter state (a variant active, or adapters off) meanwhile."""

    def __init__(self, model, prompts: list[Ids], pad: int, device: torch.device, max_rows: int = 64):
        from transformers import DynamicCache

        self.model, self.config, self.pad, self.device = model, model.config, pad, device
        self.rows, self.max_rows = len(prompts), max(max_rows, len(prompts))
        # Every prompt keeps one token of its own, whose last position predicts its continuation's first token.
        shared = _common_prefix(prompts)[: min(map(len, prompts)) - 1]
        suffixes = [p[len(shared):] for p in prompts]
        width = max(map(len, suffixes))
        ids = self._tensor([[pad] * (width - len(s)) + s for s in suffixes])
        suffix_mask = self._tensor([[0] * (width - len(s)) + [1] * len(s) for s in suffixes])
        cache = DynamicCache(config=self.config)
        if shared:  # the chat template's system prompt, read by one row and copied to all
            model(input_ids=self._tensor([shared]), position_ids=torch.arange(len(shared), device=device)[None],
                  cache=cache, use_cache=True, logits_to_keep=1)
            cache.batch_repeat_interleave(self.rows)
        self.mask = torch.cat([suffix_mask.new_ones((self.rows, len(shared))), suffix_mask], dim=-1)
        positions = len(shared) + (suffix_mask.cumsum(-1) - 1).clamp_min(0)
        self.first = model(input_ids=ids, attention_mask=self.mask, position_ids=positions, cache=cache,
                           use_cache=True, logits_to_keep=1).logits[:, -1]  # [rows, vocab]
        self.kept = [(layer.keys, layer.values) for layer in cache.layers]  # reused by every read, never changed

    def read(self, sets: list[list[Ids | None]]) -> list[list[torch.Tensor | None]]:
        """For each set of continuations (one per prompt, None: skip), per row the logits [tokens, vocab]
        that predicted each of its tokens. All sets' texts go in passes of up to ``max_rows`` rows of
        similar length (padding costs as much as text)."""
        texts = [c for s in sets for c in s]
        prompt_of = [i % self.rows for i in range(len(texts))]
        read = [None if c is None else self.first[prompt_of[i], None][: len(c)] for i, c in enumerate(texts)]
        longer = sorted((i for i, c in enumerate(texts) if c is not None and len(c) >= 2), key=lambda i: -len(texts[i]))
        for group in _similar_lengths(longer, [len(texts[i]) for i in longer], self.max_rows):
            rest = [texts[i][:-1] for i in group]  # a text's last token predicts nothing we need
            logits = self._forward([prompt_of[i] for i in group], rest)
            for row, i in enumerate(group):
                read[i] = torch.cat([self.first[prompt_of[i], None], logits[row, : len(rest[row])]])
        return [read[k * self.rows : (k + 1) * self.rows] for k in range(len(sets))]

    def _forward(self, prompt_rows: list[int], texts: list[Ids]) -> torch.Tensor:
        """One pass: each text after its prompt's KV, right-padded; the logits [rows, width, vocab]."""
        from transformers import DynamicCache

        index = torch.tensor(prompt_rows, device=self.device)
        width = max(map(len, texts))
        ids = self._tensor([t + [self.pad] * (width - len(t)) for t in texts])
        more_mask = self._tensor([[1] * len(t) + [0] * (width - len(t)) for t in texts])
        cache = DynamicCache(config=self.config)
        for layer, (keys, values) in enumerate(self.kept):
            cache.update(keys[index], values[index], layer)
        mask = self.mask[index]
        positions = mask.sum(-1, keepdim=True) + torch.arange(width, device=self.device)
        return self.model(input_ids=ids, attention_mask=torch.cat([mask, more_mask], dim=-1), position_ids=positions,
                          cache=cache, use_cache=True).logits

    def _tensor(self, rows: list[list[int]]) -> torch.Tensor:
        return torch.tensor(rows, dtype=torch.long, device=self.device)


def _similar_lengths(items: list[int], lengths: list[int], max_rows: int, slack: float = 0.8) -> list[list[int]]:
    """``items`` (sorted longest first) in groups of at most ``max_rows`` whose shortest is at least
    ``slack`` x their longest: under a fifth of a pass is padding."""
    groups: list[list[tuple[int, int]]] = []
    for item, length in zip(items, lengths):
        if not groups or len(groups[-1]) >= max_rows or length < slack * groups[-1][0][1]:
            groups.append([])
        groups[-1].append((item, length))
    return [[item for item, _ in group] for group in groups]


def _common_prefix(rows: list[Ids]) -> Ids:
    """The token ids every row starts with."""
    first = rows[0]
    length = len(first)
    for row in rows[1:]:
        length = min(length, len(row))
        for i in range(length):
            if row[i] != first[i]:
                length = i
                break
    return first[:length]
