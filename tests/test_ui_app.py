"""The dashboard's handlers without a server, then the real server through gradio_client.

The handlers run a real tiny model; the browser tests (tests/browser/) drive the real page.
"""

from __future__ import annotations

import json
import zipfile
from pathlib import Path

import gradio as gr
import pytest

from adapters_ui.config import Settings
from adapters_ui.runs.prompts import PromptItem
from adapters_ui.session import SessionHolder
from adapters_ui.store import Database
from adapters_ui.store.saved import load_comparison
from adapters_ui.ui.app import Handlers, create_app
from adapters_ui.ui.common import export_folder
from adapters_ui.ui.compare import GREEDY
from adapters_ui.ui.page import SERVER_RESTARTED

SKIP = gr.skip()


def drain(generator) -> list[tuple]:
    return list(generator)


def compare_args(prompts="Hello\n\nWhat?\n", variants=("base", "lora"), tokens=5, decoding=GREEDY):
    return [prompts, list(variants), tokens, decoding, 0, 0.7, 0.9, False]


def as_visitor(name: str) -> gr.Request:
    return gr.Request(session_hash=name)


def test_attach_detach_refresh_everything_that_lists_adapters(ui, holder, tiny_adapters):
    header, notice, table, detach_choices, variants, play_variants, storage, scaling, version, notes = ui.adapters.attach_folder(
        str(tiny_adapters["lora"]), "pirate"
    )
    assert version == holder.get().registry.version == 1 and notes == ""  # not a demo adapter: no description
    assert "**adapters:** 1" in header and "**memory:**" in header
    assert notice.startswith("**Done:** Attached **pirate** (LoRA,")
    assert list(table["name"]) == ["pirate"] and table["type"][0] == "LoRA" and table["made for base"][0] == "yes"
    assert detach_choices["choices"] == [("pirate", "pirate")] or detach_choices["choices"] == ["pirate"]
    assert variants["value"] == ["base", "pirate"] and play_variants["choices"] in (["base", "pirate"], [("base", "base"), ("pirate", "pirate")])
    assert [bar.name for bar in storage.data][:1] and "pirate" in json.dumps(storage.to_plotly_json()["data"])
    assert len(scaling.data) == 2
    _header, notice, table, *_ = ui.adapters.detach("pirate")
    assert notice == "**Done:** Detached **pirate**." and table.empty
    assert holder.get().variants == ["base"]


@pytest.mark.parametrize(
    "call, words",
    [
        (lambda hd, a: hd.adapters.attach_folder("/no/such/folder", ""), "Adapter folder not found"),
        (lambda hd, a: hd.adapters.attach_folder(str(a["lora"]), "base"), "reserved"),
        (lambda hd, a: hd.adapters.attach_folder("", ""), "No adapter folder chosen"),
        (lambda hd, a: hd.adapters.attach_zip(None, ""), "No zip uploaded"),
        (lambda hd, a: hd.adapters.attach_zip(str(a["lora"] / "adapter_config.json"), ""), "is not a zip file"),
        (lambda hd, a: hd.adapters.attach_hub("gpt2", "", ""), "is not a Hub repo id"),
        (lambda hd, a: hd.adapters.attach_hub("owner/name", "", ""), "Hub downloads are off"),
        (lambda hd, a: hd.adapters.detach(""), "No adapter chosen"),
        (lambda hd, a: hd.adapters.detach("ghost"), "ghost"),
        (lambda hd, a: hd.adapters.mix("kept: 1, x", "cat", 0.5, "m"), "'x' has no weight"),
        (lambda hd, a: hd.adapters.mix("", "cat", 0.5, "m"), "No adapters given"),
        (lambda hd, a: hd.adapters.mix("kept: 1", "cat", 0.5, ""), "No name for the mix"),
        (lambda hd, a: hd.adapters.mix("kept: 0.5, ghost: 0.5", "cat", 0.5, "m"), "Unknown variant 'ghost'"),
    ],
)
def test_bad_adapter_input_is_one_line_in_the_page_and_changes_nothing(call, words, ui, holder, tiny_adapters):
    ui.adapters.attach_folder(str(tiny_adapters["ia3"]), "kept")
    _header, notice, table, *_ = call(ui, tiny_adapters)
    assert notice.startswith("**Error:** ") and words in notice and "\n" not in notice
    assert list(table["name"]) == ["kept"] and holder.get().variants == ["base", "kept"]


def test_mix_two_attached_adapters_from_the_page(ui, holder, tiny_adapters):
    ui.adapters.attach_folder(str(tiny_adapters["lora"]), "a")
    ui.adapters.attach_folder(str(tiny_adapters["lora_b"]), "b")
    header, notice, table, *_ = ui.adapters.mix("a: 0.7, b = 0.3", "cat", 0.5, "blend")
    assert notice.startswith("**Done:** Attached **blend** (LoRA,") and "**adapters:** 3" in header
    assert list(table["name"]) == ["a", "b", "blend"] and table["rank"][2] == 6
    _header, notice, *_ = ui.adapters.mix("a: 1, b: 1", "linear", 0.5, "flat")
    assert "linear mixes need equal ranks" in notice and "\n" not in notice


def test_a_base_that_cannot_load_says_why_in_the_header(tmp_path):
    """The page is served while the base loads (item 9): the load's failure reaches the header at the next tick."""
    ui = Handlers.on(SessionHolder(Settings(base_model=str(tmp_path / "missing"), cache_dir=tmp_path / "cache")))
    header, *_lists, run, send, cont, play_notice, timer = ui.page.page_load()
    assert "Loading the base model" in header and run["interactive"] is False and "Loading the base model" in run["value"]
    assert ui.holder.wait(60) is None
    header, *rest, run, send, cont, play_notice, timer = ui.page.model_wait()
    assert header.startswith("**Error:** ") and "missing" in header and "\n" not in header
    assert all(value == SKIP for value in rest)
    assert run["interactive"] is False and send["interactive"] is False and "did not load" in play_notice


def test_public_mode_attaches_only_listed_folders(tiny_settings, tiny_adapters):
    ui = Handlers.on(SessionHolder(tiny_settings.replace(public=True, adapter_dirs=(tiny_adapters["lora"].parent,))))
    _header, notice, table, *_ = ui.adapters.attach_folder("/etc", "")
    assert notice.startswith("**Error:** In public mode only the listed adapter folders") and table.empty
    _header, notice, table, *_ = ui.adapters.attach_folder(str(tiny_adapters["lora"].resolve()), "")
    assert notice.startswith("**Done:** Attached **lora**")


def test_attach_an_uploaded_zip(ui, holder, tiny_adapters, tmp_path):
    upload = tmp_path / "my_adapter.zip"
    with zipfile.ZipFile(upload, "w") as zf:
        for file in tiny_adapters["dora"].iterdir():
            zf.write(file, file.name)
    _header, notice, table, *_ = ui.adapters.attach_zip(str(upload), "")
    assert "Attached **my_adapter** (DoRA" in notice and list(table["name"]) == ["my_adapter"]


def test_compare_streams_then_fills_grid_charts_and_exports(ui, holder, tiny_adapters):
    ui.adapters.attach_folder(str(tiny_adapters["lora"]), "lora")
    updates = drain(ui.compare.run_compare(*compare_args(tokens=40)))
    assert len(updates) >= 2, "the grid must be shown while outputs are still coming in"
    assert updates[0][0] == "**Starting…**"  # the previous message is replaced at once
    assert all(u[0] == SKIP or u[0].startswith("**Running:**") for u in updates[1:-1])
    assert updates[0][1].count('class="pending"') == 4  # every cell waits, then fills as outputs arrive
    notice, grid, diff, view, chart, csv_file, json_file, html_file = updates[-1]
    assert notice.startswith("**Done:** 2 prompts × 2 variants") and "lora: 2/2 changed" in notice
    assert grid.count("<tr data-row=") == 2 and "<th>lora</th>" in grid
    assert [r["prompt"] for r in view.records] == ["Hello", "What?"] and view.variants == ["base", "lora"]
    assert "Click a row" in diff
    assert [trace.name for trace in chart.data] and chart.data[0].x[0] == 100.0
    exported = json.loads(Path(json_file["value"]).read_text())
    assert exported["results"] == view.records
    assert Path(csv_file["value"]).read_text().startswith("prompt,base,lora")
    assert "Plotly" in Path(html_file["value"]).read_text()


def test_export_folders_keep_only_the_newest_runs(tmp_path):
    import os

    folders = []
    for age in range(5):
        folders.append(export_folder(tmp_path / "exports", keep=3))
        (folders[-1] / "report.html").write_text("x")
        os.utime(folders[-1], (1_000_000 + age, 1_000_000 + age))  # a clear order, whatever the clock resolution
    assert [f.exists() for f in folders] == [False, False, True, True, True]
    assert all(f.parent == tmp_path / "exports" for f in folders)


def test_downloads_are_where_gradio_may_serve_them_whatever_the_cache_dir(ui, holder, tiny_adapters, monkeypatch, tmp_path):
    """Regression: with the default cache (~/.cache/adapters_ui) gradio refused the report files
    and the run never finished. Gradio serves files from the temp folder, the working directory or its cache."""
    import os
    import tempfile

    from gradio import utils

    ui.adapters.attach_folder(str(tiny_adapters["lora"]), "lora")
    monkeypatch.setattr(tempfile, "tempdir", str(tmp_path / "system-temp"))
    (tmp_path / "system-temp").mkdir()
    monkeypatch.chdir(tmp_path / "system-temp")
    final = drain(ui.compare.run_compare(*compare_args()))[-1]
    assert final[0].startswith("**Done:**"), final[0]
    files = final[5:]
    for file in files:
        path = os.path.abspath(file["value"])
        assert Path(path).is_relative_to(tmp_path / "system-temp" / "adapters_ui-exports")
        allowed, _reason = utils.is_allowed_file(
            Path(path), blocked_paths=[], allowed_paths=[os.getcwd(), tempfile.gettempdir()],
            created_paths=[utils.get_upload_folder()],
        )
        assert allowed, path


def test_another_visitor_s_attach_and_detach_reach_this_page(ui, holder, tiny_adapters):
    first = ui.adapters.attach_folder(str(tiny_adapters["lora"]), "lora")
    seen = first[8]
    assert ui.page.sync_lists(seen, ["base", "lora"]) == (SKIP,) * 11  # nothing changed: nothing redrawn
    ui.adapters.attach_folder(str(tiny_adapters["ia3"]), "ia3")
    ui.adapters.detach("lora")  # another visitor, as far as this page knows
    header, _notice, _table, _detach, variants, play, *_rest, version, _notes, note = ui.page.sync_lists(seen, ["base", "lora"])
    assert variants["choices"] in (["base", "ia3"], [("base", "base"), ("ia3", "ia3")]) and variants["value"] == ["base"]
    assert "lora was detached by another visitor" in note and version == holder.get().registry.version


def test_prompt_files_keep_their_references_for_the_run(ui, holder, tmp_path):
    upload = tmp_path / "qa.jsonl"
    upload.write_text('{"prompt": "Capital of France?", "reference": "Paris"}\n{"prompt": "Hi"}\n')
    text, references, notice = ui.compare.load_prompt_file(str(upload))
    assert text == "Capital of France?\nHi" and references == {"Capital of France?": PromptItem("Capital of France?", "Paris")}
    assert "1 with a reference answer" in notice
    view = drain(ui.compare.run_compare(text, ["base"], 3, GREEDY, 0, 0.7, 0.9, False, references))[-1][3]
    assert view.records[0]["reference"] == "Paris" and "reference" not in view.records[1]


def test_prompt_files_keep_their_categories_for_the_run(ui, holder, tmp_path):
    upload = tmp_path / "styled.csv"
    upload.write_text("prompt,reference,category\nCapital of France?,Paris,geo\nHi,,chat\nBye,,\n2+2?,4,math\n")
    text, annotations, notice = ui.compare.load_prompt_file(str(upload))
    assert notice == "**Done:** Loaded 4 prompts (2 with a reference answer, in 3 categories) from styled.csv."
    edited = text.replace("Hi\n", "Hi again\n")  # a prompt edited in the box keeps neither reference nor category
    view = drain(ui.compare.run_compare(edited, ["base"], 3, GREEDY, 0, 0.7, 0.9, False, annotations))[-1][3]
    assert [(r["prompt"], r.get("category"), r.get("reference")) for r in view.records] == [
        ("Capital of France?", "geo", "Paris"), ("Hi again", None, None), ("Bye", None, None), ("2+2?", "math", "4")]
    assert [r.get("category") for r in view.report.results] == ["geo", None, None, "math"]  # in the downloads too


def test_selecting_a_row_shows_word_diffs_and_the_filter_hides_equal_rows(ui, holder, tiny_adapters):
    ui.adapters.attach_folder(str(tiny_adapters["lora"]), "lora")
    view = drain(ui.compare.run_compare(*compare_args()))[-1][3]
    view.records.append({"prompt": "same", "outputs": {"base": "x", "lora": "x"}})
    grid, diff, view = ui.compare.select_row(view, False, gr.EventData(None, {"row": 1}))
    assert view.selected == 1 and 'class="selected"' in grid and "What?" in diff and 'class="add"' in diff
    assert ui.compare.select_row(view, False, gr.EventData(None, {"row": 99}))[:2] == (SKIP, SKIP)
    assert ui.compare.filter_rows(view, True).count("<tr data-row=") == 2
    assert ui.compare.filter_rows(view, False).count("<tr data-row=") == 3


def test_playground_chat_and_complete_give_the_session_s_answer(ui, holder, tiny_adapters):
    ui.adapters.attach_folder(str(tiny_adapters["lora"]), "lora")
    session = holder.get()
    settings = session.generation_settings(max_new_tokens=6)
    updates = drain(ui.playground.chat_reply("Hi", [], "lora", 6))
    history, message, notice = updates[-1]
    assert updates[0][1] == "" and all(u[1] == SKIP for u in updates[1:])  # cleared once: a new draft survives
    assert notice.startswith("**Done:** **lora** answered")
    assert history == [{"role": "user", "content": "Hi"}, {"role": "assistant", "content": session.chat([{"role": "user", "content": "Hi"}], "lora", settings)}]
    history2, *_ = drain(ui.playground.chat_reply("More", history, "base", 6))[-1]
    assert history2[:2] == history and len(history2) == 4
    continuation, notice = drain(ui.playground.complete_text("Once upon", "base", 6))[-1]
    assert continuation == session.complete("Once upon", "base", settings)
    # bad input: the message stays in the box, the history is untouched
    history3, message, notice = drain(ui.playground.chat_reply("Hi", history, "ghost", 6))[-1]
    assert history3 == history and message == "Hi" and "Unknown variant 'ghost'" in notice


def test_prompt_sets_and_uploads(ui, tmp_path):
    text, references, notice = ui.compare.load_prompt_set("general")
    assert len(text.splitlines()) == 16 and "16 prompts" in notice
    upload = tmp_path / "mine.csv"
    upload.write_text("prompt\nHi there\nBye\n")
    assert ui.compare.load_prompt_file(str(upload)) == ("Hi there\nBye", {}, "**Done:** Loaded 2 prompts from mine.csv.")
    bad = tmp_path / "bad.jsonl"
    bad.write_text("{not json\n")
    text, references, notice = ui.compare.load_prompt_file(str(bad))
    assert text == SKIP and notice.startswith("**Error:** ")


def test_compare_api_through_gradio_client(tiny_settings, tiny_adapters, capfd):
    from gradio_client import Client

    demo = create_app(tiny_settings)
    demo.launch(prevent_thread_lock=True, server_name="127.0.0.1", server_port=None, quiet=True)
    try:
        client = Client(demo.local_url, verbose=False)
        result = client.predict("Hi there\nBye", ["base"], 4, api_name="/compare")
        assert [r["prompt"] for r in result] == ["Hi there", "Bye"]
        assert set(result[0]["outputs"]) == {"base"}
        assert client.predict("Hi", "base", "3", api_name="/compare")[0]["outputs"].keys() == {"base"}  # a string of names
        capfd.readouterr()
        for variants, tokens, words in ((["base", "ghost"], 4, "Unknown variant 'ghost'"),
                                        ("pirate", 4, "Unknown variant 'pirate'"),  # not split into letters
                                        (["base"], "abc", "max_new_tokens must be a whole number, got 'abc'")):
            with pytest.raises(Exception, match=words):
                client.predict("Hi", variants, tokens, api_name="/compare")
        assert "Traceback" not in capfd.readouterr().err  # expected errors are one line, not a server traceback
        # the UI's own events (attach a folder by path, ...) are not callable from outside
        endpoints = list(client.view_api(print_info=False, return_format="dict")["named_endpoints"])
        assert endpoints == ["/compare", "/compare_and_save", "/evaluate", "/benchmark", "/evaluation", "/cancel_evaluation"]
        saved = client.predict("Hi there", ["base"], 3, api_name="/compare_and_save")
        assert saved["permalink"].endswith(f"/?run={saved['id']}") and len(saved["owner_key"]) >= 32
        again = load_comparison(Database.open(tiny_settings.database), saved["id"])
        assert again.data.results == saved["results"] and again.data.variants == ["base"]
        with pytest.raises(Exception, match="Unknown variant 'ghost'"):
            client.predict("Hi", ["ghost"], 3, api_name="/compare_and_save")
    finally:
        demo.close()


def test_an_api_client_can_cancel_its_run(tiny_settings):
    import time

    from gradio_client import Client

    demo = create_app(tiny_settings)
    demo.launch(prevent_thread_lock=True, server_name="127.0.0.1", server_port=None, quiet=True)
    try:
        prompts = "\n".join(f"p{i}" for i in range(48))  # one decode loop of 48 rows x 300 tokens
        job = Client(demo.local_url, verbose=False).submit(prompts, ["base"], 300, api_name="/compare")
        session = None
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline and not (session and session.runs._runs):
            session = demo.fns and _session_of(demo)
            time.sleep(0.2)
        (run,) = session.runs._runs
        while run.plan is None and time.monotonic() < deadline:
            time.sleep(0.02)  # generating has begun
        job.cancel()
        result = run.final(60)
        assert result.status == "stopped" and result.counts()[0] < 48
    finally:
        demo.close()


def _session_of(demo):
    """The app's shared session, found through the compare endpoint's bound handler."""
    for fn in demo.fns.values():
        handlers = getattr(getattr(fn.fn, "__self__", None), "holder", None)
        if handlers is not None and handlers.loaded is not None:
            return handlers.loaded
    return None


def test_a_page_kept_across_a_server_restart_is_told_once(holder):
    """The tab keeps the id of the server that served it; a page load with another id (the server restarted and
    gradio reloaded the page) says so; a first visit or a reload on the same server says nothing."""
    server, restarted = Handlers.on(holder), Handlers.on(holder)  # two server processes
    assert server.page.boot_id != restarted.page.boot_id
    boot, note = server.page.server_boot(None)  # a first visit
    assert boot == server.page.boot_id and note == SKIP
    assert server.page.server_boot(boot) == (server.page.boot_id, SKIP)  # a reload on the same server
    assert restarted.page.server_boot(boot) == (restarted.page.boot_id, SERVER_RESTARTED)


def test_no_function_in_the_ui_runs_over_40_lines():
    """Each handler, builder and wiring function in adapters_ui/ui/ reads on one screen (a long one is split
    into named helpers). Nested functions count toward the function around them."""
    import ast

    folder = Path(__file__).resolve().parents[1] / "adapters_ui" / "ui"
    long = {}
    for path in sorted(folder.glob("*.py")):
        tree = ast.parse(path.read_text())
        classes = [node for node in tree.body if isinstance(node, ast.ClassDef)]
        functions = [*tree.body, *(item for cls in classes for item in cls.body)]
        for node in functions:
            if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef)) and node.end_lineno - node.lineno + 1 > 40:
                long[f"{path.name}:{node.name}"] = node.end_lineno - node.lineno + 1
    assert long == {}
