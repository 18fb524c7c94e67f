"""The model worker: the one place that touches the model, behind one lock.

PEFT keeps the active adapter as global state and one ``PeftModel`` holds adapters of
one PEFT type only. So the worker keeps the base model plain and *mounts* one family
(all attached adapters of one PEFT type) at a time; switching families unloads the
injected layers and re-injects the other family's adapters from the tensors kept in
memory (milliseconds for adapter-sized weights).

Each adapter is routed to a generation path that gives the same text as plain PEFT
running that adapter alone on one prompt:

    MIXED   plain LoRA / rsLoRA: one generate(adapter_names=[...]) with base rows ("__base__")
    BATCH   DoRA, IA3, LoHa, LoKr: set_adapter(name), prompts batched with left padding
            (PEFT's mixed batch refuses DoRA and silently applies IA3/LoHa/LoKr to base rows)
    SINGLE  prompt learning and any other type: one prompt at a time, no padding
            (virtual tokens sit in front of the left padding, so padding changes results)
"""

from __future__ import annotations

import copy
import threading
from dataclasses import dataclass
from typing import Callable, Iterable

import torch

from .base_model import LoadedBase
from .errors import (
    AdapterWeightsError,
    ArchitectureMismatchError,
    ShapeMismatchError,
    StoppedError,
    UnknownVariantError,
    first_line,
)
from .generation import GenerationSettings, format_prompt, generate_texts
from .validation import AdapterSpec

BASE = "base"
MIXED, BATCH, SINGLE = "mixed", "batch", "single"
BATCHABLE_TYPES = {"LORA", "IA3", "LOHA", "LOKR"}
INIT_FLAGS = ("init_lora_weights", "init_weights", "init_ia3_weights")

OnOutput = Callable[[int, str, str], None]  # (prompt index, variant, text)


def route_for(config) -> str:
    """The generation path that is correct for this adapter config."""
    peft_type = str(getattr(config.peft_type, "value", config.peft_type))
    if getattr(config, "is_prompt_learning", False):
        return SINGLE
    if peft_type == "LORA":
        special = (
            getattr(config, "use_dora", False)
            or getattr(config, "alora_invocation_tokens", None)
            or getattr(config, "lora_bias", False)
        )
        return BATCH if special else MIXED
    return BATCH if peft_type in BATCHABLE_TYPES else SINGLE


def family_of(config) -> str:
    return str(getattr(config.peft_type, "value", config.peft_type))


@dataclass(frozen=True)
class Plan:
    """Which variants run where, family by family, in the order they will run."""

    steps: tuple[tuple[str | None, str, tuple[str, ...]], ...]  # (family or None, route, variants)


class ModelWorker:
    """Owns the base model; serialises attach, detach and generate with one lock."""

    def __init__(self, base: LoadedBase):
        self.base = base
        self.model = base.model
        self.tokenizer = base.tokenizer
        self.lock = threading.RLock()
        self._specs: dict[str, AdapterSpec] = {}  # attach order = mount order
        # PEFT-side names ("v1", "v2", ...): user names may clash with PEFT's key prefixes
        # ('lora' is inside 'lora_'), which PEFT warns can re-initialize weights on load.
        self._keys: dict[str, str] = {}
        self._next_key = 0
        self._host = None  # the PeftModel of the mounted family, or None
        self._family: str | None = None

    # ---- adapters -------------------------------------------------------------------
    @property
    def names(self) -> list[str]:
        return list(self._specs)

    def spec(self, name: str) -> AdapterSpec:
        return self._specs[name]

    def load(self, spec: AdapterSpec) -> None:
        """Inject ``spec`` into its family; on any failure the model is left as it was."""
        with self.lock:
            family = family_of(spec.config)
            self._mount(family)
            self._next_key += 1
            self._keys[spec.name] = f"v{self._next_key}"
            try:
                self._inject(spec)
            except BaseException:
                del self._keys[spec.name]
                self._unmount()  # drops the half-inserted adapter with everything else; others remount on use
                raise
            self._specs[spec.name] = spec

    def unload(self, name: str) -> None:
        """Remove an adapter and free its weights."""
        with self.lock:
            spec = self._specs.pop(name)
            key = self._keys.pop(name)
            if self._family == family_of(spec.config):
                if any(family_of(s.config) == self._family for s in self._specs.values()):
                    self._host.delete_adapter(key)
                else:
                    self._unmount()
            del spec
            if torch.cuda.is_available():
                torch.cuda.empty_cache()

    def adapter_tensors(self) -> dict[str, torch.Tensor]:
        """Every adapter parameter of the mounted family, by name (for device checks)."""
        with self.lock:
            if self._host is None:
                return {}
            keys = set(self._keys.values())
            return {n: p for n, p in self._host.named_parameters() if keys & set(n.split("."))}

    def mount_all(self) -> Iterable[str]:
        """Mount each family in turn (yields its name); for checks that need every adapter injected."""
        with self.lock:
            for family in dict.fromkeys(family_of(s.config) for s in self._specs.values()):
                self._mount(family)
                yield family

    # ---- generation -----------------------------------------------------------------
    def plan(self, variants: list[str]) -> Plan:
        unknown = [v for v in variants if v != BASE and v not in self._specs]
        if unknown:
            attached = ", ".join([BASE, *self._specs]) or BASE
            raise UnknownVariantError(f"Unknown variant {unknown[0]!r}: choose from {attached}.")
        by_family: dict[str, dict[str, list[str]]] = {}
        for name in variants:
            if name == BASE:
                continue
            config = self._specs[name].config
            by_family.setdefault(family_of(config), {}).setdefault(route_for(config), []).append(name)
        # Mounted family first: no re-injection for it.
        order = sorted(by_family, key=lambda f: f != self._family)
        steps: list[tuple[str | None, str, tuple[str, ...]]] = []
        base_pending = BASE in variants
        for family in order:
            routes = by_family[family]
            if MIXED in routes:
                rows = ((BASE,) if base_pending else ()) + tuple(routes[MIXED])
                base_pending = False
                steps.append((family, MIXED, rows))
            for route in (BATCH, SINGLE):
                if route in routes:
                    steps.append((family, route, tuple(routes[route])))
        if base_pending:
            steps.insert(0, (None, BATCH, (BASE,)))  # runs on whatever is mounted, adapters disabled
        return Plan(tuple(steps))

    def generate(
        self,
        prompts: list[str],
        variants: list[str],
        settings: GenerationSettings,
        on_output: OnOutput | None = None,
        on_partial: OnOutput | None = None,
        formatted: bool = False,
        stop: threading.Event | None = None,
    ) -> dict[tuple[int, str], str]:
        """Outputs for every (prompt index, variant). ``on_output`` hears each as it is ready;
        ``on_partial`` hears the text so far after every new token (for live streaming).
        ``formatted``: the prompts are already the model's input text (e.g. a chat transcript).
        ``stop``: once set, the running batch ends at its next token and StoppedError is raised."""
        sink = _Sink(on_output, on_partial, stop)
        texts = prompts if formatted else [format_prompt(self.tokenizer, p, settings.use_chat_template) for p in prompts]
        with self.lock:
            for family, route, names in self.plan(variants).steps:
                if family is None:
                    self._run_base(texts, settings, sink)
                    continue
                self._mount(family)
                if route == MIXED:
                    self._run_mixed(texts, names, settings, sink)
                else:
                    for name in names:
                        self._host.set_adapter(self._keys[name])
                        self._run_rows(self._host, texts, name, settings, sink, one_by_one=route == SINGLE)
        return sink.outputs

    def _run_base(self, texts, settings, sink) -> None:
        if self._host is None:
            self._run_rows(self.model, texts, BASE, settings, sink)
        else:
            with self._host.disable_adapter():
                self._run_rows(self._host, texts, BASE, settings, sink)

    def _run_rows(self, model, texts, variant, settings, sink, one_by_one: bool = False) -> None:
        size = 1 if one_by_one else settings.batch_size
        for start in range(0, len(texts), size):
            keys = [(index, variant) for index in range(start, min(start + size, len(texts)))]
            chunk = [texts[index] for index, _ in keys]
            sink.finished(keys, generate_texts(model, self.tokenizer, chunk, settings, sink.streaming(keys), sink.stop))

    def _run_mixed(self, texts, names, settings, sink) -> None:
        rows = [(i, name) for name in names for i in range(len(texts))]  # adapter-major: similar rows together
        for start in range(0, len(rows), settings.batch_size):
            keys = rows[start : start + settings.batch_size]
            adapter_names = ["__base__" if name == BASE else self._keys[name] for _, name in keys]
            results = generate_texts(
                self._host, self.tokenizer, [texts[i] for i, _ in keys], settings, sink.streaming(keys), sink.stop,
                adapter_names=adapter_names,
            )
            sink.finished(keys, results)

    # ---- mounting -------------------------------------------------------------------
    def _mount(self, family: str) -> None:
        if self._family == family:
            return
        self._unmount()
        for spec in [s for s in self._specs.values() if family_of(s.config) == family]:
            self._inject(spec)

    def _unmount(self) -> None:
        """Put the base model back exactly as loaded."""
        if self._host is not None and not self._is_prompt_learning_host():
            self._host.unload()  # replaces every injected layer by its original base layer
        self._host = None
        self._family = None

    def _is_prompt_learning_host(self) -> bool:
        return self._host is not None and bool(getattr(self._host, "peft_config", None)) and next(
            iter(self._host.peft_config.values())
        ).is_prompt_learning

    def _inject(self, spec: AdapterSpec) -> None:
        """Create ``spec``'s layers, check every tensor's name and shape, then load its weights."""
        from peft import PeftModelForCausalLM
        from peft.utils import get_peft_model_state_dict, set_peft_model_state_dict

        config = copy.deepcopy(spec.config)
        config.inference_mode = True
        for flag in INIT_FLAGS:  # weights come from the file: skip data-dependent inits (PiSSA, ...)
            if hasattr(config, flag):
                setattr(config, flag, True)
        key = self._keys[spec.name]
        try:
            if self._host is None:
                self._host = PeftModelForCausalLM(self.model, config, adapter_name=key)
                self._family = family_of(config)
            else:
                self._host.add_adapter(key, config)
        except ValueError as exc:
            if "not found in the base model" in str(exc) or "target_modules" in str(exc):
                raise ArchitectureMismatchError(
                    f"Adapter {spec.name!r} does not fit this base model's architecture: {first_line(exc)}"
                ) from None
            raise
        expected = get_peft_model_state_dict(self._host, adapter_name=key)
        _check_tensors(spec, expected)
        device = self.base.device
        weights = {k: v.to(device) for k, v in spec.state_dict.items()}
        set_peft_model_state_dict(self._host, weights, adapter_name=key)
        self._host.eval()


class _Sink:
    """Collects one ``generate`` request's outputs and passes them on as they come."""

    def __init__(self, on_output: OnOutput | None, on_partial: OnOutput | None, stop: threading.Event | None):
        self.outputs: dict[tuple[int, str], str] = {}
        self.on_output = on_output
        self.on_partial = on_partial
        self.stop = stop

    def finished(self, keys: list[tuple[int, str]], texts: list[str]) -> None:
        if self.stop is not None and self.stop.is_set():  # cut short: these texts are not the real outputs
            raise StoppedError(f"Stopped after {len(self.outputs)} finished outputs: press Compare to run again.")
        for (index, variant), text in zip(keys, texts):
            self.outputs[(index, variant)] = text
            if self.on_output:
                self.on_output(index, variant, text)

    def streaming(self, keys: list[tuple[int, str]]):
        """A RowStreamer callback for one batch whose rows are ``keys``; None when nobody listens."""
        if self.on_partial is None:
            return None

        def on_rows(texts: list[str]) -> None:
            for (index, variant), text in zip(keys, texts):
                self.on_partial(index, variant, text)

        return on_rows


def _check_tensors(spec: AdapterSpec, expected: dict[str, torch.Tensor]) -> None:
    """The file's tensors must be exactly those the config creates, with the same shapes."""
    found = spec.state_dict
    for key, tensor in found.items():
        if key in expected and tuple(expected[key].shape) != tuple(tensor.shape):
            raise ShapeMismatchError(
                f"Adapter {spec.name!r} was made for a model of another size{spec.made_for}: {key} has shape "
                f"{list(tensor.shape)} in the file but this base needs {list(expected[key].shape)}; "
                "attach an adapter trained on this base."
            )
    missing = sorted(set(expected) - set(found))
    unexpected = sorted(set(found) - set(expected))
    if unexpected:
        raise ArchitectureMismatchError(
            f"Adapter {spec.name!r} holds {len(unexpected)} tensor(s) this base has no place for (e.g. {unexpected[0]}): "
            "it was made for another architecture; attach an adapter trained on this base."
        )
    if missing:
        raise AdapterWeightsError(
            f"Adapter {spec.name!r} lacks {len(missing)} tensor(s) its config needs (e.g. {missing[0]}): "
            "the weights file is incomplete; re-save the adapter."
        )
