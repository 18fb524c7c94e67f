"""Evaluation sets: one item a row, read whole and checked before anything runs.

Accepted: ``.jsonl`` (one object a line; blank lines skipped), ``.csv`` (a header row) and ``.parquet``.
An item has a ``prompt`` or ``messages`` (``[{role, content}, ...]`` ending with the user, since the
variant writes the next assistant turn), and optionally ``id``, ``reference``, ``category``, ``tags`` and
``checks`` (promptfoo-style ``{"type": ..., "value": ...}``, parsed by ``analysis/checks.py``). Every other column
is kept as ``metadata``. A missing id is derived from the content (sha256 of canonical JSON of prompt,
messages and reference, first 12 hex characters), so re-reading the same file gives the same ids.

Checks every item gets: a JSONL file's first object may be ``{"defaults": {"checks": [...]}}``, and any
format takes ``default_checks=``; they come before the item's own checks.

A bad file is refused whole with one ``EvalSetError`` line naming the file, the line (JSONL) or row (CSV:
the header is row 1, as a spreadsheet shows it; Parquet: the first data row is row 1) and the field:

    >>> read_eval_set(Path("qa.jsonl"))  # {"prompt": "2+2?", "reference": "4", "checks": [{"type": "contains", "value": "4"}]}  # doctest: +SKIP
    EvalSet(name='qa.jsonl', items=(EvalItem(id='3f1c...', prompt='2+2?', ..., checks=(Check(type='contains', value='4'),)),), ...)
    >>> read_eval_set(Path("bad.jsonl"))  # line 2: {"prompt": "Hi", "checks": [{"type": "max-words", "value": -1}]}  # doctest: +SKIP
    EvalSetError: Evaluation set bad.jsonl line 2, field "checks": Check "max-words" needs 0 or more words, not -1.
"""

from __future__ import annotations

import csv
import hashlib
import io
import json
import re
from collections import Counter
from dataclasses import dataclass, field, replace
from pathlib import Path

from adapters_ui.analysis.checks import Check, parse_check, unique_names
from adapters_ui.errors import CheckError, EvalSetError, first_line
from adapters_ui.formatting import format_bytes

SUFFIXES = (".jsonl", ".csv", ".parquet")
MAX_ITEMS = 100_000
MAX_BYTES = 256 * 10**6  # 10,000 chat items are a few MB; a file this big is a mistake, not a set

ROLES = ("user", "assistant", "system")
FIELDS = ("id", "prompt", "messages", "reference", "category", "tags", "checks")
_EXAMPLE = '{"prompt": "..."}'


@dataclass(frozen=True)
class Turn:
    role: str
    content: str


@dataclass(frozen=True)
class EvalItem:
    """One item: a ``prompt`` or the ``messages`` before the answer (exactly one is set); ``checks``
    holds the set's default checks followed by the item's own."""

    id: str
    prompt: str | None = None
    messages: tuple[Turn, ...] | None = None
    reference: str | None = None
    category: str | None = None
    tags: tuple[str, ...] = ()
    checks: tuple[Check, ...] = ()
    metadata: dict = field(default_factory=dict)
    id_derived: bool = False

    def chat(self) -> list[dict]:
        """The conversation to answer, as chat templates take it (a prompt is one user turn)."""
        if self.messages is None:
            return [{"role": "user", "content": self.prompt}]
        return [{"role": t.role, "content": t.content} for t in self.messages]


@dataclass(frozen=True)
class EvalSet:
    name: str
    items: tuple[EvalItem, ...]
    default_checks: tuple[Check, ...] = ()
    derived_ids: int = 0  # how many ids were made from content, for the caller to say so


@dataclass(frozen=True)
class EvalSetSummary:
    """What a page or the CLI prints about a set before running it."""

    items: int
    categories: tuple[tuple[str, int], ...]  # most items first
    without_category: int
    tags: tuple[tuple[str, int], ...]
    derived_ids: int
    with_reference: int
    with_checks: int
    multi_turn: int
    default_checks: int

    def text(self) -> str:
        """One paragraph, e.g. '3 items (1 id derived from content), 2 with a reference, 3 with checks
        (1 default); categories: json 2, (none) 1; tags: easy 2.'"""
        derived = f" ({self.derived_ids} {'id' if self.derived_ids == 1 else 'ids'} derived from content)" if self.derived_ids else ""
        parts = [f"{self.items} {'item' if self.items == 1 else 'items'}{derived}"]
        parts.append(f"{self.with_reference} with a reference")
        parts.append(f"{self.with_checks} with checks" + (f" ({self.default_checks} default)" if self.default_checks else ""))
        if self.multi_turn:
            parts.append(f"{self.multi_turn} multi-turn")
        categories = [*self.categories, *([("(none)", self.without_category)] if self.without_category else [])]
        text = ", ".join(parts) + "; categories: " + (", ".join(f"{c} {n}" for c, n in categories) or "none")
        return text + "; tags: " + (", ".join(f"{t} {n}" for t, n in self.tags) or "none") + "."


def _by_count(counter: Counter) -> tuple[tuple[str, int], ...]:
    return tuple(sorted(counter.items(), key=lambda kv: (-kv[1], kv[0])))


def summarize(eval_set: EvalSet) -> EvalSetSummary:
    """Counts of items, categories, tags, derived ids, references and checks, for a page or the CLI to print."""
    items = eval_set.items
    categories = Counter(item.category for item in items if item.category is not None)
    tags = Counter(tag for item in items for tag in item.tags)
    return EvalSetSummary(
        items=len(items), categories=_by_count(categories), without_category=sum(item.category is None for item in items),
        tags=_by_count(tags), derived_ids=eval_set.derived_ids, with_reference=sum(item.reference is not None for item in items),
        with_checks=sum(bool(item.checks) for item in items), multi_turn=sum(item.messages is not None for item in items),
        default_checks=len(eval_set.default_checks))


class _FieldError(Exception):
    """A problem with one field of one row; the reader adds the file and the row."""

    def __init__(self, field_name: str, problem: str):
        super().__init__(problem)
        self.field = field_name
        self.problem = problem


def _kind(value: object) -> str:
    """A JSON value's kind in words, for errors: 'a number', 'a list', 'an object'."""
    if isinstance(value, bool):
        return "true/false"
    if isinstance(value, (int, float)):
        return "a number"
    kinds = {str: "a string", list: "a list", tuple: "a list", dict: "an object", type(None): "null"}
    return kinds.get(type(value), f"a {type(value).__name__}")


# --- checks -------------------------------------------------------------------------------------

def parse_checks(raw: object, field_name: str = "checks") -> tuple[Check, ...]:
    """Checks from a JSON list of {"type", "value"} objects, each validated by ``analysis.checks`` (the one
    parser of checks: no check runs code, a regex is only compiled, a schema only checked)."""
    if raw is None:
        return ()
    if not isinstance(raw, (list, tuple)):
        raise _FieldError(field_name, f'is {_kind(raw)}, not a list: write it as [{{"type": "contains", "value": "..."}}]')
    checks = []
    for number, obj in enumerate(raw, start=1):
        try:
            checks.append(parse_check(obj))
        except CheckError as e:
            raise _FieldError(field_name, f"check {number}: {str(e).rstrip('.')}") from None
    return tuple(checks)


def _with_unique_names(checks: tuple[Check, ...]) -> tuple[Check, ...]:
    """An item's checks (the defaults, then its own) with names unique within the item ("contains:Arr#2")."""
    names = unique_names([check.name for check in checks])
    return tuple(check if check.name == name else replace(check, name=name) for check, name in zip(checks, names))


def item_record(item: EvalItem) -> dict:
    """An item as plain JSON data, as an evaluation stores it; ``parse_checks`` of its ``checks`` gives back
    the same checks with the same names."""
    return {
        "id": item.id,
        "prompt": item.prompt,
        "messages": None if item.messages is None else [{"role": t.role, "content": t.content} for t in item.messages],
        "reference": item.reference,
        "category": item.category,
        "tags": list(item.tags),
        "checks": [{"type": c.type, "value": list(c.value) if isinstance(c.value, tuple) else c.value} for c in item.checks],
        "metadata": item.metadata,
    }


# --- one item -----------------------------------------------------------------------------------

def _optional_text(record: dict, key: str) -> str | None:
    value = record.get(key)
    if value is None:
        return None
    if not isinstance(value, str):
        raise _FieldError(key, f"is {_kind(value)}, not a string: make it a string or leave it out")
    return value.strip() or None


def _messages(raw: object) -> tuple[Turn, ...]:
    example = '[{"role": "user", "content": "..."}]'
    if not isinstance(raw, (list, tuple)) or not raw:
        raise _FieldError("messages", f"is not a list of turns: write it as {example}")
    turns = []
    for number, turn in enumerate(raw, start=1):
        if not isinstance(turn, dict) or not isinstance(turn.get("role"), str) or not isinstance(turn.get("content"), str):
            raise _FieldError("messages", f"turn {number} is not a {{role, content}} object of strings: write it as {example}")
        if turn["role"] not in ROLES:
            raise _FieldError("messages", f"turn {number} has role {turn['role']!r}: use {', '.join(ROLES)}")
        if not turn["content"].strip():
            raise _FieldError("messages", f"turn {number} has empty content: write what was said, or drop the turn")
        turns.append(Turn(turn["role"], turn["content"]))
    if turns[-1].role != "user":
        raise _FieldError("messages", f"its last turn is {turns[-1].role!r}, not 'user': end with the user turn the variant answers")
    return tuple(turns)


def _tags(raw: object) -> tuple[str, ...]:
    if raw is None:
        return ()
    if isinstance(raw, str):
        raw = re.split(r"[,;]", raw)
    elif not isinstance(raw, (list, tuple)) or not all(isinstance(tag, str) for tag in raw):
        raise _FieldError("tags", 'is not a list of strings: write it as ["easy", "math"] or "easy, math"')
    return tuple(dict.fromkeys(tag.strip() for tag in raw if tag.strip()))


def _explicit_id(raw: object) -> str | None:
    if isinstance(raw, float) and raw.is_integer():
        raw = int(raw)
    if isinstance(raw, bool) or not isinstance(raw, (str, int)):
        raise _FieldError("id", f"is {_kind(raw)}: make it a string or a whole number, or leave it out")
    return str(raw).strip() or None


def derived_id(prompt: str | None, messages: tuple[Turn, ...] | None, reference: str | None) -> str:
    """The id of an item that has none: the same content always gives the same 12 hex characters."""
    content = {"prompt": prompt, "messages": None if messages is None else [[t.role, t.content] for t in messages],
               "reference": reference}
    canonical = json.dumps(content, sort_keys=True, ensure_ascii=False, separators=(",", ":"))
    return hashlib.sha256(canonical.encode("utf-8")).hexdigest()[:12]


def _item(record: dict, defaults: tuple[Check, ...]) -> EvalItem:
    """An item from one row's fields (JSON values already decoded); the record's other keys are metadata."""
    prompt, messages = record.get("prompt"), record.get("messages")
    if prompt is not None and messages is not None:
        raise _FieldError("prompt", "and messages are both given: keep prompt for one turn, or messages for a conversation")
    if prompt is None and messages is None:
        raise _FieldError("prompt", f"is missing (and so is messages): give each item a prompt, like {_EXAMPLE}")
    if prompt is not None:
        if not isinstance(prompt, str):
            raise _FieldError("prompt", f"is {_kind(prompt)}, not a string: write it as {_EXAMPLE}")
        prompt = prompt.strip()
        if not prompt:
            raise _FieldError("prompt", "is empty: write the question, or remove the row")
    turns = _messages(messages) if messages is not None else None
    reference, category = _optional_text(record, "reference"), _optional_text(record, "category")
    explicit = _explicit_id(record["id"]) if record.get("id") is not None else None
    return EvalItem(
        id=explicit or derived_id(prompt, turns, reference), prompt=prompt, messages=turns, reference=reference,
        category=category, tags=_tags(record.get("tags")), checks=_with_unique_names(defaults + parse_checks(record.get("checks"))),
        metadata={k: v for k, v in record.items() if k not in FIELDS}, id_derived=explicit is None)


def _decode_cells(record: dict) -> dict:
    """CSV and Parquet cells hold JSON text for messages and checks (and maybe tags); blank cells are absent."""
    out = {}
    for key, value in record.items():
        if isinstance(value, str) and key in FIELDS and not value.strip():
            value = None
        elif isinstance(value, str) and (key in ("messages", "checks") or (key == "tags" and value.lstrip().startswith("["))):
            try:
                value = json.loads(value, strict=False)  # a spreadsheet cell may hold a typed line break
            except json.JSONDecodeError as e:
                raise _FieldError(key, f"is not valid JSON ({e.msg}, character {e.pos + 1}): write JSON text in this cell") from None
        out[key] = value
    return out


# --- the formats --------------------------------------------------------------------------------

def _fail(name: str, where: str, problem: _FieldError) -> EvalSetError:
    return EvalSetError(f'Evaluation set {name} {where}, field "{problem.field}": {problem.problem}.')


def _jsonl_rows(path: Path, name: str, defaults: list[Check]):
    """(where, record) for each item line; a first ``{"defaults": ...}`` line adds to ``defaults``."""
    first = True
    for number, line in enumerate(_text(path, name).splitlines(), start=1):
        if not line.strip():
            continue
        try:
            obj = json.loads(line)
        except json.JSONDecodeError as e:
            raise EvalSetError(f"Evaluation set {name} line {number} is not valid JSON ({e.msg}): "
                               f"write one object per line, like {_EXAMPLE}.") from None
        if not isinstance(obj, dict):
            raise EvalSetError(f"Evaluation set {name} line {number} is {_kind(obj)}, not an object: "
                               f"write one object per line, like {_EXAMPLE}.")
        if set(obj) == {"defaults"}:
            if not first:
                raise EvalSetError(f'Evaluation set {name} line {number} gives "defaults" after the first item: '
                                   "move it to the first line.")
            defaults.extend(_file_defaults(obj["defaults"], name, f"line {number}"))
        else:
            yield f"line {number}", obj
        first = False


def _file_defaults(raw: object, name: str, where: str) -> tuple[Check, ...]:
    if not isinstance(raw, dict) or set(raw) - {"checks"}:
        raise EvalSetError(f'Evaluation set {name} {where}, field "defaults": is not {{"checks": [...]}}: '
                           'write it as {"defaults": {"checks": [{"type": "max-words", "value": 100}]}}.')
    try:
        return parse_checks(raw.get("checks"), "defaults.checks")
    except _FieldError as problem:
        raise _fail(name, where, problem) from None


def _csv_rows(path: Path, name: str):
    # strict: an unclosed quote is an error, not a cell that swallows the rest of the file
    reader = csv.reader(io.StringIO(_text(path, name), newline=""), strict=True)
    row_number = 1
    try:
        header = [cell.strip() for cell in next(reader, None) or []]
        _require_text_column(name, [h.lower() for h in header], "a header row with a column")
        keys = [h.lower() if h.lower() in FIELDS else h for h in header]  # known fields in any case; metadata as written
        twice = [key for key, n in Counter(keys).items() if n > 1]
        if twice:
            raise EvalSetError(f"Evaluation set {name} has two columns named {twice[0]!r}: rename or remove one of them.")
        for row in reader:
            row_number += 1
            if not any(cell.strip() for cell in row):
                continue
            if len(row) > len(keys):
                raise EvalSetError(f"Evaluation set {name} row {row_number} has {len(row)} cells but the header names {len(keys)}: "
                                   "check the row's quotes and commas.")
            yield f"row {row_number}", _decoded(name, f"row {row_number}", dict(zip(keys, row)))
    except csv.Error as e:
        raise EvalSetError(f"Evaluation set {name} is not valid CSV near line {reader.line_num} ({e}): "
                           "check its quotes, or save it again from a spreadsheet as CSV.") from None


def _parquet_rows(path: Path, name: str, max_items: int):
    import pyarrow as pa
    import pyarrow.parquet as pq

    try:
        with pq.ParquetFile(path) as file:  # the row count comes from the footer, before any row is read
            _cap(name, file.metadata.num_rows, max_items)
            table = file.read()
    except (pa.ArrowException, OSError) as e:
        raise EvalSetError(f"Evaluation set {name} is not a readable Parquet file ({first_line(e)}): "
                           "write it with pandas' to_parquet or pyarrow.") from None
    _require_text_column(name, [c.lower() for c in table.column_names], "a column")
    keys = [c.lower() if c.lower() in FIELDS else c for c in table.column_names]
    for number, row in enumerate(table.to_pylist(), start=1):  # plain Python values: lists, dicts, None
        yield f"row {number}", _decoded(name, f"row {number}", dict(zip(keys, row.values())))


def _decoded(name: str, where: str, record: dict) -> dict:
    try:
        return _decode_cells(record)
    except _FieldError as problem:
        raise _fail(name, where, problem) from None


def _require_text_column(name: str, columns: list[str], add: str) -> None:
    if "prompt" not in columns and "messages" not in columns:
        raise EvalSetError(f"Evaluation set {name} has no 'prompt' or 'messages' column: "
                           f"add {add} named prompt (or messages, for conversations).")


def _text(path: Path, name: str) -> str:
    try:
        return path.read_bytes().decode("utf-8-sig")  # -sig: spreadsheets prepend a BOM
    except UnicodeDecodeError:
        raise EvalSetError(f"Evaluation set {name} is not UTF-8 text: save it with UTF-8 encoding.") from None
    except OSError as e:
        raise EvalSetError(f"Evaluation set {name} could not be read ({e.strerror or e}): check its permissions.") from None


def _cap(name: str, count: int, max_items: int) -> None:
    if count > max_items:
        raise EvalSetError(f"Evaluation set {name} has more than {max_items:,} items: "
                           f"split it into sets of at most {max_items:,}.")


def read_eval_set(path: Path, *, default_checks: list[dict] | None = None, max_items: int = MAX_ITEMS,
                  max_bytes: int = MAX_BYTES) -> EvalSet:
    """Every item of an evaluation set file, in file order, or one EvalSetError for the first problem found.
    ``default_checks`` ({"type", "value"} objects) apply to every item, after a JSONL file's own defaults."""
    path = Path(path)
    name = path.name
    suffix = path.suffix.lower()
    if suffix not in SUFFIXES:
        raise EvalSetError(f"Evaluation set {name} has an unknown extension {path.suffix or '(none)'!r}: "
                           f"use {', '.join(SUFFIXES[:-1])} or {SUFFIXES[-1]}.")
    if not path.is_file():
        raise EvalSetError(f"Evaluation set {path} does not exist or is not a file: check the path.")
    size = path.stat().st_size
    if size > max_bytes:
        raise EvalSetError(f"Evaluation set {name} is {format_bytes(size)}, over the {format_bytes(max_bytes)} limit: "
                           f"split it into smaller sets (at most {max_items:,} items each).")
    try:
        argument_defaults = parse_checks(default_checks, "default_checks")
    except _FieldError as problem:
        raise EvalSetError(f"The default checks for {name}: {problem.problem}.") from None

    file_defaults: list[Check] = []
    if suffix == ".jsonl":
        rows = _jsonl_rows(path, name, file_defaults)
    elif suffix == ".csv":
        rows = _csv_rows(path, name)
    else:
        rows = _parquet_rows(path, name, max_items)

    items: list[EvalItem] = []
    first_seen: dict[str, str] = {}  # id -> where it was first given
    for where, record in rows:
        _cap(name, len(items) + 1, max_items)
        try:
            item = _item(record, tuple(file_defaults) + argument_defaults)
        except _FieldError as problem:
            raise _fail(name, where, problem) from None
        if item.id in first_seen:
            what = "has the same content as" if item.id_derived else "repeats the id of"
            raise EvalSetError(f'Evaluation set {name} {where}, field "id": {what} {first_seen[item.id]} ({item.id!r}): '
                               "give every item its own id, or remove the duplicate.")
        first_seen[item.id] = where
        items.append(item)
    if not items:
        raise EvalSetError(f"Evaluation set {name} has no items: add at least one row with a prompt, like {_EXAMPLE}.")
    defaults = tuple(file_defaults) + argument_defaults
    return EvalSet(name, tuple(items), defaults, sum(item.id_derived for item in items))
