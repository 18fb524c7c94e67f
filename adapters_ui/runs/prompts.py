"""Prompts from a file or a text box, in the formats people already have them in.

Accepted: ``.txt`` (one prompt a line), ``.jsonl`` (one ``{"prompt": ..., "reference": ...,
"category": ...}`` object a line), ``.csv`` (a ``prompt`` column, optional ``reference`` and
``category`` columns) and ``.json`` (a list of strings or of such objects). A category groups
prompts for scoring: each variant is ranked on each category's references apart (a style
adapter against its own style's answers, not against every style's). Prompts are stripped of outer whitespace and blank
ones are dropped in every format, so trailing empty lines or rows never become prompts.
Every problem is a one-line ``PromptError`` naming the file and the fix.

    >>> read_prompt_items(Path("qa.jsonl"))   # {"prompt": "2+2?", "reference": "4"} then {"prompt": "Hi"}  # doctest: +SKIP
    [PromptItem(text='2+2?', reference='4', category=None), PromptItem(text='Hi', reference=None, category=None)]
"""

from __future__ import annotations

import csv
import io
import json
from dataclasses import dataclass
from pathlib import Path

from adapters_ui.demo_assets import DEMO_PROMPTS
from adapters_ui.errors import PromptError
from adapters_ui.formatting import format_chat

SUFFIXES = (".txt", ".jsonl", ".csv", ".json")

_OBJECT_EXAMPLE = '{"prompt": "..."}'


@dataclass(frozen=True)
class PromptItem:
    """One prompt, the answer expected from it and the category it belongs to, when the file gives them
    (for scoring outputs later, per category)."""

    text: str
    reference: str | None = None
    category: str | None = None


def parse_prompt_lines(text: str) -> list[str]:
    """One prompt a line, as typed into a text box; blank lines are spacing, not prompts."""
    return [line.strip() for line in text.splitlines() if line.strip()]


def _item(prompt: str, reference: str | None, category: str | None = None) -> PromptItem | None:
    """None for a blank prompt; a blank reference or category means none."""
    prompt = prompt.strip()
    if not prompt:
        return None
    reference = reference.strip() if reference is not None else None
    category = category.strip() if category is not None else None
    return PromptItem(prompt, reference or None, category or None)


def _from_object(obj: object, name: str, where: str) -> PromptItem | None:
    """A prompt item from one JSON value; ``where`` says which line or item it was, for errors."""
    if not isinstance(obj, dict):
        raise PromptError(
            f"Prompt file {name} {where} is not a JSON object: write it as {_OBJECT_EXAMPLE}."
        )
    prompt = obj.get("prompt")
    if not isinstance(prompt, str):
        raise PromptError(
            f'Prompt file {name} {where} has no "prompt" string: write it as {_OBJECT_EXAMPLE}.'
        )
    for key in ("reference", "category"):
        if obj.get(key) is not None and not isinstance(obj[key], str):
            raise PromptError(
                f'Prompt file {name} {where} has a "{key}" that is not a string: '
                "make it a string or leave it out."
            )
    return _item(prompt, obj.get("reference"), obj.get("category"))


def _read_jsonl(text: str, name: str) -> list[PromptItem | None]:
    items = []
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
        items.append(_from_object(obj, name, f"line {number}"))
    return items


def _read_json(text: str, name: str) -> list[PromptItem | None]:
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
        _item(item, None) if isinstance(item, str) else _from_object(item, name, f"item {i}")
        for i, item in enumerate(data, start=1)
    ]


def _read_csv(text: str, name: str) -> list[PromptItem | None]:
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
        c_col = columns.index("category") if "category" in columns else None

        def cell(row: list[str], col: int | None) -> str | None:
            return row[col] if col is not None and col < len(row) else None

        return [_item(cell(row, p_col) or "", cell(row, r_col), cell(row, c_col)) for row in reader]
    except csv.Error as e:
        raise PromptError(
            f"Prompt file {name} is not valid CSV near line {reader.line_num} ({e}): "
            "check its quotes, or save it again from a spreadsheet as CSV."
        ) from None


_READERS = {".jsonl": _read_jsonl, ".json": _read_json, ".csv": _read_csv}


def read_prompt_items(path: Path) -> list[PromptItem]:
    """Every prompt of a file with its reference and category (None where the file gives none), in file order."""
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
        items = [_item(line, None) for line in parse_prompt_lines(text)]
    else:
        items = _READERS[suffix](text, name)
    items = [item for item in items if item is not None]
    if not items:
        raise PromptError(f"Prompt file {name} has no prompts: add at least one non-blank prompt.")
    return items


def read_prompts(path: Path) -> list[str]:
    """Just the prompt texts of a prompt file (for callers that have no use for references)."""
    return [item.text for item in read_prompt_items(path)]


def format_prompt(tokenizer, prompt: str, use_chat_template: bool = True) -> str:
    """The text the model sees: the chat template with a generation prompt, when the tokenizer has one."""
    if use_chat_template and getattr(tokenizer, "chat_template", None):
        return format_chat(tokenizer, [{"role": "user", "content": prompt}])
    return prompt


def demo_prompts() -> list[str]:
    """The demo set's prompts (assets/prompts/demo.jsonl), or none when the set is not shipped."""
    return read_prompts(DEMO_PROMPTS) if DEMO_PROMPTS.is_file() else []
