"""The review pages' handlers without a server: which page a link opens, names shown as text, votes."""

from __future__ import annotations

import gradio as gr
import pytest
from helpers import report_document

from adapters_ui.store import DatabaseHolder
from adapters_ui.store.reviews import create_review
from adapters_ui.store.saved import save_comparison
from adapters_ui.ui.review import ReviewerState, ReviewHandlers, as_text


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


def vote_all(ui, links, name: str, choices=("a", "tie")) -> None:
    state = ui.join_page(ReviewerState(token=links.reviewer_token), name)[1]
    for choice in choices:
        state = ui.vote(choice, state, "")[1]


def test_delete_asks_first_and_says_how_many_votes_are_lost(review):
    """Issue 21, item 7: one click on Delete deletes nothing; it asks, with the number of votes."""
    ui, links = review
    vote_all(ui, links, "Ann", ("a",))
    notice, question, confirm_box, told = ui.ask_delete(links.owner_token)
    assert notice == "" and "Its 1 vote and" in question and "cannot be undone" in question and confirm_box["visible"] is True
    assert told == 1 and ui.api_results(links.owner_token)["judgements_count"] == 1  # asking deleted nothing
    assert ui.delete(links.owner_token, None)[0].startswith("**Error:** Press Delete review first")
    vote_all(ui, links, "Bea", ("skip",))  # a vote arrives while the owner reads the question
    refused = ui.delete(links.owner_token, told)
    assert refused[0].startswith("**Error:** This review holds 2 votes now") and refused[2]["visible"] is False
    _, question, _, told = ui.ask_delete(links.owner_token)
    assert "Its 2 votes and" in question and told == 2
    notice, results_box, confirm_box = ui.delete(links.owner_token, told)
    assert notice.startswith("**Deleted:**") and "2 votes" in notice and results_box["visible"] is False
    assert ui.ask_delete(links.owner_token)[0].startswith("**Error:** This owner link is unknown")


def test_one_vote_of_one_reviewer_reads_in_the_singular(review):
    """Issue 21, item 19: "1 judgement from 1 reviewer", never "1 reviewers"."""
    ui, links = review
    vote_all(ui, links, "Ann", ("a",))
    summary = ui.results_page(links.owner_token)[1]
    assert "1 judgement from 1 reviewer · 2 pairs (every pair), 1 judgement each wanted" in summary
    assert ui.ask_delete(links.owner_token)[1].count("1 vote ") == 1


def test_the_owner_page_offers_the_raw_votes(review):
    """Issue 21, item 16: a second CSV and the JSON hold every vote, skips too."""
    import csv
    import json
    from pathlib import Path

    ui, links = review
    vote_all(ui, links, "Ann", ("b", "skip"))
    page = ui.results_page(links.owner_token)
    votes_file, json_file = page[6]["value"], page[7]["value"]
    rows = list(csv.DictReader(Path(votes_file).read_text(encoding="utf-8").splitlines()))
    assert Path(votes_file).name == "review-votes.csv" and [r["choice"] for r in rows][1] == "skip"
    assert {r["reviewer"] for r in rows} == {"Ann"} and all(r["time"] and r["shown_a"] != r["shown_b"] for r in rows)
    assert rows[0]["winner"] == rows[0]["shown_b"]  # "B is better": the variant shown as B
    assert json.loads(Path(json_file).read_text())["votes"][0]["winner"] == rows[0]["winner"]
