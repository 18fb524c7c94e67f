"""The remote backend: an OpenAI-compatible serving engine generates (vLLM, or Ray Serve LLM / KServe
in front of it); this process renders the prompts, keeps the adapters' files for the storage chart,
and streams the answers into runs.

    settings = Settings(backend_url="http://127.0.0.1:8000")
    base, backend = connect(settings)         # /v1/models: the base, and the adapters it serves
    backend.attach(spec)                      # /v1/load_lora_adapter (vLLM, runtime loading on)
    backend.generate(batch, texts, ...)       # /v1/completions, streamed: one request per variant
                                              # with all its prompts; the server batches every row

A request names its adapter with ``model``: "pirate" on vLLM, "<base>:pirate" on Ray Serve LLM
(``Settings.backend_adapter_name``). Prompts go out already rendered by the base's chat template,
as token text without added special tokens, exactly as the in-process backend feeds them.
"""

from __future__ import annotations

import logging
import re
import threading
import time
from concurrent.futures import FIRST_EXCEPTION, ThreadPoolExecutor, wait
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Iterator

from adapters_ui.adapters.validation import AdapterSpec, check_targets
from adapters_ui.analysis.divergence import ReadBack
from adapters_ui.backends.protocol import Batch, GeneratedRows, OnRows, Plan
from adapters_ui.backends.remote.client import ServerAnswerError, ServerClient
from adapters_ui.config import Settings
from adapters_ui.decoding import GenerationSettings
from adapters_ui.errors import AdapterError, BackendError, UnknownVariantError
from adapters_ui.model.base import LoadedBase, load_skeleton
from adapters_ui.names import BASE

log = logging.getLogger(__name__)

SERVER = "server"  # the route of every variant: the server batches the rows as it likes
ADAPTERS = "adapters"  # the group of the adapters' batch (the base's batch: BASE)
SHOW_EVERY_S = 0.2  # streamed texts reach the page at most this often
NO_ANALYSIS = ("Token analysis needs every token's whole distribution from the model, which a serving engine "
               "does not return: run the dashboard in process (without --backend-url) to analyze.")
IN_PROCESS_HINT = "compare it with the in-process backend (start without ADAPTERS_UI_BACKEND_URL / --backend-url)"


@dataclass(frozen=True)
class ServedModel:
    """One entry of the server's /v1/models: the base (``parent`` None) or an adapter on it."""

    id: str
    root: str | None  # the path or hub id it was loaded from
    parent: str | None
    owned_by: str | None


def served_models(client: ServerClient) -> list[ServedModel]:
    data = client.get("/models").get("data")
    if not isinstance(data, list):
        raise BackendError(f"The server at {client.url} answered /models without a model list: is it an OpenAI-compatible server?")
    return [ServedModel(str(m["id"]), m.get("root"), m.get("parent"), m.get("owned_by")) for m in data if "id" in m]


@dataclass(frozen=True)
class ServerAdapter:
    """An adapter the server serves on its base (``parent`` = the base, or named by the template): started with
    ``--lora-modules``, or loaded by another client. ``root``: the path the server loaded it from (vLLM's
    /v1/models reports it), which this machine may or may not be able to read."""

    name: str  # as the dashboard names it ("pirate", also when the server calls it "llama:pirate")
    served: str  # its name on the server
    root: str | None


def pick_base(models: list[ServedModel], wanted: str | None, url: str) -> ServedModel:
    """The served base model: ``wanted`` (ADAPTERS_UI_BACKEND_MODEL), or the only one there is."""
    bases = [m for m in models if not m.parent]
    names = ", ".join(m.id for m in bases) or "none"
    if wanted:
        for model in bases:
            if model.id == wanted:
                return model
        raise BackendError(f"The server at {url} serves no base model {wanted!r}: it serves {names}; "
                           "set ADAPTERS_UI_BACKEND_MODEL to one of them.")
    if len(bases) != 1:
        raise BackendError(f"The server at {url} serves {len(bases)} base models ({names}): "
                           "set ADAPTERS_UI_BACKEND_MODEL to the one to compare adapters of.")
    return bases[0]


def connect(settings: Settings) -> tuple[LoadedBase, "RemoteBackend"]:
    """Reach the server at ``settings.backend_url``, find its base model, and load that model's
    tokenizer and architecture (no weights) here."""
    client = ServerClient(settings.backend_url, settings.backend_api_key, settings.backend_timeout_s)
    try:
        base_model = pick_base(served_models(client), settings.backend_model, client.url)
        base = load_skeleton(settings, base_model.root or base_model.id, client.url)
    except BaseException:
        client.close()
        raise
    return base, RemoteBackend(client, base, base_model, settings.backend_adapter_name)


def adapter_pattern(template: str, base: str) -> re.Pattern:
    """A regex that reads the adapter name back out of a served name made by ``template``.

        >>> adapter_pattern("{base}:{adapter}", "llama").fullmatch("llama:pirate")["adapter"]
        'pirate'
    """
    parts = re.split(r"(\{base\}|\{adapter\})", template)
    regex = "".join(re.escape(base) if p == "{base}" else "(?P<adapter>.+)" if p == "{adapter}" else re.escape(p)
                    for p in parts)
    return re.compile(regex)


def lora_refusal(spec: AdapterSpec) -> str | None:
    """Why vLLM cannot serve this adapter (one line), or None. vLLM serves plain LoRA and rsLoRA only."""
    config, name = spec.config, spec.name
    if spec.peft_type != "LORA":
        return f"Adapter {name!r} is {spec.peft_type}: the serving engine runs LoRA adapters only; {IN_PROCESS_HINT}."
    if getattr(config, "use_dora", False):
        return f"Adapter {name!r} is DoRA, which vLLM does not yet support; {IN_PROCESS_HINT}."
    if getattr(config, "lora_bias", False):
        return f"Adapter {name!r} trains LoRA biases (lora_bias), which vLLM does not support; {IN_PROCESS_HINT}."
    if getattr(config, "modules_to_save", None):
        return (f"Adapter {name!r} saves whole modules ({', '.join(sorted(config.modules_to_save))}), "
                f"which vLLM does not support; {IN_PROCESS_HINT}.")
    init = str(getattr(config, "init_lora_weights", "")).lower()
    if init.startswith(("pissa", "olora", "loftq", "corda", "eva")):
        return f"Adapter {name!r} was initialised with {init}, which changes the base weights vLLM serves; {IN_PROCESS_HINT}."
    if getattr(config, "alora_invocation_tokens", None) or getattr(config, "trainable_token_indices", None):
        return f"Adapter {name!r} uses activated LoRA or trainable tokens, which vLLM does not serve; {IN_PROCESS_HINT}."
    return None


def _same_folder(root: str, path: Path) -> bool:
    try:
        return Path(root).expanduser().resolve() == Path(path).resolve()
    except (OSError, ValueError):
        return False


class RemoteBackend:
    """Generation on an OpenAI-compatible server. Thread-safe: rows of several visitors' runs may be
    in flight at once, and the server batches them together."""

    in_process = False

    def __init__(self, client: ServerClient, base: LoadedBase, served_base: ServedModel, name_template: str = "{adapter}"):
        self.client, self.base, self.served_base, self.name_template = client, base, served_base, name_template
        engine = "vLLM" if (served_base.owned_by or "").lower() == "vllm" else "OpenAI-compatible"
        self.description = f"{engine} server at {client.url.removesuffix('/v1')}"
        self._names: dict[str, str] = {}  # attached adapter -> its name on the server
        self._loaded_here: dict[str, AdapterSpec] = {}  # adapters this dashboard loaded: unloaded on detach
        self._lock = threading.Lock()
        self.phases = Phases()

    # ---- adapters ---------------------------------------------------------------------
    def route(self, name: str) -> str:
        return SERVER

    def refusal(self, spec: AdapterSpec) -> str | None:
        return lora_refusal(spec)

    def served_name(self, adapter: str) -> str:
        return self.name_template.format(base=self.served_base.id, adapter=adapter)

    def served_model(self, variant: str) -> str:
        """The ``model`` a request names for ``variant``: the base's served name, or the adapter's (lm-eval's too)."""
        with self._lock:
            if variant != BASE and variant not in self._names:
                raise UnknownVariantError(f"Unknown variant {variant!r}: attach it first.")
            return self._model_of(variant)

    def server_adapters(self) -> dict[str, str | None]:
        """The adapters the server serves now: {name on the server: the path it loaded it from}."""
        pattern = adapter_pattern(self.name_template, self.served_base.id)
        return {m.id: m.root for m in served_models(self.client)
                if m.parent == self.served_base.id or (m.id != self.served_base.id and pattern.fullmatch(m.id))}

    def server_variants(self) -> list[ServerAdapter]:
        """The adapters the server serves on this base now, by name: what ``adopt`` can make variants of."""
        pattern = adapter_pattern(self.name_template, self.served_base.id)
        found = []
        for served, root in self.server_adapters().items():
            match = pattern.fullmatch(served)
            found.append(ServerAdapter(match["adapter"] if match else served, served, root))
        return sorted(found, key=lambda a: a.name)

    def adopt(self, name: str, served: str) -> None:
        """Make the server's own adapter ``served`` the variant ``name``: nothing is loaded, and detaching it
        here leaves it on the server."""
        with self._lock:
            self._names[name] = served

    def attach(self, spec: AdapterSpec) -> None:
        """Use the server's adapter when it already serves this folder under this name; else load it
        through vLLM's runtime endpoint. Nothing is left on the server when this fails."""
        check_targets(spec, self.base.model)
        name = self.served_name(spec.name)
        served = self.server_adapters()
        if name in served:
            if served[name] and _same_folder(served[name], spec.path):
                with self._lock:
                    self._names[spec.name] = name  # the server's own (started with --lora-modules): kept on detach
                return
            raise AdapterError(f"The server already serves an adapter named {name!r} (from {served[name] or 'elsewhere'}): "
                               "attach this folder under another name.")
        self._load(spec, name, served)
        with self._lock:
            self._names[spec.name] = name
            self._loaded_here[spec.name] = spec

    def _load(self, spec: AdapterSpec, name: str, served: dict[str, str | None]) -> None:
        try:
            self.client.post("/load_lora_adapter", {"lora_name": name, "lora_path": str(spec.path)})
        except ServerAnswerError as exc:
            if exc.status in (404, 405):
                has = ", ".join(served) or "no adapters"
                raise AdapterError(f"This server does not load adapters at run time (start vLLM with "
                                   f"VLLM_ALLOW_RUNTIME_LORA_UPDATING=True); it serves {has}.") from None
            raise AdapterError(f"The server could not load adapter {spec.name!r}: {exc.reason}.") from None

    def detach(self, name: str) -> None:
        with self._lock:
            served = self._names.pop(name)
            loaded_here = self._loaded_here.pop(name, None)
        if loaded_here is None:
            return
        try:
            self.client.post("/unload_lora_adapter", {"lora_name": served})
        except ServerAnswerError as exc:  # already gone (a restarted server): nothing left to free
            log.info("unloading %s from the server: %s", served, exc.reason)

    # ---- generation -----------------------------------------------------------------------
    def plan(self, variants: list[str], texts: list[str], settings: GenerationSettings) -> Plan:
        for variant in variants:
            if variant != BASE and variant not in self._names:
                raise UnknownVariantError(f"Unknown variant {variant!r}: attach it first.")
        # The base's rows and the adapters' rows go in two batches, never on the server together (see Phases);
        # each batch is one streamed request per variant with all its prompts, all at once.
        base_rows = tuple((i, BASE) for i in range(len(texts))) if BASE in variants else ()
        adapter_rows = tuple((i, v) for v in variants if v != BASE for i in range(len(texts)))
        batches = tuple(Batch(SERVER, rows, group) for group, rows in ((BASE, base_rows), (ADAPTERS, adapter_rows)) if rows)
        return Plan(batches, {v: SERVER for v in variants})

    def generate(self, batch: Batch, texts: list[str], settings: GenerationSettings,
                 on_rows: OnRows | None = None, stop: threading.Event | None = None) -> GeneratedRows:
        """One streamed request per variant of the batch, all at once, once no batch of the other group is
        on the server (``Phases``). A Stop closes the requests (vLLM aborts their work)."""
        stop = stop or threading.Event()
        written = [""] * len(batch.rows)
        ended = [False] * len(batch.rows)
        shown = _Throttle(on_rows, written)
        positions: dict[str, list[tuple[int, int]]] = {}  # variant -> [(row in batch, prompt index)]
        for position, (index, variant) in enumerate(batch.rows):
            positions.setdefault(variant, []).append((position, index))
        with self.phases.hold(batch.group, stop) as held:
            if held:  # else stopped while the other group was on the server: nothing was sent
                self._stream(list(positions), positions, texts, settings, written, ended, shown, stop)
        shown.now()
        return GeneratedRows(list(written), list(ended))  # exact text, never stripped (as in-process)

    def _stream(self, variants: list[str], positions: dict, texts: list[str], settings: GenerationSettings,
                written: list[str], ended: list[bool], shown: "_Throttle", stop: threading.Event) -> None:
        """Stream ``variants`` concurrently into ``written``/``ended``; the first failure ends the others."""
        opened: list = []  # the open responses, for closing them from here
        halt = threading.Event()  # set on a Stop or when another variant failed

        def run(variant: str) -> None:
            rows = positions[variant]
            body = {"model": self._model_of(variant), "prompt": [texts[i] for _, i in rows], **sampling_fields(settings)}
            for attempt in (1, 2):
                try:
                    with self.client.stream("/completions", body, opened) as events:
                        for event in events:
                            if halt.is_set() or stop.is_set():
                                return
                            for choice in event.get("choices") or []:
                                position = rows[int(choice.get("index", 0))][0]
                                written[position] += choice.get("text") or ""
                                ended[position] = ended[position] or bool(choice.get("finish_reason"))
                            shown.maybe()
                    return
                except ServerAnswerError as exc:
                    if exc.status == 404 and attempt == 1 and self._reload(variant):
                        continue  # a restarted server forgot an adapter loaded here: load it again, once
                    if exc.status != 404:
                        raise
                    raise self._unknown_model(variant, exc) from exc

        with ThreadPoolExecutor(max_workers=len(variants), thread_name_prefix="remote-rows") as pool:
            pending = {pool.submit(run, variant) for variant in variants}
            failure = None
            while pending and failure is None and not stop.is_set():
                done, pending = wait(pending, timeout=0.1, return_when=FIRST_EXCEPTION)
                failure = next((f.exception() for f in done if f.exception() is not None), None)
            if pending:  # a Stop, or one variant failed: end the other requests now
                halt.set()
                for response in list(opened):
                    response.close()
                wait(pending)
        if failure is not None and not stop.is_set():
            raise failure

    def _model_of(self, variant: str) -> str:
        return self.served_base.id if variant == BASE else self._names[variant]

    def _reload(self, variant: str) -> bool:
        spec = self._loaded_here.get(variant)
        if spec is None:
            return False
        log.info("the server lost adapter %s (restarted?): loading it again", variant)
        try:
            self._load(spec, self._names[variant], {})
        except AdapterError:
            return False
        return True

    def _unknown_model(self, variant: str, exc: ServerAnswerError) -> BackendError:
        model = self._model_of(variant)
        if variant == BASE:
            return BackendError(f"The server no longer serves the base model {model!r} ({exc.reason}): "
                                "restart the dashboard against the server's current model.")
        return BackendError(f"The server no longer serves adapter {model!r} ({exc.reason}): restart the server "
                            f"with it, or detach {variant!r} and attach it again.")

    # ---- analysis ----------------------------------------------------------------------
    def read_back(self, texts: list[str], outputs: dict[str, list[str | None]],
                  references: list[str | None]) -> ReadBack:
        raise BackendError(NO_ANALYSIS)

    def read_references(self, texts: list[str], references: list[str | None], variant: str) -> list[list[float] | None]:
        raise BackendError(NO_ANALYSIS)


def sampling_fields(settings: GenerationSettings) -> dict:
    """The request's decoding fields: greedy (temperature 0) unless sampling; vLLM's extras keep the
    prompt's tokens exactly as rendered (no added BOS) and drop special tokens from the text, as here."""
    fields = {"max_tokens": settings.max_new_tokens, "add_special_tokens": False, "skip_special_tokens": True}
    if settings.do_sample:
        fields.update(temperature=settings.temperature, top_p=settings.top_p, seed=settings.seed)
    else:
        fields.update(temperature=0.0)
    if settings.min_new_tokens:
        fields["min_tokens"] = settings.min_new_tokens
    return fields


class Phases:
    """Lets requests for the base, or requests for adapters, be in flight together, never both.

    vLLM's CPU LoRA ops (``lora/ops/torch_ops``) pick each row's adapter with
    ``lora_weights[lora_indices]``, and a base row's index is -1: Python's last slot. So a base
    row batched with adapter rows gets the last loaded adapter (measured: base outputs came back
    as json_answer's). Keeping the two apart on the server keeps base outputs the base's; on a GPU
    it costs one extra round of server batches per comparison."""

    def __init__(self) -> None:
        self._changed = threading.Condition()
        self._phase: str | None = None
        self._holders = 0

    @contextmanager
    def hold(self, phase: str, stop: threading.Event | None = None) -> Iterator[bool]:
        """Yields True once ``phase`` may run, or False when ``stop`` is set first (then nothing is held)."""
        with self._changed:
            while self._holders and self._phase != phase and not (stop is not None and stop.is_set()):
                self._changed.wait(0.1)
            held = not self._holders or self._phase == phase
            if held:
                self._phase, self._holders = phase, self._holders + 1
        if not held:
            yield False
            return
        try:
            yield True
        finally:
            with self._changed:
                self._holders -= 1
                if not self._holders:
                    self._phase = None
                self._changed.notify_all()


class _Throttle:
    """Calls ``on_rows`` with every row's text so far at most every SHOW_EVERY_S seconds."""

    def __init__(self, on_rows: OnRows | None, texts: list[str]):
        self.on_rows, self.texts = on_rows, texts
        self._at = 0.0
        self._lock = threading.Lock()

    def maybe(self) -> None:
        if self.on_rows is None:
            return
        with self._lock:
            now = time.perf_counter()
            if now - self._at < SHOW_EVERY_S:
                return
            self._at = now
        self.now()

    def now(self) -> None:
        if self.on_rows is not None:
            self.on_rows(list(self.texts))
