"""A blind review made from an evaluation: a stratified sample of its items, and the votes joining its verdicts
(on the fake backend: "lora says ..." against "base says ...", so the test knows who wins)."""

from __future__ import annotations

import pytest
from test_evaluation_job import write_set

from adapters_ui.errors import ReviewError
from adapters_ui.runs.evaluation_document import evaluation_document
from adapters_ui.store.evaluation_reviews import create_evaluation_review, evaluation_votes, stratified_sample
from adapters_ui.store.reviews import cast_vote, join_review, next_task


@pytest.fixture
def finished(fake_session, fake_adapters, db, tmp_path):
    fake_session.attach(fake_adapters["lora"], "lora")
    job, ref = fake_session.start_evaluation(db, write_set(tmp_path / "set.jsonl", count=16), ["base", "lora"])
    assert job.wait(30)
    return ref


def test_the_sample_takes_each_category_alike_and_is_the_same_every_time():
    items = [{"id": f"q{i}", "category": "big" if i < 12 else "small"} for i in range(15)]
    sample = stratified_sample("ev1", items, per_category=3)
    assert len(sample) == 6 and sum(p >= 12 for p in sample) == 3 and sample == sorted(sample)
    assert stratified_sample("ev1", items, 3) == sample and stratified_sample("ev2", items, 3) != sample


def test_votes_of_a_review_made_from_an_evaluation_join_its_verdicts(finished, db):
    links = create_evaluation_review(db, finished.id, ["base", "lora"], per_category=6)
    assert links.items == 12  # 6 of each of the 2 categories, each one pair (lora against base)
    join_review(db, links.reviewer_token, "Ada")
    while (task := next_task(db, links.reviewer_token, "Ada")) is not None:
        cast_vote(db, links.reviewer_token, "Ada", task.task_id, "a" if task.a.startswith("lora") else "b")
    votes = evaluation_votes(db, finished.id)
    assert len(votes) == 12 and all(v["variant_votes"] == 1 and v["baseline_votes"] == 0 for v in votes)
    document = evaluation_document(db, finished.id)
    [human] = [r for r in document["verdicts"] if r["metric"] == "human_preference"]
    assert human["variant"] == "lora" and human["test"] == "sign" and human["n"] == 12 and human["mean"] == 1.0
    assert human["p_value"] == pytest.approx(2 * 0.5**12)
    assert human["p_holm"] >= human["p_value"]  # one Holm family with the other metrics


@pytest.mark.parametrize("variants, per_category, words", [
    (["base", "nope"], 5, "nope took no part"),
    (["lora"], 5, "needs base and at least one adapter"),
    (["base", "lora"], 0, "whole number from 1 to 200"),
])
def test_bad_review_settings_are_one_line(finished, db, variants, per_category, words):
    with pytest.raises(ReviewError, match=words):
        create_evaluation_review(db, finished.id, variants, per_category=per_category)


def test_only_the_owner_may_review_in_public_mode(finished, db):
    with pytest.raises(ReviewError, match="Only the owner"):
        create_evaluation_review(db, finished.id, ["base", "lora"], require_owner=True, owner_key="x" * 32)
    links = create_evaluation_review(db, finished.id, ["base", "lora"], require_owner=True, owner_key=finished.owner_key)
    assert links.items > 0
