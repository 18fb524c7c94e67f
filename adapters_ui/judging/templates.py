"""What a judge model reads: MT-Bench's pairwise prompts and Prometheus 2's rubric prompt, editable.

A template is a system prompt and a user prompt with named holes. Answers and questions are put in
with one pass over the template (never ``str.format``), so braces in an answer (JSON!) stay as written:

    >>> messages = PAIRWISE.render(question="Name a colour.", answer_a='{"colour": "blue"}', answer_b="Red.")
    >>> messages[1]["content"].splitlines()[4]
    '{"colour": "blue"}'
    >>> len(PAIRWISE.hash)
    16

Every stored judgement keeps its template's ``hash``: edit a template and the cache misses, as it should.
Sources: FastChat ``llm_judge/data/judge_prompts.jsonl`` ("pair-v2", "pair-math-v1"; Zheng et al. 2023) and
prometheus-eval's ``ABSOLUTE_PROMPT`` (Kim et al. 2024).
"""

from __future__ import annotations

import hashlib
import re
from dataclasses import dataclass

from adapters_ui.errors import ConfigError

HOLE = re.compile(r"\{(question|answer_a|answer_b|answer|reference|rubric)\}")
PAIRWISE_HOLES = ("question", "answer_a", "answer_b")
RUBRIC_HOLES = ("question", "answer", "rubric")


@dataclass(frozen=True)
class JudgeTemplate:
    """A system prompt and a user prompt with holes such as ``{question}`` and ``{answer_a}``."""

    name: str
    kind: str  # "pairwise" | "rubric"
    system: str
    user: str

    @property
    def hash(self) -> str:
        """The first 16 hex digits of the SHA-256 of kind, system and user prompt: the cache's key part."""
        return hashlib.sha256("\0".join((self.kind, self.system, self.user)).encode()).hexdigest()[:16]

    @property
    def holes(self) -> set[str]:
        return set(HOLE.findall(self.system + self.user))

    def render(self, **values: str) -> list[dict]:
        """Chat messages with every hole filled; a hole without a value is a one-line error."""
        missing = sorted(self.holes - values.keys())
        if missing:
            raise ConfigError(f"Judge template {self.name!r} needs {{{missing[0]}}}, which was not given.")

        def fill(text: str) -> str:
            return HOLE.sub(lambda m: str(values[m.group(1)]), text)

        messages = [{"role": "system", "content": fill(self.system)}] if self.system.strip() else []
        return messages + [{"role": "user", "content": fill(self.user)}]


def required_holes(template: JudgeTemplate) -> tuple[str, ...]:
    """The holes an edit of ``template`` must keep: its kind's, and ``reference`` when it has one.

    >>> required_holes(PAIRWISE_WITH_REFERENCE)
    ('question', 'answer_a', 'answer_b', 'reference')
    """
    needed = PAIRWISE_HOLES if template.kind == "pairwise" else RUBRIC_HOLES
    return (*needed, "reference") if "reference" in template.holes else needed


def edited(template: JudgeTemplate, system: str, user: str) -> JudgeTemplate:
    """``template`` with a visitor's edits, refused in one line when a hole it needs is gone."""
    needed = required_holes(template)
    new = JudgeTemplate(template.name, template.kind, system or "", user or "")
    missing = [hole for hole in needed if hole not in new.holes]
    if missing:
        raise ConfigError(f"The edited {template.name!r} template lost {{{missing[0]}}}: put it back "
                          f"(it needs {', '.join('{' + h + '}' for h in needed)}).")
    return new


_PAIR_RULES = (
    "Avoid any position biases and ensure that the order in which the responses were presented does not influence "
    "your decision. Do not allow the length of the responses to influence your evaluation. Do not favor certain "
    "names of the assistants. Be as objective as possible. After providing your explanation, output your final "
    'verdict by strictly following this format: "[[A]]" if assistant A is better, "[[B]]" if assistant B is better, '
    'and "[[C]]" for a tie.'
)
_ANSWERS = ("[The Start of Assistant A's Answer]\n{answer_a}\n[The End of Assistant A's Answer]\n\n"
            "[The Start of Assistant B's Answer]\n{answer_b}\n[The End of Assistant B's Answer]")

PAIRWISE = JudgeTemplate(
    "pairwise", "pairwise",
    "Please act as an impartial judge and evaluate the quality of the responses provided by two AI assistants to the "
    "user question displayed below. You should choose the assistant that follows the user's instructions and answers "
    "the user's question better. Your evaluation should consider factors such as the helpfulness, relevance, "
    "accuracy, depth, creativity, and level of detail of their responses. Begin your evaluation by comparing the two "
    "responses and provide a short explanation. " + _PAIR_RULES,
    "[User Question]\n{question}\n\n" + _ANSWERS,
)

PAIRWISE_WITH_REFERENCE = JudgeTemplate(
    "pairwise with reference", "pairwise",
    "Please act as an impartial judge and evaluate the quality of the responses provided by two AI assistants to the "
    "user question displayed below. Your evaluation should consider correctness and helpfulness. You will be given a "
    "reference answer, assistant A's answer, and assistant B's answer. Your job is to evaluate which assistant's "
    "answer is better. Begin your evaluation by comparing both assistants' answers with the reference answer. "
    "Identify and correct any mistakes. " + _PAIR_RULES,
    "[User Question]\n{question}\n\n[The Start of Reference Answer]\n{reference}\n[The End of Reference Answer]\n\n"
    + _ANSWERS,
)

DEFAULT_RUBRIC = (
    "[Does the response answer the instruction helpfully, correctly and in the form it asks for?]\n"
    "Score 1: The response ignores the instruction or is wrong.\n"
    "Score 2: The response addresses the instruction but is mostly wrong or unhelpful.\n"
    "Score 3: The response is partly right and partly helpful, or right but not in the form asked for.\n"
    "Score 4: The response is right and helpful, with small flaws.\n"
    "Score 5: The response is right, helpful and exactly in the form the instruction asks for."
)

_RUBRIC_SYSTEM = ("You are a fair judge assistant tasked with providing clear, objective feedback based on a specific "
                  "criteria, ensuring each assessment reflects the absolute standards set for performance.")
_RUBRIC_STEPS = (
    "1. Write a detailed feedback that assess the quality of the response strictly based on the given score rubric, "
    "not evaluating in general.\n"
    "2. After writing a feedback, write a score that is an integer between 1 and 5. You should refer to the score "
    "rubric.\n"
    '3. The output format should look as follows: "(write a feedback for criteria) [RESULT] (an integer number '
    'between 1 and 5)"\n'
    "4. Please do not generate any other opening, closing, and explanations.\n\n"
)

RUBRIC = JudgeTemplate(
    "rubric", "rubric", _RUBRIC_SYSTEM,
    "###Task Description:\nAn instruction (might include an Input inside it), a response to evaluate, and a score "
    "rubric representing a evaluation criteria are given.\n" + _RUBRIC_STEPS
    + "###The instruction to evaluate:\n{question}\n\n###Response to evaluate:\n{answer}\n\n"
    "###Score Rubrics:\n{rubric}\n\n###Feedback: ",
)

RUBRIC_WITH_REFERENCE = JudgeTemplate(
    "rubric with reference", "rubric", _RUBRIC_SYSTEM,
    "###Task Description:\nAn instruction (might include an Input inside it), a response to evaluate, a reference "
    "answer that gets a score of 5, and a score rubric representing a evaluation criteria are given.\n"
    + _RUBRIC_STEPS
    + "###The instruction to evaluate:\n{question}\n\n###Response to evaluate:\n{answer}\n\n"
    "###Reference Answer (Score 5):\n{reference}\n\n###Score Rubrics:\n{rubric}\n\n###Feedback: ",
)

TEMPLATES = {t.name: t for t in (PAIRWISE, PAIRWISE_WITH_REFERENCE, RUBRIC, RUBRIC_WITH_REFERENCE)}

# What fills {reference} for an item without one, when a judging of a set that mixes both uses the
# with-reference template (one template per judging: every verdict keeps the same template hash).
NO_REFERENCE = "(none: this question has no reference answer, so judge the answers on their own)"


def template_for(kind: str, has_reference: bool) -> JudgeTemplate:
    """The shipped template of ``kind`` (pairwise | rubric), with the reference when the item has one."""
    if kind == "pairwise":
        return PAIRWISE_WITH_REFERENCE if has_reference else PAIRWISE
    if kind == "rubric":
        return RUBRIC_WITH_REFERENCE if has_reference else RUBRIC
    raise ConfigError(f"Judge mode {kind!r} is not known: use pairwise or rubric.")
