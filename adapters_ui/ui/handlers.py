"""Event handlers: plain functions of a ``SessionHolder`` and the inputs, testable without a server.

Bad input never raises out of a UI handler: it becomes a one-line message in the page
(``notice``) and every other output keeps its value. Only the API endpoint raises
``gr.Error``, which gradio_client turns into an exception with the same one line.
"""

from __future__ import annotations

import queue
import shutil
import tempfile
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path

import gradio as gr
import pandas as pd

from .. import charts, sources
from .. import demo as demo_set
from ..config import Settings
from ..errors import AdaptersUIError, PromptError, StoppedError, first_line
from ..html_views import ADAPTER_COLUMNS, diff_panel_html, grid_html
from ..metrics import difference_summary, rows_that_differ
from ..prompts import parse_prompt_lines, read_prompts
from ..report import adapter_row, report_data, write_exports
from ..runtime import describe_memory
from ..session import Session
from ..storage import format_bytes

GREEDY, SAMPLING = "greedy", "sampling"
CHAT, COMPLETE = "chat", "complete"
STREAM_EVERY_S = 0.5  # the grid redraws at most this often while outputs stream in
KEEP_EXPORTS = 20  # runs whose downloads stay on disk


class SessionHolder:
    """One base model and its adapters, shared by every visitor; loaded on first use."""

    def __init__(self, settings: Settings | None = None):
        self.settings = settings or Settings.from_env()
        self._session: Session | None = None
        self._lock = threading.Lock()
        self.stops: dict[str, threading.Event] = {}  # visitor (session hash) -> their running comparison's stop

    def get(self) -> Session:
        with self._lock:
            if self._session is None:
                session = Session.start(self.settings)
                if demo_set.wants_demo(self.settings):
                    demo_set.attach_demo_adapters(session)
                self._session = session
            return self._session


def ok(message: str) -> str:
    return f"**Done:** {message}"


def problem(exc: Exception | str) -> str:
    """The one-line message shown in the page for bad input."""
    return f"**Error:** {exc}"


def failure(exc: BaseException, what: str) -> str:
    """Our own errors say what to do already; anything else is named, on one line."""
    return str(exc) if isinstance(exc, AdaptersUIError) else f"{what}: {type(exc).__name__}: {first_line(exc)}"


def in_background(work):
    """Run ``work()`` in a thread so that a handler can keep redrawing while the model works:
    yields None every STREAM_EVERY_S while it runs, then ("done", result) or ("error", exception)."""
    outcome: queue.Queue = queue.Queue(maxsize=1)

    def run() -> None:
        try:
            outcome.put(("done", work()))
        except Exception as exc:  # noqa: BLE001 -- the caller reports it in the page; the app keeps working
            outcome.put(("error", exc))

    threading.Thread(target=run, daemon=True).start()
    while True:
        try:
            yield outcome.get(timeout=STREAM_EVERY_S)
            return
        except queue.Empty:
            yield None


# ---- header and adapters panel ---------------------------------------------------------
def header_markdown(holder: SessionHolder) -> str:
    session = holder.get()
    base = session.base
    return " &nbsp;·&nbsp; ".join([
        f"**Base model:** {base.source.name}",
        f"**device:** {base.device}",
        f"**dtype:** {base.dtype_name}",
        f"**memory:** {describe_memory(base.device)}",
        f"**adapters:** {len(session.adapters())}",
    ])


def adapters_frame(holder: SessionHolder) -> pd.DataFrame:
    session = holder.get()
    storage = session.storage()
    rows = [adapter_row(info, storage.ratio(info.name)) for info in session.adapters()]
    return pd.DataFrame(rows, columns=ADAPTER_COLUMNS)


def refresh(holder: SessionHolder, notice: str = "") -> tuple:
    """Everything that depends on the attached adapters, in the order of ``adapter_outputs`` in app.py."""
    session = holder.get()
    names = [info.name for info in session.adapters()]
    storage = session.storage().to_dict()
    return (
        header_markdown(holder),
        notice,
        adapters_frame(holder),
        gr.update(choices=names, value=None),
        gr.update(choices=session.variants, value=session.variants),
        gr.update(choices=session.variants),
        charts.storage_figure(storage),
        charts.scaling_figure(storage),
    )


def page_load(holder: SessionHolder) -> tuple:
    """The first view; a base model that cannot load says why in the header instead of a blank page."""
    try:
        return refresh(holder)
    except AdaptersUIError as exc:
        return (problem(exc), *[gr.skip()] * 7)


def _attached(holder: SessionHolder, attach) -> tuple:
    try:
        info = attach(holder.get())
    except AdaptersUIError as exc:
        return refresh(holder, problem(exc))
    ratio = charts.format_ratio(holder.get().storage().ratio(info.name))
    return refresh(holder, ok(f"Attached **{info.name}** ({info.method}, {format_bytes(info.bytes_on_disk)}, {ratio} than the model)."))


def attach_folder(holder: SessionHolder, folder: str | None, name: str | None) -> tuple:
    """Attach a folder picked from the adapter directory, or typed as a path on the server."""
    if not (folder or "").strip():
        return refresh(holder, problem("No adapter folder chosen: pick one from the list or type its path."))
    if holder.settings.public and folder.strip() not in {path for _, path in folder_choices(holder.settings)}:
        return refresh(holder, problem("In public mode only the listed adapter folders can be attached: pick one from the list, or upload a zip."))
    return _attached(holder, lambda s: s.attach(folder.strip(), (name or "").strip() or None))


def attach_zip(holder: SessionHolder, upload: str | None, name: str | None) -> tuple:
    if not upload:
        return refresh(holder, problem("No zip uploaded: drop a .zip of the adapter folder first."))
    return _attached(holder, lambda s: sources.attach_zip(s, upload, (name or "").strip() or None))


def attach_hub(holder: SessionHolder, repo_id: str | None, revision: str | None, name: str | None) -> tuple:
    return _attached(
        holder,
        lambda s: sources.attach_hub(s, (repo_id or "").strip(), (revision or "").strip() or None, (name or "").strip() or None),
    )


def detach(holder: SessionHolder, name: str | None) -> tuple:
    session = holder.get()
    if not name:
        return refresh(holder, problem("No adapter chosen: pick the adapter to detach."))
    try:
        path = next((info.path for info in session.adapters() if info.name == name), None)
        session.detach(name)
    except AdaptersUIError as exc:
        return refresh(holder, problem(exc))
    if path:
        sources.remove_upload(path, session.settings)
    return refresh(holder, ok(f"Detached **{name}**."))


# ---- prompts -------------------------------------------------------------------------------
def load_prompt_set(name: str | None) -> tuple[str, str]:
    """(prompts text, notice) for a preset set from assets/prompts."""
    sets = demo_set.prompt_sets()
    if not name:
        return gr.skip(), ""
    if name not in sets:
        return gr.skip(), problem(f"Unknown prompt set {name!r}: pick one of {', '.join(sets)}.")
    prompts = read_prompts(sets[name])
    return "\n".join(prompts), ok(f"Loaded {len(prompts)} prompts from the **{name}** set.")


def load_prompt_file(upload: str | None) -> tuple[str, str]:
    """(prompts text, notice) from an uploaded .txt / .jsonl / .csv / .json file."""
    if not upload:
        return gr.skip(), ""
    try:
        prompts = read_prompts(Path(upload))
    except AdaptersUIError as exc:
        return gr.skip(), problem(exc)
    return "\n".join(prompts), ok(f"Loaded {len(prompts)} prompts from {Path(upload).name}.")


# ---- comparing -----------------------------------------------------------------------------
@dataclass
class CompareView:
    """One visitor's comparison: kept in gr.State, so visitors never see each other's results."""

    records: list[dict] = field(default_factory=list)
    variants: list[str] = field(default_factory=list)
    selected: int | None = None
    exports: dict[str, str] = field(default_factory=dict)


def generation_settings(holder, max_tokens, decoding, seed, temperature, top_p):
    return holder.get().generation_settings(
        max_new_tokens=int(max_tokens), do_sample=decoding == SAMPLING, seed=int(seed or 0),
        temperature=float(temperature), top_p=float(top_p),
    )


def view_grid(view: CompareView, only_differ: bool) -> str:
    rows = rows_that_differ(view.records) if only_differ else list(range(len(view.records)))
    if not view.records:
        return ""
    if not rows:
        return "<p><i>Every variant gave the same output for every prompt.</i></p>"
    return grid_html([view.records[i] for i in rows], view.variants, row_ids=rows, selected=view.selected)


def view_diff(view: CompareView) -> str:
    if view.selected is None or view.selected >= len(view.records):
        return "<p><i>Click a row of the grid to see each output next to the base, with the words that differ marked.</i></p>" if view.records else ""
    return diff_panel_html(view.records[view.selected])


def visitor(request: gr.Request | None) -> str:
    return getattr(request, "session_hash", None) or "local"


def stop_compare(holder: SessionHolder, request: gr.Request = None) -> str:
    """The Stop button: ends this visitor's own running comparison (nobody else's) at its next token."""
    stop = holder.stops.get(visitor(request))
    if stop is None:
        return problem("Nothing to stop: no comparison of yours is running.")
    stop.set()
    return "**Stopping…**"


def run_compare(holder: SessionHolder, prompts_text, variants, max_tokens, decoding, seed, temperature, top_p, only_differ,
                progress=gr.Progress(), request: gr.Request = None):
    """Generator: yields (notice, grid, diff, view, difference chart, csv, json, html) while outputs stream in."""
    session = holder.get()
    try:
        settings = generation_settings(holder, max_tokens, decoding, seed, temperature, top_p)
        prompts = parse_prompt_lines(prompts_text or "")
        if not prompts:
            raise PromptError("No prompts given: type at least one prompt, one per line, or load a set.")
        if not variants:
            raise PromptError("No variants chosen: tick the base and/or at least one adapter.")
        session.check_variants(variants)  # unknown names fail here, before any work
    except AdaptersUIError as exc:
        yield (problem(exc), *[gr.skip()] * 7)
        return

    variants = [v for v in session.variants if v in variants]  # checked above: all attached; base first
    view = CompareView([{"prompt": p, "outputs": {v: None for v in variants}} for p in prompts], list(variants))
    total, done = len(prompts) * len(variants), [0]

    def on_partial(index: int, variant: str, text: str) -> None:
        view.records[index]["outputs"][variant] = text

    def on_output(index: int, variant: str, text: str) -> None:
        view.records[index]["outputs"][variant] = text
        done[0] += 1

    key = visitor(request)
    stop = holder.stops[key] = threading.Event()

    def work():
        try:
            return session.compare(prompts, variants, settings, on_output, on_partial, stop)
        finally:
            if holder.stops.get(key) is stop:
                del holder.stops[key]

    started = time.perf_counter()
    progress(0, desc="Starting")
    yield (gr.skip(), view_grid(view, False), *[gr.skip()] * 6)  # the empty grid at once; the bar shows progress
    for outcome in in_background(work):
        if outcome is None:
            elapsed = time.perf_counter() - started
            progress(done[0] / total, desc=f"{done[0]} of {total} outputs done · {elapsed:.0f} s")
            yield (gr.skip(), view_grid(view, False), *[gr.skip()] * 6)
    kind, payload = outcome
    if isinstance(payload, StoppedError):  # keep what was written so far on screen
        yield (f"**Stopped:** {done[0]} of {total} outputs were finished; press Compare to run again.",
               view_grid(view, False), "", view, *[gr.skip()] * 4)
        return
    if kind == "error":
        yield (problem(failure(payload, "The comparison failed")), "", "", CompareView(), *[gr.skip()] * 4)
        return

    comparison = payload
    view.records = comparison.records()
    folder = export_folder()
    files = write_exports(report_data(session.base.info(), session.adapters(), session.storage().to_dict(), comparison), folder)
    view.exports = {kind: str(path) for kind, path in files.items()}
    differences = difference_summary(view.records)
    changed = ", ".join(f"{d.variant}: {d.changed}/{d.prompts} changed" for d in differences)
    notice = ok(
        f"{len(prompts)} prompts × {len(variants)} variants in {comparison.generate_s:.1f} s"
        + (f" · {changed}" if changed else "")
        + " · click a row to see the differences"
    )
    yield (
        notice, view_grid(view, only_differ), view_diff(view), view,
        charts.difference_figure(differences),
        gr.update(value=view.exports["csv"], interactive=True),
        gr.update(value=view.exports["json"], interactive=True),
        gr.update(value=view.exports["html"], interactive=True),
    )


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


def select_row(view: CompareView, only_differ: bool, evt: gr.EventData) -> tuple:
    """A click on a grid row (its original index travels in the event data) -> the diff panel."""
    row = (evt._data or {}).get("row") if evt is not None else None
    if view is None or not isinstance(row, int) or not 0 <= row < len(view.records):
        return gr.skip(), gr.skip(), view
    view.selected = row
    return view_grid(view, only_differ), view_diff(view), view


def filter_rows(view: CompareView, only_differ: bool) -> str:
    return view_grid(view, only_differ) if view else ""


# ---- playground ----------------------------------------------------------------------------
def chat_reply(holder: SessionHolder, message: str, history: list[dict], variant: str, max_tokens):
    """Generator: (history, cleared message box, notice) with the reply growing token by token."""
    history = list(history or [])
    if not (message or "").strip():
        yield history, gr.skip(), problem("No message given: type a message first.")
        return
    messages = [{"role": m["role"], "content": _text(m["content"])} for m in history] + [{"role": "user", "content": message}]
    history = [*history, {"role": "user", "content": message}, {"role": "assistant", "content": ""}]
    yield from _stream_one(
        lambda session, settings, on_partial: session.chat(messages, variant, settings, on_partial),
        holder, variant, max_tokens,
        show=lambda text: ([*history[:-1], {"role": "assistant", "content": text}], ""),
        undo=lambda: (history[:-2], message),
    )


def complete_text(holder: SessionHolder, text: str, variant: str, max_tokens):
    """Generator: (continuation, notice), growing token by token."""
    yield from _stream_one(
        lambda session, settings, on_partial: session.complete(text or "", variant, settings, on_partial),
        holder, variant, max_tokens, show=lambda so_far: (so_far,), undo=lambda: (gr.skip(),),
    )


def _stream_one(call, holder, variant, max_tokens, show, undo):
    """Run one playground generation in a thread and yield ``show(text so far)`` + a notice."""
    session = holder.get()
    latest = [""]
    try:
        settings = session.generation_settings(max_new_tokens=int(max_tokens))
    except AdaptersUIError as exc:
        yield (*undo(), problem(exc))
        return
    started = time.perf_counter()
    for outcome in in_background(lambda: call(session, settings, lambda text: latest.__setitem__(0, text))):
        if outcome is None:
            yield (*show(latest[0]), f"**Running:** {variant} is writing…")
    kind, payload = outcome
    if kind == "error":
        yield (*undo(), problem(failure(payload, f"{variant} failed")))
        return
    yield (*show(payload), ok(f"**{variant}** answered in {time.perf_counter() - started:.1f} s."))


def _text(content) -> str:
    """Chatbot message content as plain text (gradio may hand back a list of parts)."""
    if isinstance(content, str):
        return content
    if isinstance(content, list):
        return " ".join(_text(part) for part in content)
    if isinstance(content, dict):
        return str(content.get("text", ""))
    return str(content)


# ---- API -----------------------------------------------------------------------------------
def compare_records(holder: SessionHolder, prompts_text: str, variants: list[str] | None, max_new_tokens) -> list[dict]:
    """API: prompts (one a line), variant names (empty = all), max new tokens -> [{prompt, outputs}]."""
    try:
        session = holder.get()
        settings = session.generation_settings(max_new_tokens=int(max_new_tokens))
        return session.compare(parse_prompt_lines(prompts_text or ""), list(variants or []) or None, settings).records()
    except AdaptersUIError as exc:
        raise gr.Error(str(exc)) from None


def prompt_set_choices() -> list[str]:
    return list(demo_set.prompt_sets())


def folder_choices(settings: Settings) -> list[tuple[str, str]]:
    return sources.adapter_folder_choices(settings)

