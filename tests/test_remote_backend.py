"""The dashboard on a real vLLM server (the CPU build, started by the ``vllm_server`` fixture) against the
in-process engine: the same outputs token for token, through the session, the API and the browser grid;
runtime load and unload, refusals, a server that is down, transient errors, Stop, and a restart.

The tests share one server and run in file order; the last one restarts it.
"""

from __future__ import annotations

import json
import shutil
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import httpx
import pytest
from app_server import CACHE, LOAD_S, RUN_S, AppServer, free_port
from browser.chromium import CHROMIUM, wait_text
from helpers import LocalServer, write_jsonl

from adapters_ui.adapters import demo
from adapters_ui.adapters.files import model_storage
from adapters_ui.adapters.validation import read_adapter
from adapters_ui.backends.remote.backend import SERVER, Phases, adapter_pattern, lora_refusal
from adapters_ui.backends.remote.client import ServerAnswerError, ServerClient, api_base
from adapters_ui.cli import main as cli
from adapters_ui.config import Settings
from adapters_ui.errors import AdapterError, BackendError, BaseModelError
from adapters_ui.formatting import format_bytes
from adapters_ui.model.base import load_skeleton
from adapters_ui.names import EMBEDDED_NAME
from adapters_ui.runs.prompts import demo_prompts, format_prompt
from adapters_ui.runs.run import STOPPED, Partial
from adapters_ui.session import Session, SessionHolder

TOKENS = 32
VARIANTS = ["base", "pirate", "json_answer"]


@pytest.fixture(scope="module")
def prompts() -> list[str]:
    return demo_prompts()


@pytest.fixture(scope="module")
def in_process(prompts):
    """The in-process engine's outputs for the demo prompts: what vLLM must give too."""
    session = Session.start(Settings(cache_dir=CACHE, max_new_tokens=TOKENS, demo=False))
    for name in ("pirate", "json_answer"):
        session.attach(demo.DEMO_ADAPTERS / name)
    comparison = session.compare(prompts, VARIANTS)
    return session, {v: comparison.outputs(v) for v in VARIANTS}


@pytest.fixture(scope="module")
def remote(vllm_server):
    """The dashboard's session on the vLLM server, as the app makes it (demo adapters attached)."""
    return SessionHolder(Settings(cache_dir=CACHE, max_new_tokens=TOKENS, backend_url=vllm_server.url)).get()


def served_ids(url: str) -> list[str]:
    return [m["id"] for m in httpx.get(f"{url}/v1/models", timeout=10).json()["data"]]


def copy_adapter(source: str, folder) -> str:
    shutil.copytree(demo.DEMO_ADAPTERS / source, folder)
    return str(folder)


# ---- no server needed -----------------------------------------------------------------------
@pytest.mark.parametrize("name, refused", [
    ("lora", None), ("rslora", None), ("dora", "DoRA, which vLLM does not yet support"),
    ("ia3", "is IA3: the serving engine runs LoRA adapters only"), ("loha", "is LOHA"), ("lokr", "is LOKR"),
    ("prompt", "is PROMPT_TUNING"), ("ptuning", "is P_TUNING"),
])
def test_what_vllm_cannot_run_is_refused_with_the_reason(tiny_adapters, name, refused):
    reason = lora_refusal(read_adapter(tiny_adapters[name]))
    if refused is None:
        assert reason is None
    else:
        assert refused in reason and "in-process backend" in reason and "\n" not in reason


@pytest.mark.parametrize("url, expected", [
    ("http://127.0.0.1:8000", "http://127.0.0.1:8000/v1"),
    ("http://127.0.0.1:8000/v1/", "http://127.0.0.1:8000/v1"),
    ("https://kserve.example/openai/v1", "https://kserve.example/openai/v1"),
])
def test_the_api_root_of_a_backend_url(url, expected):
    assert api_base(url) == expected


def test_a_backend_url_that_is_not_http_is_a_one_line_error():
    with pytest.raises(BackendError, match="is not an http"):
        api_base("127.0.0.1:8000")


@pytest.mark.parametrize("template, served, adapter", [
    ("{adapter}", "pirate", "pirate"),
    ("{base}:{adapter}", "llama70b:pirate", "pirate"),
    ("{base}:{adapter}", "other:pirate", None),
    ("{base}--{adapter}", "llama70b--a.b", "a.b"),
])
def test_adapter_names_are_read_back_from_the_servers_names(template, served, adapter):
    match = adapter_pattern(template, "llama70b").fullmatch(served)
    assert (match["adapter"] if match else None) == adapter


def test_the_skeleton_base_has_the_real_architecture_and_tokenizer_but_no_weights(tiny_base_dir, tiny_session):
    skeleton = load_skeleton(Settings(base_model=str(tiny_base_dir)), str(tiny_base_dir), "http://127.0.0.1:1/v1")
    real = tiny_session.base
    assert all(p.is_meta for p in skeleton.model.parameters())
    assert [n for n, _ in skeleton.model.named_modules()] == [n for n, _ in real.model.named_modules()]
    assert model_storage(skeleton.model) == model_storage(real.model)
    prompt = format_prompt(real.tokenizer, "Hello there")
    assert format_prompt(skeleton.tokenizer, "Hello there") == prompt
    assert skeleton.info().device == "on the server"


def test_a_base_flag_that_names_another_model_than_the_server_serves_is_refused(tiny_base_dir):
    with pytest.raises(BaseModelError, match="The server serves SmolLM2-135M-Instruct but --base names"):
        load_skeleton(Settings(base_model=str(tiny_base_dir)), "/models/SmolLM2-135M-Instruct", "http://127.0.0.1:1/v1")


def test_base_rows_and_adapter_rows_are_never_on_the_server_together():
    phases, inside, overlaps = Phases(), [], []

    def hold(phase: str) -> None:
        for _ in range(20):
            with phases.hold(phase):
                inside.append(phase)
                if len(set(inside)) > 1:
                    overlaps.append(list(inside))
                time.sleep(0.001)
                inside.remove(phase)

    threads = [threading.Thread(target=hold, args=(p,)) for p in ("base", "adapters", "base", "adapters")]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert overlaps == []


def test_a_server_that_is_down_gives_one_line_and_no_session():
    url = f"http://127.0.0.1:{free_port()}"
    started = time.perf_counter()
    with pytest.raises(BackendError) as error:
        Session.start(Settings(backend_url=url, cache_dir=CACHE))
    message = str(error.value)
    assert "is not reachable" in message and "ADAPTERS_UI_BACKEND_URL" in message and "\n" not in message
    assert time.perf_counter() - started < 30  # bounded retries, not a hang


class FlakyServer(LocalServer):
    """A real HTTP server that answers ``status`` for the first ``failures`` requests, then 200 ``{"data": []}``."""

    def __init__(self, failures: int, status: int):
        hits = self.hits = []

        class Handler(BaseHTTPRequestHandler):
            def do_GET(self):  # noqa: N802 - http.server's name
                hits.append(self.path)
                code = status if len(hits) <= failures else 200
                body = b'{"error": {"message": "warming up"}}' if code != 200 else b'{"data": []}'
                self.send_response(code)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)

            def log_message(self, *args):
                pass

        super().__init__(Handler)


@pytest.mark.parametrize("status, failures, retried", [(503, 2, True), (502, 1, True), (429, 3, True),
                                                       (500, 1, False), (400, 1, False), (401, 1, False)])
def test_transient_answers_are_retried_and_others_are_not(status, failures, retried):
    server = FlakyServer(failures, status)
    client = ServerClient(server.url, retries=3, backoff_s=0.01)
    try:
        if retried:
            assert client.get("/models") == {"data": []}
            assert len(server.hits) == failures + 1
        else:
            with pytest.raises(ServerAnswerError) as error:
                client.get("/models")
            assert error.value.status == status and len(server.hits) == 1 and "\n" not in str(error.value)
            assert "warming up" in str(error.value)
            if status == 401:
                assert "ADAPTERS_UI_BACKEND_API_KEY" in str(error.value)
    finally:
        client.close()
        server.close()


def test_a_server_that_does_not_answer_in_time_is_a_one_line_error():
    hang = threading.Event()

    class Silent(BaseHTTPRequestHandler):
        def do_GET(self):  # noqa: N802
            hang.wait(10)

        def log_message(self, *args):
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Silent)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    client = ServerClient(f"http://127.0.0.1:{server.server_address[1]}", timeout_s=0.5, retries=0)
    try:
        with pytest.raises(BackendError, match="did not answer /models within 0.5 s") as error:
            client.get("/models")
        assert "ADAPTERS_UI_BACKEND_TIMEOUT_S" in str(error.value)
    finally:
        hang.set()
        client.close()
        server.shutdown()
        server.server_close()


def test_retries_are_bounded():
    server = FlakyServer(failures=10, status=503)
    client = ServerClient(server.url, retries=2, backoff_s=0.01)
    try:
        with pytest.raises(BackendError, match="after 2 retries"):
            client.get("/models")
        assert len(server.hits) == 3
    finally:
        client.close()
        server.close()


# ---- against vLLM ------------------------------------------------------------------------------
def test_the_session_finds_the_served_base_and_adapters(remote, in_process, vllm_server):
    assert remote.backend.description == f"vLLM server at {vllm_server.url}"
    assert remote.base.source.name == EMBEDDED_NAME
    assert remote.base.info().device == "on the server"
    assert [a.name for a in remote.adapters()] == ["json_answer", "pirate"]  # bullets (DoRA) left out
    assert {a.route for a in remote.adapters()} == {SERVER}
    # The storage chart's numbers: the full model from the served config, the adapters from their files.
    local, served = in_process[0].storage().to_dict(), remote.storage().to_dict()
    assert served["full_model_bytes"] == local["full_model_bytes"] and served["full_model_params"] == local["full_model_params"]
    assert served["adapters"] == local["adapters"]


def test_greedy_outputs_equal_the_in_process_engine_token_for_token(remote, in_process, prompts):
    comparison = remote.compare(prompts, VARIANTS)
    session, expected = in_process
    tokenizer = session.base.tokenizer
    assert comparison.complete and comparison.routes == {v: SERVER for v in VARIANTS}
    for variant in VARIANTS:
        got = comparison.outputs(variant)
        assert [tokenizer.encode(t) for t in got] == [tokenizer.encode(t) for t in expected[variant]], variant
    assert expected["base"] != expected["pirate"] != expected["json_answer"]  # three different behaviours
    assert all(t.startswith("Arr") for t in comparison.outputs("pirate"))


def test_a_playground_chat_reply_equals_the_in_process_one(remote, in_process):
    messages = [{"role": "user", "content": "What should I pack for a day at the beach?"}]
    settings = remote.generation_settings(max_new_tokens=24)
    assert remote.chat(messages, "pirate", settings) == in_process[0].chat(messages, "pirate", settings)


def test_the_cli_compares_on_the_server(vllm_server, in_process, prompts, tmp_path, monkeypatch, capsys):
    monkeypatch.setenv("ADAPTERS_UI_CACHE_DIR", str(CACHE))
    out = tmp_path / "out.json"
    code = cli.main(["compare", "--backend-url", vllm_server.url, "--adapter", str(demo.DEMO_ADAPTERS / "pirate"),
                     "--prompt", prompts[0], "--prompt", prompts[1], "--max-new-tokens", str(TOKENS), "--json", str(out)])
    assert code == 0, capsys.readouterr().err
    assert f"backend: vLLM server at {vllm_server.url}" in capsys.readouterr().out
    results = json.loads(out.read_text())["results"]
    assert [r["outputs"]["pirate"] for r in results] == in_process[1]["pirate"][:2]
    assert [r["outputs"]["base"] for r in results] == in_process[1]["base"][:2]


def test_analysis_is_refused_in_one_line_and_the_weights_still_show(remote, prompts):
    comparison = remote.compare(prompts[:1], ["base", "pirate"], remote.generation_settings(max_new_tokens=8))
    with pytest.raises(BackendError, match="run the dashboard in process") as error:
        remote.analyze(comparison)
    assert "\n" not in str(error.value)
    effects = remote.weight_effects("pirate")  # from the adapter's own factors: no base weights needed
    assert effects.modules and all(m.norm > 0 and m.relative is None for m in effects.modules)


def test_sampling_settings_reach_the_server(remote, prompts):
    def sample(seed: int, temperature: float) -> str:
        settings = remote.generation_settings(max_new_tokens=24, do_sample=True, seed=seed, temperature=temperature)
        return remote.compare(prompts[:1], ["base"], settings).outputs("base")[0]

    greedy = remote.compare(prompts[:1], ["base"], remote.generation_settings(max_new_tokens=24)).outputs("base")[0]
    assert sample(3, 1.5) == sample(3, 1.5)  # the seed is passed through: repeatable
    assert {sample(seed, 1.5) for seed in (1, 2, 3)} != {greedy}  # the temperature too: not greedy


def test_an_adapter_the_server_no_longer_serves_is_a_one_line_error(remote, vllm_server, prompts):
    httpx.post(f"{vllm_server.url}/v1/unload_lora_adapter", json={"lora_name": "json_answer"}, timeout=30).raise_for_status()
    try:
        with pytest.raises(BackendError, match="no longer serves adapter 'json_answer'") as error:
            remote.compare(prompts[:1], ["base", "json_answer"])
        assert "\n" not in str(error.value)
    finally:
        httpx.post(f"{vllm_server.url}/v1/load_lora_adapter", timeout=60,
                   json={"lora_name": "json_answer", "lora_path": str(demo.DEMO_ADAPTERS / "json_answer")}).raise_for_status()
    assert remote.compare(prompts[:1], ["json_answer"], remote.generation_settings(max_new_tokens=8)).complete


def test_dora_is_refused_before_any_request(remote, vllm_server):
    before = served_ids(vllm_server.url)
    with pytest.raises(AdapterError) as error:
        remote.attach(demo.DEMO_ADAPTERS / "bullets")
    assert "DoRA, which vLLM does not yet support" in str(error.value) and "in-process backend" in str(error.value)
    assert served_ids(vllm_server.url) == before and "bullets" not in [a.name for a in remote.adapters()]


def test_attach_and_detach_load_and_unload_on_the_server(remote, in_process, vllm_server, prompts, tmp_path):
    folder = copy_adapter("pirate", tmp_path / "pirate_copy")
    remote.attach(folder)
    assert "pirate_copy" in served_ids(vllm_server.url)
    comparison = remote.compare(prompts[:2], ["pirate_copy"])
    assert comparison.outputs("pirate_copy") == in_process[1]["pirate"][:2]
    remote.detach("pirate_copy")
    assert "pirate_copy" not in served_ids(vllm_server.url)
    assert "pirate" in served_ids(vllm_server.url)  # the server's own adapters stay when detached here


def test_an_adapter_name_the_server_uses_for_other_weights_is_refused(remote, tmp_path):
    folder = copy_adapter("json_answer", tmp_path / "elsewhere" / "json_answer")
    with pytest.raises(AdapterError, match="already serves an adapter named 'json_answer'"):
        remote.backend.attach(read_adapter(folder))


def test_the_servers_own_adapters_are_variants_without_attaching_anything(vllm_server, in_process, prompts):
    """Started with --lora-modules pirate=... json_answer=...: the session lists them as variants (sizes and types from
    their files, which this machine can read), runs them as in process, and a detached one can be attached again."""
    session = Session.start(Settings(cache_dir=CACHE, max_new_tokens=TOKENS, backend_url=vllm_server.url, demo=False))
    assert session.variants == ["base", "json_answer", "pirate"]
    assert all(info.on_server and info.files_here for info in session.adapters())
    local = {info.name: info for info in in_process[0].adapters()}
    for info in session.adapters():
        mine = local[info.name]
        assert (info.method, info.rank, info.params, info.bytes_on_disk, info.sha256) == \
            (mine.method, mine.rank, mine.params, mine.bytes_on_disk, mine.sha256)
    assert session.storage().to_dict()["adapters"] == in_process[0].storage().to_dict()["adapters"]
    comparison = session.compare(prompts, VARIANTS)
    assert {v: comparison.outputs(v) for v in VARIANTS} == in_process[1]
    session.detach("pirate")
    assert "pirate" in served_ids(vllm_server.url)  # the server's own stays there
    assert [a.name for a in session.server_adapters()] == ["pirate"]
    session.adopt("pirate")
    assert session.compare(prompts[:1], ["pirate"]).outputs("pirate") == in_process[1]["pirate"][:1]
    with pytest.raises(AdapterError, match="serves no adapter 'nobody'"):
        session.adopt("nobody")


def test_the_cli_lists_and_compares_the_servers_own_adapters(vllm_server, in_process, prompts, tmp_path, monkeypatch,
                                                             capsys):
    monkeypatch.setenv("ADAPTERS_UI_CACHE_DIR", str(CACHE))
    monkeypatch.setenv("ADAPTERS_UI_DEMO", "0")  # nothing attached from this machine: only the server's own
    assert cli.main(["variants", "--backend-url", vllm_server.url]) == 0
    listed = capsys.readouterr().out
    rows = {line.split()[0]: line for line in listed.splitlines()[2:]}
    assert list(rows) == ["base", "json_answer", "pirate"], listed
    for name in ("json_answer", "pirate"):  # type and size from the files, which this machine can read
        info = in_process[0].registry.get(name)
        assert f"{info.method} " in rows[name] and format_bytes(info.bytes_on_disk) in rows[name], listed
    out = tmp_path / "out.json"
    code = cli.main(["compare", "--backend-url", vllm_server.url, "--variants", "pirate", "--prompt", prompts[0],
                     "--prompt", prompts[1], "--max-new-tokens", str(TOKENS), "--json", str(out)])
    assert code == 0, capsys.readouterr().err
    data = json.loads(out.read_text())
    assert data["variants"] == ["pirate"]
    assert [r["outputs"]["pirate"] for r in data["results"]] == in_process[1]["pirate"][:2]
    code = cli.main(["compare", "--backend-url", vllm_server.url, "--variants", "base,nobody", "--prompt", "Hi"])
    assert code == 1 and "Unknown variant 'nobody': choose from base, json_answer, pirate" in capsys.readouterr().err


def test_a_server_adapter_whose_folder_is_not_readable_here_shows_on_the_server(vllm_server, in_process, prompts,
                                                                                 tmp_path):
    """The team's adapter lives on the GPU host's disk: this machine cannot read the path the server reports. It is
    still a variant (its outputs are the server's), its size reads "on the server" in the table and the chart."""
    from adapters_ui.ui.app import Handlers

    folder = copy_adapter("pirate", tmp_path / "far" / "far_pirate")
    httpx.post(f"{vllm_server.url}/v1/load_lora_adapter", json={"lora_name": "far_pirate", "lora_path": folder},
               timeout=60).raise_for_status()
    try:
        shutil.move(folder, tmp_path / "kept")  # gone from the path the server reports
        settings = Settings(cache_dir=CACHE, max_new_tokens=TOKENS, backend_url=vllm_server.url, demo=False)
        holder = SessionHolder(settings)
        session = holder.get()
        info = session.registry.get("far_pirate")
        assert info.on_server and not info.files_here and info.bytes_on_disk is None and info.method == "LoRA"
        assert session.storage().to_dict()["adapters"]["far_pirate"]["bytes"] is None
        header, _notice, table, *_rest, storage_chart, scaling_chart, _version, _descriptions = Handlers.on(holder).page.refresh()
        row = table.set_index("name").loc["far_pirate"]
        assert row["size"] == "on the server" and row["x smaller"] == ""
        assert table.set_index("name").loc["pirate"]["size"] == format_bytes(in_process[0].registry.get("pirate").bytes_on_disk)
        chart = storage_chart.to_plotly_json()
        labels = dict(zip(chart["data"][0]["y"], chart["data"][0]["text"]))
        assert labels["far_pirate"].startswith("on the server") and "size unknown here" in chart["layout"]["title"]["text"]
        assert "adapters:** 3" in header
        with pytest.raises(AdapterError, match="is on the server, whose folder .* this machine cannot read"):
            session.weight_effects("far_pirate")
        shutil.move(tmp_path / "kept", folder)  # vLLM keeps two adapters in memory: it may read the files again
        comparison = session.compare(prompts[:2], ["base", "far_pirate"])
        assert comparison.outputs("far_pirate") == in_process[1]["pirate"][:2]
        assert comparison.outputs("base") == in_process[1]["base"][:2]
    finally:
        httpx.post(f"{vllm_server.url}/v1/unload_lora_adapter", json={"lora_name": "far_pirate"}, timeout=60)


def test_stop_cancels_the_requests_in_flight(remote, vllm_server, prompts):
    run = remote.start_compare(prompts[:2], ["base", "pirate"], remote.generation_settings(max_new_tokens=400))
    for event in run.events(heartbeat=1):
        if isinstance(event, Partial) and any(len(t) > 20 for t in event.texts.values()):
            break
    run.stop()
    comparison = run.result(timeout=60)
    assert comparison.status == STOPPED
    assert any(r.cut_off for r in comparison.results)
    deadline = time.monotonic() + 15
    while time.monotonic() < deadline and running_requests(vllm_server.url) > 0:
        time.sleep(0.5)
    assert running_requests(vllm_server.url) == 0, "vLLM must abort the stopped requests"


def running_requests(url: str) -> float:
    """vLLM's own gauge of requests being generated (its Prometheus /metrics)."""
    for line in httpx.get(f"{url}/metrics", timeout=10).text.splitlines():
        if line.startswith("vllm:num_requests_running"):
            return float(line.rsplit(" ", 1)[1])
    raise AssertionError("vLLM's /metrics has no vllm:num_requests_running")


@pytest.mark.browser
def test_the_browser_grid_and_the_api_show_the_same_outputs(vllm_server, in_process, prompts, browser, tmp_path):
    if not CHROMIUM.exists():
        pytest.skip("no Chromium")
    from gradio_client import Client

    app = AppServer(tmp_path / "app.log", ADAPTERS_UI_BACKEND_URL=vllm_server.url, ADAPTERS_UI_MAX_NEW_TOKENS=str(TOKENS))
    url = app.start()
    try:
        page = browser.new_context(viewport={"width": 1440, "height": 1000}).new_page()
        page.goto(url)
        wait_text(page, "#header", "adapters: 2", LOAD_S)
        assert f"backend: vLLM server at {vllm_server.url}" in page.inner_text("#header")
        wait_text(page, "#variants", "pirate")
        assert "the token analysis runs only in process" in page.inner_text("#analysis-box")
        assert page.locator("#variants").get_by_label("pirate", exact=True).is_checked()
        page.fill("#prompts textarea", "\n".join(prompts))
        page.click("#run")
        wait_text(page, "#compare-notice", "Done:", RUN_S)
        rows = page.eval_on_selector_all("#grid tr[data-row]", "rows => rows.map(r => [...r.cells].map(c => c.innerText))")
        headers = page.eval_on_selector_all("#grid th", "cells => cells.map(c => c.innerText)")
        expected = in_process[1]
        assert headers == ["prompt", "base", "json_answer", "pirate"]
        assert rows == [[p, expected["base"][i], expected["json_answer"][i], expected["pirate"][i]] for i, p in enumerate(prompts)]
        page.wait_for_selector("#storage-chart .js-plotly-plot .main-svg")
        assert "x smaller" in page.inner_text("#storage-chart")
        page.screenshot(path=str(tmp_path / "vllm.png"), full_page=True)

        records = Client(url, verbose=False).predict("\n".join(prompts[:3]), ["base", "pirate"], TOKENS, api_name="/compare")
        assert [[r["outputs"]["base"], r["outputs"]["pirate"]] for r in records] == \
            [[expected["base"][i], expected["pirate"][i]] for i in range(3)]
    finally:
        app.stop()


def test_a_server_restart_is_survived(remote, in_process, vllm_server, prompts, tmp_path):
    """Down: a one-line error and the session stays usable. Back (without the adapter loaded here at run
    time): the next comparison works, and that adapter is loaded again on its own."""
    remote.attach(copy_adapter("pirate", tmp_path / "pirate_again"))
    vllm_server.stop()
    with pytest.raises(BackendError, match="is not reachable"):
        remote.compare(prompts[:1], ["base"])
    vllm_server.start()
    comparison = remote.compare(prompts[:2], ["base", "pirate", "pirate_again"])
    expected = in_process[1]
    assert comparison.outputs("base") == expected["base"][:2]
    assert comparison.outputs("pirate_again") == comparison.outputs("pirate") == expected["pirate"][:2]
    assert "pirate_again" in served_ids(vllm_server.url)


def test_a_server_without_runtime_loading_says_so_and_lists_its_adapters(remote, vllm_server, tmp_path):
    """Restarted without VLLM_ALLOW_RUNTIME_LORA_UPDATING: attaching a new adapter is one line naming
    what the server has; the adapters it serves still attach (and run)."""
    vllm_server.stop()
    vllm_server.runtime_loading = False
    try:
        vllm_server.start()
        session = Session.start(Settings(cache_dir=CACHE, max_new_tokens=8, backend_url=vllm_server.url, demo=False))
        with pytest.raises(AdapterError) as error:
            session.attach(copy_adapter("pirate", tmp_path / "pirate_new"))
        message = str(error.value)
        assert "does not load adapters at run time" in message and "VLLM_ALLOW_RUNTIME_LORA_UPDATING=True" in message
        assert "pirate, json_answer" in message and "\n" not in message
        session.attach(demo.DEMO_ADAPTERS / "pirate")
        assert session.compare(["Hi!"], ["pirate"]).complete
    finally:
        vllm_server.runtime_loading = True


def test_an_evaluation_job_on_the_server_equals_the_in_process_one(remote, in_process, prompts, tmp_path):
    """The same stored job on vLLM (each batch's rows in flight together) and in process: equal greedy outputs,
    scored alike; the reference perplexity needs a read-back only the in-process engine has."""
    from adapters_ui.store import Database
    from adapters_ui.store.evaluations import iter_outputs

    rows = [{"id": f"p{i}", "prompt": p, "reference": "Arr", "checks": [{"type": "icontains", "value": "arr"}]}
            for i, p in enumerate(prompts[:6])]
    path = write_jsonl(tmp_path / "set.jsonl", rows)
    db = Database.open(f"sqlite:///{tmp_path / 'store.db'}")
    outputs = {}
    for name, session in (("server", remote), ("local", in_process[0])):
        job, ref = session.start_evaluation(db, path, VARIANTS, settings=session.generation_settings(max_new_tokens=TOKENS),
                                            batch_items=3)
        assert job.wait(300) and job.progress().status == "finished", job.progress().line()
        outputs[name] = {(r["position"], r["variant"]): r for r in iter_outputs(db, ref.id)}
    tokenizer = in_process[0].base.tokenizer
    assert len(outputs["server"]) == len(outputs["local"]) == 6 * len(VARIANTS)
    for key, local in outputs["local"].items():
        served = outputs["server"][key]
        assert tokenizer.encode(served["output"]) == tokenizer.encode(local["output"]), key
        assert served["checks"] == local["checks"]
        assert served["scores"]["reference_perplexity"] is None and local["scores"]["reference_perplexity"] > 1
    assert all(outputs["server"][(i, "pirate")]["scores"]["checks"] == 1.0 for i in range(6))
    db.close()


def test_the_served_smollm2_judges_pairs_both_ways_in_the_schema(vllm_server):
    """A real judge on the project's vLLM server: weak, but every path is real. The server serves the base and
    its adapters, so the judge model must be picked; it takes ``response_format``, so every reply is the schema's
    JSON and none is unparseable; the raw replies and token counts are kept."""
    from adapters_ui.analysis.judge_agreement import swap_stats
    from adapters_ui.errors import JudgeError
    from adapters_ui.judging.client import JudgeClient
    from adapters_ui.judging.pairwise import PairQuestion, judge_pairs

    served = httpx.get(f"{vllm_server.url}/v1/models", timeout=30).json()["data"]
    base = next(m["id"] for m in served if not m.get("parent"))
    with pytest.raises(JudgeError, match=f"serves {len(served)} models"):
        JudgeClient(vllm_server.url)
    judge = JudgeClient(vllm_server.url, model=base, max_tokens=256, concurrency=4)
    pairs = [PairQuestion("What is the capital of France?", "Paris.", "I do not know."),
             PairQuestion("What is 2 + 2?", "5", "4", reference="4")]
    verdicts = judge_pairs(judge, pairs)
    assert judge.structured and judge.requests == 4
    for verdict in verdicts:
        for reply in verdict.replies:
            assert reply.structured and reply.completion_tokens > 0 and reply.prompt_tokens > 100
            assert json.loads(reply.text)["verdict"] in ("A", "B", "C")
        assert "unparseable" not in (verdict.left_first, verdict.right_first)
    stats = swap_stats([(v.left_first, v.right_first) for v in verdicts])
    print(f"\nSmolLM2 as judge on vLLM: {stats}")
    judge.close()
