"""Judging jobs against a real HTTP server that plays the judge, over a review and an evaluation made on the
fake backend ("lora says ..." against "base says ...": the test knows what a fair judge must say).

What is checked: every pair in both orders, the cache (a second run sends nothing: the server counts),
cancel and resume without a lost or repeated unit, the judge as one more reviewer with its agreement with
the people, and the judge's verdicts joining the evaluation's table with their paired statistics.
"""

from __future__ import annotations

import json
import threading
import time

import pytest
from test_evaluation_job import write_set
from test_judging import ScriptedJudge, shown_first, user_text

from adapters_ui.cli.main import main
from adapters_ui.errors import JudgeError
from adapters_ui.judging.client import JudgeClient
from adapters_ui.runs.evaluation_document import evaluation_document
from adapters_ui.runs.judging import resume_judging, start_judging
from adapters_ui.runs.judging_document import judging_document
from adapters_ui.store.evaluation_reviews import create_evaluation_review
from adapters_ui.store.judgements import (
    RUNNING,
    done_units,
    judge_judgements,
    list_judgings,
    load_judging,
    set_status,
    unfinished_ids,
)
from adapters_ui.store.reviews import cast_vote, join_review, next_task
from adapters_ui.store.schema import Judging


def likes_lora(body):
    """A fair judge: the output that says "lora" wins, wherever it is shown."""
    return 200, '{"explanation": "fits", "verdict": "A"}' if "lora says" in shown_first(body) else '{"explanation": "x", "verdict": "B"}'


def always_first(body):
    return 200, "[[A]]"


def grades_lora(body):
    """5 for an output that says "lora", else 2 (the reference, which may say it too, is not the output)."""
    response = user_text(body).split("###Response to evaluate:")[1].split("###")[0]
    return 200, "Fits. [RESULT] 5" if "lora says" in response else "Meh. [RESULT] 2"


@pytest.fixture
def finished(fake_session, fake_adapters, db, tmp_path):
    fake_session.attach(fake_adapters["lora"], "lora")
    job, ref = fake_session.start_evaluation(db, write_set(tmp_path / "set.jsonl", count=12), ["base", "lora"])
    assert job.wait(30)
    return ref.id


@pytest.fixture
def review(finished, db):
    """A blind review of the evaluation (12 pairs): Ada picks lora on 9 of them and base on 3."""
    links = create_evaluation_review(db, finished, ["base", "lora"], per_category=6)
    join_review(db, links.reviewer_token, "Ada")
    count = 0
    while (task := next_task(db, links.reviewer_token, "Ada")) is not None:
        lora_is_a = task.a.startswith("lora")
        count += 1
        pick_lora = count > 3
        cast_vote(db, links.reviewer_token, "Ada", task.task_id, "a" if lora_is_a == pick_lora else "b")
    return links.review_id


@pytest.fixture
def judge_server():
    servers = []

    def start(script, **client):
        server = ScriptedJudge(script)
        servers.append(server)
        return server, JudgeClient(server.url, retries=0, **client)

    yield start
    for server in servers:
        server.close()


def test_a_review_is_judged_both_ways_and_the_judge_joins_the_people(review, db, judge_server):
    server, judge = judge_server(likes_lora)
    job = start_judging(db, review, judge, batch_units=5)
    assert job.wait(30) and job.progress().status == "finished"
    assert len(server.bodies) == 2 * 12 and job.progress().requests == 24 and job.progress().cached == 0
    document = judging_document(db, job.id)
    assert document["target"] == {"kind": "review", "id": review} and document["progress"]["done"] == 12
    assert document["swap"]["consistency"] == 1.0 and document["swap"]["position_bias"] == 0.5
    verdicts = judge_judgements(db, job.id)
    assert len(verdicts) == 12 and {j.reviewer for j in verdicts} == {"judge: judge-7b"}
    assert all((j.left if j.choice == "left" else j.right) == "lora" for j in verdicts)
    agreement = document["agreement"]
    assert agreement["compared"] == 12 and agreement["percent_with_ties"] == pytest.approx(75.0)  # Ada's 3 base picks
    assert len(agreement["disagreements"]) == 3 and {d["human"] for d in agreement["disagreements"]} <= {"left", "right"}
    judge_fit = {s["variant"]: s for s in document["strengths"]["judge"]["strengths"]}
    assert judge_fit["lora"]["plain"] > judge_fit["base"]["plain"] and "people" in document["strengths"]
    json.dumps(document, allow_nan=False)


@pytest.mark.parametrize("baseline, measured", [("base", ["lora"]), ("lora", ["base"]), ("pirate", None)])
def test_a_reviews_length_controlled_win_rates_are_against_the_judgings_own_baseline(review, db, judge_server,
                                                                                     baseline, measured):
    """The baseline the judging was started with (stored in its settings), not a guess; one the review lacks: none."""
    server, judge = judge_server(likes_lora)
    job = start_judging(db, review, judge, baseline=baseline)
    assert job.wait(30) and load_judging(db, job.id).settings["baseline"] == baseline
    rows = judging_document(db, job.id).get("length_controlled")
    assert (rows and [r["variant"] for r in rows]) == measured
    if rows:
        assert rows[0]["win_rate"] == (1.0 if baseline == "base" else 0.0)  # the judge always picks lora


def test_a_second_run_of_the_same_judge_asks_nothing(review, db, judge_server):
    server, judge = judge_server(likes_lora)
    first = start_judging(db, review, judge)
    assert first.wait(30)
    asked = len(server.bodies)
    again = start_judging(db, review, judge)
    assert again.wait(30) and again.progress().status == "finished"
    assert len(server.bodies) == asked  # every reply came from the cache
    assert again.progress().cached == 24 and again.progress().requests == 0
    assert judging_document(db, again.id)["results"] == judging_document(db, first.id)["results"]


def test_an_always_first_judge_shows_full_position_bias_and_gives_no_verdict(review, db, judge_server):
    server, judge = judge_server(always_first)
    job = start_judging(db, review, judge)
    assert job.wait(30)
    swap = judging_document(db, job.id)["swap"]
    assert swap["position_bias"] == 1.0 and swap["consistent"] == 0 and swap["favours_first"] == 12
    assert {j.choice for j in judge_judgements(db, job.id)} == {"tie"}  # struck out by the swap


def test_cancel_keeps_whole_batches_and_resume_asks_only_what_is_missing(review, db, judge_server):
    def slow(body):
        time.sleep(0.05)
        return likes_lora(body)

    server, judge = judge_server(slow, concurrency=1)
    job = start_judging(db, review, judge, batch_units=2)
    while not done_units(db, job.id):
        time.sleep(0.01)
    job.cancel()
    assert job.wait(30) and job.progress().status == "cancelled"
    stored = done_units(db, job.id)
    assert 0 < len(stored) < 12 and len(stored) % 2 == 0 and load_judging(db, job.id).status == "cancelled"
    resumed = resume_judging(db, job.id, judge)
    assert resumed.progress().done == len(stored)  # the bar starts where it was
    assert resumed.wait(30) and resumed.progress().status == "finished" and len(done_units(db, job.id)) == 12
    assert len(server.bodies) == 24  # nothing asked twice: the cancelled batch's replies were kept or never sent
    with pytest.raises(JudgeError, match="already finished"):
        resume_judging(db, job.id, judge)


def left_running(db, job) -> set[str]:
    """Cancel ``job`` once a batch is stored, then mark it running again: what a killed process leaves behind
    (nobody was left to say it stopped). Returns the units stored."""
    while not done_units(db, job.id):
        time.sleep(0.01)
    job.cancel()
    assert job.wait(30)
    set_status(db, job.id, RUNNING)
    return done_units(db, job.id)


def test_the_app_start_resumes_an_unfinished_judging_with_its_own_judge(review, db, judge_server, fake_session):
    def slow(body):
        time.sleep(0.02)
        return likes_lora(body)

    server, judge = judge_server(slow, concurrency=2, max_tokens=300)
    started = start_judging(db, review, judge, batch_units=2)
    stored = left_running(db, started)
    judge.close()  # the process that started it is gone
    assert 0 < len(stored) < 12 and unfinished_ids(db) == [started.id]
    jobs = fake_session.resume_unfinished_judgings(db)
    assert [job.id for job in jobs] == [started.id] and jobs[0].judge is not judge
    assert (jobs[0].judge.model, jobs[0].judge.max_tokens, jobs[0].judge.concurrency) == ("judge-7b", 300, 2)
    assert jobs[0].wait(30) and jobs[0].progress().status == "finished" and len(done_units(db, started.id)) == 12
    assert len(server.bodies) == 24 and all(b["max_tokens"] == 300 for b in server.bodies)  # nothing asked twice
    assert fake_session.resume_unfinished_judgings(db) == [] and unfinished_ids(db) == []
    swap = judging_document(db, started.id)["swap"]
    assert swap["consistency"] == 1.0 and swap["pairs"] == 12


def test_the_app_start_leaves_alone_a_judging_a_visitor_started_while_the_model_loaded(review, db, judge_server,
                                                                                     fake_session):
    """A review owner may press Judge before the model has loaded: that judging runs already, and the resume at the
    model's load (judgings created before the app started) must not run it a second time beside it."""
    from datetime import datetime, timezone

    from adapters_ui.store import DatabaseHolder
    from adapters_ui.ui.evaluate import resume_jobs

    _earlier, judge = judge_server(likes_lora)
    before = start_judging(db, review, judge, batch_units=2)
    left_running(db, before)  # the last process's, left running by a kill
    app_started = datetime.now(timezone.utc)  # noqa: UP017
    gate = threading.Event()
    _server, visitors = judge_server(lambda body: (gate.wait(30), likes_lora(body))[1])
    own = start_judging(db, review, visitors, batch_units=2)  # started from the page, the model still loading
    assert unfinished_ids(db) == [before.id, own.id] and unfinished_ids(db, app_started) == [before.id]
    holder = DatabaseHolder("sqlite://")
    holder._database = db
    resumed = resume_jobs(fake_session, holder, app_started)
    assert [job.id for job in resumed] == [before.id]
    gate.set()
    assert own.wait(30) and resumed[0].wait(30) and own.id not in fake_session.judgings
    assert own.progress().status == resumed[0].progress().status == "finished"


@pytest.mark.parametrize("change, error", [
    ("closed", "is not reachable"),
    ("other model", "no longer serves judge-7b (it serves judge-70b)"),
    ("in process", "loaded in the process that started it: resume it with `adapters-ui judge --resume"),
])
def test_a_judging_the_app_cannot_resume_is_marked_failed_with_one_line(review, db, judge_server, fake_session,
                                                                        change, error):
    server, judge = judge_server(likes_lora)
    job = start_judging(db, review, judge, batch_units=2)
    assert job.wait(30)
    set_status(db, job.id, RUNNING)  # as if killed before its last batch
    if change == "closed":
        server.close()
    else:
        other = ScriptedJudge(likes_lora, models=("judge-70b",))
        with db.transaction() as tx:
            tx.get(Judging, job.id).judge_url = None if change == "in process" else other.url
    assert fake_session.resume_unfinished_judgings(db) == []
    failed = load_judging(db, job.id)
    assert failed.status == "failed" and error in failed.error and "\n" not in failed.error
    assert unfinished_ids(db) == []  # not tried again at the next start
    if change == "other model":
        other.close()


def test_the_judges_verdicts_join_the_evaluations_table(finished, db, judge_server, monkeypatch):
    from adapters_ui.runs import evaluation_document as module

    reads = []
    monkeypatch.setattr(module, "list_judgings", lambda *args, **kw: reads.append(args) or list_judgings(*args, **kw))
    server, judge = judge_server(likes_lora)
    assert start_judging(db, finished, judge).wait(30)
    server, grader = judge_server(grades_lora)
    rubric = start_judging(db, finished, grader, mode="rubric")
    assert rubric.wait(30) and rubric.progress().status == "finished"
    assert len(server.bodies) == 12 * 2  # every output of both variants, once
    assert "###Reference Answer (Score 5):" in user_text(server.bodies[-1])  # the set has references
    verdicts = {(r["metric"], r["slice"]): r for r in evaluation_document(db, finished)["verdicts"] if r["variant"] == "lora"}
    assert len(reads) == 1  # the judgings are read once per document (the page polls it), both parts use them
    preference = verdicts[("judge_preference", None)]
    assert preference["test"] == "sign" and preference["n"] == 12 and preference["mean"] == 1.0
    grade = verdicts[("judge_grade", None)]
    assert grade["mean"] == 5.0 and grade["baseline_mean"] == 2.0 and grade["test"] == "wilcoxon"
    assert grade["verdict"] == "better" and grade["p_holm"] >= grade["p_value"]
    assert ("judge_grade", "category:odd") in verdicts  # sliced like every metric
    document = judging_document(db, rubric.id)
    assert {g["variant"]: g["mean"] for g in document["grades"]} == {"base": 2.0, "lora": 5.0}


@pytest.mark.parametrize("args, error", [
    ([], "No judge is set"),
    (["--judge-url", "http://127.0.0.1:9"], "is not reachable"),
])
def test_the_cli_without_a_usable_judge_is_one_line(review, db, sqlite_db, capsys, args, error):
    code = main(["judge", review, "--database", str(db.engine.url), *args])
    err = capsys.readouterr().err
    assert code == 1 and error in err and len(err.strip().splitlines()) == 1


def test_the_cli_judges_a_review_and_writes_the_document(review, db, judge_server, tmp_path, capsys):
    server, _ = judge_server(likes_lora)
    out = tmp_path / "judged.json"
    code = main(["judge", review, "--judge-url", server.url, "--database", str(db.engine.url), "--json", str(out)])
    printed = capsys.readouterr().out
    assert code == 0 and "12 of 12 pairs" in printed and "agreement with people: 75% with ties" in printed
    document = json.loads(out.read_text())
    assert document["mode"] == "pairwise" and len(document["results"]) == 12 and document["judge"]["model"] == "judge-7b"
