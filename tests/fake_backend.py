"""A fake ``Backend``: deterministic text, one word a decode step, no model. For the tests of what sits
above a backend (runs, turns, caps, ownership, stop, page handlers), which then take milliseconds;
the tests that prove the real outputs stay on the tiny real model.

Every row writes the words of ``FakeBackend.reply(variant, text)`` ("lora says Hi there"), one word
per step, up to ``max_new_tokens`` (``min_new_tokens`` pads it with "more"). ``begin`` gives a resumable
``Generation`` that pauses between steps like the real decode loop, so turns, stops and progress behave
as they do on a model. Knobs for the tests:

    backend.hold = threading.Event()   # each step waits until it is set (a run that stays mid-decode)
    backend.hold_from = 3              # ... from the 3rd step on (in all batches): steps 1 and 2 run
    backend.step_s = 0.005             # each step takes that long (a batch that outlasts HOLD_S)
    backend.wait_steps(3)              # until 3 steps were written (in all batches)
    backend.fail_at = 5                # the 5th step raises "injected fault in a decode step", once
    backend.refusals["IA3"] = "..."    # refusal() of an adapter (by name or PEFT type): one line
    backend.fail_attach.add("lora")    # attach() of that adapter raises
    backend.calls                      # ["attach:lora", "plan", "step:lora", "detach:lora", ...]
"""

from __future__ import annotations

import threading
import time
from pathlib import Path

import torch
from helpers import adapter_configs

from adapters_ui.analysis.divergence import ReadBack, TokenScores
from adapters_ui.backends.protocol import BATCH, MIXED, SINGLE, Batch, GeneratedRows, OnRows, Pause, Plan
from adapters_ui.config import Settings
from adapters_ui.decoding import GenerationSettings
from adapters_ui.errors import AdapterError, UnknownVariantError
from adapters_ui.model.base import BaseSource, LoadedBase
from adapters_ui.names import BASE
from adapters_ui.session import Session

FAULT = "injected fault in a decode step"
FILLER = "more"  # the words a row writes after its reply while min_new_tokens asks for more
BATCH_TYPES = {"IA3", "LOHA", "LOKR"}


def fake_route(config) -> str:
    """The real backend's routing by PEFT type: LoRA (and DoRA, rsLoRA) mixed with base rows, IA3/LoHa/LoKr
    batched per adapter, prompt learning and the rest one prompt at a time."""
    peft_type = str(getattr(config.peft_type, "value", config.peft_type))
    if getattr(config, "is_prompt_learning", False):
        return SINGLE
    if peft_type == "LORA":
        return MIXED
    return BATCH if peft_type in BATCH_TYPES else SINGLE


class FakeBackend:
    """The ``Backend`` protocol with deterministic outputs: attach/detach only record, generation writes words."""

    description = "fake backend, for tests"
    in_process = True  # steps run on the model thread, one turn at a time, as in the real in-process backend

    def __init__(self) -> None:
        self.specs: dict[str, object] = {}  # attached adapters (AdapterSpec), in attach order
        self.refusals: dict[str, str] = {}  # adapter name or PEFT type -> refusal line
        self.fail_attach: set[str] = set()  # adapter names whose attach raises
        self.calls: list[str] = []
        self.hold: threading.Event | None = None
        self.hold_from = 1
        self.step_s = 0.0
        self.fail_at: int | None = None
        self.steps = 0  # steps written, all batches together
        self._stepped = threading.Condition()
        self._attached = 0  # a new number per attach: a batch notices that its adapter was replaced meanwhile
        self._ids: dict[str, int] = {}

    @staticmethod
    def reply(variant: str, text: str, max_new_tokens: int = 64, min_new_tokens: int = 0) -> str:
        """What a row of ``variant`` writes after rendered prompt ``text``."""
        words = f"{variant} says {text}".split()
        words += [FILLER] * (min_new_tokens - len(words))
        return " ".join(words[:max_new_tokens])

    # ---- adapters -----------------------------------------------------------------------
    def route(self, name: str) -> str:
        return fake_route(self.specs[name].config)

    def refusal(self, spec) -> str | None:
        return self.refusals.get(spec.name) or self.refusals.get(spec.peft_type)

    def attach(self, spec) -> None:
        self.calls.append(f"attach:{spec.name}")
        if spec.name in self.fail_attach:
            raise AdapterError(f"Adapter {spec.name!r} could not be attached: the fake says no.")
        self._attached += 1
        self.specs[spec.name], self._ids[spec.name] = spec, self._attached

    def detach(self, name: str) -> None:
        self.calls.append(f"detach:{name}")
        del self.specs[name], self._ids[name]

    # ---- planning ---------------------------------------------------------------------------
    def plan(self, variants: list[str], texts: list[str], settings: GenerationSettings) -> Plan:
        """Like the real plan: base rows ride with the LoRA rows (MIXED), or alone when there are none; each
        BATCH adapter has batches of its own; SINGLE adapters one prompt a batch. At most batch_size rows."""
        self.calls.append("plan")
        unknown = [v for v in variants if v != BASE and v not in self.specs]
        if unknown:
            raise UnknownVariantError(f"Unknown variant {unknown[0]!r}: choose from {', '.join([BASE, *self.specs])}.")
        routes = {v: self.route(v) for v in variants if v != BASE}
        mixed = [v for v in variants if routes.get(v) == MIXED]
        if BASE in variants:
            routes[BASE] = MIXED if mixed else BATCH
            mixed.insert(0, BASE)
        prompts = range(len(texts))
        groups = [[(i, v) for v in mixed for i in prompts]] if mixed else []
        groups += [[(i, v) for i in prompts] for v in variants if routes[v] == BATCH and v != BASE]
        groups += [[(i, v)] for v in variants if routes[v] == SINGLE for i in prompts]
        size = settings.batch_size
        batches = [Batch(routes[rows[0][1]], tuple(rows[s : s + size]), "fake")
                   for rows in groups if rows for s in range(0, len(rows), size)]
        return Plan(tuple(batches), {v: routes[v] for v in variants})

    # ---- generation -------------------------------------------------------------------------
    def begin(self, batch: Batch, texts: list[str], settings: GenerationSettings,
              on_rows: OnRows | None = None) -> "FakeGeneration":
        return FakeGeneration(self, batch, [texts[i] for i, _ in batch.rows], settings, on_rows, self._check(batch))

    def generate(self, batch: Batch, texts: list[str], settings: GenerationSettings, on_rows: OnRows | None = None,
                 stop: threading.Event | None = None) -> GeneratedRows:
        return self.begin(batch, texts, settings, on_rows).advance(stop)

    def read_back(self, texts: list[str], outputs: dict[str, list[str | None]],
                  references: list[str | None]) -> ReadBack:
        """Every word of every output scored the same way: the base agrees with itself, adapters differ by 0.5 nats."""
        self.calls.append("read_back")

        def scores(variant: str, text: str) -> TokenScores:
            words = text.split()
            n, differs = len(words), variant != BASE
            return TokenScores(words, list(range(n)), [-1.0] * n, [-1.5 if differs else -1.0] * n,
                               [0.5 if differs else 0.0] * n, [differs] * n, words, [0.5] * n)

        tokens = {v: [None if t is None else scores(v, t) for t in texts_of] for v, texts_of in outputs.items()}
        logprobs = {v: [None if r is None else [-1.0] * len(r.split()) for r in references] for v in [BASE, *outputs]}
        return ReadBack(tokens, logprobs)

    def read_references(self, texts: list[str], references: list[str | None], variant: str) -> list[list[float] | None]:
        """``read_back``'s reference log-probabilities for one variant."""
        self.calls.append(f"read_references:{variant}")
        return [None if r is None else [-1.0] * len(r.split()) for r in references]

    def wait_steps(self, count: int, timeout: float = 5.0) -> None:
        """Until ``count`` steps were written in all (AssertionError after ``timeout`` seconds)."""
        with self._stepped:
            assert self._stepped.wait_for(lambda: self.steps >= count, timeout), f"{self.steps} of {count} steps"

    def _check(self, batch: Batch, started: dict[str, int] | None = None) -> dict[str, int]:
        """Which attach of each adapter this batch runs; the real backend's one line when one was detached."""
        ids = {v: self._ids.get(v) for v in batch.variants if v != BASE}
        gone = [v for v, i in ids.items() if i is None or (started is not None and started[v] != i)]
        if gone:
            raise UnknownVariantError(
                f"Adapter {gone[0]!r} was detached during this run: press Compare to run again without it.")
        return ids

    def _step(self, batch: Batch) -> None:
        if self.hold is not None and self.steps + 1 >= self.hold_from:
            self.hold.wait()
        if self.step_s:
            time.sleep(self.step_s)
        with self._stepped:
            self.steps += 1
            fail = self.steps == self.fail_at
            self._stepped.notify_all()
        self.calls.append(f"step:{','.join(batch.variants)}")
        if fail:
            self.fail_at = None
            raise RuntimeError(FAULT)


class FakeGeneration:
    """One batch of a ``FakeBackend``, one word per row per step; pauses between steps like the real loop."""

    def __init__(self, backend: FakeBackend, batch: Batch, chunk: list[str], settings: GenerationSettings,
                 on_rows: OnRows | None, ids: dict[str, int]):
        self.backend, self.batch, self.settings, self.on_rows, self.ids = backend, batch, settings, on_rows, ids
        limit, least = settings.max_new_tokens, settings.min_new_tokens
        self.words = [FakeBackend.reply(v, text, limit, least).split() for (_, v), text in zip(batch.rows, chunk)]
        self.count = 0  # steps taken: every row that has not ended wrote one word a step

    def advance(self, stop: threading.Event | None = None, pause: Pause | None = None) -> GeneratedRows | None:
        self.backend._check(self.batch, self.ids)
        moved = False
        while True:
            if moved and (self._ended() or (stop is not None and stop.is_set())):
                return self.written()
            if moved and pause is not None and pause():
                return None
            self.backend._step(self.batch)
            self.count += 1
            moved = True
            if self.on_rows is not None:
                self.on_rows(self.written().texts)

    def _ended(self) -> bool:
        return all(self.count >= len(words) for words in self.words)

    def written(self) -> GeneratedRows:
        return GeneratedRows([" ".join(words[: self.count]) for words in self.words],
                             [self.count >= len(words) for words in self.words])

    def tokens(self) -> tuple[int, int]:
        limit = self.settings.max_new_tokens
        return (sum(min(self.count, len(words)) for words in self.words),
                sum(len(words) if self.count >= len(words) else limit for words in self.words))


class FakeTokenizer:
    """What the session asks of a tokenizer: no chat template, so the model sees the prompt as typed."""

    chat_template = None

    def __call__(self, text, add_special_tokens: bool = False) -> dict:
        """One token a word, as the fake backend writes one word a step."""
        ids = lambda t: list(range(len(t.split())))  # noqa: E731
        return {"input_ids": [ids(t) for t in text] if isinstance(text, list) else ids(text)}


def fake_base(name: str = "fake/tiny-base") -> LoadedBase:
    """A ``LoadedBase`` without a model: a one-weight module for the storage figures."""
    return LoadedBase(torch.nn.Linear(1, 1, bias=False), FakeTokenizer(), BaseSource("hub", name, name),
                      torch.device("cpu"), torch.float32, 0.0, False)


def session_on_fake(settings: Settings, backend: FakeBackend | None = None) -> Session:
    """A real ``Session`` (registry, caps, run book, turns) whose backend is a ``FakeBackend``."""
    return Session(fake_base(), settings, backend or FakeBackend())


def fake_adapter(folder: Path, kind: str) -> Path:
    """An adapter folder that passes read_adapter: the tests' ``kind`` of PEFT config (helpers.adapter_configs)
    and one tensor (the fake never reads weights)."""
    from safetensors.torch import save_file

    adapter_configs()[kind].save_pretrained(str(folder))
    save_file({"fake.weight": torch.zeros(2)}, str(folder / "adapter_model.safetensors"))
    return folder
