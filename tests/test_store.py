"""The storage layer against SQLite and a real PostgreSQL: migrations, saved comparisons, reviews, votes."""

from __future__ import annotations

import threading
import uuid

import pytest
from helpers import reply_text, report_document
from sqlalchemy import inspect, select

from adapters_ui.errors import ReviewError, StoreError
from adapters_ui.store import Database
from adapters_ui.store.reviews import (
    ReviewHead,
    cast_vote,
    create_review,
    delete_review,
    join_review,
    next_task,
    owner_info,
    review_info,
    review_judgements,
    review_results,
    review_title,
    revoke_review,
)
from adapters_ui.store.saved import is_owner, list_comparisons, load_comparison, owned_ids, save_comparison, under_review
from adapters_ui.store.schema import Base, Vote


@pytest.fixture
def db(database_url):
    database = Database.open(database_url)
    yield database
    database.close()


def saved(db, **kwargs):
    return save_comparison(db, report_document(**kwargs), [])


def test_migrations_reach_head_and_match_the_schema(db, database_url):
    assert db.revision() == db.head() == "0004"
    Database.open(database_url).close()  # a second open finds nothing to do
    tables = set(inspect(db.engine).get_table_names())
    assert set(Base.metadata.tables) <= tables
    for name, table in Base.metadata.tables.items():
        columns = {c["name"] for c in inspect(db.engine).get_columns(name)}
        assert columns == set(table.columns.keys()), name


def test_opening_at_head_skips_alembic_and_a_database_behind_head_is_upgraded(db, database_url):
    """Database.open reads SCHEMA_HEAD from Alembic's version table instead of running Alembic; it must be
    Alembic's head, and a database behind it (here: downgraded to nothing) still gets every migration."""
    from alembic import command

    from adapters_ui.store.database import SCHEMA_HEAD, _alembic_config

    assert db.head() == SCHEMA_HEAD and db.at_head()
    with db.engine.connect() as connection:
        command.downgrade(_alembic_config(connection), "base")
        connection.commit()
    assert db.revision() is None and not db.at_head()
    Database.open(database_url).close()
    assert db.revision() == SCHEMA_HEAD and db.at_head()
    assert set(Base.metadata.tables) <= set(inspect(db.engine).get_table_names())


def test_sqlite_runs_in_wal_mode(tmp_path):
    db = Database.open(f"sqlite:///{tmp_path / 'fresh' / 'a.db'}")  # the folder is made too
    with db.engine.connect() as connection:
        assert connection.exec_driver_sql("PRAGMA journal_mode").scalar() == "wal"
        assert connection.exec_driver_sql("PRAGMA foreign_keys").scalar() == 1
    db.close()


def test_saved_comparison_round_trips_and_lists(db):
    data = report_document(prompts=2)
    ref = save_comparison(db, data, [])
    assert len(ref.id) >= 22 and len(ref.owner_key) >= 32
    again = load_comparison(db, ref.id)
    assert again.data == data
    assert [s.id for s in list_comparisons(db)] == [ref.id]
    assert list_comparisons(db, ids=["not-this-one-000000"]) == []
    assert is_owner(db, ref.id, ref.owner_key) and not is_owner(db, ref.id, "x" * 32)


@pytest.mark.parametrize("bad, message", [
    ("", "is not a saved comparison id"),
    ("short", "is not a saved comparison id"),
    ("<script>alert(1)</script>", "is not a saved comparison id"),
    ("A" * 22, "No saved comparison has the id"),
])
def test_unknown_and_malformed_ids_get_one_line(db, bad, message):
    with pytest.raises(StoreError, match=message) as caught:
        load_comparison(db, bad)
    assert "\n" not in str(caught.value)


def test_stopped_comparisons_are_not_saved(db):
    with pytest.raises(StoreError, match="only a finished comparison"):
        saved(db, status="stopped")
    assert list_comparisons(db) == []


@pytest.mark.parametrize("variants, pairing, per_pair, error", [
    (["base"], "all", 1, "at least 2 variants"),
    (["base", "nope"], "all", 1, "took no part"),
    (["pirate", "formal"], "vs_base", 1, "needs the base"),
    (["base", "pirate"], "sideways", 1, "Unknown pairing"),
    (["base", "pirate"], "all", 0, "from 1 to 50"),
    (["base", "pirate"], "all", 3, None),
    (["base", "pirate", "formal"], "vs_base", 2, None),
])
def test_review_settings_are_checked(db, variants, pairing, per_pair, error):
    ref = saved(db)
    if error:
        with pytest.raises(ReviewError, match=error):
            create_review(db, ref.id, variants, pairing, per_pair)
        return
    links = create_review(db, ref.id, variants, pairing, per_pair)
    pairs = 1 if len(variants) == 2 else 2
    assert links.items == 3 * pairs


def test_public_mode_needs_the_owner_key(db):
    ref = saved(db)
    with pytest.raises(ReviewError, match="Only the owner"):
        create_review(db, ref.id, ["base", "pirate"], require_owner=True, owner_key="y" * 32)
    assert create_review(db, ref.id, ["base", "pirate"], require_owner=True, owner_key=ref.owner_key).items == 3


def test_a_reviewer_sees_no_names_and_votes_land_on_the_right_variant(db):
    ref = saved(db, prompts=4)
    links = create_review(db, ref.id, ["base", "pirate", "formal"], "all", 1)
    assert join_review(db, links.reviewer_token, "Ada") == ("Ada", 0, 12)
    seen = 0
    while (task := next_task(db, links.reviewer_token, "ada")) is not None:
        for text in (task.task_id, task.prompt):
            assert not any(name in text for name in ("base", "pirate", "formal"))
        # always prefer the pirate (variant 1), else tie: the stored choice must follow the variant, not the side
        pirate = reply_text(int(task.prompt.split()[-1].rstrip("?")), 1)
        choice = "a" if task.a == pirate else "b" if task.b == pirate else "tie"
        receipt = cast_vote(db, links.reviewer_token, "ADA", task.task_id, choice, vote_id=str(uuid.uuid4()))
        seen += 1
        assert receipt.recorded and not receipt.duplicate and (receipt.done, receipt.total) == (seen, 12)
    snapshot = review_results(db, owner_token=links.owner_token)
    assert len(snapshot.judgements) == 12 and {j.reviewer for j in snapshot.judgements} == {"Ada"}
    for j in snapshot.judgements:
        expected = "left" if j.left == "pirate" else "right" if j.right == "pirate" else "tie"
        assert j.choice == expected


def test_the_same_vote_twice_counts_once(db):
    links = create_review(db, saved(db).id, ["base", "pirate"])
    join_review(db, links.reviewer_token, "Bo")
    task = next_task(db, links.reviewer_token, "Bo")
    vote = str(uuid.uuid4())
    first = cast_vote(db, links.reviewer_token, "Bo", task.task_id, "a", vote_id=vote)
    again = cast_vote(db, links.reviewer_token, "Bo", task.task_id, "a", vote_id=vote)
    other_id = cast_vote(db, links.reviewer_token, "Bo", task.task_id, "b", vote_id=str(uuid.uuid4()))
    assert (first.duplicate, again.duplicate, other_id.duplicate) == (False, True, True)
    with db.transaction() as tx:
        assert len(tx.scalars(select(Vote)).all()) == 1


def test_skips_are_not_judgements_and_do_not_come_back(db):
    links = create_review(db, saved(db, prompts=2).id, ["base", "pirate"])
    join_review(db, links.reviewer_token, "Cy")
    task = next_task(db, links.reviewer_token, "Cy")
    cast_vote(db, links.reviewer_token, "Cy", task.task_id, "skip")
    following = next_task(db, links.reviewer_token, "Cy")
    assert following.task_id != task.task_id and (following.done, following.total) == (1, 2)
    assert review_results(db, owner_token=links.owner_token).judgements == []


def test_full_pairs_are_not_offered_to_more_reviewers(db):
    links = create_review(db, saved(db, prompts=1).id, ["base", "pirate"], per_pair=1)
    for name in ("Ann", "Ben"):
        join_review(db, links.reviewer_token, name)
    task = next_task(db, links.reviewer_token, "Ann")
    cast_vote(db, links.reviewer_token, "Ann", task.task_id, "tie")
    assert next_task(db, links.reviewer_token, "Ben") is None


@pytest.mark.parametrize("call, error", [
    (lambda db, links, t: cast_vote(db, links.reviewer_token, "Di", t.task_id, "maybe"), "Unknown answer"),
    (lambda db, links, t: cast_vote(db, links.reviewer_token, "Di", t.task_id, "a", "x" * 1001), "at most 1000"),
    (lambda db, links, t: cast_vote(db, links.reviewer_token, "Di", "Z" * 22, "a"), "not part of your review"),
    (lambda db, links, t: cast_vote(db, links.reviewer_token, "Nobody", t.task_id, "a"), "Give your name"),
    (lambda db, links, t: cast_vote(db, links.owner_token, "Di", t.task_id, "a"), "review link is unknown"),
    (lambda db, links, t: next_task(db, "bad token!", "Di"), "malformed"),
    (lambda db, links, t: review_results(db, owner_token=links.reviewer_token), "owner link is unknown"),
    (lambda db, links, t: join_review(db, links.reviewer_token, "   "), "Give your name"),
])
def test_bad_review_calls_get_one_line_errors(db, call, error):
    links = create_review(db, saved(db).id, ["base", "pirate"])
    join_review(db, links.reviewer_token, "Di")
    task = next_task(db, links.reviewer_token, "Di")
    with pytest.raises(ReviewError, match=error) as caught:
        call(db, links, task)
    assert "\n" not in str(caught.value)


def test_revoked_and_deleted_reviews(db):
    links = create_review(db, saved(db).id, ["base", "pirate"])
    assert review_title(db, links.reviewer_token).startswith("Blind review")
    assert revoke_review(db, links.owner_token).revoked
    with pytest.raises(ReviewError, match="closed by its owner"):
        join_review(db, links.reviewer_token, "Ed")
    assert review_results(db, owner_token=links.owner_token).info.revoked
    delete_review(db, links.owner_token)
    with pytest.raises(ReviewError, match="owner link is unknown"):
        review_results(db, owner_token=links.owner_token)


def test_a_reviews_own_row_and_judgements_by_id_match_its_snapshot(db):
    """What a judge reads of a review (its row, the people's judgements) without the whole snapshot."""
    ref = saved(db, prompts=3)
    links = create_review(db, ref.id, ["base", "pirate"], title="Pirates?", per_pair=2)
    join_review(db, links.reviewer_token, "Fay")
    for choice in ("a", "skip", "tie"):
        cast_vote(db, links.reviewer_token, "Fay", next_task(db, links.reviewer_token, "Fay").task_id, choice)
    assert review_info(db, links.review_id) == ReviewHead(links.review_id, ref.id, "Pirates?", ["base", "pirate"], "all", 2)
    snapshot = review_results(db, review_id=links.review_id)
    assert review_judgements(db, links.review_id) == snapshot.judgements and len(snapshot.judgements) == 2  # no skip
    delete_review(db, links.owner_token)
    assert review_info(db, links.review_id) is None and review_info(db, "") is None and review_info(db, None) is None
    with pytest.raises(ReviewError, match="No review has the id"):
        review_judgements(db, links.review_id)


def test_only_the_right_owner_key_lists_a_comparison_and_an_open_review_is_known(db):
    mine, theirs = saved(db), saved(db)
    assert owned_ids(db, {mine.id: mine.owner_key}) == [mine.id]
    assert owned_ids(db, {theirs.id: mine.owner_key, mine.id: "z" * 32, "../x": "k", 5: None}) == []
    assert owned_ids(db, None) == [] and not under_review(db, mine.id)
    first, second = (create_review(db, mine.id, ["base", "pirate"]) for _ in range(2))
    assert under_review(db, mine.id) and not under_review(db, theirs.id)
    revoke_review(db, first.owner_token)
    assert under_review(db, mine.id)  # the second review still takes votes
    delete_review(db, second.owner_token)
    assert not under_review(db, mine.id)


def test_raw_votes_keep_who_what_was_shown_and_when_skips_too(db):
    links = create_review(db, saved(db, prompts=2).id, ["base", "pirate"])
    join_review(db, links.reviewer_token, "Flo")
    shown = []
    for choice in ("a", "skip"):
        task = next_task(db, links.reviewer_token, "Flo")
        index = int(task.prompt.split()[-1].rstrip("?"))
        names = {reply_text(index, 0): "base", reply_text(index, 1): "pirate"}
        shown.append((index, names[task.a], names[task.b]))
        cast_vote(db, links.reviewer_token, "Flo", task.task_id, choice, comment=f"note {choice}")
    snapshot = review_results(db, owner_token=links.owner_token)
    assert len(snapshot.judgements) == 1 and len(snapshot.votes) == 2
    for vote, (index, a, b), choice in zip(snapshot.votes, shown, ("a", "skip")):
        pair = (vote.left, vote.right)
        assert (vote.reviewer, vote.prompt_index, pair, vote.comment) == ("Flo", index, ("base", "pirate"), f"note {choice}")
        assert (pair if vote.shown_first == "left" else pair[::-1]) == (a, b)
        assert vote.choice == ({"left": "left", "right": "right"}[vote.shown_first] if choice == "a" else "skip")
        assert vote.time[:4].isdigit() and "T" in vote.time
    assert owner_info(db, links.owner_token).votes == 2


def test_deleting_a_review_deletes_only_the_votes_the_owner_was_told_of(db):
    links = create_review(db, saved(db, prompts=2).id, ["base", "pirate"])
    join_review(db, links.reviewer_token, "Gus")
    cast_vote(db, links.reviewer_token, "Gus", next_task(db, links.reviewer_token, "Gus").task_id, "tie")
    told = owner_info(db, links.owner_token).votes
    cast_vote(db, links.reviewer_token, "Gus", next_task(db, links.reviewer_token, "Gus").task_id, "a")  # meanwhile
    with pytest.raises(ReviewError, match="holds 2 votes now, not the 1 you were told of") as caught:
        delete_review(db, links.owner_token, expected_votes=told)
    assert "\n" not in str(caught.value) and len(review_results(db, owner_token=links.owner_token).votes) == 2
    delete_review(db, links.owner_token, expected_votes=2)
    with pytest.raises(ReviewError, match="owner link is unknown"):
        owner_info(db, links.owner_token)


def test_concurrent_reviewers_store_every_vote_once(db):
    """8 reviewers vote on every pair from their own threads, each vote sent twice: all stored, none twice."""
    links = create_review(db, saved(db, prompts=5).id, ["base", "pirate", "formal"], per_pair=8)
    errors = []

    def review(name):
        try:
            join_review(db, links.reviewer_token, name)
            while (task := next_task(db, links.reviewer_token, name)) is not None:
                vote = str(uuid.uuid4())
                for _ in range(2):
                    cast_vote(db, links.reviewer_token, name, task.task_id, "a", vote_id=vote)
        except Exception as exc:  # noqa: BLE001 - reported below
            errors.append(exc)

    threads = [threading.Thread(target=review, args=(f"r{i}",)) for i in range(8)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert errors == []
    assert len(review_results(db, owner_token=links.owner_token).judgements) == 8 * 15


def test_reads_do_not_wait_for_a_writer(db):
    """A page that only reads (the next pair, results) is served while another request holds the write lock."""
    ref = saved(db)
    with db.transaction() as tx:  # a writer in the middle of its transaction
        tx.execute(select(Vote)).all()
        done = []
        reader = threading.Thread(target=lambda: done.append(load_comparison(db, ref.id).id))
        reader.start()
        reader.join(timeout=5)
        assert done == [ref.id], "a read waited for the writer"


def test_the_app_stops_at_start_with_one_line_on_an_unreachable_database(tmp_path):
    import os
    import subprocess
    import sys
    from pathlib import Path

    root = Path(__file__).resolve().parents[1]
    env = {**os.environ, "ADAPTERS_UI_DATABASE_URL": "postgresql+psycopg://u:secret@127.0.0.1:1/x",
           "ADAPTERS_UI_CACHE_DIR": str(tmp_path), "GRADIO_SERVER_PORT": "1"}
    done = subprocess.run([sys.executable, "app.py"], cwd=root, env=env, capture_output=True, text=True, timeout=300)
    assert done.returncode == 1
    assert done.stderr.strip().splitlines()[-1].startswith("error: Cannot open the database at postgresql+psycopg://u:***@")
    assert "Traceback" not in done.stderr and "secret" not in done.stderr


def test_a_sqlite_file_in_an_unwritable_place_is_one_line():
    with pytest.raises(StoreError, match="Cannot create the database folder /proc/nope") as caught:
        Database.open("sqlite:////proc/nope/adapters_ui.db")
    assert "\n" not in str(caught.value)
