"""The judge on a review's owner page, through the page's own handlers: a real HTTP server plays the judge
(tests/test_judging.ScriptedJudge) over a blind review of a fake-backend evaluation, where a fair judge
must pick the output that says "lora" and Ada picked lora on 9 of her 12 pairs.

What is checked: the page names the judge or refuses in one line when none is set; an edited template that
loses a hole is refused and nothing is stored; Judge runs in the background and, once done, the page shows
swap figures, 75% agreement with Ada, the disagreements and the style-controlled table; the judge can be
counted as one more reviewer, or not, in every result; a second Judge while one runs starts nothing.
"""

from __future__ import annotations

import dataclasses
import threading

import pytest
from test_evaluation_job import write_set
from test_judging import ScriptedJudge, shown_first

from adapters_ui.config import Settings
from adapters_ui.judging.templates import PAIRWISE
from adapters_ui.runs.review_judging import ReviewJudgingView
from adapters_ui.store import DatabaseHolder
from adapters_ui.store.evaluation_reviews import create_evaluation_review
from adapters_ui.store.judgements import list_judgings
from adapters_ui.store.reviews import cast_vote, join_review, next_task
from adapters_ui.ui.judge_desk import NO_JUDGE
from adapters_ui.ui.review import ReviewHandlers
from adapters_ui.views.judge_report import judge_section_html

JUDGE_HTML, PROGRESS, TIMER = 9, 10, 11  # places in results_page's answer


def make_review(session, adapters, db, folder, items: int) -> str:
    """A review of base against lora on ``items`` items, where Ada picked base on her first 3 pairs -> its owner token."""
    session.attach(adapters["lora"], "lora")
    job, ref = session.start_evaluation(db, write_set(folder / "set.jsonl", count=items), ["base", "lora"])
    assert job.wait(30)
    links = create_evaluation_review(db, ref.id, ["base", "lora"], per_category=6)
    join_review(db, links.reviewer_token, "Ada")
    count = 0
    while (task := next_task(db, links.reviewer_token, "Ada")) is not None:
        count += 1
        cast_vote(db, links.reviewer_token, "Ada", task.task_id, "a" if task.a.startswith("lora") == (count > 3) else "b")
    return links.owner_token


@pytest.fixture
def owner(fake_session, fake_adapters, db, tmp_path):
    """The owner token of a 12-pair review of base against lora, where Ada picked base on her first 3 pairs."""
    return make_review(fake_session, fake_adapters, db, tmp_path, 12)


@pytest.fixture
def judge():
    """A fair judge, and a gate that holds its replies until the test opens it."""
    gate = threading.Event()
    gate.set()

    def likes_lora(body):
        gate.wait(30)
        return 200, '{"explanation": "fits", "verdict": "%s"}' % ("A" if "lora says" in shown_first(body) else "B")

    server = ScriptedJudge(likes_lora)
    server.gate = gate
    yield server
    server.close()


def handlers_for(db, url: str | None) -> ReviewHandlers:
    holder = DatabaseHolder("sqlite://")
    holder._database = db  # the test's own database, already open
    return ReviewHandlers(holder, Settings(judge_url=url))


def run_judge(handlers: ReviewHandlers, owner: str, system=PAIRWISE.system, user=PAIRWISE.user) -> str:
    notice, _timer = handlers.start_judge(owner, system, user)
    for job in handlers.judge.jobs.values():
        assert job.wait(300)  # the in-process judge writes up to 512 tokens a reply on 2 shared CPU cores
    return notice


def test_without_a_judge_the_page_says_so_in_one_line_and_stores_nothing(owner, db):
    handlers = handlers_for(db, None)
    assert handlers.judge.judge_line() == NO_JUDGE
    notice, timer = handlers.start_judge(owner, PAIRWISE.system, PAIRWISE.user)
    assert "No judge is set" in notice and "\n" not in notice.strip() and not timer.active
    assert list_judgings(db) == [] and handlers.results_page(owner)[PROGRESS] == "Not judged yet."


def test_an_edit_that_loses_a_hole_is_refused_and_nothing_is_stored(owner, db, judge):
    handlers = handlers_for(db, judge.url)
    notice = run_judge(handlers, owner, user=PAIRWISE.user.replace("{answer_b}", "(gone)"))
    assert "lost {answer_b}" in notice and list_judgings(db) == [] and judge.bodies == []


def test_judge_the_review_then_see_agreement_and_style_control(owner, db, judge):
    handlers = handlers_for(db, judge.url)
    assert "judge-7b" not in handlers.judge.judge_line() and judge.url in handlers.judge.judge_line()
    assert "Judging" in run_judge(handlers, owner) and len(judge.bodies) == 24  # 12 pairs, both orders
    page = handlers.judge_tick(owner, False)  # the timer's last tick: the judge has ended, every result again
    assert page[PROGRESS].startswith("12 of 12 pairs (100%)") and page[PROGRESS].endswith("finished")
    section = page[JUDGE_HTML]
    assert "Consistency 100%" in section and "Position bias 50%" in section
    assert "agreed <b>75%</b>" in section and "Disagreements (3)" in section
    assert section.count('class="judge-disagreement"') == 3 and 'id="style-table"' in section
    assert "lora says" in section  # a disagreement opens to its pair's answers
    people = handlers.results_page(owner, False)
    with_judge = handlers.results_page(owner, True)
    assert "1 reviewer" in people[1] and "2 reviewers" in with_judge[1] and "judge: judge-7b" in with_judge[1]
    assert "judge: judge-7b" not in people[2] and "12 judgements from 1 reviewer" in people[1]
    assert "24 judgements" in with_judge[1]


def test_a_second_judge_while_one_runs_starts_nothing_and_cancel_keeps_batches(owner, db, judge):
    handlers = handlers_for(db, judge.url)
    judge.gate.clear()
    first, _ = handlers.start_judge(owner, PAIRWISE.system, PAIRWISE.user)
    again, _ = handlers.start_judge(owner, PAIRWISE.system, PAIRWISE.user)
    assert "Judging" in first and "already at work" in again and len(list_judgings(db)) == 1
    assert "Cancelling" in handlers.cancel_judge(owner)
    judge.gate.set()
    job, = handlers.judge.jobs.values()
    assert job.wait(30) and job.progress().status == "cancelled"
    assert handlers.cancel_judge(owner) == "The judge is not at work on this."


def test_every_text_in_the_judge_section_is_escaped():
    view = ReviewJudgingView(
        judging=object(), judged=[], swap=None, baseline="base", prompts=["<b>hi</b>"],
        outputs=[{"base": "<script>alert(1)</script>", "lora": "ok"}],
        agreement={"compared": 1, "percent_with_ties": 0.0, "kappa_with_ties": None, "compared_without_ties": 1,
                   "percent_without_ties": 0.0, "kappa_without_ties": None, "labels": ["left", "right", "tie"],
                   "confusion": [[0, 1, 0], [0, 0, 0], [0, 0, 0]],
                   "disagreements": [{"prompt_index": 0, "left": "base", "right": "lora", "reviewer": "<i>Ada</i>",
                                      "human": "left", "judge": "right"}]})
    section = judge_section_html(view)
    assert "<script>" not in section and "&lt;script&gt;alert(1)&lt;/script&gt;" in section
    assert "&lt;i&gt;Ada&lt;/i&gt; said base better, the judge lora better" in section and "<b>hi</b>" not in section


def test_an_in_process_judge_from_the_settings_judges_the_review(fake_session, fake_adapters, db, tmp_path, tiny_settings):
    """ADAPTERS_UI_JUDGE_LOCAL: the tiny random model, loaded on the first Judge, beside the base, over a 2-pair review;
    its free text is mostly unreadable, which is counted, never guessed."""
    owner = make_review(fake_session, fake_adapters, db, tmp_path, 2)
    holder = DatabaseHolder("sqlite://")
    holder._database = db
    handlers = ReviewHandlers(holder, dataclasses.replace(tiny_settings, judge_local=tiny_settings.base_model))
    assert "loaded on the first Judge" in handlers.judge.judge_line()
    assert "(in this process)" in run_judge(handlers, owner)
    stored, = list_judgings(db)
    assert stored.status == "finished" and stored.judge_url is None and stored.total == 2
    assert "in this process, beside the base (loaded)" in handlers.judge.judge_line()
    swap = handlers.results_page(owner)[JUDGE_HTML]
    assert "The judge, answers swapped" in swap and "Style control" in swap
