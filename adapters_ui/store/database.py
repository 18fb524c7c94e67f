"""Opening the database: SQLite under the cache folder by default, PostgreSQL by URL.

Migrations (Alembic, ``migrations/versions``) are applied when it opens, so a fresh
file, an old file and a shared PostgreSQL all end at the same schema. A database already at
SCHEMA_HEAD is found so by reading Alembic's version table, without importing Alembic (the
CLI's store commands open the database each time they run):

    >>> db = Database.open("sqlite:////tmp/adapters_ui.db")  # doctest: +SKIP
    >>> with db.transaction() as tx: ...                      # doctest: +SKIP

SQLite runs in WAL mode (readers never wait for the writer) with a busy timeout, so
several reviewers voting at once queue for the write lock instead of failing.
"""

from __future__ import annotations

import logging
import threading
import time
from contextlib import contextmanager, nullcontext
from datetime import datetime, timezone
from importlib import resources
from pathlib import Path
from typing import TYPE_CHECKING, Iterator

from sqlalchemy import create_engine, event, inspect, text
from sqlalchemy.engine import Engine, make_url
from sqlalchemy.exc import ArgumentError, OperationalError, SQLAlchemyError
from sqlalchemy.orm import Session, sessionmaker

from adapters_ui.errors import StoreError, first_line

if TYPE_CHECKING:
    from alembic.config import Config

log = logging.getLogger(__name__)

SQLITE_BUSY_MS = 30_000
READ_ONLY = "adapters_ui_read_only"  # execution option: this transaction only reads
MIGRATION_LOCK = 7_310_942  # any fixed number: PostgreSQL advisory lock so replicas migrate one at a time
SCHEMA_HEAD = "0004"  # the newest revision in migrations/versions (tests/test_store.py checks it is Alembic's head)


def _sqlite_pragmas(dbapi_connection, _record) -> None:
    dbapi_connection.isolation_level = None  # BEGIN is ours (below), not pysqlite's deferred one
    cursor = dbapi_connection.cursor()
    cursor.execute("PRAGMA journal_mode=WAL")
    cursor.execute(f"PRAGMA busy_timeout={SQLITE_BUSY_MS}")
    cursor.execute("PRAGMA foreign_keys=ON")
    cursor.close()


def _sqlite_begin(conn) -> None:
    reading = conn.get_execution_options().get(READ_ONLY, False)
    conn.exec_driver_sql("BEGIN" if reading else "BEGIN IMMEDIATE")


def _engine(url: str) -> Engine:
    try:
        parsed = make_url(url)
    except ArgumentError:
        raise StoreError(f"Database URL {url!r} is not a URL: use sqlite:///path/file.db or "
                         "postgresql+psycopg://user:password@host:port/database.") from None
    if parsed.get_backend_name() == "sqlite":
        if parsed.database and parsed.database != ":memory:":
            folder = Path(parsed.database).expanduser().parent
            try:
                folder.mkdir(parents=True, exist_ok=True)
            except OSError as exc:
                raise StoreError(f"Cannot create the database folder {folder}: {exc.strerror or exc}. "
                                 "Point ADAPTERS_UI_DATABASE_URL (or ADAPTERS_UI_CACHE_DIR) at a writable place.") from None
        engine = create_engine(parsed, connect_args={"check_same_thread": False, "timeout": SQLITE_BUSY_MS / 1000})
        event.listen(engine, "connect", _sqlite_pragmas)
        # pysqlite's own BEGIN handling defers the write lock; a writing transaction takes it at BEGIN so a
        # read-then-write never fails halfway with "database is locked". Reads (WAL) need no lock at all.
        event.listen(engine, "begin", _sqlite_begin)
        return engine
    if parsed.get_backend_name() == "postgresql":
        return create_engine(parsed, pool_pre_ping=True, pool_size=10, max_overflow=20)
    raise StoreError(f"Unsupported database {parsed.get_backend_name()!r}: use sqlite or postgresql.")


def _alembic_config(connection) -> Config:
    from alembic.config import Config

    config = Config()
    config.set_main_option("script_location", str(resources.files("adapters_ui.store") / "migrations"))
    config.attributes["connection"] = connection
    return config


class Database:
    """One engine and its session factory; ``transaction()`` commits or rolls back as a whole."""

    def __init__(self, engine: Engine):
        self.engine = engine
        self._sessions = sessionmaker(engine, expire_on_commit=False)
        self._read_sessions = sessionmaker(engine.execution_options(**{READ_ONLY: True}), expire_on_commit=False)
        # SQLite has one writer at a time. Writers of this process queue on a lock (in turn) instead of
        # SQLite's busy wait, which retries by sleeping and lets some requests wait far longer than others.
        self._writer = threading.Lock() if engine.dialect.name == "sqlite" else nullcontext()

    @classmethod
    def open(cls, url: str) -> "Database":
        """Connect and bring the schema to the newest migration (a one-line StoreError if unreachable)."""
        database = cls(_engine(url))
        started = time.perf_counter()
        try:
            database.migrate()
        except OperationalError as exc:
            raise StoreError(f"Cannot open the database at {database.safe_url}: {first_line(exc.orig or exc)}. "
                             "Check ADAPTERS_UI_DATABASE_URL and that the server is running.") from None
        log.info("database %s ready in %.2f s", database.safe_url, time.perf_counter() - started)
        return database

    @property
    def safe_url(self) -> str:
        """The URL with any password hidden, for messages and logs."""
        return self.engine.url.render_as_string(hide_password=True)

    @property
    def dialect(self) -> str:
        return self.engine.dialect.name

    def migrate(self) -> None:
        """Apply every migration the database lacks (replicas on PostgreSQL take turns); none when it is at head."""
        if self.at_head():
            return
        from alembic import command

        with self.engine.connect() as connection:
            if self.dialect == "postgresql":
                connection.execute(text("SELECT pg_advisory_lock(:key)"), {"key": MIGRATION_LOCK})
                connection.commit()
            try:
                command.upgrade(_alembic_config(connection), "head")
                connection.commit()
            finally:
                if self.dialect == "postgresql":
                    connection.execute(text("SELECT pg_advisory_unlock(:key)"), {"key": MIGRATION_LOCK})
                    connection.commit()

    def at_head(self) -> bool:
        """Whether Alembic's version table holds SCHEMA_HEAD alone: two plain reads, no lock. Alembic writes the
        version in the transaction of the migration itself, so a database that reads as at head has its whole schema."""
        with self.engine.execution_options(**{READ_ONLY: True}).connect() as connection:
            if not inspect(connection).has_table("alembic_version"):  # a fresh database: the migrations make it
                return False
            versions = connection.execute(text("SELECT version_num FROM alembic_version")).scalars().all()
        return versions == [SCHEMA_HEAD]

    def revision(self) -> str | None:
        """The migration the database is at."""
        from alembic.runtime.migration import MigrationContext

        with self.engine.connect() as connection:
            return MigrationContext.configure(connection).get_current_revision()

    def head(self) -> str:
        """The newest migration this code knows."""
        from alembic.script import ScriptDirectory

        with self.engine.connect() as connection:
            return ScriptDirectory.from_config(_alembic_config(connection)).get_current_head()

    @contextmanager
    def transaction(self) -> Iterator[Session]:
        """A session whose work commits when the block ends, or rolls back entirely on any error."""
        with self._writer:
            with self._session(self._sessions) as session:
                yield session

    @contextmanager
    def read(self) -> Iterator[Session]:
        """A session that only reads: on SQLite it waits for no writer (WAL gives it a consistent snapshot)."""
        with self._session(self._read_sessions) as session:
            yield session

    @contextmanager
    def _session(self, factory) -> Iterator[Session]:
        session = factory()
        try:
            yield session
            session.commit()
        except SQLAlchemyError as exc:
            session.rollback()
            if isinstance(exc, OperationalError):
                raise StoreError(f"The database at {self.safe_url} failed: {first_line(exc.orig or exc)}. "
                                 "Try again; if it persists, check the database server.") from None
            raise
        except BaseException:
            session.rollback()
            raise
        finally:
            session.close()

    def close(self) -> None:
        self.engine.dispose()


def utc_now() -> datetime:
    return datetime.now(timezone.utc)  # noqa: UP017 - Python 3.10 has no datetime.UTC


def iso_time(moment: datetime) -> str:
    """ISO time to the second; SQLite hands back naive datetimes, which were stored in UTC."""
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=timezone.utc)  # noqa: UP017
    return moment.isoformat(timespec="seconds")


class DatabaseHolder:
    """Opens the database on first use, once, for every thread (the app starts without touching it)."""

    def __init__(self, url: str):
        self.url = url
        self._database: Database | None = None
        self._lock = threading.Lock()

    def get(self) -> Database:
        with self._lock:
            if self._database is None:
                self._database = Database.open(self.url)
            return self._database
