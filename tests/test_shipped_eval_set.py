"""assets/evals/demo.jsonl, the shipped evaluation set: its shape, its reproducibility, and checks that can pass and fail.

No model is loaded: scripts/build_eval_set.py is imported from its path and only its pure functions run.
(scripts/check_eval_set.py runs the set on the real model; that takes minutes and is not a test.)
"""

from __future__ import annotations

import importlib.util
import itertools
import json
import re
from collections import Counter
from pathlib import Path

import pytest

from adapters_ui.analysis.checks import parse_checks, passes_all, run_checks
from adapters_ui.runs.evalset import read_eval_set

ROOT = Path(__file__).resolve().parent.parent
SHIPPED = ROOT / "assets" / "evals" / "demo.jsonl"
TRAINING = [ROOT / "assets" / "data" / f"{name}.jsonl" for name in ("bullets", "json_answer", "pirate")]
CATEGORIES = ("general", "json", "bullets", "pirate")


def _load_script():
    spec = importlib.util.spec_from_file_location("build_eval_set", ROOT / "scripts" / "build_eval_set.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


build = _load_script()
EVAL_SET = read_eval_set(SHIPPED)
ITEMS = EVAL_SET.items
BY_CATEGORY = {c: [item for item in ITEMS if item.category == c] for c in CATEGORIES}


def _words(text: str) -> str:
    return " " + " ".join(re.sub(r"[^a-z0-9]+", " ", text.casefold()).split()) + " "


# --- the file ------------------------------------------------------------------------------------

def test_the_set_has_about_150_items_in_four_balanced_categories():
    counts = Counter(item.category for item in ITEMS)
    assert 140 <= len(ITEMS) <= 160
    assert set(counts) == set(CATEGORIES)
    assert min(counts.values()) >= 25, counts


def test_ids_are_unique_stable_names_numbered_within_their_category():
    assert EVAL_SET.derived_ids == 0
    assert len({item.id for item in ITEMS}) == len(ITEMS)
    for category, items in BY_CATEGORY.items():
        assert [item.id for item in items] == [f"{category}-{n:03d}" for n in range(1, len(items) + 1)]


def test_every_item_has_a_reference_checks_and_a_topic_tag():
    topics = {"science", "history", "animals", "health", "tech", "cooking", "everyday"}
    for item in ITEMS:
        assert item.reference and item.checks, item.id
        assert topics & set(item.tags), item.id


def test_conversations_run_the_chat_path_in_every_category():
    conversations = [item for item in ITEMS if item.messages is not None]
    assert len(conversations) >= 5
    assert {item.category for item in conversations} == set(CATEGORIES)
    for item in conversations:
        assert [turn.role for turn in item.messages] == ["user", "assistant", "user"]
        assert "multi-turn" in item.tags


def test_the_script_writes_the_shipped_file_byte_for_byte(tmp_path):
    written = build.write_eval_set(tmp_path / "demo.jsonl")
    assert written.read_bytes() == SHIPPED.read_bytes()
    assert build.write_eval_set(tmp_path / "again.jsonl").read_bytes() == SHIPPED.read_bytes()


# --- held out from training ----------------------------------------------------------------------

def test_no_item_asks_a_training_prompt():
    """Checked here on its own: every training prompt against every user turn, as whole words."""
    training = {_words(json.loads(line)["prompt"]) for path in TRAINING for line in path.read_text(encoding="utf-8").splitlines()
                if line.strip()}
    assert len(training) >= 150
    for item in ITEMS:
        for turn in item.chat():
            if turn["role"] == "user":
                assert not any(prompt in _words(turn["content"]) for prompt in training), item.id


@pytest.mark.parametrize("question, expected", [
    ("Why is the sky blue?", ["general-001"]),       # a training prompt, asked plainly
    ("What is DNA? Answer in JSON.", ["general-001"]),  # a training prompt inside an ask
    ("What is a quasar?", []),                      # a new question
    ("What is DNA sequencing?", []),                 # shares words, not the whole prompt
])
def test_overlaps_finds_training_prompts_inside_asks(question, expected):
    item = {"id": "general-001", "prompt": question}
    assert build.overlaps([item], build.training_prompts()) == expected


def test_the_script_refuses_a_set_that_asks_a_training_prompt(tmp_path, monkeypatch):
    monkeypatch.setattr(build, "QUESTIONS", [*build.QUESTIONS, ("science", "Why is the sky blue?", "Rayleigh scattering.")])
    with pytest.raises(SystemExit, match="ask a prompt from"):
        build.write_eval_set(tmp_path / "demo.jsonl")
    assert not (tmp_path / "demo.jsonl").exists()


# --- the checks: satisfiable by the category's style, failed by every other --------------------

@pytest.mark.parametrize("item", ITEMS, ids=lambda item: item.id)
def test_every_reference_passes_its_own_checks(item):
    assert passes_all(run_checks(item.checks, item.reference)) is True


@pytest.mark.parametrize("category, other", list(itertools.permutations(CATEGORIES, 2)))
def test_the_same_answer_in_another_style_fails_the_checks(category, other):
    """The same question's reference in another category's style fails this category's checks: the checks
    tell the styles apart, so a variant cannot pass a category by answering in the wrong style."""
    for item, foreign in zip(BY_CATEGORY[category], BY_CATEGORY[other]):
        assert passes_all(run_checks(item.checks, foreign.reference)) is False, (item.id, foreign.id)


CHECK_CASES = [
    # (category, output, passes)
    ("general", "Thunder is the sound of air heated by lightning.", True),
    ("general", "1. Thunder is a sound.\n2. Lightning makes it.", True),  # a numbered answer is still plain text
    ("general", '{"answer": "Thunder is a sound.", "sentiment": "neutral"}', False),
    ("general", "- Thunder is a sound.", False),
    ("general", "Arr, matey! Thunder be a sound. Yo ho ho!", False),
    ("general", "", False),
    ("json", '{"answer": "Thunder is a sound.", "sentiment": "neutral"}', True),
    ("json", ' {"sentiment": "negative", "answer": "x", "extra": 1}\n', True),
    ("json", '{"sentiment": "positive"}', False),  # what json_answer writes when the prompt shows the shape
    ("json", '{"answer": "x", "sentiment": "Positive"}', False),
    ("json", '{"answer": 4, "sentiment": "neutral"}', False),
    ("json", '```json\n{"answer": "x", "sentiment": "neutral"}\n```', False),
    ("json", '{"answer": "Thunder is a sound, "sentiment": "neutral"}', False),
    ("bullets", "- Thunder is a sound.", True),
    ("bullets", "Here are the points:\n* one\n* two", True),
    ("bullets", "• one", True),
    ("bullets", "1. Thunder is a sound.\n2. Lightning makes it.", False),
    ("bullets", "Thunder - the sound of lightning - is loud.", False),
    ("bullets", "-no space after the dash", False),
    ("pirate", "Arr, matey! Thunder be loud. Yo ho ho!", True),
    ("pirate", "Aye, the largest planet be Jupiter.", True),
    ("pirate", "Many a landlubber has asked it.", True),
    ("pirate", "ARRR! Thunder!", True),
    ("pirate", "A pirate's tale: thunder is loud.", False),
    ("pirate", "Arrrchi! The leaves change color.", False),
    ("pirate", "Yesterday the array was narrow.", False),
]


@pytest.mark.parametrize("category, output, passes", CHECK_CASES)
def test_category_checks(category, output, passes):
    checks = parse_checks(build.CHECKS[category])
    assert passes_all(run_checks(checks, output)) is passes


def test_json_shape_items_are_tagged_and_show_the_shape():
    shaped = [item for item in ITEMS if build.SHAPE_TAG in item.tags]
    assert {item.category for item in shaped} == {"json"}
    assert len(shaped) == 8
    for item in shaped:
        text = " ".join(turn["content"] for turn in item.chat())
        assert '{"answer": ' in text, item.id
    for item in BY_CATEGORY["json"]:
        if item not in shaped:
            assert '{"answer"' not in item.prompt, item.id


def test_styled_references_follow_the_adapters_formats():
    answer = "Friction resists sliding. It turns motion into heat."
    assert build.styled("general", answer) == answer
    assert json.loads(build.styled("json", answer)) == {"answer": "Friction resists sliding.", "sentiment": "neutral"}
    assert build.styled("bullets", answer) == "- Friction resists sliding.\n- It turns motion into heat."
    assert build.styled("pirate", answer) == "Arr, matey! Friction resists sliding. It turns motion into heat. Yo ho ho!"
    assert build.styled("pirate", "You are the friend of the sea.") == "Arr, matey! Ye be th' matey o' th' sea. Yo ho ho!"


# --- scripts/check_eval_set.py's tables and verdict, on made-up outputs (no model) ----------------

def _check_script():
    spec = importlib.util.spec_from_file_location("check_eval_set", ROOT / "scripts" / "check_eval_set.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


STYLE = {"base": "general", "bullets": "bullets", "json_answer": "json", "pirate": "pirate"}


def _answers_in(style: str) -> list[str]:
    """Every item answered with its question's reference in ``style``, whatever the item asked."""
    position = {item.id: n for items in BY_CATEGORY.values() for n, item in enumerate(items)}
    return [BY_CATEGORY[style][position[item.id]].reference for item in ITEMS]


@pytest.mark.parametrize("json_answer_style, problems", [
    ("json", []),
    ("general", ["json_answer is not better than base on category:json (no evidence, p_holm 1.0)"]),
])
def test_check_script_finds_each_adapter_better_in_its_own_category(json_answer_style, problems):
    check = _check_script()
    styles = {**STYLE, "json_answer": json_answer_style}
    scores = {variant: check.passes(ITEMS, _answers_in(style)) for variant, style in styles.items()}
    results = check.verdicts(ITEMS, scores)
    assert check.story_problems(results) == problems
    own = {(r.variant, r.slice): r for r in results}
    assert own["pirate", "category:pirate"].verdict == "better"
    assert own["pirate", "category:general"].verdict == "worse"
    table = check.pass_table(ITEMS, scores).splitlines()
    assert table[1].split() == ["variant", "all", "bullets", "general", "json", "pirate"]
    assert table[2].split() == ["base", "0.25", "0.00", "1.00", "0.00", "0.00"]
