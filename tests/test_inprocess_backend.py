"""The in-process backend gives, for every PEFT type, exactly what plain PEFT gives alone.

Reference = PeftModel.from_pretrained on a fresh copy of the base, one adapter, one prompt,
greedy. The backend instead batches, mixes LoRA adapters with base rows, and swaps
adapter families in and out of one model; none of that may change a single token.
"""

from __future__ import annotations

import copy
import threading

import pytest
import torch
from helpers import adapter_configs, plain_generate, plain_peft_outputs

from adapters_ui.backends.inprocess.backend import route_for
from adapters_ui.backends.protocol import BATCH, MIXED, SINGLE
from adapters_ui.errors import UnknownVariantError
from adapters_ui.runs.run import Output, Partial

PROMPTS = ["Hello there", "What is 2+2?", "Write a long poem about the sea and the sky", "x"]
TOKENS = 10
EXPECTED_ROUTE = {
    "lora": MIXED, "lora_b": MIXED, "rslora": MIXED, "dora": MIXED, "ia3": BATCH,
    "loha": BATCH, "lokr": BATCH, "prompt": SINGLE, "ptuning": SINGLE,
}


@pytest.mark.parametrize("name", list(adapter_configs()))
def test_each_type_alone_matches_plain_peft(name, tiny_session, tiny_adapters, pristine_base):
    tiny_session.attach(tiny_adapters[name])
    result = tiny_session.compare(PROMPTS, settings=tiny_session.generation_settings(max_new_tokens=TOKENS))
    tokenizer = tiny_session.base.tokenizer
    expected = plain_peft_outputs(pristine_base, tokenizer, tiny_adapters[name], PROMPTS, TOKENS)
    base = [plain_generate(pristine_base, tokenizer, p, TOKENS) for p in PROMPTS]
    assert result.outputs(name) == expected
    assert result.outputs("base") == base
    assert result.routes[name] == EXPECTED_ROUTE[name]
    assert expected != base, "the test adapter must change the output, or this test proves nothing"


def test_all_types_together_match_plain_peft(tiny_session, tiny_adapters, pristine_base):
    for path in tiny_adapters.values():
        tiny_session.attach(path)
    result = tiny_session.compare(PROMPTS, settings=tiny_session.generation_settings(max_new_tokens=TOKENS, batch_size=5))
    tokenizer = tiny_session.base.tokenizer
    assert result.outputs("base") == [plain_generate(pristine_base, tokenizer, p, TOKENS) for p in PROMPTS]
    for name, path in tiny_adapters.items():
        assert result.outputs(name) == plain_peft_outputs(pristine_base, tokenizer, path, PROMPTS, TOKENS), name
    # A second run, now starting from another mounted family, gives the same texts.
    again = tiny_session.compare(PROMPTS, settings=tiny_session.generation_settings(max_new_tokens=TOKENS))
    assert again.records() == result.records()


def test_route_for_each_type():
    assert {name: route_for(config) for name, config in adapter_configs().items()} == EXPECTED_ROUTE


def test_unmount_restores_the_base_model_exactly(tiny_session, tiny_adapters, pristine_base):
    for path in tiny_adapters.values():
        tiny_session.attach(path)
    list(tiny_session.backend.mount_all())
    tiny_session.backend._unmount()
    restored = tiny_session.base.model.state_dict()
    original = pristine_base.state_dict()
    assert restored.keys() == original.keys()
    assert all(torch.equal(restored[k], original[k]) for k in original)
    assert not any("lora" in n or "ia3" in n for n, _ in tiny_session.base.model.named_modules())


def test_every_adapter_tensor_sits_on_the_base_device(tiny_session, tiny_adapters):
    for path in tiny_adapters.values():
        tiny_session.attach(path)
    device = next(tiny_session.base.model.parameters()).device
    seen = 0
    for _family in tiny_session.backend.mount_all():
        tensors = tiny_session.backend.adapter_tensors()
        assert tensors, "each mounted family must expose adapter tensors"
        assert {t.device for t in tensors.values()} == {device}
        seen += len(tensors)
    assert seen > 0


def test_detach_removes_the_adapter_and_frees_its_weights(tiny_session, tiny_adapters):
    import gc
    import weakref

    tiny_session.attach(tiny_adapters["lora"])
    tiny_session.attach(tiny_adapters["lora_b"])
    spec_ref = weakref.ref(next(iter(tiny_session.backend._specs["lora"].state_dict.values())))
    tiny_session.detach("lora")
    gc.collect()
    assert spec_ref() is None
    assert tiny_session.variants == ["base", "lora_b"]
    assert len(tiny_session.backend.adapter_tensors()) == 2 * 2 * 2  # lora_b only: 2 layers x (k, o) x (A, B)
    with pytest.raises(UnknownVariantError, match="Unknown variant 'lora'"):
        tiny_session.compare(["hi"], ["base", "lora"])


def test_subset_of_variants_and_order(tiny_session, tiny_adapters):
    tiny_session.attach(tiny_adapters["ia3"])
    tiny_session.attach(tiny_adapters["lora"])
    result = tiny_session.compare(["hi"], ["lora", "base"], tiny_session.generation_settings(max_new_tokens=4))
    assert result.variants == ("lora", "base")
    assert set(result.results[0].outputs) == {"lora", "base"}
    assert "ia3" not in result.routes


def test_sampling_with_a_seed_is_reproducible(tiny_session, tiny_adapters):
    tiny_session.attach(tiny_adapters["lora"])
    settings = tiny_session.generation_settings(max_new_tokens=8, do_sample=True, temperature=1.5, seed=7)
    first = tiny_session.compare(PROMPTS, settings=settings)
    second = tiny_session.compare(PROMPTS, settings=settings)
    greedy = tiny_session.compare(PROMPTS, settings=tiny_session.generation_settings(max_new_tokens=8))
    assert first.records() == second.records()
    assert first.records() != greedy.records()


def test_concurrent_comparisons_do_not_leak_adapters(tiny_session, tiny_adapters):
    """PEFT's active adapter is global: two threads at once must still each get their own variant."""
    for name in ("lora", "ia3", "prompt"):
        tiny_session.attach(tiny_adapters[name])
    settings = tiny_session.generation_settings(max_new_tokens=6)
    alone = {v: tiny_session.compare(PROMPTS, [v], settings).outputs(v) for v in ("lora", "ia3", "prompt", "base")}
    got: dict[str, list[str]] = {}
    errors: list[BaseException] = []

    def run(variant: str) -> None:
        try:
            for _ in range(2):
                got[variant] = tiny_session.compare(PROMPTS, [variant], settings).outputs(variant)
        except BaseException as exc:  # noqa: BLE001
            errors.append(exc)

    threads = [threading.Thread(target=run, args=(v,)) for v in alone]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert not errors
    assert got == alone


def test_streaming_reports_every_output_as_it_grows(tiny_session, tiny_adapters):
    """Live streaming: each output's partial texts grow from its first token to its final text, on every route
    (throttled: not necessarily one event per token, see test_row_stream_*)."""
    for name in ("lora", "dora", "prompt"):  # mixed, batch, single
        tiny_session.attach(tiny_adapters[name])
    partials: dict[tuple[int, str], list[str]] = {}
    finished: list[tuple[int, str]] = []
    run = tiny_session.start_compare(PROMPTS[:3], settings=tiny_session.generation_settings(max_new_tokens=TOKENS))
    for event in run:
        if isinstance(event, Partial):
            for row, text in event.texts.items():
                partials.setdefault(row, []).append(text)
        elif isinstance(event, Output):
            finished.append((event.index, event.variant))
    result = run.result()
    assert set(partials) == set(finished) == {(i, v) for i in range(3) for v in result.variants}
    for (index, variant), texts in partials.items():
        assert len(texts) >= 2, (index, variant)  # the first token at once, the whole text last
        assert texts[-1] == result.results[index].outputs[variant]
        assert len(texts[0]) < len(texts[-1])
        assert all(texts[-1].startswith(t.rstrip()) for t in texts), (index, variant)


@pytest.mark.parametrize("variant", ["base", "lora", "dora", "prompt"])
def test_chat_and_complete_match_plain_generation(variant, tiny_session, tiny_adapters, pristine_base):
    """The playground's one-variant calls give what plain PEFT gives on the same input text."""
    from peft import PeftModel

    from adapters_ui.formatting import format_chat

    if variant != "base":
        tiny_session.attach(tiny_adapters[variant])
    tokenizer = tiny_session.base.tokenizer
    reference = pristine_base if variant == "base" else PeftModel.from_pretrained(copy.deepcopy(pristine_base), str(tiny_adapters[variant]))
    settings = tiny_session.generation_settings(max_new_tokens=TOKENS)
    messages = [{"role": "user", "content": "Hi"}, {"role": "assistant", "content": "Hello"}, {"role": "user", "content": "More?"}]
    run = tiny_session.start_chat(messages, variant, settings)
    streamed = [text for e in run if isinstance(e, Partial) for text in e.texts.values()]
    reply = run.result().outputs(variant)[0]
    assert reply == plain_generate(reference, tokenizer, format_chat(tokenizer, messages), TOKENS, formatted=True)
    assert streamed[-1] == reply and len(streamed) >= 2
    assert tiny_session.chat(messages, variant, settings) == reply
    assert tiny_session.complete("Once upon", variant, settings) == plain_generate(
        reference, tokenizer, "Once upon", TOKENS, formatted=True
    )


def test_stop_ends_a_comparison_early_and_the_next_one_is_exact(tiny_session, tiny_adapters):
    """Stop: the run ends at the next token; what was written is kept and marked as cut off;
    nothing is left half-mounted."""
    for name in ("lora", "dora", "ia3"):  # lora and dora share the first batch with base; ia3 has its own
        tiny_session.attach(tiny_adapters[name])
    settings = tiny_session.generation_settings(max_new_tokens=200)  # long enough to stop in the middle
    expected = tiny_session.compare(PROMPTS, settings=settings)
    run = tiny_session.start_compare(PROMPTS, settings=settings)
    for event in run:
        if isinstance(event, Partial):
            run.stop()  # the first streamed tokens of the first batch
    stopped = run.result()
    mixed = ("base", "lora", "dora")
    assert stopped.status == "stopped" and stopped.counts() == (0, len(PROMPTS) * 4)
    assert all(set(r.cut_off) == set(mixed) for r in stopped.results)
    for got, full in zip(stopped.results, expected.results):
        for variant in mixed:  # the cut-off text is the start of the full one
            assert full.outputs[variant].startswith(got.outputs[variant]) and got.outputs[variant] != full.outputs[variant]
        assert got.outputs["ia3"] is None  # never ran
    assert tiny_session.compare(PROMPTS, settings=settings).records() == expected.records()


def test_a_base_with_a_repetition_penalty_runs_peft_generate_and_still_matches(tiny_session, tiny_adapters, pristine_base):
    """Our decode loop does not re-implement every logits processor: a base whose generation_config
    asks for more runs PEFT's generate (PEFT's mixed batch for LoRA, DoRA on its own) with the same result."""
    for model in (tiny_session.base.model, pristine_base):
        model.generation_config.repetition_penalty = 1.5
    for name in ("lora", "dora"):
        tiny_session.attach(tiny_adapters[name])
    assert not tiny_session.backend.own_decode
    result = tiny_session.compare(PROMPTS, settings=tiny_session.generation_settings(max_new_tokens=TOKENS))
    tokenizer = tiny_session.base.tokenizer
    assert result.routes == {"base": MIXED, "lora": MIXED, "dora": BATCH}
    assert result.outputs("base") == [plain_generate(pristine_base, tokenizer, p, TOKENS) for p in PROMPTS]
    for name in ("lora", "dora"):
        assert result.outputs(name) == plain_peft_outputs(pristine_base, tokenizer, tiny_adapters[name], PROMPTS, TOKENS)
    pristine_base.generation_config.repetition_penalty = 1.0
    assert result.outputs("base") != [plain_generate(pristine_base, tokenizer, p, TOKENS) for p in PROMPTS]
