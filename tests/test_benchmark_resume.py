"""Kill a benchmark with SIGKILL mid-job, resume it, and get lm-eval's numbers of an uninterrupted run: on the tiny
random Llama, through the real CLI in a subprocess (``bench``, then ``evaluate --resume ID``), on SQLite.

What a kill may cost is the variant in progress, nothing else: a variant's outputs and lm-eval's numbers are
written in one transaction, the benchmark stays "running", and the resume scores only the variants not stored.
"""

from __future__ import annotations

import os
import re
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
from helpers import end_killed_run
from test_evaluation_resume import cli_env

from adapters_ui.bench.run import run_benchmark
from adapters_ui.bench.tasks import SHIPPED_TASKS
from adapters_ui.store import Database
from adapters_ui.store.benchmarks import finished_variants, variant_numbers
from adapters_ui.store.evaluations import FINISHED, RUNNING, count_outputs, load_evaluation

ROOT = Path(__file__).resolve().parents[1]
VARIANTS = ("base", "lora", "ia3")
LIMIT = 8
START_S = 180  # load the model, read the tasks and store the benchmark
RUN_S = 300


def bench_argv(model: dict, url: str) -> list[str]:
    return [sys.executable, "-m", "adapters_ui", "bench", "--tasks", ",".join(SHIPPED_TASKS), "--limit", str(LIMIT),
            "--variants", ",".join(VARIANTS), *_model_flags(model), "--database", url]


def resume_argv(model: dict, url: str, benchmark_id: str) -> list[str]:
    return [sys.executable, "-m", "adapters_ui", "evaluate", "--resume", benchmark_id, *_model_flags(model),
            "--database", url]


def _model_flags(model: dict) -> list[str]:
    return ["--base", str(model["base"]), "--adapter", f"lora={model['lora']}", "--adapter", f"ia3={model['ia3']}"]


@pytest.fixture(scope="module")
def model(tiny_base_dir, tiny_adapters, tmp_path_factory) -> dict:
    return {"base": tiny_base_dir, "lora": tiny_adapters["lora"], "ia3": tiny_adapters["ia3"],
            "cache": tmp_path_factory.mktemp("bench-resume") / "cache"}


@pytest.fixture(scope="module")
def uninterrupted(model, tmp_path_factory):
    """lm-eval's numbers of a run nobody interrupts (in process, no database)."""
    from adapters_ui.config import Settings
    from adapters_ui.session import Session

    session = Session.start(Settings(base_model=str(model["base"]), cache_dir=tmp_path_factory.mktemp("plain")))
    for name in VARIANTS[1:]:
        session.attach(model[name], name)
    return run_benchmark(session.backend, session.turns, list(SHIPPED_TASKS), list(VARIANTS), limit=LIMIT)


def test_a_killed_benchmark_resumes_with_the_variants_it_lacks(model, uninterrupted, tmp_path):
    url = f"sqlite:///{tmp_path / 'bench.db'}"
    log = tmp_path / "killed.log"
    started = time.perf_counter()
    with log.open("w") as stderr:
        process = subprocess.Popen(bench_argv(model, url), cwd=ROOT, env=cli_env(model["cache"]),
                                   stdout=subprocess.DEVNULL, stderr=stderr)
    db = None
    try:
        benchmark_id = None
        while benchmark_id is None:
            assert process.poll() is None, f"the CLI ended before its benchmark was stored:\n{log.read_text()[-3000:]}"
            assert time.perf_counter() - started < START_S, "the CLI did not store its benchmark in time"
            found = re.search(r"^benchmark: (\S+)$", log.read_text(), re.M)
            benchmark_id = found and found.group(1)
            time.sleep(0.05)
        db = Database.open(url)
        while not finished_variants(db, benchmark_id):
            assert process.poll() is None, f"the CLI ended before a variant was stored:\n{log.read_text()[-3000:]}"
            assert time.perf_counter() - started < START_S + RUN_S, "no variant was stored in time"
            time.sleep(0.01)
        os.kill(process.pid, signal.SIGKILL)
        process.wait()
        kept = finished_variants(db, benchmark_id)
        assert 1 <= len(kept) < len(VARIANTS), f"the kill came too late to test anything: {kept}"
        assert count_outputs(db, benchmark_id) == len(kept) * 3 * LIMIT  # whole variants only
        assert load_evaluation(db, benchmark_id).status == RUNNING

        done = subprocess.run(resume_argv(model, url, benchmark_id), cwd=ROOT, env=cli_env(model["cache"]),
                              capture_output=True, text=True, timeout=START_S + RUN_S)
        assert done.returncode == 0, done.stderr[-3000:]
        assert load_evaluation(db, benchmark_id).status == FINISHED
        assert count_outputs(db, benchmark_id) == len(VARIANTS) * 3 * LIMIT
        numbers = variant_numbers(db, benchmark_id)
        for variant in VARIANTS:
            for task in SHIPPED_TASKS:
                for key, value in uninterrupted.results[variant][task].items():
                    if isinstance(value, float):
                        assert numbers[variant].results[task][key] == pytest.approx(value, rel=1e-5), (variant, task, key)
        assert "acc (adapters_ui_arith_mc)" in done.stdout  # the resume prints the per-task verdicts
    finally:
        end_killed_run(process, db)
