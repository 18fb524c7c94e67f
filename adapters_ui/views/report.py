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

import html
from pathlib import Path
from typing import TYPE_CHECKING

from adapters_ui.analysis.text_diff import difference_summary, finished_outputs
from adapters_ui.formatting import plural
from adapters_ui.names import BASE
from adapters_ui.views.analysis_html import ANALYSIS_CSS, divergence_table_html, heat_html, leaderboards_html
from adapters_ui.views.charts import difference_figure, effect_figure, scaling_figure, storage_figure
from adapters_ui.views.document import ReportData, to_csv, to_json
from adapters_ui.views.html import VIEW_CSS, adapter_table_html, diff_panel_html, grid_html

if TYPE_CHECKING:  # only for annotations
    import plotly.graph_objects as go


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


FIGURE_CONFIG = {"displaylogo": False, "responsive": True}


def figures_html(figures: list[go.Figure], inline_plotly: bool = True) -> str:
    """The figures as HTML divs; plotly.js is inlined once, with the first (none when ``inline_plotly`` is False,
    for a page that inlined it already), so the page opens offline."""
    return "".join(
        fig.to_html(full_html=False, include_plotlyjs=inline_plotly and i == 0, include_mathjax=False, config=FIGURE_CONFIG)
        for i, fig in enumerate(figures)
    )


def page_html(title: str, sections: list[str], css: str) -> str:
    """One self-contained HTML page: ``title`` (escaped here), the ``css`` inlined, the ``sections`` in order."""
    return (
        '<!DOCTYPE html>\n<html lang="en"><head><meta charset="utf-8">'
        '<meta name="viewport" content="width=device-width, initial-scale=1">'
        f"<title>{html.escape(title)}</title><style>{css}</style></head>"
        f"<body>{''.join(sections)}</body></html>\n"
    )


def _charts(data: ReportData) -> str:
    """The three figures; plotly.js is inlined once, with the first."""
    return figures_html([storage_figure(data.storage), scaling_figure(data.storage),
                         difference_figure(difference_summary(data.results))])


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
    return page_html(title, sections, _PAGE_CSS + VIEW_CSS + ANALYSIS_CSS)


def _analysis_sections(data: ReportData) -> list[str]:
    """Divergence table, size-against-effect chart, reference leaderboard and each variant's heat view."""
    analysis = data.analysis
    if not analysis:
        return []
    chart = figures_html([effect_figure(data.storage, analysis)], inline_plotly=False)
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
