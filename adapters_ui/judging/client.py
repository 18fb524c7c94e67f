"""A judge behind an OpenAI-compatible chat endpoint (vLLM serving Prometheus 2 or Qwen2.5-7B-Instruct, or a
hosted provider), on the project's HTTP client: bounded retries, a timeout, one-line errors.

    >>> judge = JudgeClient("http://127.0.0.1:8000")              # doctest: +SKIP
    >>> judge.model                          # doctest: +SKIP  (the one model the server serves)
    'prometheus-7b-v2.0'
    >>> judge.ask(PAIRWISE.render(question=q, answer_a=a, answer_b=b), PAIRWISE_SCHEMA).text   # doctest: +SKIP
    '{"explanation": "B answers the question; A does not.", "verdict": "B"}'

Where the server supports structured outputs (``response_format`` with a JSON schema: vLLM, OpenAI), the
reply is asked for in that shape, so even a small judge answers in a form ``parse`` can read. A server
that refuses it once (HTTP 400/422 naming it) is asked in free text from then on.
"""

from __future__ import annotations

import logging
import threading
import time
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass

from adapters_ui.backends.remote.client import ServerAnswerError, ServerClient
from adapters_ui.errors import BackendError, JudgeError

log = logging.getLogger(__name__)

REFUSED_STATUSES = {400, 422}  # how a server says it does not take ``response_format``


@dataclass(frozen=True)
class JudgeReply:
    """The judge's raw text (kept whole), what it cost, and whether it was constrained to a JSON schema."""

    text: str
    prompt_tokens: int | None
    completion_tokens: int | None
    seconds: float
    structured: bool


class JudgeClient:
    """One judge endpoint: chat completions, greedy, at most ``concurrency`` requests in flight."""

    def __init__(self, url: str, model: str | None = None, api_key: str | None = None, concurrency: int = 4,
                 timeout_s: float = 120.0, retries: int = 3, max_tokens: int = 512):
        try:
            self.server = ServerClient(url, api_key, timeout_s=timeout_s, retries=retries)
            self.model = model or self._only_model()
        except BackendError as exc:
            raise JudgeError(f"Judge: {exc}") from None
        self.concurrency, self.max_tokens = max(1, concurrency), max_tokens
        self.structured = True  # until the server refuses response_format
        self.requests = 0  # chat requests sent, retries not counted
        self._lock = threading.Lock()

    @property
    def name(self) -> str:
        return f"{self.model} at {self.server.url}"

    def served_models(self) -> list[str]:
        """The models the server lists (``/v1/models``); a one-line JudgeError when it does not answer."""
        try:
            return [m.get("id") for m in self.server.get("/models").get("data", []) if m.get("id")]
        except BackendError as exc:
            raise JudgeError(f"Judge: {exc}") from None

    def _only_model(self) -> str:
        models = self.served_models()
        if len(models) == 1:
            return models[0]
        if not models:
            raise JudgeError(f"The judge server at {self.server.url} lists no model: check that it has loaded one.")
        raise JudgeError(f"The judge server at {self.server.url} serves {len(models)} models ({', '.join(models[:5])}): "
                         "pick one with --judge-model (or ADAPTERS_UI_JUDGE_MODEL).")

    def close(self) -> None:
        self.server.close()

    def ask(self, messages: list[dict], schema: dict | None = None) -> JudgeReply:
        """One reply to ``messages``; constrained to ``schema`` while the server takes structured outputs."""
        structured = bool(schema) and self.structured
        body = {"model": self.model, "messages": messages, "temperature": 0.0, "max_tokens": self.max_tokens}
        if structured:
            body["response_format"] = {"type": "json_schema", "json_schema": {"name": "judgement", "schema": schema}}
        began = time.perf_counter()
        with self._lock:
            self.requests += 1
        try:
            answer = self.server.post("/chat/completions", body).json()
        except ServerAnswerError as exc:
            if structured and exc.status in REFUSED_STATUSES:
                log.info("judge %s refused structured outputs (%s): asking in free text", self.name, exc.reason)
                self.structured = False
                return self.ask(messages, schema)
            raise JudgeError(f"Judge: {exc}") from None
        except BackendError as exc:
            raise JudgeError(f"Judge: {exc}") from None
        try:
            text = answer["choices"][0]["message"].get("content") or ""
        except (KeyError, IndexError, TypeError, AttributeError):
            raise JudgeError(f"The judge server at {self.server.url} answered without a message: "
                             "is it an OpenAI-compatible chat endpoint?") from None
        usage = answer.get("usage") or {}
        return JudgeReply(text, usage.get("prompt_tokens"), usage.get("completion_tokens"),
                          time.perf_counter() - began, structured)

    def ask_many(self, conversations: list[list[dict]], schema: dict | None = None) -> list[JudgeReply]:
        """Replies in the order asked, ``concurrency`` at a time (the server batches what is in flight)."""
        if not conversations:
            return []
        with ThreadPoolExecutor(max_workers=min(self.concurrency, len(conversations))) as pool:
            return list(pool.map(lambda messages: self.ask(messages, schema), conversations))
