"""The dashboard: the Blocks with one tab per module (compare, adapters, playground, saved), wired to their handlers.

``create_app()`` builds the Blocks without loading weights or serving; the base model
loads on the first page view, so importing this module is cheap. ``launch()`` builds and
serves. What one visitor does to their own view (results, selected row, playground variant,
chat) lives in per-session state; the base model and the attached adapters are shared, and
the model is taken in turns (see ``model/turns.py``).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timezone

import gradio as gr

from adapters_ui.config import Settings
from adapters_ui.session import SessionHolder
from adapters_ui.store import DatabaseHolder
from adapters_ui.ui.adapters import AdaptersHandlers, build_adapters_tab, wire_adapters
from adapters_ui.ui.analysis import AnalysisHandlers, wire_analysis
from adapters_ui.ui.api import ApiHandlers, add_api
from adapters_ui.ui.common import UI_ONLY, merges_root
from adapters_ui.ui.compare import CompareHandlers, build_compare_tab, wire_compare
from adapters_ui.ui.evaluate import EVALUATE_CSS, EvaluateHandlers, build_evaluate_tab, resume_jobs, wire_evaluate
from adapters_ui.ui.evaluation_cache import DocumentCache
from adapters_ui.ui.guard import guard_events
from adapters_ui.ui.merge import MergeHandlers, wire_merge
from adapters_ui.ui.page import Layout, PageHandlers, build_page, wire_list_sync, wire_page_load
from adapters_ui.ui.playground import PlaygroundHandlers, build_playground_tab, wire_playground
from adapters_ui.ui.saved import SavedHandlers, build_saved_tab, wire_saved

APP_CSS = """
.gradio-container {max-width: 1500px !important; margin: auto}
#header {font-size: 16px}
#server-note p {font-size: 18px; padding: 6px 10px; border-radius: 8px; background: #fff4e5}
#notice, #play-notice {min-height: 1.6em; font-size: 16px}
#compare-notice {min-height: 2.2em; font-size: 19px; padding: 6px 10px; border-radius: 8px; background: #f3f6fc}
#grid {max-height: none}
#demo-notes {font-size: 15px}
#merge-warning {padding: 8px 12px; border-radius: 8px; background: #fff6e5; border-left: 4px solid #e8a33d}
#merge-notice {min-height: 1.6em; font-size: 16px}
@media (max-width: 640px) {
  .ag-diff .ag-pair {grid-template-columns: 1fr !important}
  .js-plotly-plot .gtitle {font-size: 13px !important}
  .js-plotly-plot .modebar-container {top: auto !important; bottom: 0 !important}
}
""" + EVALUATE_CSS

UI_CONCURRENCY = 16  # quick events (lists, prompts, rows, saving) handled at once; each is short
# A plot redrawn while its tab is hidden keeps plotly's default 700 px width; a window resize
# makes every (responsive) plot re-measure its box once the tab shows again.
RESIZE_PLOTS_JS = "() => { setTimeout(() => window.dispatchEvent(new Event('resize')), 50); }"
INTRO = (
    "# adapters_ui — what does each fine-tuned adapter change, and what does it cost?\n"
    "One base model, several PEFT adapters: the same prompts through each, outputs side by side, "
    "differences marked, and each adapter's size on disk next to a full copy of the model."
)


@dataclass
class Handlers:
    """Every tab's handlers, on one shared ``SessionHolder`` (and the database for Saved and the API)."""

    page: PageHandlers
    adapters: AdaptersHandlers
    merge: MergeHandlers
    compare: CompareHandlers
    analysis: AnalysisHandlers
    playground: PlaygroundHandlers
    saved: SavedHandlers
    api: ApiHandlers
    evaluate: EvaluateHandlers

    @property
    def holder(self) -> SessionHolder:
        return self.page.holder

    @classmethod
    def on(cls, holder: SessionHolder, database: DatabaseHolder | None = None) -> "Handlers":
        database = database or DatabaseHolder(holder.settings.database)
        page = PageHandlers(holder)
        documents = DocumentCache()  # one per app: the tab and the API read the same computed documents
        return cls(page, AdaptersHandlers(page), MergeHandlers(holder), CompareHandlers(holder),
                   AnalysisHandlers(holder), PlaygroundHandlers(holder), SavedHandlers(database, holder),
                   ApiHandlers(holder, database, documents), EvaluateHandlers(holder, database, documents))


def build_layout(settings: Settings) -> Layout:
    """The header, the four tabs, and the hidden box that carries the server id."""
    gr.Markdown(INTRO)
    page = build_page(settings)
    with gr.Tabs(overflow_behavior="wrap") as tabs:  # every tab stays in sight on a phone (not behind "…")
        with gr.Tab("Compare", id="compare") as compare_tab:
            compare = build_compare_tab(settings)
        with gr.Tab("Adapters", id="adapters"):
            adapters = build_adapters_tab(settings)
        with gr.Tab("Playground", id="playground"):
            playground = build_playground_tab(settings)
        with gr.Tab("Saved", id="saved") as saved_tab:
            saved = build_saved_tab()
        with gr.Tab("Evaluate", id="evaluate") as evaluate_tab:
            evaluate = build_evaluate_tab(settings)
    page.boot = gr.Textbox(visible="hidden", elem_id="server-boot")  # carries the server id to and from sessionStorage
    return Layout(page, tabs, compare, adapters, playground, saved,
                  {"compare": compare_tab, "saved": saved_tab, "evaluate": evaluate_tab}, evaluate)


def wire(demo: gr.Blocks, layout: Layout, handlers: Handlers) -> None:
    """Every event, in the order the page has always registered them."""
    wire_page_load(demo, layout, handlers.page)
    wire_adapters(layout, handlers.adapters)
    wire_list_sync(layout, handlers.page)
    wire_compare(layout.compare, layout.page, handlers.compare, handlers.page)
    wire_analysis(layout.compare, layout.adapters, layout.page.view, handlers.analysis)
    wire_playground(layout.playground, handlers.playground)
    wire_saved(demo, layout, handlers.saved)
    wire_merge(layout.adapters.merge, layout.adapters.table, handlers.merge)
    layout.tab_pages["saved"].select(None, js=RESIZE_PLOTS_JS, **UI_ONLY)
    demo.unload(handlers.page.page_closed)
    layout.tab_pages["compare"].select(None, js=RESIZE_PLOTS_JS, **UI_ONLY)
    wire_evaluate(demo, layout.tabs, layout.tab_pages["evaluate"], layout.evaluate, handlers.evaluate)
    layout.tab_pages["evaluate"].select(None, js=RESIZE_PLOTS_JS, **UI_ONLY)
    add_api(handlers.api)


def create_app(settings: Settings | None = None, database: DatabaseHolder | None = None,
               sessions: SessionHolder | None = None) -> gr.Blocks:
    holder = sessions or SessionHolder(settings)
    settings = holder.settings
    handlers = Handlers.on(holder, database)
    # jobs the last process left running go on once the model has loaded (a database failure is only logged)
    started = datetime.now(timezone.utc)  # noqa: UP017 - judgings created since are this process's own
    holder.when_loaded(lambda session: resume_jobs(session, handlers.evaluate.database, started))
    # A merged model's zip is served from where it was written: gradio would otherwise hash it and copy it into its
    # cache, a third whole-model copy on disk (export_folder keeps only the last few merges there).
    gr.set_static_paths([merges_root()])
    with gr.Blocks(title="adapters_ui", delete_cache=(3600, 3600)) as demo:
        wire(demo, build_layout(settings), handlers)
    # A bounded queue: at most max_queue requests wait (one more is refused at once: "the queue is full");
    # quick UI events of different visitors run side by side, model work as model_work admits it.
    demo.queue(default_concurrency_limit=UI_CONCURRENCY, max_size=settings.max_queue)
    return guard_events(demo, settings.public)  # public mode: an unexpected error is one line, its traceback logged


def launch_kwargs(settings: Settings | None = None) -> dict:
    """Gradio's serving options. Public mode hides the text of errors raised outside our handlers
    (which ``guard_events`` already turns into one line); uploads stop at ``max_upload_bytes``."""
    public = settings is not None and settings.public
    limits = {"max_file_size": settings.max_upload_bytes} if settings is not None else {}
    return {"theme": gr.themes.Soft(text_size="lg"), "css": APP_CSS, "show_error": not public, **limits}


def launch(settings: Settings | None = None, **overrides) -> None:
    """Build the app and serve it (blocks until the server stops)."""
    settings = settings or Settings.from_env()
    create_app(settings).launch(**{**launch_kwargs(settings), **overrides})
