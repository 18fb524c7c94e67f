"""The views of an evaluation document, on a small hand-made one: 3 variants, 2 categories, a tag, checks,
two regressed items, null scores, and model output holding a <script>.

Markup is read back with ``html.parser`` and the CSV with ``csv``, so each assertion is about what a
browser or a spreadsheet would see, not about a substring that happens to be there.
"""

from __future__ import annotations

import copy
import csv
import doctest
import io
import json
from dataclasses import asdict
from html.parser import HTMLParser

import pytest

from adapters_ui.analysis.versions import compare_versions
from adapters_ui.errors import EvaluationError
from adapters_ui.views import evaluation, evaluation_exports, evaluation_items
from adapters_ui.views.charts import NAME_CHARS
from adapters_ui.views.evaluation import (
    EVALUATION_CSS,
    VERDICT_COLUMNS,
    check_slice,
    slice_names,
    slice_tables_html,
    variant_ranking,
    verdict_table_html,
    verdict_table_rows,
)
from adapters_ui.views.evaluation_charts import _GOOD, CELL_PX, MARK, SIGNIFICANT, category_heatmap, colorscale
from adapters_ui.views.evaluation_exports import evaluation_json, items_csv
from adapters_ui.views.evaluation_items import item_columns, item_detail_html, item_rows, regressed_items_html, regressions
from adapters_ui.views.evaluation_report import evaluation_report_html

XSS = "<script>alert(1)</script>"
VARIANTS = ["base", "pirate", "json_answer"]  # document order: pirate before json_answer, which ranks first


def record(item_id, category, tags, variant, output, checks, sample=0, **scores):
    values = {"checks": float(all(checks.values())) if checks else None, "exact_match": None, "contains": None,
              "rouge_l": None, "reference_perplexity": None, "output_tokens": len(output.split()), "cut_off": 0,
              "latency_s": 0.5}
    return {"id": item_id, "category": category, "tags": tags, "variant": variant, "sample": sample, "output": output,
            "checks": checks, "scores": {**values, **scores}}


def verdict(variant, metric, slice, outcome, difference, low, high, p_holm, n=4, mean=0.5, mean_low=0.3, mean_high=0.7, mde=0.3):
    return {"variant": variant, "metric": metric, "slice": slice, "baseline": "base", "n": n, "mean": mean,
            "mean_low": mean_low, "mean_high": mean_high, "baseline_mean": 0.5, "difference": difference, "low": low,
            "high": high, "test": "mcnemar", "p_value": p_holm, "p_holm": p_holm, "verdict": outcome, "mde": mde}


DOC = {
    "id": "ev_1", "created_at": "2026-12-06T19:20:00Z", "status": "finished", "error": None, "base_model": "SmolLM2",
    "set": {"name": "demo.jsonl", "sha256": "ab" * 32, "items": 4}, "variants": VARIANTS, "samples": 1,
    "settings": {"max_new_tokens": 48, "do_sample": False}, "baseline": "base",
    "set_items": [
        {"id": "q1", "prompt": "Give JSON", "messages": None, "reference": '{"a": 1}', "category": "json", "tags": ["easy"],
         "checks": [{"type": "is-json", "value": None, "name": "is-json"}]},
        {"id": "q2", "prompt": "More <b>JSON</b>", "messages": None, "reference": None, "category": "json", "tags": [], "checks": []},
        {"id": "q3", "prompt": None, "messages": [{"role": "system", "content": "Be nice"}, {"role": "user", "content": "Hi"}],
         "reference": "Hello", "category": "chat", "tags": ["easy"], "checks": []},
        {"id": "q4", "prompt": "Say bye", "messages": None, "reference": None, "category": "chat", "tags": [], "checks": []},
    ],
    "items": [
        record("q1", "json", ["easy"], "base", '{"a": 1}', {"is-json": True}, exact_match=1, rouge_l=1.0),
        record("q1", "json", ["easy"], "pirate", "Arr " + XSS, {"is-json": False}, exact_match=0, rouge_l=0.0),
        record("q1", "json", ["easy"], "json_answer", '{"a": 1}', {"is-json": True}, exact_match=1, rouge_l=1.0),
        record("q2", "json", [], "base", "Sure,\r\nanswer: 3", {"is-json": False, "contains:answer": True}),
        record("q2", "json", [], "pirate", "Arr answer", {"is-json": False, "contains:answer": True}),
        record("q2", "json", [], "json_answer", '{"answer": 3}', {"is-json": True, "contains:answer": True}),
        record("q3", "chat", ["easy"], "base", "Hello there", {"contains:Hello": True}),
        record("q3", "chat", ["easy"], "pirate", "Ahoy there", {"contains:Hello": False}),
        record("q3", "chat", ["easy"], "json_answer", "Hello {}", {"contains:Hello": True}),
        record("q4", "chat", [], "base", "Bye", {}),
        record("q4", "chat", [], "pirate", "Arr bye", {}),
        record("q4", "chat", [], "json_answer", "{}", {}),
    ],
    "verdicts": [
        verdict("pirate", "checks", None, "worse", -0.667, -1.0, -0.333, 0.04, n=3, mean=0.0, mean_low=0.0, mean_high=0.56),
        verdict("pirate", "output_tokens", None, "higher", 0.75, 0.5, 1.0, 0.001, mean=2.25, mean_low=2.0, mean_high=2.5),
        verdict("pirate", "rouge_l", None, "no evidence", None, None, None, None, n=0, mean=None, mean_low=None, mean_high=None, mde=None),
        verdict("json_answer", "checks", None, "better", 0.333, 0.1, 0.6, 0.0004, n=3, mean=1.0, mean_low=0.44, mean_high=1.0, mde=0.12),
        verdict("json_answer", "output_tokens", None, "no evidence", 0.0, -0.5, 0.5, 1.0, mean=1.5, mean_low=1.25, mean_high=1.75),
        verdict("pirate", "checks", "category:json", "worse", -0.5, -1.0, -0.1, 0.03, n=2),
        verdict("pirate", "checks", "category:chat", "no evidence", -1.0, -1.0, 0.0, 0.5, n=1),
        verdict("json_answer", "checks", "category:json", "better", 0.5, 0.1, 1.0, 0.02, n=2),
        verdict("json_answer", "checks", "category:chat", "no evidence", 0.0, 0.0, 0.0, 1.0, n=1),
        verdict("pirate", "checks", "tag:easy", "no evidence", -1.0, -1.0, -0.5, 0.2, n=2),
        verdict("json_answer", "checks", "tag:easy", "no evidence", 0.0, 0.0, 0.0, 1.0, n=2),
    ],
}


# --- reading markup back ----------------------------------------------------------------------------------------


class Node:
    def __init__(self, tag: str, attrs: dict):
        self.tag, self.attrs, self.children, self.parts = tag, attrs, [], []

    def text(self) -> str:
        return "".join(part if isinstance(part, str) else part.text() for part in self.parts)

    def all(self, tag: str, **attrs) -> list[Node]:
        """Every descendant with this tag whose attributes include ``attrs`` (``class_`` for class, ``data_item`` for data-item; True: present)."""
        found = []
        for child in self.children:
            wanted = {k.rstrip("_").replace("_", "-"): v for k, v in attrs.items()}
            if child.tag == tag and all((k in child.attrs) if v is True else child.attrs.get(k) == v for k, v in wanted.items()):
                found.append(child)
            found += child.all(tag, **attrs)
        return found


class TreeBuilder(HTMLParser):
    VOID = {"meta", "br", "img", "input", "link", "hr"}

    def __init__(self):
        super().__init__(convert_charrefs=True)
        self.root = Node("root", {})
        self.stack = [self.root]

    def handle_starttag(self, tag, attrs):
        node = Node(tag, {k: ("" if v is None else v) for k, v in attrs})
        self.stack[-1].children.append(node)
        self.stack[-1].parts.append(node)
        if tag not in self.VOID:
            self.stack.append(node)

    def handle_endtag(self, tag):
        if tag in self.VOID:
            return
        while self.stack[-1].tag != tag:  # the views close every element; a mismatch fails the test below
            self.stack.pop()
        self.stack.pop()

    def handle_data(self, data):
        self.stack[-1].parts.append(data)


def tree(markup: str) -> Node:
    builder = TreeBuilder()
    builder.feed(markup)
    builder.close()
    assert builder.stack == [builder.root], "an element was left open"
    return builder.root


# --- the verdict table ------------------------------------------------------------------------------------------


def test_verdict_rows_are_best_first_with_badges_and_intervals():
    rows = verdict_table_rows(DOC)
    assert [(r["variant"], r["metric"], r["verdict"]) for r in rows] == [
        ("json_answer", "checks", "▲ better"),
        ("json_answer", "output_tokens", "· no evidence"),
        ("pirate", "checks", "▼ worse"),
        ("pirate", "rouge_l", "· no evidence"),
        ("pirate", "output_tokens", "higher"),
    ]
    assert all(list(row) == list(VERDICT_COLUMNS) for row in rows)
    assert rows[0] == {"variant": "json_answer", "metric": "checks", "verdict": "▲ better", "mean [95% CI]": "100% [44%, 100%]",
                       "difference [95% CI]": "+33 pt [+10, +60]", "p (Holm)": "<0.001", "n": 3, "mde": "12 pt"}
    assert (rows[2]["difference [95% CI]"], rows[2]["p (Holm)"]) == ("-67 pt [-100, -33]", "0.040")
    assert rows[4]["mean [95% CI]"] == "2.25 [2, 2.5]" and rows[4]["difference [95% CI]"] == "+0.75 [+0.5, +1]"
    empty = rows[3]  # n = 0: every statistic missing, shown as a dash
    assert [empty[c] for c in VERDICT_COLUMNS[3:]] == ["–", "–", "–", 0, "–"]


def checks(variant: str, outcome: str, difference: float | None) -> dict:
    return {"variant": variant, "metric": "checks", "slice": None, "verdict": outcome, "difference": difference}


@pytest.mark.parametrize("verdicts, expected", [
    ([checks("a", "no evidence", 0.3), checks("b", "better", 0.1)], ["b", "a"]),  # significant beats a bigger maybe
    ([checks("a", "better", 0.1), checks("b", "better", 0.2)], ["b", "a"]),  # then the larger gain
    ([checks("a", "worse", -0.5), checks("b", "worse", -0.1), checks("c", "no evidence", -0.2)], ["c", "b", "a"]),
    ([{**checks("a", "worse", -0.1), "metric": "rouge_l"}, {**checks("b", "better", 0.1), "metric": "rouge_l"}], ["b", "a"]),
    ([checks("a", "no evidence", None), checks("b", "no evidence", 0.0)], ["b", "a"]),  # n = 0 (no difference) last
    ([checks("a", "no evidence", 0.0), checks("b", "no evidence", 0.0)], ["a", "b"]),  # a tie keeps the document's order
], ids=["better-first", "larger-gain", "worse-last", "other-metrics-break-ties", "unknown-difference-last", "document-order"])
def test_variant_ranking(verdicts, expected):
    assert variant_ranking(verdicts) == expected


@pytest.mark.parametrize("slice, error", [
    (None, None), ("category:json", None), ("tag:easy", None),
    ("json", "unknown slice 'json'"), ("category:", "unknown slice 'category:'"), ("topic:x", "unknown slice 'topic:x'"),
])
def test_check_slice(slice, error):
    if error is None:
        assert check_slice(slice) == slice
    else:
        with pytest.raises(EvaluationError, match=error):
            check_slice(slice)


def badges(markup: str) -> list[tuple[str, str, str]]:
    """(row's variant, badge class, badge text) for each body row of the one table in ``markup``."""
    (body,) = tree(markup).all("tbody")
    return [(row.attrs["data-variant"], row.all("span")[0].attrs["class"], row.all("span")[0].text()) for row in body.all("tr")]


def test_verdict_table_html_colours_each_badge_and_keeps_the_order():
    assert badges(verdict_table_html(DOC)) == [
        ("json_answer", "ag-badge better", "▲ better"), ("json_answer", "ag-badge no-evidence", "· no evidence"),
        ("pirate", "ag-badge worse", "▼ worse"), ("pirate", "ag-badge no-evidence", "· no evidence"),
        ("pirate", "ag-badge higher", "higher"),
    ]
    for css_class, colour in (("better", "#116329"), ("worse", "#a40e26"), ("no-evidence", "#57606a")):
        assert f".ag-badge.{css_class} {{background:" in EVALUATION_CSS and colour in EVALUATION_CSS.split(f".ag-badge.{css_class}")[1].split("}")[0]


def test_verdict_table_html_by_slice_has_its_own_verdicts():
    markup = verdict_table_html(DOC, "category:json")
    assert badges(markup) == [("json_answer", "ag-badge better", "▲ better"), ("pirate", "ag-badge worse", "▼ worse")]
    (table,) = tree(markup).all("table")
    assert table.attrs["data-slice"] == "category:json"
    cells = [td.text() for td in table.all("tbody")[0].all("tr")[0].all("td")]
    assert cells[4] == "+50 pt [+10, +100]" and cells[5] == "0.020"
    assert tree(verdict_table_html(DOC, "category:none")).all("p")[0].text() == "No verdicts for category:none."
    with pytest.raises(EvaluationError, match="unknown slice"):
        verdict_table_html(DOC, "json")


def test_slice_tables_one_per_category_and_tag():
    assert slice_names(DOC, "category") == ["category:chat", "category:json"]
    assert slice_names(DOC, "tag") == ["tag:easy"]
    page = tree(slice_tables_html(DOC, "category"))
    assert [h.text() for h in page.all("h3")] == ["category:chat", "category:json"]
    assert [t.attrs["data-slice"] for t in page.all("table")] == ["category:chat", "category:json"]
    with pytest.raises(EvaluationError, match="unknown slice kind"):
        slice_names(DOC, "topic")


def test_verdict_table_html_escapes_names_and_says_when_empty():
    document = copy.deepcopy(DOC)
    document["verdicts"][0]["variant"] = "pi<b>rate"
    markup = verdict_table_html(document)
    assert "<b>rate" not in markup and "pi<b>rate" in [row.attrs["data-variant"] for row in tree(markup).all("tr", data_variant=True)]
    assert "No verdicts yet" in verdict_table_html({**DOC, "verdicts": []})


# --- the heatmap ------------------------------------------------------------------------------------------------


def test_heatmap_cells_are_the_slice_differences_and_mark_significant_ones():
    fig = category_heatmap(DOC)
    (heat,) = fig.data
    assert list(heat.x) == ["json_answer", "pirate"]  # best first, as the table
    assert list(heat.y) == ["category:chat", "category:json"]
    lookup = {(v["variant"], v["slice"]): v for v in DOC["verdicts"] if v["metric"] == "checks"}
    for row, name in enumerate(heat.y):
        for column, variant in enumerate(heat.x):
            cell = lookup[(variant, name)]
            assert heat.z[row][column] == cell["difference"]
            assert (MARK in heat.text[row][column]) == (cell["verdict"] in SIGNIFICANT)
    assert list(heat.text[1]) == ["<b>+50 pt*</b>", "<b>-50 pt*</b>"] and list(heat.text[0]) == ["+0 pt", "-100 pt"]
    assert heat.zmid == 0 and heat.zmin == -heat.zmax == -1.0


def test_heatmap_by_tag_and_empty_and_errors():
    (heat,) = category_heatmap(DOC, slices="tag").data
    assert list(heat.y) == ["tag:easy"] and list(heat.z[0]) == [0.0, -1.0]
    empty = category_heatmap(DOC, metric="rouge_l")
    assert not empty.data and empty.layout.annotations[0].text == "No category verdicts on rouge_l yet"
    with pytest.raises(EvaluationError, match="unknown metric 'bogus'"):
        category_heatmap(DOC, metric="bogus")
    with pytest.raises(EvaluationError, match="unknown slice kind 'topic'"):
        category_heatmap(DOC, slices="topic")


def test_heatmap_green_is_the_better_side():
    """checks: higher is better, green at the top of the scale; cut_off: lower is better, a negative difference is green."""
    assert colorscale("checks")[-1][1] == _GOOD and colorscale("cut_off")[0][1] == _GOOD
    document = {**DOC, "verdicts": [verdict("pirate", "cut_off", "category:json", "better", -0.5, -0.8, -0.2, 0.01)]}
    (heat,) = category_heatmap(document, metric="cut_off").data
    assert heat.colorscale[0][1] == _GOOD and heat.z[0][0] == -0.5 and heat.text[0][0] == "<b>-50 pt*</b>"


def test_heatmap_fits_a_phone():
    """The width is the page's (autosize, never fixed); labels are cut to the chart's name width; the colour bar
    lies under the grid; the title stays short; more categories make the figure taller, not the cells smaller."""
    document = copy.deepcopy(DOC)
    names = [f"category number {i} with a long name" for i in range(10)]
    document["verdicts"] = [verdict(v, "checks", f"category:{name}", "no evidence", 0.1, -0.1, 0.3, 0.5)
                            for v in ("pirate", "json_answer") for name in names]
    fig = category_heatmap(document)
    assert fig.layout.width is None and fig.layout.autosize is True
    assert all(len(label) <= NAME_CHARS for label in fig.layout.yaxis.ticktext)
    assert fig.data[0].colorbar.orientation == "h"
    assert len(fig.layout.title.text) <= 40
    assert fig.layout.height == fig.layout.margin.t + fig.layout.margin.b + 10 * CELL_PX


# --- the item browser -------------------------------------------------------------------------------------------


@pytest.mark.parametrize("only, category, tag, ids, error", [
    (None, None, None, ["q1", "q2", "q3", "q4"], None),
    ("failures", None, None, ["q1", "q2", "q3"], None),  # q4 has no checks; q2's base fails is-json
    ("regressions", None, None, ["q1", "q3"], None),
    (None, "json", None, ["q1", "q2"], None),
    (None, None, "easy", ["q1", "q3"], None),
    ("regressions", "chat", None, ["q3"], None),
    ("failures", "json", "easy", ["q1"], None),
    (None, "none", None, [], None),
    ("bogus", None, None, None, "unknown item filter 'bogus'"),
])
def test_item_rows_filters(only, category, tag, ids, error):
    if error:
        with pytest.raises(EvaluationError, match=error):
            item_rows(DOC, only=only, category=category, tag=tag)
    else:
        assert [row["id"] for row in item_rows(DOC, only=only, category=category, tag=tag)] == ids


def test_item_rows_content():
    rows = {row["id"]: row for row in item_rows(DOC)}
    assert rows["q1"] == {"id": "q1", "category": "json", "tags": "easy", "base": "✓", "pirate": "✗", "json_answer": "✓",
                          "regressed": "pirate"}
    assert [rows["q4"][v] for v in VARIANTS] == ["—", "—", "—"]  # no checks: null scores
    assert all(list(row) == item_columns(DOC) for row in rows.values())
    assert regressions(DOC) == {"q1": {"pirate": ["is-json"]}, "q3": {"pirate": ["contains:Hello"]}}


def test_item_rows_with_samples_and_a_variant_named_like_a_column():
    """Two samples: a pass rate per variant; a regression is a lower pass rate on a check than the baseline's."""
    items = [record("q1", None, [], variant, "x", {"c": passed}, sample=sample)
             for variant, passes in (("base", (True, True)), ("tags", (True, False))) for sample, passed in enumerate(passes)]
    document = {"variants": ["base", "tags"], "baseline": "base", "items": items}
    assert item_columns(document) == ["id", "category", "tags", "base", "tags (variant)", "regressed"]
    assert item_rows(document) == [{"id": "q1", "category": "", "tags": "", "base": "✓", "tags (variant)": "1/2 ✓", "regressed": "tags"}]


def test_item_rows_when_the_baseline_is_another_evaluation_use_its_versions():
    versions = {**asdict(compare_versions("checks", {"q1": 1, "q2": 0}, {"q1": 0, "q2": 0})), "variant": "pirate"}
    document = {**DOC, "variants": ["pirate"], "baseline": "evaluation:ev_0", "versions": versions,
                "items": [r for r in DOC["items"] if r["variant"] == "pirate"]}
    assert regressions(document) == {"q1": {"pirate": []}}
    assert [row["id"] for row in item_rows(document, only="regressions")] == ["q1"]
    assert regressions({**document, "versions": None}) == {}  # no baseline outputs here, nothing to compare
    (opened,) = tree(regressed_items_html(document)).all("details", open=True)
    assert opened.attrs["data-item"] == "q1"


def blocks(markup: str) -> dict[str, Node]:
    return {node.attrs["data-variant"]: node for node in tree(markup).all("div", data_variant=True)}


def test_item_detail_shows_checks_diffs_and_escapes_model_text():
    markup = item_detail_html(DOC, "q1")
    page = tree(markup)
    assert "<script>" not in markup and not page.all("script")
    shown = blocks(markup)
    assert list(shown) == VARIANTS  # the baseline first, then the document's order
    pirate = shown["pirate"]
    assert [(li.attrs["class"], li.text()) for li in pirate.all("li")] == [("fail", "✗ is-json")]
    assert [ins.text() for ins in pirate.all("ins")] == ["Arr " + XSS]  # the script, shown as text in the diff
    assert [d.text() for d in pirate.all("del")] == ['{"a": 1}']
    assert [(li.attrs["class"], li.text()) for li in shown["base"].all("li")] == [("pass", "✓ is-json")]
    assert "(baseline)" in shown["base"].text() and "100% similar to base" in shown["json_answer"].text()
    labels = {block.all("div")[0].text(): block.all("div")[1].text() for block in page.all("div", class_="ag-block")[:2]}
    assert labels == {"prompt": "Give JSON", "reference": '{"a": 1}'}
    assert "pirate regressed: fails is-json, which base passes" in page.text()


def test_item_detail_messages_reference_and_errors():
    page = tree(item_detail_html(DOC, "q3"))
    assert [turn.text() for turn in page.all("div", class_="ag-turn")] == ["system: Be nice", "user: Hi"]
    assert "More <b>JSON</b>" in tree(item_detail_html(DOC, "q2")).text()  # the prompt's markup is text
    with pytest.raises(EvaluationError, match="no item 'q9'"):
        item_detail_html(DOC, "q9")
    other = item_detail_html({**DOC, "baseline": "evaluation:ev_0"}, "q1")
    assert not tree(other).all("ins") and "The baseline is another evaluation" in other


# --- exports ----------------------------------------------------------------------------------------------------


def test_items_csv_one_row_per_output_with_checks_and_scores_as_columns():
    rows = list(csv.reader(io.StringIO(items_csv(DOC), newline="")))
    assert rows[0] == ["id", "category", "tags", "variant", "sample", "output", "check:is-json", "check:contains:answer",
                       "check:contains:Hello", "checks", "exact_match", "contains", "rouge_l", "reference_perplexity",
                       "output_tokens", "cut_off", "latency_s"]
    assert len(rows) - 1 == len(DOC["items"]) == 12
    table = [dict(zip(rows[0], row)) for row in rows[1:]]
    pirate_q1 = table[1]
    assert (pirate_q1["output"], pirate_q1["check:is-json"], pirate_q1["check:contains:answer"], pirate_q1["exact_match"]) == \
        ("Arr " + XSS, "false", "", "0")
    assert table[3]["output"] == "Sure,\r\nanswer: 3"  # a CRLF and a comma inside one output read back exactly
    assert table[9]["checks"] == "" and table[9]["tags"] == "" and table[0]["tags"] == "easy"


def test_evaluation_json_is_the_document():
    text = evaluation_json(DOC)
    assert json.loads(text) == DOC and text.endswith("\n")


@pytest.fixture(scope="module")
def report() -> str:
    return evaluation_report_html(DOC)


def test_report_is_offline(report):
    page = tree(report)
    scripts = page.all("script")
    assert scripts and not [s for s in scripts if "src" in s.attrs]
    links = [value for node in [page, *page.all("link"), *page.all("a"), *page.all("img")] for key, value in node.attrs.items()
             if key in ("src", "href")]
    assert not [link for link in links if link.startswith(("http://", "https://", "//"))]
    assert sum("Plotly" in s.text() and len(s.text()) > 1_000_000 for s in scripts) == 1  # plotly.js inlined once
    assert len(page.all("div", class_="plotly-graph-div")) == 2  # the heatmaps by category and by tag


def test_report_has_the_tables_and_opens_the_regressed_items(report):
    page = tree(report)
    assert [h.text() for h in page.all("h2")] == ["Verdicts, all items", "By category: difference from the baseline",
                                                   "Verdicts by category", "Verdicts by tag", "Regressed items"]
    first_rows = [t.all("tbody")[0].all("tr")[0].attrs["data-variant"] for t in page.all("table")]
    assert first_rows[0] == "json_answer" and len(first_rows) == 4  # all items, two categories, one tag
    opened = page.all("details", open=True)
    assert [d.attrs["data-item"] for d in opened] == ["q1", "q3"]
    q1 = opened[0]
    halves = q1.all("div", class_="ag-pair")[0].all("div", class_="ag-text")
    assert [h.text() for h in halves] == ['{"a": 1}', "Arr " + XSS]  # side by side: baseline, then the variant
    assert q1.all("ins")[0].text() == "Arr " + XSS and q1.all("del")[0].text() == '{"a": 1}'
    assert "<script>alert" not in report


def test_doctests_in_the_modules_run():
    for module in (evaluation, evaluation_exports, evaluation_items):
        result = doctest.testmod(module)
        assert result.attempted and not result.failed, module.__name__
