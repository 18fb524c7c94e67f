"""The in-process backend: transformers + PEFT on this machine's CPU or GPU.

PEFT keeps the active adapter as global state and one ``PeftModel`` holds adapters of
one PEFT type only. So the backend keeps the base model plain and *mounts* one family
(all loaded adapters of one PEFT type) at a time; switching families unloads the
injected layers and re-injects the other family's adapters from the tensors kept in
memory (milliseconds for adapter-sized weights).

Each adapter is routed to a generation path that gives the same text as plain PEFT
running that adapter alone on one prompt:

    MIXED   LoRA, rsLoRA, DoRA on dense layers: one decode loop for the base rows and every such
            adapter's rows, each row with its own adapter (``row_adapters``)
    BATCH   IA3, LoHa, LoKr (and LoRA on embeddings or other layer kinds): set_adapter(name),
            prompts batched with left padding (PEFT's own mixed batch silently applies
            IA3/LoHa/LoKr to base rows)
    SINGLE  prompt learning and any other type: one prompt at a time, no padding
            (virtual tokens sit in front of the left padding, so padding changes results)

MIXED and BATCH run in this package's decode loop (``decode``: finished rows leave the batch);
SINGLE runs PEFT's ``generate``. Batches hold as many rows as memory allows (up to
``batch_size``); when rows must be split, prompts of similar length go together.
"""

from __future__ import annotations

import contextlib
import copy
import os
import threading

import torch

from adapters_ui.adapters.validation import INIT_FLAGS, AdapterSpec, check_targets, check_tensors
from adapters_ui.analysis.divergence import ReadBack, TokenScores
from adapters_ui.backends.inprocess.decode import TextDecoding, supports
from adapters_ui.backends.inprocess.generate import RowStream, generate_texts
from adapters_ui.backends.inprocess.row_adapters import BASE_ROW, RowAdapters, mixable
from adapters_ui.backends.inprocess.teacher_forcing import PromptReader
from adapters_ui.backends.inprocess.token_stats import (
    scores_from_stats,
    target_logprobs,
    token_pieces,
    token_stats,
)
from adapters_ui.backends.protocol import BATCH, MIXED, SINGLE, Batch, GeneratedRows, OnRows, Pause, Plan
from adapters_ui.decoding import GenerationSettings
from adapters_ui.errors import (
    ArchitectureMismatchError,
    BackendError,
    UnknownVariantError,
    first_line,
)
from adapters_ui.model.base import LoadedBase
from adapters_ui.model.memory import available_memory
from adapters_ui.names import BASE

BATCHABLE_TYPES = {"LORA", "IA3", "LOHA", "LOKR"}


def route_for(config) -> str:
    """The generation path that is correct for this adapter config."""
    peft_type = family_of(config)
    if getattr(config, "is_prompt_learning", False):
        return SINGLE
    if peft_type == "LORA":
        special = getattr(config, "alora_invocation_tokens", None) or getattr(config, "lora_bias", False)
        return BATCH if special else MIXED
    return BATCH if peft_type in BATCHABLE_TYPES else SINGLE


def family_of(config) -> str:
    return str(getattr(config.peft_type, "value", config.peft_type))


class InProcessBackend:
    """Owns the base model and what is mounted in it. Not thread-safe by design: the session
    calls it one model turn at a time; the lock only guards against misuse."""

    description = "transformers + PEFT, in process"
    in_process = True

    def __init__(self, base: LoadedBase):
        self.base = base
        self.model = base.model
        self.tokenizer = base.tokenizer
        self._lock = threading.RLock()
        self._specs: dict[str, AdapterSpec] = {}  # loaded adapters, in load order = mount order
        # PEFT-side names ("v1", "v2", ...): user names may clash with PEFT's key prefixes
        # ('lora' is inside 'lora_'), which PEFT warns can re-initialize weights on load.
        self._keys: dict[str, str] = {}
        self._next_key = 0
        self._host = None  # the PeftModel of the mounted family, or None
        self._family: str | None = None
        self._row_mixable: set[str] = set()  # MIXED-route adapters whose every layer RowAdapters drives

    @property
    def own_decode(self) -> bool:
        """Our decode loop covers our settings; a base whose generation_config adds more (a repetition
        penalty, ...) runs PEFT's generate, with PEFT's own mixed batch for plain LoRA only."""
        return supports(self.model)

    # ---- adapters -------------------------------------------------------------------
    def refusal(self, spec: AdapterSpec) -> str | None:
        return None  # every type validation accepts has a correct route here

    def attach(self, spec: AdapterSpec) -> None:
        """Inject ``spec`` into its family; on any failure the model is left as it was."""
        with self._lock:
            check_targets(spec, self.model)
            self._mount(family_of(spec.config))
            self._next_key += 1
            self._keys[spec.name] = f"v{self._next_key}"
            try:
                self._inject(spec)
            except BaseException:
                del self._keys[spec.name]
                self._unmount()  # drops the half-inserted adapter with everything else; others remount on use
                raise
            self._specs[spec.name] = spec
            if self._drives_every_layer(self._keys[spec.name]):
                self._row_mixable.add(spec.name)

    def detach(self, name: str) -> None:
        """Remove an adapter and free its weights."""
        with self._lock:
            spec = self._specs.pop(name)
            key = self._keys.pop(name)
            self._row_mixable.discard(name)
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
        with self._lock:
            if self._host is None:
                return {}
            keys = set(self._keys.values())
            return {n: p for n, p in self._host.named_parameters() if keys & set(n.split("."))}

    def combine(self, sources: list[str], weights: list[float], method: str, density: float | None = None):
        """PEFT's ``add_weighted_adapter`` over attached LoRA adapters -> (config, saved-format tensors on CPU)
        of the new adapter. It is made in the mounted LoRA family and deleted again at once: the caller saves
        and attaches it like any other adapter, so nothing of it stays in the model on failure."""
        from peft.utils import get_peft_model_state_dict

        with self._lock:
            self._mount("LORA")
            scratch = f"v{self._next_key + 1}_mix"
            try:
                self._host.add_weighted_adapter([self._keys[s] for s in sources], weights, scratch,
                                                combination_type=method, density=density)
                config = copy.deepcopy(self._host.peft_config[scratch])
                tensors = {k: v.detach().to("cpu", copy=True).contiguous()
                           for k, v in get_peft_model_state_dict(self._host, adapter_name=scratch).items()}
            finally:
                if scratch in self._host.peft_config:
                    self._host.delete_adapter(scratch)
            return config, tensors

    def mount_all(self):
        """Mount each family in turn (yields its name); for checks that need every adapter injected."""
        with self._lock:
            for family in dict.fromkeys(family_of(s.config) for s in self._specs.values()):
                self._mount(family)
                yield family

    # ---- planning -------------------------------------------------------------------
    def route(self, name: str) -> str:
        """``route_for`` this adapter, narrowed by what was found at attach: a LoRA with a layer
        RowAdapters does not drive (or DoRA when PEFT's generate must run) gets its own batches."""
        config = self._specs[name].config
        route = route_for(config)
        if route != MIXED:
            return route
        if self.own_decode:
            return MIXED if name in self._row_mixable else BATCH
        return BATCH if getattr(config, "use_dora", False) else MIXED  # PEFT's own mixed batch refuses DoRA

    def plan(self, variants: list[str], texts: list[str], settings: GenerationSettings) -> Plan:
        """Batches family by family (the mounted family first: no re-injection for it); base rows
        ride in the first mixed batch, or run on their own when there is none. A batch holds as
        many rows as fit (``rows_per_batch``); split rows go by prompt length, to cut padding."""
        with self._lock:
            unknown = [v for v in variants if v != BASE and v not in self._specs]
            if unknown:
                attached = ", ".join([BASE, *self._specs])
                raise UnknownVariantError(f"Unknown variant {unknown[0]!r}: choose from {attached}.")
            by_family: dict[str, dict[str, list[str]]] = {}
            routes: dict[str, str] = {}
            for name in variants:
                if name != BASE:
                    route = routes[name] = self.route(name)
                    by_family.setdefault(family_of(self._specs[name].config), {}).setdefault(route, []).append(name)
            families = sorted(by_family, key=lambda f: f != self._family)
            lengths = self._prompt_lengths(texts)
            size = self.rows_per_batch(max(lengths), settings)
            batches: list[Batch] = []
            base_pending = BASE in variants
            for family in families:
                mixed = by_family[family].get(MIXED)
                if mixed:
                    names = ([BASE] if base_pending else []) + mixed
                    if base_pending:
                        routes[BASE], base_pending = MIXED, False
                    batches += [Batch(MIXED, rows, family) for rows in _batches(names, lengths, size)]
                for name in by_family[family].get(BATCH, []):
                    batches += [Batch(BATCH, rows, family) for rows in _batches([name], lengths, size)]
                for name in by_family[family].get(SINGLE, []):
                    batches += [Batch(SINGLE, ((i, name),), family) for i in range(len(texts))]
            if base_pending:
                routes[BASE] = BATCH
                batches[:0] = [Batch(BATCH, rows) for rows in _batches([BASE], lengths, size)]
            return Plan(tuple(batches), {v: routes[v] for v in variants})

    def rows_per_batch(self, longest_prompt: int, settings: GenerationSettings) -> int:
        """How many rows one decode loop may hold: ``settings.batch_size``, fewer when a row's KV
        cache and activations would not fit in a quarter of the free memory."""
        config = self.model.config
        layers = getattr(config, "num_hidden_layers", 1)
        hidden = getattr(config, "hidden_size", 1)
        heads = getattr(config, "num_attention_heads", 1)
        kv_heads = getattr(config, "num_key_value_heads", None) or heads
        inner = getattr(config, "intermediate_size", None) or 4 * hidden
        item = torch.finfo(self.model.dtype).bits // 8 if self.model.dtype.is_floating_point else 4
        tokens = longest_prompt + settings.max_new_tokens
        kv_cache = 2 * layers * kv_heads * (hidden // heads) * item * tokens
        prefill = longest_prompt * (4 * hidden + 2 * inner + heads * longest_prompt) * item  # one layer's activations
        logits = 2 * 4 * getattr(config, "vocab_size", 1)  # last position only, in fp32, plus the processed copy
        per_row = kv_cache + prefill + logits
        return max(1, min(settings.batch_size, _free_memory(self.base.device) // 4 // per_row))

    def _prompt_lengths(self, texts: list[str]) -> list[int]:
        return [len(ids) for ids in self.tokenizer(texts, add_special_tokens=False)["input_ids"]]

    # ---- generation -----------------------------------------------------------------
    def begin(self, batch: Batch, texts: list[str], settings: GenerationSettings,
              on_rows: OnRows | None = None) -> "BatchGeneration":
        """``batch`` as a resumable ``Generation``: our decode loop (MIXED, BATCH) goes a slice per
        ``advance``; PEFT's generate (SINGLE, or a base whose generation_config our loop does not cover)
        cannot be paused, and runs whole in the first one."""
        with self._lock:
            keys = self._batch_keys(batch)
        return BatchGeneration(self, batch, [texts[i] for i, _ in batch.rows], settings, on_rows, keys)

    def generate(
        self,
        batch: Batch,
        texts: list[str],
        settings: GenerationSettings,
        on_rows: OnRows | None = None,
        stop: threading.Event | None = None,
    ) -> GeneratedRows:
        return self.begin(batch, texts, settings, on_rows).advance(stop)

    def _batch_keys(self, batch: Batch, started: dict[str, str] | None = None) -> dict[str, str]:
        """The PEFT key of each adapter of ``batch`` (the same as when it ``started``); the one-line error
        when one was detached (a later attach under the same name gets a new key: not the same adapter)."""
        keys = {v: self._keys.get(v) for v in batch.variants if v != BASE}
        gone = [v for v, key in keys.items() if key is None or (started is not None and started[v] != key)]
        if gone:
            raise UnknownVariantError(
                f"Adapter {gone[0]!r} was detached during this run: press Compare to run again without it."
            )
        return keys

    def _generate(self, batch: Batch, chunk: list[str], settings: GenerationSettings, keys: dict[str, str],
                  stream: RowStream | None, stop: threading.Event | None) -> GeneratedRows:
        """PEFT's generate over the whole batch in one call (its family already mounted)."""
        extra = {"streamer": stream} if stream is not None else {}
        if batch.route == MIXED:
            names = [BASE_ROW if v == BASE else keys[v] for _, v in batch.rows]
            return generate_texts(self._host, self.tokenizer, chunk, settings, None, stop, adapter_names=names, **extra)
        if batch.group is None:  # base rows only: whatever is mounted, with adapters disabled
            with self._host.disable_adapter() if self._host is not None else contextlib.nullcontext():
                return generate_texts(self._host or self.model, self.tokenizer, chunk, settings, None, stop, **extra)
        self._host.set_adapter(keys[batch.variants[0]])
        return generate_texts(self._host or self.model, self.tokenizer, chunk, settings, None, stop, **extra)

    # ---- reading outputs back (teacher forcing) ---------------------------------------
    def read_back(self, texts: list[str], outputs: dict[str, list[str | None]],
                  references: list[str | None]) -> ReadBack:
        """Read each variant's outputs after their rendered prompts through that variant and through
        the base, and every reference through the base and every variant (see ``ReadBack``).

        Each model reads the prompts once (``PromptReader``); the base reads the outputs of as many
        variants at a time as memory holds their logits, then each of those variants reads its own.
        Prompt-learning adapters read whole texts one row at a time, as they generate."""
        with self._lock:
            unknown = [v for v in outputs if v != BASE and v not in self._specs]
            if unknown:
                raise UnknownVariantError(f"Unknown variant {unknown[0]!r}: choose from {', '.join([BASE, *self._specs])}.")
            prompts = self.tokenizer(texts, add_special_tokens=False)["input_ids"]
            written = {v: self._token_ids(t) for v, t in outputs.items()}
            wanted = self._token_ids(references)
            longest = max((len(t) for ids in [*written.values(), wanted] for t in ids if t), default=1)
            rows = self._read_rows(longest)
            tokens: dict[str, list[TokenScores | None]] = {}
            logprobs: dict[str, list[list[float] | None]] = {}
            names = list(written)
            group = max(1, rows // len(prompts) - 1)  # variants whose base logits are held at once
            with torch.no_grad():
                for start in range(0, max(len(names), 1), group):
                    chunk = names[start : start + group]
                    by_base = self._read_as(BASE, prompts, [written[v] for v in chunk] + ([wanted] if start == 0 else []), rows)
                    if start == 0:
                        logprobs[BASE] = _reference_logprobs(by_base.pop(), wanted)
                    for variant, base_logits in zip(chunk, by_base):
                        mine, on_references = self._read_as(variant, prompts, [written[variant], wanted], rows)
                        tokens[variant] = [None if t is None else self._token_scores(m, b, t)
                                           for m, b, t in zip(mine, base_logits, written[variant])]
                        logprobs[variant] = _reference_logprobs(on_references, wanted)
            return ReadBack(tokens, logprobs)

    def read_references(self, texts: list[str], references: list[str | None], variant: str) -> list[list[float] | None]:
        """Each reference's log-probabilities after its prompt through ``variant`` alone: the passes
        ``read_back`` makes for it when it reads no outputs (the same rows, so the same numbers)."""
        with self._lock:
            if variant != BASE and variant not in self._specs:
                raise UnknownVariantError(f"Unknown variant {variant!r}: choose from {', '.join([BASE, *self._specs])}.")
            prompts = self.tokenizer(texts, add_special_tokens=False)["input_ids"]
            wanted = self._token_ids(references)
            rows = self._read_rows(max((len(t) for t in wanted if t), default=1))
            with torch.no_grad():
                (logits,) = self._read_as(variant, prompts, [wanted], rows)
            return _reference_logprobs(logits, wanted)

    def _token_ids(self, texts: list[str | None]) -> list[list[int] | None]:
        return [None if t is None else self.tokenizer(t, add_special_tokens=False)["input_ids"] for t in texts]

    def _token_scores(self, own: torch.Tensor, base: torch.Tensor, target: list[int]) -> TokenScores:
        stats = token_stats(own, base, torch.tensor(target, device=own.device))
        tops = [self.tokenizer.decode([t]) for t in stats["base_top"].tolist()]
        return scores_from_stats(stats, target, token_pieces(self.tokenizer, target), tops)

    def _read_as(self, variant: str, prompts: list[list[int]], sets: list[list[list[int] | None]], rows: int):
        """``PromptReader.read`` of ``sets`` by ``variant``, the model held in that state once for all passes;
        prompt learning reads whole texts one by one (its virtual tokens move with padding)."""
        with self._reading_as(variant) as model:
            if variant != BASE and self.route(variant) == SINGLE:
                return [[None if c is None else self._read_whole(p, c) for p, c in zip(prompts, s)] for s in sets]
            return PromptReader(model, prompts, self._pad, self.base.device, rows).read(sets)

    def _read_rows(self, longest: int) -> int:
        """Rows per teacher-forced pass: their logits [rows, tokens, vocab] in fp32, three copies
        (logits, a held base set, log-softmax work), within a quarter of the free memory."""
        per_row = 3 * 4 * longest * getattr(self.model.config, "vocab_size", 1)
        return max(1, min(256, _free_memory(self.base.device) // 4 // per_row))

    def _read_whole(self, prompt: list[int], continuation: list[int]) -> torch.Tensor:
        """Prompt learning: one unpadded text through the PeftModel (its active adapter), which puts its
        virtual tokens in front."""
        ids = torch.tensor([prompt + continuation], device=self.base.device)
        logits = self._host(input_ids=ids).logits[0]
        return logits[len(logits) - len(continuation) - 1 : len(logits) - 1]

    @contextlib.contextmanager
    def as_variant(self, variant: str):
        """``self.model`` with ``variant`` switched on (the base: adapters disabled), for a caller that runs its own
        forward passes on it (lm-eval's ``HFLM``); set again for every pass, since other work may change it.
        Prompt learning is refused: its virtual tokens live in the PeftModel, not in ``self.model``."""
        with self._lock:
            self.check_as_variant(variant)
            with self._reading_as(variant) as model:
                yield model

    def check_as_variant(self, variant: str) -> None:
        """What ``as_variant`` refuses, said before any work: an unknown variant, a prompt-learning adapter."""
        if variant != BASE and variant not in self._specs:
            raise UnknownVariantError(f"Unknown variant {variant!r}: choose from {', '.join([BASE, *self._specs])}.")
        if variant != BASE and getattr(self._specs[variant].config, "is_prompt_learning", False):
            raise BackendError(f"Adapter {variant!r} is prompt learning, whose virtual tokens only the PeftModel "
                               "adds: leave it out of this run.")

    @contextlib.contextmanager
    def _reading_as(self, variant: str):
        """The model as ``variant``: its family mounted and it active, or for the base, adapters off."""
        if variant == BASE:
            plain = self._host is None or self._is_prompt_learning_host()  # prompt learning never changes self.model
            with contextlib.nullcontext() if plain else self._host.disable_adapter():
                yield self.model
            return
        self._mount(family_of(self._specs[variant].config))
        self._host.set_adapter(self._keys[variant])
        yield self.model

    @property
    def _pad(self) -> int:
        return self.tokenizer.pad_token_id if self.tokenizer.pad_token_id is not None else 0

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

    def _drives_every_layer(self, key: str) -> bool:
        """True when every layer holding adapter ``key`` is one RowAdapters computes per row."""
        layers = [m for m in self._host.modules()
                  if any(key in getattr(m, name, {}) for name in getattr(m, "adapter_layer_names", ()))]
        return bool(layers) and all(mixable(m) for m in layers)

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
        check_tensors(spec, expected)
        device = self.base.device
        weights = {k: v.to(device) for k, v in spec.state_dict.items()}
        set_peft_model_state_dict(self._host, weights, adapter_name=key)
        self._host.eval()


def _batches(names: list[str], lengths: list[int], size: int) -> list[tuple[tuple[int, str], ...]]:
    """Rows (prompt, variant) of ``names`` in batches of at most ``size``. When they must be split,
    rows with prompts of similar length go together (less padding); inside a batch rows are
    grouped by variant (contiguous rows per adapter)."""
    rows = [(i, name) for name in names for i in range(len(lengths))]
    if len(rows) > size:
        rows.sort(key=lambda row: lengths[row[0]])
        size = -(-len(rows) // -(-len(rows) // size))  # as many loops as needed, of even sizes (not 64 + 8)
    order = {name: n for n, name in enumerate(names)}
    return [tuple(sorted(rows[s : s + size], key=lambda row: (order[row[1]], row[0]))) for s in range(0, len(rows), size)]


def _free_memory(device: torch.device) -> int:
    """Bytes the device can still give: free GPU memory, or the machine's available memory."""
    if device.type == "cuda":
        return torch.cuda.mem_get_info(device)[0]
    available = available_memory()
    return available if available is not None else os.sysconf("SC_AVPHYS_PAGES") * os.sysconf("SC_PAGE_SIZE")


def _reference_logprobs(logits: list[torch.Tensor | None], references: list[list[int] | None]) -> list[list[float] | None]:
    return [None if r is None else target_logprobs(row, r) for row, r in zip(logits, references)]


class BatchGeneration:
    """One batch of an ``InProcessBackend``, resumable between decode steps (``protocol.Generation``).

    The decode state (KV cache, tokens, rows still running) lives in a ``TextDecoding``; what lives in
    the model (the mounted family, the active adapter, per-row adapters, adapters disabled for base
    rows) is set again at every ``advance``, because other visitors' work may have changed it meanwhile.
    """

    def __init__(self, backend: InProcessBackend, batch: Batch, chunk: list[str], settings: GenerationSettings,
                 on_rows: OnRows | None, keys: dict[str, str]):
        self.backend, self.batch, self.chunk, self.settings, self.on_rows = backend, batch, chunk, settings, on_rows
        self.keys = keys
        self.whole = batch.route == SINGLE or not backend.own_decode  # PEFT's generate: not resumable
        self.decoding: TextDecoding | None = None
        self.stream: RowStream | None = None  # the whole-batch path's token sink

    def advance(self, stop: threading.Event | None = None, pause: Pause | None = None) -> GeneratedRows | None:
        b, batch = self.backend, self.batch
        with b._lock:
            b._batch_keys(batch, self.keys)
            if batch.group is not None:
                b._mount(batch.group)
            if self.whole:
                self.stream = RowStream(b.tokenizer, self.on_rows or (lambda texts: None), len(self.chunk))
                return b._generate(batch, self.chunk, self.settings, self.keys, self.stream, stop)
            if self.decoding is None:
                self.decoding = TextDecoding(b.model, b.tokenizer, self.chunk, self.settings, self.on_rows)
            if batch.route == MIXED:
                with RowAdapters(b._host, [BASE_ROW if v == BASE else self.keys[v] for _, v in batch.rows]) as rows:
                    return self.decoding.run(stop, pause, rows.use)
            if batch.group is None:  # base rows only: whatever is mounted, with adapters disabled
                with b._host.disable_adapter() if b._host is not None else contextlib.nullcontext():
                    return self.decoding.run(stop, pause)
            b._host.set_adapter(self.keys[batch.variants[0]])
            return self.decoding.run(stop, pause)

    def written(self) -> GeneratedRows:
        if self.decoding is not None:
            return self.decoding.written()
        return GeneratedRows([""] * len(self.chunk), [False] * len(self.chunk))

    def tokens(self) -> tuple[int, int]:
        if self.decoding is not None:
            return self.decoding.tokens()
        limit = self.settings.max_new_tokens * len(self.chunk)
        return (sum(len(ids) for ids in self.stream.ids) if self.stream is not None else 0), limit
