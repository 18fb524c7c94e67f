"""The dashboard's public API (gradio_client): ``compare`` streams a comparison's records, ``compare_and_save``
runs one to the end and saves it; ``evaluate`` starts an evaluation job, ``evaluation`` reads its document (EVAL_SPEC)
and ``cancel_evaluation`` stops it (its owner key). Every UI event stays off the API (``UI_ONLY``); these are the endpoints.

Only the API raises ``gr.Error``, which gradio_client turns into an exception with the same one line.
"""

from __future__ import annotations

import gradio as gr

from adapters_ui.demo_assets import eval_set_path, shipped_eval_sets
from adapters_ui.errors import AdaptersUIError, ConfigError, EvalSetError
from adapters_ui.names import BASE
from adapters_ui.runs.prompts import parse_prompt_lines
from adapters_ui.session import SessionHolder
from adapters_ui.store import DatabaseHolder
from adapters_ui.store import evaluations as evaluation_store
from adapters_ui.store import saved as saved_store
from adapters_ui.store.links import comparison_link
from adapters_ui.ui.common import redraws, visitor
from adapters_ui.ui.evaluate_bench import allowed_tasks
from adapters_ui.ui.evaluation_cache import DocumentCache
from adapters_ui.ui.saved import base_url
from adapters_ui.ui.state import CompareView
from adapters_ui.ui.zerogpu import gpu_task
from adapters_ui.views.document import report_data


def api_variants(variants) -> list[str] | None:
    """API variants: a list, or one string of names separated by commas ("base, pirate"); empty = all."""
    if variants is None:
        return None
    if isinstance(variants, str):
        variants = variants.split(",")
    names = [str(v).strip() for v in variants if str(v).strip()]
    return names or None


def whole_number(value, name: str) -> int:
    """An API number given as a number or a string ("3"); else the one-line error."""
    try:
        return int(str(value).strip())
    except ValueError:
        raise ConfigError(f"{name} must be a whole number, got {value!r}.") from None


class ApiHandlers:
    """The API's endpoints, on the dashboard's shared ``SessionHolder`` and database."""

    def __init__(self, holder: SessionHolder, database: DatabaseHolder, documents: DocumentCache | None = None):
        self.holder = holder
        self.database = database
        self.settings = holder.settings
        self.documents = documents or DocumentCache()

    def _start(self, prompts_text: str, variants, max_new_tokens, request: gr.Request | None):
        session = self.holder.get()
        settings = session.generation_settings(max_new_tokens=max_new_tokens)
        return session, session.start_compare(parse_prompt_lines(prompts_text or ""), api_variants(variants), settings,
                                              owner=f"api:{visitor(request)}", kind="api")

    def compare_api(self, prompts: str, variants: list[str] | str | None = None, max_new_tokens: int | str = 64,
                    request: gr.Request = None) -> list[dict]:
        """Prompts (one a line), variant names ("base" and attached adapters, a list or "a, b"; empty = all),
        max new tokens -> [{prompt, outputs}]. Streams the records so far; a cancelled job stops the run."""
        try:
            _session, run = self._start(prompts, variants, max_new_tokens, request)
        except AdaptersUIError as exc:
            raise gr.Error(str(exc), print_exception=False) from None
        view = CompareView.waiting_for(run)
        try:  # a client that cancels (gradio_client's ``job.cancel()``) closes this generator, which stops the run
            for event, _status in redraws(run):
                if event is not None:
                    view.apply(event)
                else:
                    yield view.records
        finally:
            run.stop()
        comparison = run.final()
        if comparison.status == "failed":
            raise gr.Error(comparison.error, print_exception=False)
        yield comparison.records()

    def compare_and_save(self, prompts: str, variants: list[str] | str | None = None, max_new_tokens: int | str = 64,
                         request: gr.Request = None) -> dict:
        """Like compare, then saves the finished comparison -> {id, permalink, owner_key, results}.
        The owner key is shown once: a public Space asks for it to create reviews."""
        try:
            session, run = self._start(prompts, variants, max_new_tokens, request)
            try:
                comparison = run.result()
            finally:
                run.stop()  # no-op once ended; ends the run if this request fails or is dropped
            data = report_data(session.base.info(), session.adapters(), session.storage().to_dict(), comparison)
            ref = saved_store.save_comparison(self.database.get(), data, session.adapters())
        except AdaptersUIError as exc:
            raise gr.Error(str(exc), print_exception=False) from None
        return {"id": ref.id, "permalink": comparison_link(base_url(request), ref.id), "owner_key": ref.owner_key,
                "results": comparison.records()}


    # ---- evaluations ------------------------------------------------------------------------
    def api_set_path(self, name_or_path: str | None):
        """A shipped set's name ("demo"), or elsewhere than on a public Space a path on the server. A public
        Space takes shipped names only: a visitor must never make the server read a file of their choosing."""
        name = (name_or_path or "demo").strip()
        shipped = shipped_eval_sets()
        if self.settings.public:
            if name not in shipped:
                raise EvalSetError(f"Unknown evaluation set {name!r}: this Space runs only its shipped sets "
                                   f"({', '.join(shipped) or 'none'}).")
            return shipped[name]
        return eval_set_path(name)

    def evaluate(self, eval_set: str = "demo", variants: list[str] | str | None = None, samples: int | str = 1,
                 max_new_tokens: int | str = 48, request: gr.Request = None) -> dict:
        """Start an evaluation job in the background -> {id, owner_key}; the owner key (shown once) cancels it.
        ``eval_set``: a shipped set's name (or, outside a public Space, a .jsonl/.csv/.parquet path on the server)."""
        try:
            session = self.holder.get()
            samples = whole_number(samples or 1, "samples")
            settings = session.generation_settings(max_new_tokens=max_new_tokens, do_sample=samples > 1)
            _job, ref = session.start_evaluation(self.database.get(), self.api_set_path(eval_set), api_variants(variants),
                                                 samples, settings=settings, owner=f"api:{visitor(request)}")
        except AdaptersUIError as exc:
            raise gr.Error(str(exc), print_exception=False) from None
        return {"id": ref.id, "owner_key": ref.owner_key}

    def benchmark(self, tasks: list[str] | str, variants: list[str] | str | None = None, limit: int | str = 20,
                  num_fewshot: int | str | None = None, request: gr.Request = None) -> dict:
        """Start a benchmark (lm-eval ``tasks``, a list or comma-separated) in the background -> {id, owner_key};
        ``limit``: items per task (0: all). Read it with ``evaluation`` (its ``benchmark`` part holds lm-eval's
        numbers per variant), cancel it with ``cancel_evaluation``."""
        try:
            names = allowed_tasks([t.strip() for t in (tasks.split(",") if isinstance(tasks, str) else tasks or []) if t.strip()],
                                  self.settings.public)
            limit = whole_number(limit or 0, "limit")
            fewshot = None if num_fewshot in (None, "") else whole_number(num_fewshot, "num_fewshot")
            _job, ref = self.holder.get().start_benchmark(self.database.get(), names, api_variants(variants),
                                                          limit=limit or None, num_fewshot=fewshot,
                                                          owner=f"api:{visitor(request)}")
        except AdaptersUIError as exc:
            raise gr.Error(str(exc), print_exception=False) from None
        return {"id": ref.id, "owner_key": ref.owner_key}

    def evaluation(self, evaluation_id: str, baseline: str = BASE) -> dict:
        """The evaluation's document (EVAL_SPEC: id, status, set, variants, items, verdicts, ...) against ``baseline``
        (a variant, or another evaluation's "ID" or "ID/variant"); a running one's covers the batches done so far."""
        try:
            document = self.documents.get(self.database.get(), (evaluation_id or "").strip(), baseline or BASE)
        except AdaptersUIError as exc:
            raise gr.Error(str(exc), print_exception=False) from None
        session = self.holder.loaded
        job = session.evaluations.get(document["id"]) if session is not None else None
        if job is not None and not job.ended:
            progress = job.progress()
            document = {**document, "progress": {"done": progress.done, "total": progress.total, "rate": progress.rate,
                                                 "eta_s": progress.eta_s}}
        return document

    def cancel_evaluation(self, evaluation_id: str, owner_key: str) -> dict:
        """Cancel a running evaluation with the owner key ``evaluate`` gave -> {id, status: "cancelling"}."""
        try:
            if not evaluation_store.is_owner(self.database.get(), (evaluation_id or "").strip(), owner_key):
                raise gr.Error("That owner key does not match this evaluation: only its owner can cancel it.",
                               print_exception=False)
        except AdaptersUIError as exc:
            raise gr.Error(str(exc), print_exception=False) from None
        session = self.holder.loaded
        job = session.evaluations.get(evaluation_id.strip()) if session is not None else None
        if job is None or job.ended:
            raise gr.Error(f"Evaluation {evaluation_id} is not running here: nothing to cancel.", print_exception=False)
        job.cancel()
        return {"id": job.id, "status": "cancelling"}


def add_api(handlers: ApiHandlers) -> None:
    """The endpoints, model work taking the model in turns like the UI's (inside the Blocks). ``evaluate`` only
    starts a background job (which takes its turns by itself), so it is not model work."""
    settings = handlers.settings
    gr.api(gpu_task(handlers.compare_api, settings.gpu_duration_s), api_name="compare",
           concurrency_limit=settings.max_runs, concurrency_id="model")
    gr.api(gpu_task(handlers.compare_and_save, settings.gpu_duration_s), api_name="compare_and_save",
           concurrency_limit=settings.max_runs, concurrency_id="model")
    gr.api(handlers.evaluate, api_name="evaluate")
    gr.api(handlers.benchmark, api_name="benchmark")
    gr.api(handlers.evaluation, api_name="evaluation")
    gr.api(handlers.cancel_evaluation, api_name="cancel_evaluation")
