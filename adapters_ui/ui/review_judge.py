"""The judge on a review's owner page: which judge is set (or one line saying none is), its editable template,
Judge and Cancel with a progress line, and what it found.

The judge is the one the settings name (ADAPTERS_UI_JUDGE_URL, _MODEL, _API_KEY_ENV): a visitor never types
a server address here. It runs as a stored job (``runs/judging``): closing the page does not stop it, the app
resumes it after a restart, and judging again asks the judge nothing it already answered (the cache).
"""

from __future__ import annotations

import logging
import os
import threading

from adapters_ui.config import Settings
from adapters_ui.errors import AdaptersUIError, ConfigError
from adapters_ui.judging.templates import PAIRWISE, edited
from adapters_ui.runs.judging import JudgingJob, start_judging
from adapters_ui.runs.review_judging import newest_review_judging
from adapters_ui.store import DatabaseHolder
from adapters_ui.store import reviews as store
from adapters_ui.store.judgements import RUNNING, done_units
from adapters_ui.ui.common import problem

log = logging.getLogger(__name__)

NO_JUDGE = ("No judge is set: start the app with ADAPTERS_UI_JUDGE_URL pointing at an OpenAI-compatible server "
            "(e.g. vLLM serving a strong model), or judge from the command line with `adapters-ui judge`.")


class ReviewJudge:
    """Judgings started from owner pages, one per review at a time; the database holds what they judged."""

    def __init__(self, database: DatabaseHolder, settings: Settings):
        self.database, self.settings = database, settings
        self.jobs: dict[str, JudgingJob] = {}  # review id -> the job this process started
        self._lock = threading.Lock()

    def judge_line(self) -> str:
        """Which judge the settings name, in one line (no key: only the variable that holds it)."""
        s = self.settings
        if not s.judge_url:
            return NO_JUDGE
        model = s.judge_model or "the one model it serves"
        return f"**Judge:** {model} at `{s.judge_url}` (key from ${s.judge_api_key_env}, if set)"

    def _client(self):
        if not self.settings.judge_url:
            raise ConfigError(NO_JUDGE)
        from adapters_ui.judging.client import JudgeClient

        s = self.settings
        return JudgeClient(s.judge_url, s.judge_model, os.environ.get(s.judge_api_key_env) or None)

    def start(self, owner: str, system: str, user: str) -> tuple[str, bool]:
        """Judge every pair of the owner's review both ways with the (edited) template -> (notice, started)."""
        try:
            template = edited(PAIRWISE, system, user)
            review_id = store.owner_info(self.database.get(), owner).id
            with self._lock:
                running = self.jobs.get(review_id)
                if running is not None and not running.ended:
                    return "The judge is already at work on this review: wait for it, or cancel it.", True
                judge = self._client()
                job = start_judging(self.database.get(), review_id, judge, "pairwise", template=template)
                self.jobs[review_id] = job
        except AdaptersUIError as exc:
            return problem(exc), False
        threading.Thread(target=lambda: (job.wait(), judge.close()), name=f"judge-close-{job.id[:8]}",
                         daemon=True).start()
        log.info("judging %s of review %s started by its owner", job.id, review_id)
        return f"**Judging** with {judge.name}: every pair in both orders.", True

    def cancel(self, owner: str) -> str:
        try:
            review_id = store.owner_info(self.database.get(), owner).id
        except AdaptersUIError as exc:
            return problem(exc)
        job = self.jobs.get(review_id)
        if job is None or job.ended:
            return "The judge is not at work on this review."
        job.cancel()
        return "**Cancelling** after the batch in flight: every stored verdict is kept."

    def progress(self, review_id: str) -> tuple[str, bool]:
        """-> (the progress line of the review's newest judging, whether it is still running)."""
        job = self.jobs.get(review_id)
        if job is not None:
            progress = job.progress()
            return progress.line(), progress.status == RUNNING
        db = self.database.get()
        judging = newest_review_judging(db, review_id)
        if judging is None:
            return "Not judged yet.", False
        done = len(done_units(db, judging.id))
        line = f"{done:,} of {judging.total:,} pairs judged by {judging.judge_model}: {judging.status}"
        return line + (f" ({judging.error})" if judging.error else ""), judging.status == RUNNING
