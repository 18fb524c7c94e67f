"""Prompts from a file or a text box, in the formats people already have them in.

Accepted: ``.txt`` (one prompt a line), ``.jsonl`` (one ``{"prompt": ..., "reference": ...}``
object a line), ``.csv`` (a ``prompt`` column, optional ``reference`` column) and ``.json``
(a list of strings or of such objects). Prompts are stripped of outer whitespace and blank
ones are dropped in every format, so trailing empty lines or rows never become prompts.
Every problem is a one-line ``PromptError`` naming the file and the fix.
"""

from __future__ import annotations

import csv
import io
import json
from pathlib import Path

from .errors import PromptError

SUFFIXES = (".txt", ".jsonl", ".csv", ".json")

_OBJECT_EXAMPLE = '{"prompt": "..."}'


def parse_prompt_lines(text: str) -> list[str]:
    """One prompt a line, as typed into a text box; blank lines are spacing, not prompts."""
    return [line.strip() for line in text.splitlines() if line.strip()]


def _record(prompt: str, reference: str | None) -> dict | None:
    prompt = prompt.strip()
    if not prompt:
        return None
    reference = reference.strip() if reference is not None else None
    return {"prompt": prompt, "reference": reference or None}


def _from_object(obj: object, name: str, where: str) -> dict | None:
    """A record from one JSON value; ``where`` says which line or item it was, for errors."""
    if not isinstance(obj, dict):
        raise PromptError(
            f"Prompt file {name} {where} is not a JSON object: write it as {_OBJECT_EXAMPLE}."
        )
    prompt = obj.get("prompt")
    if not isinstance(prompt, str):
        raise PromptError(
            f'Prompt file {name} {where} has no "prompt" string: write it as {_OBJECT_EXAMPLE}.'
        )
    reference = obj.get("reference")
    if reference is not None and not isinstance(reference, str):
        raise PromptError(
            f'Prompt file {name} {where} has a "reference" that is not a string: '
            "make it a string or leave it out."
        )
    return _record(prompt, reference)


def _read_jsonl(text: str, name: str) -> list[dict | None]:
    records = []
    for number, line in enumerate(text.splitlines(), start=1):
        if not line.strip():
            continue
        try:
            obj = json.loads(line)
        except json.JSONDecodeError:
            raise PromptError(
                f"Prompt file {name} line {number} is not valid JSON: "
                f"write one object per line, like {_OBJECT_EXAMPLE}."
            ) from None
        records.append(_from_object(obj, name, f"line {number}"))
    return records


def _read_json(text: str, name: str) -> list[dict | None]:
    try:
        data = json.loads(text)
    except json.JSONDecodeError as e:
        raise PromptError(
            f"Prompt file {name} is not valid JSON (line {e.lineno}): "
            f'write a list of strings or of {_OBJECT_EXAMPLE} objects.'
        ) from None
    if not isinstance(data, list):
        raise PromptError(
            f'Prompt file {name} holds a JSON {type(data).__name__}, not a list: '
            f'write a list of strings or of {_OBJECT_EXAMPLE} objects.'
        )
    return [
        _record(item, None) if isinstance(item, str) else _from_object(item, name, f"item {i}")
        for i, item in enumerate(data, start=1)
    ]


def _read_csv(text: str, name: str) -> list[dict | None]:
    # strict: an unclosed quote is an error, not a prompt that swallows the rest of the file
    reader = csv.reader(io.StringIO(text, newline=""), strict=True)
    try:
        header = next(reader, None)
        columns = [c.strip().lower() for c in header or []]
        if "prompt" not in columns:
            raise PromptError(
                f"Prompt file {name} has no 'prompt' column: add a header row with a column named prompt."
            )
        p_col = columns.index("prompt")
        r_col = columns.index("reference") if "reference" in columns else None
        records = []
        for row in reader:
            prompt = row[p_col] if p_col < len(row) else ""
            reference = row[r_col] if r_col is not None and r_col < len(row) else None
            records.append(_record(prompt, reference))
        return records
    except csv.Error as e:
        raise PromptError(
            f"Prompt file {name} is not valid CSV near line {reader.line_num} ({e}): "
            "check its quotes, or save it again from a spreadsheet as CSV."
        ) from None


_READERS = {".jsonl": _read_jsonl, ".json": _read_json, ".csv": _read_csv}


def read_prompt_records(path: Path) -> list[dict]:
    """``{"prompt": str, "reference": str | None}`` per prompt, in file order."""
    path = Path(path)
    name = path.name
    suffix = path.suffix.lower()
    if suffix not in SUFFIXES:
        raise PromptError(
            f"Prompt file {name} has an unknown extension {path.suffix or '(none)'!r}: "
            f"use {', '.join(SUFFIXES[:-1])} or {SUFFIXES[-1]}."
        )
    if not path.is_file():
        raise PromptError(f"Prompt file {path} does not exist or is not a file: check the path.")
    try:
        text = path.read_bytes().decode("utf-8-sig")  # -sig: spreadsheets prepend a BOM
    except UnicodeDecodeError:
        raise PromptError(f"Prompt file {name} is not UTF-8 text: save it with UTF-8 encoding.") from None
    except OSError as e:
        raise PromptError(f"Prompt file {name} could not be read ({e.strerror or e}): check its permissions.") from None

    if suffix == ".txt":
        records = [_record(line, None) for line in parse_prompt_lines(text)]
    else:
        records = _READERS[suffix](text, name)
    records = [r for r in records if r is not None]
    if not records:
        raise PromptError(f"Prompt file {name} has no prompts: add at least one non-blank prompt.")
    return records


def read_prompts(path: Path) -> list[str]:
    """Just the prompt texts of a prompt file."""
    return [record["prompt"] for record in read_prompt_records(path)]
