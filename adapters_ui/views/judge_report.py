"""A review's judge section as HTML for the owner's page: how the judge behaves when the answers swap places,
how often it agrees with the people (a confusion matrix, and every disagreement, which opens to its pair),
and plain against style-controlled strengths and length-controlled win rates, for the people and the judge.

It reads plain data (``runs/review_judging.ReviewJudgingView``'s fields); every text a person or a model
wrote is escaped, so an answer such as ``<script>`` reads as that text and never runs.
"""

from __future__ import annotations

import html

from adapters_ui.formatting import plural
from adapters_ui.views.review_report import _note, _table, verdict

# The matrix orients every pair by its names A–Z: "first" is the name that sorts first (base before pirate).
JUDGE_LABELS = {"left": "first (A–Z) better", "right": "second (A–Z) better", "tie": "tie or both bad"}
TEXT = '<div class="judge-text">{}</div>'


def _share(value: float | None) -> str:
    return "–" if value is None else f"{100 * value:.0f}%"


def _percent(value: float | None) -> str:
    return "–" if value is None else f"{value:.0f}%"


def _number(value: float | None) -> str:
    return "–" if value is None else f"{value:.2f}"


def swap_section(swap: dict) -> str:
    """Swap consistency and position bias (MT-Bench, JudgeLM): over pairs whose two orders were both read."""
    parsed = swap["pairs"] - swap["unparseable"]
    return (
        "<h2>The judge, answers swapped</h2>"
        f"<p id=\"judge-swap\">Every pair was judged twice, each answer shown first once. <b>Consistency "
        f"{_share(swap['consistency'])}</b>: {swap['consistent']} of {parsed} read pairs got the same verdict both "
        f"ways (a verdict counts only then; otherwise it is a tie). <b>Position bias {_share(swap['position_bias'])}"
        f"</b> of its decisive single-order verdicts picked the answer shown first (50% = none). "
        f"{plural(swap['favours_first'], 'pair')} went to whichever came first, {swap['favours_second']} to whichever "
        f"came second; {plural(swap['unparseable'], 'pair')} had a reply that could not be read (a reply cut off "
        "at the token limit, or naming no verdict: counted, never guessed).</p>"
    )


def agreement_section(agreement: dict | None, prompts: list[str], outputs: list[dict]) -> str:
    """Judge–human agreement with and without ties, the confusion matrix, and each disagreement with its pair."""
    if agreement is None:
        return "<h2>Judge and people</h2>" + _note("No pair has both a judge verdict and a person's vote yet.")
    a = agreement
    words = (f"<p id=\"judge-agreement\">On {a['compared']} (judge, person) comparisons of the same pair on the same "
             f"prompt, they agreed <b>{_percent(a['percent_with_ties'])}</b> of the time (Cohen's κ "
             f"{_number(a['kappa_with_ties'])}); leaving out every tie and “both bad”, <b>"
             f"{_percent(a['percent_without_ties'])}</b> of {a['compared_without_ties']} (κ "
             f"{_number(a['kappa_without_ties'])}).</p>")
    labels = [JUDGE_LABELS[label] for label in a["labels"]]
    rows = [[f"person: {labels[i]}", *row] for i, row in enumerate(a["confusion"])]
    matrix = _table(["", *(f"judge: {label}" for label in labels)], rows)
    return "<h2>Judge and people</h2>" + words + matrix + _disagreements(a["disagreements"], prompts, outputs)


def _disagreements(disagreements: list[dict], prompts: list[str], outputs: list[dict]) -> str:
    if not disagreements:
        return _note("No disagreement.")
    opened = []
    for d in disagreements:
        i, pair = d["prompt_index"], [d["left"], d["right"]]
        texts = outputs[i] if i < len(outputs) else {}
        summary = (f"#{i + 1} {pair[0]} vs {pair[1]}: {d['reviewer']} said {_said(pair, d['human'])}, the judge "
                   f"{_said(pair, d['judge'])}")
        answers = "".join(f"<p><b>{html.escape(v)}</b></p>" + TEXT.format(html.escape(texts.get(v, ""))) for v in pair)
        opened.append(f"<details class=\"judge-disagreement\"><summary>{html.escape(summary)}</summary>"
                      "<p><b>Prompt</b></p>" + TEXT.format(html.escape(prompts[i] if i < len(prompts) else ""))
                      + f"{answers}</details>")
    return f"<h3>Disagreements ({len(disagreements)}), each opens its pair</h3>" + "".join(opened)


def _said(pair: list[str], choice: str) -> str:
    return verdict(pair, choice) if choice in ("left", "right", "tie", "both_bad") else choice


def style_section(strengths: dict, length_controlled: dict, baseline: str) -> str:
    """Plain against style-controlled Bradley–Terry (LMArena) and length-controlled win rates (AlpacaEval 2)."""
    if not strengths:
        return "<h2>Style control</h2>" + _note("No verdicts yet: the tables fill in as people and the judge pick.")
    rows = []
    for who, fit in strengths.items():
        for s in fit["strengths"]:
            flag = f"yes: {s['plain_rank']} → {s['controlled_rank']}" if s["rank_changed"] else ""
            rows.append([who, s["variant"], f"{s['plain']:.0f}", f"{s['controlled']:.0f}", flag])
    table = _table(["verdicts of", "variant", "plain strength", "style-controlled", "rank changes"], rows)
    effects = [f"{who}: " + (", ".join(f"{c['name']} {c['estimate']:+.2f}" for c in fit["coefficients"]) or "none estimable")
               for who, fit in strengths.items()]
    lc_rows = [[who, r["variant"], r["n"], _share(r["win_rate"]), _share(r["lc_win_rate"]),
                f"{_share(r['lc_low'])} – {_share(r['lc_high'])}"]
               for who, rates in length_controlled.items() for r in rates]
    lc = (_table(["verdicts of", "variant", "judgements", "win rate", "length-controlled", "95% interval"], lc_rows)
          if lc_rows else _note(f"No verdict against {baseline} yet."))
    return (
        "<h2>Style control</h2>"
        "<p>Judges and people both lean to longer, list-heavy answers. The style-controlled strength is what the "
        "verdicts credit a variant with once the length, header, list and bold differences of each pair are "
        "accounted for (a logistic fit with them as covariates, as LMArena does); a changed rank means part of "
        "its place was its style.</p>"
        f'<div id="style-table">{table}</div>'
        f"<p>Style effects (log-odds of winning per typical difference): {html.escape('; '.join(effects))}.</p>"
        f"<h3>Win rate against {html.escape(baseline)}, raw and length-controlled (AlpacaEval 2)</h3>" + lc
    )


def judge_section_html(view) -> str:
    """The whole judge section of a ``ReviewJudgingView``: swap, agreement, then style control."""
    parts = [swap_section(view.swap)] if view.swap else []
    if view.judging is not None:
        parts.append(agreement_section(view.agreement, view.prompts, view.outputs))
    parts.append(style_section(view.strengths, view.length_controlled, view.baseline))
    return "".join(parts)
