"""The database fixtures (tests/conftest.py): an empty database per test, on SQLite and on a real PostgreSQL server."""

from __future__ import annotations

import sqlalchemy as sa


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
