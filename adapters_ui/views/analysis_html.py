"""HTML for the analysis, shared by the UI and the exported report: the heat view and two tables.

Input is the plain data of ``Analysis.to_dict()`` (so a saved JSON export renders the same).
The heat view shades each token of a variant's output by KL(variant || base); hovering a
token shows both models' probability of it and the base's own first choice:

    heat_html("pirate", prompts, analysis.to_dict()["tokens"]["pirate"])

No ``<style>`` in the markup: the caller supplies ``ANALYSIS_CSS`` once.
"""

from __future__ import annotations

import html
import math

from adapters_ui.analysis.references import LEADERBOARD_COLUMNS
from adapters_ui.names import BASE

KL_FULL = 2.0  # nats: a token this divergent or more gets the full shade

ANALYSIS_CSS = """
.ag-heat {font-size: 15px; color: #1f2328; background: #ffffff;}
.ag-heat .ag-legend {color: #4b5563; font-size: 14px; margin: 4px 0 8px;}
.ag-heat .ag-prompt {font-weight: 600; margin: 10px 0 4px; white-space: pre-wrap; overflow-wrap: anywhere;}
.ag-heat .ag-line {white-space: pre-wrap; overflow-wrap: anywhere; line-height: 1.9;
  border: 1px solid #d0d4dc; border-radius: 6px; padding: 6px 8px;}
.ag-heat .tok {position: relative; border-radius: 3px; cursor: help;}
.ag-heat .tok.top1 {text-decoration: underline 2px #b42318; text-underline-offset: 3px;}
.ag-heat .tok .tip {display: none; position: absolute; left: 0; top: 1.7em; z-index: 20; min-width: 16em;
  padding: 6px 8px; border-radius: 6px; background: #1f2328; color: #ffffff; font-size: 13px;
  line-height: 1.4; white-space: normal; box-shadow: 0 2px 8px rgba(0,0,0,.25);}
.ag-heat .tok:hover .tip {display: block;}
.ag-heat .ag-note {color: #6b7280; font-style: italic;}
table.ag-table td.num {text-align: right; font-variant-numeric: tabular-nums;}
"""

DIVERGENCE_COLUMNS = ("variant", "outputs", "tokens", "mean KL (nats/token)", "top-1 changed",
                      "first divergent token (mean)", "outputs the base agrees with throughout")
LEGEND = ("Shading: how far the variant's next-token distribution is from the base's at that token "
          f"(KL, 0 to {KL_FULL:g}+ nats). Underlined: the base would have picked another token. "
          "Hover a token for both probabilities and the base's pick.")


def _shade(kl: float) -> str:
    alpha = min(1.0, max(0.0, kl) / KL_FULL) * 0.85
    return f"background: rgba(221, 132, 82, {alpha:.2f})"


def _tip(variant: str, tokens: dict, i: int) -> str:
    base_pick = tokens["base_top"][i]
    return (f"p({html.escape(variant)}) = {math.exp(tokens['logprob'][i]):.3f}<br>"
            f"p(base) = {math.exp(tokens['base_logprob'][i]):.3f}<br>"
            f"base's pick: {html.escape(repr(base_pick))} ({tokens['base_top_prob'][i]:.3f})<br>"
            f"KL = {tokens['kl'][i]:.3f} nats")


def heat_line_html(variant: str, tokens: dict | None) -> str:
    """One output, its tokens shaded; ``tokens``: one entry of ``Analysis.to_dict()["tokens"][variant]``."""
    if tokens is None:
        return '<div class="ag-line ag-note">not scored: no output</div>'
    if not tokens["tokens"]:
        return '<div class="ag-line ag-note">(empty output)</div>'
    spans = []
    for i, piece in enumerate(tokens["tokens"]):
        classes = "tok top1" if tokens["top1_changed"][i] else "tok"
        spans.append(f'<span class="{classes}" style="{_shade(tokens["kl"][i])}" data-i="{i}">'
                     f'{html.escape(piece)}<span class="tip">{_tip(variant, tokens, i)}</span></span>')
    return f'<div class="ag-line">{"".join(spans)}</div>'


def heat_html(variant: str, prompts: list[str], outputs: list[dict | None]) -> str:
    """A variant's every output as a heat line under its prompt."""
    parts = [f'<div class="ag-heat" data-variant="{html.escape(variant)}"><div class="ag-legend">{LEGEND}</div>']
    for prompt, tokens in zip(prompts, outputs):
        parts.append(f'<div class="ag-prompt">{html.escape(prompt)}</div>{heat_line_html(variant, tokens)}')
    return "".join(parts) + "</div>"


def _table(headers, rows: list[list[str]]) -> str:
    head = "".join(f"<th>{html.escape(h)}</th>" for h in headers)
    body = "".join("<tr>" + "".join(row) + "</tr>" for row in rows)
    return f'<table class="ag-table"><thead><tr>{head}</tr></thead><tbody>{body}</tbody></table>'


def _cell(value, digits: int = 3, percent: bool = False, signed: bool = False) -> str:
    if value is None:
        return '<td class="num">–</td>'
    if isinstance(value, str):
        return f"<td>{html.escape(value)}</td>"
    if percent:
        text = f"{100 * value:+.0f} pt" if signed else f"{100 * value:.0f}%"
    else:
        text = f"{value:+.{digits}f}" if signed else f"{value:.{digits}f}" if isinstance(value, float) else str(value)
    return f'<td class="num">{text}</td>'


def divergence_rows(summaries: list[dict]) -> list[list]:
    """Plain rows of the divergence table (``Analysis.to_dict()["summaries"]``), for tables and frames."""
    rows = []
    for s in summaries:
        first = s["first_divergent"]
        rows.append([s["variant"], s["outputs"], "–" if s["tokens"] is None else s["tokens"], round(s["mean_divergence"], 4),
                     f"{100 * s['top1_changed_share']:.0f}%",
                     "–" if first is None else f"token {first + 1:.1f}",
                     f"{s['never_diverged']} of {s['outputs']}"])
    return rows


def divergence_table_html(summaries: list[dict]) -> str:
    rows = [[_cell(v) if isinstance(v, str) else _cell(v, 4) for v in row] for row in divergence_rows(summaries)]
    return _table(DIVERGENCE_COLUMNS, rows)


def leaderboard_table_html(rows: list[dict] | None) -> str:
    """The reference-score leaderboard (``Analysis.leaderboard()``), or a note when the prompts carry no reference."""
    if not rows:
        return ('<p class="ag-note">No reference answers in these prompts: load a prompt file with a '
                '"reference" field (e.g. the "styles" set) to score variants against them.</p>')
    cells = []
    for row in rows:
        line = []
        for key in LEADERBOARD_COLUMNS:
            value = row[key]
            if key in ("variant", "prompts"):
                line.append(_cell(value))
            elif key in ("exact_match", "contains", "rouge_l"):
                line.append(_cell(value, percent=True))
            elif key in ("d_exact_match", "d_contains", "d_rouge_l"):
                line.append(_cell(None if row["variant"] == BASE else value, percent=True, signed=True))
            elif key == "perplexity":
                line.append(_cell(value, 2))
            else:
                line.append(_cell(None if row["variant"] == BASE else value, 2, signed=True))
        cells.append(line)
    return _table(list(LEADERBOARD_COLUMNS.values()), cells)


def leaderboards_html(analysis: dict, heading: str = "h4") -> str:
    """The reference scores of ``Analysis.to_dict()``: one leaderboard per category of the prompt set when it
    has categories (each variant ranked on that category's prompts alone), then all prompts together; else the
    one leaderboard. A document saved before categories existed has no ``references_by_category``."""
    overall = analysis.get("references")
    by_category = analysis.get("references_by_category") or {}
    if not by_category:
        return leaderboard_table_html(overall)
    parts = [f'<{heading} class="ag-category">category: {html.escape(name)}</{heading}>' + leaderboard_table_html(rows)
             for name, rows in by_category.items()]
    parts.append(f'<{heading} class="ag-category">all categories together</{heading}>'
                 '<p class="ag-note">Every variant scored on every category\'s references (a style adapter also '
                 "against the other styles' answers): compare within a category above.</p>"
                 + leaderboard_table_html(overall))
    return "".join(parts)
