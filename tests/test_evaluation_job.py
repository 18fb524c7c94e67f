"""Evaluation jobs on the fake backend (milliseconds): stored whole, committed a batch at a time, cancelled
and resumed without a gap or a copy, on SQLite and PostgreSQL. The real-model kill-and-resume test is
tests/test_evaluation_resume.py."""

from __future__ import annotations

import threading

import pytest
from fake_backend import FakeBackend
from helpers import write_jsonl

from adapters_ui.errors import AdaptersUIError, ConfigError, StoreError, UnknownVariantError
from adapters_ui.runs.evaluation import EvaluationJob, batches
from adapters_ui.store import Database
from adapters_ui.store.evaluations import (
    CANCELLED,
    FAILED,
    FINISHED,
    RUNNING,
    completed,
    count_outputs,
    iter_outputs,
    load_evaluation,
    set_status,
    unfinished_ids,
)


@pytest.fixture
def db(database_url):
    database = Database.open(database_url)
    yield database
    database.close()


def write_set(path, count=10):
    rows = [{"id": f"q{i}", "prompt": f"question {i}", "reference": f"lora says question {i}" if i % 2 else None,
             "category": "even" if i % 2 == 0 else "odd", "tags": ["first"] if i < 3 else [],
             "checks": [{"type": "contains", "value": "lora"}]} for i in range(count)]
    return write_jsonl(path, rows)


@pytest.fixture
def lora_session(fake_session, fake_adapters):
    fake_session.attach(fake_adapters["lora"], "lora")
    return fake_session


def outputs_of(db, evaluation_id):
    return {(r["position"], r["variant"], r["sample"]): r for r in iter_outputs(db, evaluation_id)}


def test_a_job_stores_one_scored_output_per_item_variant_and_sample(lora_session, db, tmp_path):
    job, ref = lora_session.start_evaluation(db, write_set(tmp_path / "set.jsonl"), ["base", "lora"], samples=2,
                                             batch_items=4)
    assert job.wait(30)
    assert job.progress().status == FINISHED and job.progress().done == 10 * 2 * 2
    stored = load_evaluation(db, ref.id)
    assert stored.status == FINISHED and stored.rows == 40 and stored.batch_items == 4
    outputs = outputs_of(db, ref.id)
    assert len(outputs) == 40 and completed(db, ref.id, 2) == {(p, s) for p in range(10) for s in range(2)}
    row = outputs[(3, "lora", 1)]
    assert row["output"].startswith("lora says") and "question 3" in row["output"]
    assert row["checks"] == {"contains:lora": True} and row["scores"]["checks"] == 1.0
    assert outputs[(3, "base", 0)]["scores"]["checks"] == 0.0  # "base says ..." lacks "lora"
    assert row["scores"]["contains"] == 1.0 and outputs[(2, "lora", 0)]["scores"]["rouge_l"] is None  # no reference
    assert row["scores"]["output_tokens"] > 0 and row["scores"]["latency_s"] >= 0
    assert outputs[(3, "lora", 0)]["scores"]["reference_perplexity"] is not None  # read back in process
    assert job.write_seconds > 0 and len(job.batch_seconds) == 3 * 2  # 3 batches of items x 2 samples
    # a turn per model and batch of items (each holds an item with a reference); its 2 samples share them
    assert [c for c in lora_session.backend.calls if c.startswith("read_")] == ["read_references:base",
                                                                                "read_references:lora"] * 3


def test_cancel_keeps_whole_batches_and_resume_completes_them_exactly_once(fake_settings, fake_adapters, db, tmp_path):
    from fake_backend import session_on_fake

    backend = FakeBackend()
    session = session_on_fake(fake_settings, backend)
    session.attach(fake_adapters["lora"], "lora")
    path = write_set(tmp_path / "set.jsonl", count=12)
    uninterrupted, plain = session.start_evaluation(db, path, ["base", "lora"], batch_items=4)
    assert uninterrupted.wait(30)

    backend.hold, backend.hold_from = threading.Event(), 2  # step 1 runs, step 2 waits
    backend.steps = 0
    job, ref = session.start_evaluation(db, path, ["base", "lora"], batch_items=4)
    backend.wait_steps(1)
    job.cancel()
    backend.hold.set()
    assert job.wait(30) and job.progress().status == CANCELLED
    assert load_evaluation(db, ref.id).status == CANCELLED
    assert count_outputs(db, ref.id) % (4 * 2) == 0  # nothing half-done: whole batches only
    backend.hold = None

    stored = count_outputs(db, ref.id)
    not_started = EvaluationJob(db, ref.id, session.backend, session.turns, session._render_item, session._count_tokens)
    assert not_started.progress().done == stored  # a resumed job's bar starts where it was, not at 0
    resumed = session.resume_evaluation(db, ref.id)
    assert resumed.wait(30) and resumed.progress().status == FINISHED
    again, before = outputs_of(db, ref.id), outputs_of(db, plain.id)
    assert len(again) == 12 * 2
    assert {k: r["output"] for k, r in again.items()} == {k: r["output"] for k, r in before.items()}


def test_resume_unfinished_goes_on_with_running_jobs_and_fails_those_that_cannot(lora_session, db, tmp_path):
    path = write_set(tmp_path / "set.jsonl", count=4)
    base_only, ref = lora_session.start_evaluation(db, path, ["base"])
    with_lora, gone = lora_session.start_evaluation(db, path, ["base", "lora"])
    assert base_only.wait(30) and with_lora.wait(30)
    for evaluation_id in (ref.id, gone.id):
        set_status(db, evaluation_id, RUNNING)  # as if the process had died before its status was written
    lora_session.detach("lora")
    jobs = lora_session.resume_unfinished(db)
    assert [job.id for job in jobs] == [ref.id]
    assert jobs[0].wait(30) and load_evaluation(db, ref.id).status == FINISHED and count_outputs(db, ref.id) == 4
    stored = load_evaluation(db, gone.id)
    assert stored.status == FAILED and "'lora'" in stored.error and "attach it" in stored.error
    assert unfinished_ids(db) == []


def test_resume_of_a_finished_job_or_an_unknown_id_is_one_line(lora_session, db, tmp_path):
    job, ref = lora_session.start_evaluation(db, write_set(tmp_path / "set.jsonl", count=2), ["base"])
    assert job.wait(30)
    with pytest.raises(ConfigError, match="already finished"):
        lora_session.resume_evaluation(db, ref.id)
    with pytest.raises(StoreError, match="No evaluation has the id"):
        lora_session.resume_evaluation(db, "A" * 22)
    with pytest.raises(StoreError, match="is not an evaluation id"):
        lora_session.resume_evaluation(db, "../../etc")


@pytest.mark.parametrize("variants, samples, error", [
    (["base", "nope"], 1, (UnknownVariantError, "Unknown variant 'nope'")),
    (["base"], 0, (ConfigError, "samples must be between 1 and 20")),
    (["base"], 21, (ConfigError, "samples must be between 1 and 20")),
])
def test_bad_requests_are_refused_before_anything_is_stored(lora_session, db, tmp_path, variants, samples, error):
    kind, words = error
    with pytest.raises(kind, match=words):
        lora_session.start_evaluation(db, write_set(tmp_path / "set.jsonl", count=2), variants, samples)
    from adapters_ui.store.evaluations import list_evaluations

    assert list_evaluations(db) == []


def test_a_bad_set_file_is_refused_and_nothing_is_stored(lora_session, db, tmp_path):
    bad = tmp_path / "bad.jsonl"
    bad.write_text('{"prompt": "ok"}\n{"prompt": 3}\n')
    with pytest.raises(AdaptersUIError, match="line 2"):
        lora_session.start_evaluation(db, bad, ["base"])
    from adapters_ui.store.evaluations import list_evaluations

    assert list_evaluations(db) == []


def test_a_job_survives_its_page_runs_being_stopped(lora_session, db, tmp_path):
    """Closing a page stops that visitor's runs (RunBook.stop); a job is not one of them."""
    job, _ = lora_session.start_evaluation(db, write_set(tmp_path / "set.jsonl", count=6), ["base", "lora"],
                                           owner="visitor", batch_items=2)
    assert lora_session.runs.stop("visitor") == 0
    assert job.wait(30) and job.progress().status == FINISHED


def test_batches_are_fixed_by_position():
    assert batches(5, 2) == [range(0, 2), range(2, 4), range(4, 5)]
    assert batches(4, 4) == [range(0, 4)]
