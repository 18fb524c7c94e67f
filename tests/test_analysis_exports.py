"""The analysis where people see it: `compare --analyze` (printed and in the JSON), the HTML report's
sections, the heat view's shading and tips, the size-against-effect chart and the leaderboard table.

Real runs on the tiny base with real adapters wherever a model is involved; hand-made dicts,
with the expected numbers worked out in comments, for the pure views.
"""

from __future__ import annotations

import dataclasses
import html
import json
import math
import re

import pytest
from helpers import JSON_KEYS

from adapters_ui.analysis.references import LEADERBOARD_COLUMNS, normalize, rouge_l_f1
from adapters_ui.cli.main import main
from adapters_ui.store import Database
from adapters_ui.store.saved import load_comparison, save_comparison
from adapters_ui.views.analysis_html import (
    KL_FULL,
    divergence_rows,
    heat_html,
    heat_line_html,
    leaderboard_table_html,
    leaderboards_html,
)
from adapters_ui.views.charts import NO_ANALYSIS, effect_figure
from adapters_ui.views.document import report_data, to_json
from adapters_ui.views.report import to_html

XSS = "<script>alert('x')</script>"
PROMPTS = ["Hello there", "What is 2+2?", f"Say hi {XSS}"]
TOKEN_ARRAYS = ("token_ids", "logprob", "base_logprob", "kl", "top1_changed", "base_top", "base_top_prob")
SECTIONS = ("Where each variant departs from the base, token by token", "Reference scores", "Token heat views")
ANALYZE_LINE = re.compile(r"^analyze: \d+\.\d\d s \(generate took \d+\.\d\d s\)$", re.M)


def _write_prompts(path, references: list[str | None]):
    path.write_text("".join(json.dumps({"prompt": p} | ({"reference": r} if r is not None else {})) + "\n"
                            for p, r in zip(PROMPTS, references)))
    return path


def _compare(tiny_base_dir, tiny_adapters, prompts, out, *extra) -> int:
    return main(["compare", "--base", str(tiny_base_dir), "--adapter", f"lora={tiny_adapters['lora']}",
                 "--adapter", f"ia3={tiny_adapters['ia3']}", "--prompts", str(prompts), "--max-new-tokens", "6",
                 "--json", str(out), *extra])


# ---- compare --analyze ----------------------------------------------------------------------


def test_compare_without_analyze_keeps_the_document_as_it_was(tiny_base_dir, tiny_adapters, tmp_path, capsys):
    prompts = _write_prompts(tmp_path / "p.jsonl", [None, "4", "Once upon a time"])  # references alone analyze nothing
    out = tmp_path / "plain.json"
    assert _compare(tiny_base_dir, tiny_adapters, prompts, out) == 0
    document = json.loads(out.read_text(encoding="utf-8"))
    assert list(document) == JSON_KEYS and "analysis" not in document
    assert [r.get("reference") for r in document["results"]] == [None, "4", "Once upon a time"]
    printed = capsys.readouterr().out
    assert "mean KL" not in printed and not ANALYZE_LINE.search(printed) and "reference scores" not in printed


def test_compare_analyze_writes_the_analysis_last(tiny_base_dir, tiny_adapters, tmp_path, capsys):
    # First a plain run, to learn the base's (greedy, deterministic) outputs: prompts 2 and 3 then take
    # the base's own outputs as their references, so the base must score 100% exact match on both.
    first = tmp_path / "first.json"
    assert _compare(tiny_base_dir, tiny_adapters, _write_prompts(tmp_path / "a.jsonl", [None, None, None]), first) == 0
    base_outputs = [r["outputs"]["base"] for r in json.loads(first.read_text(encoding="utf-8"))["results"]]
    assert all(o.strip() for o in base_outputs[1:]), "the references must be non-blank to count"
    capsys.readouterr()

    out = tmp_path / "analyzed.json"
    references = [None, base_outputs[1], base_outputs[2]]
    assert _compare(tiny_base_dir, tiny_adapters, _write_prompts(tmp_path / "b.jsonl", references), out, "--analyze") == 0
    document = json.loads(out.read_text(encoding="utf-8"))
    assert list(document) == [*JSON_KEYS, "analysis"]  # the analysis is added last, the rest unchanged
    assert [r["outputs"]["base"] for r in document["results"]] == base_outputs  # analyzing changes no output
    analysis, results = document["analysis"], document["results"]
    variants = ["base", "lora", "ia3"]

    assert list(analysis["mean_divergence"]) == variants
    assert analysis["mean_divergence"]["base"] == 0.0
    assert all(analysis["mean_divergence"][v] > 0.0 for v in ("lora", "ia3"))
    assert analysis["tokens"]["base"] == [None, None, None]  # the base is not read back against itself
    assert analysis["first_divergent"]["base"] is None and analysis["top1_changed_share"]["base"] == 0.0
    assert [s["variant"] for s in analysis["summaries"]] == variants
    assert analysis["analyze_s"] > 0
    for variant in ("lora", "ia3"):
        scored = analysis["tokens"][variant]
        assert len(scored) == len(PROMPTS)
        for result, tokens in zip(results, scored):
            assert "".join(tokens["tokens"]) == result["outputs"][variant]  # character tokenizer: one per char
            assert {name: len(tokens[name]) for name in TOKEN_ARRAYS} == {name: len(tokens["tokens"]) for name in TOKEN_ARRAYS}
            assert all(k >= 0.0 for k in tokens["kl"]) and all(lp <= 0.0 for lp in tokens["logprob"] + tokens["base_logprob"])
            # Teacher forcing meets greedy generation: wherever the adapter's output so far equals the base's,
            # the base's own pick for the next token is the token the base generated there.
            base = result["outputs"]["base"]
            for i in range(min(len(base), len(tokens["tokens"]))):
                assert tokens["base_top"][i] == base[i], (variant, result["prompt"], i)
                if result["outputs"][variant][i] != base[i]:
                    break
        # The summary is the pool of the token arrays: mean KL, share of changed top-1, mean first change.
        kls = [k for t in scored for k in t["kl"]]
        changed = [c for t in scored for c in t["top1_changed"]]
        firsts = [t["top1_changed"].index(True) for t in scored if True in t["top1_changed"]]
        summary = next(s for s in analysis["summaries"] if s["variant"] == variant)
        assert summary["tokens"] == len(kls) and summary["outputs"] == len(PROMPTS)
        assert analysis["mean_divergence"][variant] == summary["mean_divergence"] == pytest.approx(math.fsum(kls) / len(kls), abs=1e-5)
        assert analysis["top1_changed_share"][variant] == pytest.approx(sum(changed) / len(changed), abs=1e-6)
        assert 0.0 <= analysis["top1_changed_share"][variant] <= 1.0
        assert analysis["first_divergent"][variant] == (pytest.approx(sum(firsts) / len(firsts), abs=1e-3) if firsts else None)
        assert summary["never_diverged"] == len(PROMPTS) - len(firsts)

    rows = {row["variant"]: row for row in analysis["references"]}
    assert set(rows) == set(variants) and all(list(row) == list(LEADERBOARD_COLUMNS) for row in rows.values())
    assert all(row["prompts"] == 2 and row["perplexity"] > 1.0 for row in rows.values())
    assert (rows["base"]["exact_match"], rows["base"]["contains"]) == (1.0, 1.0)  # its own outputs as references
    for variant, row in rows.items():  # scored on prompts 2 and 3, against that prompt's own output
        pairs = [(r["outputs"][variant], r["reference"]) for r in results[1:]]
        assert row["exact_match"] == sum(normalize(o) == normalize(ref) for o, ref in pairs) / 2
        assert row["rouge_l"] == pytest.approx(sum(rouge_l_f1(o, ref) for o, ref in pairs) / 2)
        if variant == "base":
            assert [row[f"d_{k}"] for k in ("exact_match", "contains", "rouge_l", "perplexity")] == [None] * 4
        else:
            assert row["d_exact_match"] == pytest.approx(row["exact_match"] - 1.0)
            assert row["d_perplexity"] == pytest.approx(row["perplexity"] - rows["base"]["perplexity"])
    ranks = [(-row["rouge_l"], row["perplexity"]) for row in analysis["references"]]
    assert ranks == sorted(ranks)  # best first

    printed = capsys.readouterr().out
    assert "mean KL (nats/token)" in printed and "reference scores" in printed and "d_rouge_l" in printed
    assert len(ANALYZE_LINE.findall(printed)) == 1
    table = printed.split("mean KL (nats/token)")[1]
    for variant in variants:  # one row each, its mean KL as the JSON has it (4 significant digits)
        line = next(line for line in table.splitlines() if line.startswith(variant + " "))
        assert f"{round(analysis['mean_divergence'][variant], 4):.4g}" in line.split()


# ---- the HTML report ------------------------------------------------------------------------


@pytest.fixture
def analyzed(tiny_session, tiny_adapters):
    """(report data with the analysis of a real comparison, that analysis as a dict) on the tiny session."""
    tiny_session.attach(tiny_adapters["lora"], "lora")
    tiny_session.attach(tiny_adapters["ia3"], "ia3")
    settings = tiny_session.generation_settings(max_new_tokens=6)
    comparison = tiny_session.start_compare(PROMPTS, settings=settings, references=[None, "4", "Once upon a time"]).result()
    document = tiny_session.analyze(comparison).to_dict()
    data = report_data(tiny_session.base.info(), tiny_session.adapters(), tiny_session.storage().to_dict(), comparison,
                       analysis=document)
    return data, document


def test_report_html_has_the_analysis_sections_only_when_analyzed(analyzed):
    data, document = analyzed
    page, plain = to_html(data), to_html(dataclasses.replace(data, analysis=None))
    assert all(title in page for title in SECTIONS)
    assert not any(title in plain for title in SECTIONS)
    assert page.count("Plotly.newPlot(") == 4 and plain.count("Plotly.newPlot(") == 3  # + size against effect
    assert "ROUGE-L F1" in page and "No reference answers" not in page  # two prompts carry a reference
    assert 'class="ag-heat"' not in plain and 'class="tip"' not in plain


def test_report_heat_views_one_per_adapter_with_a_tip_per_token(analyzed):
    data, document = analyzed
    page = to_html(data)
    scored = [t for v in ("lora", "ia3") for t in document["tokens"][v]]
    assert page.count('class="tip"') == sum(len(t["tokens"]) for t in scored)
    assert page.count('class="tok top1"') == sum(sum(t["top1_changed"]) for t in scored)
    # The base is not read back against itself: it gets no heat view (it would only say "not scored").
    assert re.findall(r'<div class="ag-heat" data-variant="([^"]*)">', page) == ["lora", "ia3"]
    assert "not scored: no output" not in page  # every output of this comparison was written


def test_report_escapes_prompts_and_tokens(analyzed):
    data, document = analyzed
    page = to_html(data)
    assert XSS not in page and html.escape(XSS) in page
    # each heat view shows the prompt escaped, and every token piece escaped inside its span
    assert page.count(f'<div class="ag-prompt">{html.escape(PROMPTS[2])}</div>') == page.count('<div class="ag-heat"') >= 2
    for variant in ("lora", "ia3"):
        for tokens in document["tokens"][variant]:
            for i, piece in enumerate(tokens["tokens"]):
                assert re.search(rf'data-i="{i}">{re.escape(html.escape(piece))}<span class="tip">', page)


def test_report_json_carries_the_analysis_last(analyzed):
    data, document = analyzed
    exported = json.loads(to_json(data))
    assert list(exported) == [*JSON_KEYS, "analysis"]
    assert exported["analysis"] == json.loads(json.dumps(document))
    assert list(json.loads(to_json(dataclasses.replace(data, analysis=None)))) == JSON_KEYS


def test_effect_figure_of_a_real_analysis(analyzed):
    data, document = analyzed
    fig = effect_figure(data.storage, document)
    assert len(fig.data) == 2  # the prompts carry references: divergence and ROUGE-L panels
    sizes = [data.storage["adapters"][name]["bytes"] for name in ("lora", "ia3")]
    assert all(list(trace.x) == sizes for trace in fig.data)
    assert list(fig.data[0].y) == [document["mean_divergence"]["lora"], document["mean_divergence"]["ia3"]]
    assert "base" not in list(fig.data[0].text)


# ---- categories: a run, its analysis, its exports and the store --------------------------------
CATEGORIES = ["greeting", "math", "greeting"]  # prompt 1 (greeting) has no reference: only prompt 3 scores it
CATEGORY_REFERENCES = [None, "4", "Once upon a time"]
HEADINGS = re.compile(r'<h3 class="ag-category">(.*?)</h3>')


def _without_categories(data):
    """The same export as a document written before prompts had categories."""
    analysis = {k: v for k, v in data.analysis.items() if k != "references_by_category"}
    results = [{k: v for k, v in r.items() if k != "category"} for r in data.results]
    return dataclasses.replace(data, results=results, analysis=analysis)


def test_categories_go_through_a_run_its_analysis_the_exports_and_the_store(tiny_session, tiny_adapters, tmp_path):
    tiny_session.attach(tiny_adapters["lora"], "lora")
    settings = tiny_session.generation_settings(max_new_tokens=6)
    comparison = tiny_session.start_compare(PROMPTS, settings=settings, references=CATEGORY_REFERENCES,
                                            categories=CATEGORIES).result()
    assert [r.get("category") for r in comparison.records()] == CATEGORIES
    analysis = tiny_session.analyze(comparison).to_dict()
    boards = analysis["references_by_category"]
    assert list(boards) == ["greeting", "math"] and list(analysis)[-1] == "analyze_s"
    for name, index in (("greeting", 2), ("math", 1)):  # one scored prompt each: its own ROUGE-L is the mean
        record = comparison.records()[index]
        assert {row["variant"]: (row["prompts"], row["rouge_l"]) for row in boards[name]} == {
            v: (1, pytest.approx(rouge_l_f1(record["outputs"][v], record["reference"]))) for v in ("base", "lora")}
    for variant in ("base", "lora"):  # pooled over both prompts' reference tokens: between the two categories'
        alone = [next(r["perplexity"] for r in rows if r["variant"] == variant) for rows in boards.values()]
        together = next(r["perplexity"] for r in analysis["references"] if r["variant"] == variant)
        assert min(alone) <= together <= max(alone)

    data = report_data(tiny_session.base.info(), tiny_session.adapters(), tiny_session.storage().to_dict(), comparison,
                       analysis=analysis)
    exported = json.loads(to_json(data))
    assert [r.get("category") for r in exported["results"]] == CATEGORIES
    assert exported["analysis"]["references_by_category"] == json.loads(json.dumps(boards))
    page = to_html(data)
    assert HEADINGS.findall(page) == ["category: greeting", "category: math", "all categories together"]
    reference_section = page.split("<h2>Reference scores</h2>")[1].split("<h2>")[0]
    assert reference_section.count("<table") == 3

    db = Database.open(f"sqlite:///{tmp_path / 'saved.db'}")
    try:
        saved = load_comparison(db, save_comparison(db, data, tiny_session.adapters()).id).data
        assert saved == data and HEADINGS.findall(to_html(saved)) == HEADINGS.findall(page)
        # a comparison saved before prompts had categories still opens, with the one overall leaderboard
        old = load_comparison(db, save_comparison(db, _without_categories(data), []).id).data
    finally:
        db.close()
    old_page = to_html(old)
    assert "ag-category" not in old_page and "Reference scores" in old_page
    assert leaderboard_table_html(old.analysis["references"]) in old_page
    assert [r.get("category") for r in old.results] == [None] * 3


def test_compare_analyze_prints_a_leaderboard_per_category(tiny_base_dir, tiny_adapters, tmp_path, capsys):
    prompts = tmp_path / "styled.jsonl"
    prompts.write_text("".join(json.dumps({"prompt": p, "reference": r, "category": c}) + "\n"
                               for p, r, c in zip(PROMPTS, ["Hi", "4", "Once upon a time"], ["chat", "math", "chat"])))
    out = tmp_path / "styled.json"
    assert _compare(tiny_base_dir, tiny_adapters, prompts, out, "--analyze") == 0
    document = json.loads(out.read_text(encoding="utf-8"))
    assert [r["category"] for r in document["results"]] == ["chat", "math", "chat"]
    boards = document["analysis"]["references_by_category"]
    assert {name: [row["prompts"] for row in rows] for name, rows in boards.items()} == {"chat": [2] * 3, "math": [1] * 3}
    printed = capsys.readouterr().out
    titles = re.findall(r"^reference scores.*$", printed, re.M)
    assert [t.split(" (")[0] for t in titles] == ["reference scores, category chat", "reference scores, category math",
                                                  "reference scores, all categories together"]
    for name, rows in boards.items():  # each table lists its own ranking, best first
        table = printed.split(f"category {name} ")[1].split("reference scores")[0]
        assert [line.split()[0] for line in table.splitlines()[2:] if line.strip()] == [r["variant"] for r in rows]


# ---- the heat view, by hand -----------------------------------------------------------------

SPAN = re.compile(r'<span class="(tok[^"]*)" style="background: rgba\(221, 132, 82, ([0-9.]+)\)" data-i="(\d+)">'
                  r'(.*?)<span class="tip">(.*?)</span></span>')


def _tokens(kl: list[float], **overrides) -> dict:
    n = len(kl)
    tokens = {"tokens": [f"t{i}" for i in range(n)], "token_ids": list(range(n)), "logprob": [math.log(0.5)] * n,
              "base_logprob": [math.log(0.5)] * n, "kl": kl, "top1_changed": [False] * n, "base_top": ["x"] * n,
              "base_top_prob": [0.5] * n}
    return tokens | overrides


@pytest.mark.parametrize(
    "kl, alpha",
    [
        (0.0, "0.00"),  # no divergence: no shade
        (-1e-9, "0.00"),  # rounding below zero is still none
        (0.4, "0.17"),  # 0.4 / 2.0 * 0.85 = 0.17
        (1.2, "0.51"),  # 1.2 / 2.0 * 0.85 = 0.51
        (KL_FULL, "0.85"),  # the full shade
        (7.0, "0.85"),  # and no more past it
    ],
)
def test_heat_shade_grows_with_kl_up_to_kl_full(kl, alpha):
    (span,) = SPAN.findall(heat_line_html("pirate", _tokens([kl])))
    assert span[1] == alpha


@pytest.mark.parametrize(
    "field, expected",
    [
        # p(variant) = exp(log 0.25) = 0.250; p(base) = exp(log 0.125) = 0.125; the base would pick "<i>" at 0.75
        ("logprob", "p(pi&lt;rate) = 0.250"),
        ("base_logprob", "p(base) = 0.125"),
        ("base_top", "base's pick: &#x27;&lt;i&gt;&#x27; (0.750)"),
        ("kl", "KL = 1.200 nats"),
    ],
)
def test_heat_tip_shows_both_probabilities_and_the_base_pick(field, expected):
    tokens = _tokens([0.0, 1.2], tokens=["Ahoy", " <b>&"], logprob=[0.0, math.log(0.25)],
                     base_logprob=[0.0, math.log(0.125)], top1_changed=[False, True], base_top=["Ahoy", "<i>"],
                     base_top_prob=[0.9, 0.75])
    spans = SPAN.findall(heat_line_html("pi<rate", tokens))
    assert [(classes, i, text) for classes, _, i, text, _ in spans] == [("tok", "0", "Ahoy"), ("tok top1", "1", " &lt;b&gt;&amp;")]
    assert expected in spans[1][4].split("<br>")


@pytest.mark.parametrize(
    "kl, changed, classes",
    [
        (0.0, False, "tok"),
        (0.0, True, "tok top1"),  # the base picks another token even where the distributions barely differ
        (1.5, False, "tok"),  # a large KL alone is no change of the first choice
        (1.5, True, "tok top1"),
    ],
)
def test_heat_underlines_only_changed_first_choices(kl, changed, classes):
    (span,) = SPAN.findall(heat_line_html("pirate", _tokens([kl], top1_changed=[changed])))
    assert span[0] == classes


@pytest.mark.parametrize(
    "tokens, expected",
    [
        (None, '<div class="ag-line ag-note">not scored: no output</div>'),
        (_tokens([]), '<div class="ag-line ag-note">(empty output)</div>'),
    ],
)
def test_heat_line_without_tokens_says_why(tokens, expected):
    assert heat_line_html("pirate", tokens) == expected


def test_heat_html_one_block_per_variant_with_every_prompt_escaped():
    block = heat_html("pi<rate", [XSS, "second"], [_tokens([0.5]), None])
    assert block.startswith('<div class="ag-heat" data-variant="pi&lt;rate">') and block.endswith("</div>")
    assert XSS not in block and f'<div class="ag-prompt">{html.escape(XSS)}</div>' in block
    assert block.count('class="tip"') == 1 and "not scored: no output" in block


# ---- size against effect --------------------------------------------------------------------

FULL = 538_060_032


def storage(**adapter_bytes: int) -> dict:
    return {"full_model_bytes": FULL, "full_model_params": 134_515_008, "full_model_dtype": "float32", "base_file_bytes": None,
            "adapters": {name: {"bytes": n, "params": n // 4, "dtype": "F32", "times_smaller": round(FULL / n, 1)}
                         for name, n in adapter_bytes.items()}}


def board_row(variant: str, rouge_l: float) -> dict:
    return {key: None for key in LEADERBOARD_COLUMNS} | {"variant": variant, "prompts": 2, "rouge_l": rouge_l}


@pytest.mark.parametrize(
    "analysis",
    [None, {}, {"mean_divergence": {"base": 0.0}, "references": None},  # only the base: nothing to plot
     {"mean_divergence": {"other": 0.3}, "references": None}],  # an adapter no longer attached
)
def test_effect_figure_without_an_analysed_adapter_says_what_to_do(analysis):
    fig = effect_figure(storage(pirate=943_000), analysis)
    assert len(fig.data) == 0 and fig.layout.annotations[0].text == NO_ANALYSIS


@pytest.mark.parametrize(
    "references, panels, rouge",
    [
        (None, 1, None),
        ([], 1, None),
        # ROUGE-L as a percentage, in the storage's order; formal has no row -> no point
        ([board_row("formal", 0.5), board_row("base", 0.1), board_row("pirate", 0.25)], 2, [25.0, 50.0]),
        ([board_row("pirate", 0.25), board_row("base", 0.0)], 2, [25.0, None]),
    ],
)
def test_effect_figure_plots_adapters_by_bytes(references, panels, rouge):
    analysis = {"mean_divergence": {"base": 0.0, "pirate": 0.3, "formal": 0.05}, "references": references}
    fig = effect_figure(storage(pirate=943_000, formal=3_700_000), analysis)
    assert len(fig.data) == panels
    assert all(list(t.x) == [943_000, 3_700_000] and list(t.text) == ["pirate", "formal"] for t in fig.data)  # base left out
    assert list(fig.data[0].y) == [0.3, 0.05]
    if rouge is not None:
        assert list(fig.data[1].y) == rouge
    assert fig.layout.xaxis.type == "log"


# ---- the two tables -------------------------------------------------------------------------


@pytest.mark.parametrize("rows", [None, []])
def test_leaderboard_without_references_is_a_note(rows):
    note = leaderboard_table_html(rows)
    assert note.startswith('<p class="ag-note">') and '"reference" field' in note and "<table" not in note


def test_leaderboard_table_cells():
    base = {"variant": "base", "prompts": 2, "exact_match": 0.5, "contains": 1.0, "rouge_l": 0.25, "perplexity": 12.5,
            # the base's own changes show as "–" whatever they hold
            "d_exact_match": 0.0, "d_contains": 0.0, "d_rouge_l": 0.0, "d_perplexity": 0.0}
    pirate = {"variant": "pirate", "prompts": 2, "exact_match": 1.0, "contains": 1.0, "rouge_l": 0.5, "perplexity": 10.0,
              "d_exact_match": 0.5, "d_contains": 0.0, "d_rouge_l": 0.25, "d_perplexity": -2.5}
    table = leaderboard_table_html([pirate, base])
    assert "".join(f"<th>{html.escape(h)}</th>" for h in LEADERBOARD_COLUMNS.values()) in table
    cells = [re.findall(r"<td[^>]*>(.*?)</td>", row) for row in re.findall(r"<tr>(.*?)</tr>", table.split("<tbody>")[1])]
    assert cells == [
        # 0.25 -> "+25 pt"; -2.5 -> "-2.50" (two decimals, signed)
        ["pirate", "2", "100%", "100%", "50%", "10.00", "+50 pt", "+0 pt", "+25 pt", "-2.50"],
        ["base", "2", "50%", "100%", "25%", "12.50", "–", "–", "–", "–"],
    ]


def test_leaderboards_without_categories_are_the_one_table_as_before():
    rows = [{"variant": "base", "prompts": 1, "exact_match": 0.0, "contains": 0.0, "rouge_l": 0.5, "perplexity": None,
             "d_exact_match": None, "d_contains": None, "d_rouge_l": None, "d_perplexity": None}]
    for document in ({"references": rows}, {"references": rows, "references_by_category": None}):
        assert leaderboards_html(document) == leaderboard_table_html(rows)  # an old saved document, or no categories
    assert leaderboards_html({"references": None}) == leaderboard_table_html(None)  # no reference: the note


def test_leaderboards_one_table_per_category_in_order_then_all_together():
    def row(variant, rouge):
        return {"variant": variant, "prompts": 1, "exact_match": 0.0, "contains": 0.0, "rouge_l": rouge,
                "perplexity": None, "d_exact_match": None, "d_contains": None, "d_rouge_l": None, "d_perplexity": None}

    document = {"references": [row("base", 0.6), row("pirate", 0.5)],
                "references_by_category": {"pirate <b>": [row("pirate", 1.0), row("base", 0.7)],
                                           "json": [row("base", 0.5), row("pirate", 0.0)]}}
    page = leaderboards_html(document)
    assert re.findall(r"<h4 class=\"ag-category\">(.*?)</h4>", page) == [
        "category: pirate &lt;b&gt;", "category: json", "all categories together"]  # names escaped
    tables = [re.findall(r"<tr><td>(\w+)</td>", part) for part in page.split("<table")[1:]]
    assert tables == [["pirate", "base"], ["base", "pirate"], ["base", "pirate"]]
    assert 'class="ag-note"' in page.split("all categories together")[1]  # says why the pooled one misleads


def test_divergence_rows():
    summaries = [
        {"variant": "base", "outputs": 3, "tokens": None, "mean_divergence": 0.0, "top1_changed_share": 0.0,
         "first_divergent": None, "never_diverged": 3},
        # first divergent 0-based 0.5 -> "token 1.5" (1-based); 0.25 -> "25%"
        {"variant": "pirate", "outputs": 3, "tokens": 12, "mean_divergence": 0.123456, "top1_changed_share": 0.25,
         "first_divergent": 0.5, "never_diverged": 1},
    ]
    assert divergence_rows(summaries) == [
        ["base", 3, "–", 0.0, "0%", "–", "3 of 3"],
        ["pirate", 3, 12, 0.1235, "25%", "token 1.5", "1 of 3"],
    ]
