"""The category heatmap of an evaluation: where each variant is better or worse than the baseline.

One row per category (or tag), one column per variant (best first, as the verdict table), each
cell the slice's difference from the baseline on one metric, coloured on a scale centred on 0
whose green end is the metric's better side: for ``cut_off`` or ``latency_s`` (lower is better)
a negative difference is green. Cells whose verdict is significant after Holm read bold with a
``*``. Rows, not columns, grow with the categories, so a phone (390 px) shows a few variant
columns at full width and scrolls down; the colour bar lies under the grid, not beside it.
"""

from __future__ import annotations

import html

import plotly.graph_objects as go

from adapters_ui.errors import EvaluationError
from adapters_ui.formatting import shorten
from adapters_ui.views.charts import _LABEL_SIZE, HEIGHT, _axis_names, _empty, _styled
from adapters_ui.views.evaluation import (
    METRIC_ORDER,
    SLICE_KINDS,
    badge,
    format_difference,
    format_p,
    metric_info,
    slice_names,
    slice_verdicts,
    variant_ranking,
)

SIGNIFICANT = ("better", "worse", "higher", "lower")  # verdicts that passed Holm and exclude 0
MARK = "*"
CELL_PX = 44  # one category row: the cell's text at 13 px with room around it
_MARGIN = {"l": 10, "r": 16, "t": 80, "b": 80}  # t: title and the variant names above; b: the colour bar
_MID, _GOOD, _BAD = "#f6f8fa", "#4ac26b", "#ff8182"
_SCALES = {
    "higher": [[0.0, _BAD], [0.5, _MID], [1.0, _GOOD]],
    "lower": [[0.0, _GOOD], [0.5, _MID], [1.0, _BAD]],
    None: [[0.0, "#dd8452"], [0.5, _MID], [1.0, "#4c72b0"]],  # no better side (output length): orange shorter, blue longer
}


def colorscale(metric: str) -> list[list]:
    """The diverging scale for ``metric``: its better side green, its worse side red, 0 pale."""
    return _SCALES[metric_info(metric).better]


def _cell_text(metric: str, verdict: dict | None) -> str:
    if verdict is None or verdict.get("difference") is None:
        return "—"
    text = format_difference(metric, verdict["difference"])
    return f"<b>{text}{MARK}</b>" if verdict["verdict"] in SIGNIFICANT else text


def _hover(variant: str, label: str, metric: str, verdict: dict | None) -> str:
    if verdict is None:
        return f"{html.escape(variant)} · {html.escape(label)}: no verdict"
    interval = ""
    if verdict.get("low") is not None:
        interval = f" [{format_difference(metric, verdict['low'])}, {format_difference(metric, verdict['high'])}]"
    return (f"{html.escape(variant)} · {html.escape(label)}<br>"
            f"{html.escape(metric)} difference {format_difference(metric, verdict.get('difference'))}{interval}<br>"
            f"p (Holm) {format_p(verdict.get('p_holm'))} · n = {verdict.get('n', 0)}<br>{badge(verdict['verdict'])}")


def _ticks(metric: str, top: float) -> tuple[list[float], list[str]]:
    values = [-top, -top / 2, 0.0, top / 2, top]
    return values, [format_difference(metric, v) if v else "0" for v in values]


def category_heatmap(document: dict, metric: str = "checks", slices: str = "category") -> go.Figure:
    """Variant × category (``slices="tag"``: × tag) on ``metric``; z is each slice verdict's ``difference``
    (None where a variant has no verdict there), text the same difference, ``*`` and bold where significant."""
    if slices not in SLICE_KINDS:
        raise EvaluationError(f"unknown slice kind {slices!r}: use {' or '.join(SLICE_KINDS)}")
    verdicts = document.get("verdicts") or []
    if metric not in METRIC_ORDER and not any(v["metric"] == metric for v in verdicts):
        raise EvaluationError(f"unknown metric {metric!r}: use one of {', '.join(METRIC_ORDER)}")
    baseline = shorten(str(document.get("baseline") or "baseline"), 24)
    title = html.escape(f"{metric} vs {baseline}, by {slices}")  # short: a phone shows about 40 characters
    names = slice_names(document, slices)
    cells = {(v["variant"], v["slice"]): v for v in verdicts if v["metric"] == metric and v["slice"] in names}
    if not cells:
        return _empty(title, f"No {slices} verdicts on {metric} yet")
    shown = {variant for variant, _ in cells}
    ranked = [v for v in variant_ranking(slice_verdicts(document, None)) if v in shown]
    variants = ranked + [v for v in dict.fromkeys(variant for variant, _ in cells) if v not in ranked]
    labels = [name.split(":", 1)[1] for name in names]
    grid = [[cells.get((variant, name)) for variant in variants] for name in names]
    z = [[None if c is None else c.get("difference") for c in row] for row in grid]
    top = max((abs(x) for row in z for x in row if x is not None), default=0.0) or 1.0
    tickvals, ticktext = _ticks(metric, top)
    fig = go.Figure(go.Heatmap(
        z=z, x=variants, y=names, zmin=-top, zmax=top, zmid=0, colorscale=colorscale(metric),
        text=[[_cell_text(metric, c) for c in row] for row in grid], texttemplate="%{text}", textfont={"size": _LABEL_SIZE},
        hovertext=[[_hover(v, label, metric, c) for v, c in zip(variants, row)] for label, row in zip(labels, grid)],
        hoverinfo="text", hoverongaps=False, xgap=2, ygap=2,
        colorbar={"orientation": "h", "x": 0.5, "xanchor": "center", "y": -0.03, "yanchor": "top", "thickness": 12,
                  "len": 0.9, "tickvals": tickvals, "ticktext": ticktext, "tickfont": {"size": _LABEL_SIZE},
                  "title": {"text": f"{MARK} significant after Holm", "side": "top", "font": {"size": _LABEL_SIZE}}},
    ))
    height = max(HEIGHT, _MARGIN["t"] + _MARGIN["b"] + len(names) * CELL_PX)
    return _styled(
        fig, title, height=height, margin=_MARGIN,
        xaxis={"type": "category", "side": "top", "tickvals": variants, "ticktext": _axis_names(variants), "automargin": True,
               "tickfont": {"size": _LABEL_SIZE}, "showgrid": False},
        yaxis={"type": "category", "autorange": "reversed", "automargin": True, "tickfont": {"size": _LABEL_SIZE},
               "tickvals": names, "ticktext": _axis_names(labels), "showgrid": False},
    )
