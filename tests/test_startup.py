"""A server's start (issue 21): the page before the base model (item 9), an earlier run's uploads (item 17), and a
log that holds ids, not what visitors type, and no progress bars or library warnings (item 18)."""

from __future__ import annotations

import json
import logging
import subprocess
import sys
import warnings
import zipfile
from pathlib import Path

import gradio as gr
import pytest

from adapters_ui.adapters.preview import remember_model_storage, remembered_model_storage
from adapters_ui.adapters.sources import uploads_root
from adapters_ui.config import Settings
from adapters_ui.records import ModelStorage
from adapters_ui.session import SessionHolder
from adapters_ui.ui.app import Handlers

SKIP = gr.skip()


def test_before_the_base_loads_the_page_lists_the_demo_adapters_from_disk(tmp_path):
    settings = Settings(cache_dir=tmp_path / "cache")  # the embedded base and its demo set; nothing loads here
    ui = Handlers.on(SessionHolder(settings))
    header, notice, table, detach, variants, play, storage, scaling, version, notes = ui.page.preview_lists()
    assert list(table["name"]) == ["bullets", "json_answer", "pirate"]
    assert list(table["type"]) == ["DoRA", "LoRA", "LoRA"] and all(size.endswith("B") for size in table["size"])
    assert variants["value"] == ["base", "bullets", "json_answer", "pirate"] and variants["interactive"] is False
    assert play["interactive"] is False and detach["choices"] == ["bullets", "json_answer", "pirate"]
    assert "Loading the base model… (0 s)" in header and "3 adapters read from disk" in header
    assert "**pirate**:" in notes and version == SKIP
    assert storage == SKIP and set(table["x smaller"]) == {""}  # the first start on this cache: no model size yet
    run, send, cont, play_notice, timer = ui.page.readiness("loading")
    assert run["interactive"] is False and run["value"].startswith("Loading the base model… (")
    assert send["interactive"] is False and cont["interactive"] is False and "Loading the base model" in play_notice
    assert ui.holder.loaded is None

    # a later start on the same cache remembers the model's size: the ratios and the storage chart come at once
    remember_model_storage(settings, ModelStorage(params=134_515_008, dtype="float32", full_copy_bytes=538_060_032,
                                                  file_bytes=None))
    ui = Handlers.on(SessionHolder(settings))
    _header, _notice, table, _detach, _variants, _play, storage, scaling, *_ = ui.page.preview_lists()
    assert all(cell and cell.replace(",", "").replace(".", "").isdigit() for cell in table["x smaller"])
    chart = json.dumps(storage.to_plotly_json()["data"])
    assert "pirate" in chart and "538" in chart and len(scaling.data) == 2


def test_a_load_remembers_the_model_s_size_for_the_next_start(holder):
    session = holder.get()
    assert remembered_model_storage(holder.settings) == session.storage().model
    other = holder.settings.replace(dtype="float16")  # loaded another way: another size, not this one
    assert remembered_model_storage(other) is None


def test_the_page_load_starts_the_load_and_a_tick_enables_compare_once_ready(holder):
    ui = Handlers.on(holder)
    *_lists, run, send, cont, notice, timer = ui.page.page_load()
    assert run["interactive"] is False  # the tiny base is loading in the background now
    assert holder.wait(60) is not None
    header, *lists, run, send, cont, notice, timer = ui.page.model_wait()
    assert "**adapters:** 0" in header and lists[3]["interactive"] is True  # the variants, from the session
    assert run == {"__type__": "update", "value": "Compare", "interactive": True} and send["interactive"] is True
    assert notice == "" and timer.active is False
    *_lists, run, _send, _cont, notice, _timer = ui.page.page_load()  # a page opened once it is ready: enabled at once
    assert run["interactive"] is True and notice == SKIP


def zip_of(folder, path):
    with zipfile.ZipFile(path, "w") as zf:
        for file in folder.iterdir():
            zf.write(file, file.name)
    return path


def test_a_start_deletes_the_uploads_an_earlier_run_left(tiny_settings, tiny_adapters, tmp_path):
    earlier = Handlers.on(SessionHolder(tiny_settings))
    _header, notice, table, *_ = earlier.adapters.attach_zip(str(zip_of(tiny_adapters["lora"], tmp_path / "mine.zip")), "")
    assert notice.startswith("**Done:** Attached **mine**")
    left = [p for p in uploads_root(tiny_settings).iterdir() if p.name != ".lock"]
    assert len(left) == 1 and (left[0] / "adapter_config.json").is_file()

    # a second server on the same cache folder while this one runs deletes nothing of it
    script = ("import sys; from pathlib import Path; from adapters_ui.config import Settings; "
              "from adapters_ui.adapters.sources import clear_stale_uploads; "
              "print(clear_stale_uploads(Settings(cache_dir=Path(sys.argv[1]))))")
    done = subprocess.run([sys.executable, "-c", script, str(tiny_settings.cache_dir)], capture_output=True, text=True,
                          timeout=120)
    assert done.stdout.strip() == "0" and left[0].is_dir(), done.stderr

    restarted = SessionHolder(tiny_settings)  # the server restarted: a real start over the same cache
    assert restarted.get().adapters() == []
    assert [p.name for p in uploads_root(tiny_settings).iterdir()] == [".lock"]


HOSTILE = "<script>alert('x')</script>"


def test_a_hostile_run_value_never_reaches_the_log(tmp_path, caplog, recwarn):
    """?run=<script> on the page: the Saved tab says the link is bad, and the log (and any warning) holds none of it."""
    from adapters_ui.store import DatabaseHolder
    from adapters_ui.ui.saved import SavedHandlers

    settings = Settings(cache_dir=tmp_path / "cache")  # its store: a new SQLite file there
    saved = SavedHandlers(DatabaseHolder(settings.database), SessionHolder(settings))
    caplog.set_level(logging.DEBUG)
    warnings.simplefilter("always")
    outputs = saved.page_open({}, gr.Request(query_params={"run": HOSTILE}))
    assert outputs[1]["value"] is None  # the list does not pick an id it does not hold
    shown = " ".join(str(o) for o in outputs if isinstance(o, str))
    assert "**Error:**" in shown
    assert HOSTILE not in caplog.text and "<script>" not in caplog.text
    assert not [w for w in recwarn if "script" in str(w.message)]


@pytest.mark.parametrize("words", ["it/s]", "Loading weights", "Warning", "warnings.warn", "Traceback"])
def test_the_server_log_holds_no_progress_bars_or_library_warnings(served_log, words):
    assert words not in served_log


@pytest.fixture(scope="module")
def served_log(tiny_base_dir, tmp_path_factory):
    """``python app.py`` on the tiny base (a real start: it loads the base in the background), then a compare through
    the API; what it wrote to stderr and stdout until then."""
    from app_server import AppServer
    from gradio_client import Client

    folder = tmp_path_factory.mktemp("quiet")
    app = AppServer(folder / "app.log", ADAPTERS_UI_BASE_MODEL=str(tiny_base_dir), ADAPTERS_UI_CACHE_DIR=str(folder / "cache"))
    url = app.start()
    try:
        result = Client(url, verbose=False).predict("Hi there", ["base"], 4, api_name="/compare")
        assert result[0]["outputs"].keys() == {"base"}
        log = app.log.read_text()  # before the stop: uvicorn may log a cancelled task when it is shut down
    finally:
        app.stop()
    assert "base model and 0 adapter(s) ready" in log  # the log is there, and the start went through
    return log


RACE = """
import sys
from pathlib import Path
from adapters_ui.config import Settings
from adapters_ui.session import SessionHolder

holder = SessionHolder(Settings(cache_dir=Path(sys.argv[1])))
holder.preload()  # the base loads in the background...
print("preview:", ",".join(holder.preview().names))  # ...while the page reads the adapters from disk
session = holder.wait(600)
print("loaded:", session is not None, holder.error)
"""


@pytest.mark.integration
def test_the_preview_and_the_background_load_at_once_both_work_and_draw_no_bar(tmp_path):
    """A fresh process that reads the page's preview while the embedded SmolLM2 loads: both imported peft and
    transformers at once, and the load failed with "cannot import name 'AutoModelForCausalLM'" (3 of 3 starts);
    transformers' GGUF loader drew a tqdm bar into the log."""
    import os

    env = {**os.environ, "PYTHONPATH": str(Path(__file__).resolve().parents[1])}
    done = subprocess.run([sys.executable, "-c", RACE, str(tmp_path / "cache")], capture_output=True, text=True,
                          timeout=600, env=env)
    assert "preview: bullets,json_answer,pirate" in done.stdout, done.stderr[-2000:]
    assert "loaded: True None" in done.stdout, done.stderr[-2000:]
    assert "de-quantizing" not in done.stderr and "it/s]" not in done.stderr
