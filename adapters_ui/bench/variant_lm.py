"""lm-eval's ``HFLM`` on the model the in-process backend already holds, one variant switched on per pass.

No copy of the weights and no reload: ``HFLM(pretrained=backend.model, tokenizer=<a copy of the backend's>)``
scores on the loaded base, and every forward pass (``_model_call``) and generation (``_model_generate``) runs

- in a background model turn (``turns.turn(background=True)``: the queue a visitor's comparison and an
  evaluation job wait in, so a benchmark never runs beside a visitor's pass, and a waiting visitor goes
  first, as before an evaluation job),
- on the model thread (``model.thread``: every piece of model work in the process runs there),
- with ``variant`` switched on (``backend.as_variant``: its family mounted and it active; the base
  with adapters disabled), set again for each pass since a visitor's work in between may change it.

Set ``lm.variant`` between ``simple_evaluate`` calls to score another adapter on the same weights.
"""

from __future__ import annotations

import copy
import threading

from lm_eval.models.huggingface import HFLM

from adapters_ui.model.thread import on_model_thread
from adapters_ui.model.turns import TurnQueue
from adapters_ui.names import BASE


class VariantLM(HFLM):
    """``HFLM`` whose passes go through the backend's turns, thread and active variant."""

    def __init__(self, backend, turns: TurnQueue, variant: str = BASE, cancel: threading.Event | None = None,
                 batch_size: int = 8, max_length: int | None = None):
        # a copy of the tokenizer: HFLM sets a missing pad token and flips padding_side while it encodes a batch,
        # which visitors' runs on the shared tokenizer must not see
        super().__init__(pretrained=backend.model, tokenizer=copy.deepcopy(backend.tokenizer), batch_size=batch_size,
                         max_length=max_length)
        self.engine, self.turns, self.variant, self.cancel = backend, turns, variant, cancel  # HFLM's own .backend is "causal"

    def _model_call(self, inps, attn_mask=None, labels=None):
        return self._in_turn(super()._model_call, inps, attn_mask, labels)

    def _model_generate(self, context, max_length, stop, **generation_kwargs):
        return self._in_turn(super()._model_generate, context, max_length, stop, **generation_kwargs)

    def _in_turn(self, call, *args, **kwargs):
        with self.turns.turn(cancel=self.cancel, background=True):  # a benchmark is background work: visitors first
            return on_model_thread(self._as_variant, call, *args, **kwargs)

    def _as_variant(self, call, *args, **kwargs):
        with self.engine.as_variant(self.variant):
            return call(*args, **kwargs)
