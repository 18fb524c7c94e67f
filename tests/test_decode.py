"""The in-process decode loop: what generate gives, with finished rows leaving the batch.

The equality tests against plain PEFT live in test_inprocess_backend.py; here are the loop's
own promises (rows leave, min_new_tokens, per-row sampling streams, throttled streaming), the
batch planning, and the one model thread.
"""

from __future__ import annotations

import threading

import pytest
import torch
from helpers import tiny_llama, tiny_tokenizer

from adapters_ui.backends.inprocess import backend as inprocess
from adapters_ui.backends.inprocess import decode as decoding
from adapters_ui.backends.inprocess.decode import Decoding, decode, decode_texts, supports
from adapters_ui.backends.inprocess.generate import RowStream
from adapters_ui.decoding import GenerationSettings
from adapters_ui.errors import ConfigError
from adapters_ui.model.thread import on_model_thread

PROMPTS = ["Hello there", "What is 2+2?", "Write a long poem about the sea", "x"]


@pytest.fixture(scope="module")
def model_and_tokenizer():
    tokenizer = tiny_tokenizer()
    tokenizer.padding_side = "left"
    return tiny_llama(len(tokenizer), init_range=0.5), tokenizer


def reference(model, tokenizer, prompts, settings, eos):
    """What transformers' generate writes for each prompt alone, up to and including an end token."""
    texts = []
    for prompt in prompts:
        encoded = tokenizer([prompt], return_tensors="pt", add_special_tokens=False)
        with torch.inference_mode():
            out = model.generate(**encoded, max_new_tokens=settings.max_new_tokens, do_sample=False, eos_token_id=eos,
                                 pad_token_id=eos[0], min_new_tokens=settings.min_new_tokens or None)
        texts.append(out[0, encoded["input_ids"].shape[1]:].tolist())
    return texts


def run(model, tokenizer, prompts, settings, eos, **kwargs):
    encoded = tokenizer(prompts, return_tensors="pt", padding=True, add_special_tokens=False)
    with torch.inference_mode():
        return decode(model, encoded, settings, eos, **kwargs)


def test_greedy_rows_match_generate_alone(model_and_tokenizer):
    model, tokenizer = model_and_tokenizer
    settings = GenerationSettings(max_new_tokens=12)
    result = run(model, tokenizer, PROMPTS, settings, [2])
    assert result.tokens == reference(model, tokenizer, PROMPTS, settings, [2])
    assert result.complete == [True] * len(PROMPTS)


def test_a_row_that_ends_leaves_the_batch_and_the_others_are_unchanged(model_and_tokenizer):
    model, tokenizer = model_and_tokenizer
    settings = GenerationSettings(max_new_tokens=12)
    free = run(model, tokenizer, PROMPTS, settings, [2])
    end = free.tokens[1][3]  # make row 1's fourth token an end-of-text token
    assert all(end not in row[:3] for row in free.tokens[1:2])
    held: list[list[int]] = []
    result = run(model, tokenizer, PROMPTS, settings, [end], use_rows=held.append)
    expected = reference(model, tokenizer, PROMPTS, settings, [end])
    assert result.tokens == expected
    assert result.tokens[1] == free.tokens[1][:4] and result.complete[1]
    assert any(1 not in rows for rows in held), "the finished row must leave the batch"
    assert len(held[-1]) < len(PROMPTS)


def test_min_new_tokens_holds_back_the_end(model_and_tokenizer):
    model, tokenizer = model_and_tokenizer
    free = run(model, tokenizer, PROMPTS, GenerationSettings(max_new_tokens=12), [2])
    end = free.tokens[0][1]
    settings = GenerationSettings(max_new_tokens=12, min_new_tokens=12)
    result = run(model, tokenizer, PROMPTS, settings, [end])
    assert [len(row) for row in result.tokens] == [12] * len(PROMPTS)
    assert result.tokens == reference(model, tokenizer, PROMPTS, settings, [end])


def test_sampling_gives_a_row_the_same_draws_wherever_it_sits(model_and_tokenizer):
    """Every row's random stream starts from the seed: the same prompt twice samples the same
    text, and a row samples the same text alone as in a batch."""
    model, tokenizer = model_and_tokenizer
    settings = GenerationSettings(max_new_tokens=10, do_sample=True, temperature=1.5, seed=3)
    batch = run(model, tokenizer, [PROMPTS[0], PROMPTS[2], PROMPTS[0]], settings, [2])
    alone = run(model, tokenizer, [PROMPTS[0]], settings, [2])
    greedy = run(model, tokenizer, [PROMPTS[0]], GenerationSettings(max_new_tokens=10), [2])
    assert batch.tokens[0] == batch.tokens[2] == alone.tokens[0]
    assert alone.tokens[0] != greedy.tokens[0]
    other_seed = run(model, tokenizer, [PROMPTS[0]], GenerationSettings(**{**settings.__dict__, "seed": 4}), [2])
    assert other_seed.tokens[0] != alone.tokens[0]


def test_stop_ends_every_row_after_the_current_step(model_and_tokenizer):
    model, tokenizer = model_and_tokenizer
    stop = threading.Event()
    steps = []

    def on_tokens(rows, tokens):
        steps.append(rows)
        if len(steps) == 3:
            stop.set()

    result = run(model, tokenizer, PROMPTS, GenerationSettings(max_new_tokens=12), [2], on_tokens=on_tokens, stop=stop)
    assert max(len(row) for row in result.tokens) <= 3
    assert result.complete == [False] * len(PROMPTS)


@pytest.mark.parametrize("sample", [False, True])
def test_a_decode_paused_at_every_step_writes_the_same_tokens(model_and_tokenizer, sample):
    """Paused between every two forward passes (prompt groups included), with other decodes run in
    between, a decode goes on from its kept state to exactly the tokens of an uninterrupted one."""
    model, tokenizer = model_and_tokenizer
    settings = GenerationSettings(max_new_tokens=12, do_sample=sample, temperature=1.5, seed=5)
    free = run(model, tokenizer, PROMPTS, settings, [2])
    end = free.tokens[1][3]  # row 1 ends early: rows leave while the decode is paused and resumed
    whole = run(model, tokenizer, PROMPTS, settings, [end])
    encoded = tokenizer(PROMPTS, return_tensors="pt", padding=True, add_special_tokens=False)
    decoding = Decoding(model, encoded, settings, [end])
    slices, written = 0, []
    with torch.inference_mode():
        while not decoding.run(pause=lambda: True):
            slices += 1
            written.append(decoding.tokens()[0])
            run(model, tokenizer, [PROMPTS[2]], settings, [2])  # somebody else's work in between
    assert decoding.result() == whole
    assert slices >= settings.max_new_tokens - 1 + len(set(len(p) for p in PROMPTS)) - 1
    assert written == sorted(written) and written[0] < written[-1]
    assert decoding.tokens() == (sum(len(row) for row in whole.tokens),) * 2  # done: all written, none expected more


def test_the_prefill_reads_at_most_prefill_tokens_a_pass_and_writes_the_same_tokens(model_and_tokenizer, monkeypatch):
    """Each pass of the prefill is a slice the model cannot be given up in: rows of one length go in passes
    of at most PREFILL_TOKENS tokens (one row at least), so a visitor waits for one such pass, not for the
    whole batch's prompts (before: 3 rows of the longest prompt in one pass). Tokens as generate alone."""
    model, tokenizer = model_and_tokenizer
    prompts = PROMPTS * 3  # three rows of each length
    lengths = [len(tokenizer(p, add_special_tokens=False)["input_ids"]) for p in prompts]
    monkeypatch.setattr(decoding, "PREFILL_TOKENS", max(lengths) + 1)  # one row of the longest, more of the others
    settings = GenerationSettings(max_new_tokens=6)
    passes = []
    hook = model.register_forward_pre_hook(lambda m, args, kwargs: passes.append(tuple(kwargs["input_ids"].shape)),
                                           with_kwargs=True)
    try:
        result = run(model, tokenizer, prompts, settings, [2])
    finally:
        hook.remove()
    prefill = passes[: len(passes) - (settings.max_new_tokens - 1)]  # the decode steps come last
    assert sum(rows for rows, _ in prefill) == len(prompts)
    assert all(rows == 1 or rows * tokens <= max(lengths) + 1 for rows, tokens in prefill), prefill
    assert (1, max(lengths)) in prefill and any(rows > 1 for rows, _ in prefill)
    assert result.tokens == reference(model, tokenizer, prompts, settings, [2])


def test_decode_texts_streams_the_whole_text_last(model_and_tokenizer):
    model, tokenizer = model_and_tokenizer
    heard: list[list[str]] = []
    result = decode_texts(model, tokenizer, PROMPTS, GenerationSettings(max_new_tokens=12), on_rows=heard.append)
    assert heard[-1] == result.texts and len(heard) >= 2  # how many in between depends on the clock


def test_row_stream_shows_the_first_token_then_at_most_every_interval(model_and_tokenizer):
    _, tokenizer = model_and_tokenizer
    heard: list[list[str]] = []
    eager = RowStream(tokenizer, heard.append, rows=2, interval=0)
    for token in tokenizer("abc", add_special_tokens=False)["input_ids"]:
        eager.add([0, 1], [token, token])
    assert heard == [["a", "a"], ["ab", "ab"], ["abc", "abc"]]
    heard.clear()
    calm = RowStream(tokenizer, heard.append, rows=1, interval=3600)
    for token in tokenizer("abc", add_special_tokens=False)["input_ids"]:
        calm.add([0], [token])
    calm.end()
    assert heard == [["a"], ["abc"]]


def test_a_generation_config_with_more_processors_is_left_to_generate(model_and_tokenizer):
    model, _ = model_and_tokenizer
    assert supports(model)
    model.generation_config.repetition_penalty = 1.3
    try:
        assert not supports(model)
    finally:
        model.generation_config.repetition_penalty = 1.0


def test_min_new_tokens_above_max_is_a_clear_error():
    with pytest.raises(ConfigError, match="min_new_tokens must be between 0 and max_new_tokens"):
        GenerationSettings(max_new_tokens=4, min_new_tokens=5)


# ---- planning ----------------------------------------------------------------------------------
def test_split_rows_go_by_prompt_length_and_stay_grouped_by_variant():
    lengths = [30, 5, 31, 6]
    batches = inprocess._batches(["base", "a", "b"], lengths, size=6)
    assert [len(b) for b in batches] == [6, 6]
    assert {i for i, _ in batches[0]} == {1, 3} and {i for i, _ in batches[1]} == {0, 2}  # short prompts together
    for batch in batches:
        variants = [v for _, v in batch]
        assert variants == sorted(variants, key=["base", "a", "b"].index)  # one contiguous run per variant
    whole = inprocess._batches(["base", "a"], lengths, size=64)
    assert whole == [tuple((i, v) for v in ("base", "a") for i in range(4))]
    assert [len(b) for b in inprocess._batches(["base", "a", "b"], lengths, size=10)] == [6, 6]  # even, not 10 + 2


def test_rows_per_batch_shrinks_when_memory_is_short(tiny_session, monkeypatch):
    backend = tiny_session.backend
    settings = GenerationSettings(max_new_tokens=64)
    assert backend.rows_per_batch(40, settings) == settings.batch_size
    monkeypatch.setattr(inprocess, "_free_memory", lambda device: 4 * 50_000)
    assert 1 <= backend.rows_per_batch(40, settings) < settings.batch_size
    monkeypatch.setattr(inprocess, "_free_memory", lambda device: 0)
    assert backend.rows_per_batch(40, settings) == 1


# ---- the model thread --------------------------------------------------------------------------
def test_model_work_runs_on_one_thread_and_errors_come_back():
    names = {on_model_thread(lambda: threading.current_thread().name) for _ in range(3)}
    assert len(names) == 1 and names.pop().startswith("adapters-ui-model")
    assert on_model_thread(on_model_thread, sum, [1, 2]) == 3  # nested: no deadlock
    with pytest.raises(ZeroDivisionError):
        on_model_thread(lambda: 1 / 0)
