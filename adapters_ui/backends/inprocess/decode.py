"""The in-process decode loop: one batch of rows, token by token, where finished rows leave.

``model.generate`` keeps computing every row until the last one ends (finished rows get pad
tokens); here a row that wrote its end-of-text token leaves the batch, and its KV cache with it.
Each step is the model's own forward with transformers' ``DynamicCache``, and the logits
processors are transformers' own classes, built as ``generate`` builds them, so greedy output is
token-for-token what ``generate`` gives (the equality tests check it against plain PEFT).

Decoding settings a model's ``generation_config`` may add beyond ours (repetition penalty,
banned words, ...) are not re-implemented: ``supports`` says so and the caller uses ``generate``.

    result = decode(model, encoded, settings, eos_ids=[2])
    result.tokens[0]   # the new token ids of row 0, its end-of-text token included
"""

from __future__ import annotations

import threading
from dataclasses import dataclass
from typing import Callable

import torch

from adapters_ui.backends.inprocess.generate import RowStream, decode_rows, encode_rows
from adapters_ui.backends.protocol import GeneratedRows, OnRows
from adapters_ui.decoding import GenerationSettings

OnTokens = Callable[[list[int], list[int]], None]  # (rows still running, the token each just wrote)
UseRows = Callable[[list[int]], None]  # the rows (indices into the batch given) the next forward pass holds

# Prompt tokens one forward pass of the prefill reads at most (rows of one length, at least one row): the
# prefill gives the model up between two passes, so this bounds how long a waiting visitor waits for it.
# On 2 quiet CPU cores a pass of 256 tokens takes ~0.5 s (a decode step of 128 rows ~0.6 s), where the 128 rows
# x 41 tokens of an evaluation batch's prompts held the model for 5 to 17 s in 7 passes. Each pass also pays a
# fixed cost (the weights are read once per pass): ~10% more generation time for such a batch than 7 passes,
# within the noise of the job's wall clock; 512 tokens halved that, but doubled a visitor's wait on a busy machine.
PREFILL_TOKENS = 256

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
    use_rows: UseRows | None = None,
) -> Decoded:
    """Generate up to ``settings.max_new_tokens`` for each left-padded row of ``encoded``, in one go
    (``Decoding`` does the work; see it for ``use_rows`` and ``stop``)."""
    decoding = Decoding(model, encoded, settings, eos_ids, on_tokens)
    decoding.run(stop=stop, use_rows=use_rows)
    return decoding.result()


class Decoding:
    """One batch's decode that can give the model up between steps and go on later, token-identical.

    The prompts are read group by group, rows of one length at a time (no padding, and the
    first group's first tokens reach ``on_tokens`` before the other groups are read); then all
    rows decode together, and a row that ends leaves. Everything a step needs lives here (the KV
    cache, the chosen tokens, the rows still running, the logits processors and random streams), so
    ``run`` may return when ``pause()`` says so and be called again later, after other model work:

        decoding = Decoding(model, encoded, settings, eos_ids=[2])
        while not decoding.run(pause=lambda: somebody_waits()):
            ...  # the model is free for others here; state that lives in the model is the caller's to restore
        decoding.result().tokens[0]

    ``use_rows`` hears which rows (indices into ``encoded``) the next forward pass holds, for per-row
    state kept outside (which adapter a row uses), and again at the start of each resumed ``run``.
    """

    def __init__(self, model, encoded: dict[str, torch.Tensor], settings: GenerationSettings, eos_ids: list[int],
                 on_tokens: OnTokens | None = None):
        self.model, self.settings = model, settings
        ids, mask = encoded["input_ids"], encoded["attention_mask"]
        self.step = _Step(settings, eos_ids, ids, on_tokens)
        self.prefill = _Prefill(model, ids, mask, self.step)
        self.cache = None  # one KV cache for all rows, once the prompts are read
        self.chosen: torch.Tensor | None = None  # [alive]: each running row's last token
        self.alive = list(range(ids.shape[0]))  # the original row of each position in the running batch
        self.mask = mask
        self.positions = (mask.long().cumsum(-1) - 1).masked_fill(mask == 0, 0)[:, -1:]  # as generate: padding skipped
        self.sequences = ids
        self.count = 0  # tokens each running row has written
        self.ended = False

    def run(self, stop: threading.Event | None = None, pause: Callable[[], bool] | None = None,
            use_rows: UseRows | None = None) -> bool:
        """Decode until every row ended (True) or, between two forward passes, ``pause()`` is true
        (False: call again to go on). Once ``stop`` is set, the decode ends after the current step."""
        if self.ended:
            return True
        moved = False  # every call makes one forward pass at least, whatever ``pause`` says
        if self.cache is None:
            read = self.prefill.run(pause, use_rows)
            if read is None:
                return False
            self.chosen, self.cache = read
            self.count, moved = 1, True
        elif use_rows is not None:
            use_rows(self.alive)
        step, cache = self.step, self.cache
        while True:
            finished = step.ended(self.chosen, self.alive)
            if self.count >= self.settings.max_new_tokens or (stop is not None and stop.is_set()) or bool(finished.all()):
                self.ended = True
                return True
            if moved and pause is not None and pause():
                return False
            moved = True
            if bool(finished.any()):  # finished rows leave: their cache, mask and state go
                keep = (~finished).nonzero().flatten()
                cache.batch_select_indices(keep)
                self.alive = [self.alive[i] for i in keep.tolist()]
                self.chosen, self.mask, self.positions, self.sequences = (
                    self.chosen[keep], self.mask[keep], self.positions[keep], self.sequences[keep])
                if use_rows is not None:
                    use_rows(self.alive)
            self.sequences = torch.cat([self.sequences, self.chosen[:, None]], dim=-1)
            self.mask = torch.cat([self.mask, self.mask.new_ones((self.mask.shape[0], 1))], dim=-1)
            self.positions = self.positions + 1
            logits = self.model(input_ids=self.chosen[:, None], attention_mask=self.mask, position_ids=self.positions,
                                cache=cache, use_cache=True, logits_to_keep=1).logits[:, -1, :]
            self.chosen = step.choose(logits, self.sequences, self.alive)
            self.count += 1

    def result(self) -> Decoded:
        """Every row's tokens so far; a row is complete when it ended by itself (not cut by a stop)."""
        limit = self.settings.max_new_tokens
        complete = [ended or len(row) >= limit for ended, row in zip(self.step.complete, self.step.tokens)]
        return Decoded([list(row) for row in self.step.tokens], complete)

    def tokens(self) -> tuple[int, int]:
        """(tokens written so far, tokens this batch will write at most): rows that ended count what
        they wrote, the others ``max_new_tokens``."""
        limit = self.settings.max_new_tokens
        rows = zip(self.step.complete, self.step.tokens)
        return self.step.written, sum(len(row) if ended else limit for ended, row in rows)


class _Step:
    """Choosing each row's next token and keeping what every row wrote."""

    def __init__(self, settings: GenerationSettings, eos_ids: list[int], ids: torch.Tensor, on_tokens):
        rows, width = ids.shape
        self.settings, self.on_tokens = settings, on_tokens
        self.processors = _processors(settings, width, eos_ids, ids.device)
        self.generators = _generators(settings, rows, ids.device)
        self.ends = torch.tensor(eos_ids, device=ids.device)
        self.tokens: list[list[int]] = [[] for _ in range(rows)]
        self.complete = [False] * rows
        self.written = 0  # tokens chosen so far, all rows

    def choose(self, logits: torch.Tensor, sequences: torch.Tensor, rows: list[int]) -> torch.Tensor:
        """The next token of ``rows`` (original indices) from their last logits [rows, vocab]."""
        scores = logits.to(copy=True, dtype=torch.float32)  # as generate
        if self.processors:
            scores = self.processors(sequences, scores)
        if self.settings.do_sample:
            probabilities = torch.softmax(scores, dim=-1)
            chosen = torch.cat([torch.multinomial(p, 1, generator=self.generators[row])
                                for p, row in zip(probabilities, rows)])
        else:
            chosen = scores.argmax(dim=-1)
        written = chosen.tolist()
        for row, token in zip(rows, written):
            self.tokens[row].append(token)
        self.written += len(written)
        if self.on_tokens is not None:
            self.on_tokens(list(rows), written)
        return chosen

    def ended(self, chosen: torch.Tensor, rows: list[int]) -> torch.Tensor:
        """Which of ``rows`` just wrote an end-of-text token (they are complete)."""
        finished = torch.isin(chosen, self.ends)
        for position in finished.nonzero().flatten().tolist():
            self.complete[rows[position]] = True
        return finished


class _Prefill:
    """Read the prompts one length at a time, at most ``PREFILL_TOKENS`` tokens a pass, and choose
    every row's first token; ``run`` returns those tokens and one KV cache for all rows, left-padded
    like ``ids`` (or None when it paused between two passes: call it again).

    Rows of one length need no padding, so no work is spent on it, the first group's first
    tokens are out after a fraction of the reading, and no pass holds the model for long. (Models
    whose cache is not a plain per-layer KV cache, e.g. sliding windows, read the padded batch in
    one pass.)

        >>> _passes({5: [0, 1, 2], 100: [3, 4, 5]}, limit=256)
        [(5, [0, 1, 2]), (100, [3, 4]), (100, [5])]
    """

    def __init__(self, model, ids: torch.Tensor, mask: torch.Tensor, step: _Step):
        from transformers import DynamicCache
        from transformers.cache_utils import DynamicLayer

        self.model, self.ids, self.mask, self.step = model, ids, mask, step
        rows, width = ids.shape
        groups: dict[int, list[int]] = {}
        for row, length in enumerate(mask.sum(dim=-1).tolist()):
            groups.setdefault(length, []).append(row)
        self.cache = DynamicCache(config=model.config)
        if all(type(layer) is DynamicLayer for layer in self.cache.layers):
            self.pending = _passes(groups, PREFILL_TOKENS)  # (length, rows) still to read
        else:
            self.pending = [(width, list(range(rows)))]
        self.split = len(self.pending) > 1
        self.chosen = torch.empty(rows, dtype=torch.long, device=ids.device)
        self.parts: list[tuple[torch.Tensor, int, object]] = []  # (rows, length, their cache) read so far

    def run(self, pause: Callable[[], bool] | None, use_rows: UseRows | None):
        from transformers import DynamicCache

        rows, width = self.ids.shape
        moved = False
        while self.pending:
            if moved and pause is not None and pause():
                return None
            moved = True
            length, group = self.pending[0]
            index = torch.tensor(group, device=self.ids.device)
            if use_rows is not None:
                use_rows(group)
            part = DynamicCache(config=self.model.config) if self.split else self.cache
            group_mask = self.mask[index, width - length:]
            positions = (group_mask.long().cumsum(-1) - 1).masked_fill(group_mask == 0, 0)
            logits = self.model(input_ids=self.ids[index, width - length:], attention_mask=group_mask,
                                position_ids=positions, cache=part, use_cache=True, logits_to_keep=1).logits[:, -1, :]
            self.chosen[index] = self.step.choose(logits, self.ids[index], group)
            self.parts.append((index, length, part))
            self.pending.pop(0)
        if self.split:
            if use_rows is not None:
                use_rows(list(range(rows)))
            for layer in range(len(self.parts[0][2].layers)):
                keys = values = None
                for index, length, part in self.parts:
                    k, v = part.layers[layer].keys, part.layers[layer].values  # [group, heads, length, head_dim]
                    if keys is None:
                        keys = k.new_zeros((rows, k.shape[1], width, k.shape[3]))
                        values = v.new_zeros((rows, v.shape[1], width, v.shape[3]))
                    keys[index, :, width - length:] = k
                    values[index, :, width - length:] = v
                self.cache.update(keys, values, layer)
        self.parts = []
        return self.chosen, self.cache


def _passes(groups: dict[int, list[int]], limit: int) -> list[tuple[int, list[int]]]:
    """The prefill's forward passes: each group's rows (all of one prompt length) in slices of at
    most ``limit`` tokens (one row at least)."""
    size = {length: max(1, limit // max(length, 1)) for length in groups}
    return [(length, rows[start : start + size[length]]) for length, rows in groups.items()
            for start in range(0, len(rows), size[length])]


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


def decode_texts(
    model,
    tokenizer,
    texts: list[str],
    settings: GenerationSettings,
    on_rows: OnRows | None = None,
    stop: threading.Event | None = None,
    use_rows: UseRows | None = None,
) -> GeneratedRows:
    """``decode`` from prompts to texts: left-padded batch in, each row's new text out;
    ``on_rows`` hears every row's text so far (throttled, see ``RowStream``)."""
    return TextDecoding(model, tokenizer, texts, settings, on_rows).run(stop, use_rows=use_rows)


class TextDecoding:
    """``Decoding`` from prompts to texts, a slice at a time: ``run`` returns the texts once every
    row ended, or None when it paused (call it again, with the model in the same state)."""

    def __init__(self, model, tokenizer, texts: list[str], settings: GenerationSettings, on_rows: OnRows | None = None):
        self.tokenizer = tokenizer
        self.stream = RowStream(tokenizer, on_rows, len(texts)) if on_rows is not None else None
        encoded = encode_rows(model, tokenizer, texts)
        self.decoding = Decoding(model, encoded, settings, end_tokens(model, tokenizer),
                                 self.stream.add if self.stream is not None else None)

    def run(self, stop: threading.Event | None = None, pause: Callable[[], bool] | None = None,
            use_rows: UseRows | None = None) -> GeneratedRows | None:
        with torch.inference_mode():
            if not self.decoding.run(stop, pause, use_rows):
                return None
        if self.stream is not None:
            self.stream.end()
        return self.written()

    def written(self) -> GeneratedRows:
        """Each row's text so far (no model work): rows that did not end by themselves are not complete."""
        result = self.decoding.result()
        return GeneratedRows(decode_rows(self.tokenizer, result.tokens), result.complete)

    def tokens(self) -> tuple[int, int]:
        return self.decoding.tokens()
