"""Checks per output: each one says pass or fail for one generated text, as promptfoo's assertions do.

An evaluation set gives each item a list of ``{"type": ..., "value": ...}``, like a promptfoo
``assert`` list. The types and what passes (promptfoo's rules, except where noted):

    equals        the output is the value, character for character. A dict or list value is compared
                  with the output parsed as JSON instead (like promptfoo: {"a": 1} equals ' {"a":1}').
    contains      the value appears in the output (a number counts as its text: 4 -> "4").
    icontains     the same, caseless (``str.casefold``, so "STRASSE" finds "Straße"; promptfoo lowercases).
    contains-any  at least one of a list of values appears. A string value is read as comma-separated
    contains-all  every one does.                      values, "a, b" -> ["a", "b"], like promptfoo.
    not-contains  the value does not appear.
    regex         the pattern is found somewhere in the output (a search, not a full match; Python syntax).
    starts-with   the output begins with the value (no whitespace is stripped).
    is-json       the whole output parses as JSON (whitespace around it allowed; NaN and Infinity are
                  not JSON). An optional value is a JSON schema the parsed output must also satisfy.
    json-schema   the output parses as JSON and satisfies the value, a JSON schema (required).
    max-words     at most ``value`` whitespace-separated words (``len(output.split()) <= value``).

    >>> checks = parse_checks([{"type": "icontains", "value": "arr"}, {"type": "max-words", "value": 3}])
    >>> run_checks(checks, "Arr, matey!")
    {'icontains:arr': True, 'max-words:3': True}

No check runs code from the file: there is no eval, no template rendering, and no ``javascript``,
``python`` or other script type (they are refused by name). Every value is only ever text, a
number or JSON data; a promptfoo ``file://`` value is text too. Schemas may only ``$ref`` inside
themselves, so checking never fetches anything.

Regular expressions: Python's ``re`` has no timeout, and a pattern like ``(a|aa)+$`` backtracks
for ages on a long run of "a"s, so the regex check is compiled once with the ``regex`` library
(the same syntax as ``re``) and every search runs with a timeout of ``REGEX_TIMEOUT_S``; a pattern
longer than ``MAX_PATTERN_CHARS`` is refused up front. A schema's ``pattern`` and
``patternProperties`` are searched the same way. A search that times out raises ``CheckError``: a
check that cannot decide is a broken check, not a failing output. (Outputs are bounded by
max_new_tokens, so a sane pattern never comes near the timeout.)
"""

from __future__ import annotations

import csv
import functools
import json
import math
from dataclasses import dataclass, field, replace
from typing import Any
from urllib.parse import unquote

import jsonschema
import referencing.exceptions
import regex

from adapters_ui.errors import CheckError

CHECK_TYPES = (
    "equals",
    "contains",
    "icontains",
    "contains-any",
    "contains-all",
    "not-contains",
    "regex",
    "starts-with",
    "is-json",
    "json-schema",
    "max-words",
)

# promptfoo types that run code or call out; named so that the refusal says why.
CODE_TYPES = ("javascript", "python", "ruby", "webhook", "llm-rubric", "model-graded-closedqa", "g-eval", "factuality")

MAX_PATTERN_CHARS = 500  # longer regex patterns are refused: a check is a short test, not a program
REGEX_TIMEOUT_S = 1.0  # one search on one output; outputs are a few thousand characters at most
NAME_CHARS = 40  # a check's label is cut to this many characters

_TEXT_TYPES = ("contains", "icontains", "not-contains", "starts-with")
_LIST_TYPES = ("contains-any", "contains-all")
_JSON_TYPES = ("is-json", "json-schema")
_REF_KEYS = ("$ref", "$dynamicRef", "$recursiveRef")


# ---- the check ---------------------------------------------------------------------------------
@dataclass(frozen=True)
class Check:
    """One check, validated when made: ``Check("contains", "Arr")``; a bad one raises ``CheckError``.

    ``value`` is kept as given, except that a number to look for becomes its text and a
    contains-any/-all value becomes a tuple of texts (a comma-separated string is split).
    ``name`` is a short readable label ("contains:Arr"); ``parse_checks`` makes names unique
    within one item ("contains:Arr#2"). The compiled pattern or schema validator is made here, once.
    """

    type: str
    value: Any = None
    name: str = ""
    _compiled: Any = field(default=None, init=False, repr=False, compare=False)

    def __post_init__(self):
        value = _checked_value(self.type, self.value)
        object.__setattr__(self, "value", value)
        object.__setattr__(self, "_compiled", _compile(self.type, value))
        if not self.name:
            object.__setattr__(self, "name", default_name(self.type, value))


def parse_check(spec: dict) -> Check:
    """A ``Check`` from one ``{"type": ..., "value": ...}`` entry of a set file; ``CheckError`` when unusable.

    Only ``type`` and ``value`` are read; any other key (promptfoo's ``transform``, ``weight``,
    ``threshold``, ...) is refused rather than silently ignored.
    """
    if not isinstance(spec, dict):
        raise CheckError(f'A check must be an object like {{"type": "contains", "value": "text"}}, not {_short(spec)}.')
    extra = sorted(set(spec) - {"type", "value"})
    if extra:
        raise CheckError(f'Check key "{extra[0]}" is not supported: a check has only "type" and "value" (checks never run code).')
    if "type" not in spec:
        raise CheckError(f'A check has no "type": give one of {", ".join(CHECK_TYPES)}.')
    return Check(spec["type"], spec.get("value"))


def parse_checks(specs: list[dict]) -> tuple[Check, ...]:
    """``parse_check`` on each entry, in order, with names made unique within the list."""
    if not isinstance(specs, (list, tuple)):
        raise CheckError(f"Checks must be a list of objects, not {_short(specs)}.")
    checks = [parse_check(spec) for spec in specs]
    names = unique_names([check.name for check in checks])
    return tuple(check if check.name == name else replace(check, name=name) for check, name in zip(checks, names))


def unique_names(names: list[str]) -> list[str]:
    """The names with "#2", "#3", ... added to repeats: ["a", "a", "b"] -> ["a", "a#2", "b"]."""
    seen: set[str] = set()
    unique = []
    for name in names:
        candidate, n = name, 1
        while candidate in seen:
            n += 1
            candidate = f"{name}#{n}"
        seen.add(candidate)
        unique.append(candidate)
    return unique


def default_name(check_type: str, value: Any) -> str:
    """A readable label cut to NAME_CHARS: "contains:Arr", "contains-any:a, b", "max-words:50", "is-json"."""
    if value is None:
        return check_type
    if isinstance(value, tuple):
        shown = ", ".join(value)
    elif isinstance(value, str):
        shown = value
    else:
        shown = json.dumps(value, ensure_ascii=False, sort_keys=True, separators=(",", ":"))
    shown = shown.replace("\\", "\\\\").replace("\n", "\\n").replace("\r", "\\r").replace("\t", "\\t")
    label = f"{check_type}:{shown}"
    return label if len(label) <= NAME_CHARS else label[: NAME_CHARS - 1] + "…"


# ---- running -----------------------------------------------------------------------------------
def run_check(check: Check, output: str) -> bool:
    """Whether ``output`` passes ``check``."""
    kind, value = check.type, check.value
    if kind == "equals":
        if isinstance(value, (dict, list)):
            parsed = _parse_json(output)
            return parsed is not _NOT_JSON and _same_json(value, parsed)
        return output == value
    if kind == "contains":
        return value in output
    if kind == "not-contains":
        return value not in output
    if kind == "icontains":
        return value.casefold() in output.casefold()
    if kind == "contains-any":
        return any(part in output for part in value)
    if kind == "contains-all":
        return all(part in output for part in value)
    if kind == "starts-with":
        return output.startswith(value)
    if kind == "regex":
        return _search(check, output)
    if kind in _JSON_TYPES:
        parsed = _parse_json(output)
        if parsed is _NOT_JSON:
            return False
        return check._compiled is None or _valid(check, parsed)
    if kind == "max-words":
        return len(output.split()) <= value
    raise CheckError(f'Check type "{kind}" is unknown: give one of {", ".join(CHECK_TYPES)}.')  # not reached: Check refuses it


def run_checks(checks: list[Check] | tuple[Check, ...], output: str) -> dict[str, bool]:
    """{check name: passed} in the checks' order; repeated names get "#2", "#3" (see ``unique_names``)."""
    names = unique_names([check.name for check in checks])
    return {name: run_check(check, output) for name, check in zip(names, checks)}


def passes_all(results: dict[str, bool]) -> bool | None:
    """True when every check passed, False when one failed, None when there were no checks.

    None, not True: an item without checks says nothing about the output, so the ``checks`` metric
    leaves it out instead of counting it as a pass.
    """
    if not results:
        return None
    return all(results.values())


# ---- values ------------------------------------------------------------------------------------
def _checked_value(check_type: Any, value: Any) -> Any:
    """The value in its kept form, or CheckError saying what is wrong with it."""
    if check_type in CODE_TYPES:
        raise CheckError(f'Check type "{check_type}" runs code or calls a model, and checks from a file never do: use one of {", ".join(CHECK_TYPES)}.')
    if check_type not in CHECK_TYPES:
        raise CheckError(f'Check type {_short(check_type)} is unknown: give one of {", ".join(CHECK_TYPES)}.')
    if check_type == "equals":
        if isinstance(value, (dict, list)):
            return _json_value(check_type, value)
        return _text(check_type, value, allow_empty=True)
    if check_type in _TEXT_TYPES:
        if check_type == "starts-with" and not isinstance(value, str):
            raise CheckError(f'Check "starts-with" needs a text value, not {_short(value)}.')
        return _text(check_type, value)
    if check_type in _LIST_TYPES:
        return _text_list(check_type, value)
    if check_type == "regex":
        if not isinstance(value, str) or not value:
            raise CheckError(f'Check "regex" needs a pattern as text, not {_short(value)}.')
        if len(value) > MAX_PATTERN_CHARS:
            raise CheckError(f'Check "regex" pattern is {len(value)} characters long: keep it under {MAX_PATTERN_CHARS + 1}.')
        return value
    if check_type in _JSON_TYPES:
        if check_type == "is-json" and (value is None or value == ""):
            return None
        return _schema(check_type, value)
    # max-words
    if isinstance(value, bool) or not isinstance(value, int):
        raise CheckError(f'Check "max-words" needs a whole number of words, not {_short(value)}.')
    if value < 0:
        raise CheckError(f'Check "max-words" needs 0 or more words, not {value}.')
    return value


def _text(check_type: str, value: Any, allow_empty: bool = False) -> str:
    """Text, or a number written as text (4 -> "4", 2.5 -> "2.5", 4.0 -> "4" as in JavaScript)."""
    if isinstance(value, str):
        if not value and not allow_empty:
            raise CheckError(f'Check "{check_type}" needs a non-empty value: "" is in every output.')
        return value
    if isinstance(value, (int, float)) and not isinstance(value, bool) and math.isfinite(value):
        return str(int(value)) if float(value).is_integer() else repr(value)
    raise CheckError(f'Check "{check_type}" needs text or a number, not {_short(value)}.')


def _text_list(check_type: str, value: Any) -> tuple[str, ...]:
    """A non-empty tuple of non-empty texts, from a list or a comma-separated string ('a, "b, c"' -> a | b, c)."""
    if isinstance(value, str):
        try:
            value = [part.strip() for part in next(csv.reader([value], skipinitialspace=True, strict=True), [])]
        except csv.Error as exc:
            raise CheckError(f'Check "{check_type}" value {_short(value)} is not comma-separated values ({exc}): give a list.') from None
        value = [part for part in value if part]
    if not isinstance(value, (list, tuple)) or not value:
        raise CheckError(f'Check "{check_type}" needs a non-empty list of texts, not {_short(value)}.')
    return tuple(_text(check_type, part) for part in value)


def _json_value(check_type: str, value: Any) -> Any:
    """``value`` itself, once it is known to be plain JSON data (no NaN, no non-string keys)."""
    try:
        json.dumps(value, allow_nan=False)
    except (TypeError, ValueError) as exc:
        raise CheckError(f'Check "{check_type}" value {_short(value)} is not plain JSON data ({exc}).') from None
    return value


def _schema(check_type: str, value: Any) -> Any:
    """A JSON schema (object or boolean), from the value or a string holding it; checked against its meta-schema."""
    if isinstance(value, str):
        try:
            value = json.loads(value)
        except ValueError as exc:
            raise CheckError(f'Check "{check_type}" value is not a JSON schema: the text is not JSON ({exc}).') from None
    if not isinstance(value, (dict, bool)):
        raise CheckError(f'Check "{check_type}" needs a JSON schema (an object), not {_short(value)}.')
    _json_value(check_type, value)
    problem = _schema_problem(json.dumps(value, sort_keys=True))
    if problem:
        raise CheckError(f'Check "{check_type}" {problem}')
    return value


@functools.lru_cache(maxsize=1024)
def _schema_problem(schema_text: str) -> str | None:
    """What is wrong with a schema (given as sorted JSON text, so repeats are checked once), or None."""
    schema = json.loads(schema_text)
    remote = next(_remote_refs(schema), None)
    if remote is not None:
        return f'schema refers to "{remote}": only references inside the schema ("#/$defs/...") are allowed, checks fetch nothing.'
    validator_class = jsonschema.validators.validator_for(schema, default=jsonschema.Draft202012Validator)
    try:
        validator_class.check_schema(schema)
    except jsonschema.SchemaError as exc:
        return f'schema is invalid: {" ".join(exc.message.split())}.'
    missing = next(_dangling_pointers(schema), None)
    if missing is not None:
        return f'schema refers to "{missing}", which is not in the schema.'
    return None


def _walk(node: Any):
    """Every dict inside a JSON document, the document included."""
    if isinstance(node, dict):
        yield node
        for child in node.values():
            yield from _walk(child)
    elif isinstance(node, list):
        for child in node:
            yield from _walk(child)


def _remote_refs(schema: Any):
    """The $ref-like strings that point outside the schema (anything not starting with "#")."""
    for node in _walk(schema):
        for key in _REF_KEYS:
            ref = node.get(key)
            if isinstance(ref, str) and not ref.startswith("#"):
                yield ref


def _dangling_pointers(schema: Any):
    """The "#/..." references that point at nothing in the root schema.

    Only checked when no subschema sets its own ``$id`` (then "#/..." would be relative to it);
    otherwise a dangling one is found when validating and raised as ``CheckError`` then.
    """
    nodes = list(_walk(schema))
    if any("$id" in node for node in nodes[1:]):
        return
    for node in nodes:
        ref = node.get("$ref")
        if isinstance(ref, str) and ref.startswith("#/") and _pointer_target(schema, ref[1:]) is _NOT_JSON:
            yield ref


def _pointer_target(document: Any, pointer: str) -> Any:
    """What the JSON pointer (RFC 6901) names in ``document``, or _NOT_JSON when nothing."""
    node = document
    for part in pointer.split("/")[1:]:
        part = unquote(part).replace("~1", "/").replace("~0", "~")
        if isinstance(node, dict) and part in node:
            node = node[part]
        elif isinstance(node, list) and part.isdigit() and int(part) < len(node):
            node = node[int(part)]
        else:
            return _NOT_JSON
    return node


# ---- compiled forms ------------------------------------------------------------------------------
def _compile(check_type: str, value: Any) -> Any:
    """The compiled pattern or schema validator of a check, made once; None for the others."""
    if check_type == "regex":
        try:
            return regex.compile(value)
        except regex.error as exc:
            raise CheckError(f'Check "regex" pattern {_short(value)} is not a valid regular expression ({exc}): escape special characters with \\.') from None
    if check_type in _JSON_TYPES and value is not None:
        validator_class = jsonschema.validators.validator_for(value, default=jsonschema.Draft202012Validator)
        return _with_timed_patterns(validator_class)(value)
    return None


@functools.cache
def _with_timed_patterns(validator_class: type) -> type:
    """The validator class with pattern keywords searched under the timeout; made once per draft."""
    return jsonschema.validators.extend(validator_class, {"pattern": _pattern, "patternProperties": _pattern_properties})


def _timed_search(pattern: Any, text: str, name: str) -> bool:
    """Whether ``pattern`` (compiled or text) is found in ``text``; CheckError past REGEX_TIMEOUT_S."""
    try:
        return regex.search(pattern, text, timeout=REGEX_TIMEOUT_S) is not None
    except TimeoutError:
        raise CheckError(
            f'Check "{name}" gave up after {REGEX_TIMEOUT_S:g} s on one output: the pattern backtracks too much, simplify it.'
        ) from None


def _search(check: Check, output: str) -> bool:
    return _timed_search(check._compiled, output, check.name)


# A schema's "pattern" and "patternProperties" as jsonschema has them, but searched with the timeout.
# (additionalProperties still matches property names against patternProperties with ``re``: names are short.)
def _pattern(validator, pattern, instance, schema):
    if validator.is_type(instance, "string") and not _timed_search(pattern, instance, f"pattern {pattern}"):
        yield jsonschema.ValidationError(f"{instance!r} does not match {pattern!r}")


def _pattern_properties(validator, pattern_properties, instance, schema):
    if not validator.is_type(instance, "object"):
        return
    for pattern, subschema in pattern_properties.items():
        for key, value in instance.items():
            if _timed_search(pattern, key, f"patternProperties {pattern}"):
                yield from validator.descend(value, subschema, path=key, schema_path=pattern)


def _valid(check: Check, parsed: Any) -> bool:
    try:
        return check._compiled.is_valid(parsed)
    except referencing.exceptions.Unresolvable as exc:
        raise CheckError(f'Check "{check.name}" schema has a reference that cannot be resolved: {exc}.') from None
    except RecursionError:
        return False  # nested too deep to validate: not an answer anyone asked for


class _NotJson:
    """The marker for "not JSON" (None is JSON's null)."""


_NOT_JSON = _NotJson()


def _no_constant(name: str):
    raise ValueError(f"{name} is not JSON")


def _parse_json(output: str) -> Any:
    """The output parsed as one JSON document (like JavaScript's JSON.parse), or _NOT_JSON."""
    try:
        return json.loads(output, parse_constant=_no_constant)
    except (ValueError, RecursionError):
        return _NOT_JSON


def _same_json(a: Any, b: Any) -> bool:
    """Deep equality of JSON data as JavaScript sees it: true is not 1, but 1 is 1.0; lists and tuples alike."""
    if isinstance(a, bool) or isinstance(b, bool):
        return isinstance(a, bool) and isinstance(b, bool) and a == b
    if isinstance(a, (int, float)) and isinstance(b, (int, float)):
        return a == b
    if isinstance(a, dict) and isinstance(b, dict):
        return a.keys() == b.keys() and all(_same_json(a[key], b[key]) for key in a)
    if isinstance(a, (list, tuple)) and isinstance(b, (list, tuple)):
        return len(a) == len(b) and all(_same_json(x, y) for x, y in zip(a, b))
    return type(a) is type(b) and a == b


def _short(value: Any) -> str:
    """A value quoted for an error message, cut to 60 characters."""
    text = json.dumps(value, ensure_ascii=False, default=repr) if not isinstance(value, str) else json.dumps(value, ensure_ascii=False)
    return text if len(text) <= 60 else text[:59] + "…"
