"""What the whole page shares: the header, the lists of attached adapters every tab shows, the page load
(served before the base model has loaded) and the timers that keep a page up to date."""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from typing import TYPE_CHECKING

import gradio as gr
import pandas as pd

from adapters_ui.adapters import demo as demo_set
from adapters_ui.config import Settings
from adapters_ui.model.memory import describe_memory
from adapters_ui.names import BASE, EMBEDDED_NAME, short_model_name
from adapters_ui.records import StorageReport
from adapters_ui.session import SessionHolder
from adapters_ui.ui.common import STOPS, UI_ONLY, loading_text, problem, visitor
from adapters_ui.ui.saved import browser_secret
from adapters_ui.ui.state import CompareView
from adapters_ui.views import charts
from adapters_ui.views.document import adapter_row
from adapters_ui.views.html import ADAPTER_COLUMNS

if TYPE_CHECKING:
    from adapters_ui.ui.adapters import AdaptersTab
    from adapters_ui.ui.compare import CompareTab
    from adapters_ui.ui.evaluate import EvaluateTab
    from adapters_ui.ui.playground import PlaygroundTab
    from adapters_ui.ui.saved import SavedTab

COMPARE_LABEL = "Compare"
SERVER_RESTARTED = ("**The server restarted** while this page was open, and the page reloaded: results that were not "
                    "saved are gone (saved comparisons are in the Saved tab); everything works again.")
# When the server goes down, gradio's page says "Connection to the server was lost. Attempting reconnection..." and
# reloads itself once the server answers again. The id of the server process that served the page is kept in the tab's
# sessionStorage, which that reload keeps (a State would be forgotten by the new server), so the reloaded page can say
# what happened to its results.
READ_BOOT_JS = "(seen) => sessionStorage.getItem('adapters_ui_server')"
KEEP_BOOT_JS = "(boot) => { sessionStorage.setItem('adapters_ui_server', boot); }"
LIST_SYNC_S = 3.0  # how often a page checks whether another visitor attached or detached an adapter
MODEL_WAIT_S = 1.0  # how often a page served before the base model loaded checks whether it is ready


@dataclass
class Page:
    """The page's own parts outside the tabs, and each visitor's state."""

    header: gr.Markdown
    restarted: gr.Markdown  # says so when the server restarted under an open page
    view: gr.State  # the visitor's CompareView
    references: gr.State  # {prompt: PromptItem} of the loaded prompt file
    versions: gr.State  # the registry version this page's lists show
    saved_view: gr.State  # the CompareView of the open saved comparison
    owned: gr.BrowserState  # saved id -> owner key, in this browser only
    boot: gr.Textbox | None = None  # made after the tabs (it carries the server id to and from sessionStorage)


@dataclass
class Layout:
    """Every part of the dashboard, for the wiring."""

    page: Page
    tabs: gr.Tabs
    compare: CompareTab
    adapters: AdaptersTab
    playground: PlaygroundTab
    saved: SavedTab
    tab_pages: dict  # tab id -> its gr.Tab, for the events of the tabs themselves
    evaluate: EvaluateTab | None = None

    def lists(self) -> list:
        """Everything that lists the attached adapters, in the order of ``PageHandlers.refresh``."""
        c, a = self.compare, self.adapters
        return [self.page.header, a.notice, a.table, a.detach_name, c.variants, self.playground.variant,
                c.storage_plot, c.scaling_plot, self.page.versions, c.descriptions]


class PageHandlers:
    """The header, the adapter lists and the page's readiness, bound to one shared ``SessionHolder``."""

    def __init__(self, holder: SessionHolder):
        self.holder = holder
        self.settings = holder.settings
        # Which server process this is: a page keeps the id it was served (see ``server_boot``), so a page
        # left open across a restart can tell that its state is gone.
        self.boot_id = uuid.uuid4().hex

    def header_markdown(self) -> str:
        session = self.holder.get()
        base = session.base
        return " &nbsp;·&nbsp; ".join([
            f"**Base model:** {base.source.name}",
            f"**backend:** {session.backend.description}",
            f"**device:** {base.device_name}",
            f"**dtype:** {base.dtype_name}",
            f"**memory:** {describe_memory(base.device)}",
            f"**adapters:** {len(session.adapters())}",
        ])

    @staticmethod
    def adapters_frame(storage: StorageReport) -> pd.DataFrame:
        rows = [adapter_row(info, storage.ratio(name)) for name, info in storage.adapters.items()]
        return pd.DataFrame(rows, columns=ADAPTER_COLUMNS)

    def header_loading(self) -> str:
        """The header while the base model loads: its name, for how long it has been loading, what is on disk."""
        preview = self.holder.preview()
        found = f"{len(preview.adapters)} adapter{'s' if len(preview.adapters) != 1 else ''} read from disk"
        return " &nbsp;·&nbsp; ".join([f"**Base model:** {short_model_name(self.settings.base_model or EMBEDDED_NAME)}",
                                       f"**{loading_text(self.holder.loading_s())}**", found])

    def preview_lists(self) -> tuple:
        """The outputs of ``refresh`` before the base model has loaded: the adapters the start attaches, read from
        their folders, listed but not yet selectable; the storage chart once the model's size is known."""
        preview = self.holder.preview()
        report = preview.storage()  # None on the first start on this cache: no model size to compare with yet
        rows = [adapter_row(info, report.ratio(info.name)) if report else {**adapter_row(info, 1.0), "x smaller": ""}
                for info in preview.adapters]
        variants = [BASE, *preview.names]
        storage = report.to_dict() if report else None
        return (
            self.header_loading(), "", pd.DataFrame(rows, columns=ADAPTER_COLUMNS),
            gr.update(choices=preview.names, value=None),
            gr.update(choices=variants, value=variants, interactive=False),
            gr.update(choices=variants, value=BASE, interactive=False),
            charts.storage_figure(storage) if storage else gr.skip(),
            charts.scaling_figure(storage) if storage else gr.skip(),
            gr.skip(), demo_set.descriptions_markdown(preview.adapters),
        )

    def readiness(self, state: str, notice=None) -> tuple:
        """(Compare, Send, Continue, playground notice, timer) for ``state``: "loading" (disabled, saying why and
        for how long), "failed" (disabled) or "ready" (enabled; ``notice`` for the playground, default: keep it)."""
        if state == "ready":
            return (gr.update(value=COMPARE_LABEL, interactive=True), gr.update(interactive=True),
                    gr.update(interactive=True), gr.skip() if notice is None else notice, gr.Timer(active=False))
        if state == "failed":
            return (gr.update(value="Compare (the base model did not load)", interactive=False), gr.update(interactive=False),
                    gr.update(interactive=False), problem(f"The base model did not load: {self.holder.error}"),
                    gr.Timer(active=False))
        waiting = loading_text(self.holder.loading_s())
        return (gr.update(value=waiting, interactive=False), gr.update(interactive=False), gr.update(interactive=False),
                f"**{waiting}** The playground starts once it is ready.", gr.Timer(active=True))

    def refresh(self, notice: str = "", selected: list[str] | None = None) -> tuple:
        """Everything that depends on the attached adapters, in the order of ``Layout.lists``.
        ``selected``: the visitor's ticked variants to keep (default: tick everything)."""
        session = self.holder.get()
        version = session.registry.version  # read first: a change after this is synced by the next tick
        report = session.storage()  # one snapshot of the attached adapters for every list below
        names = list(report.adapters)
        variants = [BASE, *names]
        ticked = variants if selected is None else [v for v in variants if v in selected]
        storage = report.to_dict()
        return (
            self.header_markdown(), notice, self.adapters_frame(report),
            gr.update(choices=names, value=None),
            gr.update(choices=variants, value=ticked, interactive=True),
            gr.update(choices=variants, interactive=True),
            charts.storage_figure(storage), charts.scaling_figure(storage),
            version, demo_set.descriptions_markdown(report.adapters.values()),
        )

    def page_load(self) -> tuple:
        """The first view (the outputs of ``refresh``, then of ``readiness``), served before the base model has
        loaded: the adapters read from disk, Compare and the Playground disabled saying why; ``model_wait`` (a
        timer) enables them once the model is ready. A load that failed is tried again here."""
        if self.holder.loaded is not None:
            return (*self.refresh(), *self.readiness("ready"))
        self.holder.preload()
        return (*self.preview_lists(), *self.readiness("loading"))

    def model_wait(self) -> tuple:
        """Timer while the base model loads: the seconds so far; once it is ready every list from the session,
        all variants ticked, and Compare and the Playground enabled; a base model that cannot load says why in
        the header."""
        if self.holder.loaded is not None:
            return (*self.refresh(), *self.readiness("ready", notice=""))
        if self.holder.error:
            return (problem(self.holder.error), *[gr.skip()] * 9, *self.readiness("failed"))
        return (self.header_loading(), *[gr.skip()] * 9, *self.readiness("loading"))

    def server_boot(self, seen: str | None) -> tuple:
        """Page load: the tab keeps this server's id (``seen``: the one it kept before); an id from another server
        process means the server restarted while the page was open (gradio then reloads the page)."""
        return self.boot_id, (SERVER_RESTARTED if seen and seen != self.boot_id else gr.skip())

    def sync_lists(self, seen_version: int, ticked: list[str] | None) -> tuple:
        """Timer: when another visitor attached or detached an adapter, bring this page's lists up to date."""
        session = self.holder.loaded
        if session is None or seen_version < 0 or seen_version == session.registry.version:
            return (gr.skip(),) * 11  # before its first lists from the session, a page waits for ``model_wait``
        header, _notice, *rest = self.refresh(selected=ticked or [])
        gone = [v for v in ticked or [] if v not in session.variants]
        note = f"**Note:** {', '.join(gone)} {'was' if len(gone) == 1 else 'were'} detached by another visitor." if gone else (
            "**Note:** the attached adapters changed (another visitor attached one): the lists are up to date.")
        return (header, gr.skip(), *rest, note)

    def page_closed(self, request: gr.Request = None) -> None:
        """The visitor closed or reloaded the page: their runs stop at the next token."""
        session = self.holder.loaded
        if session is not None:
            session.runs.stop(visitor(request))


def build_page(settings: Settings) -> Page:
    """The header and the visitor's state, above the tabs."""
    header = gr.Markdown("Loading the base model…", elem_id="header")
    restarted = gr.Markdown(elem_id="server-note")
    view, references, versions = gr.State(CompareView()), gr.State({}), gr.State(-1)
    saved_view = gr.State(CompareView())
    # saved id -> owner key, in this browser only (encrypted with a key that survives restarts)
    owned = gr.BrowserState({}, storage_key="adapters_ui_saved", secret=browser_secret(settings.cache_dir))
    return Page(header, restarted, view, references, versions, saved_view, owned)


def wire_page_load(demo: gr.Blocks, layout: Layout, handlers: PageHandlers) -> None:
    """The page is served before the base model has loaded: it lists the adapters from disk, and a timer enables
    Compare and the Playground once the model is ready (see ``PageHandlers.page_load``). The page load also tells
    a page that reconnects after the server restarted so (see ``PageHandlers.server_boot``)."""
    page, play = layout.page, layout.playground
    model_wait = gr.Timer(MODEL_WAIT_S, active=False)
    outputs = [*layout.lists(), layout.compare.run, play.send, play.complete_btn, play.notice, model_wait]
    demo.load(handlers.page_load, outputs=outputs, **UI_ONLY)
    model_wait.tick(handlers.model_wait, outputs=outputs, show_progress="hidden", **STOPS)
    demo.load(handlers.server_boot, page.boot, [page.boot, page.restarted], js=READ_BOOT_JS, **UI_ONLY
              ).then(None, page.boot, js=KEEP_BOOT_JS, **UI_ONLY)


def wire_list_sync(layout: Layout, handlers: PageHandlers) -> None:
    """Another visitor attached or detached an adapter: every list on this page follows within LIST_SYNC_S."""
    compare = layout.compare
    gr.Timer(LIST_SYNC_S).tick(handlers.sync_lists, [layout.page.versions, compare.variants],
                               [*layout.lists(), compare.notice], show_progress="hidden", **STOPS)
