"""The in-process judge route: a judge model loaded beside the base, asked like a server, read as free text.

On the tiny random model (fast: the path, the counts, the unparseable replies a weak judge gives) and on the
embedded SmolLM2 (integration: a real, weak judge; one unpadded reply equals plain ``generate``).
"""

from __future__ import annotations

import pytest
from app_server import CACHE
from helpers import plain_generate

from adapters_ui.analysis.judge_agreement import ORDER_VERDICTS, swap_stats
from adapters_ui.config import Settings
from adapters_ui.errors import JudgeError
from adapters_ui.formatting import format_chat
from adapters_ui.judging.local import LocalJudge
from adapters_ui.judging.pairwise import PairQuestion, judge_pairs
from adapters_ui.judging.templates import PAIRWISE

PAIRS = [PairQuestion("What is the capital of France?", "Paris is the capital of France.", "Arr, 'tis Paris, matey!"),
         PairQuestion("Name a primary colour.", "Red.", '{"answer": "red"}', reference="Red")]


def test_a_local_judge_answers_every_order_and_unreadable_replies_stay_unparseable(tiny_settings):
    judge = LocalJudge(tiny_settings.base_model, tiny_settings, max_tokens=12, batch=3)
    verdicts = judge_pairs(judge, PAIRS)
    assert judge.requests == 4 and judge.structured is False and "(in this process)" in judge.name
    for verdict in verdicts:
        assert {verdict.left_first, verdict.right_first} <= set(ORDER_VERDICTS)
        assert all(r.prompt_tokens > 0 and 0 <= r.completion_tokens <= 12 and not r.structured for r in verdict.replies)
    assert swap_stats([(v.left_first, v.right_first) for v in verdicts]).pairs == 2


def test_a_judge_that_cannot_load_is_one_line(tmp_path):
    with pytest.raises(JudgeError, match="Judge: ") as error:
        LocalJudge(str(tmp_path / "nothing.gguf"), Settings(cache_dir=tmp_path))
    assert "\n" not in str(error.value)


@pytest.mark.integration
def test_the_embedded_model_as_judge_gives_plain_generate_replies():
    judge = LocalJudge(None, Settings(cache_dir=CACHE), max_tokens=24, batch=1)
    messages = PAIRWISE.render(question=PAIRS[0].question, answer_a=PAIRS[0].left, answer_b=PAIRS[0].right)
    reply = judge.ask(messages)
    tokenizer, network = judge.loaded.tokenizer, judge.loaded.model
    assert reply.text == plain_generate(network, tokenizer, format_chat(tokenizer, messages), 24, formatted=True).strip()
    assert reply.completion_tokens and reply.prompt_tokens > 200  # the MT-Bench prompt is long (267 tokens here)
    verdicts = judge_pairs(judge, PAIRS)
    assert judge.requests == 1 + 4 and all(v.choice in {"left", "right", "tie", "unparseable"} for v in verdicts)
