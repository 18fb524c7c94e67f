"""Token-level divergence: the math by hand, and the backend's teacher forcing against plain PEFT.

Reference for the backend = PeftModel.from_pretrained on a fresh copy of the base, one adapter,
one unpadded text, a plain forward pass; the backend instead batches with left padding and
swaps adapter families, which must not change a log-probability beyond float rounding.
"""

from __future__ import annotations

import copy
import math

import pytest
import torch
from helpers import adapter_configs, make_adapter

from adapters_ui.analysis.divergence import TokenScores, summarize
from adapters_ui.analysis.text_diff import difference_summary
from adapters_ui.backends.inprocess.token_stats import token_pieces, token_stats
from adapters_ui.errors import UnknownVariantError
from adapters_ui.runs.prompts import format_prompt

PROMPTS = ["Hello there", "What is 2+2?", "Write a long poem about the sea", "x"]
OUTPUTS = ["General Kenobi!", "4", "The sea is wide and the sky", ""]


def test_identical_distributions_have_zero_kl_and_no_changed_top1():
    logits = torch.randn(5, 11, generator=torch.Generator().manual_seed(0))
    stats = token_stats(logits, logits.clone(), torch.arange(5))
    assert stats["kl"].tolist() == [0.0] * 5
    assert not stats["top1_changed"].any()
    assert torch.equal(stats["logprob"], stats["base_logprob"])


def test_a_small_case_worked_by_hand():
    # variant p = (3/4, 1/4), base q = (1/4, 3/4); the variant wrote token 0.
    # KL(p||q) = 3/4 ln 3 + 1/4 ln(1/3) = 1/2 ln 3; the base's first choice is token 1 (p = 3/4).
    variant = torch.tensor([[math.log(3.0), 0.0]])
    base = torch.tensor([[0.0, math.log(3.0)]])
    stats = token_stats(variant, base, torch.tensor([0]))
    assert stats["kl"].item() == pytest.approx(0.5 * math.log(3.0), rel=1e-6)
    assert stats["logprob"].item() == pytest.approx(math.log(0.75), rel=1e-6)
    assert stats["base_logprob"].item() == pytest.approx(math.log(0.25), rel=1e-6)
    assert stats["top1_changed"].tolist() == [True]
    assert stats["base_top"].tolist() == [1]
    assert stats["base_top_prob"].item() == pytest.approx(0.75, rel=1e-6)


def _scores(kl: list[float], changed: list[bool]) -> TokenScores:
    n = len(kl)
    return TokenScores(["t"] * n, [0] * n, [0.0] * n, [0.0] * n, kl, changed, ["u"] * n, [1.0] * n)


def test_summary_pools_tokens_of_all_outputs():
    # 5 tokens: KL sum 0.1 + 0.3 + 0 + 0 + 0.6 = 1.0 -> mean 0.2; 2 of 5 changed; first at 1 and at 2 -> 1.5
    first = _scores([0.1, 0.3], [False, True])
    second = _scores([0.0, 0.0, 0.6], [False, False, True])
    same = _scores([0.0], [False])
    summary = summarize("v", [first, None, second, same])
    assert (summary.outputs, summary.tokens) == (3, 6)
    assert summary.mean_divergence == pytest.approx(1.0 / 6)
    assert summary.top1_changed_share == pytest.approx(2 / 6)
    assert summary.first_divergent == pytest.approx(1.5)
    assert summary.never_diverged == 1
    assert summarize("v", [None]).first_divergent is None


def test_token_pieces_rebuild_the_text(tiny_session):
    tokenizer = tiny_session.base.tokenizer
    ids = tokenizer("Arr, matey!", add_special_tokens=False)["input_ids"]
    assert "".join(token_pieces(tokenizer, ids)) == tokenizer.decode(ids)


def _plain_logprobs(model, tokenizer, text: str, continuation: str) -> tuple[torch.Tensor, torch.Tensor]:
    """log-softmax over the continuation's positions from one unpadded forward pass, and the ids."""
    prompt = tokenizer(text, add_special_tokens=False)["input_ids"]
    target = tokenizer(continuation, add_special_tokens=False)["input_ids"]
    with torch.no_grad():
        logits = model(input_ids=torch.tensor([prompt + target])).logits[0]
    span = logits[-len(target) - 1 : -1] if target else logits[:0]
    return torch.log_softmax(span.float(), dim=-1), torch.tensor(target, dtype=torch.long)


def _read(session, variant: str, outputs=OUTPUTS, references=None):
    texts = [format_prompt(session.base.tokenizer, p) for p in PROMPTS]
    return session.backend.read_back(texts, {variant: list(outputs)}, references or [None] * len(PROMPTS))


@pytest.mark.parametrize("name", list(adapter_configs()))
def test_read_back_matches_plain_peft_for_every_type(name, tiny_session, tiny_adapters, pristine_base):
    from peft import PeftModel

    for path in tiny_adapters.values():  # all families attached: reading must mount the right one
        tiny_session.attach(path)
    tokenizer = tiny_session.base.tokenizer
    references = ["Hi!", None, "The sky", "y y"]
    read = _read(tiny_session, name, references=references)
    plain = PeftModel.from_pretrained(copy.deepcopy(pristine_base), str(tiny_adapters[name])).eval()
    for prompt, output, scores in zip(PROMPTS, OUTPUTS, read.tokens[name]):
        text = format_prompt(tokenizer, prompt)
        own, ids = _plain_logprobs(plain, tokenizer, text, output)
        base, _ = _plain_logprobs(pristine_base, tokenizer, text, output)
        assert scores.token_ids == ids.tolist()
        torch.testing.assert_close(torch.tensor(scores.logprob), own.gather(-1, ids[:, None])[:, 0], rtol=1e-4, atol=1e-5)
        torch.testing.assert_close(torch.tensor(scores.base_logprob), base.gather(-1, ids[:, None])[:, 0], rtol=1e-4, atol=1e-5)
        kl = (own.exp() * (own - base)).sum(-1)
        torch.testing.assert_close(torch.tensor(scores.kl), kl.clamp_min(0), rtol=1e-3, atol=1e-5)
        assert scores.top1_changed == (own.argmax(-1) != base.argmax(-1)).tolist()
        assert scores.base_top == [tokenizer.decode([t]) for t in base.argmax(-1).tolist()]
    for prompt, reference, logprobs in zip(PROMPTS, references, read.reference_logprobs[name]):
        if reference is None:
            assert logprobs is None
            continue
        own, ids = _plain_logprobs(plain, tokenizer, format_prompt(tokenizer, prompt), reference)
        torch.testing.assert_close(torch.tensor(logprobs), own.gather(-1, ids[:, None])[:, 0], rtol=1e-4, atol=1e-5)
    assert any(k > 1e-4 for s in read.tokens[name] for k in s.kl), "the test adapter must move the distribution"
    texts = [format_prompt(tokenizer, p) for p in PROMPTS]
    for variant in ("base", name):  # one model's reading of the references alone (an evaluation's turn): the same
        alone = tiny_session.backend.read_references(texts, references, variant)
        for together, logprobs in zip(read.reference_logprobs[variant], alone):
            assert (logprobs is None) == (together is None)
            if logprobs is not None:
                torch.testing.assert_close(torch.tensor(logprobs), torch.tensor(together), rtol=1e-4, atol=1e-5)


def test_base_against_itself_is_zero_everywhere(tiny_session, tiny_adapters):
    tiny_session.attach(tiny_adapters["lora"])
    scored = _read(tiny_session, "base").tokens["base"]
    assert [len(s.tokens) for s in scored] == [len(o) for o in OUTPUTS]  # the character tokenizer: one per char
    assert all(k == 0.0 for s in scored for k in s.kl)
    assert not any(c for s in scored for c in s.top1_changed)


def test_missing_outputs_are_not_scored(tiny_session, tiny_adapters):
    tiny_session.attach(tiny_adapters["lora"])
    scored = _read(tiny_session, "lora", outputs=[None, "4", None, "ab"]).tokens["lora"]
    assert scored[0] is None and scored[2] is None and [len(scored[1].tokens), len(scored[3].tokens)] == [1, 2]


def test_an_adapter_that_changes_nothing_scores_zero(tiny_session, tmp_path):
    from peft import LoraConfig

    noop = make_adapter(tiny_session.base.model, LoraConfig(r=4, target_modules=["q_proj"], task_type="CAUSAL_LM"),
                        tmp_path / "noop", scale=0.0)  # lora_B = 0: the update B A is exactly zero
    tiny_session.attach(noop)
    summary = summarize("noop", _read(tiny_session, "noop").tokens["noop"])
    assert summary.mean_divergence == 0.0 and summary.top1_changed_share == 0.0 and summary.first_divergent is None
    # Through a whole comparison: the same outputs as the base, similarity 1, divergence 0, weight update 0.
    comparison = tiny_session.compare(PROMPTS, settings=tiny_session.generation_settings(max_new_tokens=6))
    (difference,) = difference_summary(comparison.records())
    assert (difference.variant, difference.changed, difference.mean_similarity) == ("noop", 0, 1.0)
    analysis = tiny_session.analyze(comparison)
    assert analysis.mean_divergence == {"base": 0.0, "noop": 0.0}
    assert analysis.summaries["noop"].never_diverged == len(PROMPTS)
    assert all(module.norm == 0.0 for module in tiny_session.weight_effects("noop").modules)


def test_unknown_variant_is_refused(tiny_session):
    with pytest.raises(UnknownVariantError, match="Unknown variant 'nope'"):
        tiny_session.backend.read_back(["a"], {"nope": ["b"]}, [None])


def test_session_analysis_scores_every_output_and_the_references(tiny_session, tiny_adapters):
    tiny_session.attach(tiny_adapters["lora"])
    tiny_session.attach(tiny_adapters["prompt"])
    settings = tiny_session.generation_settings(max_new_tokens=6)
    references = ["Hi!", None, "The sea", "y"]
    comparison = tiny_session.start_compare(PROMPTS, settings=settings, references=references).result()
    analysis = tiny_session.analyze(comparison)
    assert analysis.variants == ("base", "lora", "prompt")
    assert analysis.mean_divergence["base"] == 0.0
    assert analysis.mean_divergence["lora"] > 0.0 and analysis.mean_divergence["prompt"] > 0.0
    for variant in ("lora", "prompt"):  # every adapter output read back token by token
        for record, scores in zip(comparison.records(), analysis.tokens[variant]):
            assert "".join(scores.tokens) == record["outputs"][variant]
    assert analysis.tokens["base"] == [None] * len(PROMPTS)  # the base against itself is zero: not read back
    assert analysis.summaries["base"].never_diverged == len(PROMPTS)
    board = {row["variant"]: row for row in analysis.leaderboard()}
    assert set(board) == {"base", "lora", "prompt"} and all(row["prompts"] == 3 for row in board.values())
    assert all(row["perplexity"] > 1.0 for row in board.values())
    document = analysis.to_dict()
    assert document["mean_divergence"]["base"] == 0.0 and len(document["tokens"]["lora"]) == len(PROMPTS)


def test_analysis_of_a_detached_adapter_says_what_to_do(tiny_session, tiny_adapters):
    tiny_session.attach(tiny_adapters["lora"])
    comparison = tiny_session.compare(PROMPTS[:1], settings=tiny_session.generation_settings(max_new_tokens=3))
    tiny_session.detach("lora")
    with pytest.raises(UnknownVariantError, match="'lora' was detached after this comparison ran: attach it again"):
        tiny_session.analyze(comparison)


def test_analysis_without_the_base_or_with_missing_outputs(tiny_session, tiny_adapters):
    """Adapters compared without the base still get their divergence from it; outputs a Stop never wrote stay unscored."""
    from dataclasses import replace

    tiny_session.attach(tiny_adapters["lora"])
    tiny_session.attach(tiny_adapters["loha"])
    comparison = tiny_session.compare(PROMPTS[:2], ["lora", "loha"], tiny_session.generation_settings(max_new_tokens=4))
    analysis = tiny_session.analyze(comparison)
    assert set(analysis.summaries) == {"lora", "loha"} and analysis.mean_divergence["loha"] > 0
    stopped = replace(comparison, results=(comparison.results[0], replace(comparison.results[1], outputs={"lora": "ab", "loha": None})),
                      status="stopped")
    partial = tiny_session.analyze(stopped)
    assert partial.tokens["loha"][1] is None and partial.summaries["loha"].outputs == 1
    assert [len(s.tokens) for s in partial.tokens["lora"]] == [len(comparison.outputs("lora")[0]), 2]
