"""Attached adapters: validate -> attach -> list -> detach, with rollback on failure.

The registry is the one record of what is attached (names, caps, what each adapter is and
costs); the backend owns only what is loaded in the model. An attach either completes or
leaves nothing behind.
"""

from __future__ import annotations

import itertools
import logging
import threading
from contextlib import contextmanager
from dataclasses import replace
from pathlib import Path
from typing import TYPE_CHECKING, Callable, Iterable, Iterator

from adapters_ui.adapters.validation import AdapterSpec, check_name, name_from_folder, read_adapter
from adapters_ui.config import Settings
from adapters_ui.disk import file_sha256
from adapters_ui.errors import AdapterError, AdaptersUIError, first_line
from adapters_ui.model.base import same_model
from adapters_ui.model.thread import model_call
from adapters_ui.model.turns import TurnQueue
from adapters_ui.names import BASE
from adapters_ui.records import AdapterInfo

if TYPE_CHECKING:  # annotations only: the registry records adapters; the backend it is given mounts them
    from adapters_ui.backends.protocol import Backend

log = logging.getLogger(__name__)


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
        method=method_label(config, spec.peft_type),
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


def describe_served(adapter, route: str) -> AdapterInfo:
    """A server adapter known only by name and the path the server reports (unreadable here). The server
    serves LoRA only (``backends.remote.lora_refusal``), so its type is LoRA; sizes are unknown here."""
    return AdapterInfo(
        name=adapter.name, peft_type="LORA", method="LoRA", route=route, rank=None, virtual_tokens=None,
        alpha=None, target_modules=(), params=None, bytes_on_disk=None, dtype="", base_model=None, base_match=None,
        path=adapter.root or "", weights_format="", on_server=True,
    )


def method_label(config, peft_type: str) -> str:
    """How the table names an adapter's method: LoRA, DoRA, rsLoRA, IA3, LoHa, prompt tuning, ..."""
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
        # Least recently used first out (public mode): when each adapter was last attached or run, on a clock
        # that only counts up. The session sets the three hooks: which adapters running work holds now, which
        # ones may be evicted at the cap (None: none, the cap refuses), and what to do with an evicted one's files.
        self._used: dict[str, int] = {}
        self._clock = itertools.count()
        self._starting = threading.Lock()  # held while work starts on adapters, and while one is evicted
        self._evicted: dict[str, AdapterInfo] = {}  # new adapter -> the one evicted to make room for it
        self.busy: Callable[[], set[str]] = set
        self.evictable: Callable[[AdapterInfo], bool] | None = None
        self.on_evicted: Callable[[AdapterInfo], None] | None = None

    def attach(self, path: str | Path, name: str | None = None) -> AdapterInfo:
        """Validate and attach one adapter folder; raises AdapterError and leaves nothing behind."""
        with self._changing:
            adopted = self._adopted_from(path, name)
            if adopted is not None:
                return adopted
            full = len(self._info) >= self.settings.max_adapters
            if full and self.evictable is None:
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
            evicted = self._make_room() if full else None  # only once the new adapter passed its checks
            with self.turns.turn():
                try:
                    model_call(self.backend, self.backend.attach, spec)  # rolls itself back on failure
                except AdaptersUIError as exc:
                    if evicted is None:
                        raise
                    raise type(exc)(f"{exc} ({evicted.name!r} was detached to make room first.)") from exc
                except Exception as exc:  # noqa: BLE001 - PEFT's own errors, already rolled back
                    also = f" ({evicted.name!r} was detached to make room first.)" if evicted else ""
                    raise AdapterError(f"Adapter {spec.name!r} could not be loaded into this base: {first_line(exc)}{also}") from exc
            info = describe(spec, self.base_name, self.backend.route(spec.name))
            self._info = {**self._info, spec.name: info}
            self._specs = {**self._specs, spec.name: spec}
            self._used[spec.name] = next(self._clock)
            self._evicted.pop(spec.name, None)
            if evicted is not None:
                self._evicted[spec.name] = evicted
            self.version += 1
            return info

    def _adopted_from(self, path: str | Path, name: str | None) -> AdapterInfo | None:
        """The server adapter already attached under this name from this very folder, if any: attaching the
        folder the server serves it from is then that adapter (``--adapter pirate=...`` beside the server's)."""
        try:
            folder = Path(path).expanduser().resolve()
            info = self._info.get(name or name_from_folder(folder))
        except (OSError, ValueError, AdaptersUIError):
            return None
        if info is None or not info.on_server or not info.files_here:
            return None
        return info if Path(info.path) == folder else None

    def adopt(self, adapter) -> AdapterInfo:
        """Attach a server adapter (``backends.remote.ServerAdapter``) as a variant: nothing is loaded. Its sizes and
        type come from its files when this machine can read the path the server reports, else it is "on the server"."""
        with self._changing:
            check_name(adapter.name, set(self._info))
            if len(self._info) >= self.settings.max_adapters:
                raise AdapterError(f"{len(self._info)} adapters are attached, the most allowed: detach one first "
                                   "(or raise ADAPTERS_UI_MAX_ADAPTERS).")
            spec = self._readable(adapter)
            with self.turns.turn():
                model_call(self.backend, self.backend.adopt, adapter.name, adapter.served)
            route = self.backend.route(adapter.name)
            info = describe_served(adapter, route) if spec is None else replace(
                describe(spec, self.base_name, route), on_server=True)
            self._info = {**self._info, adapter.name: info}
            if spec is not None:
                self._specs = {**self._specs, adapter.name: spec}
            self._used[adapter.name] = next(self._clock)
            self.version += 1
            return info

    def _readable(self, adapter) -> AdapterSpec | None:
        """The server adapter's folder read here, or None when this machine cannot read it (another host's disk)."""
        if not adapter.root:
            return None
        try:
            return read_adapter(adapter.root, adapter.name, taken=set(self._info), public=self.settings.public,
                                max_bytes=self.settings.max_adapter_bytes)
        except (AdaptersUIError, OSError) as exc:
            log.info("server adapter %s: its files are not readable here (%s)", adapter.name, first_line(exc))
            return None

    def detach(self, name: str) -> None:
        with self._changing:
            if name not in self._info:
                if name == BASE:
                    raise AdapterError("The base model cannot be detached: it is what every adapter runs on.")
                raise AdapterError(f"No adapter named {name!r} is attached: attached are {', '.join(self._info) or 'none'}.")
            self._detach(name)

    def _detach(self, name: str) -> None:
        """Detach ``name`` (attached); the caller holds ``_changing``."""
        with self.turns.turn():
            model_call(self.backend, self.backend.detach, name)
        self._info = {k: v for k, v in self._info.items() if k != name}
        self._specs = {k: v for k, v in self._specs.items() if k != name}
        self._used.pop(name, None)
        self._evicted.pop(name, None)
        self.version += 1

    # ---- least recently used first out (public mode) -------------------------------------------
    def touch(self, names: Iterable[str]) -> None:
        """``names`` were just used (run in a comparison, a chat, an analysis): they go last in line for eviction."""
        for name in names:
            if name in self._info:
                self._used[name] = next(self._clock)

    @contextmanager
    def starting(self) -> Iterator[None]:
        """Hold while work starts on adapters (check the names, register the work in what ``busy`` reads), so
        an eviction never picks an adapter that work is starting on."""
        with self._starting:
            yield

    def evicted_for(self, name: str) -> AdapterInfo | None:
        """The adapter detached to make room for ``name`` when it was attached, if any (asked once: then forgotten)."""
        return self._evicted.pop(name, None)

    def _make_room(self) -> AdapterInfo:
        """At the cap: detach the least recently used adapter that may be evicted and that no running work
        holds, and hand it to ``on_evicted``; AdapterError when there is none. The caller holds ``_changing``."""
        with self._starting:  # no work starts on the adapter between the choice and its detach
            busy = self.busy()
            candidates = [info for info in self._info.values() if info.name not in busy and self.evictable(info)]
            if not candidates:
                raise AdapterError(
                    f"{len(self._info)} adapters are attached, the most allowed, and none can make room (the shipped "
                    "adapters stay, and so do uploads a running comparison uses): detach one first, or try again "
                    "once the runs end (or raise ADAPTERS_UI_MAX_ADAPTERS)."
                )
            victim = min(candidates, key=lambda info: self._used.get(info.name, -1))
            self._detach(victim.name)
        log.info("detached %s (least recently used upload) to make room", victim.name)
        if self.on_evicted is not None:
            try:
                self.on_evicted(victim)
            except OSError as exc:  # the adapter is detached either way; its files wait for the next clean-up
                log.warning("could not delete the files of evicted adapter %s: %s", victim.name, first_line(exc))
        return victim

    def list(self) -> list[AdapterInfo]:
        return list(self._info.values())

    def get(self, name: str) -> AdapterInfo:
        return self._info[name]

    def spec(self, name: str) -> AdapterSpec:
        """The attached adapter's config and tensors (CPU), e.g. for ``analysis.weights``."""
        if name in self._info and not self._info[name].files_here:
            raise AdapterError(f"Adapter {name!r} is on the server, whose folder {self._info[name].path or '(unnamed)'} "
                               "this machine cannot read: that needs its files here; attach a copy of its folder.")
        if name not in self._specs:
            raise AdapterError(f"No adapter named {name!r} is attached: attached are {', '.join(self._specs) or 'none'}.")
        return self._specs[name]

    @property
    def names(self) -> list[str]:
        return list(self._info)
