"""Kill an evaluation job with SIGKILL mid-job, resume it, and get exactly the outputs of an uninterrupted run:
on the real (tiny, random) model, through the real CLI in a subprocess, on SQLite and PostgreSQL.

What a kill may cost is the batch in progress, nothing else: the store holds whole batches only (one
transaction each), the job stays "running", and a resume (``evaluate --resume ID``, or the app at start:
``Session.resume_unfinished``) fills in the missing batches, each once. Greedy decoding with fixed batches
makes every output equal to the uninterrupted run's. The job logic on the fake backend (cancel, resume,
errors) is tests/test_evaluation_job.py.

The subprocesses run torch on one thread (OMP_NUM_THREADS=1), and the in-process resume too: on a busy
machine with few cores the default thread pool spins against other processes and makes the tiny model
20 times slower (a 3 s job took 40 s); outputs are the same either way.
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
from helpers import end_killed_run, write_jsonl

from adapters_ui.store import Database
from adapters_ui.store.evaluations import (
    FINISHED,
    RUNNING,
    completed,
    count_outputs,
    iter_outputs,
    load_evaluation,
)

ROOT = Path(__file__).resolve().parents[1]
ITEMS = 60
BATCH_ITEMS = 2
VARIANTS = ("base", "lora")
MAX_NEW_TOKENS = 64
ROWS_PER_BATCH = BATCH_ITEMS * len(VARIANTS)
TOTAL = ITEMS * len(VARIANTS)
START_S = 120  # time for a subprocess to load the model and store the job
RUN_S = 180


def write_set(path: Path) -> Path:
    """ITEMS items, half with a reference (its perplexity is read back through each variant), all with checks."""
    rows = [{"id": f"q{i:03d}", "prompt": f"Question {i}: what comes next?", "category": ("even", "odd")[i % 2],
             "reference": f"answer {i}" if i % 2 else None, "checks": [{"type": "contains", "value": "a"}]}
            for i in range(ITEMS)]
    return write_jsonl(path, rows)


def cli_env(cache: Path) -> dict:
    """The environment of a CLI subprocess: offline, a cache of its own, none of the user's ADAPTERS_UI_*."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("ADAPTERS_UI_")}
    env.update(HF_HUB_OFFLINE="1", ADAPTERS_UI_CACHE_DIR=str(cache), OMP_NUM_THREADS="1", PYTHONUNBUFFERED="1")
    return env


def evaluate_argv(model: dict, database_url: str, *args: str) -> list[str]:
    return [sys.executable, "-m", "adapters_ui", "evaluate", *args, "--base", str(model["base"]),
            "--adapter", f"lora={model['lora']}", "--database", database_url]


def new_job_argv(model: dict, database_url: str) -> list[str]:
    return evaluate_argv(model, database_url, str(model["set"]), "--variants", ",".join(VARIANTS),
                         "--batch-items", str(BATCH_ITEMS), "--max-new-tokens", str(MAX_NEW_TOKENS))


def stored_outputs(database_url: str, evaluation_id: str) -> dict[tuple[int, str, int], dict]:
    db = Database.open(database_url)
    try:
        return {(r["position"], r["variant"], r["sample"]): r for r in iter_outputs(db, evaluation_id)}
    finally:
        db.close()


def printed_id(text: str) -> str | None:
    found = re.search(r"^evaluation: (\S+)$", text, re.M)
    return found.group(1) if found else None


@pytest.fixture(scope="module")
def model(tiny_base_dir, tiny_adapters, tmp_path_factory) -> dict:
    root = tmp_path_factory.mktemp("resume")
    return {"base": tiny_base_dir, "lora": tiny_adapters["lora"], "set": write_set(root / "set.jsonl"),
            "cache": root / "cache"}


@pytest.fixture(scope="module")
def uninterrupted(model, tmp_path_factory) -> dict[tuple[int, str, int], dict]:
    """The outputs of one run nobody interrupts (the CLI, a SQLite file of its own): what every resumed run must equal."""
    url = f"sqlite:///{tmp_path_factory.mktemp('uninterrupted') / 'reference.db'}"
    done = subprocess.run(new_job_argv(model, url), cwd=ROOT, env=cli_env(model["cache"]), capture_output=True,
                          text=True, timeout=START_S + RUN_S)
    assert done.returncode == 0, done.stderr[-3000:]
    outputs = stored_outputs(url, printed_id(done.stderr))
    assert len(outputs) == TOTAL
    return outputs


@pytest.fixture
def one_torch_thread():
    """The in-process model on one thread, as in the subprocesses (see the module docstring); restored after."""
    import torch

    before = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(before)


def start_and_kill(model: dict, database_url: str, tmp_path: Path) -> tuple[str, dict]:
    """Start a new job in a CLI subprocess, SIGKILL it once at least one batch is committed (and not all), and
    return its id and the rows the kill left. Checks that those are whole batches, in order, and that the job
    is still 'running' (nobody was left to say otherwise)."""
    log = tmp_path / "killed.log"
    started = time.perf_counter()
    with log.open("w") as stderr:
        process = subprocess.Popen(new_job_argv(model, database_url), cwd=ROOT, env=cli_env(model["cache"]),
                                   stdout=subprocess.DEVNULL, stderr=stderr)
    db = None
    try:
        evaluation_id = None
        while evaluation_id is None:  # the id is printed once the job is stored
            assert process.poll() is None, f"the CLI ended before its job was stored:\n{log.read_text()[-3000:]}"
            assert time.perf_counter() - started < START_S, "the CLI did not store its job in time"
            evaluation_id = printed_id(log.read_text())
            time.sleep(0.05)
        db = Database.open(database_url)
        stored_at = time.perf_counter()
        while (seen := count_outputs(db, evaluation_id)) < ROWS_PER_BATCH:
            assert process.poll() is None, f"the CLI ended before a batch was committed:\n{log.read_text()[-3000:]}"
            assert time.perf_counter() - stored_at < RUN_S, "no batch was committed in time"
            time.sleep(0.01)
        os.kill(process.pid, signal.SIGKILL)
        killed_at = time.perf_counter()
        assert process.wait(30) == -signal.SIGKILL
        left = count_outputs(db, evaluation_id)
        print(f"\nkilled {killed_at - stored_at:.2f} s after the job was stored ({killed_at - started:.1f} s after "
              f"the start) at {seen} of {TOTAL} outputs seen; {left} stored after the kill")
        assert ROWS_PER_BATCH <= left < TOTAL, "the kill did not land mid-job: make the set bigger"
        assert left % ROWS_PER_BATCH == 0, f"{left} outputs is not a whole number of {ROWS_PER_BATCH}-output batches"
        positions = {position for position, _ in completed(db, evaluation_id, len(VARIANTS))}
        assert positions == set(range(left // len(VARIANTS))), "the stored batches are not the first ones, whole"
        assert load_evaluation(db, evaluation_id).status == RUNNING
    finally:
        end_killed_run(process, db)
    return evaluation_id, stored_outputs(database_url, evaluation_id)


def assert_complete_and_equal(database_url: str, evaluation_id: str, before_kill: dict, uninterrupted: dict) -> None:
    """Exactly one output per (item, variant, sample), each equal to the uninterrupted run's; the rows committed
    before the kill kept as they were (their latency too: not generated again)."""
    db = Database.open(database_url)
    try:
        assert load_evaluation(db, evaluation_id).status == FINISHED
        assert count_outputs(db, evaluation_id) == TOTAL
    finally:
        db.close()
    outputs = stored_outputs(database_url, evaluation_id)
    expected_keys = {(position, variant, 0) for position in range(ITEMS) for variant in VARIANTS}
    assert set(outputs) == expected_keys  # no item, variant or sample missing, none extra
    for key, row in outputs.items():
        reference = uninterrupted[key]
        assert row["output"] == reference["output"], key
        assert row["checks"] == reference["checks"], key
        scores = {k: v for k, v in row["scores"].items() if k != "latency_s"}
        assert scores == pytest.approx({k: v for k, v in reference["scores"].items() if k != "latency_s"}), key
    for key, row in before_kill.items():
        assert outputs[key] == row, key


def test_a_killed_job_resumed_from_the_cli_equals_an_uninterrupted_run(model, uninterrupted, database_url, tmp_path):
    evaluation_id, before_kill = start_and_kill(model, database_url, tmp_path)
    resumed = subprocess.run(evaluate_argv(model, database_url, "--resume", evaluation_id), cwd=ROOT,
                             env=cli_env(model["cache"]), capture_output=True, text=True, timeout=START_S + RUN_S)
    assert resumed.returncode == 0, resumed.stderr[-3000:]
    assert "verdicts against base" in resumed.stdout
    assert_complete_and_equal(database_url, evaluation_id, before_kill, uninterrupted)


def test_the_app_start_resumes_a_killed_job(model, uninterrupted, database_url, tmp_path, one_torch_thread):
    from adapters_ui.config import Settings
    from adapters_ui.session import Session

    evaluation_id, before_kill = start_and_kill(model, database_url, tmp_path)
    session = Session.start(Settings(base_model=str(model["base"]), cache_dir=tmp_path / "cache"))
    session.attach(model["lora"], "lora")
    db = Database.open(database_url)
    try:
        jobs = session.resume_unfinished(db)
        assert [job.id for job in jobs] == [evaluation_id]
        assert jobs[0].wait(RUN_S)
        assert jobs[0].progress().status == FINISHED and jobs[0].progress().done == TOTAL
        assert session.resume_unfinished(db) == []  # nothing left to resume at the next start
    finally:
        db.close()
    assert_complete_and_equal(database_url, evaluation_id, before_kill, uninterrupted)
