"""The analysis handlers without a server: Analyze, the heat view picker, the weights view (a real tiny model)."""

from __future__ import annotations

import json
import re
from pathlib import Path

import gradio as gr
import pytest

from adapters_ui.runs.prompts import PromptItem
from adapters_ui.ui.analysis import HEAT_HINT, NOTHING_YET, AnalysisHandlers
from adapters_ui.ui.compare import GREEDY
from adapters_ui.ui.state import CompareView

SKIP = gr.skip()


@pytest.fixture
def analysis(holder):
    return AnalysisHandlers(holder)


def finished_view(ui, prompts="Hello\nWhat?", variants=("base", "lora", "ia3"), references=None) -> CompareView:
    *_, last = list(ui.compare.run_compare(prompts, list(variants), 6, GREEDY, 0, 0.7, 0.9, False, references))
    return last[3]


def test_analyze_before_any_comparison_says_what_to_do(analysis):
    notice, *rest, view = analysis.analyze(CompareView())
    assert notice == f"**Error:** {NOTHING_YET}" and rest == [SKIP] * 7


def test_analyze_fills_tables_heat_view_chart_and_downloads(ui, holder, analysis, tiny_adapters):
    holder.get().attach(tiny_adapters["lora"])
    holder.get().attach(tiny_adapters["ia3"])
    view = finished_view(ui, references={"Hello": PromptItem("Hello", "Hi there")})
    notice, tables, picker, heat, effect, csv, json_file, html_file, view = analysis.analyze(view)
    assert notice.startswith("**Done:** read 2 prompts x 3 variants back in")
    assert "mean KL" in tables and "ROUGE-L F1" in tables  # one prompt carries a reference
    assert picker["choices"] in (["lora", "ia3"], [("lora", "lora"), ("ia3", "ia3")]) and picker["value"] == "lora"
    assert heat.count('class="ag-line"') == 2 and 'data-variant="lora"' in heat
    assert len(effect.data) == 2  # divergence and, with references, ROUGE-L
    document = json.loads(Path(json_file["value"]).read_text())
    assert document["analysis"]["mean_divergence"]["base"] == 0.0 and document["analysis"]["references"]
    assert "Token heat views" in Path(html_file["value"]).read_text()
    assert 'data-variant="ia3"' in analysis.heat(view, "ia3") and analysis.heat(view, "base") == HEAT_HINT


def test_analyze_shows_one_leaderboard_per_category(ui, holder, analysis, tiny_adapters):
    holder.get().attach(tiny_adapters["lora"])
    view = finished_view(ui, prompts="Hello\nWhat?\nBye", variants=("base", "lora"),
                         references={"Hello": PromptItem("Hello", "Hi there", "greeting"),
                                     "What?": PromptItem("What?", "Nothing", "question"),
                                     "Bye": PromptItem("Bye", "Goodbye", "greeting")})
    _notice, tables, *_rest, view = analysis.analyze(view)
    assert re.findall(r'<h4 class="ag-category">(.*?)</h4>', tables) == [
        "category: greeting", "category: question", "all categories together"]
    assert tables.split("<h3>Reference scores</h3>")[1].count("<table") == 3
    assert list(view.analysis["references_by_category"]) == ["greeting", "question"]


def test_analyzing_after_an_adapter_left_is_one_line(ui, holder, analysis, tiny_adapters):
    holder.get().attach(tiny_adapters["lora"])
    view = finished_view(ui, variants=("base", "lora"))
    holder.get().detach("lora")
    notice, *rest, _view = analysis.analyze(view)
    assert notice.startswith("**Error:** Adapter 'lora' was detached after this comparison ran") and "\n" not in notice
    assert rest == [SKIP] * 7


def test_a_new_comparison_clears_the_old_analysis(analysis):
    notice, tables, picker, heat, effect = analysis.cleared()
    assert (notice, tables, heat) == ("", "", HEAT_HINT) and picker["choices"] == [] and not effect.data


def test_weights_view_follows_the_attached_adapters(holder, analysis, tiny_adapters):
    assert analysis.weight_choices(None)["choices"] == []
    holder.get().attach(tiny_adapters["dora"])
    holder.get().attach(tiny_adapters["prompt"])
    assert analysis.weight_choices(None)["value"] == "dora" and analysis.weight_choices("prompt")["value"] == "prompt"
    figure, note = analysis.weight_view("dora")
    assert note.startswith("**dora** (DoRA): ") and "Largest:" in note
    assert figure.data[0].type == "heatmap"
    figure, note = analysis.weight_view("prompt")
    assert "virtual token" in note and figure.data[0].type == "heatmap"
    holder.get().detach("dora")
    figure, note = analysis.weight_view("dora")
    assert note.startswith("**Error:**") and "dora" in note and not figure.data
