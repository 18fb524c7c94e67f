"""Plotly figures from plain data: what adapters cost on disk, how their outputs differ, what reviewers preferred.

Inputs are the dicts and dataclasses the core already returns (``StorageReport.to_dict()``,
``metrics.difference_summary``, ``review_stats``), so the UI and the HTML reports draw the same figures.
Every figure reads on a projector (large font, fixed height; the storage chart adds a
row per adapter) and says what to do when there is nothing to draw yet.
"""

from __future__ import annotations

import html
import math

import plotly.graph_objects as go
from plotly.subplots import make_subplots

from adapters_ui.analysis.review_stats import Strength
from adapters_ui.analysis.text_diff import VariantDifference
from adapters_ui.analysis.weights import WeightEffects
from adapters_ui.formatting import ON_SERVER, byte_tick_label, byte_unit, format_bytes, format_ratio, shorten

HEIGHT = 380
FONT_SIZE = 15
ROW_PX = 30  # storage chart: one bar row, room for a 13 px label inside a 22 px bar
NAME_CHARS = 18  # storage chart: adapter names longer than this end in "…" on the axis
FULL_COPY = "full model copy"
NO_ADAPTERS = "Attach an adapter to see its size"
NO_ADAPTERS_SCALING = "Attach an adapter to see what many tasks cost"
ON_SERVER_LABEL = f"{ON_SERVER}: its files are not readable here"
NO_SIZES_SCALING = "The adapters are on the server: their sizes are not known here"
NO_COMPARISON = "Run a comparison to see how outputs differ"
NO_COMPLETE_PAIRS = "No adapter has a complete output next to the base's yet"

_LABEL_SIZE = 13
_MAX_BAR_PX = 40
_MAX_TICKS = 5  # log ticks on the storage axis: more would touch at 500 px
_INSIDE_SHARE = 0.45  # a bar ending closer than this share of the axis to its right end gets its label inside
_STORAGE_MARGIN = {"l": 10, "r": 20, "t": 60, "b": 60}  # the y axis widens "l" to fit the names (automargin)

# The toolbar keeps download-as-PNG and reset: zooming bars and boxes adds little, and ten buttons covered the
# title on a phone (where the page's CSS also moves the toolbar under the chart).
_MODEBAR_REMOVED = ["zoom", "pan", "select", "lasso", "zoomin", "zoomout", "autoscale"]

_ADAPTER_COLOR, _FULL_COLOR, _CHANGED_COLOR, _SIMILAR_COLOR = "#4c72b0", "#c44e52", "#dd8452", "#55a868"


def _styled(fig: go.Figure, title: str, **layout) -> go.Figure:
    """The one look every figure shares: clean template, big font, legend on top, small margins.

    Width is never fixed (``autosize``): the page decides it, and a figure drawn while its
    tab was hidden must be free to take its box's width when shown.
    """
    fig.update_layout(
        template="plotly_white",
        autosize=True,
        title={"text": title, "x": 0.01, "xanchor": "left", "y": 0.97, "yanchor": "top"},
        font={"size": FONT_SIZE},
        height=HEIGHT,
        margin={"l": 70, "r": 20, "t": 90, "b": 50},
        legend={"orientation": "h", "x": 0, "xanchor": "left", "y": 1.0, "yanchor": "bottom"},
        modebar={"remove": _MODEBAR_REMOVED},
    )
    return fig.update_layout(**layout)  # a second pass, so a figure may change one default (margin, height)


def _empty(title: str, message: str) -> go.Figure:
    """No data, hidden axes, and a centred line saying what to do."""
    fig = go.Figure()
    fig.add_annotation(text=message, x=0.5, y=0.5, xref="paper", yref="paper", showarrow=False,
                       font={"size": FONT_SIZE + 3, "color": "#6b7280"})
    return _styled(fig, title, xaxis={"visible": False}, yaxis={"visible": False})


def storage_figure(storage: dict) -> go.Figure:
    """One horizontal bar per adapter, then one for a full fine-tuned copy, bytes on a log axis.

    Horizontal, so 16 adapter names stay readable at half a laptop screen: names on the
    y axis (cut to ``NAME_CHARS``, full name in the hover), one row each, and the figure
    grows ``ROW_PX`` per row. Each adapter reads ``943.0 kB · 571x smaller`` beside its
    bar; the full copy states its own size once, inside its bar. The log axis makes a
    1 MB adapter and a 538 MB copy both visible; the label gives the real ratio.
    """
    title = "Bytes on disk: adapters vs a full model copy"
    adapters = storage.get("adapters") or {}
    if not adapters:
        return _empty(title, NO_ADAPTERS)
    full = storage["full_model_bytes"]
    names = [*adapters, FULL_COPY]  # y categories: the full names, so two cut alike never share a row
    # An adapter served from a folder this machine cannot read has no size here (None): a row with no bar that says so.
    sizes = [None if a["bytes"] is None else max(a["bytes"], 1) for a in adapters.values()] + [max(full, 1)]
    known = [n for n in sizes if n is not None]
    low = math.floor(math.log10(min(known)) if len(known) > 1 else math.log10(max(full, 1)) - 3) - 0.15
    high = math.log10(max(known)) + 0.05
    labels = [ON_SERVER_LABEL if n is None else f"{format_bytes(n)} · {format_ratio(full / n)}" for n in sizes[:-1]]
    labels.append(f"{format_bytes(full)} ({storage.get('full_model_dtype', '?')})")
    # A label beside a long bar would run off the chart: those go inside their bar, in white.
    inside = [n is not None and (high - math.log10(n)) / (high - low) < _INSIDE_SHARE for n in sizes]
    full_hover = (f"{FULL_COPY}<br>{format_bytes(full)} as {storage.get('full_model_dtype', '?')}"
                  f"<br>{storage.get('full_model_params', 0):,} params")
    if storage.get("base_file_bytes"):
        full_hover += f"<br>base weights file: {format_bytes(storage['base_file_bytes'])}"
    hovers = [f"{html.escape(name)}<br>{ON_SERVER_LABEL}" if a["bytes"] is None else
              f"{html.escape(name)}<br>{format_bytes(a['bytes'])} on disk<br>{a['params']:,} params ({a['dtype']})"
              for name, a in adapters.items()] + [full_hover]
    if None in sizes:
        title += " (server adapters: size unknown here)"

    fig = go.Figure(go.Bar(
        y=names, x=[10 ** (low + 0.02) if n is None else n for n in sizes], orientation="h", text=labels,
        textposition=["inside" if i else "outside" for i in inside],
        insidetextanchor="end", textangle=0, constraintext="none", cliponaxis=False,
        textfont={"size": _LABEL_SIZE, "color": ["white" if i else "#1f2937" for i in inside]},
        hovertext=hovers, hoverinfo="text",
        marker_color=["rgba(0,0,0,0)" if n is None else _ADAPTER_COLOR for n in sizes[:-1]] + [_FULL_COLOR],
        showlegend=False,
    ))
    exponents = range(math.ceil(low), math.floor(high) + 1)
    step = max(1, math.ceil(len(exponents) / _MAX_TICKS))  # every decade, or every other one on a wide span
    ticks = [k for k in exponents if (k - exponents[0]) % step == 0]
    height = max(HEIGHT, _STORAGE_MARGIN["t"] + _STORAGE_MARGIN["b"] + len(names) * ROW_PX)
    row_px = (height - _STORAGE_MARGIN["t"] - _STORAGE_MARGIN["b"]) / len(names)
    return _styled(
        fig, title, height=height, margin=_STORAGE_MARGIN,
        bargap=max(0.25, 1 - _MAX_BAR_PX / row_px),  # two bars in 380 px would each be 100 px thick
        xaxis={"type": "log", "title": "on disk (log scale)", "range": [low, high],
               "tickvals": [10**k for k in ticks], "ticktext": [byte_tick_label(k) for k in ticks]},
        yaxis={"type": "category", "autorange": "reversed", "automargin": True, "tickfont": {"size": _LABEL_SIZE}, "ticklabelstandoff": 6,
               "tickvals": names, "ticktext": _axis_names(names)},
    )


def _axis_names(names: list[str]) -> list[str]:
    """Names cut to ``NAME_CHARS`` for the axis; two that would cut alike get a few more characters each."""
    labels = []
    for name in names:
        for limit in range(NAME_CHARS, NAME_CHARS + 9):
            label = shorten(name, limit)
            if not any(other != name and shorten(other, limit) == label for other in names):
                break
        else:  # alike for 26 characters: show the end, where versions usually differ
            label = name[:8] + "…" + name[9 - NAME_CHARS:]
        labels.append(html.escape(label))
    return labels


def scaling_figure(storage: dict, max_tasks: int = 10) -> go.Figure:
    """Disk cost of N task versions: N full copies, or one base plus N adapters (their mean size)."""
    if max_tasks < 1:
        raise ValueError(f"max_tasks must be at least 1, got {max_tasks}")
    title = "N task versions: full copies vs base + adapters"
    adapters = storage.get("adapters") or {}
    if not adapters:
        return _empty(title, NO_ADAPTERS_SCALING)
    known = [a["bytes"] for a in adapters.values() if a["bytes"] is not None]
    if not known:
        return _empty(title, NO_SIZES_SCALING)
    full = storage["full_model_bytes"]
    mean_adapter = sum(known) / len(known)  # adapters on the server, of unknown size here, left out
    tasks = list(range(1, max_tasks + 1))
    copies = [n * full for n in tasks]
    shared = [full + n * mean_adapter for n in tasks]
    unit, size = byte_unit(max(copies[-1], shared[-1]))

    fig = go.Figure()
    for name, values, color in (("N full fine-tuned copies", copies, _FULL_COLOR),
                                ("one base + N adapters", shared, _ADAPTER_COLOR)):
        fig.add_trace(go.Scatter(
            x=tasks, y=[v / size for v in values], name=name, mode="lines+markers", line={"color": color, "width": 3},
            hovertemplate=f"%{{x}} tasks: %{{y:,.3g}} {unit}<extra>{name}</extra>",
        ))
    fig.add_annotation(
        x=max_tasks, y=shared[-1] / size, ax=0, ay=-60, xanchor="right", showarrow=True, arrowhead=2,
        text=f"{max_tasks} tasks: {format_bytes(copies[-1])} vs {format_bytes(round(shared[-1]))}",
        bgcolor="rgba(255,255,255,0.85)",
    )
    return _styled(fig, title, xaxis={"title": "task versions (N)", "dtick": 1},
                   yaxis={"title": f"{unit} on disk", "rangemode": "tozero", "tickformat": ",.3~g"})


def difference_figure(summary: list[VariantDifference]) -> go.Figure:
    """Per adapter: how many prompts it changed, and how close its words stay to the base (both %).

    Horizontal, like the storage chart beside it: one row per adapter (names cut as there),
    two bars per row, and the figure grows ``2 * ROW_PX`` per row, so 16 adapters stay readable.
    Adapters with no complete output next to a complete base (a run stopped early) are left out.
    """
    title = "How much each adapter changes the outputs"
    if not summary:
        return _empty(title, NO_COMPARISON)
    summary = [d for d in summary if d.prompts]
    if not summary:
        return _empty(title, NO_COMPLETE_PAIRS)
    names = [d.variant for d in summary]
    fig = go.Figure()
    for name, values, color in (
        ("prompts changed vs base", [100 * d.share_changed for d in summary], _CHANGED_COLOR),
        ("mean word similarity to base", [100 * d.mean_similarity for d in summary], _SIMILAR_COLOR),
    ):
        fig.add_trace(go.Bar(
            y=names, x=values, name=name, orientation="h", marker_color=color, text=[f"{v:.0f}%" for v in values],
            textposition="auto", textangle=0, hovertemplate=f"%{{y}}: %{{x:.1f}}%<extra>{name}</extra>",
        ))
    margin = {**_STORAGE_MARGIN, "t": 100}  # room for the legend under the title
    height = max(HEIGHT, margin["t"] + margin["b"] + len(names) * 2 * ROW_PX)
    return _styled(
        fig, title, barmode="group", height=height, margin=margin, bargap=0.25,
        xaxis={"range": [0, 100], "title": "% of prompts / % of words", "ticksuffix": "%"},
        yaxis={"type": "category", "autorange": "reversed", "automargin": True, "tickfont": {"size": _LABEL_SIZE},
               "tickvals": names, "ticktext": _axis_names(names)},
    )


NO_ANALYSIS = "Analyze a comparison to see what each MB of adapter buys"


def effect_figure(storage: dict, analysis: dict | None) -> go.Figure:
    """Each adapter's bytes on disk (log x) against its mean divergence from the base, and, when
    the prompts carry references, against its ROUGE-L F1 (second panel): what does each MB buy?

    ``analysis`` is ``Analysis.to_dict()``; adapters it did not score are left out."""
    title = "What each MB buys: size vs change from base"
    adapters = storage.get("adapters") or {}
    divergence = (analysis or {}).get("mean_divergence") or {}
    names = [name for name in adapters if name in divergence and adapters[name]["bytes"] is not None]
    if not names:
        return _empty(title, NO_ANALYSIS)
    references = {row["variant"]: row for row in (analysis.get("references") or [])}
    panels = [("mean KL from base (nats/token)", [divergence[n] for n in names], "%{y:.3f} nats/token")]
    if references:
        panels.append(("ROUGE-L F1 vs references (%)", [100 * references[n]["rouge_l"] if n in references else None for n in names],
                       "%{y:.0f}% ROUGE-L F1"))
    sizes = [max(adapters[n]["bytes"], 1) for n in names]
    fig = make_subplots(rows=1, cols=len(panels), horizontal_spacing=0.12)
    for column, (label, values, value_hover) in enumerate(panels, start=1):
        fig.add_trace(go.Scatter(
            x=sizes, y=values, mode="markers+text", text=_axis_names(names), textposition="top center",
            marker={"size": 14, "color": _ADAPTER_COLOR}, showlegend=False, customdata=[format_bytes(b) for b in sizes],
            hovertemplate=f"%{{text}}: %{{customdata}} on disk, {value_hover}<extra></extra>",
        ), row=1, col=column)
        top = max((v for v in values if v is not None), default=0) or 1
        fig.update_yaxes(title_text=label, range=[0, 1.2 * top], row=1, col=column)  # room for the names above
    low, high = math.floor(math.log10(min(sizes))), math.ceil(math.log10(max(sizes)) + 0.01)
    ticks = list(range(low, high + 1))
    fig.update_xaxes(type="log", title_text="on disk (log scale)", range=[low - 0.2, high + 0.2],
                     tickvals=[10**k for k in ticks], ticktext=[byte_tick_label(k) for k in ticks])
    return _styled(fig, title)


NO_JUDGEMENTS = "Collect blind-review judgements to see who beats whom"
NO_STRENGTHS = "Collect blind-review judgements to see each variant's strength"
_WIN_SCALE = [[0.0, "#c44e52"], [0.5, "#f7f7f7"], [1.0, "#4c72b0"]]  # red: row loses, white: even, blue: row wins


def win_matrix_figure(variants: list[str], matrix: list[list[float | None]]) -> go.Figure:
    """Heatmap of ``review_stats.win_matrix``: the row variant beats the column variant this often.

    White is an even split (0.5), blue the row winning, red the row losing, so a strong
    variant reads as a blue row. Pairs nobody judged (and the diagonal) show "—".
    """
    title = "How often the row variant beats the column variant"
    if len(variants) < 2 or all(cell is None for row in matrix for cell in row):
        return _empty(title, NO_JUDGEMENTS)
    text = [["—" if cell is None else f"{100 * cell:.0f}%" for cell in row] for row in matrix]
    hovers = [[f"{html.escape(a)} vs {html.escape(b)}: " + ("not judged" if cell is None else f"{100 * cell:.1f}% won")
               for b, cell in zip(variants, row)] for a, row in zip(variants, matrix)]
    labels = _axis_names(list(variants))
    fig = go.Figure(go.Heatmap(
        z=matrix, x=list(variants), y=list(variants), text=text, texttemplate="%{text}", textfont={"size": _LABEL_SIZE},
        hovertext=hovers, hoverinfo="text", colorscale=_WIN_SCALE, zmin=0, zmax=1, zmid=0.5, xgap=2, ygap=2,
        colorbar={"title": {"text": "row wins"}, "tickformat": ".0%"},
    ))
    side = max(HEIGHT, 150 + len(variants) * 2 * ROW_PX)
    return _styled(
        fig, title, height=side, margin={"l": 10, "r": 20, "t": 60, "b": 60},
        xaxis={"type": "category", "title": "opponent (column)", "tickvals": list(variants), "ticktext": labels,
               "automargin": True, "side": "bottom"},
        yaxis={"type": "category", "title": "variant (row)", "autorange": "reversed", "automargin": True,
               "tickvals": list(variants), "ticktext": labels},
    )


def strength_figure(strengths: list[Strength]) -> go.Figure:
    """Bradley–Terry strengths, one dot per variant, bootstrap 95% interval as whiskers.

    Rows keep the order given (``bradley_terry`` ranks best first, drawn at the top); the
    dotted line marks the average variant (1000). Overlapping whiskers: no clear winner yet.
    """
    title = "Strength (Bradley–Terry, Elo-like scale) with 95% interval"
    if not strengths:
        return _empty(title, NO_STRENGTHS)
    names = [s.variant for s in strengths]
    scores = [s.score for s in strengths]
    fig = go.Figure(go.Scatter(
        x=scores, y=names, mode="markers+text", text=[f"{x:.0f}" for x in scores], textposition="top center",
        marker={"size": 12, "color": _ADAPTER_COLOR}, showlegend=False, cliponaxis=False,  # the top row's label
        error_x={"type": "data", "symmetric": False, "array": [s.high - s.score for s in strengths],
                 "arrayminus": [s.score - s.low for s in strengths], "thickness": 2, "width": 6},
        hovertext=[f"{html.escape(s.variant)}: {s.score:.0f} (95% interval {s.low:.0f}–{s.high:.0f})" for s in strengths],
        hoverinfo="text",
    ))
    fig.add_vline(x=1000, line={"dash": "dot", "color": "#8a8f99"})
    height = max(HEIGHT, _STORAGE_MARGIN["t"] + _STORAGE_MARGIN["b"] + len(names) * 2 * ROW_PX)
    return _styled(
        fig, title, height=height, margin=_STORAGE_MARGIN,
        xaxis={"title": "strength (1000 = average variant; +400 = 10:1 odds)"},
        yaxis={"type": "category", "autorange": "reversed", "automargin": True, "tickfont": {"size": _LABEL_SIZE},
               "tickvals": names, "ticktext": _axis_names(names)},
    )


NO_WEIGHT_EFFECTS = "Attach an adapter to see what it changed in the weights"
_OUTSIDE_BLOCKS = "other"  # the weight heatmap's row for modules outside the transformer blocks (embeddings, lm_head)
_WEIGHT_ROW_PX = 22


def weight_heatmap_figure(effects: WeightEffects | None) -> go.Figure:
    """``analysis.weights.weight_effects`` as a grid: one row per transformer block (layer 0 on top),
    one column per module in the model's order (q, k, v, o, gate, up, down), colour = ||ΔW||_F.

    Modules the adapter does not touch stay empty, so a q,v-only LoRA shows two coloured
    columns. Modules outside the blocks (embeddings, lm_head) share a last row; prompt learning
    is one row of virtual tokens. The hover has the path and every number the table has.
    """
    if effects is None or not effects.modules:
        return _empty("Size of the weight update per layer and module", NO_WEIGHT_EFFECTS)
    per_token = all(m.module.startswith("token ") and m.layer is None for m in effects.modules)
    if per_token:
        title = f"{html.escape(effects.adapter)}: size of each virtual token's vector (L2 norm)"
    else:
        title = f"{html.escape(effects.adapter)}: size of the weight update ||ΔW||_F per layer and module"
    rows = sorted({m.layer for m in effects.modules if m.layer is not None})
    if any(m.layer is None for m in effects.modules):
        rows.append(None)
    columns = _weight_columns(effects)
    keys = list(columns)
    z = [[None] * len(keys) for _ in rows]  # [layers, modules]: None = not changed by this adapter
    hovers = [[""] * len(keys) for _ in rows]
    for m in effects.modules:
        row, column = rows.index(m.layer), keys.index(_weight_column(m))
        z[row][column], hovers[row][column] = m.norm, _weight_hover(m, per_token)
    row_labels = [("virtual tokens" if per_token else _OUTSIDE_BLOCKS) if r is None else str(r) for r in rows]
    fig = go.Figure(go.Heatmap(
        z=z, x=list(columns.values()), y=row_labels, hovertext=hovers, hoverinfo="text", colorscale="Viridis",
        xgap=1, ygap=1, hoverongaps=False, colorbar={"title": {"text": "L2 norm" if per_token else "||ΔW||_F"}},
    ))
    height = max(HEIGHT, 160 + len(rows) * _WEIGHT_ROW_PX)
    return _styled(
        fig, title, height=height,
        xaxis={"type": "category", "title": "virtual token" if per_token else "module", "automargin": True},
        yaxis={"type": "category", "title": "" if per_token else "layer (block)", "autorange": "reversed",
               "automargin": True},
    )


def _weight_column(effect) -> str:
    """The module's path inside its block ("self_attn.q_proj"), or its whole path outside blocks:
    two modules of one block never share a column, even when their short names match (MoE experts)."""
    if effect.layer is None:
        return effect.path
    marker = f".{effect.layer}."
    return effect.path.split(marker, 1)[1] if marker in effect.path else effect.module


def _weight_columns(effects: WeightEffects) -> dict[str, str]:
    """{column key: axis label} in the model's order, block modules first (as a block orders them),
    then the rest. Labels are the short names ("q_proj", "token 0"), the key where two would share one."""
    ordered = [m for m in effects.modules if m.layer is not None] + [m for m in effects.modules if m.layer is None]
    short: dict[str, str] = {}
    for m in ordered:
        short.setdefault(_weight_column(m), m.module)
    names = list(short.values())
    return {key: html.escape(name if names.count(name) == 1 else key) for key, name in short.items()}


def _weight_hover(effect, per_token: bool) -> str:
    lines = [html.escape(effect.path), f"{'L2 norm' if per_token else '||ΔW||_F'}: {effect.norm:.4g}"]
    if effect.relative is not None:
        lines.append(f"{effect.relative:.3g}x a typical token's norm" if per_token
                     else f"relative to ||W||_F: {effect.relative:.3g}")
    if effect.rank is not None or effect.effective_rank is not None:
        lines.append(" · ".join(part for part in (
            f"rank {effect.rank}" if effect.rank is not None else "",
            f"effective rank {effect.effective_rank:.2f}" if effect.effective_rank is not None else "",
        ) if part))
    if effect.magnitude_change is not None:
        lines.append(f"DoRA magnitude change: {effect.magnitude_change:.3g}")
    return "<br>".join(lines)
