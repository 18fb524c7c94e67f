"""What the UI and the CLI both call: "attach these, compare those prompts" -> result objects.

    >>> session = Session.start(Settings.from_env())          # loads the base model
    >>> session.attach("assets/adapters/pirate")               # doctest: +SKIP
    >>> result = session.compare(["Hi!"], ["base", "pirate"])  # doctest: +SKIP
    >>> result.outputs("pirate")                                # doctest: +SKIP
"""

from __future__ import annotations

import threading
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Callable

from .base_model import LoadedBase, load_base
from .config import Settings
from .engine import BASE, ModelWorker, OnOutput
from .errors import ConfigError, PromptError
from .generation import GenerationSettings, format_chat
from .registry import AdapterInfo, AdapterRegistry
from .storage import ModelStorage, model_storage, size_ratio


@dataclass(frozen=True)
class PromptResult:
    prompt: str
    outputs: dict[str, str]  # variant -> text


@dataclass(frozen=True)
class Comparison:
    """Every variant's output for every prompt, with the settings that made them."""

    variants: tuple[str, ...]
    results: tuple[PromptResult, ...]
    settings: GenerationSettings
    routes: dict[str, str]  # variant -> engine path
    generate_s: float

    def outputs(self, variant: str) -> list[str]:
        return [r.outputs[variant] for r in self.results]

    def records(self) -> list[dict]:
        return [{"prompt": r.prompt, "outputs": dict(r.outputs)} for r in self.results]


@dataclass(frozen=True)
class StorageReport:
    """The full model's size next to each adapter's."""

    model: ModelStorage
    adapters: dict[str, AdapterInfo] = field(default_factory=dict)

    def ratio(self, name: str) -> float:
        """How many times smaller than a full copy of the model this adapter is."""
        return size_ratio(self.model.full_copy_bytes, self.adapters[name].bytes_on_disk)

    def to_dict(self) -> dict:
        return {
            "full_model_bytes": self.model.full_copy_bytes,
            "full_model_params": self.model.params,
            "full_model_dtype": self.model.dtype,
            "base_file_bytes": self.model.file_bytes,
            "adapters": {
                name: {"bytes": info.bytes_on_disk, "params": info.params, "dtype": info.dtype,
                       "times_smaller": round(self.ratio(name), 1)}
                for name, info in self.adapters.items()
            },
        }


def generation_settings(settings: Settings, **overrides) -> GenerationSettings:
    """Defaults from ``settings``; None values are ignored; ``max_new_tokens`` is capped."""
    values = {"max_new_tokens": settings.max_new_tokens, **{k: v for k, v in overrides.items() if v is not None}}
    if values["max_new_tokens"] > settings.max_new_tokens_cap:
        raise ConfigError(
            f"max_new_tokens {values['max_new_tokens']} is over the cap of {settings.max_new_tokens_cap}: "
            "ask for fewer (or raise ADAPTERS_UI_MAX_NEW_TOKENS_CAP)."
        )
    return GenerationSettings(**values)


class Session:
    """One base model, its attached adapters, and comparisons over them."""

    def __init__(self, base: LoadedBase, settings: Settings):
        self.base = base
        self.settings = settings
        self.worker = ModelWorker(base)
        self.registry = AdapterRegistry(self.worker, settings, base.source.name)
        # Measured now, while the model is bare: mounted adapters add parameters to it in place.
        self._model_storage: ModelStorage = model_storage(base.model, base.source.file)

    @classmethod
    def start(cls, settings: Settings | None = None) -> "Session":
        settings = settings or Settings.from_env()
        return cls(load_base(settings), settings)

    # ---- adapters ---------------------------------------------------------------
    def attach(self, path: str | Path, name: str | None = None) -> AdapterInfo:
        return self.registry.attach(path, name)

    def detach(self, name: str) -> None:
        self.registry.detach(name)

    def adapters(self) -> list[AdapterInfo]:
        return self.registry.list()

    @property
    def variants(self) -> list[str]:
        return [BASE, *self.registry.names]

    def check_variants(self, variants: list[str]) -> None:
        """UnknownVariantError for a name that is neither "base" nor attached, before any work."""
        self.worker.plan(list(variants))

    # ---- comparing ----------------------------------------------------------------
    def generation_settings(self, **overrides) -> GenerationSettings:
        return generation_settings(self.settings, **overrides)

    def compare(
        self,
        prompts: list[str],
        variants: list[str] | None = None,
        settings: GenerationSettings | None = None,
        on_output: OnOutput | None = None,
        on_partial: OnOutput | None = None,
        stop: threading.Event | None = None,
    ) -> Comparison:
        """Run every prompt through every variant (default: base and all adapters).
        ``on_output`` hears each finished output, ``on_partial`` each output so far, token by token;
        setting ``stop`` ends the run early with StoppedError."""
        prompts = [p.strip() for p in prompts if p and p.strip()]
        if not prompts:
            raise PromptError("No prompts given: enter at least one prompt.")
        variants = list(dict.fromkeys(variants or self.variants))
        settings = settings or self.generation_settings()
        started = time.perf_counter()
        plan = self.worker.plan(variants)  # checks the variant names before any work
        outputs = self.worker.generate(prompts, variants, settings, on_output, on_partial, stop=stop)
        elapsed = time.perf_counter() - started
        routes = {name: route for _, route, names in plan.steps for name in names}
        results = tuple(
            PromptResult(prompt, {v: outputs[(i, v)] for v in variants}) for i, prompt in enumerate(prompts)
        )
        return Comparison(tuple(variants), results, settings, routes, elapsed)

    def chat(
        self,
        messages: list[dict],
        variant: str = BASE,
        settings: GenerationSettings | None = None,
        on_partial: Callable[[str], None] | None = None,
    ) -> str:
        """The next assistant reply of one variant to a conversation ([{role, content}, ...])."""
        if not messages or messages[-1].get("role") != "user" or not str(messages[-1].get("content", "")).strip():
            raise PromptError("No message given: type a message first.")
        return self._one(format_chat(self.base.tokenizer, messages), variant, settings, on_partial)

    def complete(
        self,
        text: str,
        variant: str = BASE,
        settings: GenerationSettings | None = None,
        on_partial: Callable[[str], None] | None = None,
    ) -> str:
        """Raw continuation of ``text`` (no chat template) by one variant."""
        if not text or not text.strip():
            raise PromptError("No text given: type the start of a text to continue.")
        return self._one(text, variant, settings, on_partial)

    def _one(self, text: str, variant: str, settings, on_partial) -> str:
        self.check_variants([variant])
        partial = (lambda _i, _v, so_far: on_partial(so_far)) if on_partial else None
        outputs = self.worker.generate(
            [text], [variant], settings or self.generation_settings(), on_partial=partial, formatted=True
        )
        return outputs[(0, variant)]

    # ---- storage --------------------------------------------------------------------
    def storage(self) -> StorageReport:
        return StorageReport(self._model_storage, {info.name: info for info in self.adapters()})
