"""Event handlers: methods of ``Handlers``, testable without a server.

Methods (not ``functools.partial``) so that gradio sees each handler's ``gr.Request`` and
passes it: a visitor's runs are keyed by their session, and only they can stop them.
Bad input never raises out of a UI handler: it becomes a one-line message in the page
and every other output keeps its value. Only the API raises ``gr.Error``, which
gradio_client turns into an exception with the same one line.
"""

from __future__ import annotations

import shutil
import tempfile
import time
import uuid
from dataclasses import dataclass, field
from pathlib import Path

import gradio as gr
import pandas as pd

from adapters_ui.adapters import bundle, sources
from adapters_ui.adapters import demo as demo_set
from adapters_ui.analysis.text_diff import difference_summary, rows_that_differ
from adapters_ui.config import Settings
from adapters_ui.errors import AdaptersUIError, PromptError
from adapters_ui.formatting import format_bytes, format_ratio, format_size, format_times, plural
from adapters_ui.model.memory import describe_memory
from adapters_ui.names import BASE, EMBEDDED_NAME, short_model_name
from adapters_ui.records import StorageReport
from adapters_ui.runs.prompts import PromptItem, parse_prompt_lines, read_prompt_items
from adapters_ui.runs.run import CompareRun, Comparison, Ended, Output, Partial, Queued
from adapters_ui.session import SessionHolder
from adapters_ui.views import charts
from adapters_ui.views.document import ReportData, adapter_row, report_data
from adapters_ui.views.html import ADAPTER_COLUMNS, diff_panel_html, grid_html
from adapters_ui.views.report import write_exports

GREEDY, SAMPLING = "greedy", "sampling"
CHAT, COMPLETE = "chat", "complete"
COMPARE, PLAYGROUND = "compare", "playground"  # kinds of run: each has its own Stop button
STREAM_EVERY_S = 0.5  # the page redraws at most this often while outputs stream in
KEEP_EXPORTS = 20  # runs whose downloads stay on disk
KEEP_MERGES = 3  # merged models (whole model copies) that stay on disk for download
NOT_RUN = "not run: stopped first"
WAITING = "waiting…"  # a running comparison's cell before its first token ("(empty)" is a finished empty output)
# Sizes here are decimal (formatting.format_bytes); gradio's download box divides by 1024 yet writes "MB".
BOX_UNITS = "the download box counts in MiB, so it shows a smaller number"
COMPARE_LABEL = "Compare"


def loading_text(seconds: float) -> str:
    return f"Loading the base model… ({seconds:.0f} s)"


def ok(message: str) -> str:
    return f"**Done:** {message}"


def problem(exc: Exception | str) -> str:
    """The one-line message shown in the page for bad input."""
    return f"**Error:** {exc}"


def visitor(request: gr.Request | None) -> str:
    """Whose run this is: the page session (each tab of each browser has its own)."""
    return getattr(request, "session_hash", None) or "local"


# ---- one visitor's comparison -----------------------------------------------------------
@dataclass
class CompareView:
    """One visitor's comparison: kept in gr.State, so visitors never see each other's results."""

    records: list[dict] = field(default_factory=list)
    variants: list[str] = field(default_factory=list)
    selected: int | None = None
    exports: dict[str, str] = field(default_factory=dict)
    ended: bool = False
    report: ReportData | None = None  # a finished run's export data, ready to save
    report_adapters: list = field(default_factory=list)  # the AdapterInfo of that moment (sizes, hashes)
    saved_id: str | None = None  # set when the view shows a saved comparison
    saved_as: tuple[str, str] | None = None  # (id, owner key) once this run was saved: Save again gives the same
    comparison: Comparison | None = None  # the run that ended, for Analyze
    analysis: dict | None = None  # its Analysis.to_dict(), once analyzed

    @classmethod
    def waiting_for(cls, run: CompareRun) -> "CompareView":
        request = run.request
        return cls([{"prompt": p, "outputs": {v: None for v in request.variants}} for p in request.prompts],
                   list(request.variants))

    def apply(self, event) -> None:
        """Fold one run event into the visible records."""
        if isinstance(event, Partial):
            for (index, variant), text in event.texts.items():
                if text:  # "" is a row without a token yet: it stays pending ("waiting…"), not "(empty)"
                    self.records[index]["outputs"][variant] = text
        elif isinstance(event, Output):
            self.records[event.index]["outputs"][event.variant] = event.text
        elif isinstance(event, Ended):
            self.records = event.comparison.records()
            self.ended = True

    def publish(self, data: ReportData) -> list:
        """Write the CSV, JSON and HTML downloads of ``data``; the three download buttons' updates."""
        files = write_exports(data, export_folder())
        self.exports = {kind: str(path) for kind, path in files.items()}
        return [gr.update(value=self.exports[k], interactive=True) for k in ("csv", "json", "html")]

    def grid(self, only_differ: bool = False) -> str:
        rows = rows_that_differ(self.records) if only_differ else list(range(len(self.records)))
        if not self.records:
            return ""
        if not rows:
            return "<p><i>Every variant gave the same output for every prompt.</i></p>"
        return grid_html([self.records[i] for i in rows], self.variants, row_ids=rows, selected=self.selected,
                         pending_text=NOT_RUN if self.ended else WAITING)

    def diff(self) -> str:
        if self.selected is None or self.selected >= len(self.records):
            return "<p><i>Click a row of the grid to see each output next to the base, with the words that differ marked.</i></p>" if self.records else ""
        return diff_panel_html(self.records[self.selected], pending_text=NOT_RUN if self.ended else "still running…")


def select_row(view: CompareView, only_differ: bool, evt: gr.EventData | None) -> tuple:
    """A click on a grid row (its original index travels in the event data) -> (grid, diff panel, view)."""
    row = (evt._data or {}).get("row") if evt is not None else None
    if view is None or not isinstance(row, int) or not 0 <= row < len(view.records):
        return gr.skip(), gr.skip(), view
    view.selected = row
    return view.grid(only_differ), view.diff(), view


def run_status(run: CompareRun) -> str | None:
    """The line under the Compare button now: waiting (with the place in line), running (outputs done,
    tokens written, which move with every step, and the model time so far), or None before the first turn."""
    progress = run.progress()
    if progress.waiting is not None:
        return f"**Waiting** for another visitor's run (position {progress.waiting}); yours goes on in a moment…"
    if run.plan is None:
        return None
    return f"**Running:** {progress.line} · {progress.generate_s:.0f} s"


def redraws(run: CompareRun, every: float = STREAM_EVERY_S):
    """The run's events, each as (event, None), and at most every ``every`` seconds (and when the
    run waits or ends) a (None, status line) to redraw with, so the page is not redrawn per token."""
    last = 0.0
    for event in run.events(heartbeat=every):
        yield event, None
        now = time.monotonic()
        if isinstance(event, (Ended, Queued)) or now - last >= every:
            last = now
            yield None, run_status(run)


def ended_notice(comparison: Comparison, differences) -> str:
    """What the page says when a run has ended: finished, stopped, or failed (with why)."""
    done, total = comparison.counts()
    shape = f"{plural(len(comparison.results), 'prompt')} × {plural(len(comparison.variants), 'variant')}"
    if comparison.status == "failed":
        return problem(f"{comparison.error} ({done} of {total} outputs were finished and are kept.)")
    if comparison.status == "stopped":
        return (f"**Stopped:** {done} of {total} outputs finished ({shape}); cut-off outputs are marked, "
                "the rest were not run. The downloads hold what was written.")
    changed = ", ".join(f"{d.variant}: {d.changed}/{d.prompts} changed" for d in differences)
    return ok(f"{shape} in {comparison.generate_s:.1f} s" + (f" · {changed}" if changed else "")
              + " · click a row to see the differences")


SERVER_RESTARTED = ("**The server restarted** while this page was open, and the page reloaded: results that were not "
                    "saved are gone (saved comparisons are in the Saved tab); everything works again.")


class Handlers:
    """Every UI event of the dashboard, bound to one shared ``SessionHolder``."""

    def __init__(self, holder: SessionHolder):
        self.holder = holder
        self.settings = holder.settings
        # Which server process this is: a page keeps the id it was served (see ``server_boot``), so a page
        # left open across a restart can tell that its state is gone.
        self.boot_id = uuid.uuid4().hex

    # ---- header and adapters panel ---------------------------------------------------------
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
        """Everything that depends on the attached adapters, in the order of ``adapter_outputs`` in app.py.
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

    def _attached(self, attach) -> tuple:
        try:
            info = attach(self.holder.get())
        except AdaptersUIError as exc:
            return self.refresh(problem(exc))
        session = self.holder.get()
        ratio = session.storage().ratio(info.name)
        evicted = session.registry.evicted_for(info.name)  # public mode, at the cap
        room = f"Detached '{evicted.name}' (least recently used upload) to make room. " if evicted else ""
        size = format_size(info.bytes_on_disk) + ("" if ratio is None else f", {format_ratio(ratio)} than the model")
        return self.refresh(ok(f"{room}Attached **{info.name}** ({info.method}, {size})."))

    def attach_folder(self, folder: str | None, name: str | None) -> tuple:
        """Attach a folder picked from the adapter directory, or typed as a path on the server."""
        if not (folder or "").strip():
            return self.refresh(problem("No adapter folder chosen: pick one from the list or type its path."))
        if self.settings.public and folder.strip() not in {path for _, path in folder_choices(self.settings)}:
            return self.refresh(problem("In public mode only the listed adapter folders can be attached: pick one from the list, or upload a zip."))
        return self._attached(lambda s: attach_or_adopt(s, folder.strip(), (name or "").strip() or None))

    def attach_zip(self, upload: str | None, name: str | None) -> tuple:
        """An adapter's zip, or a bundle's (it holds bundle.json): then every adapter in it, under its own name."""
        if not upload:
            return self.refresh(problem("No zip uploaded: drop a .zip of the adapter folder first."))
        if bundle.is_bundle_zip(upload):
            return self.attach_bundle(upload)
        return self._attached(lambda s: sources.attach_zip(s, upload, (name or "").strip() or None))

    def attach_bundle(self, upload: str) -> tuple:
        """All of a bundle's adapters in one step (visitor uploads unpack under the uploads folder), or none."""
        try:
            infos = self.holder.get().attach_bundle(upload)
        except AdaptersUIError as exc:
            return self.refresh(problem(exc))
        names = ", ".join(f"**{info.name}** ({info.method})" for info in infos)
        count = f"{len(infos)} adapter{'s' if len(infos) != 1 else ''}"
        return self.refresh(ok(f"Attached {count} from the bundle {Path(upload).name}: {names}."))

    def save_bundle(self) -> tuple:
        """(notice, file): every attached adapter in one .zip with its manifest, among the downloads."""
        target = export_folder() / f"adapters-bundle-{time.strftime('%Y%m%d-%H%M%S')}.zip"
        try:
            manifest = self.holder.get().save_bundle(target)
        except AdaptersUIError as exc:
            return problem(exc), gr.update(value=None)
        count = f"{len(manifest.adapters)} adapter{'s' if len(manifest.adapters) != 1 else ''}"
        return (ok(f"Saved {count} ({', '.join(manifest.names)}; {format_bytes(target.stat().st_size)}) as a bundle: "
                   f"download it below ({BOX_UNITS}); uploading it as a zip here attaches them all in one step."),
                gr.update(value=str(target)))

    def attach_hub(self, repo_id: str | None, revision: str | None, name: str | None) -> tuple:
        return self._attached(lambda s: sources.attach_hub(
            s, (repo_id or "").strip(), (revision or "").strip() or None, (name or "").strip() or None))

    def mix(self, parts: str | None, method: str | None, density: float | None, name: str | None) -> tuple:
        """A weighted mix of attached LoRA adapters, attached under ``name``."""
        from adapters_ui.adapters.mix import WITH_DENSITY, parse_parts

        if not (name or "").strip():
            return self.refresh(problem("No name for the mix: type one (letters, digits, '_' or '-')."))
        try:
            weights = parse_parts(parts or "")
        except AdaptersUIError as exc:
            return self.refresh(problem(exc))
        method = method or "cat"
        return self._attached(lambda s: s.mix(name.strip(), weights, method, density if method in WITH_DENSITY else None))

    def detach(self, name: str | None) -> tuple:
        session = self.holder.get()
        if not name:
            return self.refresh(problem("No adapter chosen: pick the adapter to detach."))
        try:
            info = next((info for info in session.adapters() if info.name == name), None)
            session.detach(name)
        except AdaptersUIError as exc:
            return self.refresh(problem(exc))
        if info is not None and info.on_server:  # the server's own: it stays there, attachable again by name
            return self.refresh(ok(f"Detached **{name}**; the server still serves it: type `{name}` as the adapter "
                                   "folder to attach it again."))
        if info is not None and info.path:
            sources.remove_upload(info.path, session.settings)
        return self.refresh(ok(f"Detached **{name}**."))

    # ---- merged export ---------------------------------------------------------------------------
    def merge_choices(self, current: str | None):
        """The attached adapters for the merge picker, keeping the visitor's pick while it is attached."""
        session = self.holder.loaded
        names = list(session.registry.names) if session is not None else []
        return gr.update(choices=names, value=current if current in names else None)

    def merge_preview(self, name: str | None) -> tuple:
        """(warning, confirm button, notice, download) for the picked adapter: before anything is merged, the size
        of the merged model next to the adapter's and the one-way note; or, in one line, why it cannot be merged."""
        hidden = gr.update(value=None, visible=False)
        if not name:
            return gr.update(value="", visible=False), gr.update(visible=False), "", hidden
        try:
            plan = self.holder.get().merge_plan(name)
        except AdaptersUIError as exc:
            return gr.update(value=problem(exc), visible=True), gr.update(visible=False), "", hidden
        return gr.update(value=merge_warning(plan), visible=True), gr.update(visible=True, interactive=True), "", hidden

    def merge(self, name: str | None) -> tuple:
        """(notice, download): ``name`` merged into a fresh copy of the base, offered as a .zip of the model folder
        (the last few merges stay on disk, see ``merges_root``). The model serving the page is not touched."""
        from adapters_ui.adapters.merge import check_room, zip_folder

        hidden = gr.update(value=None, visible=False)
        if not name:
            return problem("No adapter chosen: pick the adapter to merge."), hidden
        folder: Path | None = None
        try:
            session = self.holder.get()
            plan = session.merge_plan(name)  # a refusal costs nothing: no folder made
            folder = export_folder(merges_root(), KEEP_MERGES)
            check_room(2 * plan.merged_bytes, folder, "the merged model and its zip")
            merged = session.merge(name, folder / f"{name}-merged")
            archive = zip_folder(merged.folder, folder / f"{name}-merged.zip")
        except (AdaptersUIError, OSError) as exc:
            if folder is not None:
                shutil.rmtree(folder, ignore_errors=True)
            reason = exc if isinstance(exc, AdaptersUIError) else (
                f"Could not write the merged model: {exc.strerror or exc}; free some disk space and merge again.")
            return problem(reason), hidden
        except BaseException:  # a bug or an interrupt: still no half-made download left behind
            if folder is not None:
                shutil.rmtree(folder, ignore_errors=True)
            raise
        where = "" if self.settings.public else f" Folder on the server: `{merged.folder}`."
        return ok(
            f"merged **{name}** ({plan.method}) into {merged.base} in {merged.seconds:.1f} s, saved as {plan.dtype}: "
            f"{format_bytes(merged.weights_bytes)} of weights, {format_times(merged.ratio)}x the adapter's "
            f"{format_bytes(plan.adapter_bytes)}. Download the zip below ({format_bytes(archive.stat().st_size)}; "
            f"{BOX_UNITS}); it loads with plain transformers (`AutoModelForCausalLM.from_pretrained`).{where}"
        ), gr.update(value=str(archive), visible=True)

    # ---- comparing ---------------------------------------------------------------------------
    def _start_compare(self, prompts_text, variants, max_tokens, decoding, seed, temperature, top_p,
                       annotations: dict | None, owner: str) -> CompareRun:
        session = self.holder.get()
        settings = session.generation_settings(
            max_new_tokens=max_tokens, do_sample=decoding == SAMPLING, seed=seed or 0, temperature=temperature, top_p=top_p)
        prompts = parse_prompt_lines(prompts_text or "")
        if not prompts:
            raise PromptError("No prompts given: type at least one prompt, one per line, or load a set.")
        if not variants:
            raise PromptError("No variants chosen: tick the base and/or at least one adapter.")
        variants = session.check_variants(variants)
        ordered = [v for v in session.variants if v in variants]  # base first, as in the checkboxes
        # the loaded file's reference and category of each prompt still in the box (an edited one has none)
        items = [(annotations or {}).get(p) or PromptItem(p) for p in prompts]
        return session.start_compare(prompts, ordered, settings, owner=owner, references=[i.reference for i in items],
                                     categories=[i.category for i in items], kind=COMPARE)

    def run_compare(self, prompts_text, variants, max_tokens, decoding, seed, temperature, top_p, only_differ,
                    annotations=None, request: gr.Request = None):
        """Generator: (notice, grid, diff, view, difference chart, csv, json, html) while outputs stream in."""
        try:
            run = self._start_compare(prompts_text, variants, max_tokens, decoding, seed, temperature, top_p,
                                      annotations, visitor(request))
        except AdaptersUIError as exc:
            yield (problem(exc), *[gr.skip()] * 7)
            return
        view = CompareView.waiting_for(run)
        try:
            yield ("**Starting…**", view.grid(), "", view, *[gr.skip()] * 4)  # old message gone, grid at once
            for event, status in redraws(run):
                if event is not None:
                    view.apply(event)
                    continue
                yield (status or gr.skip(), view.grid(), gr.skip(), view, *[gr.skip()] * 4)
        finally:
            run.stop()  # the page went away mid-run (generator closed): no work for nobody; no-op once ended
        yield self._ended(run.final(), view, only_differ)

    def _ended(self, comparison: Comparison, view: CompareView, only_differ: bool) -> tuple:
        session = self.holder.get()
        differences = difference_summary(view.records)
        adapters = session.adapters()
        data = report_data(session.base.info(), adapters, session.storage().to_dict(), comparison)
        downloads = view.publish(data)
        if comparison.complete:
            view.report, view.report_adapters = data, adapters
        view.comparison = comparison
        return (ended_notice(comparison, differences), view.grid(only_differ), view.diff(), view,
                charts.difference_figure(differences), *downloads)

    def stop_runs(self, kind: str, request: gr.Request = None) -> str:
        """A Stop button: ends this visitor's own running ``kind`` of run (nobody else's) at its next token."""
        if not self.holder.get().runs.stop(visitor(request), kind):
            return problem(f"Nothing to stop: no {kind} of yours is running.")
        return "**Stopping…** (what was written is kept)"

    def stop_compare(self, request: gr.Request = None) -> str:
        return self.stop_runs(COMPARE, request)

    def stop_playground(self, request: gr.Request = None) -> str:
        return self.stop_runs(PLAYGROUND, request)

    def page_closed(self, request: gr.Request = None) -> None:
        """The visitor closed or reloaded the page: their runs stop at the next token."""
        session = self.holder.loaded
        if session is not None:
            session.runs.stop(visitor(request))

    def select_row(self, view: CompareView, only_differ: bool, evt: gr.EventData) -> tuple:
        return select_row(view, only_differ, evt)

    def filter_rows(self, view: CompareView, only_differ: bool) -> str:
        return view.grid(only_differ) if view else ""

    # ---- prompts -------------------------------------------------------------------------------
    def load_prompt_set(self, name: str | None) -> tuple:
        """(prompts text, {prompt: PromptItem} with references and categories, notice) for a preset set from assets/prompts."""
        sets = demo_set.prompt_sets()
        if not name:
            return gr.skip(), gr.skip(), ""
        if name not in sets:
            return gr.skip(), gr.skip(), problem(f"Unknown prompt set {name!r}: pick one of {', '.join(sets)}.")
        return self._prompts_loaded(sets[name], f"the **{name}** set")

    def load_prompt_file(self, upload: str | None) -> tuple:
        """(prompts text, {prompt: PromptItem} with references and categories, notice) from an uploaded
        .txt / .jsonl / .csv / .json file."""
        if not upload:
            return gr.skip(), gr.skip(), ""
        try:
            return self._prompts_loaded(Path(upload), Path(upload).name)
        except AdaptersUIError as exc:
            return gr.skip(), gr.skip(), problem(exc)

    @staticmethod
    def _prompts_loaded(path: Path, label: str) -> tuple:
        """(prompts text, {prompt: PromptItem} of those with a reference or category, notice)."""
        items = read_prompt_items(path)
        annotations = {item.text: item for item in items if item.reference or item.category}
        referenced = sum(item.reference is not None for item in items)
        groups = len({item.category for item in items if item.category})
        notes = []
        if referenced:
            notes.append(f"{referenced} with a reference answer")
        if groups:
            notes.append(f"in {plural(groups, 'category', 'categories')}")
        notes = f" ({', '.join(notes)})" if notes else ""
        return ("\n".join(item.text for item in items), annotations,
                ok(f"Loaded {plural(len(items), 'prompt')}{notes} from {label}."))

    # ---- playground ----------------------------------------------------------------------------
    def chat_reply(self, message: str, history: list[dict], variant: str, max_tokens, request: gr.Request = None):
        """Generator: (history, message box, notice), the reply growing token by token. The box is
        cleared once, when the message is taken: what the visitor types meanwhile is kept."""
        history = list(history or [])
        if not (message or "").strip():
            yield history, gr.skip(), problem("No message given: type a message first.")
            return
        messages = [{"role": m["role"], "content": _text(m["content"])} for m in history] + [{"role": "user", "content": message}]
        history = [*history, {"role": "user", "content": message}, {"role": "assistant", "content": ""}]
        yield from self._stream_one(
            lambda session, settings: session.start_chat(messages, variant, settings, owner=visitor(request)),
            variant, max_tokens,
            show=lambda text, first: ([*history[:-1], {"role": "assistant", "content": text}], "" if first else gr.skip()),
            undo=lambda: (history[:-2], message),
        )

    def complete_text(self, text: str, variant: str, max_tokens, request: gr.Request = None):
        """Generator: (continuation, notice), growing token by token."""
        yield from self._stream_one(
            lambda session, settings: session.start_completion(text or "", variant, settings, owner=visitor(request)),
            variant, max_tokens, show=lambda so_far, first: (so_far,), undo=lambda: (gr.skip(),),
        )

    def _stream_one(self, start, variant, max_tokens, show, undo):
        """One playground run: yields ``show(text so far, first)`` + a notice until it ends."""
        session = self.holder.get()
        try:
            run = start(session, session.generation_settings(max_new_tokens=max_tokens))
        except AdaptersUIError as exc:
            yield (*undo(), problem(exc))
            return
        text, first = "", True
        try:
            for event, status in redraws(run):
                if isinstance(event, Partial):
                    text = next(iter(event.texts.values()))
                elif event is None:
                    waiting = status if status and status.startswith("**Waiting") else None
                    yield (*show(text, first), waiting or f"**{variant}** is writing…")
                    first = False
        finally:
            run.stop()
        comparison = run.final()
        reply = comparison.outputs(variant)[0]
        if comparison.status == "failed":
            yield (*undo(), problem(comparison.error))
            return
        if reply is None:  # stopped while still waiting for its turn: nothing was written, so no reply to show
            yield (*undo(), f"**Stopped:** {variant}'s reply was cancelled before it started.")
            return
        end = ok(f"**{variant}** answered in {comparison.generate_s:.1f} s.") if comparison.complete else f"**Stopped:** {variant}'s reply was cut off."
        yield (*show(reply, first), end)

    # ---- API -------------------------------------------------------------------------------------
    def api_compare(self, prompts_text: str, variants, max_new_tokens, request: gr.Request = None):
        """API generator: the records so far every half second, then all of them. A client that
        cancels (gradio_client's ``job.cancel()``) closes it, which stops the run."""
        try:
            session = self.holder.get()
            settings = session.generation_settings(max_new_tokens=max_new_tokens)
            run = session.start_compare(parse_prompt_lines(prompts_text or ""), api_variants(variants), settings,
                                        owner=f"api:{visitor(request)}", kind="api")
        except AdaptersUIError as exc:
            raise gr.Error(str(exc), print_exception=False) from None
        view = CompareView.waiting_for(run)
        try:
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


def attach_or_adopt(session, folder: str, name: str | None):
    """A typed folder, or the name of an adapter the server serves and that is not attached (after a Detach)."""
    served = {a.name for a in session.server_adapters()} if not Path(folder).expanduser().exists() else set()
    if folder in served and name in (None, folder):
        return session.adopt(folder)
    return session.attach(folder, name)


def api_variants(variants) -> list[str] | None:
    """API variants: a list, or one string of names separated by commas ("base, pirate"); empty = all."""
    if variants is None:
        return None
    if isinstance(variants, str):
        variants = variants.split(",")
    names = [str(v).strip() for v in variants if str(v).strip()]
    return names or None


def _text(content) -> str:
    """Chatbot message content as plain text (gradio may hand back a list of parts)."""
    if isinstance(content, str):
        return content
    if isinstance(content, list):
        return " ".join(_text(part) for part in content)
    if isinstance(content, dict):
        return str(content.get("text", ""))
    return str(content)


def exports_root() -> Path:
    """Downloads live in the system temp folder: gradio serves files only from there, the working
    directory, or its own cache (a file under ~/.cache is refused, so the run would never finish)."""
    return Path(tempfile.gettempdir()) / "adapters_ui-exports"


def export_folder(root: Path | None = None, keep: int = KEEP_EXPORTS) -> Path:
    """A fresh folder for one run's downloads; only the newest ``keep`` stay, so a long-running
    Space does not fill its disk with reports."""
    root = root or exports_root()
    root.mkdir(parents=True, exist_ok=True)
    folder = Path(tempfile.mkdtemp(prefix="run-", dir=root))
    older = sorted((p for p in root.iterdir() if p.is_dir() and p != folder), key=lambda p: p.stat().st_mtime)
    for stale in older[: max(0, len(older) - (keep - 1))]:
        shutil.rmtree(stale, ignore_errors=True)
    return folder


def merges_root() -> Path:
    """Merged models beside the other downloads, in a folder of their own: each is a whole model, so fewer are kept."""
    return exports_root().with_name("adapters_ui-merges")


def merge_warning(plan) -> str:
    """The box shown before a merge: what it costs next to the adapter, and that it cannot be undone."""
    text = plan.warning()
    for size in {format_bytes(plan.merged_bytes), format_bytes(plan.adapter_bytes)}:
        text = text.replace(size, size.replace(" ", "\u00a0"))  # "939.9 kB" never breaks across lines
    return (f"⚠️ **Merging is one-way.** {text} The merge runs on a fresh copy of the base: this page's "
            "model and its adapters stay as they are (comparisons wait while it works).")


def prompt_set_choices() -> list[str]:
    return list(demo_set.prompt_sets())


def folder_choices(settings: Settings) -> list[tuple[str, str]]:
    return sources.adapter_folder_choices(settings)

