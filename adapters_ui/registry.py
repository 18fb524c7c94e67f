"""Attached adapters: validate -> attach -> list -> detach, with rollback on failure.

The registry is the one record of what is attached (names, caps, what each adapter is and
costs); the backend owns only what is loaded in the model. An attach either completes or
leaves nothing behind.
"""

from __future__ import annotations

import threading
from dataclasses import dataclass
from pathlib import Path

from .base_model import same_model
from .config import Settings
from .backends.protocol import BASE, Backend
from .errors import AdapterError, AdaptersUIError, first_line
from .model_thread import model_call
from .scheduler import TurnQueue
from .storage import file_sha256
from .validation import AdapterSpec, read_adapter


@dataclass(frozen=True)
class AdapterInfo:
    """One row of the adapters table."""

    name: str
    peft_type: str  # e.g. LORA, IA3; DoRA and rsLoRA are LORA with a flag, shown in `method`
    method: str  # "LoRA", "DoRA", "rsLoRA", "IA3", "prompt tuning", ... (a variant is base-or-an-adapter)
    route: str  # engine path: mixed | batch | single
    rank: int | None  # None for methods without one (IA3, prompt learning)
    virtual_tokens: int | None  # prompt learning only: the learned tokens put before each prompt
    alpha: float | None
    target_modules: tuple[str, ...]
    params: int
    bytes_on_disk: int
    dtype: str
    base_model: str | None  # base_model_name_or_path from its config
    base_match: bool | None  # None when the config names no base
    path: str
    weights_format: str  # safetensors | bin
    sha256: str = ""  # of the weights file: a saved comparison says exactly which weights made its outputs


def describe(spec: AdapterSpec, base_name: str, route: str) -> AdapterInfo:
    config = spec.config
    targets = getattr(config, "target_modules", None) or ()
    targets = (targets,) if isinstance(targets, str) else tuple(sorted(targets))
    prompt_learning = getattr(config, "is_prompt_learning", False)
    rank = None if prompt_learning else getattr(config, "r", None)
    virtual_tokens = getattr(config, "num_virtual_tokens", None) if prompt_learning else None
    alpha = getattr(config, "lora_alpha", None) or getattr(config, "alpha", None)
    named_base = getattr(config, "base_model_name_or_path", None) or None
    return AdapterInfo(
        name=spec.name,
        peft_type=spec.peft_type,
        method=_method(config, spec.peft_type),
        route=route,
        rank=int(rank) if rank else None,
        virtual_tokens=int(virtual_tokens) if virtual_tokens else None,
        alpha=float(alpha) if alpha else None,
        target_modules=targets,
        params=spec.storage.params,
        bytes_on_disk=spec.storage.bytes_on_disk,
        dtype=spec.storage.dtype,
        base_model=named_base,
        base_match=None if named_base is None else same_model(named_base, base_name),
        path=str(spec.path),
        weights_format=spec.weights_file.suffix.lstrip("."),
        sha256=file_sha256(spec.weights_file),
    )


def _method(config, peft_type: str) -> str:
    if peft_type == "LORA":
        if getattr(config, "use_dora", False):
            return "DoRA"
        return "rsLoRA" if getattr(config, "use_rslora", False) else "LoRA"
    names = {"IA3": "IA3", "LOHA": "LoHa", "LOKR": "LoKr", "PROMPT_TUNING": "prompt tuning",
             "PREFIX_TUNING": "prefix tuning", "P_TUNING": "p-tuning"}
    return names.get(peft_type, peft_type)


class AdapterRegistry:
    """The one record of what is attached. Model work (loading into the backend) takes a
    model turn; attaches and detaches are serialised among themselves, never with generation."""

    def __init__(self, backend: Backend, turns: TurnQueue, settings: Settings, base_name: str):
        self.backend = backend
        self.turns = turns
        self.settings = settings
        self.base_name = base_name
        self._info: dict[str, AdapterInfo] = {}
        self._specs: dict[str, AdapterSpec] = {}  # what each attached adapter is (config, tensors), for analyses
        self._changing = threading.Lock()
        self.version = 0  # bumped by every attach and detach, so a page can tell its lists are stale

    def attach(self, path: str | Path, name: str | None = None) -> AdapterInfo:
        """Validate and attach one adapter folder; raises AdapterError and leaves nothing behind."""
        with self._changing:
            if len(self._info) >= self.settings.max_adapters:
                raise AdapterError(
                    f"{len(self._info)} adapters are attached, the most allowed: detach one first "
                    "(or raise ADAPTERS_UI_MAX_ADAPTERS)."
                )
            spec = read_adapter(
                path, name, taken=set(self._info), public=self.settings.public, max_bytes=self.settings.max_adapter_bytes
            )
            refusal = self.backend.refusal(spec)
            if refusal:
                raise AdapterError(refusal)
            with self.turns.turn():
                try:
                    model_call(self.backend, self.backend.attach, spec)  # rolls itself back on failure
                except AdaptersUIError:
                    raise
                except Exception as exc:  # noqa: BLE001 - PEFT's own errors, already rolled back
                    raise AdapterError(f"Adapter {spec.name!r} could not be loaded into this base: {first_line(exc)}") from exc
            info = describe(spec, self.base_name, self.backend.route(spec.name))
            self._info = {**self._info, spec.name: info}
            self._specs = {**self._specs, spec.name: spec}
            self.version += 1
            return info

    def detach(self, name: str) -> None:
        with self._changing:
            if name not in self._info:
                if name == BASE:
                    raise AdapterError("The base model cannot be detached: it is what every adapter runs on.")
                raise AdapterError(f"No adapter named {name!r} is attached: attached are {', '.join(self._info) or 'none'}.")
            with self.turns.turn():
                model_call(self.backend, self.backend.detach, name)
            self._info = {k: v for k, v in self._info.items() if k != name}
            self._specs = {k: v for k, v in self._specs.items() if k != name}
            self.version += 1

    def list(self) -> list[AdapterInfo]:
        return list(self._info.values())

    def get(self, name: str) -> AdapterInfo:
        return self._info[name]

    def spec(self, name: str) -> AdapterSpec:
        """The attached adapter's config and tensors (CPU), e.g. for ``analysis.weights``."""
        if name not in self._specs:
            raise AdapterError(f"No adapter named {name!r} is attached: attached are {', '.join(self._specs) or 'none'}.")
        return self._specs[name]

    @property
    def names(self) -> list[str]:
        return list(self._info)
