"""Decoding settings: plain values shared by every variant of one comparison, checked once.

No torch here: a settings form, the CLI and the store read them without loading a model.
"""

from __future__ import annotations

from dataclasses import dataclass

from adapters_ui.config import Settings
from adapters_ui.errors import ConfigError


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
