"""Runs on the real tiny model: what only the real backend can show (its detach check mid-run, the exact
text of batches that give the model up between decode steps). A ``Recorder`` only wraps the real backend to
note which run's batch used the model, in order. The logic of runs, turns, caps, stops and progress is
tested on the fake backend, in milliseconds: tests/test_run_logic.py.
"""

from __future__ import annotations

import pytest
from helpers import Recorder

from adapters_ui.errors import UnknownVariantError
from adapters_ui.runs.run import Output

PROMPTS = [f"Prompt number {i}" for i in range(8)]


# ---- the run object -----------------------------------------------------------------------
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
