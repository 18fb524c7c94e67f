"""The dashboard's handlers without a server, then the real server through gradio_client.

The handlers run a real tiny model; the browser tests (test_browser.py) drive the real page.
"""

from __future__ import annotations

import json
import zipfile
from pathlib import Path

import gradio as gr
import pytest

from adapters_ui.ui import handlers as h
from adapters_ui.ui.app import create_app

SKIP = gr.skip()


def drain(generator) -> list[tuple]:
    return list(generator)


def compare_args(prompts="Hello\n\nWhat?\n", variants=("base", "lora"), tokens=5, decoding=h.GREEDY):
    return [prompts, list(variants), tokens, decoding, 0, 0.7, 0.9, False]


@pytest.fixture
def holder(tiny_settings):
    return h.SessionHolder(tiny_settings)


def test_attach_detach_refresh_everything_that_lists_adapters(holder, tiny_adapters):
    header, notice, table, detach_choices, variants, play_variants, storage, scaling = h.attach_folder(
        holder, str(tiny_adapters["lora"]), "pirate"
    )
    assert "**adapters:** 1" in header and "**memory:**" in header
    assert notice.startswith("**Done:** Attached **pirate** (LoRA,")
    assert list(table["name"]) == ["pirate"] and table["type"][0] == "LoRA" and table["made for base"][0] == "yes"
    assert detach_choices["choices"] == [("pirate", "pirate")] or detach_choices["choices"] == ["pirate"]
    assert variants["value"] == ["base", "pirate"] and play_variants["choices"] in (["base", "pirate"], [("base", "base"), ("pirate", "pirate")])
    assert [bar.name for bar in storage.data][:1] and "pirate" in json.dumps(storage.to_plotly_json()["data"])
    assert len(scaling.data) == 2
    _header, notice, table, *_ = h.detach(holder, "pirate")
    assert notice == "**Done:** Detached **pirate**." and table.empty
    assert holder.get().variants == ["base"]


@pytest.mark.parametrize(
    "call, words",
    [
        (lambda hd, a: h.attach_folder(hd, "/no/such/folder", ""), "Adapter folder not found"),
        (lambda hd, a: h.attach_folder(hd, str(a["lora"]), "base"), "reserved"),
        (lambda hd, a: h.attach_folder(hd, "", ""), "No adapter folder chosen"),
        (lambda hd, a: h.attach_zip(hd, None, ""), "No zip uploaded"),
        (lambda hd, a: h.attach_zip(hd, str(a["lora"] / "adapter_config.json"), ""), "is not a zip file"),
        (lambda hd, a: h.attach_hub(hd, "gpt2", "", ""), "is not a Hub repo id"),
        (lambda hd, a: h.attach_hub(hd, "owner/name", "", ""), "Hub downloads are off"),
        (lambda hd, a: h.detach(hd, ""), "No adapter chosen"),
        (lambda hd, a: h.detach(hd, "ghost"), "ghost"),
    ],
)
def test_bad_adapter_input_is_one_line_in_the_page_and_changes_nothing(call, words, holder, tiny_adapters):
    h.attach_folder(holder, str(tiny_adapters["ia3"]), "kept")
    _header, notice, table, *_ = call(holder, tiny_adapters)
    assert notice.startswith("**Error:** ") and words in notice and "\n" not in notice
    assert list(table["name"]) == ["kept"] and holder.get().variants == ["base", "kept"]


def test_a_base_that_cannot_load_says_why_in_the_header(tmp_path):
    holder = h.SessionHolder(h.Settings(base_model=str(tmp_path / "missing"), cache_dir=tmp_path / "cache"))
    header, *rest = h.page_load(holder)
    assert header.startswith("**Error:** ") and "missing" in header and "\n" not in header
    assert all(value == SKIP for value in rest)


def test_public_mode_attaches_only_listed_folders(tiny_settings, tiny_adapters):
    holder = h.SessionHolder(tiny_settings.replace(public=True, adapter_dirs=(tiny_adapters["lora"].parent,)))
    _header, notice, table, *_ = h.attach_folder(holder, "/etc", "")
    assert notice.startswith("**Error:** In public mode only the listed adapter folders") and table.empty
    _header, notice, table, *_ = h.attach_folder(holder, str(tiny_adapters["lora"].resolve()), "")
    assert notice.startswith("**Done:** Attached **lora**")


def test_attach_an_uploaded_zip(holder, tiny_adapters, tmp_path):
    upload = tmp_path / "my_adapter.zip"
    with zipfile.ZipFile(upload, "w") as zf:
        for file in tiny_adapters["dora"].iterdir():
            zf.write(file, file.name)
    _header, notice, table, *_ = h.attach_zip(holder, str(upload), "")
    assert "Attached **my_adapter** (DoRA" in notice and list(table["name"]) == ["my_adapter"]


def test_compare_streams_then_fills_grid_charts_and_exports(holder, tiny_adapters):
    h.attach_folder(holder, str(tiny_adapters["lora"]), "lora")
    updates = drain(h.run_compare(holder, *compare_args(tokens=40)))
    assert len(updates) >= 2, "the grid must be shown while outputs are still coming in"
    assert all(u[0] == SKIP for u in updates[:-1])  # while it runs, gr.Progress shows the count on the notice
    assert updates[0][1].count('class="pending"') == 4  # every cell waits, then fills as outputs arrive
    notice, grid, diff, view, chart, csv_file, json_file, html_file = updates[-1]
    assert notice.startswith("**Done:** 2 prompts × 2 variants") and "lora: 2/2 changed" in notice
    assert grid.count("<tr data-row=") == 2 and "<th>lora</th>" in grid
    assert [r["prompt"] for r in view.records] == ["Hello", "What?"] and view.variants == ["base", "lora"]
    assert "Click a row" in diff
    assert [trace.name for trace in chart.data] and chart.data[0].y[0] == 100.0
    exported = json.loads(Path(json_file["value"]).read_text())
    assert exported["results"] == view.records
    assert Path(csv_file["value"]).read_text().startswith("prompt,base,lora")
    assert "Plotly" in Path(html_file["value"]).read_text()


@pytest.mark.parametrize(
    "args, words",
    [
        (compare_args(prompts=" \n "), "No prompts given"),
        (compare_args(variants=()), "No variants chosen"),
        (compare_args(variants=("base", "ghost")), "Unknown variant 'ghost'"),
        (compare_args(tokens=100_000), "over the cap"),
    ],
)
def test_bad_compare_input_is_one_line_and_leaves_the_view_alone(args, words, holder):
    (update,) = drain(h.run_compare(holder, *args))
    assert update[0].startswith("**Error:** ") and words in update[0]
    assert all(value == SKIP for value in update[1:])


def test_export_folders_keep_only_the_newest_runs(tmp_path):
    import os

    folders = []
    for age in range(5):
        folders.append(h.export_folder(tmp_path / "exports", keep=3))
        (folders[-1] / "report.html").write_text("x")
        os.utime(folders[-1], (1_000_000 + age, 1_000_000 + age))  # a clear order, whatever the clock resolution
    assert [f.exists() for f in folders] == [False, False, True, True, True]
    assert all(f.parent == tmp_path / "exports" for f in folders)


def test_downloads_are_where_gradio_may_serve_them_whatever_the_cache_dir(holder, tiny_adapters, monkeypatch, tmp_path):
    """Regression: with the default cache (~/.cache/adapters_ui) gradio refused the report files
    and the run never finished. Gradio serves files from the temp folder, the working directory or its cache."""
    import os
    import tempfile

    from gradio import utils

    h.attach_folder(holder, str(tiny_adapters["lora"]), "lora")
    monkeypatch.setattr(tempfile, "tempdir", str(tmp_path / "system-temp"))
    (tmp_path / "system-temp").mkdir()
    monkeypatch.chdir(tmp_path / "system-temp")
    final = drain(h.run_compare(holder, *compare_args()))[-1]
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


def test_stop_keeps_what_was_written_and_only_stops_its_own_visitor(holder, tiny_adapters):
    h.attach_folder(holder, str(tiny_adapters["lora"]), "lora")
    assert h.stop_compare(holder, None).startswith("**Error:** Nothing to stop")
    run = h.run_compare(holder, *compare_args(prompts="\n".join(f"Prompt {i}" for i in range(6)), tokens=400))
    next(run)  # the empty grid: the run is under way
    assert set(holder.stops) == {"local"}
    assert h.stop_compare(holder, gr.Request(session_hash="someone else")).startswith("**Error:** Nothing to stop")
    assert h.stop_compare(holder, None) == "**Stopping…**"
    notice, grid, _diff, _view, *rest = drain(run)[-1]
    assert notice.startswith("**Stopped:** ") and grid.count("<tr data-row=") == 6 and rest == [SKIP] * 4
    assert holder.stops == {}
    # the app keeps working: the next comparison runs to the end
    assert drain(h.run_compare(holder, *compare_args()))[-1][0].startswith("**Done:**")


def test_selecting_a_row_shows_word_diffs_and_the_filter_hides_equal_rows(holder, tiny_adapters):
    h.attach_folder(holder, str(tiny_adapters["lora"]), "lora")
    view = drain(h.run_compare(holder, *compare_args()))[-1][3]
    view.records.append({"prompt": "same", "outputs": {"base": "x", "lora": "x"}})
    grid, diff, view = h.select_row(view, False, gr.EventData(None, {"row": 1}))
    assert view.selected == 1 and 'class="selected"' in grid and "What?" in diff and 'class="add"' in diff
    assert h.select_row(view, False, gr.EventData(None, {"row": 99}))[:2] == (SKIP, SKIP)
    assert h.filter_rows(view, True).count("<tr data-row=") == 2
    assert h.filter_rows(view, False).count("<tr data-row=") == 3


def test_playground_chat_and_complete_give_the_session_s_answer(holder, tiny_adapters):
    h.attach_folder(holder, str(tiny_adapters["lora"]), "lora")
    session = holder.get()
    settings = session.generation_settings(max_new_tokens=6)
    history, message, notice = drain(h.chat_reply(holder, "Hi", [], "lora", 6))[-1]
    assert message == "" and notice.startswith("**Done:** **lora** answered")
    assert history == [{"role": "user", "content": "Hi"}, {"role": "assistant", "content": session.chat([{"role": "user", "content": "Hi"}], "lora", settings)}]
    history2, *_ = drain(h.chat_reply(holder, "More", history, "base", 6))[-1]
    assert history2[:2] == history and len(history2) == 4
    continuation, notice = drain(h.complete_text(holder, "Once upon", "base", 6))[-1]
    assert continuation == session.complete("Once upon", "base", settings)
    # bad input: the message stays in the box, the history is untouched
    history3, message, notice = drain(h.chat_reply(holder, "Hi", history, "ghost", 6))[-1]
    assert history3 == history and message == "Hi" and "Unknown variant 'ghost'" in notice


def test_prompt_sets_and_uploads(tmp_path):
    text, notice = h.load_prompt_set("general")
    assert len(text.splitlines()) == 16 and "16 prompts" in notice
    upload = tmp_path / "mine.csv"
    upload.write_text("prompt\nHi there\nBye\n")
    assert h.load_prompt_file(str(upload)) == ("Hi there\nBye", "**Done:** Loaded 2 prompts from mine.csv.")
    bad = tmp_path / "bad.jsonl"
    bad.write_text("{not json\n")
    text, notice = h.load_prompt_file(str(bad))
    assert text == SKIP and notice.startswith("**Error:** ")


def test_compare_api_through_gradio_client(tiny_settings, tiny_adapters):
    from gradio_client import Client

    demo = create_app(tiny_settings)
    demo.launch(prevent_thread_lock=True, server_name="127.0.0.1", server_port=None)
    try:
        client = Client(demo.local_url, verbose=False)
        result = client.predict("Hi there\nBye", ["base"], 4, api_name="/compare")
        assert [r["prompt"] for r in result] == ["Hi there", "Bye"]
        assert set(result[0]["outputs"]) == {"base"}
        with pytest.raises(Exception, match="Unknown variant 'ghost'"):
            client.predict("Hi", ["base", "ghost"], 4, api_name="/compare")
        # the UI's own events (attach a folder by path, ...) are not callable from outside
        assert list(client.view_api(print_info=False, return_format="dict")["named_endpoints"]) == ["/compare"]
    finally:
        demo.close()
