"""Outputs are exactly what plain PEFT gives, byte for byte, whitespace included, everywhere they go:
the run, the JSON, CSV and HTML exports, the store, the CLI's table, the API and the remote backend.

The tiny base never starts an answer with whitespace, so two rsLoRA adapters are made whose greedy outputs
do (found by trying seeds; each test checks that premise, so none can pass vacuously):
"tabs" writes six leading tabs for the third prompt and a trailing tab for the fourth; "newline" starts the
fourth with a newline.
"""

from __future__ import annotations

import csv
import html
import io
import json
import re
from http.server import BaseHTTPRequestHandler

import pytest
from helpers import LocalServer, adapter_configs, make_adapter, plain_peft_outputs

from adapters_ui.cli.main import main
from adapters_ui.store import Database
from adapters_ui.store.saved import load_comparison, save_comparison
from adapters_ui.views.document import report_data, to_csv, to_json
from adapters_ui.views.report import to_html, write_exports

PROMPTS = ["Hello there", "What is 2+2?", "Write a long poem about the sea and the sky", "x"]
TOKENS = 10
SEEDS = {"tabs": 33, "newline": 23}


@pytest.fixture(scope="module")
def spaced(tiny_base_dir, tmp_path_factory) -> dict:
    """{name: folder} of the two adapters, and {name: plain PEFT's outputs} (decode, skip_special_tokens, unstripped)."""
    from helpers import tiny_tokenizer
    from transformers import AutoModelForCausalLM

    base = AutoModelForCausalLM.from_pretrained(tiny_base_dir)
    root = tmp_path_factory.mktemp("spaced")
    folders = {name: make_adapter(base, adapter_configs()["rslora"], root / name, seed=seed) for name, seed in SEEDS.items()}
    expected = {name: plain_peft_outputs(base, tiny_tokenizer(), folder, PROMPTS, TOKENS) for name, folder in folders.items()}
    # The premise: outputs that a strip() would change, at the start and at the end.
    assert expected["tabs"][2].startswith("\t") and expected["tabs"][3].endswith("\t"), expected
    assert expected["newline"][3].startswith("\n"), expected
    return {"folders": folders, "expected": expected}


def outputs_of(records: list[dict], variant: str) -> list[str]:
    return [r["outputs"][variant] for r in records]


def test_a_run_gives_plain_pefts_text_byte_for_byte(tiny_session, spaced):
    for name, folder in spaced["folders"].items():
        tiny_session.attach(folder, name)
    streamed: dict[tuple[int, str], str] = {}
    run = tiny_session.start_compare(PROMPTS, settings=tiny_session.generation_settings(max_new_tokens=TOKENS))
    for event in run:
        for row, text in getattr(event, "texts", {}).items():  # Partial: every row's text so far
            streamed[row] = text
    result = run.result()
    for name, expected in spaced["expected"].items():
        assert result.outputs(name) == expected, name
        assert [streamed[(i, name)] for i in range(len(PROMPTS))] == expected, name  # the live text too


@pytest.mark.parametrize("backend", ["sqlite", pytest.param("postgresql", marks=pytest.mark.postgres)])
def test_the_cli_json_table_exports_and_store_keep_the_exact_text(backend, make_database_url, tiny_base_dir, spaced,
                                                                 tmp_path, capsys):
    url = make_database_url(backend)
    argv = ["compare", "--base", str(tiny_base_dir), "--max-new-tokens", str(TOKENS), "--json", str(tmp_path / "run.json"),
            "--save", "--database", url]
    for name, folder in spaced["folders"].items():
        argv += ["--adapter", f"{name}={folder}"]
    for prompt in PROMPTS:
        argv += ["--prompt", prompt]
    assert main(argv) == 0
    printed = capsys.readouterr().out
    expected = spaced["expected"]

    document = json.loads((tmp_path / "run.json").read_text(encoding="utf-8"))
    for name in expected:
        assert outputs_of(document["results"], name) == expected[name], name

    # The table keeps the leading newline as an empty first line under the name, then the rest.
    label = max(len(v) for v in document["variants"]) + 2
    assert f"{'newline':<{label}} | \n{'':<{label}} | {expected['newline'][3][1:]}\n" in printed

    db = Database.open(url)
    try:
        saved_id = re.search(r"^saved:\s+(\S+)$", printed, re.M).group(1)
        data = load_comparison(db, saved_id).data
    finally:
        db.close()
    for name in expected:
        assert outputs_of(data.results, name) == expected[name], name
    assert json.loads(to_json(data))["results"] == document["results"]
    rows = list(csv.reader(io.StringIO(to_csv(data), newline="")))
    for name in expected:
        column = rows[0].index(name)
        assert [row[column] for row in rows[1:]] == expected[name], name
    page = to_html(data)
    for name in expected:
        for text in expected[name]:
            assert f">{html.escape(text)}<" in page, (name, text)  # the grid cell holds the whole text


def test_the_ui_downloads_and_the_api_keep_the_exact_text(ui, spaced, tmp_path, make_database_url):
    session = ui.holder.get()
    for name, folder in spaced["folders"].items():
        session.attach(folder, name)
    *_, records = ui.api.compare_api("\n".join(PROMPTS), "base, tabs, newline", TOKENS)
    for name, expected in spaced["expected"].items():
        assert outputs_of(records, name) == expected, name

    comparison = session.compare(PROMPTS, settings=session.generation_settings(max_new_tokens=TOKENS))
    data = report_data(session.base.info(), session.adapters(), session.storage().to_dict(), comparison)
    files = write_exports(data, tmp_path)  # what the page's three download buttons serve
    document = json.loads(files["json"].read_text(encoding="utf-8"))
    with files["csv"].open(newline="", encoding="utf-8") as f:
        rows = list(csv.reader(f))
    db = Database.open(make_database_url("sqlite"))
    try:
        again = load_comparison(db, save_comparison(db, data, session.adapters()).id).data
    finally:
        db.close()
    for name, expected in spaced["expected"].items():
        assert outputs_of(document["results"], name) == expected, name
        assert [row[rows[0].index(name)] for row in rows[1:]] == expected, name
        assert outputs_of(again.results, name) == expected, name


class FakeCompletions(LocalServer):
    """A real HTTP server that streams /v1/completions the way vLLM does: server-sent events, one text piece each."""

    def __init__(self, pieces: list[str]):
        class Handler(BaseHTTPRequestHandler):
            def do_POST(self):  # noqa: N802 - http.server's name
                self.rfile.read(int(self.headers["Content-Length"]))
                self.send_response(200)
                self.send_header("Content-Type", "text/event-stream")
                self.end_headers()
                for i, piece in enumerate(pieces):
                    finish = "length" if i == len(pieces) - 1 else None
                    event = {"choices": [{"index": 0, "text": piece, "finish_reason": finish}]}
                    self.wfile.write(f"data: {json.dumps(event)}\n\n".encode())
                self.wfile.write(b"data: [DONE]\n\n")

            def log_message(self, *args):
                pass

        super().__init__(Handler)


def test_the_remote_backend_keeps_the_servers_text(tiny_session):
    """vLLM returns text; nothing between it and the run may strip it (the live text included)."""
    from adapters_ui.backends.protocol import Batch
    from adapters_ui.backends.remote.backend import SERVER, RemoteBackend, ServedModel
    from adapters_ui.backends.remote.client import ServerClient
    from adapters_ui.names import BASE

    pieces = ["\n", "  Ahoy", ", matey ", "\t"]
    server = FakeCompletions(pieces)
    client = ServerClient(server.url)
    backend = RemoteBackend(client, tiny_session.base, ServedModel("tiny", None, None, "vllm"))
    shown: list[list[str]] = []
    try:
        generated = backend.generate(Batch(SERVER, ((0, BASE),), BASE), ["Hi"],
                                     tiny_session.generation_settings(max_new_tokens=4), on_rows=shown.append)
    finally:
        client.close()
        server.close()
    assert generated.texts == ["".join(pieces)] and generated.complete == [True]
    assert shown and shown[-1] == ["".join(pieces)]
