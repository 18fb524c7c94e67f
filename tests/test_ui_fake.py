"""The dashboard's handlers on the fake backend (tests/fake_backend.py): what the page says and keeps while
runs stream, stop, wait, fail, and whose they are, in milliseconds and with the fake's exact words. Only the
public handler methods are called; tests/test_ui_app.py drives the same handlers on the tiny real model.
"""

from __future__ import annotations

import json
import threading
from pathlib import Path

import gradio as gr
import pytest
from fake_backend import FAULT, FakeBackend

from adapters_ui.ui.compare import GREEDY
from adapters_ui.ui.state import NOT_RUN

SKIP = gr.skip()


def compare_args(prompts="Hello\n\nWhat?\n", variants=("base", "lora"), tokens=5):
    return [prompts, list(variants), tokens, GREEDY, 0, 0.7, 0.9, False]


def as_visitor(name: str) -> gr.Request:
    return gr.Request(session_hash=name)


@pytest.fixture
def held(fake_session):
    """Steps wait from the ``hold_from``-th on until the test sets the event (the fixture sets it at the end)."""
    backend = fake_session.backend
    backend.hold = threading.Event()
    return backend


def test_attach_and_a_refusal_are_one_line_in_the_page(fake_ui, fake_session, fake_adapters):
    assert "**backend:** fake backend, for tests" in fake_ui.page.header_markdown()
    notice = fake_ui.adapters.attach_folder(str(fake_adapters["lora"]), "lora")[1]
    assert notice.startswith("**Done:** Attached **lora** (LoRA, ")
    fake_session.backend.refusals["IA3"] = "IA3 is not served by this backend: attach a LoRA adapter."
    notice = fake_ui.adapters.attach_folder(str(fake_adapters["ia3"]), "ia3")[1]
    assert notice == "**Error:** IA3 is not served by this backend: attach a LoRA adapter."
    assert fake_session.variants == ["base", "lora"]


def test_compare_streams_then_fills_the_grid_with_the_backend_s_outputs(fake_ui, fake_adapters):
    fake_ui.adapters.attach_folder(str(fake_adapters["lora"]), "lora")
    updates = list(fake_ui.compare.run_compare(*compare_args()))
    assert len(updates) >= 2 and updates[0][0] == "**Starting…**"
    assert all(u[0] == SKIP or u[0].startswith("**Running:**") for u in updates[1:-1])
    assert updates[0][1].count('class="pending"') == 4  # every cell waits, then fills as outputs arrive
    notice, grid, diff, view, chart, csv_file, json_file, html_file = updates[-1]
    assert notice.startswith("**Done:** 2 prompts × 2 variants") and "lora: 2/2 changed" in notice
    assert grid.count("<tr data-row=") == 2 and "Click a row" in diff
    assert view.records == [{"prompt": p, "outputs": {v: FakeBackend.reply(v, p, 5) for v in ("base", "lora")}}
                            for p in ("Hello", "What?")]
    assert json.loads(Path(json_file["value"]).read_text())["results"] == view.records


@pytest.mark.parametrize(
    "args, words",
    [
        (compare_args(prompts=" \n "), "No prompts given"),
        (compare_args(variants=()), "No variants chosen"),
        (compare_args(variants=("base", "ghost")), "Unknown variant 'ghost'"),
        (compare_args(tokens=100_000), "over the cap"),
    ],
)
def test_bad_compare_input_is_one_line_and_leaves_the_view_alone(args, words, fake_ui):
    (update,) = list(fake_ui.compare.run_compare(*args))
    assert update[0].startswith("**Error:** ") and words in update[0] and "\n" not in update[0]
    assert all(value == SKIP for value in update[1:])


def test_a_failed_run_says_why_in_one_line_and_the_next_run_works(fake_ui, fake_session):
    fake_session.backend.fail_at = 2
    notice, grid, *_ = list(fake_ui.compare.run_compare(*compare_args(variants=("base",))))[-1]
    assert notice == (f"**Error:** The comparison failed: RuntimeError: {FAULT} "
                      "(0 of 2 outputs were finished and are kept.)")
    assert list(fake_ui.compare.run_compare(*compare_args(variants=("base",))))[-1][0].startswith("**Done:**")


def test_stop_keeps_what_was_written_and_only_stops_its_own_visitor(fake_ui, fake_session, fake_adapters, held):
    fake_ui.adapters.attach_folder(str(fake_adapters["lora"]), "lora")
    assert fake_ui.compare.stop_compare(as_visitor("alice")).startswith("**Error:** Nothing to stop")
    many = "\n".join(f"Prompt {i}" for i in range(6))
    alice = fake_ui.compare.run_compare(*compare_args(prompts=many, tokens=400), request=as_visitor("alice"))
    bob = fake_ui.compare.run_compare(*compare_args(prompts="Hi", tokens=30), request=as_visitor("bob"))
    next(alice), next(bob)  # both under way: alice's first step holds the model, bob waits
    assert fake_ui.compare.stop_compare(as_visitor("carol")).startswith("**Error:** Nothing to stop")
    assert fake_ui.compare.stop_compare(as_visitor("alice")).startswith("**Stopping…**")
    held.hold.set()
    notice, grid, _diff, view, _chart, *downloads = list(alice)[-1]
    assert notice.startswith("**Stopped:** 0 of 12 outputs finished") and grid.count("<tr data-row=") == 6
    assert grid.count('class="cut"') == 12 and "cut off by Stop" in grid  # one batch of 12 rows, all cut short
    assert view.records[0]["outputs"] == {"base": "base", "lora": "lora"}  # the one word each row wrote
    assert downloads[0]["interactive"] and json.loads(Path(downloads[1]["value"]).read_text())["status"] == "stopped"
    assert list(bob)[-1][0].startswith("**Done:** 1 prompt × 2 variants")  # bob's run was not touched
    assert fake_session.runs.running("alice") == []
    assert list(fake_ui.compare.run_compare(*compare_args()))[-1][0].startswith("**Done:**")  # the app keeps working


def test_a_stopped_run_marks_what_never_ran(fake_ui, fake_adapters, held):
    fake_ui.adapters.attach_folder(str(fake_adapters["lora"]), "lora")
    fake_ui.adapters.attach_folder(str(fake_adapters["ia3"]), "ia3")  # batch route: runs after the mixed LoRA batch
    run = fake_ui.compare.run_compare(*compare_args(variants=("base", "lora", "ia3"), tokens=300), request=as_visitor("alice"))
    next(run)
    fake_ui.compare.stop_compare(as_visitor("alice"))
    held.hold.set()
    _notice, grid, _diff, view, *_ = list(run)[-1]
    assert grid.count(NOT_RUN) == 2 and view.ended  # ia3 never ran: said so, not a bare "…"
    assert fake_ui.compare.select_row(view, False, gr.EventData(None, {"row": 0}))[1].count(NOT_RUN) == 1


def test_closing_the_page_stops_that_visitor_s_runs_only(fake_ui, fake_session, held):
    gone = fake_session.start_compare(["a", "b"], settings=fake_session.generation_settings(max_new_tokens=400), owner="alice")
    kept = fake_session.start_compare(["c"], settings=fake_session.generation_settings(max_new_tokens=20), owner="bob")
    fake_ui.page.page_closed(as_visitor("alice"))
    held.hold.set()
    assert gone.result(5).status == "stopped" and kept.result(5).status == "finished"


def test_a_closed_page_s_generator_stops_its_run(fake_ui, fake_session, held):
    """Gradio closes the handler's generator when the page goes away mid-run."""
    updates = fake_ui.compare.run_compare(*compare_args(variants=("base",), tokens=400), request=as_visitor("alice"))
    next(updates)
    (run,) = fake_session.runs.running("alice")
    updates.close()
    held.hold.set()
    assert run.result(5).status == "stopped"


def test_playground_chat_streams_the_reply_and_ends_with_it(fake_ui, fake_session):
    updates = list(fake_ui.playground.chat_reply("Hi", [], "base", 6))
    history, _message, notice = updates[-1]
    assert updates[0][1] == "" and all(u[1] == SKIP for u in updates[1:])  # cleared once: a new draft survives
    assert notice.startswith("**Done:** **base** answered")
    reply = fake_session.chat([{"role": "user", "content": "Hi"}], "base", fake_session.generation_settings(max_new_tokens=6))
    assert history == [{"role": "user", "content": "Hi"}, {"role": "assistant", "content": reply}]
    assert reply == FakeBackend.reply("base", "User: Hi Assistant:", 6)  # no chat template: the plain transcript


def test_playground_stop_cuts_the_reply_and_keeps_it(fake_ui, held):
    held.hold_from = 2  # the first word is written, the second waits (unless the stop came first)
    reply = fake_ui.playground.chat_reply("Hi", [], "base", 400, request=as_visitor("alice"))
    next(reply)
    assert fake_ui.playground.stop_playground(as_visitor("bob")).startswith("**Error:** Nothing to stop")
    assert fake_ui.compare.stop_compare(as_visitor("alice")).startswith("**Error:** Nothing to stop")  # a chat is not a comparison
    assert fake_ui.playground.stop_playground(as_visitor("alice")).startswith("**Stopping…**")
    held.hold.set()
    history, _message, notice = list(reply)[-1]
    assert notice == "**Stopped:** base's reply was cut off." and 0 < len(history[-1]["content"])
    assert FakeBackend.reply("base", "User: Hi Assistant:").startswith(history[-1]["content"])  # cut at a word


@pytest.mark.parametrize("kind", ["chat", "complete"])
def test_stopping_a_reply_that_still_waits_cancels_it_and_leaves_no_bubble(kind, fake_ui, fake_session):
    alice = gr.Request(session_hash="alice")
    earlier = [{"role": "user", "content": "Earlier"}, {"role": "assistant", "content": "An answer."}]
    with fake_session.turns.turn():  # another visitor's run holds the model: alice's reply waits in line
        if kind == "chat":
            updates = fake_ui.playground.chat_reply("Hi", earlier, "base", 20, request=alice)
        else:
            updates = fake_ui.playground.complete_text("Once upon", "base", 20, request=alice)
        waiting = next(updates)
        assert waiting[-1].startswith("**Waiting**")
        assert fake_ui.playground.stop_playground(alice).startswith("**Stopping…**")
        *shown, notice = list(updates)[-1]
    assert notice == "**Stopped:** base's reply was cancelled before it started."
    if kind == "chat":
        assert shown == [earlier, "Hi"]  # no bubble for the unanswered message, which is back in the box
    else:
        assert shown == [gr.skip()]  # the continuation box is left as it was
    assert fake_session.runs.running("alice") == []
