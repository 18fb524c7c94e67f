"""Any lm-eval model, asked in chunks of requests: a benchmark's progress can be counted and cancelled.

lm-eval hands a model all of a request type at once (``loglikelihood(requests)``: every choice of every
item of every task), so from outside a variant's run is one opaque call of minutes. ``CountedLM`` passes
the requests on ``CHUNK`` at a time, counts the ones answered (``done``), and between two chunks stops
with ``BenchmarkCancelled`` when ``cancel`` is set. The answers are the inner model's, in the same order: a
chunk is a contiguous slice, and lm-eval's models sort and batch inside each call (one item's choices
are next to each other, so its shared context is still read once).

    >>> lm = CountedLM(VariantLM(backend, turns), cancel=stop)  # doctest: +SKIP
    >>> lm.variant = "pirate"; simple_evaluate(model=lm, ...); lm.done  # doctest: +SKIP
    1234
"""

from __future__ import annotations

import threading

from lm_eval.api.model import LM


class BenchmarkCancelled(Exception):
    """A Cancel stopped the variant between two chunks: its numbers are incomplete and must not be kept."""


CHUNK = 64  # requests per call of the inner model: small enough for a bar that moves, big enough to batch


class CountedLM(LM):
    """Forwards every request type to ``inner`` ``CHUNK`` requests at a time; other attributes pass through."""

    def __init__(self, inner: LM, cancel: threading.Event | None = None, chunk: int = CHUNK):
        super().__init__()
        self.inner, self.cancel, self.chunk = inner, cancel, chunk
        self.done = 0  # requests answered since the count was last reset

    def __getattr__(self, name):  # rank, tokenizer_name, get_model_info, ... are the inner model's
        return getattr(self.__dict__["inner"], name)

    @property
    def variant(self):
        return self.inner.variant

    @variant.setter
    def variant(self, value) -> None:
        self.inner.variant = value

    @property
    def rank(self) -> int:
        return self.inner.rank

    @property
    def world_size(self) -> int:
        return self.inner.world_size

    def loglikelihood(self, requests, disable_tqdm: bool = False):
        return self._chunked(self.inner.loglikelihood, requests)

    def loglikelihood_rolling(self, requests, disable_tqdm: bool = False):
        return self._chunked(self.inner.loglikelihood_rolling, requests)

    def generate_until(self, requests, disable_tqdm: bool = False):
        return self._chunked(self.inner.generate_until, requests)

    def _chunked(self, call, requests) -> list:
        answers = []
        for start in range(0, len(requests), self.chunk):
            if self.cancel is not None and self.cancel.is_set():
                raise BenchmarkCancelled()
            answers.extend(call(requests[start:start + self.chunk], disable_tqdm=True))
            self.done += len(requests[start:start + self.chunk])
        return answers
