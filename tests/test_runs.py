"""Runs that belong to their visitor: the run object, its events, fair turns, caps and stops.

Everything runs the real tiny model; a ``Recorder`` only wraps the real backend to note
which run's batch used the model, in order.
"""

from __future__ import annotations

import threading
import time

import pytest

from adapters_ui.errors import ConfigError, PromptError, UnknownVariantError
from adapters_ui.model.turns import TurnCancelled, TurnQueue
from adapters_ui.runs.run import Ended, Output, Partial, Progress, Queued, Started

PROMPTS = [f"Prompt number {i}" for i in range(8)]


class Recorder:
    """The real backend, noting whose batch it generates (alice's prompts or bob's chat), in order:
    one entry per model turn (a batch that gives the model up between decode steps has several)."""

    def __init__(self, backend):
        self.backend = backend
        self.calls: list[str] = []

    def __getattr__(self, name):
        return getattr(self.backend, name)

    def begin(self, batch, texts, settings, on_rows=None):
        generation = self.backend.begin(batch, texts, settings, on_rows)
        advance, who = generation.advance, "alice" if "Prompt number" in texts[0] else "bob"

        def noted(stop=None, pause=None):
            self.calls.append(who)
            return advance(stop, pause)

        generation.advance = noted
        return generation


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
    for name in ("second", "third"):
        threads.append(threading.Thread(target=waiter, args=(name,)))
        threads[-1].start()
        time.sleep(0.3)  # a clear arrival order
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
    for t in threads:
        t.start()
        time.sleep(0.2)
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
def test_events_come_in_order_and_the_result_matches_them(tiny_session, tiny_adapters):
    tiny_session.attach(tiny_adapters["lora"])
    run = tiny_session.start_compare(PROMPTS[:3], ["base", "lora"], tiny_session.generation_settings(max_new_tokens=4))
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


@pytest.mark.parametrize(
    "prompts, variants, overrides, error, words",
    [
        ([" ", ""], None, {}, PromptError, "No prompts given"),
        (["hi"], ["base", "ghost"], {}, UnknownVariantError, "Unknown variant 'ghost'"),
        ([f"p{i}" for i in range(5)], None, {"max_prompts": 4}, ConfigError, "5 prompts is over the limit of 4 per comparison"),
        ([f"p{i}" for i in range(3)], ["base", "lora"], {"max_outputs": 5}, ConfigError, "= 6 outputs is over the limit of 5"),
    ],
)
def test_bad_requests_fail_before_any_model_work(prompts, variants, overrides, error, words, tiny_settings, tiny_adapters):
    from adapters_ui.session import Session

    session = Session.start(tiny_settings.replace(**overrides))
    session.attach(tiny_adapters["lora"])
    with pytest.raises(error, match=words) as caught:
        session.start_compare(prompts, variants)
    assert "\n" not in str(caught.value)
    if overrides:
        assert "ADAPTERS_UI_MAX_" in str(caught.value)  # says how to raise the limit
    assert session.runs.running("local") == []


def test_stop_affects_only_its_owner(tiny_session, tiny_adapters):
    tiny_session.attach(tiny_adapters["lora"])
    settings = tiny_session.generation_settings(max_new_tokens=30, batch_size=2)
    mine = tiny_session.start_compare(PROMPTS, ["base", "lora"], settings, owner="alice")
    theirs = tiny_session.start_compare(PROMPTS[:2], ["base", "lora"], settings, owner="bob")
    assert tiny_session.runs.stop("carol") == 0
    assert tiny_session.runs.stop("alice") == 1
    assert mine.result(60).status == "stopped"
    assert theirs.result(60).status == "finished" and theirs.result().counts() == (4, 4)


def test_a_short_request_waits_for_at_most_one_batch_of_a_long_run(tiny_session, tiny_adapters):
    """A chat reply asked while another visitor's 8-prompt run is going gets the model after
    the batch that is running, not after the whole run."""
    tiny_session.attach(tiny_adapters["lora"])
    tiny_session.attach(tiny_adapters["dora"])
    recorder = tiny_session.backend = Recorder(tiny_session.backend)  # runs take the session's backend
    settings = tiny_session.generation_settings(max_new_tokens=20, batch_size=4)
    long_run = tiny_session.start_compare(PROMPTS, ["base", "lora", "dora"], settings, owner="alice")
    for event in long_run.events():
        if isinstance(event, Output):
            break  # alice's first batch is done; her second is running or next
    asked = len(recorder.calls)
    chat = tiny_session.start_chat([{"role": "user", "content": "Hi"}], "lora", settings, owner="bob")
    assert chat.result(120).status == "finished"
    bob_at = recorder.calls.index("bob")
    assert bob_at - asked <= 1, recorder.calls  # at most the turn that was running when bob asked
    assert long_run.result(300).status == "finished"
    assert len(long_run.plan.batches) == 6 and recorder.calls.count("alice") >= 6


def test_a_waiting_run_hears_its_place_in_line_and_its_time_excludes_the_wait(tiny_session, tiny_adapters):
    tiny_session.attach(tiny_adapters["lora"])
    settings = tiny_session.generation_settings(max_new_tokens=30, batch_size=16)
    with tiny_session.turns.turn():  # another visitor's batch holds the model
        run = tiny_session.start_compare(["hi"], ["base"], settings, owner="bob")
        first = next(iter(run.events(heartbeat=5)))
        time.sleep(1.0)
    assert first == Queued(1)
    result = run.result(60)
    assert result.status == "finished" and result.waited_s >= 0.9 and result.generate_s < result.waited_s + 60


def test_stop_while_waiting_ends_at_once_with_nothing_run(tiny_session):
    settings = tiny_session.generation_settings(max_new_tokens=5)
    with tiny_session.turns.turn():
        run = tiny_session.start_compare(["hi"], ["base"], settings, owner="bob")
        assert isinstance(next(iter(run)), Queued)
        run.stop()
        result = run.result(5)  # ends while the model is still busy
    assert result.status == "stopped" and result.counts() == (0, 1) and result.outputs("base") == [None]


def test_an_adapter_detached_mid_run_fails_that_run_in_one_line_and_keeps_what_was_written(tiny_session, tiny_adapters):
    tiny_session.attach(tiny_adapters["ia3"])
    tiny_session.attach(tiny_adapters["lora"])  # mounted last: its family runs first, ia3's batches last
    settings = tiny_session.generation_settings(max_new_tokens=10, batch_size=2)
    run = tiny_session.start_compare(PROMPTS[:4], ["base", "lora", "ia3"], settings, owner="alice")
    for event in run:
        if isinstance(event, Output):
            break
    tiny_session.detach("ia3")  # takes a turn between two of alice's batches
    events = list(run)
    final = events[-1].comparison
    assert final.status == "failed" and "'ia3' was detached during this run" in final.error
    assert final.counts()[0] >= 2 and final.outputs("ia3") == [None] * 4
    with pytest.raises(UnknownVariantError):
        run.result()
    assert tiny_session.compare(["hi"], ["base", "lora"], settings).complete  # the app keeps working


# ---- a batch shares the model between decode steps ------------------------------------------
def test_runs_that_give_up_the_model_at_every_step_write_what_unsliced_runs_write(tiny_session, tiny_adapters, monkeypatch):
    """Two visitors' runs, each waiting for the other, take the model in turns of one decode step
    (HOLD_S = 0): LoRA rows beside base rows (MIXED), IA3 and LoHa batches (BATCH, another family
    mounted in between). Every output is what the same run gives alone, in one piece."""
    from adapters_ui.runs import run as runs
    for name in ("lora", "ia3", "loha"):
        tiny_session.attach(tiny_adapters[name])
    settings = tiny_session.generation_settings(max_new_tokens=12)
    alice_variants, bob_variants = ["base", "lora", "ia3", "loha"], ["loha", "lora", "base"]
    bob_prompts = ["Hello there", "x", "Write a long poem about the sea"]
    alone = {"alice": tiny_session.compare(PROMPTS[:4], alice_variants, settings),
             "bob": tiny_session.compare(bob_prompts, bob_variants, settings)}
    recorder = tiny_session.backend = Recorder(tiny_session.backend)
    monkeypatch.setattr(runs, "HOLD_S", 0.0)
    alice = tiny_session.start_compare(PROMPTS[:4], alice_variants, settings, owner="alice")
    bob = tiny_session.start_compare(bob_prompts, bob_variants, settings, owner="bob")
    together = {"alice": alice.result(300), "bob": bob.result(300)}
    for who in ("alice", "bob"):
        assert together[who].results == alone[who].results, who
    batches = len(alice.plan.batches) + len(bob.plan.batches)
    switches = sum(a != b for a, b in zip(recorder.calls, recorder.calls[1:]))
    assert switches >= 2 * batches, recorder.calls  # many turns inside batches, not one turn per batch


def test_a_short_request_gets_the_model_while_a_long_single_batch_run_is_mid_decode(tiny_session, tiny_adapters):
    """Alice's 16 outputs are one decode loop; Bob's chat, asked once that loop writes, runs
    before the loop ends (before: Bob waited for all of it), and the loop then goes on."""
    tiny_session.attach(tiny_adapters["lora"])
    recorder = tiny_session.backend = Recorder(tiny_session.backend)
    long_settings = tiny_session.generation_settings(max_new_tokens=200, min_new_tokens=200)
    long_run = tiny_session.start_compare(PROMPTS, ["base", "lora"], long_settings, owner="alice")
    for event in long_run:
        if isinstance(event, Partial):
            break  # alice's only batch is decoding
    chat = tiny_session.start_chat([{"role": "user", "content": "Hi"}], "lora",
                                   tiny_session.generation_settings(max_new_tokens=8), owner="bob")
    assert chat.result(120).status == "finished"
    assert long_run.result(300).status == "finished" and len(long_run.plan.batches) == 1
    assert "bob" in recorder.calls and "alice" in recorder.calls[recorder.calls.index("bob"):], recorder.calls


def test_progress_counts_tokens_and_moves_while_one_batch_decodes(tiny_session, tiny_adapters, monkeypatch):
    """All rows of one batch end together, so the count of outputs stays at 0 until the end; the
    count of tokens moves with every step (here every step is streamed: RowStream's interval 0)."""
    import functools

    from adapters_ui.backends.inprocess import decode as decode_module
    from adapters_ui.backends.inprocess.generate import RowStream
    from adapters_ui.ui.common import run_status

    monkeypatch.setattr(decode_module, "RowStream", functools.partial(RowStream, interval=0))
    tiny_session.attach(tiny_adapters["lora"])
    settings = tiny_session.generation_settings(max_new_tokens=30, min_new_tokens=30)
    run = tiny_session.start_compare(PROMPTS[:4], ["base", "lora"], settings)
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
