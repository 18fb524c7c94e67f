"""Faults the dashboard must survive, on a real model (the tiny Llama) with real failures: a forward hook
that raises once in the middle of a decode, and an adapter whose tensors do not fit the base, attached
while another visitor's comparison runs. After each, the next request works and its outputs are correct
(equal to a clean run's).
"""

from __future__ import annotations

import shutil

import pytest
from safetensors.torch import load_file, save_file

from adapters_ui.errors import AdapterError
from adapters_ui.runs.run import FAILED, Partial

PROMPTS = ["hello there", "a longer prompt about the sea and the wind", "x"]


class FailOnce:
    """A forward pre-hook that raises on the ``at``-th call of its module: a fault deep inside generation."""

    def __init__(self, at: int):
        self.at, self.calls = at, 0

    def __call__(self, module, args):
        self.calls += 1
        if self.calls == self.at:
            raise RuntimeError("injected fault in a decode step")


@pytest.mark.parametrize("variants", [
    ["base", "lora", "lora_b"],  # one mixed decode loop: base rows and each LoRA's rows together
    ["base", "ia3"],             # a batch with set_adapter
    ["prompt"],                  # prompt tuning: one prompt at a time through PEFT's generate
])
def test_an_exception_in_the_middle_of_generation_leaves_the_next_run_correct(tiny_session, tiny_adapters, variants):
    for name in variants[1:] if variants[0] == "base" else variants:
        tiny_session.attach(tiny_adapters[name])
    settings = tiny_session.generation_settings(max_new_tokens=12)
    expected = tiny_session.compare(PROMPTS, variants, settings)
    fault = FailOnce(at=5)  # the prompt's forward, then a few decode steps
    handle = tiny_session.base.model.model.layers[0].register_forward_pre_hook(fault)
    try:
        failed = tiny_session.start_compare(PROMPTS, variants, settings).final(timeout=60)
    finally:
        handle.remove()
    assert fault.calls >= 5
    assert failed.status == FAILED and "injected fault in a decode step" in failed.error and "\n" not in failed.error
    again = tiny_session.compare(PROMPTS, variants, settings)
    assert again.complete
    assert {v: again.outputs(v) for v in variants} == {v: expected.outputs(v) for v in variants}


def test_a_failed_attach_during_another_comparison_leaves_it_unaffected(tiny_session, tiny_adapters, tmp_path):
    tiny_session.attach(tiny_adapters["lora"])
    settings = tiny_session.generation_settings(max_new_tokens=24, batch_size=1)  # one row a turn: attach interleaves
    expected = tiny_session.compare(PROMPTS, ["base", "lora"], settings)

    broken = shutil.copytree(tiny_adapters["lora_b"], tmp_path / "broken")
    weights = broken / "adapter_model.safetensors"
    tensors = load_file(weights)
    first = next(k for k in tensors if "lora_A" in k)
    tensors[first] = tensors[first][:, :-3].contiguous()  # an input size the base's layer does not have
    save_file(tensors, weights)

    run = tiny_session.start_compare(PROMPTS, ["base", "lora"], settings, owner="alice")
    for event in run.events(heartbeat=5):
        if isinstance(event, Partial):
            break
    with pytest.raises(AdapterError) as error:
        tiny_session.attach(broken)
    assert "\n" not in str(error.value)
    assert not run.ended, "the attach must have failed while the comparison was still running"
    comparison = run.result(timeout=120)
    assert comparison.complete
    assert {v: comparison.outputs(v) for v in ("base", "lora")} == {v: expected.outputs(v) for v in ("base", "lora")}
    assert [a.name for a in tiny_session.adapters()] == ["lora"]
    assert tiny_session.compare(PROMPTS, ["lora"], settings).outputs("lora") == expected.outputs("lora")
