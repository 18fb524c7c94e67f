"""The dashboard's public API (gradio_client): ``compare`` streams a comparison's records, ``compare_and_save``
runs one to the end and saves it. Every UI event stays off the API (``UI_ONLY``); these are the endpoints.

Only the API raises ``gr.Error``, which gradio_client turns into an exception with the same one line.
"""

from __future__ import annotations

import gradio as gr

from adapters_ui.errors import AdaptersUIError
from adapters_ui.runs.prompts import parse_prompt_lines
from adapters_ui.session import SessionHolder
from adapters_ui.store import DatabaseHolder
from adapters_ui.store import saved as saved_store
from adapters_ui.store.links import comparison_link
from adapters_ui.ui.common import redraws, visitor
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


class ApiHandlers:
    """The API's endpoints, on the dashboard's shared ``SessionHolder`` and database."""

    def __init__(self, holder: SessionHolder, database: DatabaseHolder):
        self.holder = holder
        self.database = database
        self.settings = holder.settings

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


def add_api(handlers: ApiHandlers) -> None:
    """The two endpoints, taking the model in turns like the UI's model work (inside the Blocks)."""
    settings = handlers.settings
    gr.api(gpu_task(handlers.compare_api, settings.gpu_duration_s), api_name="compare",
           concurrency_limit=settings.max_runs, concurrency_id="model")
    gr.api(gpu_task(handlers.compare_and_save, settings.gpu_duration_s), api_name="compare_and_save",
           concurrency_limit=settings.max_runs, concurrency_id="model")
