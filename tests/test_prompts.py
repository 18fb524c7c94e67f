"""Prompt files in every accepted format, and every way they can be wrong."""

from __future__ import annotations

import pytest

from adapters_ui.adapters.demo import PROMPT_SETS
from adapters_ui.errors import PromptError
from adapters_ui.runs.prompts import PromptItem, parse_prompt_lines, read_prompt_items, read_prompts


@pytest.mark.parametrize(
    "text, expected",
    [
        ("a\nb", ["a", "b"]),
        ("  a  \n\n\t\nb\n", ["a", "b"]),
        ("a\r\nb\r\n", ["a", "b"]),
        ("", []),
        ("\n \n", []),
    ],
)
def test_parse_prompt_lines(text, expected):
    assert parse_prompt_lines(text) == expected


CASES = [
    # name, content (str is written as UTF-8), expected prompts
    ("p.txt", "Hello\nWorld\n", ["Hello", "World"]),
    ("p.txt", "  Hello  \n\n   \nWorld", ["Hello", "World"]),
    ("p.txt", "one\r\ntwo\r\n", ["one", "two"]),
    ("p.txt", "\ufeffBOM first\nsecond", ["BOM first", "second"]),
    ("p.TXT", "upper case suffix", ["upper case suffix"]),
    ("p.txt", "Ünïcødé ✓\n日本語", ["Ünïcødé ✓", "日本語"]),
    ("p.jsonl", '{"prompt": "a"}\n{"prompt": "b"}\n', ["a", "b"]),
    ("p.jsonl", '\n{"prompt": "a", "reference": "x"}\n\n  \n{"prompt": "b", "id": 7}\n', ["a", "b"]),
    ("p.jsonl", '{"prompt": "line1\\nline2"}', ["line1\nline2"]),
    ("p.jsonl", '{"prompt": "  "}\n{"prompt": "kept"}', ["kept"]),
    ("p.csv", "prompt\nHello\nWorld\n", ["Hello", "World"]),
    ("p.csv", 'id,prompt,reference\n1,"Say ""hi""",hi\n2,"multi\nline, with comma",\n', ['Say "hi"', "multi\nline, with comma"]),
    ("p.csv", " Prompt ,x\na,1\n,2\nb,3\n", ["a", "b"]),
    ("p.csv", "x,prompt\n1\n2,b\n", ["b"]),
    ("p.csv", "\ufeffprompt\r\nexcel\r\n", ["excel"]),
    ("p.csv", 'prompt\nsay "hi" now\n', ['say "hi" now']),
    ("p.json", '["a", "b"]', ["a", "b"]),
    ("p.json", '[{"prompt": "a", "reference": "r"}, "b", {"prompt": ""}]', ["a", "b"]),
]


@pytest.mark.parametrize("name, content, expected", CASES)
def test_read_prompts(tmp_path, name, content, expected):
    path = tmp_path / name
    path.write_text(content, encoding="utf-8", newline="")
    assert read_prompts(path) == expected


ERRORS = [
    # name, content (None = do not create), substring of the one-line message
    ("p.txt", None, "does not exist"),
    ("p.md", "hello", "unknown extension '.md': use .txt, .jsonl, .csv or .json"),
    ("prompts", "hello", "unknown extension '(none)'"),
    ("p.txt", "", "p.txt has no prompts"),
    ("p.txt", "\n  \n\t\n", "has no prompts"),
    ("p.txt", b"caf\xe9\n", "p.txt is not UTF-8 text"),
    ("p.csv", b"prompt\n\xff\xfe\n", "is not UTF-8"),
    ("p.jsonl", "", "has no prompts"),
    ("p.jsonl", '{"prompt": "a"}\n{"prompt": "b"\n', "p.jsonl line 2 is not valid JSON"),
    ("p.jsonl", '{"prompt": "a"}\n\n{"text": "b"}\n', 'line 3 has no "prompt" string'),
    ("p.jsonl", '"just a string"\n', "line 1 is not a JSON object"),
    ("p.jsonl", '{"prompt": 5}\n', 'line 1 has no "prompt" string'),
    ("p.jsonl", '{"prompt": "a", "reference": 3}\n', 'line 1 has a "reference" that is not a string'),
    ("p.jsonl", '{"prompt": "a", "category": ["x"]}\n', 'line 1 has a "category" that is not a string'),
    ("p.json", '[{"prompt": "a", "category": 2}]', 'item 1 has a "category" that is not a string'),
    ("p.csv", "text\nhello\n", "p.csv has no 'prompt' column: add a header row with a column named prompt."),
    ("p.csv", "", "has no 'prompt' column"),
    ("p.csv", "prompt\n", "has no prompts"),
    ("p.csv", "prompt\n , \n", "has no prompts"),
    ("p.csv", 'prompt\n"never closed\nmore\n', "is not valid CSV near line 3"),
    ("p.json", "{oops", "p.json is not valid JSON (line 1)"),
    ("p.json", '{"prompt": "a"}', "holds a JSON dict, not a list"),
    ("p.json", "[]", "has no prompts"),
    ("p.json", '["a", {"text": "b"}]', 'item 2 has no "prompt" string'),
    ("p.json", '["a", 3]', "item 2 is not a JSON object"),
]


@pytest.mark.parametrize("name, content, fragment", ERRORS)
def test_read_prompts_errors(tmp_path, name, content, fragment):
    path = tmp_path / name
    if isinstance(content, bytes):
        path.write_bytes(content)
    elif content is not None:
        path.write_text(content, encoding="utf-8", newline="")
    with pytest.raises(PromptError) as exc:
        read_prompts(path)
    message = str(exc.value)
    assert fragment in message
    assert name in message and "\n" not in message and ": " in message


def test_folder_is_not_a_prompt_file(tmp_path):
    (tmp_path / "dir.txt").mkdir()
    with pytest.raises(PromptError, match="does not exist or is not a file"):
        read_prompts(tmp_path / "dir.txt")


@pytest.mark.parametrize(
    "name, content, expected",
    [
        ("p.txt", "a\nb", [("a", None), ("b", None)]),
        ("p.jsonl", '{"prompt": "a", "reference": " ra "}\n{"prompt": "b"}\n{"prompt": "c", "reference": null}',
         [("a", "ra"), ("b", None), ("c", None)]),
        ("p.jsonl", '{"prompt": "a", "reference": ""}', [("a", None)]),
        ("p.jsonl", '{"prompt": "a"}\n{"prompt": "b"}', [("a", None), ("b", None)]),
        ("p.jsonl", '{"prompt": "  ", "reference": "orphan"}\n{"prompt": "b", "reference": "rb"}', [("b", "rb")]),
        ("p.csv", "prompt,Reference\na,ra\nb,\n", [("a", "ra"), ("b", None)]),
        ("p.csv", 'reference,prompt\n"two\nlines",a\n', [("a", "two\nlines")]),  # any column order, quoted newlines
        ("p.csv", "prompt\na\n", [("a", None)]),
        ("p.json", '[{"prompt": "a", "reference": "ra"}, "b"]', [("a", "ra"), ("b", None)]),
        ("p.json", '[{"prompt": "a"}, {"prompt": "b"}]', [("a", None), ("b", None)]),
    ],
)
def test_read_prompt_items_keeps_references(tmp_path, name, content, expected):
    path = tmp_path / name
    path.write_text(content, encoding="utf-8")
    assert read_prompt_items(path) == [PromptItem(p, r) for p, r in expected]
    assert read_prompts(path) == [p for p, _ in expected]


@pytest.mark.parametrize(
    "name, content, expected",
    [
        ("p.jsonl", '{"prompt": "a", "reference": "ra", "category": " pirate "}\n{"prompt": "b", "category": ""}\n'
         '{"prompt": "c", "category": null}', [("a", "ra", "pirate"), ("b", None, None), ("c", None, None)]),
        ("p.jsonl", '{"prompt": "a", "category": "chat"}', [("a", None, "chat")]),  # a category needs no reference
        ("p.csv", "Category,prompt,reference\njson,a,ra\n,b,rb\n", [("a", "ra", "json"), ("b", "rb", None)]),
        ("p.csv", "prompt,category\na\n", [("a", None, None)]),  # a short row: no category
        ("p.json", '[{"prompt": "a", "category": "x"}, "b"]', [("a", None, "x"), ("b", None, None)]),
        ("p.txt", "a\n", [("a", None, None)]),
    ],
)
def test_read_prompt_items_keeps_categories(tmp_path, name, content, expected):
    path = tmp_path / name
    path.write_text(content, encoding="utf-8")
    assert read_prompt_items(path) == [PromptItem(p, r, c) for p, r, c in expected]


def test_the_demo_set_carries_its_references():
    items = read_prompt_items(PROMPT_SETS / "demo.jsonl")
    assert items and all(item.reference for item in items)
    assert [item.text for item in items] == read_prompts(PROMPT_SETS / "demo.jsonl")
