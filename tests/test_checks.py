"""Checks per output (adapters_ui/analysis/checks.py): promptfoo's assertion rules, worked by hand."""

import json
import time
from pathlib import Path

import pytest

from adapters_ui.analysis import checks as checks_module
from adapters_ui.analysis.checks import (
    CHECK_TYPES,
    Check,
    default_name,
    parse_check,
    parse_checks,
    passes_all,
    run_check,
    run_checks,
    unique_names,
)
from adapters_ui.analysis.references import reference_scores
from adapters_ui.errors import AdaptersUIError, CheckError

ANSWER_SCHEMA = {"type": "object", "properties": {"answer": {"type": "string"}}, "required": ["answer"]}
NESTED_SCHEMA = {
    "type": "object",
    "properties": {
        "items": {
            "type": "array",
            "minItems": 1,
            "items": {"type": "object", "properties": {"n": {"type": "integer", "minimum": 0}}, "required": ["n"]},
        }
    },
    "required": ["items"],
    "additionalProperties": False,
}
DEFS_SCHEMA = {"$defs": {"word": {"type": "string", "pattern": "^[a-z]+$"}}, "type": "array", "items": {"$ref": "#/$defs/word"}}
DRAFT7_SCHEMA = {"$schema": "http://json-schema.org/draft-07/schema#", "type": "array", "items": [{"type": "integer"}],
                 "additionalItems": False}  # draft 7 tuple form: exactly one integer


# (type, value, output, expected): each type's passes and failures, edge cases next to the plain ones
CASES = [
    # equals: exact, character for character
    ("equals", "Paris", "Paris", True),
    ("equals", "Paris", "paris", False),  # case counts
    ("equals", "Paris", "Paris\n", False),  # so does a trailing newline
    ("equals", "Paris", " Paris", False),
    ("equals", "", "", True),  # an empty output equals an empty value
    ("equals", "", " ", False),
    ("equals", "café", "café", True),
    ("equals", "café", "cafe\u0301", False),  # NFC vs NFD: no normalization, as in promptfoo by default
    ("equals", 4, "4", True),  # a number is compared as its text
    ("equals", 4.0, "4", True),  # written as JavaScript writes it
    ("equals", 2.5, "2.5", True),
    ("equals", 4, "4.0", False),
    # equals with a JSON value: the output parsed as JSON, compared deeply
    ("equals", {"a": 1, "b": [1, 2]}, ' {"b": [1, 2], "a": 1.0}\n', True),  # key order, spacing, 1 == 1.0
    ("equals", {"a": 1}, '{"a": true}', False),  # true is not 1
    ("equals", {"a": True}, '{"a": 1}', False),
    ("equals", {"a": 1}, '{"a": 1, "b": 2}', False),
    ("equals", {"a": 1}, "{'a': 1}", False),  # not JSON
    ("equals", [1, "x"], '[1, "x"]', True),
    ("equals", [1, "x"], '["x", 1]', False),
    ("equals", {"a": None}, '{"a": null}', True),
    # contains: a substring, case sensitive
    ("contains", "Arr", "Arr, matey!", True),
    ("contains", "Arr", "arr, matey!", False),
    ("contains", "Arr", "", False),  # an empty output contains nothing
    ("contains", "matey!", "Arr, matey!", True),
    ("contains", 42, "The answer is 42.", True),
    ("contains", "日本", "私は日本に住んでいます", True),
    ("contains", "🏴‍☠️", "Ahoy 🏴‍☠️!", True),
    ("contains", ".*", "a.*b", True),  # plain text, no pattern
    ("contains", ".*", "ab", False),
    # icontains: caseless
    ("icontains", "arr", "ARR, matey!", True),
    ("icontains", "ARR", "arr", True),
    ("icontains", "ÉCOLE", "une école", True),
    ("icontains", "STRASSE", "die Straße", True),  # casefold, not lower()
    ("icontains", "arr", "ahoy", False),
    ("icontains", "arr", "", False),
    # contains-any / contains-all: a list
    ("contains-any", ["yes", "no"], "I think no.", True),
    ("contains-any", ["yes", "no"], "maybe", False),
    ("contains-any", ["Yes"], "yes", False),  # case sensitive like contains
    ("contains-any", ["a", "b"], "", False),
    ("contains-any", "yes, no", "no way", True),  # a string is comma-separated values, like promptfoo
    ("contains-any", '"1,000", 2', "it costs 1,000", True),  # a quoted part keeps its comma
    ("contains-any", '"1,000", 2', "it costs 1", False),
    ("contains-all", ["Arr", "matey"], "Arr, matey!", True),
    ("contains-all", ["Arr", "matey"], "Arr!", False),
    ("contains-all", ["Arr", "arr"], "Arr, arr", True),
    ("contains-all", ["x"], "", False),
    ("contains-all", "Arr, matey", "matey... Arr", True),  # order does not matter
    ("contains-all", [1, 2], "1 and 2", True),
    # not-contains
    ("not-contains", "As an AI", "Arr, matey!", True),
    ("not-contains", "As an AI", "As an AI model, I", False),
    ("not-contains", "as an ai", "As an AI model", True),  # case sensitive
    ("not-contains", "x", "", True),  # an empty output contains nothing
    # regex: a search, not a full match
    ("regex", r"\d+", "There are 42 ships", True),
    ("regex", r"^\d+$", "There are 42 ships", False),
    ("regex", r"^\d+$", "42", True),
    ("regex", r"^- ", "Intro\n- one", False),  # ^ is the start of the text, not of a line
    ("regex", r"(?m)^- ", "Intro\n- one", True),  # unless the pattern asks for it
    ("regex", r"\$\d+\.\d{2}", "costs $3.50 now", True),  # escaped special characters
    ("regex", r"\$\d+\.\d{2}", "costs 3.50 now", False),
    ("regex", r"[.]", "no dot here", False),
    ("regex", r"a.c", "a\nc", False),  # . stops at a newline
    ("regex", r"(?i)arr", "ARR", True),
    ("regex", r"arr", "ARR", False),
    ("regex", r"^$", "", True),  # the empty output
    ("regex", r"x", "", False),
    ("regex", r"\bcafé\b", "un café noir", True),
    ("regex", r"\p{Han}+", "漢字", True),  # the regex library's Unicode classes
    # starts-with: a prefix, nothing stripped
    ("starts-with", "{", '{"a": 1}', True),
    ("starts-with", "{", ' {"a": 1}', False),
    ("starts-with", "Arr", "arr", False),
    ("starts-with", "Arr", "", False),
    ("starts-with", "- ", "- one\n- two", True),
    ("starts-with", "Ça", "Ça va", True),
    # is-json: the whole output is one JSON document
    ("is-json", None, '{"answer": "blue"}', True),
    ("is-json", None, '  \n{"answer": "blue"}\n ', True),  # whitespace around it is allowed
    ("is-json", None, '[1, 2]', True),
    ("is-json", None, '"just a string"', True),
    ("is-json", None, "42", True),
    ("is-json", None, "null", True),
    ("is-json", None, "", False),  # empty output
    ("is-json", None, "   ", False),
    ("is-json", None, 'Sure! {"answer": "blue"}', False),  # JSON inside text is not the whole output
    ("is-json", None, '```json\n{"answer": "blue"}\n```', False),
    ("is-json", None, '{"answer": "blue"} {"x": 1}', False),  # two documents
    ("is-json", None, "{'answer': 'blue'}", False),  # Python, not JSON
    ("is-json", None, '{"a": 1,}', False),  # trailing comma
    ("is-json", None, '{"a": NaN}', False),  # not JSON, though Python's json reads it by default
    ("is-json", None, "Infinity", False),
    ("is-json", None, '{"a": "日本"}', True),
    ("is-json", None, '{"a": "\\u00e9"}', True),
    ("is-json", None, "[" * 5000 + "]" * 5000, False),  # deeper than the parser goes: not JSON
    ("is-json", "", '{"a": 1}', True),  # an empty value is no schema
    ("is-json", ANSWER_SCHEMA, '{"answer": "blue"}', True),  # promptfoo's optional schema
    ("is-json", ANSWER_SCHEMA, '{"answer": 4}', False),  # valid JSON, fails the schema
    ("is-json", json.dumps(ANSWER_SCHEMA), '{"answer": "blue"}', True),  # a schema given as text
    ("is-json", json.dumps(ANSWER_SCHEMA), "{}", False),
    # json-schema: parses and validates
    ("json-schema", ANSWER_SCHEMA, '{"answer": "blue"}', True),
    ("json-schema", ANSWER_SCHEMA, ' {"answer": "blue", "extra": 1}\n', True),
    ("json-schema", ANSWER_SCHEMA, '{"answer": 4}', False),  # valid JSON that fails the schema
    ("json-schema", ANSWER_SCHEMA, '{"reply": "blue"}', False),  # required field missing
    ("json-schema", ANSWER_SCHEMA, '["answer", "blue"]', False),
    ("json-schema", ANSWER_SCHEMA, "answer: blue", False),  # not JSON at all
    ("json-schema", ANSWER_SCHEMA, "", False),
    ("json-schema", NESTED_SCHEMA, '{"items": [{"n": 1}, {"n": 0}]}', True),
    ("json-schema", NESTED_SCHEMA, '{"items": [{"n": 1}, {"n": -1}]}', False),  # a nested minimum
    ("json-schema", NESTED_SCHEMA, '{"items": [{"n": 1.5}]}', False),  # a nested type
    ("json-schema", NESTED_SCHEMA, '{"items": [{"m": 1}]}', False),  # a nested required
    ("json-schema", NESTED_SCHEMA, '{"items": []}', False),  # minItems
    ("json-schema", NESTED_SCHEMA, '{"items": [{"n": 1}], "more": true}', False),  # additionalProperties
    ("json-schema", DEFS_SCHEMA, '["arr", "matey"]', True),  # a local $ref
    ("json-schema", DEFS_SCHEMA, '["arr", "Matey"]', False),  # its pattern
    ("json-schema", DRAFT7_SCHEMA, "[1]", True),  # the schema's own $schema picks draft 7
    ("json-schema", DRAFT7_SCHEMA, "[1, 2]", False),
    ("json-schema", {"type": "integer"}, "3", True),
    ("json-schema", {"type": "integer"}, "3.5", False),
    ("json-schema", {"prefixItems": [{"type": "integer"}], "items": False}, "[1, 2]", False),  # 2020-12 by default
    ("json-schema", True, "[1]", True),  # boolean schemas
    ("json-schema", False, "[1]", False),
    ("json-schema", {"patternProperties": {"^n_": {"type": "integer"}}}, '{"n_a": 1, "b": "x"}', True),
    ("json-schema", {"patternProperties": {"^n_": {"type": "integer"}}}, '{"n_a": "1"}', False),
    ("json-schema", {"type": "string", "format": "email"}, '"not an email"', True),  # format annotates only (2020-12)
    # max-words: whitespace-separated words <= value
    ("max-words", 3, "one two three", True),  # exactly at the limit
    ("max-words", 3, "one two three four", False),
    ("max-words", 3, "  one\ttwo\n\nthree  ", True),  # any whitespace separates, none counts
    ("max-words", 2, "one-two, three! four", False),  # 3 words: punctuation and hyphens are part of a word
    ("max-words", 0, "", True),
    ("max-words", 0, " \n", True),
    ("max-words", 0, "x", False),
    ("max-words", 2, "日本語 テキスト", True),
    ("max-words", 1, "日本語テキスト", True),  # no spaces: one word
]


@pytest.mark.parametrize("check_type, value, output, expected", CASES)
def test_check(check_type, value, output, expected):
    assert run_check(Check(check_type, value), output) is expected


def test_every_type_has_a_passing_and_a_failing_case():
    outcomes = {(t, expected) for t, _, _, expected in CASES}
    assert {t for t, _ in outcomes} == set(CHECK_TYPES)
    assert all((t, True) in outcomes and (t, False) in outcomes for t in CHECK_TYPES)


# (entry, the one-line error it gets)
BAD_CHECKS = [
    ({"type": "contain", "value": "x"}, 'Check type "contain" is unknown: give one of equals, contains,'),
    ({"type": "not-regex", "value": "x"}, 'Check type "not-regex" is unknown'),
    ({"type": 3, "value": "x"}, "Check type 3 is unknown"),
    ({"value": "x"}, 'A check has no "type"'),
    ("contains", 'A check must be an object like {"type": "contains", "value": "text"}, not "contains".'),
    ({"type": "contains", "value": "x", "transform": "output.trim()"}, 'Check key "transform" is not supported'),
    ({"type": "contains", "value": "x", "weight": 2}, 'Check key "weight" is not supported'),
    ({"type": "python", "value": "output == 'x'"}, 'Check type "python" runs code or calls a model, and checks from a file never do'),
    ({"type": "javascript", "value": "output.length < 10"}, 'Check type "javascript" runs code'),
    ({"type": "llm-rubric", "value": "is polite"}, 'Check type "llm-rubric" runs code or calls a model'),
    ({"type": "contains"}, 'Check "contains" needs text or a number, not null.'),
    ({"type": "contains", "value": ""}, 'Check "contains" needs a non-empty value: "" is in every output.'),
    ({"type": "contains", "value": ["a", "b"]}, 'Check "contains" needs text or a number, not ["a", "b"].'),
    ({"type": "contains", "value": True}, 'Check "contains" needs text or a number, not true.'),
    ({"type": "icontains", "value": {"a": 1}}, 'Check "icontains" needs text or a number'),
    ({"type": "not-contains", "value": float("nan")}, 'Check "not-contains" needs text or a number, not NaN.'),
    ({"type": "starts-with", "value": 4}, 'Check "starts-with" needs a text value, not 4.'),
    ({"type": "starts-with", "value": ""}, 'Check "starts-with" needs a non-empty value'),
    ({"type": "equals"}, 'Check "equals" needs text or a number, not null.'),
    ({"type": "equals", "value": {"a": float("inf")}}, 'Check "equals" value {"a": Infinity} is not plain JSON data'),
    ({"type": "contains-any", "value": []}, 'Check "contains-any" needs a non-empty list of texts, not [].'),
    ({"type": "contains-any", "value": " , "}, 'Check "contains-any" needs a non-empty list of texts, not [].'),
    ({"type": "contains-all", "value": ["a", ""]}, 'Check "contains-all" needs a non-empty value'),
    ({"type": "contains-all", "value": ["a", None]}, 'Check "contains-all" needs text or a number, not null.'),
    ({"type": "contains-all", "value": {"a": 1}}, 'Check "contains-all" needs a non-empty list of texts, not {"a": 1}.'),
    ({"type": "contains-any", "value": '"a, b'}, 'Check "contains-any" value "\\"a, b" is not comma-separated values'),
    ({"type": "regex", "value": "("}, 'Check "regex" pattern "(" is not a valid regular expression (missing )'),
    ({"type": "regex", "value": "a{2,1}"}, 'Check "regex" pattern "a{2,1}" is not a valid regular expression'),
    ({"type": "regex", "value": ""}, 'Check "regex" needs a pattern as text, not "".'),
    ({"type": "regex", "value": 5}, 'Check "regex" needs a pattern as text, not 5.'),
    ({"type": "regex", "value": "a" * 501}, 'Check "regex" pattern is 501 characters long: keep it under 501.'),
    ({"type": "json-schema"}, 'Check "json-schema" needs a JSON schema (an object), not null.'),
    ({"type": "json-schema", "value": ""}, 'Check "json-schema" value is not a JSON schema: the text is not JSON'),
    ({"type": "json-schema", "value": "file://schema.json"}, 'Check "json-schema" value is not a JSON schema: the text is not JSON'),
    ({"type": "json-schema", "value": [1]}, 'Check "json-schema" needs a JSON schema (an object), not [1].'),
    ({"type": "json-schema", "value": {"type": "strng"}}, "Check \"json-schema\" schema is invalid: 'strng' is not valid under any of the given schemas."),
    ({"type": "json-schema", "value": {"minItems": -1}}, 'Check "json-schema" schema is invalid: -1 is less than the minimum of 0.'),
    ({"type": "is-json", "value": {"required": "answer"}}, "Check \"is-json\" schema is invalid: 'answer' is not of type 'array'."),
    ({"type": "json-schema", "value": {"pattern": "("}}, "Check \"json-schema\" schema is invalid: '(' is not a 'regex'."),
    ({"type": "json-schema", "value": {"$ref": "https://example.com/s.json"}},
     'Check "json-schema" schema refers to "https://example.com/s.json": only references inside the schema'),
    ({"type": "json-schema", "value": {"items": {"$ref": "other.json#/x"}}}, 'Check "json-schema" schema refers to "other.json#/x"'),
    ({"type": "json-schema", "value": {"items": {"$ref": "#/$defs/missing"}}},
     'Check "json-schema" schema refers to "#/$defs/missing", which is not in the schema.'),
    ({"type": "max-words", "value": -1}, 'Check "max-words" needs 0 or more words, not -1.'),
    ({"type": "max-words", "value": 2.5}, 'Check "max-words" needs a whole number of words, not 2.5.'),
    ({"type": "max-words", "value": "10"}, 'Check "max-words" needs a whole number of words, not "10".'),
    ({"type": "max-words", "value": True}, 'Check "max-words" needs a whole number of words, not true.'),
]


@pytest.mark.parametrize("entry, error", BAD_CHECKS)
def test_bad_check_is_refused_in_one_line(entry, error):
    with pytest.raises(CheckError) as caught:
        parse_check(entry)
    message = str(caught.value)
    assert message.startswith(error)
    assert "\n" not in message and isinstance(caught.value, AdaptersUIError)


def test_bad_checks_in_a_list_and_a_list_that_is_not_one():
    with pytest.raises(CheckError, match='Check "max-words" needs 0 or more words'):
        parse_checks([{"type": "contains", "value": "a"}, {"type": "max-words", "value": -3}])
    with pytest.raises(CheckError, match='Checks must be a list of objects, not {"type": "contains"}'):
        parse_checks({"type": "contains"})


# ---- code is never run ------------------------------------------------------------------------------
CODE = "__import__('os').system('touch /tmp/adapters_ui_pwned')"


@pytest.mark.parametrize(
    "check_type, value, output, expected",
    [
        ("equals", CODE, CODE, True),  # the value is compared as text ...
        ("equals", CODE, "0", False),  # ... and not evaluated (os.system would give 0)
        ("contains", CODE, f"say {CODE}", True),
        ("icontains", CODE.upper(), CODE, True),
        ("not-contains", CODE, "nothing", True),
        ("starts-with", CODE, CODE + "!", True),
        ("contains-all", [CODE, "{{ output }}"], f"{CODE} {{{{ output }}}}", True),  # no template rendering either
        ("contains-any", ["{{ 7*7 }}"], "49", False),
        ("regex", r"__import__\('os'\)", CODE, True),
        ("max-words", 2, CODE, True),  # two words: "__import__('os').system('touch" and the path
        ("is-json", None, CODE, False),
        ("json-schema", {"const": CODE}, json.dumps(CODE), True),
    ],
)
def test_values_are_only_ever_text(check_type, value, output, expected, monkeypatch, tmp_path):
    check = Check(check_type, value)  # made first: building a schema validator is the library's business

    def forbidden(*args, **kwargs):
        raise AssertionError("a check ran code")

    monkeypatch.setattr("builtins.eval", forbidden)
    monkeypatch.setattr("builtins.exec", forbidden)
    monkeypatch.setattr("os.system", forbidden)
    monkeypatch.setattr("subprocess.Popen", forbidden)
    monkeypatch.setattr("builtins.__import__", _imports_only_what_is_loaded())
    assert run_check(check, output) is expected


def _imports_only_what_is_loaded():
    """An __import__ that refuses to load anything new: running a check imports nothing."""
    import builtins
    import sys

    real = builtins.__import__

    def guarded(name, *args, **kwargs):
        if name not in sys.modules:
            raise AssertionError(f"a check imported {name}")
        return real(name, *args, **kwargs)

    return guarded


def test_the_module_never_evaluates_anything():
    source = Path(checks_module.__file__).read_text(encoding="utf-8")
    assert not any(word in source for word in ("eval(", "exec(", "compile(source", "subprocess", "importlib", "os.system"))


# ---- regex safety ---------------------------------------------------------------------------------
@pytest.mark.parametrize("pattern, matching", [(r"(a|aa)+$", "aaaa"), (r"(\w+\s?)+$", "arr matey"), (r"(.*a){25}$", "a" * 25)])
def test_a_pattern_that_backtracks_for_ages_stops_with_a_one_line_error(pattern, matching, monkeypatch):
    monkeypatch.setattr(checks_module, "REGEX_TIMEOUT_S", 0.2)
    check = parse_check({"type": "regex", "value": pattern})
    started = time.monotonic()
    with pytest.raises(CheckError, match=r"gave up after 0.2 s on one output: the pattern backtracks too much"):
        run_check(check, "a" * 3000 + "!")
    assert time.monotonic() - started < 5
    assert run_check(check, matching) is True  # the same check on a short output is fine


def test_a_schema_pattern_that_backtracks_for_ages_stops_too(monkeypatch):
    monkeypatch.setattr(checks_module, "REGEX_TIMEOUT_S", 0.2)
    for schema, output in [({"pattern": "(a|aa)+$"}, json.dumps("a" * 3000 + "!")),
                           ({"patternProperties": {"(a|aa)+$": {}}}, json.dumps({"a" * 3000 + "!": 1}))]:
        check = parse_check({"type": "json-schema", "value": schema})
        with pytest.raises(CheckError, match=r"gave up after 0.2 s on one output"):
            run_check(check, output)


def test_a_regex_is_compiled_once(monkeypatch):
    check = Check("regex", r"\d")
    monkeypatch.setattr(checks_module.regex, "compile", lambda *a, **k: pytest.fail("compiled again"))
    assert [run_check(check, text) for text in ("a1", "b", "2")] == [True, False, True]


# ---- names, results, passes_all ---------------------------------------------------------------------
@pytest.mark.parametrize(
    "check_type, value, name",
    [
        ("contains", "Arr", "contains:Arr"),
        ("contains", 4.0, "contains:4"),
        ("contains-any", ["yes", "no"], "contains-any:yes, no"),
        ("contains-all", "a, b", "contains-all:a, b"),
        ("max-words", 50, "max-words:50"),
        ("is-json", None, "is-json"),
        ("is-json", {"type": "object"}, 'is-json:{"type":"object"}'),
        ("regex", "^a\nb", "regex:^a\\nb"),  # newlines shown escaped, so a name is one line
        ("contains", "x" * 60, "contains:" + "x" * 30 + "…"),  # cut to 40 characters
        ("equals", "", "equals:"),
    ],
)
def test_check_names(check_type, value, name):
    assert Check(check_type, value).name == name
    assert len(name) <= 40


def test_names_are_unique_per_item_and_results_keep_the_order():
    checks = parse_checks([
        {"type": "contains", "value": "Arr"},
        {"type": "max-words", "value": 5},
        {"type": "contains", "value": "Arr"},
        {"type": "contains", "value": "Arr"},
        {"type": "contains", "value": "x" * 50},
        {"type": "contains", "value": "x" * 51},  # the same 40-character label
    ])
    names = [c.name for c in checks]
    assert names == ["contains:Arr", "max-words:5", "contains:Arr#2", "contains:Arr#3",
                     "contains:" + "x" * 30 + "…", "contains:" + "x" * 30 + "…#2"]
    results = run_checks(checks, "Arr, matey x")
    assert list(results) == names
    assert list(results.values()) == [True, True, True, True, False, False]


def test_run_checks_makes_hand_built_duplicates_unique():
    checks = [Check("contains", "a"), Check("contains", "a"), Check("contains", "b", name="mine")]
    assert run_checks(checks, "a") == {"contains:a": True, "contains:a#2": True, "mine": False}


@pytest.mark.parametrize(
    "names, expected",
    [
        ([], []),
        (["a", "b"], ["a", "b"]),
        (["a", "a", "a"], ["a", "a#2", "a#3"]),
        (["a#2", "a", "a"], ["a#2", "a", "a#3"]),  # a name that is already taken is skipped
    ],
)
def test_unique_names(names, expected):
    assert unique_names(names) == expected


@pytest.mark.parametrize(
    "results, expected",
    [
        ({}, None),  # no checks: no verdict, so the checks metric leaves the output out
        ({"a": True}, True),
        ({"a": True, "b": True}, True),
        ({"a": True, "b": False}, False),
        ({"a": False}, False),
    ],
)
def test_passes_all(results, expected):
    assert passes_all(results) is expected


def test_checks_are_frozen_values_and_equal_by_type_value_and_name():
    check = parse_check({"type": "contains-any", "value": ["a", "b"]})
    assert check == Check("contains-any", ("a", "b")) == Check("contains-any", "a, b")
    assert check.value == ("a", "b")
    with pytest.raises(AttributeError):
        check.value = "c"
    assert parse_check({"type": "contains", "value": 7}).value == "7"


def test_default_name_without_a_check():
    assert default_name("json-schema", {"b": 1, "a": "é"}) == 'json-schema:{"a":"é","b":1}'


# ---- reference scores of one output -------------------------------------------------------------------
@pytest.mark.parametrize(
    "output, reference, expected",
    [
        ("4", "4", {"exact_match": 1.0, "contains": 1.0, "rouge_l": 1.0}),
        ("  The Answer\n", "the answer", {"exact_match": 1.0, "contains": 1.0, "rouge_l": 1.0}),
        # words [it, is, 4] vs [4]: LCS 1, P 1/3, R 1 -> F1 = 2 * 1/3 / (4/3) = 0.5
        ("It is 4.", "4", {"exact_match": 0.0, "contains": 1.0, "rouge_l": 0.5}),
        # Lin (2004): LCS 3 of 4 words each side -> 0.75
        ("police kill the gunman", "police killed the gunman", {"exact_match": 0.0, "contains": 0.0, "rouge_l": 0.75}),
        ("", "4", {"exact_match": 0.0, "contains": 0.0, "rouge_l": 0.0}),
        ("anything", None, {}),  # no reference: nothing to score
    ],
)
def test_reference_scores_of_one_output(output, reference, expected):
    assert reference_scores(output, reference) == pytest.approx(expected)
