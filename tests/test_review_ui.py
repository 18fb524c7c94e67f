"""The review pages' handlers without a server: which page a link opens, names shown as text, votes."""

from __future__ import annotations

import gradio as gr
import pytest
from helpers import report_document

from adapters_ui.store import DatabaseHolder
from adapters_ui.store.reviews import create_review
from adapters_ui.store.saved import save_comparison
from adapters_ui.ui.review_app import ReviewerState, ReviewHandlers, as_text


@pytest.fixture
def review(tiny_settings):
    database = DatabaseHolder(tiny_settings.database)
    ref = save_comparison(database.get(), report_document(prompts=2), [])
    return ReviewHandlers(database), create_review(database.get(), ref.id, ["base", "pirate"])


def link(**params) -> gr.Request:
    return gr.Request(session_hash="s", query_params=params)


def test_a_link_opens_its_own_page(review):
    ui, links = review
    title, notice, state, join, task, results, owner = ui.open_link(link(reviewer=links.reviewer_token))
    assert title.startswith("# Blind review") and state.token == links.reviewer_token
    assert (join["visible"], task["visible"], results["visible"], owner) == (True, False, False, "")
    *_, join, task, results, owner = ui.open_link(link(owner=links.owner_token))
    assert (join["visible"], results["visible"], owner) == (False, True, links.owner_token)
    for params in ({}, {"reviewer": "nope"}, {"owner": links.reviewer_token}):
        _, notice, state, *_ = ui.open_link(link(**params))
        assert notice.startswith("**Error:** ") and "\n" not in notice and state.token == ""


def test_a_reviewer_name_is_shown_as_text(review):
    ui, links = review
    notice, state, *_ = ui.join_page(ReviewerState(token=links.reviewer_token), "<img src=x onerror=1> *Ann*")
    assert "<img" not in notice and "&lt;img" in notice and r"\*Ann\*" in notice
    assert as_text("a_b") == r"a\_b"


def test_votes_advance_and_end(review):
    ui, links = review
    shown = ui.join_page(ReviewerState(token=links.reviewer_token), "Ann")
    state, progress = shown[1], shown[4]
    assert progress.startswith("**1 of 2**") and state.vote_id
    again = ui.vote("a", state, "")  # a double click sends the same state: counted once
    twice = ui.vote("a", state, "")
    assert again[0].startswith("Vote recorded.") and twice[1].task_id == again[1].task_id
    end = ui.vote("tie", again[1], "fine")
    assert "All done" in end[0] and end[1].task_id == ""
    assert ui.api_results(links.owner_token)["judgements_count"] == 2
