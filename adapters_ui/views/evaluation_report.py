"""One evaluation as one self-contained HTML page, for people who open it offline months later.

What was run, the verdict table (best first), the category (and tag) heatmaps, the by-category
and by-tag tables, then the regressed items, open, each with both outputs side by side and the
word diff. plotly.js and the CSS are inlined (``report.figures_html`` and ``report.page_html``,
as the comparison report does), so the page loads nothing from the network:

    >>> Path("evaluation.html").write_text(evaluation_report_html(document), encoding="utf-8")  # doctest: +SKIP
"""

from __future__ import annotations

import html

from adapters_ui.views.evaluation import EVALUATION_CSS, slice_names, slice_tables_html, verdict_table_html
from adapters_ui.views.evaluation_charts import category_heatmap
from adapters_ui.views.evaluation_exports import compared_variants
from adapters_ui.views.evaluation_items import regressed_items_html
from adapters_ui.views.html import VIEW_CSS
from adapters_ui.views.report import _PAGE_CSS, _meta, figures_html, page_html

HOW_TO_READ = (
    "Each variant against the baseline on the same items. “▲ better” or “▼ worse”: the difference holds after "
    "the Holm correction over every variant, metric and slice, and its 95% interval excludes 0; “· no evidence”: "
    "it does not, which is not the same as no difference (see mde, the smallest difference these items could detect). "
    "Best variant first: the largest significant gain in the share of outputs passing all their checks."
)


def _meta_section(document: dict) -> str:
    item_set = document.get("set") or {}
    status = str(document.get("status") or "—") + (f": {document['error']}" if document.get("error") else "")
    settings = ", ".join(f"{k}={v}" for k, v in (document.get("settings") or {}).items())
    return _meta({
        "evaluation": document.get("id") or "—",
        "status": status,
        "created": document.get("created_at") or "—",
        "base model": document.get("base_model") or "—",
        "evaluation set": f"{item_set.get('name', '—')} · {item_set.get('items', '?')} items"
                          + (f" · sha256 {str(item_set['sha256'])[:12]}" if item_set.get("sha256") else ""),
        "variants": ", ".join(document.get("variants") or []) or "—",
        "baseline": document.get("baseline") or "—",
        "samples per item": document.get("samples", 1),
        "generation settings": settings or "—",
    })


def _heatmaps(document: dict) -> list[str]:
    """The checks heatmap by category, and by tag when the set has tags; plotly.js inlined with the first."""
    kinds = [kind for kind in ("category", "tag") if slice_names(document, kind)]
    if not kinds:
        return ['<p class="ag-note">No categories or tags in this set: no heatmap.</p>']
    return [figures_html([category_heatmap(document, "checks", kind) for kind in kinds])]


def evaluation_report_html(document: dict) -> str:
    """The whole evaluation as one offline HTML page (see the module docstring for its sections)."""
    item_set = (document.get("set") or {}).get("name") or "evaluation"
    title = f"adapters_ui evaluation — {item_set} on {document.get('base_model') or 'the base model'}"
    sections = [
        f"<h1>{html.escape(title)}</h1>", _meta_section(document),
        "<h2>Verdicts, all items</h2>", f"<p>{html.escape(HOW_TO_READ)}</p>", verdict_table_html(document),
        "<h2>By category: difference from the baseline</h2>", *_heatmaps(document),
        "<h2>Verdicts by category</h2>", slice_tables_html(document, "category"),
    ]
    if slice_names(document, "tag"):
        sections += ["<h2>Verdicts by tag</h2>", slice_tables_html(document, "tag")]
    if compared_variants(document):
        sections += ["<h2>Regressed items</h2>", regressed_items_html(document)]
    return page_html(title, sections, _PAGE_CSS + VIEW_CSS + EVALUATION_CSS)
