"""Runs that belong to their visitor: the run object, its events, fair turns, caps, stops and failures,
on the fake backend (tests/fake_backend.py: one word a decode step, no model), so each takes milliseconds.
That the real backend writes the right text through all of this is proven on the tiny model in
tests/test_runs.py, tests/test_inprocess_backend.py and tests/test_faults.py.
"""

from __future__ import annotations

import threading
import time

import pytest
from fake_backend import FAULT, FakeBackend, session_on_fake
from helpers import Recorder

from adapters_ui.errors import AdapterError, ConfigError, PromptError, UnknownVariantError
from adapters_ui.model.turns import TurnCancelled, TurnQueue
from adapters_ui.runs import run as runs
from adapters_ui.runs.run import FAILED, Ended, Output, Partial, Progress, Queued, Started

PROMPTS = [f"Prompt number {i}" for i in range(8)]


def until(condition, timeout: float = 5.0) -> None:
    """Wait (polling, a millisecond at a time) until ``condition()``; fail after ``timeout`` seconds."""
    deadline = time.monotonic() + timeout
    while not condition():
        assert time.monotonic() < deadline, "timed out"
        time.sleep(0.001)


# ---- the turn queue ------------------------------------------------------------------------
def test_turns_are_first_come_first_served_and_report_the_position():
    turns = TurnQueue()
    order, positions = [], {}
    first_in = threading.Event()
    release = threading.Event()

    def holder():
        with turns.turn():
            first_in.set()
            release.wait(5)
            order.append("holder")

    def waiter(name):
        with turns.turn(on_wait=lambda p: positions.setdefault(name, []).append(p)):
            order.append(name)

    threads = [threading.Thread(target=holder)]
    threads[0].start()
    first_in.wait(5)
    for waiting, name in enumerate(("second", "third"), start=1):
        threads.append(threading.Thread(target=waiter, args=(name,)))
        threads[-1].start()
        until(lambda n=waiting: turns.waiting == n)  # a clear arrival order
    release.set()
    for t in threads:
        t.join(5)
    assert order == ["holder", "second", "third"]
    assert positions["second"][0] == 1 and positions["third"][0] == 2


def test_a_queue_with_slots_lets_that_many_turns_run_at_once():
    """A server backend's queue: two runs on the server together, the third waits for a free slot."""
    turns = TurnQueue(slots=2)
    inside, most, positions = [], [], []
    release = threading.Event()
    lock = threading.Lock()

    def worker(name):
        with turns.turn(on_wait=positions.append):
            with lock:
                inside.append(name)
                most.append(len(inside))
            release.wait(5)
            with lock:
                inside.remove(name)

    threads = [threading.Thread(target=worker, args=(n,)) for n in ("a", "b", "c")]
    for arrived, t in enumerate(threads, start=1):
        t.start()
        until(lambda n=arrived: len(inside) + turns.waiting == n)
    until(lambda: positions)
    assert len(inside) == 2 and turns.waiting == 1 and positions == [1]
    release.set()
    for t in threads:
        t.join(5)
    assert max(most) == 2 and inside == []


def test_a_cancelled_waiter_leaves_the_line():
    turns = TurnQueue()
    cancel = threading.Event()
    with turns.turn():
        cancel.set()
        with pytest.raises(TurnCancelled):
            with turns.turn(cancel=cancel):
                pass
        assert turns.waiting == 0
    with turns.turn():  # the queue still works
        pass


# ---- the run object -----------------------------------------------------------------------
def test_events_come_in_order_and_the_result_matches_them(fake_session, fake_adapters):
    fake_session.attach(fake_adapters["lora"])
    run = fake_session.start_compare(PROMPTS[:3], ["base", "lora"], fake_session.generation_settings(max_new_tokens=4))
    events = list(run.events(heartbeat=0.05))
    kinds = [type(e) for e in events]
    assert kinds[-1] is Ended and kinds.count(Ended) == 1 and Started in kinds
    assert kinds.index(Started) < kinds.index(Partial) < kinds.index(Output)
    outputs = {(e.index, e.variant): e.text for e in events if isinstance(e, Output)}
    result = run.result()
    assert result.status == "finished" and result.counts() == (6, 6) and events[-1].comparison == result
    assert outputs == {(i, v): r.outputs[v] for i, r in enumerate(result.results) for v in ("base", "lora")}
    progress = [e for e in events if isinstance(e, Progress)]
    assert progress and progress[-1].done == 6 and progress[-1].total == 6
    assert result.generate_s > 0 and result.routes == {"base": "mixed", "lora": "mixed"}
    # the fake's exact words, streamed word by word before each output
    assert outputs == {(i, v): FakeBackend.reply(v, p, 4) for i, p in enumerate(PROMPTS[:3]) for v in ("base", "lora")}
    streamed = [e.texts[(0, "lora")] for e in events if isinstance(e, Partial)]
    assert streamed == ["lora", "lora says", "lora says Prompt", "lora says Prompt number"]


def test_outputs_are_reported_as_they_are_ready(fake_session, fake_adapters):
    fake_session.attach(fake_adapters["lora"])
    fake_session.attach(fake_adapters["prompt"])
    prompts = ["Hello there", "What is 2+2?", "Write a long poem about the sea and the sky", "x"]
    run = fake_session.start_compare(prompts, settings=fake_session.generation_settings(max_new_tokens=3))
    heard = [(e.index, e.variant, e.text) for e in run if isinstance(e, Output)]
    result = run.result()
    assert sorted(heard) == sorted((i, v, r.outputs[v]) for i, r in enumerate(result.results) for v in result.variants)


@pytest.mark.parametrize(
    "prompts, variants, overrides, error, words",
    [
        ([" ", ""], None, {}, PromptError, "No prompts given"),
        (["hi"], ["base", "ghost"], {}, UnknownVariantError, "Unknown variant 'ghost'"),
        ([f"p{i}" for i in range(5)], None, {"max_prompts": 4}, ConfigError, "5 prompts is over the limit of 4 per comparison"),
        ([f"p{i}" for i in range(3)], ["base", "lora"], {"max_outputs": 5}, ConfigError, "= 6 outputs is over the limit of 5"),
    ],
)
def test_bad_requests_fail_before_any_model_work(prompts, variants, overrides, error, words, fake_settings, fake_adapters):
    session = session_on_fake(fake_settings.replace(**overrides))
    session.attach(fake_adapters["lora"])
    with pytest.raises(error, match=words) as caught:
        session.start_compare(prompts, variants)
    assert "\n" not in str(caught.value)
    if overrides:
        assert "ADAPTERS_UI_MAX_" in str(caught.value)  # says how to raise the limit
    assert session.runs.running("local") == []
    assert "plan" not in session.backend.calls  # no model work


@pytest.mark.parametrize("prompts", [[], ["", "   "]])
def test_no_prompts_is_a_clear_error(fake_session, prompts):
    with pytest.raises(PromptError, match="No prompts given"):
        fake_session.compare(prompts)


@pytest.mark.parametrize(
    "call, error",
    [
        (lambda s: s.chat([], "base"), "No message given"),
        (lambda s: s.chat([{"role": "user", "content": "  "}], "base"), "No message given"),
        (lambda s: s.complete("", "base"), "No text given"),
        (lambda s: s.chat([{"role": "user", "content": "Hi"}], "ghost"), "Unknown variant 'ghost'"),
    ],
)
def test_playground_calls_reject_bad_input(call, error, fake_session):
    with pytest.raises((PromptError, UnknownVariantError), match=error):
        call(fake_session)


def test_the_adapter_cap_and_a_backend_refusal_are_one_line_and_attach_nothing(fake_settings, fake_adapters):
    session = session_on_fake(fake_settings.replace(max_adapters=1))
    session.backend.refusals["IA3"] = "IA3 adapters cannot run on this backend: attach a LoRA."
    with pytest.raises(AdapterError, match="^IA3 adapters cannot run on this backend: attach a LoRA.$"):
        session.attach(fake_adapters["ia3"])
    session.attach(fake_adapters["lora"])
    with pytest.raises(AdapterError, match="1 adapters are attached, the most allowed") as caught:
        session.attach(fake_adapters["loha"])
    assert "\n" not in str(caught.value) and "ADAPTERS_UI_MAX_ADAPTERS" in str(caught.value)
    assert session.variants == ["base", "lora"] and session.backend.calls == ["attach:lora"]


def test_a_failed_attach_leaves_nothing_attached(fake_session, fake_adapters):
    fake_session.backend.fail_attach.add("lora")
    with pytest.raises(AdapterError, match="could not be attached") as caught:
        fake_session.attach(fake_adapters["lora"])
    assert "\n" not in str(caught.value)
    assert fake_session.variants == ["base"] and fake_session.registry.version == 0


def test_stop_affects_only_its_owner(fake_session, fake_adapters):
    fake_session.attach(fake_adapters["lora"])
    fake_session.backend.hold = hold = threading.Event()  # both runs stay in their first step until released
    settings = fake_session.generation_settings(max_new_tokens=30, batch_size=2)
    mine = fake_session.start_compare(PROMPTS, ["base", "lora"], settings, owner="alice")
    theirs = fake_session.start_compare(PROMPTS[:2], ["base", "lora"], settings, owner="bob")
    assert fake_session.runs.stop("carol") == 0
    assert fake_session.runs.stop("alice") == 1
    hold.set()
    assert mine.result(60).status == "stopped"
    assert theirs.result(60).status == "finished" and theirs.result().counts() == (4, 4)


def test_a_run_belongs_to_its_visitor(fake_session):
    fake_session.backend.hold = hold = threading.Event()
    run = fake_session.start_compare(["hi"], ["base"], owner="alice", kind="compare")
    assert fake_session.runs.running("alice") == [run] and fake_session.runs.running("alice", "compare") == [run]
    assert fake_session.runs.running("bob") == [] and fake_session.runs.running("alice", "playground") == []
    assert fake_session.runs.stop("bob") == 0 and fake_session.runs.stop("alice", "playground") == 0
    hold.set()
    assert run.result(5).complete and fake_session.runs.running("alice") == []


def test_a_short_request_waits_for_at_most_one_batch_of_a_long_run(fake_session, fake_adapters):
    """A chat reply asked while another visitor's 8-prompt run is going gets the model after
    the batch that is running, not after the whole run."""
    fake_session.attach(fake_adapters["lora"])
    fake_session.attach(fake_adapters["dora"])
    backend = fake_session.backend
    backend.hold, backend.hold_from = threading.Event(), 6  # alice's second batch waits in its first step
    recorder = fake_session.backend = Recorder(backend)  # runs take the session's backend
    settings = fake_session.generation_settings(max_new_tokens=20, batch_size=4)
    long_run = fake_session.start_compare(PROMPTS, ["base", "lora", "dora"], settings, owner="alice")
    for event in long_run.events():
        if isinstance(event, Output):
            break  # alice's first batch is done; her second is running or next
    asked = len(recorder.calls)
    chat = fake_session.start_chat([{"role": "user", "content": "Hi"}], "lora", settings, owner="bob")
    until(lambda: fake_session.turns.waiting == 1)  # bob waits behind alice's second batch
    backend.hold.set()
    assert chat.result(120).status == "finished"
    bob_at = recorder.calls.index("bob")
    assert bob_at - asked <= 1, recorder.calls  # at most the turn that was running when bob asked
    assert long_run.result(300).status == "finished"
    assert len(long_run.plan.batches) == 6 and recorder.calls.count("alice") >= 6
    assert recorder.calls.count("alice") - recorder.calls[bob_at:].count("alice") == 2, recorder.calls  # bob went second


def test_a_waiting_run_hears_its_place_in_line_and_its_time_excludes_the_wait(fake_session):
    settings = fake_session.generation_settings(max_new_tokens=30, batch_size=16)
    with fake_session.turns.turn():  # another visitor's batch holds the model
        run = fake_session.start_compare(["hi"], ["base"], settings, owner="bob")
        first = next(iter(run.events(heartbeat=5)))
        time.sleep(1.0)
    assert first == Queued(1)
    result = run.result(60)
    assert result.status == "finished" and result.waited_s >= 0.9 and result.generate_s < result.waited_s + 60


def test_stop_while_waiting_ends_at_once_with_nothing_run(fake_session):
    settings = fake_session.generation_settings(max_new_tokens=5)
    with fake_session.turns.turn():
        run = fake_session.start_compare(["hi"], ["base"], settings, owner="bob")
        assert isinstance(next(iter(run)), Queued)
        run.stop()
        result = run.result(5)  # ends while the model is still busy
    assert result.status == "stopped" and result.counts() == (0, 1) and result.outputs("base") == [None]


def test_stop_mid_batch_keeps_what_was_written_marked_cut_off(fake_session, fake_adapters):
    fake_session.attach(fake_adapters["lora"])
    fake_session.attach(fake_adapters["ia3"])  # its own batch, after the mixed one: never runs
    backend = fake_session.backend
    backend.hold, backend.hold_from = threading.Event(), 3  # two steps, then the third waits
    settings = fake_session.generation_settings(max_new_tokens=20)
    run = fake_session.start_compare(["one two three four five"], ["base", "lora", "ia3"], settings)
    backend.wait_steps(2)
    run.stop()
    backend.hold.set()  # the third step is written, then the stop is seen
    result = run.result(5)
    assert result.status == "stopped" and result.counts() == (0, 3)
    assert result.results[0].cut_off == ("base", "lora")
    assert result.outputs("base") == ["base says one"] and result.outputs("lora") == ["lora says one"]
    assert result.outputs("ia3") == [None]  # never ran


def test_a_failing_step_fails_its_run_in_one_line_and_the_next_run_works(fake_session, fake_adapters):
    fake_session.attach(fake_adapters["lora"])
    fake_session.attach(fake_adapters["ia3"])
    fake_session.backend.fail_at = 8  # in the ia3 batch, after the mixed batch (7 steps) ended
    settings = fake_session.generation_settings(max_new_tokens=7)
    run = fake_session.start_compare(["a b c d e"], ["base", "lora", "ia3"], settings, owner="alice")
    final = run.final(5)
    assert final.status == FAILED and FAULT in final.error and "\n" not in final.error
    assert final.outputs("base") == [FakeBackend.reply("base", "a b c d e", 7)] and final.outputs("ia3") == [None]
    assert final.counts() == (2, 3)
    with pytest.raises(Exception, match=FAULT):
        run.result()
    again = fake_session.compare(["a b c d e"], ["base", "lora", "ia3"], settings)
    assert again.complete and again.outputs("ia3") == [FakeBackend.reply("ia3", "a b c d e", 7)]
    assert fake_session.runs.running("alice") == []


def test_an_adapter_detached_mid_run_fails_that_run_in_one_line(fake_session, fake_adapters, monkeypatch):
    """The detach takes a turn while ia3's batch is paused (somebody waited): the batch does not go on."""
    monkeypatch.setattr(runs, "HOLD_S", 0.0)  # a batch gives the model up at every step when somebody waits
    fake_session.attach(fake_adapters["ia3"])
    fake_session.attach(fake_adapters["lora"])
    backend = fake_session.backend
    backend.hold, backend.hold_from = threading.Event(), 4  # the mixed batch's 3 steps, then ia3's first waits
    run = fake_session.start_compare(["p0", "p1"], ["base", "lora", "ia3"], fake_session.generation_settings(max_new_tokens=3))
    for event in run:
        if isinstance(event, Output):
            break
    detaching = threading.Thread(target=fake_session.detach, args=("ia3",))
    detaching.start()
    until(lambda: fake_session.turns.waiting == 1 or not detaching.is_alive())
    backend.hold.set()
    detaching.join(5)
    final = list(run)[-1].comparison
    assert final.status == "failed" and "'ia3' was detached during this run" in final.error and "\n" not in final.error
    assert final.outputs("ia3") == [None, None] and final.counts() == (4, 6)
    assert fake_session.compare(["hi"], ["base", "lora"]).complete  # the app keeps working


# ---- a batch shares the model between decode steps ------------------------------------------
def test_two_visitors_runs_take_the_model_in_turns_of_a_step_and_write_what_they_write_alone(
        fake_session, fake_adapters, monkeypatch):
    """HOLD_S = 0: a batch gives the model up after every step while the other visitor waits, queues again
    behind them and goes on where it was; each run's outputs are what it writes alone."""
    monkeypatch.setattr(runs, "HOLD_S", 0.0)
    for kind in ("lora", "ia3"):
        fake_session.attach(fake_adapters[kind])
    settings = fake_session.generation_settings(max_new_tokens=12, min_new_tokens=12)
    alice_args, bob_args = (PROMPTS[:4], ["base", "lora", "ia3"]), (["Hello there", "x"], ["ia3", "base"])
    alone = {"alice": fake_session.compare(*alice_args, settings), "bob": fake_session.compare(*bob_args, settings)}
    backend = fake_session.backend
    backend.hold, backend.step_s = threading.Event(), 0.001
    backend.hold_from = backend.steps + 1  # alice's first step waits until bob is in line
    recorder = fake_session.backend = Recorder(backend)
    alice = fake_session.start_compare(*alice_args, settings, owner="alice")
    bob = fake_session.start_compare(*bob_args, settings, owner="bob")
    until(lambda: fake_session.turns.waiting == 1)
    backend.hold.set()
    together = {"alice": alice.result(10), "bob": bob.result(10)}
    for who in ("alice", "bob"):
        assert together[who].results == alone[who].results, who
    batches = len(alice.plan.batches) + len(bob.plan.batches)
    switches = sum(a != b for a, b in zip(recorder.calls, recorder.calls[1:]))
    assert switches >= 2 * batches, recorder.calls  # many turns inside batches, not one turn per batch


def test_a_short_request_gets_the_model_while_a_long_single_batch_run_is_mid_decode(fake_session, fake_adapters,
                                                                                    monkeypatch):
    """Alice's 16 outputs are one decode loop; Bob's chat, asked once that loop writes, runs
    before the loop ends (before: Bob waited for all of it), and the loop then goes on."""
    monkeypatch.setattr(runs, "HOLD_S", 0.02)  # the fake's 200 steps of 1 ms outlast it many times over
    fake_session.attach(fake_adapters["lora"])
    fake_session.backend.step_s = 0.001
    recorder = fake_session.backend = Recorder(fake_session.backend)
    long_settings = fake_session.generation_settings(max_new_tokens=200, min_new_tokens=200)
    long_run = fake_session.start_compare(PROMPTS, ["base", "lora"], long_settings, owner="alice")
    for event in long_run:
        if isinstance(event, Partial):
            break  # alice's only batch is decoding
    chat = fake_session.start_chat([{"role": "user", "content": "Hi"}], "lora",
                                   fake_session.generation_settings(max_new_tokens=8), owner="bob")
    assert chat.result(120).status == "finished"
    assert long_run.result(300).status == "finished" and len(long_run.plan.batches) == 1
    assert "bob" in recorder.calls and "alice" in recorder.calls[recorder.calls.index("bob"):], recorder.calls


def test_progress_counts_tokens_and_moves_while_one_batch_decodes(fake_session, fake_adapters):
    """All rows of one batch end together, so the count of outputs stays at 0 until the end; the
    count of tokens moves with every step."""
    from adapters_ui.ui.common import run_status

    fake_session.attach(fake_adapters["lora"])
    fake_session.backend.step_s = 0.005  # a reader of the events keeps up with the steps
    settings = fake_session.generation_settings(max_new_tokens=30, min_new_tokens=30)
    run = fake_session.start_compare(PROMPTS[:4], ["base", "lora"], settings)
    seen, lines = [], []
    for event in run:
        if isinstance(event, Output):
            break
        if isinstance(event, Partial):
            progress = run.progress()  # live: a slow reader of the events may see the batch already ended
            if progress.done == 0:
                seen.append((progress.done, progress.tokens, progress.tokens_total))
                lines.append(run_status(run))
    assert len(run.plan.batches) == 1 and run.result(60).complete
    assert {total for _, _, total in seen} == {8 * 30}  # while no output is done, the tokens move:
    tokens = [t for _, t, _ in seen]
    assert len(set(tokens)) >= 5 and tokens == sorted(tokens) and tokens[-1] <= 8 * 30
    assert len(set(lines)) >= 5 and "of 240 tokens" in lines[-1]
    final = run.progress()
    assert (final.done, final.total, final.tokens, final.tokens_total) == (8, 8, 240, 240)
    assert final.line == "8 of 8 outputs done · 240 of 240 tokens"
