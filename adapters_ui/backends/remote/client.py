"""HTTP to an OpenAI-compatible server (vLLM, Ray Serve LLM, KServe): one httpx client,
bounded retries with backoff, every failure as a one-line ``BackendError``.

    >>> client = ServerClient("http://127.0.0.1:8000")          # doctest: +SKIP
    >>> client.get("/models")["data"][0]["id"]                   # doctest: +SKIP
    'smollm2'
    >>> with client.stream("/completions", {...}) as events:     # doctest: +SKIP
    ...     for event in events: print(event["choices"])

Retried (``retries`` times, waiting ``backoff_s``, then twice that, ...): a refused or dropped
connection, a connect timeout, and the answers 429, 502, 503 and 504, which a restarting or
overloaded server gives. Never retried: other 4xx (the request is wrong), a read timeout
(the work may be running), and a stream that already sent tokens.
"""

from __future__ import annotations

import json
import logging
import time
from contextlib import contextmanager
from typing import Iterator

import httpx

from adapters_ui.errors import BackendError, first_line

log = logging.getLogger(__name__)

RETRY_STATUSES = {429, 502, 503, 504}
RETRY_ERRORS = (httpx.ConnectError, httpx.ConnectTimeout, httpx.RemoteProtocolError)


class ServerAnswerError(BackendError):
    """The server answered with an error status; ``status`` and the server's own ``reason`` kept
    so that callers can say what it means for their request (unknown model, no runtime loading, ...)."""

    def __init__(self, message: str, status: int, reason: str):
        super().__init__(message)
        self.status, self.reason = status, reason


def api_base(url: str) -> str:
    """The OpenAI API root of ``url``: "http://host:8000" and "http://host:8000/v1/" both mean
    "http://host:8000/v1"; a KServe path like "http://host/openai/v1" is kept as it is.

        >>> api_base("http://127.0.0.1:8000/")
        'http://127.0.0.1:8000/v1'
    """
    url = url.strip().rstrip("/")
    if not url.startswith(("http://", "https://")):
        raise BackendError(f"Backend URL {url!r} is not an http(s) address: pass e.g. http://127.0.0.1:8000.")
    return url if url.endswith("/v1") else url + "/v1"


def _reason(response: httpx.Response) -> str:
    """The server's own error message: vLLM says {"error": {"message": ...}} or {"message": ...}."""
    try:
        body = response.json()
    except ValueError:
        return first_line(response.text) if response.text.strip() else response.reason_phrase
    error = body.get("error") if isinstance(body, dict) else None
    if isinstance(error, dict):
        body = error
    elif isinstance(error, str):
        return first_line(error)
    message = body.get("message") or body.get("detail") if isinstance(body, dict) else None
    return first_line(message) if message else first_line(json.dumps(body))


class ServerClient:
    """One connection pool to the server at ``url``; safe to share between threads."""

    def __init__(self, url: str, api_key: str | None = None, timeout_s: float = 60.0,
                 retries: int = 3, backoff_s: float = 0.5):
        self.url = api_base(url)
        self.timeout_s, self.retries, self.backoff_s = timeout_s, retries, backoff_s
        headers = {"Authorization": f"Bearer {api_key}"} if api_key else {}
        self.http = httpx.Client(base_url=self.url, headers=headers,
                                 timeout=httpx.Timeout(timeout_s, connect=min(timeout_s, 10.0)),
                                 limits=httpx.Limits(max_connections=64, max_keepalive_connections=16))

    def close(self) -> None:
        self.http.close()

    # ---- plain requests ------------------------------------------------------------------
    def get(self, path: str) -> dict:
        return self._send("GET", path).json()

    def post(self, path: str, body: dict) -> httpx.Response:
        return self._send("POST", path, body)

    def _send(self, method: str, path: str, body: dict | None = None) -> httpx.Response:
        return self._with_retries(path, lambda: self.http.request(method, path, json=body))

    # ---- streamed requests ----------------------------------------------------------------
    @contextmanager
    def stream(self, path: str, body: dict, opened: list | None = None) -> Iterator[Iterator[dict]]:
        """POST ``body`` with ``stream: true`` and yield the server-sent events as dicts. The open
        response is appended to ``opened``, so another thread can close it (a Stop: vLLM aborts
        a request whose connection closes)."""
        request = self.http.build_request("POST", path, json={**body, "stream": True})
        response = self._with_retries(path, lambda: self.http.send(request, stream=True))
        if opened is not None:
            opened.append(response)
        try:
            yield self._events(response, path)
        finally:
            response.close()

    def _events(self, response: httpx.Response, path: str) -> Iterator[dict]:
        try:
            for line in response.iter_lines():
                if not line.startswith("data:"):
                    continue  # blank separators, comments, "event:" lines
                data = line[len("data:"):].strip()
                if data == "[DONE]":
                    return
                event = json.loads(data)
                if isinstance(event, dict) and "error" in event:  # an error after the stream began
                    raise BackendError(f"The server stopped answering {path} with an error: {_error_text(event)}.")
                yield event
        except httpx.TimeoutException:
            raise BackendError(f"The server at {self.url} sent nothing for {self.timeout_s:g} s in the middle of "
                               "an answer: it may be overloaded; try again, or raise ADAPTERS_UI_BACKEND_TIMEOUT_S.") from None
        except (httpx.RemoteProtocolError, httpx.ReadError, httpx.StreamError) as exc:
            if response.is_closed:
                return  # closed on purpose (Stop)
            raise BackendError(f"The server at {self.url} dropped the connection in the middle of an answer "
                               f"({first_line(exc)}): it may have restarted; run the comparison again.") from None

    # ---- retries and errors --------------------------------------------------------------
    def _with_retries(self, path: str, send) -> httpx.Response:
        """``send()`` until it gets an answer that is not worth asking again, waiting ``backoff_s``, twice
        that, ... in between; an error answer becomes its one-line ServerAnswerError (the response closed)."""
        for attempt in range(self.retries + 1):
            last = attempt == self.retries
            try:
                response = send()
            except RETRY_ERRORS as exc:
                if last:
                    raise BackendError(f"The server at {self.url} is not reachable ({first_line(exc)}): start it, "
                                       "or check ADAPTERS_UI_BACKEND_URL / --backend-url.") from None
                self._wait(path, first_line(exc), attempt)
                continue
            except httpx.TimeoutException:
                raise BackendError(f"The server at {self.url} did not answer {path} within {self.timeout_s:g} s: "
                                   "it may be overloaded; try again, or raise ADAPTERS_UI_BACKEND_TIMEOUT_S.") from None
            except httpx.HTTPError as exc:
                raise BackendError(f"The request to {self.url}{path} failed: {first_line(exc)}.") from None
            if response.status_code < 400:
                return response
            response.read()  # a streamed error answer: its body says why
            response.close()
            if response.status_code in RETRY_STATUSES and not last:
                self._wait(path, f"HTTP {response.status_code}: {_reason(response)}", attempt)
                continue
            raise self._answer_error(response, path)
        raise AssertionError("unreachable: the last attempt returns or raises")

    def _wait(self, path: str, why: str, attempt: int) -> None:
        wait_s = self.backoff_s * 2**attempt
        log.info("%s %s: %s; retrying in %.1f s", self.url, path, why, wait_s)
        time.sleep(wait_s)

    def _answer_error(self, response: httpx.Response, path: str) -> ServerAnswerError:
        reason, status = _reason(response), response.status_code
        if status in RETRY_STATUSES:
            message = (f"The server at {self.url} kept answering {path} with HTTP {status} ({reason}) after "
                       f"{self.retries} retries: it may be restarting or overloaded; try again shortly.")
        elif status in (401, 403):
            message = (f"The server at {self.url} refused the request (HTTP {status}: {reason}): "
                       "set ADAPTERS_UI_BACKEND_API_KEY to the server's API key.")
        elif status >= 500:
            message = (f"The server at {self.url} failed on {path} (HTTP {status}: {reason}): "
                       "check the server's log; the dashboard keeps working, try again once it is healthy.")
        else:
            message = f"The server at {self.url} refused {path} (HTTP {status}: {reason})."
        return ServerAnswerError(message, status, reason)


def _error_text(event: dict) -> str:
    error = event.get("error")
    if isinstance(error, dict):
        return first_line(str(error.get("message") or error))
    return first_line(str(error))
