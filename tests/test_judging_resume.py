"""Kill a judging with SIGKILL mid-job, resume it, and get exactly the results of an uninterrupted run: through the
real CLI in a subprocess, against a real HTTP server that plays a slow judge (tests/test_judging.py), on SQLite.

What a kill may cost is the batch in flight, nothing else: the store holds whole batches only (each batch's
results and the replies they used in one transaction), the judging stays "running", and `judge --resume ID`
asks only for the missing units. The server counts the requests: no reply of a committed batch is asked again.
Like tests/test_evaluation_resume.py for evaluations; the outputs judged come from the fake backend (no model).
"""

from __future__ import annotations

import json
import os
import re
import signal
import sqlite3
import subprocess
import sys
import time
from collections import Counter
from pathlib import Path

import pytest
from helpers import end_killed_run
from test_evaluation_job import write_set
from test_judging import ScriptedJudge
from test_judging_job import likes_lora

from adapters_ui.cli.main import main
from adapters_ui.runs.judging import BATCH_UNITS
from adapters_ui.runs.judging_document import judging_document
from adapters_ui.runs.judging_units import evaluation_units
from adapters_ui.store import Database
from adapters_ui.store.judgements import FINISHED, RUNNING, done_units, iter_results, load_judging, reply_key

ROOT = Path(__file__).resolve().parents[1]
ITEMS = 40  # 40 (base, lora) pairs: 5 batches of BATCH_UNITS, 80 requests
REPLY_S = 0.05  # the judge's time per request: 4 in flight, about 0.2 s a batch, 1 s a job
START_S = 60  # time for the subprocess to store its judging
RUN_S = 60


def slow_judge(body):
    time.sleep(REPLY_S)
    return likes_lora(body)


@pytest.fixture
def evaluation(fake_session, fake_adapters, db, tmp_path) -> str:
    """A finished evaluation of base and lora on ITEMS items (the fake backend: "lora says ..." outputs)."""
    fake_session.attach(fake_adapters["lora"], "lora")
    job, ref = fake_session.start_evaluation(db, write_set(tmp_path / "set.jsonl", count=ITEMS), ["base", "lora"])
    assert job.wait(30) and job.progress().status == "finished"
    return ref.id


@pytest.fixture
def servers():
    started = []

    def start(script):
        server = ScriptedJudge(script)
        started.append(server)
        return server

    yield start
    for server in started:
        server.close()


def cli_env(tmp_path: Path) -> dict:
    """The environment of a CLI subprocess: a cache of its own, none of the user's ADAPTERS_UI_*."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("ADAPTERS_UI_")}
    env.update(HF_HUB_OFFLINE="1", ADAPTERS_UI_CACHE_DIR=str(tmp_path / "cache"), PYTHONUNBUFFERED="1")
    return env


def copy_sqlite(db: Database, path: Path) -> str:
    """A consistent copy of the SQLite store (WAL included), as it is now: the uninterrupted run's own database."""
    source, target = sqlite3.connect(db.engine.url.database), sqlite3.connect(path)
    with target:
        source.backup(target)
    source.close()
    target.close()
    return f"sqlite:///{path}"


def results(database_url: str, judging_id: str) -> list[dict]:
    db = Database.open(database_url)
    try:
        return judging_document(db, judging_id)["results"]
    finally:
        db.close()


def start_and_kill(database_url: str, evaluation_id: str, judge_url: str, tmp_path: Path) -> str:
    """`judge EVALUATION_ID` in a subprocess, SIGKILLed once at least one batch is committed (and not all); returns
    the judging's id. Checks the kill left whole batches, the first ones, and the judging still 'running'."""
    log = tmp_path / "killed.log"
    argv = [sys.executable, "-m", "adapters_ui", "judge", evaluation_id, "--judge-url", judge_url,
            "--database", database_url]
    started = time.perf_counter()
    with log.open("w") as stderr:
        process = subprocess.Popen(argv, cwd=ROOT, env=cli_env(tmp_path), stdout=subprocess.DEVNULL, stderr=stderr)
    db = None
    try:
        judging_id = None
        while judging_id is None:  # the id is printed once the judging is stored
            assert process.poll() is None, f"the CLI ended before its judging was stored:\n{log.read_text()[-3000:]}"
            assert time.perf_counter() - started < START_S, "the CLI did not store its judging in time"
            found = re.search(r"^judging: (\S+) ", log.read_text(), re.M)
            judging_id = found.group(1) if found else None
            time.sleep(0.01)
        db = Database.open(database_url)
        stored_at = time.perf_counter()
        while not done_units(db, judging_id):
            assert process.poll() is None, f"the CLI ended before a batch was committed:\n{log.read_text()[-3000:]}"
            assert time.perf_counter() - stored_at < RUN_S, "no batch was committed in time"
            time.sleep(0.01)
        os.kill(process.pid, signal.SIGKILL)
        assert process.wait(30) == -signal.SIGKILL
        left = done_units(db, judging_id)
        assert BATCH_UNITS <= len(left) < ITEMS, "the kill did not land mid-job: make the judge slower"
        assert len(left) % BATCH_UNITS == 0, f"{len(left)} units is not a whole number of {BATCH_UNITS}-unit batches"
        first = {u.name for u in evaluation_units(db, evaluation_id, "pairwise")[: len(left)]}
        assert left == first, "the stored batches are not the first ones, whole"
        assert load_judging(db, judging_id).status == RUNNING
    finally:
        end_killed_run(process, db)
    return judging_id


def test_a_killed_judging_resumed_from_the_cli_equals_an_uninterrupted_run(evaluation, db, servers, tmp_path, capsys):
    database_url = str(db.engine.url)
    reference_url = copy_sqlite(db, tmp_path / "reference.db")
    slow = servers(slow_judge)

    judging_id = start_and_kill(database_url, evaluation, slow.url, tmp_path)
    committed = {key for r in iter_results(db, judging_id) for key in (r.left_first_key, r.right_first_key)}
    asked_before_kill = len(slow.bodies)

    assert main(["judge", "--resume", judging_id, "--database", database_url]) == 0
    assert f"{ITEMS} of {ITEMS} pairs" in capsys.readouterr().out
    assert load_judging(db, judging_id).status == FINISHED and len(done_units(db, judging_id)) == ITEMS

    reference = servers(likes_lora)  # the same judge, quick, on a copy of the store made before any judging
    out = tmp_path / "reference.json"
    assert main(["judge", evaluation, "--judge-url", reference.url, "--database", reference_url, "--json", str(out)]) == 0
    expected = json.loads(out.read_text())
    assert results(database_url, judging_id) == expected["results"] and len(expected["results"]) == ITEMS

    template_hash = load_judging(db, judging_id).template["hash"]
    asked = Counter(reply_key("judge-7b", template_hash, b["messages"], {"max_tokens": b["max_tokens"]})
                    for b in slow.bodies)
    final = {key for r in expected["results"] for key in (r["left_first_key"], r["right_first_key"])}
    assert set(asked) == final and len(final) == 2 * ITEMS  # every question asked, none but the judging's own
    assert all(asked[key] == 1 for key in committed)  # no reply of a committed batch asked again
    assert len(slow.bodies) - asked_before_kill == 2 * ITEMS - len(committed)  # the resume asked only what was missing
    assert sum(asked.values()) - len(final) <= 2 * BATCH_UNITS  # at most the batch in flight at the kill, asked again
