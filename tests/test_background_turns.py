"""Background work (an evaluation job) and visitors share the model: a visitor waits for at most one step
of the job, then keeps the model until its own run ends. On the fake backend (no model): milliseconds.
That the job's greedy outputs are what plain runs write is proven in tests/test_evaluation_resume.py and the
evaluation benchmark; here only the order of the model's steps is checked (no clock)."""

from __future__ import annotations

import threading
import time

import pytest
from helpers import write_jsonl

from adapters_ui.model.turns import TurnQueue
from adapters_ui.runs import run as runs
from adapters_ui.store import Database
from adapters_ui.store.evaluations import FINISHED

JOB, VISITOR = "step:base,lora", "step:lora"  # the fake backend's note for a step of each one's batch


class Gate(threading.Event):
    """An event that notes when somebody first waits on it (the held step is in flight)."""

    def __init__(self) -> None:
        super().__init__()
        self.entered = threading.Event()

    def wait(self, timeout: float | None = None) -> bool:
        self.entered.set()
        return super().wait(timeout)


def until(condition, timeout: float = 5.0) -> None:
    deadline = time.monotonic() + timeout
    while not condition():
        assert time.monotonic() < deadline, "timed out"
        time.sleep(0.001)


def test_a_visitor_goes_before_background_work_that_queued_first():
    turns = TurnQueue()
    order, positions = [], {}
    release = threading.Event()

    def waiter(name: str, background: bool) -> None:
        with turns.turn(on_wait=lambda p: positions.setdefault(name, []).append(p), background=background):
            order.append(name)

    with turns.turn():
        threads = []
        for arrived, (name, background) in enumerate([("job", True), ("other job", True), ("visitor", False)], 1):
            threads.append(threading.Thread(target=waiter, args=(name, background)))
            threads[-1].start()
            until(lambda n=arrived: turns.waiting == n)
        until(lambda: positions.get("job", [None])[-1] == 2)  # the visitor went ahead of it
        assert turns.visitors_waiting == 1 and positions["visitor"] == [1]
        release.set()
    for thread in threads:
        thread.join(5)
    assert order == ["visitor", "job", "other job"]


@pytest.mark.parametrize("hold_s", [0.0, 60.0])
def test_a_chat_during_an_evaluation_gets_the_model_after_one_job_step_and_keeps_it(
        fake_session, fake_adapters, tmp_path, monkeypatch, hold_s):
    """Before: the job kept the model for HOLD_S (60 s: its whole batch) and then took every other turn of
    the chat (HOLD_S 0: a job step between any two chat steps). Now the job gives the model up after the
    step in flight, takes no turn until the chat ended, and then goes on to finish its batch."""
    monkeypatch.setattr(runs, "HOLD_S", hold_s)
    fake_session.attach(fake_adapters["lora"], "lora")
    backend = fake_session.backend
    rows = [{"id": f"q{i}", "prompt": f"question {i}", "reference": f"lora says {i}"} for i in range(4)]
    db = Database.open(f"sqlite:///{tmp_path / 'store.db'}")
    settings = fake_session.generation_settings(max_new_tokens=200, min_new_tokens=200)
    backend.hold, backend.hold_from = Gate(), 4
    job, _ = fake_session.start_evaluation(db, write_jsonl(tmp_path / "set.jsonl", rows), ["base", "lora"],
                                           settings=settings)
    assert backend.hold.entered.wait(5)  # the job's 4th step waits, in the job's turn
    chat = fake_session.start_chat([{"role": "user", "content": "Hi"}], "lora",
                                   fake_session.generation_settings(max_new_tokens=8, min_new_tokens=8), owner="bob")
    until(lambda: fake_session.turns.waiting == 1)  # the chat waits (the job holds the model)
    asked = len(backend.calls)
    backend.hold.set()
    assert chat.result(30).status == FINISHED
    assert job.wait(60) and job.progress().status == FINISHED
    steps = [call for call in backend.calls[asked:] if call.startswith("step:")]
    assert steps[:9] == [JOB] + [VISITOR] * 8, steps[:12]  # the job's step in flight, then the whole chat
    assert backend.calls.count(JOB) == 200  # and the job went on to the end of its batch
    db.close()
