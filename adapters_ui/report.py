"""Exports of one comparison: CSV for spreadsheets, JSON for scripts, one HTML file for people.

The HTML report is self-contained (plotly.js and the CSS inlined, no external URL), so a
stakeholder can open it offline, months later:

    >>> data = report_data(session, session.compare(["Hi!"]))  # doctest: +SKIP
    >>> write_exports(data, Path("exports"))                     # doctest: +SKIP
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
from typing import TYPE_CHECKING

from .base_model import short_model_name
from .charts import difference_figure, format_times, scaling_figure, storage_figure
from .html_views import VIEW_CSS, adapter_table_html, diff_panel_html, grid_html
from .metrics import difference_summary
from .storage import format_bytes

if TYPE_CHECKING:  # only for annotations: building a report never needs a model
    from .registry import AdapterInfo
    from .session import Comparison, Session


@dataclass(frozen=True)
class ReportData:
    """Everything an export shows, as plain data (no model, no session)."""

    base_model: str
    device: str
    dtype: str
    variants: list[str]
    records: list[dict]  # [{"prompt": str, "outputs": {variant: text}}]
    settings: dict  # generation settings
    generate_s: float
    routes: dict[str, str]  # variant -> engine path
    adapters: list[dict]  # rows for html_views.adapter_table_html
    storage: dict  # StorageReport.to_dict()
    created: str  # ISO time


def adapter_row(info: AdapterInfo, times_smaller: float) -> dict:
    """One adapters-table row, formatted for people (the UI's table has the same columns)."""
    return {
        "name": info.name,
        "type": info.method,
        "rank": rank_cell(info),
        "alpha": info.alpha,
        "targets": ", ".join(info.target_modules),
        "params": f"{info.params:,}",
        "size": format_bytes(info.bytes_on_disk),
        "x smaller": format_times(times_smaller),
        "made for base": made_for_base(info),
    }


def rank_cell(info: AdapterInfo) -> int | str | None:
    """The rank, or for prompt learning (which has none) its number of virtual tokens: '8 virtual tokens'."""
    if info.virtual_tokens is not None:
        return f"{info.virtual_tokens} virtual tokens"
    return info.rank


def made_for_base(info: AdapterInfo) -> str:
    """"yes", "unknown", or "no: made for <short name>" (one line: never a long server path)."""
    if info.base_match is None or not info.base_model:
        return "unknown"
    return "yes" if info.base_match else f"no: made for {short_model_name(info.base_model)}"


def report_data(session: Session, comparison: Comparison) -> ReportData:
    """Snapshot a session's base and adapters with one comparison's results."""
    storage = session.storage()
    return ReportData(
        base_model=session.base.source.name,
        device=str(session.base.device),
        dtype=session.base.dtype_name,
        variants=list(comparison.variants),
        records=comparison.records(),
        settings=asdict(comparison.settings),
        generate_s=comparison.generate_s,
        routes=dict(comparison.routes),
        adapters=[adapter_row(info, storage.ratio(info.name)) for info in session.adapters()],
        storage=storage.to_dict(),
        created=datetime.now(timezone.utc).isoformat(timespec="seconds"),  # noqa: UP017 - Python 3.10 has no datetime.UTC
    )


def to_csv(data: ReportData) -> str:
    """One row per prompt: ``prompt`` then one column per variant (missing output -> empty)."""
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\n")
    writer.writerow(["prompt", *data.variants])
    for record in data.records:
        outputs = record["outputs"]
        writer.writerow([record["prompt"], *("" if outputs.get(v) is None else outputs[v] for v in data.variants)])
    return out.getvalue()


def to_json(data: ReportData) -> str:
    """Everything, plus the per-adapter difference summary, as indented UTF-8 JSON."""
    document = {
        "base_model": data.base_model,
        "device": data.device,
        "dtype": data.dtype,
        "created": data.created,
        "settings": data.settings,
        "generate_s": data.generate_s,
        "routes": data.routes,
        "variants": data.variants,
        "records": data.records,
        "differences": [asdict(d) for d in difference_summary(data.records)],
        "adapters": data.adapters,
        "storage": data.storage,
    }
    return json.dumps(document, indent=2, ensure_ascii=False)


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
    summary = difference_summary(data.records)
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
    figures = [storage_figure(data.storage), scaling_figure(data.storage), difference_figure(difference_summary(data.records))]
    config = {"displaylogo": False, "responsive": True}
    return "".join(
        fig.to_html(full_html=False, include_plotlyjs=(i == 0), include_mathjax=False, config=config)
        for i, fig in enumerate(figures)
    )


def to_html(data: ReportData) -> str:
    """One self-contained HTML page: settings, adapters, charts, summary, grid, every diff."""
    title = f"adapters_ui report — {data.base_model}"
    settings = ", ".join(f"{k}={v}" for k, v in data.settings.items())
    routes = ", ".join(f"{k}: {v}" for k, v in data.routes.items())
    meta = _meta({
        "base model": data.base_model, "device": data.device, "dtype": data.dtype,
        "generation settings": settings or "—", "engine routes": routes or "—",
        "generation time": f"{data.generate_s:.1f} s for {len(data.records)} prompts x {len(data.variants)} variants",
        "created": data.created,
    })
    sections = [
        f"<h1>{html.escape(title)}</h1>", meta,
        "<h2>Adapters</h2>", adapter_table_html(data.adapters),
        "<h2>Charts</h2>", _charts(data),
        "<h2>How outputs differ from the base</h2>", _summary_table(data),
        "<h2>Outputs</h2>", grid_html(data.records, data.variants) or '<p class="ag-note">No prompts.</p>',
        "<h2>Word differences, prompt by prompt</h2>", *(diff_panel_html(r) for r in data.records),
    ]
    return (
        '<!DOCTYPE html>\n<html lang="en"><head><meta charset="utf-8">'
        '<meta name="viewport" content="width=device-width, initial-scale=1">'
        f"<title>{html.escape(title)}</title><style>{_PAGE_CSS}{VIEW_CSS}</style></head>"
        f"<body>{''.join(sections)}</body></html>\n"
    )


def write_exports(data: ReportData, folder: Path) -> dict[str, Path]:
    """Write ``comparison.csv``, ``comparison.json`` and ``report.html`` into ``folder`` (made if missing)."""
    folder = Path(folder)
    folder.mkdir(parents=True, exist_ok=True)
    paths = {"csv": folder / "comparison.csv", "json": folder / "comparison.json", "html": folder / "report.html"}
    for kind, render in (("csv", to_csv), ("json", to_json), ("html", to_html)):
        paths[kind].write_text(render(data), encoding="utf-8", newline="")
    return paths
