"""An evaluation's verdicts as a table: rows for a data frame, and the same as HTML with coloured badges.

Input is the evaluation document's ``verdicts`` (EVAL_SPEC). Best first: a reader looks for the
adapter that wins, then for what it breaks. ``variant_ranking`` orders the variants by their
verdict on ``checks`` (the all-checks-pass rate): significant improvements first, largest
difference first; then no evidence, largest difference first; then significant regressions,
smallest drop first. Ties go to the variant with more better-minus-worse verdicts on the other
metrics, then to the document's order. Within a variant, metrics keep ``METRICS`` order.

    >>> v = [{"variant": "a", "metric": "checks", "slice": None, "verdict": "no evidence", "difference": 0.3},
    ...      {"variant": "b", "metric": "checks", "slice": None, "verdict": "better", "difference": 0.1}]
    >>> variant_ranking(v)
    ['b', 'a']
    >>> badge("better"), badge("no evidence")
    ('▲ better', '· no evidence')

Proportions (pass/fail metrics) read as percent and their differences as points: ``40% [31%, 49%]``,
``+20 pt [+10, +30]``; other metrics as numbers with three significant digits.
"""

from __future__ import annotations

import html
import math

from adapters_ui.analysis.paired import Metric
from adapters_ui.analysis.verdicts import KINDS
from adapters_ui.errors import EvaluationError

METRIC_ORDER = tuple(KINDS)  # the scores, then human_preference and judge_preference (sign tests on votes)
SLICE_KINDS = ("category", "tag")

BADGES = {"better": "▲ better", "worse": "▼ worse", "no evidence": "· no evidence", "higher": "higher", "lower": "lower"}
VERDICT_COLUMNS = ("variant", "metric", "verdict", "mean [95% CI]", "difference [95% CI]", "p (Holm)", "n", "mde")
MISSING = "–"
NO_VERDICTS = "No verdicts yet: they are computed when the evaluation finishes."

# Badges: green better, red worse, grey no evidence, blue for a change with no better side (output length).
EVALUATION_CSS = """
table.ag-eval {table-layout: auto;}
/* one line a cell: a phone scrolls the table sideways (.ag-scroll) rather than breaking names letter by letter */
table.ag-eval th, table.ag-eval td {white-space: nowrap; overflow-wrap: normal;}
table.ag-eval td.num {text-align: right; font-variant-numeric: tabular-nums;}
table.ag-eval caption {text-align: left; caption-side: top;}
table.ag-eval tr.ag-first td {border-top: 2px solid #8a8f99;}
.ag-badge {display: inline-block; padding: 1px 6px; border-radius: 10px; font-size: 13px; font-weight: 600; white-space: nowrap;}
.ag-badge.better {background: #dafbe1; color: #116329;}
.ag-badge.worse {background: #ffebe9; color: #a40e26;}
.ag-badge.no-evidence {background: #eef0f6; color: #57606a;}
.ag-badge.higher, .ag-badge.lower {background: #ddf4ff; color: #0a3069;}
ul.ag-checks {list-style: none; margin: 4px 0; padding: 0; display: flex; flex-wrap: wrap; gap: 4px 10px;}
ul.ag-checks li.pass {color: #116329;} ul.ag-checks li.fail {color: #a40e26; font-weight: 600;}
.ag-scores {color: #4b5563; font-size: 13px; margin: 2px 0 6px;}
details.ag-regressed {border: 1px solid #d0d4dc; border-radius: 6px; padding: 6px 10px; margin: 10px 0;}
details.ag-regressed > summary {cursor: pointer; font-weight: 600; overflow-wrap: anywhere;}
"""


def metric_info(name: str) -> Metric:
    """How ``name`` is read: pass/fail or not, and which way is better; an unknown metric has no better side."""
    return KINDS.get(name) or Metric(name, False, None)


def _missing(value) -> bool:
    return value is None or (isinstance(value, float) and math.isnan(value))


def number(value: float, sign: str = "") -> str:
    """Three significant digits, but whole above 1000 (``1,234``, never ``1.23e+03``); ``sign="+"`` shows it."""
    return f"{value:{sign},.0f}" if abs(value) >= 1000 else f"{value:{sign}.3g}"


def format_value(metric: str, value: float | None) -> str:
    """A mean: ``40%`` for a pass/fail metric, else three significant digits (``0.412``); ``–`` for None."""
    if _missing(value):
        return MISSING
    return f"{100 * value:.0f}%" if metric_info(metric).binary else number(value)


def format_difference(metric: str, value: float | None, signed: bool = True) -> str:
    """A difference (``+20 pt``, ``-0.031``), or unsigned a size of one (the mde: ``12 pt``); ``–`` for None."""
    if _missing(value):
        return MISSING
    sign = "+" if signed else ""
    return f"{100 * value:{sign}.0f} pt" if metric_info(metric).binary else number(value, sign)


def _interval(metric: str, value, low, high, difference: bool) -> str:
    """``value [low, high]``; the bounds without the unit "pt", which the value already says."""
    write = format_difference if difference else format_value
    if _missing(value):
        return MISSING
    if _missing(low) or _missing(high):
        return write(metric, value)
    return f"{write(metric, value)} [{write(metric, low).removesuffix(' pt')}, {write(metric, high).removesuffix(' pt')}]"


def format_p(p: float | None) -> str:
    return MISSING if p is None else "<0.001" if p < 0.001 else f"{p:.3f}"


def badge(verdict: str) -> str:
    """The badge text of a verdict: ``▲ better``, ``▼ worse``, ``· no evidence``, ``higher``, ``lower``."""
    return BADGES.get(verdict, verdict)


def check_slice(slice: str | None) -> str | None:
    """``slice`` as given when it is None, ``category:NAME`` or ``tag:NAME``; else a one-line error."""
    if slice is not None and not any(slice.startswith(f"{kind}:") and len(slice) > len(kind) + 1 for kind in SLICE_KINDS):
        raise EvaluationError(f"unknown slice {slice!r}: use category:NAME or tag:NAME, or None for all items")
    return slice


def slice_verdicts(document: dict, slice: str | None = None) -> list[dict]:
    """The document's verdicts on one slice (None: all items), in the document's order."""
    check_slice(slice)
    return [v for v in document.get("verdicts") or [] if v.get("slice") == slice]


def slice_names(document: dict, kind: str = "category") -> list[str]:
    """The slices of one kind that have verdicts, as ``kind:NAME``, sorted by name: ``["category:json", ...]``."""
    if kind not in SLICE_KINDS:
        raise EvaluationError(f"unknown slice kind {kind!r}: use {' or '.join(SLICE_KINDS)}")
    prefix = f"{kind}:"
    return sorted({v["slice"] for v in document.get("verdicts") or [] if (v.get("slice") or "").startswith(prefix)})


def _metric_rank(name: str) -> int:
    return METRIC_ORDER.index(name) if name in METRIC_ORDER else len(METRIC_ORDER)


def variant_ranking(verdicts: list[dict]) -> list[str]:
    """The variants of one slice's verdicts, best first (the rule is in the module's docstring)."""
    order = list(dict.fromkeys(v["variant"] for v in verdicts))
    groups = {"better": 0, "worse": 2}

    def key(variant: str):
        own = [v for v in verdicts if v["variant"] == variant]
        checks = next((v for v in own if v["metric"] == "checks"), None)
        group = groups.get(checks["verdict"], 1) if checks else 1
        difference = checks.get("difference") if checks else None
        balance = sum(v["verdict"] == "better" for v in own) - sum(v["verdict"] == "worse" for v in own)
        return group, math.inf if difference is None else -difference, -balance, order.index(variant)

    return sorted(order, key=key)


def _ordered(verdicts: list[dict]) -> list[dict]:
    """Best variant first, each variant's metrics in ``METRIC_ORDER``."""
    rank = {name: i for i, name in enumerate(variant_ranking(verdicts))}
    return sorted(verdicts, key=lambda v: (rank[v["variant"]], _metric_rank(v["metric"])))


def verdict_row(v: dict) -> dict:
    metric = v["metric"]
    return {
        "variant": v["variant"],
        "metric": metric,
        "verdict": badge(v["verdict"]),
        "mean [95% CI]": _interval(metric, v.get("mean"), v.get("mean_low"), v.get("mean_high"), difference=False),
        "difference [95% CI]": _interval(metric, v.get("difference"), v.get("low"), v.get("high"), difference=True),
        "p (Holm)": format_p(v.get("p_holm")),
        "n": v.get("n", 0),
        "mde": format_difference(metric, v.get("mde"), signed=False),
    }


def verdict_table_rows(document: dict, slice: str | None = None) -> list[dict]:
    """One row per variant and metric of ``slice`` (None: all items), best variant first; keys ``VERDICT_COLUMNS``.

    Plain dicts of text and counts, for a data frame: ``[[row[c] for c in VERDICT_COLUMNS] for row in rows]``."""
    return [verdict_row(v) for v in _ordered(slice_verdicts(document, slice))]


def verdict_cell(verdict: str) -> str:
    css = verdict.replace(" ", "-")
    return f'<td><span class="ag-badge {html.escape(css)}">{html.escape(badge(verdict))}</span></td>'


def verdict_table_html(document: dict, slice: str | None = None) -> str:
    """``verdict_table_rows`` as an HTML table: coloured badges, numbers right-aligned, a rule above each
    variant's first row, every name escaped. A note when the slice has no verdicts (yet)."""
    verdicts = _ordered(slice_verdicts(document, slice))
    if not verdicts:
        what = "" if slice is None else f" for {slice}"
        return f'<p class="ag-note">{html.escape(NO_VERDICTS if slice is None else f"No verdicts{what}.")}</p>'
    head = "".join(f"<th>{html.escape(c)}</th>" for c in VERDICT_COLUMNS)
    rows, previous = [], None
    for v in verdicts:
        row = verdict_row(v)
        first = ' class="ag-first"' if previous is not None and v["variant"] != previous else ""
        previous = v["variant"]
        cells = [f"<td>{html.escape(row['variant'])}</td>", f"<td>{html.escape(row['metric'])}</td>",
                 verdict_cell(v["verdict"]),
                 *(f'<td class="num">{html.escape(str(row[c]))}</td>' for c in VERDICT_COLUMNS[3:])]
        rows.append(f'<tr data-variant="{html.escape(v["variant"])}"{first}>{"".join(cells)}</tr>')
    baseline = html.escape(str(verdicts[0].get("baseline") or document.get("baseline") or ""))
    return (f'<div class="ag-scroll"><table class="ag-table ag-eval" data-slice="{html.escape(slice or "")}">'
            f'<caption class="ag-note">against {baseline}{"" if slice is None else " · " + html.escape(slice)}</caption>'
            f'<thead><tr>{head}</tr></thead><tbody>{"".join(rows)}</tbody></table></div>')


def slice_tables_html(document: dict, kind: str = "category", heading: str = "h3") -> str:
    """The by-slice view: one verdict table per category (or tag), each with its own intervals and verdicts."""
    names = slice_names(document, kind)
    if not names:
        return f'<p class="ag-note">No {html.escape(kind)} verdicts: the set has no {html.escape(kind)}s, or they are not computed yet.</p>'
    return "".join(f'<{heading} class="ag-slice">{html.escape(name)}</{heading}>{verdict_table_html(document, name)}'
                   for name in names)
