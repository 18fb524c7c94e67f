"""Saving a comparison, the Saved tab (read-only permalinks), and creating blind reviews.

A saved comparison is shown from the database alone: no model runs and no adapter needs
to be attached, so ``?run=<id>`` works after a restart or under another base model.
Which saved comparisons a visitor owns lives in their browser (``gr.BrowserState``:
id -> owner key); on a public Space the list shows only those, and only their owner
can start a review.
"""

from __future__ import annotations

import os
import secrets
import threading
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

import gradio as gr

from adapters_ui.analysis.text_diff import difference_summary
from adapters_ui.errors import AdaptersUIError, StoreError
from adapters_ui.formatting import format_size, plural
from adapters_ui.session import SessionHolder
from adapters_ui.store import DatabaseHolder
from adapters_ui.store import reviews as review_store
from adapters_ui.store import saved as saved_store
from adapters_ui.store.links import comparison_link, owner_link, reviewer_link
from adapters_ui.ui.common import GRID_CLICK_JS, UI_ONLY, ok, problem
from adapters_ui.ui.state import CompareView, select_row
from adapters_ui.views import charts
from adapters_ui.views.html import VIEW_CSS

if TYPE_CHECKING:
    from adapters_ui.ui.page import Layout

# notice, meta, grid, diff, view, storage, scaling, differences, csv, json, html, review box, the opened view
OPEN_OUTPUTS = 13
NOTHING_SAVED = ("No saved comparison yet: run one in the **Compare** tab, then press **Save comparison** under the "
                 "downloads.")
UNDER_REVIEW = ("**Under blind review:** this comparison's outputs and variant names are hidden until its review is "
                "closed or deleted. Its owner sees it from the browser that saved it.")


def base_url(request: gr.Request | None) -> str:
    """The address the visitor reached the app by (behind a proxy: the forwarded one)."""
    if request is None:
        return ""
    headers = request.headers or {}
    host = headers.get("x-forwarded-host") or headers.get("host") or ""
    inner = getattr(request, "request", None)  # the HTTP request (absent when a test builds gr.Request)
    scheme = headers.get("x-forwarded-proto") or (inner.url.scheme if inner is not None else "http")
    return f"{scheme}://{host}" if host else ""


def browser_secret(cache_dir: Path) -> str:
    """The key gr.BrowserState encrypts owner keys with, kept in the cache folder: gradio's default is new at
    every start, which would make every browser forget what it saved after a restart."""
    path = Path(cache_dir) / "browser_state.key"
    try:
        return path.read_text().strip()
    except FileNotFoundError:
        path.parent.mkdir(parents=True, exist_ok=True)
        secret = secrets.token_urlsafe(32)
        with open(os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600), "w") as handle:
            handle.write(secret)
        return secret


def run_id_of(text: str) -> str:
    """A pasted permalink or a bare id -> the id."""
    text = (text or "").strip()
    return text.split("run=", 1)[1].split("&", 1)[0] if "run=" in text else text


@dataclass
class SavedTab:
    """The Saved tab's components (each set by ``build_saved_tab``)."""

    choice: gr.Dropdown = None
    open: gr.Button = None
    notice: gr.Markdown = None
    opened: gr.Column = None  # shown once a saved comparison is open
    meta: gr.Markdown = None
    grid: gr.HTML = None
    diff: gr.HTML = None
    storage_plot: gr.Plot = None
    difference_plot: gr.Plot = None
    scaling_plot: gr.Plot = None
    csv: gr.DownloadButton = None
    json: gr.DownloadButton = None
    html: gr.DownloadButton = None
    review_box: gr.Accordion = None
    review_variants: gr.CheckboxGroup = None
    pairing: gr.Radio = None
    per_pair: gr.Number = None
    title: gr.Textbox = None
    create: gr.Button = None
    links: gr.Markdown = None


def build_saved_tab() -> SavedTab:
    """Saved comparisons, read-only: nothing here runs the model."""
    s = SavedTab()
    with gr.Row(equal_height=True):
        s.choice = gr.Dropdown([], label="Saved comparisons (newest first)", scale=4, elem_id="saved-list")
        s.open = gr.Button("Open", variant="primary", scale=1, elem_id="open-saved")
    s.notice = gr.Markdown(elem_id="saved-notice")
    with gr.Column(visible=False) as s.opened:
        _build_opened(s)
    with gr.Accordion("Blind review by stakeholders", open=True, visible=False, elem_id="review-form") as s.review_box:
        _build_review_form(s)
    return s


def _build_opened(s: SavedTab) -> None:
    """One saved comparison, as the Compare tab shows a finished one."""
    s.meta = gr.Markdown(elem_id="saved-meta")
    s.grid = gr.HTML("", css_template=VIEW_CSS, js_on_load=GRID_CLICK_JS, elem_id="saved-grid", padding=False)
    s.diff = gr.HTML("", css_template=VIEW_CSS, elem_id="saved-diff")
    with gr.Row():
        s.storage_plot = gr.Plot(show_label=False, elem_id="saved-storage-chart")
        s.difference_plot = gr.Plot(show_label=False, elem_id="saved-difference-chart")
    with gr.Row(equal_height=False):
        s.scaling_plot = gr.Plot(show_label=False, elem_id="saved-scaling-chart", scale=2)
        with gr.Column(scale=1):
            s.csv = gr.DownloadButton("CSV", interactive=False, elem_id="saved-csv")
            s.json = gr.DownloadButton("JSON", interactive=False, elem_id="saved-json")
            s.html = gr.DownloadButton("HTML report", interactive=False, variant="primary", elem_id="saved-html")


def _build_review_form(s: SavedTab) -> None:
    gr.Markdown("Reviewers see one prompt and two unnamed outputs (A and B, in random order) and pick the better one. "
                "You get a reviewer link to send and an owner link with the results.")
    with gr.Row():
        s.review_variants = gr.CheckboxGroup([], label="Variants taking part (at least 2)", elem_id="review-variants", scale=3)
        s.pairing = gr.Radio([("Every pair", "all"), ("Each adapter against the base", "vs_base")], value="all",
                             label="Pairs", scale=2)
        s.per_pair = gr.Number(1, label="Judgements each pair needs", precision=0, minimum=1, maximum=50, scale=1,
                               elem_id="per-pair")
    s.title = gr.Textbox(label="Title reviewers see (optional; do not name the variants)", max_lines=1, elem_id="review-title-input")
    s.create = gr.Button("Create review", variant="primary", elem_id="create-review")
    s.links = gr.Markdown(elem_id="review-links")


class SavedHandlers:
    def __init__(self, database: DatabaseHolder, holder: SessionHolder):
        self.database = database
        self.holder = holder
        self.settings = holder.settings
        self._saving = threading.Lock()

    # ---- saving from the Compare tab -----------------------------------------------------
    def save(self, view: CompareView, owned: dict | None, request: gr.Request = None) -> tuple:
        """-> (notice, owned, saved list). Once per run: saving the same run again gives its first permalink."""
        owned = dict(owned or {})
        if view is None or view.report is None:
            return problem("Run a comparison to the end first: only a finished comparison can be saved."), owned, gr.skip()
        with self._saving:  # two saves of one run at once must not both find it unsaved
            again = view.saved_as is not None
            if not again:
                try:
                    ref = saved_store.save_comparison(self.database.get(), view.report, view.report_adapters)
                except AdaptersUIError as exc:
                    return problem(exc), owned, gr.skip()
                view.saved_as = (ref.id, ref.owner_key)
        saved_id, owner_key = view.saved_as
        owned[saved_id] = owner_key
        link = comparison_link(base_url(request), saved_id)
        said = "already saved (once per run)" if again else "saved"
        notice = ok(f"{said}. Permalink (read-only, survives restarts): [{link}]({link}) · open it in the **Saved** tab "
                    "to start a blind review.")
        return notice, owned, self.choices(owned, saved_id)

    # ---- the Saved tab ----------------------------------------------------------------------
    def choices(self, owned: dict | None, selected: str | None = None):
        """This browser's saves only, in every mode: another visitor's list would name the variants of a
        comparison under blind review (its permalink still opens for them, without the names)."""
        try:
            db = self.database.get()
            rows = saved_store.list_comparisons(db, ids=saved_store.owned_ids(db, owned))
        except AdaptersUIError:
            return gr.update(choices=[])
        labels = [(f"{r.created[:16].replace('T', ' ')} · {plural(r.prompts, 'prompt')} · {', '.join(r.variants)}", r.id) for r in rows]
        # only a listed id: gradio would warn with an unknown one (a visitor's ?run= value) in the server's log
        return gr.update(choices=labels, value=selected if any(r.id == selected for r in rows) else None)

    def page_open(self, owned: dict | None, request: gr.Request = None) -> tuple:
        """On page load: the list, and with ``?run=<id>`` that comparison opened in the Saved tab."""
        wanted = (getattr(request, "query_params", None) or {}).get("run")
        if not wanted:
            listing = self.choices(owned)
            empty = NOTHING_SAVED if not listing.get("choices") else gr.skip()
            return (gr.skip(), listing, empty, *[gr.skip()] * (OPEN_OUTPUTS - 1))
        return (gr.Tabs(selected="saved"), self.choices(owned, wanted), *self.open(wanted, owned))

    def open(self, comparison_id: str | None, owned: dict | None) -> tuple:
        """A saved comparison, read-only: meta, grid, diffs, charts, downloads, and the review form."""
        try:
            db = self.database.get()
            saved = saved_store.load_comparison(db, run_id_of(comparison_id or ""))
            owner = saved_store.is_owner(db, saved.id, (owned or {}).get(saved.id))
            if not owner and saved_store.under_review(db, saved.id):
                return hidden_under_review()
        except StoreError as exc:
            return (problem(exc), *[gr.skip()] * (OPEN_OUTPUTS - 1))
        data = saved.data
        view = CompareView(records=data.results, variants=list(data.variants), ended=True)
        view.saved_id = saved.id
        downloads = view.publish(data)
        owns = not self.settings.public or owner
        return ("", meta_markdown(saved), view.grid(), view.diff(), view, charts.storage_figure(data.storage),
                charts.scaling_figure(data.storage), charts.difference_figure(difference_summary(data.results)),
                *downloads, gr.update(visible=owns), gr.update(visible=True))

    def review_form(self, view: CompareView):
        """The variants a review may compare: those of the open comparison, all ticked."""
        variants = list(view.variants) if view else []
        return gr.update(choices=variants, value=variants)

    def create_review(self, view: CompareView, variants, pairing, per_pair, title, owned: dict | None,
                      request: gr.Request = None) -> str:
        if view is None or not getattr(view, "saved_id", None):
            return problem("Open a saved comparison first.")
        try:
            links = review_store.create_review(
                self.database.get(), view.saved_id, variants or [], pairing, _whole(per_pair), title,
                owner_key=(owned or {}).get(view.saved_id), require_owner=self.settings.public)
        except AdaptersUIError as exc:
            return problem(exc)
        root = base_url(request)
        reviewer, owner = reviewer_link(root, links.reviewer_token), owner_link(root, links.owner_token)
        return (f"**Review created:** {plural(links.items, 'pair')} to judge.\n\n"
                f"- **Reviewer link** (send it to your reviewers; it shows no variant names): [{reviewer}]({reviewer})\n"
                f"- **Owner link** (results; keep it private, it is shown only now): [{owner}]({owner})")



def hidden_under_review() -> tuple:
    """What anyone but the owner gets of a comparison under blind review: a notice, and every view emptied
    (outputs next to their variant names would unblind the review)."""
    empty_file = gr.update(value=None, interactive=False)
    return (UNDER_REVIEW, "", "", "", CompareView(), None, None, None, empty_file, empty_file, empty_file,
            gr.update(visible=False), gr.update(visible=False))


def _whole(value) -> int | object:
    """A gr.Number value as an int when it is one (the store gives the one-line error otherwise)."""
    return int(value) if isinstance(value, (int, float)) and float(value).is_integer() else value


def meta_markdown(saved: saved_store.SavedComparison) -> str:
    data = saved.data
    settings = ", ".join(f"{k}={v}" for k, v in data.settings.items())
    lines = [f"### Saved comparison `{saved.id}`",
             f"**Base model:** {data.base_model} · **saved:** {saved.created} · **{plural(len(data.results), 'prompt')}** × "
             f"**{plural(len(data.variants), 'variant')}** ({', '.join(data.variants)}) · **settings:** {settings or '—'}"]
    for a in saved.adapters:
        lines.append(f"- **{a['name']}**: {a['type']}, {format_size(a['bytes'])}, weights sha256 `{(a['sha256'] or '-')[:16]}…`")
    return "\n".join(lines)


def _select_saved_row(view: CompareView, evt: gr.EventData) -> tuple:
    return select_row(view, False, evt)  # a saved comparison shows every row


def wire_saved(demo: gr.Blocks, layout: Layout, handlers: SavedHandlers) -> None:
    """The page load opens ``?run=<id>``; Save (Compare tab) lists the new save; Open; a row; Create review."""
    page, s, compare = layout.page, layout.saved, layout.compare
    opened = [s.notice, s.meta, s.grid, s.diff, page.saved_view, s.storage_plot, s.scaling_plot, s.difference_plot,
              s.csv, s.json, s.html, s.review_box, s.opened]
    demo.load(handlers.page_open, page.owned, [layout.tabs, s.choice, *opened], **UI_ONLY
              ).then(handlers.review_form, page.saved_view, s.review_variants, **UI_ONLY)
    compare.save.click(handlers.save, [page.view, page.owned], [compare.save_notice, page.owned, s.choice],
                       trigger_mode="once", **UI_ONLY)
    s.open.click(handlers.open, [s.choice, page.owned], opened, **UI_ONLY
                 ).then(handlers.review_form, page.saved_view, s.review_variants, **UI_ONLY)
    s.grid.click(_select_saved_row, page.saved_view, [s.grid, s.diff, page.saved_view], **UI_ONLY)
    s.create.click(handlers.create_review, [page.saved_view, s.review_variants, s.pairing, s.per_pair, s.title, page.owned],
                   s.links, trigger_mode="once", **UI_ONLY)
