"""What every stored job shares (evaluations, judgings): a thread of its own, Cancel, and one final status.

The database rows a job writes are its memory; this class only runs ``_run`` in a daemon thread, turns how
it ended into a status (finished, cancelled, or failed with one line for people and the traceback in the
log), stores that status, and lets callers ``wait`` for it.
"""

from __future__ import annotations

import logging
import threading
import time

from adapters_ui.errors import AdaptersUIError, first_line
from adapters_ui.store.evaluations import CANCELLED, FAILED, FINISHED, RUNNING

log = logging.getLogger(__name__)


class JobCancelled(Exception):
    """A Cancel ended the job's current batch early: nothing of that batch is written."""


class StoredJob:
    """Runs ``self._run()`` in a thread; ``_store_status`` writes how it ended; ``progress().line()`` is logged."""

    kind = "job"  # what the job is called in thread names, the log and its failure line
    cancelled_by: tuple[type[BaseException], ...] = (JobCancelled,)  # what a stopped batch raises

    def __init__(self, job_id: str):
        self.id = job_id
        self._stop = threading.Event()
        self._ended = threading.Event()
        self._status, self._error = RUNNING, None
        self._started = time.perf_counter()
        self._thread = threading.Thread(target=self._work, name=f"{self.kind}-{job_id[:8]}", daemon=True)

    def start(self):
        self._started = time.perf_counter()
        self._thread.start()
        return self

    def cancel(self) -> None:
        self._stop.set()

    @property
    def ended(self) -> bool:
        return self._ended.is_set()

    def wait(self, timeout: float | None = None) -> bool:
        return self._ended.wait(timeout)

    # ---- for the job to fill in -----------------------------------------------------------------
    def _run(self) -> None:
        raise NotImplementedError

    def _store_status(self, status: str, error: str | None) -> None:
        raise NotImplementedError

    def _stopped_early(self) -> bool:
        """Whether a Cancel cut the work short (the job's own count may say it all got done anyway)."""
        return self._stop.is_set()

    def progress(self):
        raise NotImplementedError

    # ---- the thread -------------------------------------------------------------------------------
    def _work(self) -> None:
        try:
            self._run()
            self._status = CANCELLED if self._stopped_early() else FINISHED
        except self.cancelled_by:
            self._status = CANCELLED
        except AdaptersUIError as exc:
            self._status, self._error = FAILED, str(exc)
        except Exception as exc:  # noqa: BLE001 - one line for people; the traceback goes to the log
            log.exception("%s %s failed", self.kind, self.id)
            self._status, self._error = FAILED, f"The {self.kind} failed: {type(exc).__name__}: {first_line(exc)}"
        try:
            self._store_status(self._status, self._error)
        except Exception:  # noqa: BLE001 - the job ended either way; a later start sees it as running and resumes
            log.exception("%s %s: its status could not be stored", self.kind, self.id)
        log.info("%s %s %s: %s", self.kind, self.id[:8], self._status, self.progress().line())
        self._ended.set()
