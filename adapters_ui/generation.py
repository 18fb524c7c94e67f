"""How one ``generate`` call is made: prompt formatting, decoding settings, decoding back to text.

Kept apart from the engine so that the engine decides *which* adapter runs *where*,
and this module decides *how* text goes in and out, the same way on every path.
"""

from __future__ import annotations

import threading
import time
from dataclasses import dataclass
from typing import Callable

import torch

from .config import Settings
from .errors import ConfigError


@dataclass(frozen=True)
class GenerationSettings:
    """Decoding settings shared by every variant of one comparison. Greedy unless do_sample."""

    max_new_tokens: int = 64
    do_sample: bool = False
    temperature: float = 0.7
    top_p: float = 0.9
    seed: int = 0
    use_chat_template: bool = True
    batch_size: int = 256  # most rows in one decode loop (fewer when memory is short)
    min_new_tokens: int = 0  # end-of-text is not allowed before this many tokens (benchmarks: fixed length)

    def __post_init__(self) -> None:
        if self.max_new_tokens < 1:
            raise ConfigError(f"max_new_tokens must be at least 1, got {self.max_new_tokens}.")
        if not 0 <= self.min_new_tokens <= self.max_new_tokens:
            raise ConfigError(
                f"min_new_tokens must be between 0 and max_new_tokens ({self.max_new_tokens}), got {self.min_new_tokens}."
            )
        if self.do_sample and not (self.temperature > 0):
            raise ConfigError(f"temperature must be above 0 for sampling, got {self.temperature}.")
        if not (0 < self.top_p <= 1):
            raise ConfigError(f"top_p must be in (0, 1], got {self.top_p}.")
        if self.batch_size < 1:
            raise ConfigError(f"batch_size must be at least 1, got {self.batch_size}.")

    def generate_kwargs(self, tokenizer) -> dict:
        kwargs = {"max_new_tokens": self.max_new_tokens, "pad_token_id": tokenizer.pad_token_id}
        if self.min_new_tokens:
            kwargs["min_new_tokens"] = self.min_new_tokens
        if self.do_sample:
            kwargs.update(do_sample=True, temperature=self.temperature, top_p=self.top_p, top_k=None)
        else:  # override sampling defaults a model's generation_config may carry
            kwargs.update(do_sample=False, temperature=None, top_p=None, top_k=None)
        return kwargs


_NUMBERS = {"max_new_tokens": int, "seed": int, "temperature": float, "top_p": float, "batch_size": int,
            "min_new_tokens": int}


def generation_settings(settings: Settings, **overrides) -> GenerationSettings:
    """Decoding settings from the app's defaults and a request's values (None = default).

    Values may come as text from a form or an API client; a bad one is a one-line ConfigError.
    ``max_new_tokens`` is capped by ``settings.max_new_tokens_cap``.

        >>> generation_settings(Settings(), max_new_tokens="16").max_new_tokens
        16
    """
    values = {"max_new_tokens": settings.max_new_tokens}
    for key, value in overrides.items():
        if value is None:
            continue
        kind = _NUMBERS.get(key)
        if kind is not None:
            try:
                number = float(str(value).strip())
                value = kind(number)
                if kind is int and number != value:
                    raise ValueError
            except (TypeError, ValueError, OverflowError):
                whole = "a whole number" if kind is int else "a number"
                raise ConfigError(f"{key} must be {whole}, got {value!r}.") from None
        values[key] = value
    if values["max_new_tokens"] > settings.max_new_tokens_cap:
        raise ConfigError(
            f"max_new_tokens {values['max_new_tokens']} is over the cap of {settings.max_new_tokens_cap}: "
            "ask for fewer (or raise ADAPTERS_UI_MAX_NEW_TOKENS_CAP)."
        )
    return GenerationSettings(**values)


def format_prompt(tokenizer, prompt: str, use_chat_template: bool = True) -> str:
    """The text the model sees: the chat template with a generation prompt, when the tokenizer has one."""
    if use_chat_template and getattr(tokenizer, "chat_template", None):
        return tokenizer.apply_chat_template(
            [{"role": "user", "content": prompt}], add_generation_prompt=True, tokenize=False
        )
    return prompt


def format_chat(tokenizer, messages: list[dict]) -> str:
    """A whole conversation ([{role, content}, ...], ending with the user) as the model sees it.
    Without a chat template, a plain "User:/Assistant:" transcript."""
    if getattr(tokenizer, "chat_template", None):
        return tokenizer.apply_chat_template(messages, add_generation_prompt=True, tokenize=False)
    lines = [f"{m['role'].capitalize()}: {m['content']}" for m in messages]
    return "\n".join([*lines, "Assistant:"])


OnRows = Callable[[list[str]], None]  # the partial text of every row, after each new token


@dataclass(frozen=True)
class GeneratedRows:
    """What one ``generate`` call wrote: each row's new text, and whether the row ended by
    itself (end of text or max_new_tokens) rather than being cut off by a stop."""

    texts: list[str]
    complete: list[bool]


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
