"""What the page says about work that has not started yet: a grid cell before its first token, and a
playground reply stopped while it still waits for another visitor's turn on the model."""

from __future__ import annotations

import gradio as gr
import pytest

from adapters_ui.runs.run import Output, Partial
from adapters_ui.ui.state import CompareView

WAITING = "waiting…"  # literal: what a visitor reads


def test_a_cell_without_a_token_says_waiting_and_a_finished_empty_one_says_empty():
    view = CompareView([{"prompt": "Hi", "outputs": {"base": None, "lora": None}}], ["base", "lora"])
    assert view.grid().count(WAITING) == 2  # before the run's first event
    view.apply(Partial({(0, "base"): "", (0, "lora"): "Ahoy"}))  # base has no token yet
    grid = view.grid()
    assert "(empty)" not in grid and grid.count(WAITING) == 1 and ">Ahoy<" in grid
    view.apply(Output(0, "base", ""))  # base ended without writing anything: that is an empty output
    grid = view.grid()
    assert "(empty)" in grid and WAITING not in grid


@pytest.mark.parametrize("kind", ["chat", "complete"])
def test_stopping_a_reply_that_still_waits_cancels_it_and_leaves_no_bubble(kind, ui, holder):
    session = holder.get()
    alice = gr.Request(session_hash="alice")
    earlier = [{"role": "user", "content": "Earlier"}, {"role": "assistant", "content": "An answer."}]
    with session.turns.turn():  # another visitor's run holds the model: alice's reply waits in line
        if kind == "chat":
            updates = ui.playground.chat_reply("Hi", earlier, "base", 20, request=alice)
        else:
            updates = ui.playground.complete_text("Once upon", "base", 20, request=alice)
        waiting = next(updates)
        assert waiting[-1].startswith("**Waiting**")
        assert ui.playground.stop_playground(alice).startswith("**Stopping…**")
        *shown, notice = list(updates)[-1]
    assert notice == "**Stopped:** base's reply was cancelled before it started."
    if kind == "chat":
        assert shown == [earlier, "Hi"]  # no bubble for the unanswered message, which is back in the box
    else:
        assert shown == [gr.skip()]  # the continuation box is left as it was
    assert session.runs.running("alice") == []
