"""One pair judged in both orders, and one output graded on a rubric: what a judging job asks of a judge.

The judge never sees variant names: the answers are "Assistant A" and "Assistant B", and each pair is
asked twice, once with each variant first (MT-Bench). ``combine_orders`` (analysis/judge_agreement) turns
the two raw verdicts into the pair's choice; a reply that cannot be read stays ``unparseable``.
"""

from __future__ import annotations

from dataclasses import dataclass

from adapters_ui.analysis.judge_agreement import combine_orders
from adapters_ui.judging.client import JudgeClient, JudgeReply
from adapters_ui.judging.parse import PAIRWISE_SCHEMA, RUBRIC_SCHEMA, parse_grade, parse_pairwise
from adapters_ui.judging.templates import DEFAULT_RUBRIC, JudgeTemplate, template_for


@dataclass(frozen=True)
class PairQuestion:
    """One prompt's pair of outputs, in the pair's canonical order (left, right)."""

    question: str
    left: str
    right: str
    reference: str | None = None


@dataclass(frozen=True)
class PairVerdict:
    """Both orders' raw replies and verdicts, and the pair's choice (left | right | tie | unparseable)."""

    left_first: str  # first | second | tie | unparseable, with the left output shown as A
    right_first: str  # the same with the right output shown as A
    choice: str
    consistent: bool
    replies: tuple[JudgeReply, JudgeReply]  # (left first, right first), raw text kept


@dataclass(frozen=True)
class Grade:
    """A rubric grade 1..5 (None: unreadable) with the judge's feedback and raw reply."""

    grade: int | None
    feedback: str
    reply: JudgeReply


def pair_messages(pair: PairQuestion, template: JudgeTemplate | None = None) -> tuple[list[dict], list[dict]]:
    """The two conversations of a pair: left output as A, then right output as A."""
    template = template or template_for("pairwise", bool(pair.reference))
    values = {"question": pair.question, "reference": pair.reference or ""}
    return (template.render(**values, answer_a=pair.left, answer_b=pair.right),
            template.render(**values, answer_a=pair.right, answer_b=pair.left))


def judge_pairs(judge: JudgeClient, pairs: list[PairQuestion], template: JudgeTemplate | None = None) -> list[PairVerdict]:
    """Every pair in both orders, all requests in flight together (``judge.concurrency`` at a time)."""
    conversations = [messages for pair in pairs for messages in pair_messages(pair, template)]
    replies = judge.ask_many(conversations, PAIRWISE_SCHEMA)
    verdicts = []
    for first, second in zip(replies[0::2], replies[1::2]):
        left_first, right_first = parse_pairwise(first.text), parse_pairwise(second.text)
        choice, consistent = combine_orders(left_first, right_first)
        verdicts.append(PairVerdict(left_first, right_first, choice, consistent, (first, second)))
    return verdicts


def grade_outputs(judge: JudgeClient, questions: list[str], answers: list[str], references: list[str | None],
                  rubric: str = DEFAULT_RUBRIC, template: JudgeTemplate | None = None) -> list[Grade]:
    """A Prometheus-style grade for each answer, with the reference where the item has one."""
    conversations = [(template or template_for("rubric", bool(reference))).render(
                         question=question, answer=answer, rubric=rubric, reference=reference or "")
                     for question, answer, reference in zip(questions, answers, references)]
    return [Grade(*parse_grade(reply.text), reply) for reply in judge.ask_many(conversations, RUBRIC_SCHEMA)]
