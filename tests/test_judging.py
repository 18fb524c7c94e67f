"""The judge's prompts, how its replies are read, and the client, against a real HTTP server that plays the judge.

The scripted judges are what a real weak judge does at its worst: always pick the first answer, answer in
free text on a server without structured outputs, or answer nothing readable.
"""

from __future__ import annotations

import json
import re
from http.server import BaseHTTPRequestHandler

import pytest
from helpers import LocalServer

from adapters_ui.analysis.judge_agreement import swap_stats
from adapters_ui.errors import ConfigError, JudgeError
from adapters_ui.judging.client import JudgeClient
from adapters_ui.judging.pairwise import PairQuestion, grade_outputs, judge_pairs, pair_messages
from adapters_ui.judging.parse import parse_grade, parse_pairwise
from adapters_ui.judging.templates import PAIRWISE, PAIRWISE_WITH_REFERENCE, RUBRIC, edited, template_for


class ScriptedJudge(LocalServer):
    """An OpenAI-compatible server: ``/v1/models`` lists ``models``; a chat request is answered by
    ``script(body) -> (status, text)``. Every chat body is kept in ``bodies``."""

    def __init__(self, script, models=("judge-7b",)):
        bodies = self.bodies = []

        class Handler(BaseHTTPRequestHandler):
            def do_GET(self):  # noqa: N802 - http.server's name
                self._send(200, {"data": [{"id": m, "object": "model"} for m in models]})

            def do_POST(self):  # noqa: N802
                body = json.loads(self.rfile.read(int(self.headers["Content-Length"])))
                bodies.append(body)
                status, text = script(body)
                if status != 200:
                    self._send(status, {"error": {"message": text}})
                else:
                    self._send(200, {"choices": [{"message": {"role": "assistant", "content": text}}],
                                     "usage": {"prompt_tokens": 100, "completion_tokens": 7}})

            def _send(self, status, payload):
                data = json.dumps(payload).encode()
                self.send_response(status)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(data)))
                self.end_headers()
                self.wfile.write(data)

            def log_message(self, *args):
                pass

        super().__init__(Handler)


def user_text(body) -> str:
    return body["messages"][-1]["content"]


def shown_first(body) -> str:
    """The answer the judge was shown as Assistant A."""
    text = user_text(body)
    return text.split("[The Start of Assistant A's Answer]\n")[1].split("\n[The End of Assistant A's Answer]")[0]


def always_first(body):
    return 200, "Both are fine, but the first one reads better. [[A]]"


def likes_pirates(body):
    """A consistent judge: the answer that talks like a pirate wins, wherever it is shown."""
    return 200, "[[A]]" if "Arr" in shown_first(body) else "[[B]]"


PAIRS = [PairQuestion(f"Question {i}?", f"Plain answer {i}.", f"Arr, answer {i}!") for i in range(5)]


@pytest.fixture
def serve():
    servers = []

    def start(script, **kwargs):
        server = ScriptedJudge(script, **kwargs)
        servers.append(server)
        return server, JudgeClient(server.url, retries=1, concurrency=3)

    yield start
    for server in servers:
        server.close()


def test_a_judge_that_always_picks_the_first_answer_has_full_position_bias_and_no_verdict(serve):
    server, judge = serve(always_first)
    verdicts = judge_pairs(judge, PAIRS)
    assert len(server.bodies) == 2 * len(PAIRS)  # every pair in both orders
    assert [v.choice for v in verdicts] == ["tie"] * len(PAIRS) and not any(v.consistent for v in verdicts)
    stats = swap_stats([(v.left_first, v.right_first) for v in verdicts])
    assert stats.position_bias == 1.0 and stats.consistent == 0 and stats.consistency == 0.0
    assert verdicts[0].replies[0].text == "Both are fine, but the first one reads better. [[A]]"  # kept whole


def test_a_consistent_judge_gives_verdicts_that_survive_the_swap(serve):
    server, judge = serve(likes_pirates)
    verdicts = judge_pairs(judge, PAIRS)
    assert [(v.left_first, v.right_first, v.choice, v.consistent) for v in verdicts] == \
        [("second", "first", "right", True)] * len(PAIRS)
    stats = swap_stats([(v.left_first, v.right_first) for v in verdicts])
    assert stats.position_bias == 0.5 and stats.consistency == 1.0
    firsts = [shown_first(body) for body in server.bodies]
    assert sorted(firsts) == sorted([p.left for p in PAIRS] + [p.right for p in PAIRS])  # each output shown first once


def test_the_judge_never_sees_variant_names_and_is_asked_greedily_in_a_schema(serve):
    server, judge = serve(likes_pirates)
    judge_pairs(judge, [PairQuestion("Name a colour.", '{"colour": "blue"}', "Arr, red!", reference="Blue.")])
    for body in server.bodies:
        sent = json.dumps(body["messages"])
        assert "Assistant A" in sent and "pirate" not in sent and "base" not in sent.lower().replace("based", "")
        assert body["model"] == "judge-7b" and body["temperature"] == 0.0
        assert body["response_format"]["type"] == "json_schema"
        assert body["response_format"]["json_schema"]["schema"]["properties"]["verdict"]["enum"] == ["A", "B", "C"]
    assert '{"colour": "blue"}' in user_text(server.bodies[0]) and "[The Start of Reference Answer]\nBlue." in \
        user_text(server.bodies[0])


def test_a_server_without_structured_outputs_is_asked_in_free_text_from_then_on(serve):
    def no_schema(body):
        if "response_format" in body:
            return 400, "response_format is not supported by this server"
        return likes_pirates(body)

    server, judge = serve(no_schema)
    verdicts = judge_pairs(judge, PAIRS[:2])
    assert [v.choice for v in verdicts] == ["right", "right"] and judge.structured is False
    assert not any(r.structured for v in verdicts for r in v.replies)
    refused = sum("response_format" in b for b in server.bodies)
    assert 1 <= refused <= judge.concurrency and len(server.bodies) == 4 + refused  # refused once per thread in flight


@pytest.mark.parametrize("reply, expected", [
    ("[[A]]", "first"), ("Explanation... [[B]]", "second"), ("[[C]]", "tie"), ("[[ B ]]", "second"),
    ('{"explanation": "x", "verdict": "A"}', "first"), ('```json\n{"explanation": "x", "verdict": "C"}\n```', "tie"),
    ("[[A]] ... no wait, [[B]]", "unparseable"), ("I prefer the first one.", "unparseable"), ("", "unparseable"),
    ('{"verdict": "D"}', "unparseable"), ('{"explanation": "no verdict"}', "unparseable"), ("[A]", "unparseable"),
    ("[[A]] and again [[A]]", "first"), ('{"verdict": "[[B]]"}', "second"), ("[1, 2]", "unparseable"),
])
def test_pairwise_replies_are_read_strictly(reply, expected):
    assert parse_pairwise(reply) == expected


@pytest.mark.parametrize("reply, grade, feedback", [
    ("Good answer. [RESULT] 4", 4, "Good answer."), ("Fine [RESULT] (5)", 5, "Fine"), ("ok [RESULT] 3.0", 3, "ok"),
    ('{"feedback": "Terse.", "score": 2}', 2, "Terse."), ("No result here", None, "No result here"),
    ("Bad [RESULT] 7", None, "Bad"), ("[RESULT] 0", None, ""), ("x [RESULT] 2 then [RESULT] 5", None, "x"),
    ('{"feedback": "?", "score": "five"}', None, "?"), ("Half [RESULT] 3.5", None, "Half"),
])
def test_rubric_replies_are_read_strictly(reply, grade, feedback):
    assert parse_grade(reply) == (grade, feedback)


def test_malformed_replies_are_unparseable_never_guessed(serve):
    server, judge = serve(lambda body: (200, "Both answers have merit."))
    verdicts = judge_pairs(judge, PAIRS[:2])
    assert [v.choice for v in verdicts] == ["unparseable"] * 2
    assert swap_stats([(v.left_first, v.right_first) for v in verdicts]).unparseable == 2


def test_rubric_grades_keep_their_feedback_and_use_the_reference(serve):
    replies = iter(['{"feedback": "Correct and short.", "score": 5}', "Off topic. [RESULT] 1", "no grade"])
    server, judge = serve(lambda body: (200, next(replies)))
    judge.concurrency = 1  # replies in the order asked
    grades = grade_outputs(judge, ["Q1", "Q2", "Q3"], ["A1", "A2", "A3"], ["R1", None, None])
    assert [(g.grade, g.feedback) for g in grades] == [(5, "Correct and short."), (1, "Off topic."), (None, "no grade")]
    assert "###Reference Answer (Score 5):\nR1" in user_text(server.bodies[0])
    assert "Reference Answer" not in user_text(server.bodies[1])
    assert grades[0].reply.prompt_tokens == 100 and grades[0].reply.completion_tokens == 7


@pytest.mark.parametrize("models, picked, error", [
    (("judge-7b",), None, None),
    (("a", "b"), None, "serves 2 models (a, b): pick one with --judge-model"),
    (("a", "b"), "b", None),
    ((), None, "lists no model"),
])
def test_the_judge_model_is_found_from_the_server_or_picked(serve, models, picked, error):
    server = ScriptedJudge(always_first, models=models)
    try:
        if error:
            with pytest.raises(JudgeError, match=re.escape(error)):
                JudgeClient(server.url, model=picked, retries=0)
        else:
            assert JudgeClient(server.url, model=picked, retries=0).model == (picked or models[0])
    finally:
        server.close()


@pytest.mark.parametrize("status, message", [(401, "refused the request"), (500, "failed on /chat/completions"),
                                             (404, "refused /chat/completions")])
def test_server_errors_are_one_line_judge_errors(serve, status, message):
    server, judge = serve(lambda body: (status, "no such thing"))
    with pytest.raises(JudgeError) as error:
        judge_pairs(judge, PAIRS[:1])
    assert str(error.value).startswith("Judge: ") and message in str(error.value) and "\n" not in str(error.value)


def test_an_unreachable_judge_is_one_line():
    with pytest.raises(JudgeError, match="is not reachable") as error:
        JudgeClient("http://127.0.0.1:9", retries=0)
    assert "\n" not in str(error.value)


def test_templates_fill_holes_once_and_keep_braces_in_answers():
    messages = PAIRWISE.render(question="Q {answer_b}", answer_a='{"a": 1}', answer_b="B")
    assert messages[0]["role"] == "system" and "[[A]]" in messages[0]["content"]
    assert "Q {answer_b}" in messages[1]["content"] and '{"a": 1}' in messages[1]["content"]  # no second pass
    assert template_for("pairwise", True) is PAIRWISE_WITH_REFERENCE and template_for("rubric", False) is RUBRIC
    first, second = pair_messages(PairQuestion("Q", "left out", "right out"))
    assert shown_first({"messages": first}) == "left out" and shown_first({"messages": second}) == "right out"


@pytest.mark.parametrize("system, user, error", [
    ("Judge fairly.", "{question} / {answer_a} / {answer_b}", None),
    ("Judge fairly.", "{question} / {answer_a}", "lost {answer_b}"),
    ("", "{answer_a} {answer_b}", "lost {question}"),
])
def test_an_edited_template_keeps_its_holes_and_changes_its_hash(system, user, error):
    if error:
        with pytest.raises(ConfigError, match=error):
            edited(PAIRWISE, system, user)
        return
    mine = edited(PAIRWISE, system, user)
    assert mine.hash != PAIRWISE.hash and len(mine.hash) == 16
    assert edited(PAIRWISE, PAIRWISE.system, PAIRWISE.user).hash == PAIRWISE.hash
    with pytest.raises(ConfigError, match="needs {question}"):
        mine.render(answer_a="a", answer_b="b")
    with pytest.raises(ConfigError, match="lost {reference}"):
        edited(PAIRWISE_WITH_REFERENCE, "x", "{question} {answer_a} {answer_b}")
