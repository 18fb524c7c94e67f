"""Exports read back to the same data; the HTML views and report escape user text and stay offline."""

from __future__ import annotations

import html
import io
import json
import re
import shutil
from dataclasses import asdict
from datetime import datetime

import pandas as pd
import pytest
from helpers import JSON_KEYS

from adapters_ui.adapters.demo import DEMO_ADAPTERS
from adapters_ui.adapters.registry import describe
from adapters_ui.adapters.validation import read_adapter
from adapters_ui.analysis.text_diff import difference_summary
from adapters_ui.disk import file_sha256
from adapters_ui.formatting import format_bytes
from adapters_ui.model.base import embedded_gguf_path
from adapters_ui.names import EMBEDDED_NAME
from adapters_ui.views.document import ReportData, adapter_row, report_data, to_csv, to_json
from adapters_ui.views.html import (
    ADAPTER_COLUMNS,
    VIEW_CSS,
    adapter_table_html,
    diff_html,
    diff_panel_html,
    grid_html,
    side_by_side_html,
)
from adapters_ui.views.report import to_html, write_exports

XSS = "<script>alert('x')</script>"
RECORDS = [
    {"prompt": f"Say hi {XSS}", "outputs": {"base": "Hello there.", "pirate": "Ahoy there, matey!", "formal": "Hello there."}},
    {"prompt": 'Quote "this", please', "outputs": {"base": "line one\nline two", "pirate": "", "formal": "Línea, 日本 🙂"}},
]
ADAPTER_ROWS = [
    {"name": "pirate<b>", "type": "LoRA", "rank": 8, "alpha": 16.0, "targets": "q_proj, v_proj", "params": "230,000",
     "size": "943.0 kB", "x smaller": "571", "made for base": "yes"},
    {"name": "formal", "type": "IA3", "rank": None, "alpha": None, "targets": "k_proj", "params": "1,000",
     "size": "3.7 MB", "x smaller": "145", "made for base": "unknown"},
]
STORAGE = {
    "full_model_bytes": 538_060_032, "full_model_params": 134_515_008, "full_model_dtype": "float32", "base_file_bytes": None,
    "adapters": {"pirate<b>": {"bytes": 943_000, "params": 230_000, "dtype": "F32", "times_smaller": 570.6},
                 "formal": {"bytes": 3_700_000, "params": 1_000, "dtype": "F32", "times_smaller": 145.4}},
}
DATA = ReportData(
    base_model="org/Tiny<Model>", device="cpu", dtype="float32", created="2025-01-02T03:04:05+00:00",
    settings={"max_new_tokens": 8, "do_sample": False}, routes={"base": "mixed", "pirate": "mixed", "formal": "single"},
    variants=["base", "pirate", "formal"], results=RECORDS, adapters=ADAPTER_ROWS, storage=STORAGE,
    timing={"load_s": 0.5, "generate_s": 1.25},
)


# ---- exports -----------------------------------------------------------------------


def test_csv_reads_back_to_the_records():
    frame = pd.read_csv(io.StringIO(to_csv(DATA)), dtype=str, keep_default_na=False)
    assert list(frame.columns) == ["prompt", "base", "pirate", "formal"]
    back = [{"prompt": row.pop("prompt"), "outputs": row} for row in frame.to_dict("records")]
    assert back == RECORDS


def test_csv_leaves_missing_outputs_empty():
    data = ReportData(**{**asdict(DATA), "results": [{"prompt": "p", "outputs": {"base": "b", "pirate": None}}]})
    assert to_csv(data).splitlines() == ["prompt,base,pirate,formal", "p,b,,"]


def test_json_has_every_key_and_the_differences():
    document = json.loads(to_json(DATA))
    assert list(document) == JSON_KEYS
    assert document["results"] == RECORDS and document["storage"] == STORAGE and document["adapters"] == ADAPTER_ROWS
    assert document["timing"] == {"load_s": 0.5, "generate_s": 1.25}
    assert document["differences"] == [asdict(d) for d in difference_summary(RECORDS)]
    assert [d["variant"] for d in document["differences"]] == ["pirate", "formal"]
    assert document["differences"][0]["changed"] == 2 and document["differences"][1]["changed"] == 1
    assert "日本 🙂" in to_json(DATA)  # ensure_ascii=False: readable, not \u escapes


def test_html_report_is_self_contained_and_escaped():
    page = to_html(DATA)
    assert page.startswith("<!DOCTYPE html>")
    assert "&lt;script&gt;alert(&#x27;x&#x27;)&lt;/script&gt;" in page and XSS not in page
    assert "org/Tiny&lt;Model&gt;" in page and "pirate&lt;b&gt;" in page
    assert len(re.findall(r"plotly\.js v\d", page)) == 1  # the library is inlined once
    assert page.count("Plotly.newPlot(") == 3  # three charts
    assert 'src="http' not in page and not re.search(r"<(script|link|img)[^>]+(src|href)=", page)  # nothing fetched
    assert VIEW_CSS in page
    assert '<table class="ag-table">' in page and "<th>made for base</th>" in page
    assert '<table class="ag-grid">' in page
    assert '<ins class="add">' in page and '<del class="rem">' in page
    assert "max_new_tokens=8" in page and "2025-01-02T03:04:05+00:00" in page


def test_write_exports_makes_the_folder_and_three_files(tmp_path):
    folder = tmp_path / "new" / "exports"
    paths = write_exports(DATA, folder)
    assert paths == {"csv": folder / "comparison.csv", "json": folder / "comparison.json", "html": folder / "report.html"}
    assert all(p.is_file() and p.stat().st_size > 0 for p in paths.values())
    assert json.loads(paths["json"].read_text(encoding="utf-8"))["results"] == RECORDS
    assert paths["csv"].read_bytes().decode("utf-8") == to_csv(DATA)  # bytes: CRLF row ends, untranslated


def test_report_data_from_a_real_tiny_session(tiny_session, tiny_adapters, tmp_path):
    tiny_session.attach(tiny_adapters["lora"], "lora")
    comparison = tiny_session.compare(["Hello", "What?"], ["base", "lora"], tiny_session.generation_settings(max_new_tokens=4))
    storage = tiny_session.storage()
    data = report_data(tiny_session.base.info(), tiny_session.adapters(), storage.to_dict(), comparison)
    assert (data.base_model, data.device, data.dtype) == (tiny_session.base.source.name, "cpu", tiny_session.base.dtype_name)
    assert data.variants == ["base", "lora"] and data.results == comparison.records()
    assert data.settings["max_new_tokens"] == 4 and set(data.routes) == {"base", "lora"}
    assert data.storage == storage.to_dict()
    assert data.timing == {"load_s": round(tiny_session.base.load_s, 3), "generate_s": round(comparison.generate_s, 3),
                           "waited_s": round(comparison.waited_s, 3)}
    assert data.status == "finished" and data.error is None
    assert data.adapters == [adapter_row(info, storage.ratio(info.name)) for info in tiny_session.adapters()]  # as the UI's table
    (row,) = data.adapters
    info = tiny_session.adapters()[0]
    assert list(row) == ADAPTER_COLUMNS
    assert (row["name"], row["type"], row["rank"], row["size"]) == ("lora", "LoRA", 4, format_bytes(info.bytes_on_disk))
    assert row["targets"] == "q_proj, v_proj" and row["params"] == f"{info.params:,}"
    assert datetime.fromisoformat(data.created).tzinfo is not None
    paths = write_exports(data, tmp_path)
    document = json.loads(paths["json"].read_text(encoding="utf-8"))
    assert list(document) == JSON_KEYS and document["variants"] == ["base", "lora"]


# ---- the HTML views the report is made of ------------------------------------------------


def test_grid_html_rows_cells_and_classes():
    records = [
        {"prompt": XSS, "outputs": {"base": "same", "a": "same", "b": "other"}},
        {"prompt": "p2", "outputs": {"base": "x", "a": None}},  # a still running, b not started
        {"prompt": "p3", "outputs": {"base": "", "a": "y", "b": ""}},
    ]
    grid = grid_html(records, ["base", "a", "b"], row_ids=[4, 7, 9], selected=7, pending_text="running…")
    assert grid.startswith('<div class="ag-scroll" style="--ag-columns: 4"><table class="ag-grid">')  # scrolls sideways when narrow
    assert "<th>prompt</th><th>base</th><th>a</th><th>b</th>" in grid
    assert re.findall(r'data-row="(\d+)"', grid) == ["4", "7", "9"]
    assert '<tr data-row="7" class="selected">' in grid and grid.count("selected") == 1
    assert "&lt;script&gt;" in grid and "<script" not in grid and "<style" not in grid
    assert '<td class="same">same</td>' in grid and "<td>other</td>" in grid
    assert grid.count('<td class="pending">running…</td>') == 2
    assert '<td class="same"><i>(empty)</i></td>' in grid  # b's empty output equals the empty base


@pytest.mark.parametrize(
    "records, kwargs, expected",
    [
        ([], {}, ""),
        ([{"prompt": "p", "outputs": {"base": "t"}}], {}, '<tr data-row="0">'),
        ([{"prompt": "p", "outputs": {"base": "t"}}], {"row_ids": [1, 2]}, ValueError),
    ],
)
def test_grid_html_edges(records, kwargs, expected):
    if expected is ValueError:
        with pytest.raises(ValueError, match="one id per record"):
            grid_html(records, ["base"], **kwargs)
    elif expected:
        assert expected in grid_html(records, ["base"], **kwargs)
    else:
        assert grid_html(records, ["base"], **kwargs) == expected


@pytest.mark.parametrize(
    "base, other, expected",
    [
        ("a b", "a b", "a b"),
        ("the quick fox", "the slow fox", 'the <del class="rem">quick</del><ins class="add">slow</ins> fox'),
        ("x", "x <b>", 'x<ins class="add"> &lt;b&gt;</ins>'),
        ("<i>", "", '<del class="rem">&lt;i&gt;</del>'),
    ],
)
def test_diff_html(base, other, expected):
    assert diff_html(base, other) == expected


def test_diff_panel_html_against_the_base():
    panel = diff_panel_html({"prompt": XSS, "outputs": {"base": "a b c d", "same": "a b c d", "x": "a b c e", "y": None}})
    assert "<h3>&lt;script&gt;" in panel and "<script" not in panel
    assert "same — identical to base" in panel
    assert "x — 75% similar to base" in panel and "base — struck: what x drops" in panel
    assert '<div class="ag-text">a b c <del class="rem">d</del></div>' in panel  # base side: what x drops
    assert '<div class="ag-text">a b c <ins class="add">e</ins></div>' in panel  # x side: what x adds
    assert "still running" in panel


@pytest.mark.parametrize(
    "base, other",
    [("a b c d", "a b c e"), ("", "new words"), ("old words", ""), ("the cat sat", "the cat sat down, then left"),
     ("Héllo  wörld\n", "Hello world")],
)
def test_side_by_side_halves_rebuild_both_texts(base, other):
    import re

    left, right = side_by_side_html(base, other)
    strip = lambda marked: html.unescape(re.sub(r"</?(del|ins)[^>]*>|<i>\(empty\)</i>", "", marked))  # noqa: E731
    assert (strip(left), strip(right)) == (base, other)
    assert "<ins" not in left and "<del" not in right


def test_diff_panel_html_without_a_base():
    panel = diff_panel_html({"prompt": "p", "outputs": {"x": "plain <text>"}})
    assert "was not run" in panel and "plain &lt;text&gt;" in panel and "<ins" not in panel


def test_adapter_table_html():
    table = adapter_table_html(ADAPTER_ROWS)
    assert table.startswith('<table class="ag-table">')
    assert "".join(f"<th>{c}</th>" for c in ADAPTER_COLUMNS) in table
    assert "<td>pirate&lt;b&gt;</td>" in table and "<td>571</td>" in table
    assert "<td>IA3</td><td></td><td></td>" in table  # rank and alpha None -> blank
    assert "No adapters attached" in adapter_table_html([])


def test_view_css_covers_every_class_the_views_use():
    for selector in ("table.ag-grid", "td.same", "td.pending", "tr[data-row]", "tr.selected", "ins.add", "del.rem",
                     "white-space: pre-wrap", "overflow-wrap: anywhere", "table-layout: fixed", "line-through"):
        assert selector in VIEW_CSS


@pytest.mark.parametrize(
    "recorded, cell",
    [
        ("HuggingFaceTB/SmolLM2-135M-Instruct", "yes"),
        ("{package}", "yes"),  # made on the embedded default, loaded from its package folder
        ("{cache}/gguf/{key}", "yes"),  # ... or from its dequantized copy
        ("/srv/team/checkpoints/run-17/SmolLM2-360M-Instruct", "no: made for SmolLM2-360M-Instruct"),
        ("Qwen/Qwen2.5-0.5B-Instruct", "no: made for Qwen/Qwen2.5-0.5B-Instruct"),
        (None, "unknown"),
    ],
)
def test_made_for_base_cell_of_a_demo_adapter(recorded, cell, tmp_path):
    """A real demo adapter whose config records another name for its base, against the embedded default."""
    gguf = embedded_gguf_path()
    folder = shutil.copytree(DEMO_ADAPTERS / "pirate", tmp_path / "pirate")
    config = json.loads((folder / "adapter_config.json").read_text())
    if recorded is not None:
        recorded = recorded.format(package=gguf.parent, cache=tmp_path / "cache", key=file_sha256(gguf)[:32])
    config["base_model_name_or_path"] = recorded
    (folder / "adapter_config.json").write_text(json.dumps(config))
    row = adapter_row(describe(read_adapter(folder), EMBEDDED_NAME, "mixed"), 500.0)
    assert row["made for base"] == cell


@pytest.mark.parametrize(
    "kind, rank, virtual_tokens, cell",
    [
        ("lora", 4, None, 4),
        ("rslora", 8, None, 8),
        ("loha", 4, None, 4),
        ("lokr", 4, None, 4),
        ("ia3", None, None, None),
        ("prompt", None, 4, "4 virtual tokens"),  # prompt tuning has no rank
        ("ptuning", None, 4, "4 virtual tokens"),
    ],
)
def test_rank_only_for_methods_that_have_one(kind, rank, virtual_tokens, cell, tiny_session, tiny_adapters):
    info = tiny_session.attach(tiny_adapters[kind], kind)
    assert (info.rank, info.virtual_tokens) == (rank, virtual_tokens)
    row = adapter_row(info, tiny_session.storage().ratio(kind))
    assert row["rank"] == cell
    assert f"<td>{'' if cell is None else cell}</td>" in adapter_table_html([row])
