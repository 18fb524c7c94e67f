"""Exports of one comparison: CSV for spreadsheets, JSON for scripts, one HTML file for people.

The JSON document is the same from the UI's export and from ``compare --json``: both go
through ``report_data`` and ``to_json``. The HTML report is self-contained (plotly.js and
the CSS inlined, no external URL), so a stakeholder can open it offline, months later:

    >>> storage = session.storage().to_dict()                                            # doctest: +SKIP
    >>> data = report_data(session.base.info(), session.adapters(), storage, comparison)  # doctest: +SKIP
    >>> write_exports(data, Path("exports"))                                             # doctest: +SKIP
    {'csv': ..., 'json': ..., 'html': ...}
"""

from __future__ import annotations

import csv
import html
import io
import json
from dataclasses import asdict, dataclass
from datetime import datetime, timezone
from pathlib import Path
from typing import TYPE_CHECKING, Any, Mapping, Protocol, Sequence

from .base_model import BaseInfo, short_model_name
from .analysis_views import ANALYSIS_CSS, divergence_table_html, heat_html, leaderboards_html
from .charts import difference_figure, effect_figure, scaling_figure, storage_figure
from .formatting import format_size, format_times, plural
from .html_views import VIEW_CSS, adapter_table_html, diff_panel_html, grid_html
from .metrics import BASE, difference_summary, finished_outputs
from .storage import size_ratio

if TYPE_CHECKING:  # only for annotations: building a report never needs a model
    from .registry import AdapterInfo


class ComparisonResult(Protocol):
    """What an export reads from a finished comparison (``session.Comparison`` has it)."""

    @property
    def variants(self) -> Sequence[str]: ...
    @property
    def routes(self) -> Mapping[str, str]: ...  # variant -> engine path
    @property
    def settings(self) -> Any: ...  # the GenerationSettings dataclass
    @property
    def generate_s(self) -> float: ...
    @property
    def waited_s(self) -> float: ...  # waiting for other visitors' batches
    @property
    def status(self) -> str: ...  # finished | stopped | failed
    @property
    def error(self) -> str | None: ...
    def records(self) -> list[dict]: ...  # [{"prompt": str, "outputs": {variant: text | None}, "cut_off"?: [...]}]


@dataclass(frozen=True)
class ReportData:
    """Everything an export shows, as plain data (no model, no session). The JSON document has
    these keys in this order, with ``differences`` after ``results``."""

    base_model: str
    device: str
    dtype: str
    created: str  # ISO time
    settings: dict  # generation settings
    routes: dict[str, str]  # variant -> engine path
    variants: list[str]
    results: list[dict]  # [{"prompt": str, "outputs": {variant: text}}]
    adapters: list[dict]  # rows for html_views.adapter_table_html
    storage: dict  # StorageReport.to_dict()
    timing: dict[str, float]  # {"load_s": ..., "generate_s": ..., "waited_s": ...}
    status: str = "finished"  # stopped: outputs so far (cut-off ones listed per result); failed: see error
    error: str | None = None
    analysis: dict | None = None  # Analysis.to_dict() when the comparison was analyzed; the JSON's last key


def adapter_row(info: AdapterInfo, times_smaller: float | None) -> dict:
    """One adapters-table row, formatted for people (the UI's table has the same columns); a server adapter whose
    files this machine cannot read shows "on the server" for its size (``times_smaller`` None)."""
    return {
        "name": info.name,
        "type": info.method,
        "rank": rank_cell(info),
        "alpha": info.alpha,
        "targets": ", ".join(info.target_modules),
        "params": "" if info.params is None else f"{info.params:,}",
        "size": format_size(info.bytes_on_disk),
        "x smaller": "" if times_smaller is None else format_times(times_smaller),
        "made for base": made_for_base(info),
    }


def rank_cell(info: AdapterInfo) -> int | str | None:
    """The rank, or for prompt learning (which has none) its number of virtual tokens: '8 virtual tokens'."""
    if info.virtual_tokens is not None:
        return f"{info.virtual_tokens} virtual tokens"
    return info.rank


def made_for_base(info: AdapterInfo) -> str:
    """'yes', 'unknown', or 'no: made for <short name>' (one line: never a long server path)."""
    if info.base_match is None or not info.base_model:
        return "unknown"
    return "yes" if info.base_match else f"no: made for {short_model_name(info.base_model)}"


def report_data(base: BaseInfo, adapters: Sequence[AdapterInfo], storage: dict, comparison: ComparisonResult,
                analysis: dict | None = None) -> ReportData:
    """One comparison with the base and adapters it ran on; ``storage`` is ``StorageReport.to_dict()``,
    ``analysis`` its ``Analysis.to_dict()`` when it was analyzed."""
    full = storage["full_model_bytes"]
    return ReportData(
        base_model=base.name,
        device=base.device,
        dtype=base.dtype,
        created=datetime.now(timezone.utc).isoformat(timespec="seconds"),  # noqa: UP017 - Python 3.10 has no datetime.UTC
        settings=asdict(comparison.settings),
        routes=dict(comparison.routes),
        variants=list(comparison.variants),
        results=comparison.records(),
        adapters=[adapter_row(info, None if info.bytes_on_disk is None else size_ratio(full, info.bytes_on_disk))
                  for info in adapters],
        storage=storage,
        timing={"load_s": round(base.load_s, 3), "generate_s": round(comparison.generate_s, 3),
                "waited_s": round(comparison.waited_s, 3)},
        status=comparison.status,
        error=comparison.error,
        analysis=analysis,
    )


def to_csv(data: ReportData) -> str:
    """One row per prompt: ``prompt`` then one column per variant (missing output -> empty).

    Rows end in CRLF (RFC 4180): csv quotes a field holding any character of the line ending, so an
    output with a lone carriage return reads back exactly (with "\\n" endings it was written bare)."""
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\r\n")
    writer.writerow(["prompt", *data.variants])
    for record in data.results:
        outputs = record["outputs"]
        writer.writerow([record["prompt"], *("" if outputs.get(v) is None else outputs[v] for v in data.variants)])
    return out.getvalue()


def to_document(data: ReportData) -> dict:
    """The JSON document: every field of ``data``, plus the per-adapter difference summary after ``results``;
    ``analysis`` only when the comparison was analyzed."""
    document = {}
    for key, value in asdict(data).items():
        if key == "analysis" and value is None:
            continue
        document[key] = value
        if key == "results":
            document["differences"] = [asdict(d) for d in difference_summary(data.results)]
    return document


def to_json(data: ReportData) -> str:
    """``to_document`` as indented UTF-8 JSON (readable text, not \\u escapes), ending in a newline."""
    return json.dumps(to_document(data), indent=2, ensure_ascii=False) + "\n"


_PAGE_CSS = """
body {font-family: system-ui, -apple-system, "Segoe UI", Roboto, sans-serif; font-size: 15px;
  color: #1f2328; background: #ffffff; max-width: 1200px; margin: 24px auto; padding: 0 16px;}
h1 {font-size: 26px;} h2 {font-size: 20px; margin-top: 32px; border-bottom: 1px solid #d0d4dc;}
dl.ag-meta {display: grid; grid-template-columns: max-content 1fr; gap: 4px 16px;}
dl.ag-meta dt {font-weight: 600;} dl.ag-meta dd {margin: 0; overflow-wrap: anywhere;}
"""


def _meta(items: dict[str, str]) -> str:
    rows = "".join(f"<dt>{html.escape(k)}</dt><dd>{html.escape(str(v))}</dd>" for k, v in items.items())
    return f'<dl class="ag-meta">{rows}</dl>'


def _summary_table(data: ReportData) -> str:
    summary = difference_summary(data.results)
    if not summary:
        return '<p class="ag-note">No base output to compare against.</p>'
    head = "".join(f"<th>{c}</th>" for c in ("adapter", "prompts", "changed", "changed (%)", "mean word similarity (%)"))
    body = "".join(
        f"<tr><td>{html.escape(d.variant)}</td><td>{d.prompts}</td><td>{d.changed}</td>"
        f"<td>{100 * d.share_changed:.0f}%</td><td>{100 * d.mean_similarity:.0f}%</td></tr>"
        for d in summary
    )
    return f'<table class="ag-table"><thead><tr>{head}</tr></thead><tbody>{body}</tbody></table>'


def _charts(data: ReportData) -> str:
    """The three figures; plotly.js is inlined once, with the first."""
    figures = [storage_figure(data.storage), scaling_figure(data.storage), difference_figure(difference_summary(data.results))]
    config = {"displaylogo": False, "responsive": True}
    return "".join(
        fig.to_html(full_html=False, include_plotlyjs=(i == 0), include_mathjax=False, config=config)
        for i, fig in enumerate(figures)
    )


NOT_RUN = "not run: the comparison ended first"


def _status_line(data: ReportData) -> str:
    """'finished', or how much of a stopped or failed comparison was written."""
    if data.status == "finished":
        return "finished"
    done, total = finished_outputs(data.results, data.variants)
    why = f": {data.error}" if data.error else " by Stop (cut-off outputs are marked)"
    return f"{data.status}{why} · {done} of {total} outputs finished"


def to_html(data: ReportData) -> str:
    """One self-contained HTML page: settings, adapters, charts, summary, grid, every diff."""
    title = f"adapters_ui report — {data.base_model}"
    settings = ", ".join(f"{k}={v}" for k, v in data.settings.items())
    routes = ", ".join(f"{k}: {v}" for k, v in data.routes.items())
    meta = _meta({
        "base model": data.base_model, "device": data.device, "dtype": data.dtype,
        "generation settings": settings or "—", "engine routes": routes or "—",
        "generation time": f"{data.timing['generate_s']:.1f} s for {plural(len(data.results), 'prompt')} x "
                           f"{plural(len(data.variants), 'variant')}",
        "status": _status_line(data),
        "created": data.created,
    })
    sections = [
        f"<h1>{html.escape(title)}</h1>", meta,
        "<h2>Adapters</h2>", adapter_table_html(data.adapters),
        "<h2>Charts</h2>", _charts(data),
        "<h2>How outputs differ from the base</h2>", _summary_table(data),
        "<h2>Outputs</h2>", grid_html(data.results, data.variants, pending_text=NOT_RUN) or '<p class="ag-note">No prompts.</p>',
        "<h2>Word differences, prompt by prompt</h2>", *(diff_panel_html(r, pending_text=NOT_RUN) for r in data.results),
        *_analysis_sections(data),
    ]
    return (
        '<!DOCTYPE html>\n<html lang="en"><head><meta charset="utf-8">'
        '<meta name="viewport" content="width=device-width, initial-scale=1">'
        f"<title>{html.escape(title)}</title><style>{_PAGE_CSS}{VIEW_CSS}{ANALYSIS_CSS}</style></head>"
        f"<body>{''.join(sections)}</body></html>\n"
    )


def _analysis_sections(data: ReportData) -> list[str]:
    """Divergence table, size-against-effect chart, reference leaderboard and each variant's heat view."""
    analysis = data.analysis
    if not analysis:
        return []
    config = {"displaylogo": False, "responsive": True}
    chart = effect_figure(data.storage, analysis).to_html(full_html=False, include_plotlyjs=False,
                                                          include_mathjax=False, config=config)
    prompts = [r["prompt"] for r in data.results]
    heat = [f"<h3>{html.escape(v)}</h3>" + heat_html(v, prompts, analysis["tokens"][v])
            for v in data.variants if v != BASE and v in analysis["tokens"]]  # the base is not read back
    return ["<h2>Where each variant departs from the base, token by token</h2>",
            divergence_table_html(analysis["summaries"]), chart,
            "<h2>Reference scores</h2>", leaderboards_html(analysis, heading="h3"),
            "<h2>Token heat views</h2>", *heat]


def write_exports(data: ReportData, folder: Path) -> dict[str, Path]:
    """Write ``comparison.csv``, ``comparison.json`` and ``report.html`` into ``folder`` (made if missing)."""
    folder = Path(folder)
    folder.mkdir(parents=True, exist_ok=True)
    paths = {"csv": folder / "comparison.csv", "json": folder / "comparison.json", "html": folder / "report.html"}
    for kind, render in (("csv", to_csv), ("json", to_json), ("html", to_html)):
        paths[kind].write_text(render(data), encoding="utf-8", newline="")
    return paths
