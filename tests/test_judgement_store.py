"""The judge's cache and judging jobs in the database (store/judgements), on SQLite and a real PostgreSQL."""

from __future__ import annotations

import pytest
from helpers import report_document
from sqlalchemy import inspect, select, text

from adapters_ui.analysis.review_stats import Judgement
from adapters_ui.errors import StoreError
from adapters_ui.store import Database
from adapters_ui.store.database import SCHEMA_HEAD
from adapters_ui.store.evaluations import create_evaluation
from adapters_ui.store.judgements import (
    CANCELLED,
    FINISHED,
    RUNNING,
    GradeResult,
    PairResult,
    cached_replies,
    create_judging,
    done_units,
    grade_unit,
    is_owner,
    iter_results,
    judge_judgements,
    list_judgings,
    load_judging,
    pair_unit,
    reply_key,
    reply_row,
    set_status,
    store_replies,
    unfinished_ids,
    write_results,
)
from adapters_ui.store.reviews import create_review
from adapters_ui.store.saved import save_comparison
from adapters_ui.store.schema import JudgeCacheEntry, Judging, JudgingResult

PAIRWISE = {"name": "pairwise", "kind": "pairwise", "system": "Judge.", "user": "{question} {answer_a} {answer_b}",
            "hash": "0123456789abcdef"}
RUBRIC = {"name": "rubric", "kind": "rubric", "system": "", "user": "{question} {answer} {rubric}",
          "hash": "fedcba9876543210"}
MESSAGES = [{"role": "system", "content": "Judge."}, {"role": "user", "content": "Q? [A] yes [B] no"}]


@pytest.fixture
def db(database_url):
    database = Database.open(database_url)
    yield database
    database.close()


@pytest.fixture
def evaluation_id(db):
    return create_evaluation(db, base_model="tiny/base", set_name="qa.jsonl", set_sha256="0" * 64,
                             variants=["base", "pirate"], samples=1, batch_items=4, settings={},
                             items=[{"id": f"q{i}", "prompt": f"Q{i}?"} for i in range(3)]).id


def judging(db, target, /, mode="pairwise", **changes):
    values = {"owner_key": "k" * 32, "target_kind": "evaluation", "target_id": target, "mode": mode,
              "judge_model": "qwen2.5-7b-instruct", "judge_url": "http://127.0.0.1:8000/v1",
              "template": PAIRWISE if mode == "pairwise" else RUBRIC,
              "rubric": None if mode == "pairwise" else "Score 1..5", "settings": {"max_tokens": 512}, "total": 3}
    return create_judging(db, **(values | changes))


class Reply:  # the shape of judging.client.JudgeReply (store/ may not import the client: it knows backends)
    def __init__(self, text, prompt_tokens=12, completion_tokens=3, seconds=0.5, structured=True):
        self.text, self.prompt_tokens, self.completion_tokens = text, prompt_tokens, completion_tokens
        self.seconds, self.structured = seconds, structured


def pair(prompt_index, left="base", right="pirate", left_first="second", right_first="first", choice="right",
         consistent=True, **changes):
    return {"prompt_index": prompt_index, "left": left, "right": right, "left_first": left_first,
            "right_first": right_first, "choice": choice, "consistent": consistent,
            "left_first_key": f"{prompt_index:064d}", "right_first_key": None} | changes


# --- migrations -------------------------------------------------------------------------------------------

def test_a_fresh_database_gets_the_judge_tables(db):
    assert db.revision() == SCHEMA_HEAD
    tables = set(inspect(db.engine).get_table_names())
    assert {"judge_replies", "judgings", "judging_results"} <= tables
    for model in (JudgeCacheEntry, Judging, JudgingResult):
        columns = {c["name"] for c in inspect(db.engine).get_columns(model.__tablename__)}
        assert columns == set(model.__table__.columns.keys()), model.__tablename__


def test_a_0002_database_is_upgraded_and_keeps_its_rows(db, database_url, evaluation_id):
    from alembic import command

    from adapters_ui.store.database import _alembic_config

    with db.engine.connect() as connection:
        command.downgrade(_alembic_config(connection), "0002")
        connection.commit()
    assert db.revision() == "0002" and "judgings" not in inspect(db.engine).get_table_names()
    Database.open(database_url).close()
    assert db.revision() == SCHEMA_HEAD
    assert "judge_replies" in inspect(db.engine).get_table_names()
    with db.engine.connect() as connection:
        assert connection.execute(text("SELECT id FROM evaluations")).scalars().all() == [evaluation_id]
    assert load_judging(db, judging(db, evaluation_id)).status == RUNNING  # the new tables work


# --- the cache --------------------------------------------------------------------------------------------

def test_replies_round_trip_and_a_second_store_keeps_the_first(db):
    key = reply_key("judge-7b", PAIRWISE["hash"], MESSAGES)
    other = reply_key("judge-7b", PAIRWISE["hash"], MESSAGES[1:])
    assert cached_replies(db, [key]) == {}
    assert store_replies(db, [reply_row(key, "judge-7b", PAIRWISE["hash"], Reply('{"verdict": "A"}'))]) == 1
    again = [reply_row(key, "judge-7b", PAIRWISE["hash"], Reply("changed [[B]]", structured=False)),
             reply_row(other, "judge-7b", PAIRWISE["hash"], Reply("[[C]]", None, None, 1.25, False))]
    assert store_replies(db, again) == 1  # only `other` is new, and no error for `key`
    found = cached_replies(db, [key, other, "f" * 64])
    assert set(found) == {key, other}
    first = found[key]
    assert (first.text, first.prompt_tokens, first.completion_tokens, first.seconds, first.structured) == (
        '{"verdict": "A"}', 12, 3, 0.5, True)
    assert (found[other].prompt_tokens, found[other].seconds, found[other].structured) == (None, 1.25, False)
    assert first.judge_model == "judge-7b" and first.template_hash == PAIRWISE["hash"] and first.created


def test_a_reopened_database_still_has_the_replies(db, database_url):
    key = reply_key("judge-7b", "h", MESSAGES)
    store_replies(db, [reply_row(key, "judge-7b", "h", Reply("[[A]]"))])
    reopened = Database.open(database_url)
    try:
        assert cached_replies(reopened, [key])[key].text == "[[A]]"
    finally:
        reopened.close()


def test_the_same_key_twice_in_one_batch_is_stored_once(db):
    key = reply_key("m", "h", MESSAGES)
    assert store_replies(db, [reply_row(key, "m", "h", Reply("one")), reply_row(key, "m", "h", Reply("two"))]) == 1
    assert cached_replies(db, [key])[key].text == "one"


def test_a_reply_row_without_its_text_is_one_line(db):
    row = reply_row("a" * 64, "m", "h", Reply("x"))
    del row["text"]
    with pytest.raises(StoreError, match="lacks 'text'"):
        store_replies(db, [row])


SWAPPED = [MESSAGES[0], {"role": "user", "content": "Q? [A] no [B] yes"}]


@pytest.mark.parametrize("model, template_hash, messages, options, same", [
    ("judge-7b", "0123456789abcdef", MESSAGES, None, True),
    ("judge-7b", "0123456789abcdef", [{"content": m["content"], "role": m["role"]} for m in MESSAGES], None, True),
    ("judge-8b", "0123456789abcdef", MESSAGES, None, False),  # another judge
    ("judge-7b", "0123456789abcdee", MESSAGES, None, False),  # an edited template
    ("judge-7b", "0123456789abcdef", SWAPPED, None, False),  # the outputs in the other order
    ("judge-7b", "0123456789abcdef", MESSAGES[::-1], None, False),  # the messages in the other order
    ("judge-7b", "0123456789abcdef", MESSAGES[1:], None, False),  # no system prompt
    ("judge-7b", "0123456789abcdef", MESSAGES, {"max_tokens": 64}, False),  # a reply cut shorter
])
def test_the_key_changes_with_every_part(model, template_hash, messages, options, same):
    key = reply_key("judge-7b", "0123456789abcdef", MESSAGES)
    assert len(key) == 64 and int(key, 16) >= 0
    assert (reply_key(model, template_hash, messages, options) == key) is same


# --- the job ----------------------------------------------------------------------------------------------

def test_a_judging_is_stored_loaded_listed_and_owned(db, evaluation_id):
    judging_id = judging(db, evaluation_id, judge_url="https://user:sk-secret@api.example.com/v1?api_key=sk-secret")
    stored = load_judging(db, judging_id)
    assert (stored.status, stored.error, stored.target_kind, stored.target_id, stored.mode, stored.total) == (
        RUNNING, None, "evaluation", evaluation_id, "pairwise", 3)
    assert stored.judge_url == "https://api.example.com/v1"  # the key is gone from the URL
    assert stored.template == PAIRWISE and stored.template_hash == PAIRWISE["hash"]
    assert stored.settings == {"max_tokens": 512} and stored.rubric is None
    assert stored.reviewer == "judge: qwen2.5-7b-instruct"
    assert is_owner(db, judging_id, "k" * 32) and not is_owner(db, judging_id, "j" * 32)
    other = judging(db, evaluation_id, mode="rubric")
    assert [j.id for j in list_judgings(db, "evaluation", evaluation_id)] == [other, judging_id]
    assert list_judgings(db, "review") == [] and list_judgings(db, target_id="x" * 22) == []


def test_a_review_can_be_judged(db):
    comparison = save_comparison(db, report_document(), [])
    review_id = create_review(db, comparison.id, ["base", "pirate"]).review_id
    judging_id = judging(db, review_id, target_kind="review", judge_url=None)
    assert load_judging(db, judging_id).judge_url is None  # a judge model loaded in process
    assert [j.id for j in list_judgings(db, "review", review_id)] == [judging_id]


@pytest.mark.parametrize("changes, error", [
    ({"target_kind": "comparison"}, "a review or an evaluation, not 'comparison'"),
    ({"target_kind": "review"}, "No review has the id"),
    ({"target_id": "nope"}, "No evaluation has the id 'nope'"),
    ({"mode": "ranking"}, "pairwise or rubric, not 'ranking'"),
    ({"template": RUBRIC}, "A pairwise judging needs a pairwise template"),
    ({"template": {k: v for k, v in PAIRWISE.items() if k != "hash"}}, "lacks 'hash'"),
    ({"mode": "rubric", "template": RUBRIC, "rubric": "  "}, "needs a rubric"),
    ({"total": 0}, "at least one unit"),
    ({"owner_key": ""}, "needs an owner key"),
    ({"settings": {"max_tokens": 8, "api_key": "sk-1"}}, "'api_key': API keys are never stored"),
    ({"settings": {"client": {"Authorization": "Bearer x"}}}, "'client.Authorization'"),
])
def test_bad_judgings_are_one_line_and_store_nothing(db, evaluation_id, changes, error):
    with pytest.raises(StoreError, match=error) as raised:
        judging(db, evaluation_id, **changes)
    assert "\n" not in str(raised.value)
    assert list_judgings(db) == []


@pytest.mark.parametrize("call", [load_judging, done_units, lambda db, i: set_status(db, i, FINISHED),
                                  lambda db, i: write_results(db, i, [pair(0)]), lambda db, i: list(iter_results(db, i)),
                                  judge_judgements, lambda db, i: is_owner(db, i, "k" * 32)])
@pytest.mark.parametrize("bad, error", [("A" * 22, "No judging has the id 'AAAA"), ("../x", "'../x' is not a judging id"),
                                        ("", "'' is not a judging id")])
def test_an_unknown_or_malformed_id_is_one_line(db, call, bad, error):
    with pytest.raises(StoreError, match=error) as raised:
        call(db, bad)
    assert "\n" not in str(raised.value)


def test_a_job_resumes_from_its_committed_batches(db, evaluation_id):
    judging_id, gone = judging(db, evaluation_id), judging(db, evaluation_id)
    assert done_units(db, judging_id) == set() and unfinished_ids(db) == [judging_id, gone]
    key = reply_key("qwen2.5-7b-instruct", PAIRWISE["hash"], MESSAGES)
    assert write_results(db, judging_id, [pair(0), pair(1, choice="tie", consistent=False, left_first="first")],
                         replies=[reply_row(key, "qwen2.5-7b-instruct", PAIRWISE["hash"], Reply("[[B]]"))]) == 2
    assert key in cached_replies(db, [key])  # the replies came with their batch
    assert done_units(db, judging_id) == {pair_unit(0, "base", "pirate"), pair_unit(1, "base", "pirate")} == {
        "p0:base|pirate", "p1:base|pirate"}
    assert done_units(db, gone) == set()  # another job's rows are its own
    set_status(db, gone, CANCELLED)
    assert unfinished_ids(db) == [judging_id]
    assert write_results(db, judging_id, [pair(2, choice="unparseable", left_first="unparseable")]) == 1
    set_status(db, judging_id, FINISHED)
    assert unfinished_ids(db) == [] and load_judging(db, judging_id).status == FINISHED
    set_status(db, gone, "failed", "The judge server went away.")
    assert (load_judging(db, gone).status, load_judging(db, gone).error) == ("failed", "The judge server went away.")
    with pytest.raises(ValueError):
        set_status(db, gone, "paused")


def test_a_unit_written_twice_keeps_its_first_row(db, evaluation_id):
    judging_id = judging(db, evaluation_id)
    assert write_results(db, judging_id, [pair(0, choice="right")]) == 1
    assert write_results(db, judging_id, [pair(0, choice="left", left_first="first", right_first="second"),
                                          pair(1)]) == 1  # p0 is ignored, p1 is new
    assert write_results(db, judging_id, [pair(2), pair(2, choice="tie")]) == 1  # twice in one batch: the first
    results = {r.unit: r.choice for r in iter_results(db, judging_id)}
    assert results == {"p0:base|pirate": "right", "p1:base|pirate": "right", "p2:base|pirate": "right"}


def test_a_bad_row_rolls_back_its_whole_batch_and_its_replies(db, evaluation_id):
    judging_id = judging(db, evaluation_id)
    key = reply_key("qwen2.5-7b-instruct", PAIRWISE["hash"], MESSAGES)
    replies = [reply_row(key, "qwen2.5-7b-instruct", PAIRWISE["hash"], Reply("[[A]]"))]
    with pytest.raises(StoreError, match="result 3 of the batch has choice 'maybe'"):
        write_results(db, judging_id, [pair(0), pair(1), pair(2, choice="maybe")], replies=replies)
    assert done_units(db, judging_id) == set() and cached_replies(db, [key]) == {}
    with db.read() as tx:
        assert tx.execute(select(JudgingResult)).first() is None


@pytest.mark.parametrize("row, error", [
    (pair(0, left_first="A"), "left_first 'A'"),
    (pair(0, right_first=None), "right_first None"),
    (pair(0, choice="both_bad"), "choice 'both_bad'"),
    (pair(0, consistent=1), "consistent 1"),
    (pair(0, right="base"), "pairs 'base' with itself"),
    (pair(0, left=""), "lacks 'left'"),
    (pair(-1), "prompt_index -1"),
    (pair(True), "prompt_index True"),
    ({"prompt_index": 0, "variant": "pirate", "grade": 4, "feedback": "ok", "key": None}, "lacks 'left'"),
])
def test_pairwise_rows_are_checked(db, evaluation_id, row, error):
    judging_id = judging(db, evaluation_id)
    with pytest.raises(StoreError, match=error):
        write_results(db, judging_id, [row])
    assert done_units(db, judging_id) == set()


def grade(prompt_index, variant="pirate", value=4, **changes):
    return {"prompt_index": prompt_index, "variant": variant, "grade": value, "feedback": "Right, terse.",
            "key": "a" * 64} | changes


@pytest.mark.parametrize("row, error", [
    (grade(0, value=6), "grade 6"),
    (grade(0, value=0), "grade 0"),
    (grade(0, value=4.5), "grade 4.5"),
    (grade(0, value=True), "grade True"),
    (grade(0, variant=None), "lacks 'variant'"),
    (pair(0), "lacks 'variant'"),
    (grade(0), None),
    (grade(0, value=None), None),  # an unreadable reply is a result too: it is not asked again
])
def test_rubric_rows_are_checked(db, evaluation_id, row, error):
    judging_id = judging(db, evaluation_id, mode="rubric")
    if error is None:
        assert write_results(db, judging_id, [row]) == 1
        assert done_units(db, judging_id) == {grade_unit(0, "pirate")} == {"g0:pirate"}
    else:
        with pytest.raises(StoreError, match=error):
            write_results(db, judging_id, [row])
        assert done_units(db, judging_id) == set()


def test_results_come_back_in_prompt_order_as_written(db, evaluation_id):
    pairwise, rubric = judging(db, evaluation_id), judging(db, evaluation_id, mode="rubric")
    write_results(db, pairwise, [pair(1, consistent=False, right_first_key="b" * 64), pair(0)])
    assert list(iter_results(db, pairwise)) == [
        PairResult("p0:base|pirate", 0, "base", "pirate", "second", "first", "right", True, f"{0:064d}", None),
        PairResult("p1:base|pirate", 1, "base", "pirate", "second", "first", "right", False, f"{1:064d}", "b" * 64),
    ]
    write_results(db, rubric, [grade(1, value=None, feedback=None), grade(0, "base", 2)])
    assert list(iter_results(db, rubric)) == [GradeResult("g0:base", 0, "base", 2, "Right, terse.", "a" * 64),
                                              GradeResult("g1:pirate", 1, "pirate", None, "", "a" * 64)]


def test_the_judge_is_one_more_reviewer(db, evaluation_id):
    judging_id = judging(db, evaluation_id)
    write_results(db, judging_id, [
        pair(0, choice="right"),
        pair(1, choice="left", left_first="first", right_first="second"),
        pair(2, choice="tie", left_first="first", right_first="first", consistent=False),
        pair(2, "pirate", "formal", choice="unparseable", left_first="unparseable"),  # no verdict: left out
    ])
    judge = "judge: qwen2.5-7b-instruct"
    assert judge_judgements(db, judging_id) == [Judgement(0, "base", "pirate", judge, "right"),
                                                Judgement(1, "base", "pirate", judge, "left"),
                                                Judgement(2, "base", "pirate", judge, "tie")]
    with pytest.raises(StoreError, match="graded outputs on a rubric"):
        judge_judgements(db, judging(db, evaluation_id, mode="rubric"))
