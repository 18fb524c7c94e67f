"""How text goes in and out of the in-process model: tokenising rows, streaming them, decoding back.

Kept apart from the backend so that the backend decides *which* adapter runs *where*, and this
module decides *how* text goes in and out, the same way on every path.
"""

from __future__ import annotations

import threading
import time

import torch

from adapters_ui.backends.protocol import GeneratedRows, OnRows
from adapters_ui.decoding import GenerationSettings


class RowStream:
    """Every row's text so far, for live streaming, without decoding every row at every step.

    Tokens come in per step (``add``, or ``put`` as a ``generate(streamer=...)`` sink); the rows
    that changed are decoded and ``on_rows`` hears all texts after the first token and then at
    most every ``interval`` seconds, and once more at the end, so the last texts are the whole
    outputs. (Decoding every row after every token cost 40% of a run.)"""

    def __init__(self, tokenizer, on_rows: OnRows, rows: int, interval: float = 0.2):
        self.tokenizer, self.on_rows, self.interval = tokenizer, on_rows, interval
        self.ids: list[list[int]] = [[] for _ in range(rows)]
        self.texts = [""] * rows
        self._changed: set[int] = set()
        self._shown_at: float | None = None
        self._prompt_seen = False

    def add(self, rows: list[int], tokens: list[int]) -> None:
        """``tokens[i]`` is the next token of row ``rows[i]``."""
        for row, token in zip(rows, tokens):
            self.ids[row].append(token)
        self._changed.update(rows)
        now = time.perf_counter()
        if self._shown_at is None or now - self._shown_at >= self.interval:
            self._shown_at = now
            self.show()

    def show(self) -> None:
        for row in self._changed:
            self.texts[row] = self.tokenizer.decode(self.ids[row], skip_special_tokens=True)
        self._changed.clear()
        self.on_rows(list(self.texts))

    def put(self, value: torch.Tensor) -> None:
        if not self._prompt_seen:  # generate's first call carries the prompt ids
            self._prompt_seen = True
            return
        step = value.reshape(len(self.ids), -1)  # [rows, tokens this step]
        for column in step.T.tolist():
            self.add(list(range(len(self.ids))), column)

    def end(self) -> None:
        if self._changed:
            self.show()


class StopWhenSet:
    """A ``StoppingCriteria`` that ends every row at the next token once ``event`` is set
    (a Stop button: the call returns what was written so far)."""

    def __init__(self, event: threading.Event):
        self.event = event

    def __call__(self, input_ids: torch.Tensor, scores, **kwargs) -> torch.Tensor:
        return torch.full((input_ids.shape[0],), self.event.is_set(), dtype=torch.bool, device=input_ids.device)


def generate_texts(
    model,
    tokenizer,
    texts: list[str],
    settings: GenerationSettings,
    on_rows: OnRows | None = None,
    stop: threading.Event | None = None,
    **extra,
) -> GeneratedRows:
    """One ``generate`` call over ``texts`` (left-padded); returns only the new text of each row.

    ``on_rows`` hears every row's text so far after each token (live streaming); ``stop``,
    once set, ends the call at the next token; ``extra`` passes through, e.g.
    ``adapter_names=[...]`` for PEFT's mixed-adapter batch.
    """
    encoded = encode_rows(model, tokenizer, texts)
    if settings.do_sample:
        torch.manual_seed(settings.seed)
    if on_rows is not None:
        extra["streamer"] = RowStream(tokenizer, on_rows, len(texts))
    if stop is not None:
        from transformers import StoppingCriteriaList

        extra["stopping_criteria"] = StoppingCriteriaList([StopWhenSet(stop)])
    with torch.inference_mode():
        output = model.generate(**encoded, **settings.generate_kwargs(tokenizer), **extra)
    new_tokens = output[:, encoded["input_ids"].shape[1]:]  # [rows, new] (left padding: prompts end together)
    return GeneratedRows(decode_rows(tokenizer, new_tokens), _ended(model, tokenizer, new_tokens, settings.max_new_tokens))


def encode_rows(model, tokenizer, texts: list[str]) -> dict[str, torch.Tensor]:
    """The prompts as one left-padded batch on the model's device (the chat template is already in ``texts``)."""
    device = next(model.parameters()).device
    return tokenizer(texts, return_tensors="pt", padding=True, add_special_tokens=False).to(device)


def decode_rows(tokenizer, rows) -> list[str]:
    """Each row's new token ids as text, without special tokens (end of text, padding).

    Exactly what plain PEFT's ``tokenizer.decode(new_tokens, skip_special_tokens=True)`` gives: never
    stripped (a leading space or newline is part of the output; only a page may trim, for display)."""
    return [tokenizer.decode(row, skip_special_tokens=True) for row in rows]


def _ended(model, tokenizer, new_tokens: torch.Tensor, max_new_tokens: int) -> list[bool]:
    """Per row: did it end by itself? A call that ran all its steps ended every row; a call cut
    short (Stop) ended only the rows that already wrote an end-of-text (then padding) token."""
    if new_tokens.shape[1] >= max_new_tokens:
        return [True] * new_tokens.shape[0]
    ends = model.generation_config.eos_token_id
    ends = set(ends if isinstance(ends, (list, tuple)) else [ends]) | {tokenizer.eos_token_id, tokenizer.pad_token_id}
    ends.discard(None)
    return [any(int(t) in ends for t in row) for row in new_tokens]
