"""A blind-review round as HTML: one self-contained page for stakeholders, and its tables for the UI.

``results_html`` is the page a stakeholder opens offline (plotly.js and the CSS inlined,
like ``report.to_html``); ``results_tables_html`` is its tables part alone, which the web
UI shows in a ``gr.HTML`` beside the two figures from ``charts``. Reviewers' names,
prompts and comments are user text: every one goes through ``html.escape``, so a comment
such as ``<script>alert(1)</script>`` reads as that text and never runs:

    >>> from adapters_ui.analysis.review_stats import Judgement, summarise
    >>> js = [Judgement(0, "base", "pirate", "ana", "right", "<b>arr</b>")]
    >>> results = summarise("Pirate tone", ["Say hi"], ["base", "pirate"], js, bootstrap=0)
    >>> "&lt;b&gt;arr&lt;/b&gt;" in results_tables_html(results)
    True
    >>> Path("review.html").write_text(results_html(results), encoding="utf-8")  # doctest: +SKIP
"""

from __future__ import annotations

import html

from adapters_ui.analysis.review_stats import ReviewResults, kappa_words
from adapters_ui.formatting import plural
from adapters_ui.views.charts import strength_figure, win_matrix_figure
from adapters_ui.views.html import VIEW_CSS
from adapters_ui.views.report import _PAGE_CSS, _meta, figures_html, page_html

NOT_ENOUGH_OVERLAP = "not enough overlap"


def _table(columns: list[str], rows: list[list]) -> str:
    """A plain ``ag-table``; every header and cell escaped, None shown blank."""
    head = "".join(f"<th>{html.escape(c)}</th>" for c in columns)
    body = "".join(
        "<tr>" + "".join(f"<td>{html.escape('' if cell is None else str(cell))}</td>" for cell in row) + "</tr>"
        for row in rows
    )
    return f'<table class="ag-table"><thead><tr>{head}</tr></thead><tbody>{body}</tbody></table>'


def _note(text: str) -> str:
    return f'<p class="ag-note">{html.escape(text)}</p>'


def _percent(x: float) -> str:
    return f"{100 * x:.0f}%"


def verdict(pair: list[str], choice: str) -> str:
    """A choice in words: ``"pirate better"``, ``"tie"``, ``"both bad"`` (the stored choice is only a side)."""
    left, right = pair
    return {"left": f"{left} better", "right": f"{right} better", "tie": "tie", "both_bad": "both bad"}[choice]


def _win_rates_section(results: ReviewResults) -> str:
    rows = [[w.variant, w.n, w.wins, w.losses, w.ties, w.both_bad, _percent(w.rate),
             f"{_percent(w.low)} – {_percent(w.high)}"] for w in results.win_rates]
    return (
        "<h2>Win rates</h2>"
        "<p>Share of its judgements each variant won; a tie or “both bad” counts as half a win. "
        "The 95% interval (Wilson) says how sure that share is with this many judgements.</p>"
        + _table(["variant", "judgements", "wins", "losses", "ties", "both bad", "win rate", "95% interval"], rows)
    )


def _strengths_section(results: ReviewResults) -> str:
    rows = [[rank, s.variant, f"{s.score:.0f}", f"{s.low:.0f} – {s.high:.0f}"]
            for rank, s in enumerate(results.strengths, start=1)]
    how = (f"from {results.bootstrap} bootstrap resamples (seed {results.seed})" if results.bootstrap
           else "not computed (no bootstrap)")
    return (
        "<h2>Strength (Bradley–Terry)</h2>"
        "<p>One score per variant from every head-to-head judgement at once, on an Elo-like scale: "
        "1000 is the average variant, and 400 points more means 10:1 odds of being preferred. "
        f"95% interval {html.escape(how)}; variants whose intervals overlap are not clearly apart yet.</p>"
        + _table(["rank", "variant", "strength", "95% interval"], rows)
    )


def _per_prompt_section(results: ReviewResults) -> str:
    rows = [[r["prompt_index"] + 1, r["prompt"], r["judgements"], *(r["wins"][v] for v in results.variants)]
            for r in results.per_prompt]
    return (
        "<h2>Prompt by prompt</h2>"
        "<p>Wins out of judgements on each prompt (ties half); “—”: not judged on that prompt.</p>"
        + _table(["#", "prompt", "judgements", *results.variants], rows)
    )


def _agreement_section(results: ReviewResults) -> str:
    a = results.agreement
    if a.percent is None:
        body = _note(f"Agreement: {NOT_ENOUGH_OVERLAP}. No two reviewers judged the same pair on the same prompt; "
                     "give some items to two or more reviewers to measure it.")
    else:
        if a.fleiss_kappa is None:
            kappa = "Fleiss' κ: not defined (every vote fell in one category, so chance alone agrees fully)."
        else:
            kappa = f"Fleiss' κ = {a.fleiss_kappa:.2f}: {kappa_words(a.fleiss_kappa)} agreement beyond chance."
        body = (f"<p>{a.percent:.0f}% of reviewer pairs agreed, over the {plural(a.items, 'item')} (prompt and pair) "
                f"that two or more reviewers judged ({plural(a.reviewers, 'reviewer')}). {html.escape(kappa)}</p>")
    return "<h2>Do reviewers agree?</h2>" + body


def _comments_section(results: ReviewResults) -> str:
    if not results.comments:
        return "<h2>Comments</h2>" + _note("No comments.")
    rows = [[c["reviewer"], f'#{c["prompt_index"] + 1}: {c["prompt"]}', " vs ".join(c["pair"]),
             verdict(c["pair"], c["choice"]), c["comment"]] for c in results.comments]
    return "<h2>Comments</h2>" + _table(["reviewer", "prompt", "pair", "verdict", "comment"], rows)


def results_tables_html(results: ReviewResults) -> str:
    """Win rates, strengths, prompt by prompt, agreement and every comment; no figures, no ``<style>``
    (the caller supplies ``VIEW_CSS`` once, as for the other views)."""
    if not results.judgements_count:
        return _note("No judgements yet: the tables fill in as reviewers pick.")
    return "".join([
        _win_rates_section(results), _strengths_section(results), _per_prompt_section(results),
        _agreement_section(results), _comments_section(results),
    ])


def _charts(results: ReviewResults) -> str:
    """The two figures; plotly.js is inlined once, with the first."""
    return figures_html([strength_figure(results.strengths), win_matrix_figure(results.variants, results.win_matrix)])


def results_html(results: ReviewResults) -> str:
    """One self-contained HTML page: what was reviewed, both figures, then ``results_tables_html``."""
    title = f"Blind review — {results.title}"
    meta = _meta({
        "variants": ", ".join(results.variants) or "—",
        "prompts": str(len(results.prompts)),
        "judgements": str(results.judgements_count),
        "reviewers": f"{len(results.reviewers)}: {', '.join(results.reviewers)}" if results.reviewers else "—",
        "how it counts": "a tie or “both bad” is half a win to each side",
    })
    sections = [f"<h1>{html.escape(title)}</h1>", meta, "<h2>Charts</h2>", _charts(results), results_tables_html(results)]
    return page_html(title, sections, _PAGE_CSS + VIEW_CSS)
