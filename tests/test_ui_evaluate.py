"""The Evaluate tab and the evaluation API on the fake backend (no server, a SQLite database in tmp_path): a job
started, followed, finished and shown; cancelled by its owner only; a bad set refused before anything is stored;
the ?evaluation= permalink; the API's document. tests/browser/test_evaluate.py drives the same tab in Chromium."""

from __future__ import annotations

import json
import threading
import time
from pathlib import Path

import gradio as gr
import pytest
from fake_backend import FakeBackend
from helpers import write_jsonl

from adapters_ui.runs.evalset import read_eval_set
from adapters_ui.runs.evaluation import EvaluationProgress
from adapters_ui.store import DatabaseHolder
from adapters_ui.store.evaluations import CANCELLED, FINISHED, RUNNING, list_evaluations, load_evaluation, load_items
from adapters_ui.ui.app import Handlers
from adapters_ui.ui.evaluate import (
    ALL,
    PICK_ITEM,
    VIEW_OUTPUTS,
    EvaluateHandlers,
    baseline_of,
    progress_html,
    resume_jobs,
    some_of,
)

SKIP = gr.skip()
SPEC_KEYS = {"id", "created_at", "status", "error", "base_model", "set", "variants", "samples", "settings", "baseline",
             "set_items", "items", "verdicts"}
# the view's outputs, by name (EvaluateTab.view's order)
OPENED, SEEN, NOTICE, PROGRESS, LINK, TIMER, RESULTS, BASELINE, SLICE, VERDICTS, METRIC, HEATMAP, CATEGORY, TAG, ITEMS, \
    ITEM, CSV, JSON, HTML = range(VIEW_OUTPUTS)


def visitor(name="a", **params) -> gr.Request:
    return gr.Request(session_hash=name, headers={"host": "demo.example:7860"}, query_params=params)


def write_set(path: Path, count: int = 12) -> Path:
    """Even items check for "base" (the base passes, lora fails: a regression); odd ones for "lora" (lora wins)."""
    rows = [{"id": f"q{i}", "prompt": f"question {i}", "category": "even" if i % 2 == 0 else "odd",
             "tags": ["first"] if i < 4 else [], "checks": [{"type": "contains", "value": "base" if i % 2 == 0 else "lora"}]}
            for i in range(count)]
    return write_jsonl(path, rows)


@pytest.fixture
def ui(fake_ui, fake_adapters):
    fake_ui.adapters.attach_folder(str(fake_adapters["lora"]), "lora")
    return fake_ui.evaluate


def start(ui: EvaluateHandlers, upload, owned=None, who="a", variants=("base", "lora"), first=0):
    return ui.start("demo", str(upload) if upload else None, list(variants), 1, 8, first, owned or {}, request=visitor(who))


def finished(ui: EvaluateHandlers, evaluation_id: str) -> None:
    assert ui.holder.loaded.evaluations.get(evaluation_id).wait(30)


def test_the_shipped_demo_set_is_summarized_and_a_bad_upload_is_one_line(ui, tmp_path):
    summary, notice = ui.summary("demo", None)
    assert summary.startswith("**demo.jsonl:** 152 items") and "categories:" in summary and notice == ""
    bad = tmp_path / "bad.jsonl"
    bad.write_text('{"prompt": "fine"}\n{"prompt": 3}\n')
    summary, notice = ui.summary("demo", str(bad))
    assert summary == "" and notice.startswith("**Error:** ") and "bad.jsonl" in notice and "\n" not in notice
    owned, *view = start(ui, bad)
    assert owned == {} and view[NOTICE].startswith("**Error:** ") and "\n" not in view[NOTICE]
    assert all(value == SKIP for i, value in enumerate(view) if i != NOTICE)
    assert list_evaluations(ui.database.get()) == []  # nothing stored


def test_start_follow_finish_then_the_verdicts_items_and_downloads(ui, fake_session, tmp_path):
    backend = fake_session.backend
    backend.hold = threading.Event()  # the job waits at its first step, so the page sees it running
    owned, *view = start(ui, write_set(tmp_path / "set.jsonl"))
    (evaluation_id, owner_key), = owned.items()
    assert view[OPENED] == evaluation_id and "started" in view[NOTICE] and len(owner_key) >= 32
    assert f"http://demo.example:7860/?evaluation={evaluation_id}" in view[LINK]
    assert view[TIMER].active is True and "0 of 24 outputs (0%)" in view[PROGRESS]
    assert view[CSV]["interactive"] is False  # no downloads while it runs
    job = ui.holder.loaded.evaluations.get(evaluation_id)
    deadline = time.monotonic() + 10
    while job.batch_line() is None and time.monotonic() < deadline:  # the job's thread takes up its first batch
        time.sleep(0.01)
    ticked = ui.tick(evaluation_id, "base", ALL, None, ALL, ALL, ALL, view[SEEN], request=visitor())
    assert ticked[TIMER].active is True and all(v == SKIP for v in ticked[RESULTS:])  # nothing new: only the bar
    assert "this batch: 0 of 24 outputs done" in ticked[PROGRESS]  # the batch in progress, between two commits
    backend.hold.set()
    finished(ui, evaluation_id)

    done = ui.tick(evaluation_id, "base", ALL, None, ALL, ALL, ALL, view[SEEN], request=visitor())
    assert done[TIMER].active is False and "24 of 24 outputs (100%)" in done[PROGRESS] and ": finished" in done[PROGRESS]
    assert 'data-variant="lora"' in done[VERDICTS] and "against base" in done[VERDICTS]
    assert done[SLICE]["choices"] == [ALL, "category:even", "category:odd", "tag:first"]
    assert done[CATEGORY]["choices"] == [ALL, "even", "odd"] and done[BASELINE]["choices"] == ["base", "lora"]
    assert list(done[ITEMS].columns) == ["id", "category", "tags", "base", "lora", "regressed"] and len(done[ITEMS]) == 12
    assert done[HEATMAP].data[0].type == "heatmap" and list(done[HEATMAP].data[0].x) == ["lora"]
    files = {kind: Path(done[i]["value"]) for kind, i in (("csv", CSV), ("json", JSON), ("html", HTML))}
    assert json.loads(files["json"].read_text())["id"] == evaluation_id and files["csv"].read_text().startswith("id,")
    assert "<html" in files["html"].read_text() and evaluation_id in files["html"].read_text()
    again = ui.tick(evaluation_id, "base", ALL, None, ALL, ALL, ALL, done[SEEN], request=visitor())
    assert again[TIMER].active is False and all(v == SKIP for v in again[RESULTS:])

    frame, detail = ui.items(evaluation_id, "base", "regressions", ALL, ALL)
    assert list(frame["id"]) == ["q0", "q2", "q4", "q6", "q8", "q10"] and set(frame["regressed"]) == {"lora"}
    assert detail == PICK_ITEM
    assert list(ui.items(evaluation_id, "base", ALL, "odd", "first")[0]["id"]) == ["q1", "q3"]
    shown = ui.select_item(evaluation_id, "base", gr.SelectData(None, {"index": [0, 0], "value": "q0", "row_value": ["q0"]}))
    assert 'data-item="q0"' in shown and "lora regressed" in shown
    assert FakeBackend.reply("base", "", 8).split()[0] in shown
    assert 'data-slice="category:odd"' in ui.verdict_table(evaluation_id, "base", "category:odd")
    assert ui.heatmap(evaluation_id, "base", "output_tokens").layout.title.text.startswith("output_tokens vs base")


def test_a_document_is_computed_once_per_state(ui, tmp_path):
    owned, *view = start(ui, write_set(tmp_path / "set.jsonl"))
    evaluation_id = view[OPENED]
    finished(ui, evaluation_id)
    before = ui.documents.computed
    ui.show(evaluation_id, "base", request=visitor())
    for metric in ("checks", "output_tokens"):
        ui.heatmap(evaluation_id, "base", metric)
    ui.items(evaluation_id, "base", "failures", ALL, ALL)
    ui.item(evaluation_id, "base", "q1")
    assert ui.documents.computed == before + 1  # the view after the job ended; every click after read it back
    ui.show(evaluation_id, "lora", request=visitor())  # another baseline is another document
    assert ui.documents.computed == before + 2


def test_only_the_owner_cancels_and_closing_the_page_does_not(ui, fake_ui, fake_session, tmp_path):
    fake_session.backend.hold = threading.Event()
    owned, *view = start(ui, write_set(tmp_path / "set.jsonl"), who="owner")
    evaluation_id = view[OPENED]
    fake_ui.page.page_closed(visitor("owner"))  # the page closed: its runs stop, the job does not
    assert ui.cancel(evaluation_id, {}).startswith("**Error:** Only the browser that started")
    assert ui.cancel(evaluation_id, {evaluation_id: "x" * 43}).startswith("**Error:** Only the browser")
    assert not ui.holder.loaded.evaluations.get(evaluation_id).ended
    assert ui.cancel(evaluation_id, owned).startswith("**Cancelling…**")
    fake_session.backend.hold.set()
    finished(ui, evaluation_id)
    assert load_evaluation(ui.database.get(), evaluation_id).status == CANCELLED
    assert ui.cancel(evaluation_id, owned).startswith("**Error:** This evaluation is not running here")
    assert ui.cancel(None, owned).startswith("**Error:** No evaluation is open")


def test_the_permalink_opens_the_tab_on_the_evaluation_and_a_bad_one_is_one_line(ui, fake_ui, tmp_path):
    owned, *view = start(ui, write_set(tmp_path / "set.jsonl"))
    evaluation_id = view[OPENED]
    finished(ui, evaluation_id)
    later = Handlers.on(fake_ui.holder, DatabaseHolder(ui.database.url)).evaluate  # another page, an empty cache
    tabs, listing, *opened = later.page_open({}, visitor("b", evaluation=evaluation_id))
    assert tabs.selected == "evaluate" and listing["value"] == evaluation_id
    assert opened[OPENED] == evaluation_id and opened[RESULTS]["visible"] is True and ": finished" in opened[PROGRESS]
    assert 'data-variant="lora"' in opened[VERDICTS]
    tabs, listing, *opened = later.page_open({}, visitor("b", evaluation="A" * 22))
    assert opened[NOTICE].startswith("**Error:** No evaluation has the id") and opened[OPENED] == SKIP
    tabs, listing, *opened = later.page_open({}, visitor("b"))
    assert tabs == SKIP and [value for _label, value in listing["choices"]] == [evaluation_id]


def test_a_public_space_lists_only_the_visitor_s_own(ui, fake_ui, tmp_path):
    path = write_set(tmp_path / "set.jsonl", count=2)
    mine, *_ = start(ui, path, who="me")
    theirs, *_ = start(ui, path, who="them")
    public = Handlers.on(fake_ui.holder, ui.database).evaluate
    public.settings = public.settings.replace(public=True)
    assert [v for _l, v in public.recent(mine)["choices"]] == list(mine)
    assert {v for _l, v in ui.recent(mine)["choices"]} == {*mine, *theirs}  # a private app lists every one


@pytest.mark.parametrize("count, ids", [(4, ["q0", "q3", "q6", "q9"]), (1, ["q0"]), (0, None), (12, None), (99, None)])
def test_some_items_spread_over_the_set(tmp_path, count, ids):
    whole = read_eval_set(write_set(tmp_path / "set.jsonl"))
    some = some_of(whole, count)
    assert (some is whole) if ids is None else ([i.id for i in some.items] == ids and some.name == f"set.jsonl ({count} of 12)")


def test_only_some_items_run_when_asked(ui, tmp_path):
    owned, *view = start(ui, write_set(tmp_path / "set.jsonl"), first=4)
    finished(ui, view[OPENED])
    stored = load_evaluation(ui.database.get(), view[OPENED])
    assert stored.items == 4 and stored.set_name == "set.jsonl (4 of 12)" and stored.status == FINISHED
    assert {i["category"] for i in load_items(ui.database.get(), view[OPENED])} == {"even", "odd"}


@pytest.mark.parametrize("choice, other, expected", [("base", "", "base"), ("lora", "  ", "lora"),
                                                     ("base", " ID/lora ", "ID/lora"), (None, None, "base")])
def test_the_baseline_is_the_typed_evaluation_else_the_picked_variant(choice, other, expected):
    assert baseline_of(choice, other) == expected


@pytest.mark.parametrize("progress, here, words", [
    (EvaluationProgress(30, 120, 3.0, RUNNING), True, "30 of 120 outputs (25%), 3.0 outputs/s, about 30 s left"),
    (EvaluationProgress(30, 120, None, RUNNING), False, "not running in this process"),
    (EvaluationProgress(120, 120, None, FINISHED), False, "120 of 120 outputs (100%): finished"),
])
def test_the_progress_bar_says_how_far_and_how_long(progress, here, words):
    bar = progress_html(progress, here, "3 of 96 outputs done")
    assert words in bar and ("this batch: 3 of 96" in bar) == (progress.status == RUNNING) and f'aria-valuenow="{100 * progress.done // progress.total}"' in bar


# ---- the API --------------------------------------------------------------------------------------

def test_the_api_starts_reads_and_cancels(fake_ui, fake_adapters, fake_session, tmp_path):
    fake_ui.adapters.attach_folder(str(fake_adapters["lora"]), "lora")
    api = fake_ui.api
    started = api.evaluate(str(write_set(tmp_path / "set.jsonl")), "base, lora", 1, 8, request=visitor())
    assert set(started) == {"id", "owner_key"}
    fake_session.evaluations.get(started["id"]).wait(30)
    document = api.evaluation(started["id"], "base")
    assert SPEC_KEYS <= set(document) and document["status"] == FINISHED and len(document["items"]) == 24
    assert {v["variant"] for v in document["verdicts"]} == {"lora"} and document["baseline"] == "base"
    with pytest.raises(gr.Error, match="not running here"):
        api.cancel_evaluation(started["id"], started["owner_key"])

    fake_session.backend.hold = threading.Event()
    running = api.evaluate(str(tmp_path / "set.jsonl"), ["base"], 1, 8, request=visitor())
    with pytest.raises(gr.Error, match="only its owner can cancel"):
        api.cancel_evaluation(running["id"], "not the key")
    assert api.cancel_evaluation(running["id"], running["owner_key"]) == {"id": running["id"], "status": "cancelling"}
    fake_session.backend.hold.set()
    fake_session.evaluations.get(running["id"]).wait(30)
    assert api.evaluation(running["id"])["status"] == CANCELLED


@pytest.mark.parametrize("name, public, error", [
    ("../../etc/passwd.jsonl", True, "this Space runs only its shipped sets"),
    (str(Path(__file__).resolve().parents[1] / "assets" / "evals" / "demo.jsonl"), True, "runs only its shipped sets"),
    ("/etc/hosts", False, "unknown extension"),
    ("missing.jsonl", False, "does not exist"),
])
def test_the_api_refuses_sets_it_must_not_read(fake_ui, name, public, error):
    api = fake_ui.api
    api.settings = api.settings.replace(public=public)
    with pytest.raises(gr.Error, match=error):
        api.evaluate(name, None, 1, 8, request=visitor())
    assert list_evaluations(api.database.get()) == []


def test_the_api_s_numbers_are_checked_in_one_line(fake_ui, tmp_path):
    with pytest.raises(gr.Error, match="samples must be a whole number, got 'two'"):
        fake_ui.api.evaluate(str(write_set(tmp_path / "set.jsonl")), None, "two", 8, request=visitor())


def test_the_api_s_document_of_an_unknown_id_is_one_line(fake_ui):
    with pytest.raises(gr.Error, match="is not an evaluation id"):
        fake_ui.api.evaluation("../x", "base")


# ---- app start ------------------------------------------------------------------------------------

def test_resuming_at_start_survives_a_broken_database(fake_session, caplog):
    broken = DatabaseHolder("postgresql+psycopg://nobody@127.0.0.1:1/none")
    assert resume_jobs(fake_session, broken) == []
    assert "unfinished evaluations were not resumed" in caplog.text
    assert "unfinished judgings were not resumed" in caplog.text  # each kind tried on its own


def test_the_holder_runs_its_start_steps_once_loaded_and_logs_a_failure(fake_holder, caplog):
    seen = []
    fake_holder.when_loaded(seen.append)
    fake_holder.when_loaded(lambda session: 1 / 0)
    assert seen == [fake_holder.loaded] and "a start-up step after loading the base model failed" in caplog.text
