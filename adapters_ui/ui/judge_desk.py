"""The judge on the pages (a review's owner page, the Evaluate tab): which judge is set, or one line saying
none is; starting, cancelling and following a judging of one review or evaluation.

The judge is the one the settings name: a server (ADAPTERS_UI_JUDGE_URL, _MODEL, _API_KEY_ENV), else a model
loaded in this process on first use (ADAPTERS_UI_JUDGE_LOCAL). A visitor never types a server address or a path.
It runs as a stored job (``runs/judging``): closing the page does not stop it, the app resumes it after a restart
(a server's judging), and judging again asks the judge nothing it already answered (the cache).
"""

from __future__ import annotations

import logging
import os
import threading

from adapters_ui.config import Settings
from adapters_ui.errors import AdaptersUIError, ConfigError
from adapters_ui.judging.templates import TEMPLATES, edited
from adapters_ui.names import BASE
from adapters_ui.runs.judging import JudgingJob, start_judging
from adapters_ui.store import DatabaseHolder
from adapters_ui.store.judgements import FAILED, RUNNING, done_units, list_judgings
from adapters_ui.ui.common import problem

log = logging.getLogger(__name__)

NO_JUDGE = ("No judge is set: start the app with ADAPTERS_UI_JUDGE_URL pointing at an OpenAI-compatible server "
            "(e.g. vLLM serving a strong model) or ADAPTERS_UI_JUDGE_LOCAL naming a model to load here, or judge from "
            "the command line with `adapters-ui judge`.")


class JudgeDesk:
    """Judgings started from the pages, one per review or evaluation at a time; the database holds their results."""

    def __init__(self, database: DatabaseHolder, settings: Settings):
        self.database, self.settings = database, settings
        self.jobs: dict[str, JudgingJob] = {}  # review or evaluation id -> the job this process started
        self._lock = threading.Lock()
        self._local = None  # the in-process judge, once loaded (it stays: a second model beside the base)

    def judge_line(self) -> str:
        """Which judge the settings name, in one line (no key: only the variable that holds it)."""
        s = self.settings
        if s.judge_url:
            model = s.judge_model or "the one model it serves"
            return f"**Judge:** {model} at `{s.judge_url}` (key from ${s.judge_api_key_env}, if set)"
        if s.judge_local:
            loaded = "loaded" if self._local is not None else "loaded on the first Judge (it takes a while)"
            return f"**Judge:** `{s.judge_local}` in this process, beside the base ({loaded})"
        return NO_JUDGE

    def _client(self):
        """A new client of the judge server, or the in-process judge (loaded once; closing it keeps it)."""
        s = self.settings
        if s.judge_url:
            from adapters_ui.judging.client import JudgeClient

            return JudgeClient(s.judge_url, s.judge_model, os.environ.get(s.judge_api_key_env) or None)
        if not s.judge_local:
            raise ConfigError(NO_JUDGE)
        if self._local is None:
            from adapters_ui.judging.local import LocalJudge

            self._local = LocalJudge(None if s.judge_local == "embedded" else s.judge_local, s)
        return self._local

    def start(self, target_id: str, mode: str = "pairwise", baseline: str = BASE, template=None,
              rubric: str | None = None) -> tuple[str, bool]:
        """Judge review or evaluation ``target_id`` in the background -> (notice, whether a judge is at work)."""
        try:
            with self._lock:
                running = self.jobs.get(target_id)
                if running is not None and not running.ended:
                    return "The judge is already at work on this: wait for it, or cancel it.", True
                judge = self._client()
                try:
                    job = start_judging(self.database.get(), target_id, judge, mode, baseline, template=template,
                                        rubric=rubric)
                except BaseException:
                    judge.close()
                    raise
                self.jobs[target_id] = job
        except AdaptersUIError as exc:
            return problem(exc), False
        threading.Thread(target=lambda: (job.wait(), judge.close()), name=f"judge-close-{job.id[:8]}",
                         daemon=True).start()
        log.info("judging %s of %s %s started from the page", job.id, job.stored.target_kind, target_id)
        how = "every pair in both orders" if mode == "pairwise" else "a 1–5 grade for every output"
        return f"**Judging** with {judge.name}: {how}.", True

    def start_edited(self, target_id: str, mode: str, template_name: str, system: str, user: str,
                     baseline: str = BASE, rubric: str | None = None) -> tuple[str, bool]:
        """``start`` with shipped template ``template_name`` as the page shows it, edited: the judging stores the
        edited texts and their hash. A template that lost a hole it needs is refused in one line, nothing stored."""
        shipped = TEMPLATES.get(template_name or "")
        if shipped is None:
            return problem(f"Judge template {template_name!r} is not known: choose from {', '.join(TEMPLATES)}."), False
        try:
            template = edited(shipped, system, user)
        except AdaptersUIError as exc:
            return problem(exc), False
        return self.start(target_id, mode, baseline, template=template, rubric=rubric)

    def cancel(self, target_id: str) -> str:
        job = self.jobs.get(target_id)
        if job is None or job.ended:
            return "The judge is not at work on this."
        job.cancel()
        return "**Cancelling** after the batch in flight: every stored verdict is kept."

    def progress(self, target_id: str) -> tuple[str, bool]:
        """-> (the progress line of the newest judging of ``target_id``, whether it is still running)."""
        job = self.jobs.get(target_id)
        if job is not None:
            progress = job.progress()
            return progress.line(), progress.status == RUNNING
        db = self.database.get()
        judging = next(iter(list_judgings(db, target_id=target_id, limit=1)), None)
        if judging is None:
            return "Not judged yet.", False
        done, unit = len(done_units(db, judging.id)), "pairs" if judging.mode == "pairwise" else "outputs"
        line = f"{done:,} of {judging.total:,} {unit} judged by {judging.judge_model}: {judging.status}"
        return line + (f" ({judging.error})" if judging.error and judging.status == FAILED else ""), judging.status == RUNNING
