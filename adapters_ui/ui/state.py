"""One visitor's comparison on screen (kept in gr.State): its records, the selected row, its downloads."""

from __future__ import annotations

from dataclasses import dataclass, field

import gradio as gr

from adapters_ui.analysis.text_diff import rows_that_differ
from adapters_ui.runs.run import CompareRun, Comparison, Ended, Output, Partial
from adapters_ui.ui.common import export_folder
from adapters_ui.views.document import ReportData
from adapters_ui.views.html import diff_panel_html, grid_html
from adapters_ui.views.report import write_exports

NOT_RUN = "not run: stopped first"
WAITING = "waiting…"  # a running comparison's cell before its first token ("(empty)" is a finished empty output)


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
