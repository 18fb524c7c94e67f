"""The fake backend keeps the promises of the ``Backend`` protocol, so tests of the logic above it
(tests/test_run_logic.py, tests/test_ui_fake.py) prove something about the real thing."""

from __future__ import annotations

import inspect
import threading

import pytest
from fake_backend import FakeBackend, FakeGeneration, fake_route
from helpers import adapter_configs

from adapters_ui.backends.protocol import BATCH, MIXED, Backend, GeneratedRows, Generation, begin
from adapters_ui.decoding import GenerationSettings
from adapters_ui.errors import UnknownVariantError


def members(protocol) -> dict[str, object]:
    """A Protocol's own attributes and methods (annotations included), without typing's machinery."""
    names = set(getattr(protocol, "__annotations__", {})) | {
        n for n, v in vars(protocol).items() if inspect.isfunction(v) and not n.startswith("_")}
    return {n: getattr(protocol, n, None) for n in sorted(names)}


@pytest.mark.parametrize("protocol, fake", [(Backend, FakeBackend), (Generation, FakeGeneration)])
def test_the_fake_has_every_member_of_the_protocol_with_the_same_signature(protocol, fake):
    backend = FakeBackend()
    instance = backend if fake is FakeBackend else backend.begin(
        FakeBackend().plan(["base"], ["hi"], GenerationSettings()).batches[0], ["hi"], GenerationSettings())
    for name, declared in members(protocol).items():
        assert hasattr(instance, name), name
        if inspect.isfunction(declared):
            assert inspect.signature(getattr(fake, name)).parameters.keys() == \
                inspect.signature(declared).parameters.keys(), name


def test_the_fake_begins_like_the_in_process_backend():
    """``protocol.begin`` takes the backend's own resumable ``begin``; it has the in-process one's signature."""
    from adapters_ui.backends.inprocess.backend import InProcessBackend

    assert inspect.signature(FakeBackend.begin).parameters.keys() == inspect.signature(InProcessBackend.begin).parameters.keys()
    batch = FakeBackend().plan(["base"], ["hi"], GenerationSettings()).batches[0]
    assert isinstance(begin(FakeBackend(), batch, ["hi"], GenerationSettings()), FakeGeneration)


def test_the_fake_routes_each_peft_type_like_the_real_backend():
    from adapters_ui.backends.inprocess.backend import route_for

    configs = adapter_configs()
    assert {n: fake_route(c) for n, c in configs.items()} == {n: route_for(c) for n, c in configs.items()}


def test_a_batch_writes_one_word_a_step_pauses_when_asked_and_goes_on():
    backend = FakeBackend()
    settings = GenerationSettings(max_new_tokens=3)
    batch = backend.plan(["base"], ["hi there", "x"], settings).batches[0]
    heard: list[list[str]] = []
    generation = backend.begin(batch, ["hi there", "x"], settings, heard.append)
    assert generation.advance(pause=lambda: True) is None  # one step, then it gives the model up
    assert heard == [["base", "base"]] and generation.tokens() == (2, 6)
    done = generation.advance()
    assert done == GeneratedRows(["base says hi", "base says x"], [True, True])
    assert done.texts == [FakeBackend.reply("base", t, 3) for t in ["hi there", "x"]]
    assert generation.tokens() == (6, 6) and backend.steps == 3


def test_a_stop_cuts_the_rows_at_the_next_word():
    backend = FakeBackend()
    settings = GenerationSettings(max_new_tokens=10)
    batch = backend.plan(["base"], ["a b c d"], settings).batches[0]
    stop = threading.Event()
    stop.set()
    assert backend.generate(batch, ["a b c d"], settings, stop=stop) == GeneratedRows(["base"], [False])


def test_the_plan_batches_by_route_and_refuses_unknown_variants(fake_session, fake_adapters):
    for kind in ("lora", "ia3", "prompt"):
        fake_session.attach(fake_adapters[kind])
    backend = fake_session.backend
    plan = backend.plan(["base", "lora", "ia3", "prompt"], ["p0", "p1", "p2"], GenerationSettings(batch_size=4))
    assert plan.routes == {"base": MIXED, "lora": MIXED, "ia3": BATCH, "prompt": "single"}
    assert [(b.route, len(b.rows)) for b in plan.batches] == [(MIXED, 4), (MIXED, 2), (BATCH, 3),
                                                              ("single", 1), ("single", 1), ("single", 1)]
    assert backend.calls[:3] == ["attach:lora", "attach:ia3", "attach:prompt"]
    with pytest.raises(UnknownVariantError, match="Unknown variant 'ghost'"):
        backend.plan(["ghost"], ["p"], GenerationSettings())
