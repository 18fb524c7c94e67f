"""HTML markup shared by the UI and the exported report: the output grid, word diffs, tables.

Plain strings, no gradio, so the report shows exactly what the UI showed. Every piece of
user text (prompts, outputs, adapter names) goes through ``html.escape``. The markup
carries no ``<style>`` or ``<script>``: the caller supplies ``VIEW_CSS`` once.
"""

from __future__ import annotations

import html

from adapters_ui.analysis.text_diff import similarity, word_diff
from adapters_ui.names import BASE

ADAPTER_COLUMNS = ["name", "type", "rank", "alpha", "targets", "params", "size", "x smaller", "made for base"]

EMPTY = "<i>(empty)</i>"
CUT_MARK = '<span class="ag-cut">… cut off by Stop</span>'

# Explicit text and background colours: the views stay readable inside a dark page theme.
VIEW_CSS = """
table.ag-grid, table.ag-table {width: 100%; table-layout: fixed; border-collapse: collapse;
  font-size: 15px; color: #1f2328; background: #ffffff;}
.ag-grid th, .ag-grid td, .ag-table th, .ag-table td {border: 1px solid #d0d4dc; padding: 8px;
  text-align: left; vertical-align: top; white-space: pre-wrap; overflow-wrap: anywhere;}
.ag-scroll {overflow-x: auto; width: 100%; contain: inline-size;}
.ag-scroll > table.ag-grid {min-width: calc(var(--ag-columns, 1) * 11em);} /* 165 px columns: whole words on a phone */
.ag-grid th, .ag-grid td {overflow-wrap: break-word;}
.ag-grid th, .ag-table th {background: #eef0f6; font-weight: 600;}
.ag-grid td.same {color: #8a8f99;}
.ag-grid td.pending {color: #8a8f99; font-style: italic;}
.ag-grid td.cut {background: #fffbeb;}
.ag-cut {display: inline-block; margin-left: 4px; padding: 0 4px; border-radius: 3px;
  background: #fff1c2; color: #7a4b00; font-style: italic; font-size: 13px;}
.ag-grid tr[data-row] {cursor: pointer;}
.ag-grid tr[data-row]:hover td {background: #f5f7fb;}
.ag-grid tr.selected td {background: #e3ebff;}
.ag-diff {font-size: 15px; color: #1f2328; background: #ffffff; padding: 4px 0;}
.ag-diff h3 {margin: 0.4em 0; white-space: pre-wrap; overflow-wrap: anywhere;}
.ag-diff .ag-block {border: 1px solid #d0d4dc; border-radius: 6px; padding: 8px 10px; margin: 8px 0;}
.ag-diff .ag-label {font-weight: 600; margin-bottom: 4px;}
.ag-diff .ag-pair {display: grid; grid-template-columns: 1fr 1fr; gap: 10px; margin: 8px 0;}
.ag-diff .ag-pair .ag-block {margin: 0;}
@media (max-width: 640px) {.ag-diff .ag-pair {grid-template-columns: 1fr;}} /* after the rule it overrides */
.ag-diff .ag-text {white-space: pre-wrap; overflow-wrap: anywhere;}
.ag-diff .pending, .ag-note {color: #6b7280; font-style: italic;}
ins.add {background: #ccf0d3; color: #0f5323; text-decoration: none; border-radius: 3px;}
del.rem {background: #fbd3d0; color: #82071e; text-decoration: line-through; border-radius: 3px;}
del.rem + ins.add {margin-left: 2px;}
"""


def _text(text: str) -> str:
    return html.escape(text) or EMPTY


def grid_html(
    records: list[dict],
    variants: list[str],
    row_ids: list[int] | None = None,
    selected: int | None = None,
    pending_text: str = "…",
    base: str = BASE,
) -> str:
    """One row per prompt, one equal-width column per variant; "" for no records.

    ``row_ids``: the ``data-row`` of each row (default 0, 1, ...), so a filtered grid still
    names the original records when a row is clicked. An output that is missing or None is
    still running (class ``pending``); one equal to the base output is greyed (class ``same``).
    """
    if not records:
        return ""
    row_ids = list(range(len(records))) if row_ids is None else list(row_ids)
    if len(row_ids) != len(records):
        raise ValueError(f"{len(row_ids)} row ids for {len(records)} records: give one id per record.")
    head = "".join(f"<th>{html.escape(name)}</th>" for name in ["prompt", *variants])
    rows = []
    for row_id, record in zip(row_ids, records):
        outputs = record.get("outputs") or {}
        cut_off = set(record.get("cut_off") or ())
        base_text = outputs.get(base)
        cells = [f'<td class="prompt"><b>{_text(record["prompt"])}</b></td>']
        for variant in variants:
            text = outputs.get(variant)
            if text is None:
                cells.append(f'<td class="pending">{html.escape(pending_text)}</td>')
            elif variant in cut_off:
                cells.append(f'<td class="cut">{html.escape(text)}{CUT_MARK}</td>')
            elif variant != base and text == base_text:
                cells.append(f'<td class="same">{_text(text)}</td>')
            else:
                cells.append(f"<td>{_text(text)}</td>")
        selected_class = ' class="selected"' if row_id == selected else ""
        rows.append(f'<tr data-row="{int(row_id)}"{selected_class}>{"".join(cells)}</tr>')
    # Columns never narrower than 11em (VIEW_CSS): a narrow screen scrolls the grid sideways instead of breaking words.
    return (f'<div class="ag-scroll" style="--ag-columns: {len(variants) + 1}"><table class="ag-grid"><thead><tr>{head}</tr></thead>'
            f'<tbody>{"".join(rows)}</tbody></table></div>')


def diff_html(base: str, other: str) -> str:
    """``other`` as text, with what it adds over ``base`` in ``<ins>`` and what it drops in ``<del>``."""
    marks = {"same": "{}", "added": '<ins class="add">{}</ins>', "removed": '<del class="rem">{}</del>'}
    return "".join(marks[op].format(html.escape(text)) for op, text in word_diff(base, other))


def side_by_side_html(base: str, other: str) -> tuple[str, str]:
    """(``base`` with the words ``other`` drops struck out, ``other`` with the words it adds marked):
    the two halves of a side-by-side diff; together they carry the same marks as ``diff_html``."""
    pieces = word_diff(base, other)
    left = {"same": "{}", "removed": '<del class="rem">{}</del>'}
    right = {"same": "{}", "added": '<ins class="add">{}</ins>'}
    return (
        "".join(left[op].format(html.escape(text)) for op, text in pieces if op in left) or EMPTY,
        "".join(right[op].format(html.escape(text)) for op, text in pieces if op in right) or EMPTY,
    )


def _block(label: str, body: str) -> str:
    return f'<div class="ag-block"><div class="ag-label">{label}</div><div class="ag-text">{body}</div></div>'


def _pair(left_label: str, left: str, right_label: str, right: str) -> str:
    return f'<div class="ag-pair">{_block(left_label, left)}{_block(right_label, right)}</div>'


def diff_panel_html(record: dict, base: str = BASE, pending_text: str = "still running…") -> str:
    """One prompt: each other variant next to the base output, side by side, with the words the
    variant drops struck out on the base side and the words it adds marked on its own side.
    An output a Stop cut short is labelled so; a missing one shows ``pending_text``."""
    outputs = record.get("outputs") or {}
    cut_off = set(record.get("cut_off") or ())
    base_text = outputs.get(base)
    base_name = html.escape(base)
    others = [(v, t) for v, t in outputs.items() if v != base]
    parts = [f'<div class="ag-diff"><h3>{_text(record["prompt"])}</h3>']
    if base_text is None:
        parts.append(f'<p class="ag-note">Differences are shown against {base_name}, '
                     "which was not run for this prompt: outputs are shown as they are.</p>")
    elif not others:
        parts.append(_block(base_name, _text(base_text)))
    if base in cut_off:
        parts.append(f'<p class="ag-note">The {base_name} output was cut off by Stop: differences after its end are not real.</p>')
    for variant, text in others:
        name = html.escape(variant) + (" (cut off by Stop)" if variant in cut_off else "")
        if text is None:
            parts.append(_block(name, f'<span class="pending">{html.escape(pending_text)}</span>'))
        elif base_text is None:
            parts.append(_block(name, _text(text)))
        elif text == base_text:
            parts.append(_block(f"{name} — identical to {base_name}", _text(text)))
        else:
            left, right = side_by_side_html(base_text, text)
            score = f"{100 * similarity(base_text, text):.0f}% similar to {base_name}"
            parts.append(_pair(f"{base_name} — struck: what {name} drops", left, f"{name} — {score}", right))
    parts.append("</div>")
    return "".join(parts)


def adapter_table_html(rows: list[dict]) -> str:
    """The attached adapters, one row each, columns as in ``ADAPTER_COLUMNS`` (missing -> blank)."""
    if not rows:
        return '<p class="ag-note">No adapters attached.</p>'
    head = "".join(f"<th>{html.escape(c)}</th>" for c in ADAPTER_COLUMNS)
    body = "".join(
        "<tr>" + "".join(f"<td>{html.escape('' if row.get(c) is None else str(row[c]))}</td>" for c in ADAPTER_COLUMNS)
        + "</tr>"
        for row in rows
    )
    return f'<table class="ag-table"><thead><tr>{head}</tr></thead><tbody>{body}</tbody></table>'
