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
from pathlib import Path

import gradio as gr

from adapters_ui.analysis.text_diff import difference_summary
from adapters_ui.errors import AdaptersUIError, StoreError
from adapters_ui.formatting import format_size, plural
from adapters_ui.runs.prompts import parse_prompt_lines
from adapters_ui.session import SessionHolder
from adapters_ui.store import DatabaseHolder
from adapters_ui.store import reviews as review_store
from adapters_ui.store import saved as saved_store
from adapters_ui.store.links import comparison_link, owner_link, reviewer_link
from adapters_ui.ui.handlers import CompareView, api_variants, ok, problem, visitor
from adapters_ui.views import charts
from adapters_ui.views.document import report_data

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


    # ---- API -------------------------------------------------------------------------------------
    def api_compare_and_save(self, prompts_text: str, variants, max_new_tokens, request: gr.Request = None) -> dict:
        """Run a comparison to the end, save it -> {id, permalink, owner_key, results}."""
        try:
            session = self.holder.get()
            settings = session.generation_settings(max_new_tokens=max_new_tokens)
            run = session.start_compare(parse_prompt_lines(prompts_text or ""), api_variants(variants), settings,
                                        owner=f"api:{visitor(request)}", kind="api")
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
