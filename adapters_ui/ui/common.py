"""What every tab of the dashboard shares: the one-line messages, whose run it is, the event settings,
the line under a running comparison, and the folders downloads are written to."""

from __future__ import annotations

import shutil
import tempfile
import time
from pathlib import Path

import gradio as gr

from adapters_ui.runs.run import CompareRun, Ended, Queued

COMPARE, PLAYGROUND = "compare", "playground"  # kinds of run: each has its own Stop button
STREAM_EVERY_S = 0.5  # the page redraws at most this often while outputs stream in
KEEP_EXPORTS = 20  # runs whose downloads stay on disk
# Sizes here are decimal (formatting.format_bytes); gradio's download box divides by 1024 yet writes "MB".
BOX_UNITS = "the download box counts in MiB, so it shows a smaller number"

# Every UI event stays off the API: the public endpoints are declared in api.py (gr.api).
UI_ONLY = {"api_visibility": "private"}
# Model work is admitted up to Settings.max_runs at once; the TurnQueue then shares the model
# batch by batch (gradio's default of one at a time per event would queue visitors run by run).
STOPS = {"concurrency_limit": None, **UI_ONLY}
# A click anywhere in a grid row sends that row's original index (data-row) to the server.
GRID_CLICK_JS = """
element.addEventListener('click', (event) => {
  const row = event.target.closest('tr[data-row]');
  if (row) trigger('click', {row: Number(row.dataset.row)});
});
"""


def model_work(settings) -> dict:
    """Event settings of everything that runs the model: at most ``max_runs`` at once, sharing one limit."""
    return {"concurrency_limit": settings.max_runs, "concurrency_id": "model", **UI_ONLY}


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


def stop_runs(holder, kind: str, request: gr.Request | None) -> str:
    """A Stop button: ends this visitor's own running ``kind`` of run (nobody else's) at its next token."""
    if not holder.get().runs.stop(visitor(request), kind):
        return problem(f"Nothing to stop: no {kind} of yours is running.")
    return "**Stopping…** (what was written is kept)"


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
