"""Evaluation documents, computed once per state of the evaluation: the page redraws without recomputing.

A document of 600 outputs takes a second or two (the bootstrap intervals of every verdict). The page
asks for it on every click (a slice, a metric, a filter, a row) and every second while a job runs,
so documents are kept by (id, baseline, outputs stored, status, judgings): a new committed batch, the job
ending, or a judge model's batch (its verdicts join the table) makes a new key; anything else reads the kept one.

    >>> cache = DocumentCache(size=4)
    >>> document = cache.get(db, evaluation_id, "base")   # doctest: +SKIP  (computed)
    >>> cache.get(db, evaluation_id, "base") is document  # doctest: +SKIP  (kept: nothing was stored since)
    True
"""

from __future__ import annotations

import threading
from collections import OrderedDict

from adapters_ui.names import BASE
from adapters_ui.runs.evaluation_document import evaluation_document
from adapters_ui.store.database import Database
from adapters_ui.store.evaluations import count_outputs, load_evaluation
from adapters_ui.store.judgements import list_judgings

CACHED_DOCUMENTS = 8  # a few visitors' evaluations, each against a baseline or two


def judgings_state(db: Database, evaluation_id: str) -> tuple:
    """Each judging of the evaluation as (id, status, last stored): changes whenever a judge stores a batch."""
    return tuple((j.id, j.status, j.updated) for j in list_judgings(db, "evaluation", evaluation_id))


class DocumentCache:
    """A small LRU of evaluation documents keyed by (id, baseline, outputs stored, status, judgings); thread-safe."""

    def __init__(self, size: int = CACHED_DOCUMENTS):
        self.size = size
        self._documents: OrderedDict[tuple, dict] = OrderedDict()
        self._lock = threading.Lock()
        self.computed = 0  # how many documents were computed (tests read it)

    def key(self, db: Database, evaluation_id: str, baseline: str) -> tuple:
        """What a document depends on: its outputs grow a batch at a time; its status changes once, at the end;
        each judging of it changes its ``updated`` time with every batch it stores."""
        stored = load_evaluation(db, evaluation_id)
        return stored.id, baseline or BASE, count_outputs(db, stored.id), stored.status, judgings_state(db, stored.id)

    def get(self, db: Database, evaluation_id: str, baseline: str = BASE) -> dict:
        key = self.key(db, evaluation_id, baseline)
        with self._lock:
            if key in self._documents:
                self._documents.move_to_end(key)
                return self._documents[key]
        document = evaluation_document(db, key[0], key[1])  # outside the lock: other visitors' pages go on
        with self._lock:
            self.computed += 1
            self._documents[key] = document
            self._documents.move_to_end(key)
            while len(self._documents) > self.size:
                self._documents.popitem(last=False)
        return document
