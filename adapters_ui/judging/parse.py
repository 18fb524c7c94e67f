"""Reading a judge's reply: a pairwise verdict or a 1-5 grade, never a guess.

A reply is read as JSON when it is a JSON object (structured outputs), else as MT-Bench / Prometheus
free text. What cannot be read with certainty is ``unparseable``: a reply that names two different
verdicts, none, or a grade outside 1..5.

    >>> parse_pairwise("B is more precise. [[B]]")
    'second'
    >>> parse_pairwise('{"explanation": "same facts", "verdict": "C"}')
    'tie'
    >>> parse_pairwise("[[A]] or maybe [[B]]")
    'unparseable'
    >>> parse_grade("Clear and correct. [RESULT] 4")
    (4, 'Clear and correct.')
"""

from __future__ import annotations

import json
import re

VERDICTS = {"A": "first", "B": "second", "C": "tie"}
UNPARSEABLE = "unparseable"
_MARK = re.compile(r"\[\[\s*([ABC])\s*\]\]")
_RESULT = re.compile(r"\[RESULT\]\s*\(?\s*([0-9]+(?:\.[0-9]+)?)\s*\)?", re.IGNORECASE)

# The shapes a judge is asked for where the server can constrain its output (response_format json_schema).
# The explanation is bounded so that a reply always closes within a judge's token limit (a cut-off JSON object
# would be unparseable).
PAIRWISE_SCHEMA = {
    "type": "object",
    "properties": {"explanation": {"type": "string", "maxLength": 600},
                   "verdict": {"type": "string", "enum": ["A", "B", "C"]}},
    "required": ["explanation", "verdict"],
    "additionalProperties": False,
}
RUBRIC_SCHEMA = {
    "type": "object",
    "properties": {"feedback": {"type": "string", "maxLength": 600},
                   "score": {"type": "integer", "minimum": 1, "maximum": 5}},
    "required": ["feedback", "score"],
    "additionalProperties": False,
}


def _json_object(text: str) -> dict | None:
    text = text.strip()
    if text.startswith("```"):  # a fenced block: ```json ... ```
        text = text.strip("`").removeprefix("json").strip()
    if not text.startswith("{"):
        return None
    try:
        value = json.loads(text)
    except ValueError:
        return None
    return value if isinstance(value, dict) else None


def parse_pairwise(text: str) -> str:
    """"first" (assistant A, shown first), "second", "tie" or "unparseable"."""
    found = _json_object(text)
    if found is not None:
        verdict = str(found.get("verdict", "")).strip().strip("[]").upper()
        return VERDICTS.get(verdict, UNPARSEABLE)
    marks = set(_MARK.findall(text))
    return VERDICTS[marks.pop()] if len(marks) == 1 else UNPARSEABLE


def parse_grade(text: str) -> tuple[int | None, str]:
    """(grade 1..5 or None when unreadable, the feedback): Prometheus' "feedback [RESULT] N", or JSON."""
    found = _json_object(text)
    if found is not None:
        score, feedback = found.get("score"), str(found.get("feedback", "")).strip()
    else:
        results = _RESULT.findall(text)
        feedback = _RESULT.split(text)[0].strip() if results else text.strip()
        score = results[0] if len(set(results)) == 1 else None
    try:
        grade = float(score)
    except (TypeError, ValueError):
        return None, feedback
    return (int(grade), feedback) if grade.is_integer() and 1 <= grade <= 5 else (None, feedback)
