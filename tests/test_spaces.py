"""Hosting on Spaces: the ZeroGPU marks, the model thread in a forked worker, and the bounded queue."""

from __future__ import annotations

import importlib
import os
import select
import sys
import threading
import time

import pytest

from adapters_ui.config import Settings
from adapters_ui.errors import ConfigError
from adapters_ui.session import SessionHolder


@pytest.fixture
def zerogpu():
    from adapters_ui.ui import zerogpu

    yield zerogpu
    importlib.reload(zerogpu)  # as installed again, whatever a test did to sys.modules


def test_without_spaces_the_marks_are_the_functions_themselves(zerogpu, monkeypatch):
    monkeypatch.setitem(sys.modules, "spaces", None)  # `import spaces` raises ImportError
    monkeypatch.setenv("SPACES_ZERO_GPU", "true")
    module = importlib.reload(zerogpu)
    assert module.spaces is None and not module.on_zero_gpu()

    def handler(text: str):
        yield text

    assert module.gpu_task(handler, 60) is handler
    module.startup()  # nothing to start


def test_with_spaces_off_zero_gpu_the_handlers_run_and_stream_as_before(zerogpu, tiny_settings, monkeypatch):
    import spaces  # a dev dependency (requirements-dev.txt): the real package, not a stand-in
    monkeypatch.delenv("SPACES_ZERO_GPU", raising=False)
    module = importlib.reload(zerogpu)
    assert module.spaces is spaces and not module.on_zero_gpu()

    from adapters_ui.ui.app import create_app

    holder = SessionHolder(tiny_settings)
    demo = create_app(sessions=holder)
    marked = {fn.name: fn for fn in demo.fns.values() if fn.concurrency_id == "model"}
    assert {"run_compare", "analyze", "weight_view", "chat_reply", "complete_text", "compare_api", "compare_and_save"} <= set(marked)
    compare = marked["run_compare"]
    assert getattr(compare.fn, "__self__", None) is not None  # the bound method itself, not a wrapper
    updates = list(compare.fn("Hi\nBye", ["base"], 24, "greedy", 0, 0.7, 0.9, False, {}))
    assert len(updates) >= 3 and updates[0][0] == "**Starting…**" and updates[-1][0].startswith("**Done:**")
    replies = list(marked["chat_reply"].fn("Hi", [], "base", 4))
    assert replies[-1][2].startswith("**Done:**") and replies[-1][0][-1]["role"] == "assistant"


def test_a_forked_worker_gets_a_model_thread_of_its_own():
    """ZeroGPU runs each marked call in a process forked from the app: its copy of the model thread's
    executor has no thread behind it, so without a fresh one the first model call would wait forever."""
    from adapters_ui.model.thread import on_model_thread

    def thread_name() -> str:
        return threading.current_thread().name

    assert on_model_thread(thread_name).startswith("adapters-ui-model")
    read, write = os.pipe()
    pid = os.fork()
    if pid == 0:  # the child: report the thread that ran the call, then leave at once
        try:
            os.write(write, on_model_thread(thread_name).encode())
        finally:
            os._exit(0)
    os.close(write)
    try:
        ready, _, _ = select.select([read], [], [], 30)
        answer = os.read(read, 200).decode() if ready else None
    finally:
        if not ready:
            os.kill(pid, 9)
        os.waitpid(pid, 0)
        os.close(read)
    assert answer is not None, "the model call in the forked child never ran"
    assert answer.startswith("adapters-ui-model")
    assert on_model_thread(thread_name).startswith("adapters-ui-model")  # the parent's thread is untouched


@pytest.mark.parametrize("env, expected", [
    ({}, 64),
    ({"ADAPTERS_UI_MAX_QUEUE": "5"}, 5),
    ({"ADAPTERS_UI_MAX_QUEUE": "0"}, "max_queue must be at least 1, got 0"),
    ({"ADAPTERS_UI_MAX_QUEUE": "many"}, "ADAPTERS_UI_MAX_QUEUE must be a whole number, got 'many'"),
    ({"ADAPTERS_UI_GPU_DURATION_S": "30"}, 64),
])
def test_the_queue_setting(env, expected):
    if isinstance(expected, str):
        with pytest.raises(ConfigError, match=expected):
            Settings.from_env(env)
        return
    assert Settings.from_env(env).max_queue == expected
    from adapters_ui.ui.app import UI_CONCURRENCY, create_app

    queue = create_app(Settings.from_env(env))._queue
    assert (queue.max_size, queue.default_concurrency_limit) == (expected, UI_CONCURRENCY)


def test_a_request_over_the_queue_is_refused_at_once(tiny_settings):
    """One run admitted (max_runs=1) and held; one request waits (max_queue=1); the next is refused."""
    from gradio_client import Client

    from adapters_ui.ui.app import create_app

    holder = SessionHolder(tiny_settings.replace(max_runs=1, max_queue=1))
    session = holder.get()
    demo = create_app(sessions=holder)
    demo.launch(prevent_thread_lock=True, server_name="127.0.0.1", server_port=None, quiet=True)
    try:
        client = Client(demo.local_url, verbose=False)
        deadline = time.monotonic() + 60
        with session.turns.turn():  # the model is busy: the admitted run waits for its turn
            running = client.submit("Hi", ["base"], 2, api_name="/compare")
            while not session.runs.in_use() and time.monotonic() < deadline:
                time.sleep(0.02)
            waiting = client.submit("Bye", ["base"], 2, api_name="/compare")
            while len(demo._queue) < 1 and time.monotonic() < deadline:
                time.sleep(0.02)
            started = time.monotonic()
            with pytest.raises(Exception, match="[Qq]ueue is full"):
                client.predict("Refused", ["base"], 2, api_name="/compare")
            assert time.monotonic() - started < 10  # refused at once, not after waiting
        assert running.result(timeout=60)[0]["prompt"] == "Hi"
        assert waiting.result(timeout=60)[0]["prompt"] == "Bye"
    finally:
        demo.close()


def test_an_upload_over_the_cap_is_refused_before_it_reaches_the_disk(tiny_settings, tmp_path):
    """ADAPTERS_UI_MAX_UPLOAD_BYTES reaches gradio's max_file_size on the real server (dashboard and review app)."""
    import threading

    import httpx
    import uvicorn
    from app_server import free_port

    from adapters_ui.ui.server import create_server

    assert Settings.from_env({"ADAPTERS_UI_MAX_UPLOAD_BYTES": "1000"}).max_upload_bytes == 1000
    with pytest.raises(ConfigError, match="ADAPTERS_UI_MAX_UPLOAD_BYTES must be a whole number"):
        Settings.from_env({"ADAPTERS_UI_MAX_UPLOAD_BYTES": "1 GB"})
    server = uvicorn.Server(uvicorn.Config(create_server(tiny_settings.replace(max_upload_bytes=1000)),
                                           host="127.0.0.1", port=free_port(), log_level="warning"))
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    try:
        deadline = time.monotonic() + 60
        while not server.started and time.monotonic() < deadline:
            time.sleep(0.05)
        base = f"http://127.0.0.1:{server.config.port}"
        for app in ("", "/review"):
            small = httpx.post(f"{base}{app}/gradio_api/upload", files={"files": ("a.zip", b"x" * 500)}, timeout=30)
            assert small.status_code == 200, small.text
            big = httpx.post(f"{base}{app}/gradio_api/upload", files={"files": ("a.zip", b"x" * 5000)}, timeout=30)
            assert big.status_code == 413 and "maximum allowed size of 1000 bytes" in big.text, big.text
    finally:
        server.should_exit = True
        thread.join(timeout=30)
