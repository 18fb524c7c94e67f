"""The in-process decode loop: one batch of rows, token by token, where finished rows leave.

``model.generate`` keeps computing every row until the last one ends (finished rows get pad
tokens); here a row that wrote its end-of-text token leaves the batch, and its KV cache with it.
Each step is the model's own forward with transformers' ``DynamicCache``, and the logits
processors are transformers' own classes, built as ``generate`` builds them, so greedy output is
token-for-token what ``generate`` gives (the equality tests check it against plain PEFT).

Decoding settings a model's ``generation_config`` may add beyond ours (repetition penalty,
banned words, ...) are not re-implemented: ``supports`` says so and the caller uses ``generate``.

    result = decode(model, encoded, settings, eos_ids=[2], pad_id=2)
    result.tokens[0]   # the new token ids of row 0, its end-of-text token included
"""

from __future__ import annotations

import threading
from dataclasses import dataclass
from typing import Callable

import torch

from ..generation import GeneratedRows, GenerationSettings, OnRows, RowStream

OnTokens = Callable[[list[int], list[int]], None]  # (rows still running, the token each just wrote)
OnSelect = Callable[[torch.Tensor], None]  # positions (in the current batch) of the rows that stay

# generation_config fields that add logits processors of their own; with any of them set, use generate().
_UNHANDLED = {
    "repetition_penalty": 1.0, "encoder_repetition_penalty": 1.0, "no_repeat_ngram_size": 0,
    "encoder_no_repeat_ngram_size": 0, "bad_words_ids": None, "sequence_bias": None, "min_length": 0,
    "forced_bos_token_id": None, "forced_eos_token_id": None, "suppress_tokens": None,
    "begin_suppress_tokens": None, "exponential_decay_length_penalty": None, "guidance_scale": None,
    "remove_invalid_values": False, "min_p": None, "typical_p": 1.0, "epsilon_cutoff": 0.0, "eta_cutoff": 0.0,
    "top_h": None, "renormalize_logits": False, "watermarking_config": None,
}


@dataclass(frozen=True)
class Decoded:
    tokens: list[list[int]]  # per row: the new token ids, an end-of-text token included
    complete: list[bool]  # per row: ended by itself (end of text or max_new_tokens), not by a stop


def supports(model) -> bool:
    """True when the model's generation_config asks for nothing beyond our settings."""
    config = getattr(model, "generation_config", None)
    return config is None or all(getattr(config, key, default) in (default, None) for key, default in _UNHANDLED.items())


def end_tokens(model, tokenizer) -> list[int]:
    """The ids that end a row, as ``generate`` takes them: the generation config's, else the tokenizer's."""
    ends = getattr(getattr(model, "generation_config", None), "eos_token_id", None)
    if ends is None:
        ends = getattr(model.config, "eos_token_id", None)
    if ends is None:
        ends = tokenizer.eos_token_id
    ends = ends if isinstance(ends, (list, tuple)) else [ends]
    return [int(e) for e in ends if e is not None]


def decode(
    model,
    encoded: dict[str, torch.Tensor],
    settings: GenerationSettings,
    eos_ids: list[int],
    on_tokens: OnTokens | None = None,
    stop: threading.Event | None = None,
    on_select: OnSelect | None = None,
) -> Decoded:
    """Generate up to ``settings.max_new_tokens`` for each left-padded row of ``encoded``.

    ``on_tokens`` hears each step's tokens; ``on_select`` hears which rows stay whenever finished
    ones leave (per-row state kept outside, such as which adapter a row uses, must follow);
    once ``stop`` is set, the loop ends after the current step.
    """
    from transformers import DynamicCache

    ids, mask = encoded["input_ids"], encoded["attention_mask"]
    rows, prompt_length = ids.shape
    processors = _processors(settings, prompt_length, eos_ids, ids.device)
    generators = _generators(settings, rows, ids.device)
    ends = torch.tensor(eos_ids, device=ids.device)
    tokens: list[list[int]] = [[] for _ in range(rows)]
    complete = [False] * rows
    alive = list(range(rows))  # the original row of each position in the running batch
    cache = DynamicCache(config=model.config)
    positions = (mask.long().cumsum(-1) - 1).masked_fill(mask == 0, 0)  # as generate: left padding skipped
    sequences, step_ids = ids, ids
    for step in range(settings.max_new_tokens):
        logits = model(input_ids=step_ids, attention_mask=mask, position_ids=positions, cache=cache,
                       use_cache=True, logits_to_keep=1).logits[:, -1, :].to(copy=True, dtype=torch.float32)
        scores = processors(sequences, logits) if processors else logits
        chosen = _sample(scores, generators) if settings.do_sample else scores.argmax(dim=-1)  # [alive]
        written = chosen.tolist()
        for row, token in zip(alive, written):
            tokens[row].append(token)
        if on_tokens is not None:
            on_tokens(list(alive), written)
        finished = torch.isin(chosen, ends)
        for position in finished.nonzero().flatten().tolist():
            complete[alive[position]] = True
        if step == settings.max_new_tokens - 1 or (stop is not None and stop.is_set()) or bool(finished.all()):
            break
        if bool(finished.any()):  # finished rows leave: their cache, mask and state go
            keep = (~finished).nonzero().flatten()
            cache.batch_select_indices(keep)
            alive = [alive[i] for i in keep.tolist()]
            chosen, mask, positions, sequences = chosen[keep], mask[keep], positions[keep], sequences[keep]
            generators = [generators[i] for i in keep.tolist()] if generators else generators
            if on_select is not None:
                on_select(keep)
        step_ids = chosen[:, None]
        sequences = torch.cat([sequences, step_ids], dim=-1)
        mask = torch.cat([mask, mask.new_ones((mask.shape[0], 1))], dim=-1)
        positions = positions[:, -1:] + 1
    complete = [ended or len(row) >= settings.max_new_tokens for ended, row in zip(complete, tokens)]
    return Decoded(tokens, complete)


def _processors(settings: GenerationSettings, prompt_length: int, eos_ids: list[int], device):
    """transformers' own processors for what our settings ask, in generate's order."""
    from transformers import (
        LogitsProcessorList,
        MinNewTokensLengthLogitsProcessor,
        TemperatureLogitsWarper,
        TopPLogitsWarper,
    )

    processors = LogitsProcessorList()
    if settings.min_new_tokens > 0:
        processors.append(MinNewTokensLengthLogitsProcessor(prompt_length, settings.min_new_tokens, eos_ids, device=device))
    if settings.do_sample:
        if settings.temperature != 1.0:
            processors.append(TemperatureLogitsWarper(settings.temperature))
        if settings.top_p < 1.0:
            processors.append(TopPLogitsWarper(settings.top_p))
    return processors


def _generators(settings: GenerationSettings, rows: int, device) -> list[torch.Generator]:
    """One random stream per row, all seeded alike: a row's sample does not depend on which rows
    share its batch, and every variant of a prompt draws the same random numbers (so differences
    between variants come from the adapters, not from the noise)."""
    if not settings.do_sample:
        return []
    return [torch.Generator(device=device).manual_seed(settings.seed) for _ in range(rows)]


def _sample(scores: torch.Tensor, generators: list[torch.Generator]) -> torch.Tensor:
    probabilities = torch.softmax(scores, dim=-1)
    return torch.cat([torch.multinomial(p, 1, generator=g) for p, g in zip(probabilities, generators)])


def decode_texts(
    model,
    tokenizer,
    texts: list[str],
    settings: GenerationSettings,
    on_rows: OnRows | None = None,
    stop: threading.Event | None = None,
    on_select: OnSelect | None = None,
) -> GeneratedRows:
    """``decode`` from prompts to texts: left-padded batch in, each row's new text out;
    ``on_rows`` hears every row's text so far (throttled, see ``RowStream``)."""
    device = next(model.parameters()).device
    encoded = tokenizer(texts, return_tensors="pt", padding=True, add_special_tokens=False).to(device)
    stream = RowStream(tokenizer, on_rows, len(texts)) if on_rows is not None else None
    with torch.inference_mode():
        result = decode(model, encoded, settings, end_tokens(model, tokenizer), stream.add if stream else None,
                        stop, on_select)
    if stream is not None:
        stream.end()
    decoded = [tokenizer.decode(ids, skip_special_tokens=True).strip() for ids in result.tokens]
    return GeneratedRows(decoded, result.complete)
