"""The database fixtures (tests/conftest.py): an empty database per test, on SQLite and on a real PostgreSQL server."""

from __future__ import annotations

import os

import pytest
import sqlalchemy as sa
from helpers import drop_test_database

BYSTANDER = "adapters_ui_bystander"  # a login role of scripts/postgres.sh that owns nothing


def _backend(request) -> str:
    return request.node.callspec.params["database_url"]


def _engine(url: str) -> sa.Engine:
    return sa.create_engine(url, poolclass=sa.pool.NullPool)


def test_round_trip_on_the_real_backend(database_url, request):
    backend = _backend(request)
    meta = sa.MetaData()
    items = sa.Table(
        "items",
        meta,
        sa.Column("id", sa.Integer, primary_key=True),
        sa.Column("name", sa.String(100), nullable=False),
    )
    engine = _engine(database_url)
    try:
        assert engine.dialect.name == backend
        meta.create_all(engine)
        with engine.begin() as conn:
            conn.execute(items.insert(), [{"name": "lora-a"}, {"name": "ünïcode ✓"}])
        with engine.connect() as conn:
            assert conn.execute(sa.select(items.c.name).order_by(items.c.id)).scalars().all() == ["lora-a", "ünïcode ✓"]
            if backend == "postgresql":
                version = conn.execute(sa.text("SELECT version()")).scalar_one()
                assert version.startswith("PostgreSQL"), version
            else:
                assert conn.execute(sa.text("SELECT sqlite_version()")).scalar_one()
    finally:
        engine.dispose()


def test_two_databases_are_distinct_and_empty(database_url, make_database_url, request):
    second_url = make_database_url(_backend(request))  # what database_url gives, a second time in one test
    assert second_url != database_url
    first, second = _engine(database_url), _engine(second_url)
    try:
        assert sa.inspect(first).get_table_names() == []
        assert sa.inspect(second).get_table_names() == []
        with first.begin() as conn:
            conn.execute(sa.text("CREATE TABLE marker (x INTEGER)"))
            conn.execute(sa.text("INSERT INTO marker VALUES (1)"))
        assert sa.inspect(first).get_table_names() == ["marker"]
        assert sa.inspect(second).get_table_names() == []  # nothing leaks from one to the other
    finally:
        first.dispose()
        second.dispose()


@pytest.mark.postgres
def test_the_drop_ends_a_connection_of_another_role(make_database_url, postgres_server):
    """CI once failed in teardown: `DROP DATABASE ... WITH (FORCE)` met a connection of another role (most likely
    an autovacuum worker) and the test role may not end it ("must be a member of the role whose process is being
    terminated or member of pg_signal_backend"). scripts/postgres.sh grants pg_signal_backend; here a connection
    as the bystander role stays open on the test database while the fixture's drop runs."""
    url = sa.make_url(make_database_url("postgresql"))
    engine, _reason = postgres_server
    bystander = _engine(url.set(username=BYSTANDER, password=url.password))
    try:
        held = bystander.connect()
    except sa.exc.OperationalError as exc:
        _set_up_before(f"no role {BYSTANDER} on the test server ({str(exc.orig).splitlines()[0]})")
    try:
        assert held.execute(sa.text("SELECT current_user")).scalar_one() == BYSTANDER
        drop_test_database(engine, url.database)
        with engine.connect() as conn:
            left = conn.execute(sa.text("SELECT count(*) FROM pg_database WHERE datname = :name"), {"name": url.database})
            assert left.scalar_one() == 0
        with pytest.raises(sa.exc.DBAPIError):  # the bystander's connection was ended
            held.execute(sa.text("SELECT 1"))
    finally:
        held.close()
        bystander.dispose()


@pytest.mark.postgres
def test_the_test_server_runs_without_autovacuum(make_database_url):
    """No autovacuum worker sits on a test database when its test ends (the drop would have to end it)."""
    engine = _engine(make_database_url("postgresql"))
    try:
        with engine.connect() as conn:
            autovacuum = conn.execute(sa.text("SHOW autovacuum")).scalar_one()
    finally:
        engine.dispose()
    if autovacuum != "off":
        _set_up_before("autovacuum is on")

def _set_up_before(what: str) -> None:
    """A server set up by an older scripts/postgres.sh: fail in CI (which starts a fresh one), else skip."""
    message = f"{what}: run `bash scripts/postgres.sh start` (it updates a running test server too)"
    if os.environ.get("CI") == "true":
        pytest.fail(message, pytrace=False)
    pytest.skip(message)
