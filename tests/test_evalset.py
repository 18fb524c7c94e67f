"""Evaluation set files in every accepted format, every way they can be damaged, and sets of 10,000 items."""

from __future__ import annotations

import hashlib
import json
import time

import pandas as pd
import pytest

from adapters_ui.analysis.checks import CHECK_TYPES, Check
from adapters_ui.errors import EvalSetError
from adapters_ui.runs.evalset import (
    MAX_ITEMS,
    EvalItem,
    Turn,
    derived_id,
    read_eval_set,
    summarize,
)


def write(tmp_path, name, content):
    """A file from text (UTF-8), bytes, or a dict of columns (written as Parquet by pandas)."""
    path = tmp_path / name
    if isinstance(content, dict):
        pd.DataFrame(content).to_parquet(path)
    elif isinstance(content, bytes):
        path.write_bytes(content)
    elif content is not None:
        path.write_text(content, encoding="utf-8", newline="")
    return path


def jsonl(*objects) -> str:
    return "".join((o if isinstance(o, str) else json.dumps(o)) + "\n" for o in objects)


def sha12(content: dict) -> str:
    """The derived id worked by hand: sha256 of sorted, compact JSON of prompt, messages and reference."""
    text = json.dumps(content, sort_keys=True, ensure_ascii=False, separators=(",", ":"))
    return hashlib.sha256(text.encode()).hexdigest()[:12]


# --- reading good files ---------------------------------------------------------------------------

def test_jsonl_items_defaults_metadata_and_derived_ids(tmp_path):
    path = write(tmp_path, "qa.jsonl", jsonl(
        {"defaults": {"checks": [{"type": "max-words", "value": 50}]}},
        "",
        {"prompt": "  2+2?  ", "reference": "4", "tags": ["math", "easy", "math"], "category": "general",
         "checks": [{"type": "contains", "value": "4"}], "source": "handmade", "level": 2},
        "   ",
        {"id": 7, "messages": [{"role": "system", "content": "Be brief."}, {"role": "user", "content": "Hi"}], "reference": " "},
        {"id": " q3 ", "prompt": "Name a colour", "tags": "colour; easy,", "checks": None},
    ))
    result = read_eval_set(path)
    first, second, third = result.items
    assert first == EvalItem(
        id=sha12({"prompt": "2+2?", "messages": None, "reference": "4"}), prompt="2+2?", reference="4", category="general",
        tags=("math", "easy"), checks=(Check("max-words", 50), Check("contains", "4")),
        metadata={"source": "handmade", "level": 2}, id_derived=True)
    assert second.id == "7" and second.prompt is None and second.reference is None and not second.id_derived
    assert second.messages == (Turn("system", "Be brief."), Turn("user", "Hi"))
    assert second.chat() == [{"role": "system", "content": "Be brief."}, {"role": "user", "content": "Hi"}]
    assert third.id == "q3" and third.tags == ("colour", "easy") and third.checks == (Check("max-words", 50),)
    assert third.chat() == [{"role": "user", "content": "Name a colour"}]
    assert result.derived_ids == 1 and result.default_checks == (Check("max-words", 50),) and result.name == "qa.jsonl"
    assert read_eval_set(path) == result  # derived ids are stable across reads


def test_derived_ids_depend_on_prompt_messages_and_reference_only():
    base = derived_id("2+2?", None, "4")
    assert base == sha12({"prompt": "2+2?", "messages": None, "reference": "4"})
    assert len({base, derived_id("2+2?", None, "5"), derived_id("2+2?", None, None), derived_id("2+3?", None, "4"),
                derived_id(None, (Turn("user", "2+2?"),), "4")}) == 5


def test_default_checks_argument_comes_after_the_files_defaults(tmp_path):
    path = write(tmp_path, "d.jsonl", jsonl({"defaults": {"checks": [{"type": "is-json"}]}},
                                            {"prompt": "a", "checks": [{"type": "icontains", "value": "A"}]}))
    result = read_eval_set(path, default_checks=[{"type": "not-contains", "value": "sorry"}])
    assert result.items[0].checks == (Check("is-json"), Check("not-contains", "sorry"), Check("icontains", "A"))
    assert result.default_checks == (Check("is-json"), Check("not-contains", "sorry"))


def test_csv_cells_hold_json_and_tag_lists(tmp_path):
    rows = [
        "\ufeffID,Prompt,messages,Reference,category,tags,checks,notes",
        '1,"Say ""hi""",,hi,chat,"a; b,c","[{""type"": ""starts-with"", ""value"": ""hi""}]",first',
        ",,,,,,,",
        '2,,"[{""role"": ""user"", ""content"": ""multi\nline""}]",,,"[""x"", ""y""]",,',
        "3,plain,,,,,,",
    ]
    result = read_eval_set(write(tmp_path, "s.csv", "\r\n".join(rows) + "\r\n"))
    one, two, three = result.items
    assert (one.id, one.prompt, one.reference, one.category) == ("1", 'Say "hi"', "hi", "chat")
    assert one.tags == ("a", "b", "c") and one.checks == (Check("starts-with", "hi"),) and one.metadata == {"notes": "first"}
    assert two.messages == (Turn("user", "multi\nline"),) and two.tags == ("x", "y") and two.metadata == {"notes": ""}
    assert (three.prompt, three.reference, three.category, three.tags, three.checks) == ("plain", None, None, (), ())
    assert result.derived_ids == 0


def test_csv_rows_are_counted_as_a_spreadsheet_shows_them(tmp_path):
    """The header is row 1; a cell spanning two lines is still one row."""
    text = 'prompt,checks\n"two\nlines",\nok,\nbad,"[{""type"": ""max-words"", ""value"": -1}]"\n'
    with pytest.raises(EvalSetError, match=r'row 4, field "checks": check 1: Check "max-words" needs 0 or more words, not -1'):
        read_eval_set(write(tmp_path, "rows.csv", text))


def test_parquet_with_struct_messages_json_checks_and_metadata(tmp_path):
    path = write(tmp_path, "p.parquet", {
        "id": ["a", "b"],
        "prompt": ["Hello", None],
        "messages": [None, [{"role": "user", "content": "Hi"}]],
        "checks": ['[{"type": "json-schema", "value": {"type": "object"}}]', None],
        "tags": [["t1"], None],
        "score": [3, 4],
    })
    first, second = read_eval_set(path).items
    assert first == EvalItem(id="a", prompt="Hello", tags=("t1",), checks=(Check("json-schema", {"type": "object"}),),
                             metadata={"score": 3})
    assert second.messages == (Turn("user", "Hi"),) and second.metadata == {"score": 4}


VALID_CHECKS = [
    # a check of every type, in its stored shape
    ({"type": "equals", "value": ""}, Check("equals", "")),
    ({"type": "contains", "value": "x"}, Check("contains", "x")),
    ({"type": "icontains", "value": "X"}, Check("icontains", "X")),
    ({"type": "contains-any", "value": ["a", "b"]}, Check("contains-any", ("a", "b"))),
    ({"type": "contains-all", "value": ["a"]}, Check("contains-all", ("a",))),
    ({"type": "not-contains", "value": "sorry"}, Check("not-contains", "sorry")),
    ({"type": "regex", "value": r"^\d+$"}, Check("regex", r"^\d+$")),
    ({"type": "starts-with", "value": "-"}, Check("starts-with", "-")),
    ({"type": "is-json"}, Check("is-json", None)),
    ({"type": "json-schema", "value": {"type": "object", "required": ["a"]}}, Check("json-schema", {"type": "object", "required": ["a"]})),
    ({"type": "max-words", "value": 1}, Check("max-words", 1)),
]


def test_every_check_type_has_a_valid_example():
    assert sorted(raw["type"] for raw, _ in VALID_CHECKS) == sorted(CHECK_TYPES)


@pytest.mark.parametrize("raw, expected", VALID_CHECKS)
def test_valid_checks(tmp_path, raw, expected):
    path = write(tmp_path, "c.jsonl", jsonl({"prompt": "p", "checks": [raw]}))
    assert read_eval_set(path).items[0].checks == (expected,)


def test_summary_counts_and_text(tmp_path):
    path = write(tmp_path, "s.jsonl", jsonl(
        {"defaults": {"checks": [{"type": "max-words", "value": 9}]}},
        {"prompt": "a", "category": "json", "tags": ["easy"], "reference": "r"},
        {"prompt": "b", "category": "json", "tags": ["easy", "long"]},
        {"id": "c", "messages": [{"role": "user", "content": "c"}], "reference": "r", "category": "bullets"},
        {"id": "d", "prompt": "d"},
    ))
    summary = summarize(read_eval_set(path))
    assert summary.categories == (("json", 2), ("bullets", 1)) and summary.without_category == 1
    assert summary.tags == (("easy", 2), ("long", 1))
    assert (summary.items, summary.derived_ids, summary.with_reference, summary.with_checks, summary.multi_turn) == (4, 2, 2, 4, 1)
    assert summary.text() == ("4 items (2 ids derived from content), 2 with a reference, 4 with checks (1 default), 1 multi-turn; "
                              "categories: json 2, bullets 1, (none) 1; tags: easy 2, long 1.")


def test_summary_of_a_plain_set():
    from adapters_ui.runs.evalset import EvalSet

    summary = summarize(EvalSet("x.jsonl", (EvalItem(id="1", prompt="p"),)))
    assert summary.text() == "1 item, 0 with a reference, 0 with checks; categories: (none) 1; tags: none."


# --- damage -----------------------------------------------------------------------------------------

P = {"prompt": "p"}
ERRORS = [
    # file name, content (text, bytes, Parquet columns or None for no file), reader arguments, part of the one-line error
    ("s.jsonl", jsonl(P, "{prompt: b}"), {}, "s.jsonl line 2 is not valid JSON"),
    ("s.jsonl", jsonl(P, '["a"]'), {}, "line 2 is a list, not an object"),
    ("s.jsonl", jsonl({"reference": "x"}), {}, 'line 1, field "prompt": is missing (and so is messages)'),
    ("s.jsonl", jsonl({"prompt": "a", "messages": [{"role": "user", "content": "b"}]}), {}, 'field "prompt": and messages are both given'),
    ("s.jsonl", jsonl({"prompt": "  "}), {}, 'field "prompt": is empty'),
    ("s.jsonl", jsonl({"prompt": 5}), {}, 'field "prompt": is a number, not a string'),
    ("s.jsonl", jsonl({"messages": "hi"}), {}, 'field "messages": is not a list of turns'),
    ("s.jsonl", jsonl({"messages": []}), {}, 'field "messages": is not a list of turns'),
    ("s.jsonl", jsonl({"messages": [{"role": "user"}]}), {}, 'field "messages": turn 1 is not a {role, content} object'),
    ("s.jsonl", jsonl({"messages": [{"role": "bot", "content": "x"}]}), {}, "turn 1 has role 'bot': use user, assistant, system"),
    ("s.jsonl", jsonl({"messages": [{"role": "user", "content": " "}]}), {}, "turn 1 has empty content"),
    ("s.jsonl", jsonl({"messages": [{"role": "user", "content": "q"}, {"role": "assistant", "content": "a"}]}), {},
     "its last turn is 'assistant', not 'user'"),
    ("s.jsonl", jsonl({"id": "a", "prompt": "x"}, P, {"id": "a", "prompt": "y"}), {}, 'line 3, field "id": repeats the id of line 1'),
    ("s.jsonl", jsonl({"id": 1, "prompt": "x"}, {"id": "1", "prompt": "y"}), {}, "line 2, field \"id\": repeats the id of line 1 ('1')"),
    ("s.jsonl", jsonl(P, {"prompt": " p "}), {}, 'line 2, field "id": has the same content as line 1'),
    ("s.jsonl", jsonl({"id": ["a"], "prompt": "x"}), {}, 'field "id": is a list: make it a string or a whole number'),
    ("s.jsonl", jsonl({"id": True, "prompt": "x"}), {}, 'field "id": is true/false'),
    ("s.jsonl", jsonl({"id": 1.5, "prompt": "x"}), {}, 'field "id": is a number'),
    ("s.jsonl", jsonl({"prompt": "x", "reference": 4}), {}, 'field "reference": is a number, not a string'),
    ("s.jsonl", jsonl({"prompt": "x", "category": ["a"]}), {}, 'field "category": is a list, not a string'),
    ("s.jsonl", jsonl({"prompt": "x", "tags": [1]}), {}, 'field "tags": is not a list of strings'),
    ("s.jsonl", jsonl({"prompt": "x", "tags": {"a": 1}}), {}, 'field "tags": is not a list of strings'),
    ("s.jsonl", jsonl({"prompt": "x", "checks": {"type": "is-json"}}), {}, 'field "checks": is an object, not a list'),
    ("s.jsonl", jsonl({"prompt": "x", "checks": [{"value": "a"}]}), {}, 'field "checks": check 1: A check has no "type": give one of equals'),
    ("s.jsonl", jsonl({"prompt": "x", "checks": ["contains"]}), {}, 'check 1: A check must be an object like {"type": "contains"'),
    ("s.jsonl", jsonl({"prompt": "x", "checks": [{"type": "is-json"}, {"type": "llm-rubric", "value": "a"}]}), {},
     'check 2: Check type "llm-rubric" runs code or calls a model, and checks from a file never do'),
    ("s.jsonl", jsonl({"prompt": "x", "checks": [{"type": "contains", "valeu": "a"}]}), {}, 'check 1: Check key "valeu" is not supported'),
    ("s.jsonl", jsonl({"prompt": "x", "checks": [{"type": "contains"}]}), {}, 'check 1: Check "contains" needs text or a number, not null'),
    ("s.jsonl", jsonl({"prompt": "x", "checks": [{"type": "equals", "value": [4, {"a": float("nan")}]}]}), {}, 'check 1: Check "equals" value'),
    ("s.jsonl", jsonl({"prompt": "x", "checks": [{"type": "regex", "value": "(a"}]}), {},
     'check 1: Check "regex" pattern "(a" is not a valid regular expression (missing ) at position 2)'),
    ("s.jsonl", jsonl({"prompt": "x", "checks": [{"type": "max-words", "value": -2}]}), {}, 'check 1: Check "max-words" needs 0 or more words, not -2'),
    ("s.jsonl", jsonl({"prompt": "x", "checks": [{"type": "max-words", "value": "5"}]}), {}, 'Check "max-words" needs a whole number of words, not "5"'),
    ("s.jsonl", jsonl({"prompt": "x", "checks": [{"type": "max-words", "value": True}]}), {}, 'Check "max-words" needs a whole number of words, not true'),
    ("s.jsonl", jsonl({"prompt": "x", "checks": [{"type": "contains-any", "value": 5}]}), {}, 'Check "contains-any" needs a non-empty list of texts, not 5'),
    ("s.jsonl", jsonl({"prompt": "x", "checks": [{"type": "contains-all", "value": []}]}), {}, 'Check "contains-all" needs a non-empty list of texts, not []'),
    ("s.jsonl", jsonl({"prompt": "x", "checks": [{"type": "json-schema", "value": "object"}]}), {},
     'Check "json-schema" value is not a JSON schema: the text is not JSON'),
    ("s.jsonl", jsonl({"prompt": "x", "checks": [{"type": "json-schema", "value": {"type": "nonsense"}}]}), {},
     'Check "json-schema" schema is invalid: \'nonsense\' is not valid under any of the given schemas'),
    ("s.jsonl", jsonl({"prompt": "x", "checks": [{"type": "is-json", "value": 3}]}), {}, 'check 1: Check "is-json"'),
    ("s.jsonl", jsonl(P, {"defaults": {"checks": []}}), {}, 'line 2 gives "defaults" after the first item: move it to the first line'),
    ("s.jsonl", jsonl({"defaults": {"check": []}}, P), {}, 'line 1, field "defaults": is not {"checks": [...]}'),
    ("s.jsonl", jsonl({"defaults": {"checks": [{"type": "regex"}]}}, P), {},
     'line 1, field "defaults.checks": check 1: Check "regex" needs a pattern as text, not null'),
    ("s.jsonl", jsonl(P), {"default_checks": [{"type": "rouge"}]},
     'The default checks for s.jsonl: check 1: Check type "rouge" is unknown: give one of equals'),
    ("s.jsonl", jsonl(P), {"default_checks": {"type": "is-json"}}, "The default checks for s.jsonl: is an object, not a list"),
    ("s.csv", "question,reference\nhi,x\n", {}, "s.csv has no 'prompt' or 'messages' column: add a header row"),
    ("s.csv", "prompt,messages\n,\n,[{role: user}]\n", {}, 's.csv row 3, field "messages": is not valid JSON'),
    ("s.csv", "prompt,checks\na,\nb,not json\n", {}, 'row 3, field "checks": is not valid JSON (Expecting value, character 1)'),
    ("s.csv", "prompt,tags\na,[x\n", {}, 'row 2, field "tags": is not valid JSON'),
    ("s.csv", "Prompt,note,prompt\na,b,c\n", {}, "s.csv has two columns named 'prompt': rename or remove one of them"),
    ("s.csv", "prompt\na\nb,c\n", {}, "row 3 has 2 cells but the header names 1: check the row's quotes and commas"),
    ("s.csv", 'prompt\n"never closed\n', {}, "s.csv is not valid CSV"),
    ("s.csv", "prompt,reference\n,ref\n", {}, 's.csv row 2, field "prompt": is missing'),
    ("s.csv", "", {}, "s.csv has no 'prompt' or 'messages' column"),
    ("s.csv", "prompt\n\n,\n", {}, "s.csv has no items"),
    ("s.jsonl", "", {}, "s.jsonl has no items: add at least one row"),
    ("s.jsonl", "\n  \n\t\n", {}, "s.jsonl has no items"),
    ("s.jsonl", jsonl({"defaults": {"checks": []}}), {}, "s.jsonl has no items"),
    ("s.parquet", b"PAR1 this is not parquet", {}, "s.parquet is not a readable Parquet file"),
    ("s.parquet", {"question": ["a"]}, {}, "s.parquet has no 'prompt' or 'messages' column: add a column named prompt"),
    ("s.parquet", {"prompt": ["a", None], "messages": [None, '[{"role": "user"}]']}, {}, 's.parquet row 2, field "messages": turn 1 is not'),
    ("s.parquet", {"prompt": ["a", "b"], "reference": [1, 2]}, {}, 'row 1, field "reference": is a number, not a string'),
    ("s.parquet", {"prompt": ["a", "b"]}, {"max_items": 1}, "s.parquet has more than 1 items: split it into sets of at most 1"),
    ("s.jsonl", jsonl(P, {"prompt": "q"}, {"prompt": "r"}), {"max_items": 2}, "s.jsonl has more than 2 items"),
    ("s.jsonl", jsonl(P), {"max_bytes": 4}, "s.jsonl is 16 B, over the 4 B limit: split it into smaller sets (at most 100,000 items each)"),
    ("s.json", "[]", {}, "s.json has an unknown extension '.json': use .jsonl, .csv or .parquet"),
    ("set", "x", {}, "unknown extension '(none)'"),
    ("s.jsonl", None, {}, "does not exist or is not a file"),
    ("s.jsonl", b'{"prompt": "\xff"}', {}, "s.jsonl is not UTF-8 text"),
]


@pytest.mark.parametrize("name, content, kwargs, expected", ERRORS)
def test_damaged_sets_are_refused_in_one_line(tmp_path, name, content, kwargs, expected):
    path = write(tmp_path, name, content)
    with pytest.raises(EvalSetError) as caught:
        read_eval_set(path, **kwargs)
    message = str(caught.value)
    assert expected in message
    assert "\n" not in message and message.endswith(".") and ": " in message  # one line: what is wrong, then what to do


def test_the_item_cap_is_a_hundred_thousand():
    assert MAX_ITEMS == 100_000


# --- scale ------------------------------------------------------------------------------------------

N = 10_000


def many_items():
    return [{"prompt": f"Question {i}?", "reference": f"Answer {i}", "category": f"c{i % 4}", "tags": ["t", f"t{i % 3}"],
             "checks": [{"type": "contains", "value": str(i)}, {"type": "max-words", "value": 20}]} for i in range(N)]


def test_ten_thousand_jsonl_items_load(tmp_path):
    path = write(tmp_path, "big.jsonl", jsonl(*many_items()))
    start = time.perf_counter()
    result = read_eval_set(path)
    seconds = time.perf_counter() - start
    assert len(result.items) == N == result.derived_ids == len({item.id for item in result.items})
    assert result.items[-1].checks == (Check("contains", str(N - 1)), Check("max-words", 20))
    assert summarize(result).categories == (("c0", 2500), ("c1", 2500), ("c2", 2500), ("c3", 2500))
    assert seconds < 30, seconds  # linear work: about a second; a quadratic duplicate check would take minutes


def test_ten_thousand_parquet_rows_load(tmp_path):
    rows = many_items()
    columns = {"id": [f"q{i}" for i in range(N)], "prompt": [r["prompt"] for r in rows], "reference": [r["reference"] for r in rows],
               "tags": [r["tags"] for r in rows], "checks": [json.dumps(r["checks"]) for r in rows], "source": ["gen"] * N}
    result = read_eval_set(write(tmp_path, "big.parquet", columns))
    assert [item.id for item in result.items[:2]] == ["q0", "q1"] and len(result.items) == N and result.derived_ids == 0
    assert result.items[-1].metadata == {"source": "gen"} and result.items[-1].tags == ("t", "t0")
