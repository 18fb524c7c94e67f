"""The Evaluate tab's benchmark and the ``benchmark`` API (issue 25), on the tiny random Llama with LoRA attached,
through the real lm-eval and a SQLite database: started from the form, followed, shown as lm-eval's numbers
beside the paired verdicts; refused in one line with nothing stored. tests/browser/test_bench.py drives it in
Chromium."""

from __future__ import annotations

import gradio as gr
import pytest

from adapters_ui.store.evaluations import FINISHED, list_evaluations
from adapters_ui.ui.evaluate import VIEW_OUTPUTS, verdicts_html
from adapters_ui.ui.evaluate_bench import benchmark_request
from adapters_ui.views.benchmark import benchmark_rows, benchmark_table_html, lm_eval_value

OPENED, SEEN, NOTICE, PROGRESS, LINK, TIMER, RESULTS, BASELINE, SLICE, VERDICTS, METRIC, HEATMAP, CATEGORY, TAG, ITEMS, \
    ITEM, CSV, JSON, HTML = range(VIEW_OUTPUTS)
TASKS = ["adapters_ui_arith_mc", "adapters_ui_general_text"]


@pytest.fixture(scope="module")
def handlers(tiny_base_dir, tiny_adapters, tmp_path_factory):
    from adapters_ui.config import Settings
    from adapters_ui.session import Session, SessionHolder
    from adapters_ui.ui.app import Handlers

    folder = tmp_path_factory.mktemp("bench-ui")
    settings = Settings(base_model=str(tiny_base_dir), cache_dir=folder / "cache")
    holder = SessionHolder(settings)
    holder._session = Session.start(settings)
    holder._session.attach(tiny_adapters["lora"], "lora")
    return Handlers.on(holder)


def request() -> gr.Request:
    return gr.Request(headers={"x-forwarded-for": "203.0.113.9"})


def test_a_benchmark_started_from_the_tab_shows_lm_evals_numbers_beside_the_verdicts(handlers):
    ui = handlers.evaluate
    out = ui.start_benchmark(TASKS, "", 6, "", ["base", "lora"], {}, request=request())
    owned, view = out[0], out[1:]
    evaluation_id = view[OPENED]
    assert evaluation_id in owned and "benchmark" in view[NOTICE] and "started" in view[NOTICE]
    assert "requests" in view[PROGRESS]
    assert ui.holder.loaded.evaluations.get(evaluation_id).wait(600)
    view = ui.show(evaluation_id, "base")
    document = ui.document(evaluation_id, "base")
    assert document["status"] == FINISHED and set(document["benchmark"]["variants"]) == {"base", "lora"}
    table = view[VERDICTS]
    assert 'class="ag-table ag-eval ag-bench"' in table
    for variant in ("base", "lora"):
        shown = lm_eval_value(document["benchmark"]["variants"][variant]["results"]["adapters_ui_arith_mc"], "acc")
        assert shown and " ± " in shown and shown in table
    assert "bits_per_byte" in table and "loglikelihood" in table and "Holm" in table
    slices = view[SLICE]["choices"]
    assert [c if isinstance(c, str) else c[0] for c in slices][1:] == [f"category:{t}" for t in TASKS]
    one_task = verdicts_html(document, "category:adapters_ui_arith_mc")
    assert "ag-bench" not in one_task and "acc_norm" in one_task  # a task's own verdict table
    items = view[ITEMS]
    assert len(items) == 12 and set(items["base"][:6]) <= {"✓", "✗"}  # lm-eval's acc marks the multiple-choice docs


@pytest.mark.parametrize(("tasks", "more", "limit", "fewshot", "variants", "expected_error"), [
    ([], "", 5, None, ["base"], "No task chosen"),
    (TASKS, "", -1, None, ["base"], "Items per task -1 is negative"),
    (TASKS, "", 5, "-2", ["base"], "Few-shot examples '-2' is not a whole number"),
    (TASKS, "", 5, "two", ["base"], "Few-shot examples 'two' is not a whole number"),
    ([], "no_such_task_xyz", 5, None, ["base"], "Unknown task 'no_such_task_xyz'"),
    (TASKS, "", 5, None, ["nobody"], "nobody"),
])
def test_a_bad_benchmark_form_is_one_line_and_stores_nothing(handlers, tasks, more, limit, fewshot, variants,
                                                              expected_error):
    db = handlers.evaluate.database.get()
    before = len(list_evaluations(db))
    out = handlers.evaluate.start_benchmark(tasks, more, limit, fewshot, variants, {}, request=request())
    notice = out[1:][NOTICE]
    assert expected_error in notice and "\n" not in notice.strip()
    assert out[0] == {} and len(list_evaluations(db)) == before


def test_the_api_starts_a_benchmark_reads_it_and_cancels_only_with_the_key(handlers):
    api = handlers.api
    started = api.benchmark("adapters_ui_arith_mc", "base,lora", 4, "", request=request())
    with pytest.raises(gr.Error, match="only its owner can cancel"):
        api.cancel_evaluation(started["id"], "not the key")
    assert handlers.evaluate.holder.loaded.evaluations.get(started["id"]).wait(600)
    document = api.evaluation(started["id"], "base")
    assert document["benchmark"]["variants"]["lora"]["results"]["adapters_ui_arith_mc"]["acc,none"] is not None
    assert {v["slice"] for v in document["verdicts"]} == {"category:adapters_ui_arith_mc"}
    with pytest.raises(gr.Error, match="limit must be a whole number"):
        api.benchmark("adapters_ui_arith_mc", "base", "many", request=request())


@pytest.mark.parametrize(("form", "expected"), [
    ((["a"], "b, c,, a", 0, None), (["a", "b", "c"], None, None)),
    ((["a"], "", 7, "3"), (["a"], 7, 3)),
    ((["a"], "", None, " 0 "), (["a"], None, 0)),
    ((["a"], "", 5, ""), (["a"], 5, None)),
])
def test_the_form_becomes_task_names_limit_and_fewshot(form, expected):
    assert benchmark_request(*form) == expected


def test_the_table_pairs_lm_evals_numbers_with_the_verdicts_by_task_metric_and_variant():
    """Hand-made: lm-eval's acc for both variants, bits_per_byte with no verdict, loglikelihood only as a verdict."""
    verdict = {"variant": "v2", "metric": "acc", "slice": "category:t", "verdict": "worse", "n": 50, "mean": 0.3,
               "difference": -0.1, "low": -0.2, "high": -0.01, "p_holm": 0.03}
    ll = {**verdict, "metric": "loglikelihood", "verdict": "no evidence", "difference": 0.5, "low": -1, "high": 2, "p_holm": 0.6}
    document = {"variants": ["base", "v2"], "baseline": "base", "verdicts": [verdict, ll], "benchmark": {
        "tasks": ["t"], "lm_eval_version": "0.4.13", "variants": {
            "base": {"results": {"t": {"acc,none": 0.4, "acc_stderr,none": 0.07, "bits_per_byte,none": 1.5}}},
            "v2": {"results": {"t": {"acc,none": 0.3, "acc_stderr,none": 0.0655, "bits_per_byte,none": 1.6}}}}}}
    rows = [(r["metric"], r["variant"], r["lm-eval"], r["verdict"], r["p (Holm)"]) for r in benchmark_rows(document)]
    assert rows == [("acc", "base", "0.400 ± 0.070", None, ""), ("acc", "v2", "0.300 ± 0.066", "worse", "0.030"),
                    ("bits_per_byte", "base", "1.500", None, ""), ("bits_per_byte", "v2", "1.600", None, ""),
                    ("loglikelihood", "v2", "–", "no evidence", "0.600")]
    page = benchmark_table_html({**document, "variants": ["base", "<b>v2</b>"]})
    assert "<b>v2</b>" not in page
    assert "No variant has finished yet" in benchmark_table_html({**document, "benchmark": {"variants": {}}})


@pytest.mark.parametrize(("names", "public", "expected_error"), [
    (["adapters_ui_arith_mc", "arc_easy"], True, "This Space runs only its shipped tasks"),
    (["adapters_ui_arith_mc", "arc_easy"], False, None),
    ([], False, "No task chosen"),
])
def test_a_public_space_runs_only_its_shipped_tasks(names, public, expected_error):
    """lm-eval fetches an installed task's dataset from the Hub: a visitor of a public Space must not pick one."""
    from adapters_ui.errors import BenchmarkError
    from adapters_ui.ui.evaluate_bench import allowed_tasks

    if expected_error is None:
        assert allowed_tasks(names, public) == names
    else:
        with pytest.raises(BenchmarkError, match=expected_error):
            allowed_tasks(names, public)


def test_the_public_api_refuses_a_task_it_does_not_ship(handlers, monkeypatch):
    from dataclasses import replace

    monkeypatch.setattr(handlers.api, "settings", replace(handlers.api.settings, public=True))
    with pytest.raises(gr.Error, match="This Space runs only its shipped tasks"):
        handlers.api.benchmark("arc_easy", "base", 2, request=request())
