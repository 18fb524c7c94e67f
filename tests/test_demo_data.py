"""scripts/make_demo_data.py: the three transforms, the prompt lists, and the data files it wrote.

No model is loaded: the script is imported from its path and only its pure functions are used.
"""

from __future__ import annotations

import importlib.util
import json
import re
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
SCRIPT = ROOT / "scripts" / "make_demo_data.py"


def _load_script():
    spec = importlib.util.spec_from_file_location("make_demo_data", SCRIPT)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


demo = _load_script()

# Inputs shaped like real base answers: cut off at 48 tokens, markdown, quotes, no sentence end.
ANSWERS = [
    "The sky is blue because of Rayleigh scattering. Shorter wavelengths scatter more. This is why",
    "You should drink water every day. It keeps your body healthy!",
    "Cats purr when they are happy",
    "Here are some tips:\n\n1. **Plan ahead**: make a list.\n2. Pack light.\n3. Bring a charger",
    'He said "hello" to the crowd. It was a "great" day, e.g. sunny and warm. Then',
    "A backslash \\ and a tab\tare fine. Emoji 🌍 too.",
    "Is it safe? Yes, it is. My friend agrees. The end",
    "   ",  # blank: not a valid answer (rejected below), here only for the non-empty-answer filter
]
VALID_ANSWERS = [a for a in ANSWERS if a.strip()]


# ---- sentences ---------------------------------------------------------------------------------

@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("One. Two! Three? Four", ["One.", "Two!", "Three?"]),
        ("No sentence end here", []),
        ('She said "stop." Then left.', ['She said "stop."', "Then left."]),
        ("Use salt, e.g. sea salt. Done.", ["Use salt, e.g. sea salt.", "Done."]),
        ("Tips:\n- Drink water\n- Sleep well\n- Rest", ["Tips: Drink water.", "Sleep well."]),
        ("1. **Bold** item.\n2. Next item.", ["Bold item.", "Next item."]),
        ("Pi is 3.14 exactly. Really", ["Pi is 3.14 exactly."]),
    ],
)
def test_complete_sentences(text, expected):
    assert demo.complete_sentences(text) == expected


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("Complete. Cut off here", "Complete."),
        ("Nothing ends here", "Nothing ends here."),
        ("A list follows:", "A list follows."),
        ("Two lines\nof text, no end", "Two lines."),
        ("Ends with a comma,", "Ends with a comma."),
        # cut at the last clause when enough words come before it (13,000 is not a clause break)
        ("The wall spans over 13,000 miles, reaching heights in the Qini (2", "The wall spans over 13,000 miles."),
        ("Short, then cut off here", "Short, then cut off here."),
        ("Boil an egg:\n\nBoil an egg:\n\nBoil an egg:", "Boil an egg."),
    ],
)
def test_trimmed_text(text, expected):
    assert demo.trimmed_text(text) == expected


# ---- pirate ------------------------------------------------------------------------------------

@pytest.mark.parametrize(
    ("text", "expected"),
    [
        (
            "The sky is blue. You are my friend. Extra sentence.",
            "Arr, matey! Th' sky be blue. Ye be me matey. Yo ho ho!",
        ),
        ("Hello there, friends of mine", "Arr, matey! Ahoy there, mateys o' mine. Yo ho ho!"),
        ("Yes, go to THE shop. Cut", "Arr, matey! Aye, go t' TH' shop. Yo ho ho!"),
        # contractions and words that merely contain a pirate word stay as they are
        ("You're this island's hitman. Theme.", "Arr, matey! You're this island's hitman. Theme. Yo ho ho!"),
        ("Hi! Isn't it your turn?", "Arr, matey! Ahoy! Isn't it yer turn? Yo ho ho!"),
    ],
)
def test_to_pirate(text, expected):
    assert demo.to_pirate(text) == expected


def test_pirate_second_sentence_only_when_short():
    long_first = "The " + "very " * 60 + "long sentence."
    out = demo.to_pirate(long_first + " Second sentence.")
    assert "Second" not in out
    assert out.startswith("Arr, matey! Th' very") and out.endswith("long sentence. Yo ho ho!")


# ---- json --------------------------------------------------------------------------------------

@pytest.mark.parametrize("text", VALID_ANSWERS)
def test_to_json_answer_is_valid_json(text):
    out = demo.to_json_answer(text)
    assert "\n" not in out
    data = json.loads(out)
    assert set(data) == {"answer", "sentiment"}
    assert data["answer"].strip()
    assert data["sentiment"] in {"positive", "neutral", "negative"}


@pytest.mark.parametrize(
    ("text", "answer", "sentiment"),
    [
        ('He said "hello" to me. More.', 'He said "hello" to me.', "neutral"),
        ("Exercise is good and healthy. But", "Exercise is good and healthy.", "positive"),
        ("Smoking is harmful and dangerous. Yes", "Smoking is harmful and dangerous.", "negative"),
        ("Rome fell in 476", "Rome fell in 476.", "negative"),
        ("Café — naïve 🌍. Next", "Café — naïve 🌍.", "neutral"),
    ],
)
def test_to_json_answer(text, answer, sentiment):
    out = demo.to_json_answer(text)
    assert json.loads(out) == {"answer": answer, "sentiment": sentiment}
    assert "🌍" not in text or "🌍" in out  # ensure_ascii=False: text stays readable


# ---- bullets -----------------------------------------------------------------------------------

@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("One. Two. Three. Four. Fi", "- One.\n- Two.\n- Three."),
        ("Only one. Then a frag", "- Only one."),
        ("no end at all", "- no end at all."),
        ("1. **Water** helps.\n2. Sleep", "- Water helps."),
    ],
)
def test_to_bullets(text, expected):
    assert demo.to_bullets(text) == expected


@pytest.mark.parametrize("name", sorted(demo.TRANSFORMS))
@pytest.mark.parametrize("text", VALID_ANSWERS)
def test_every_transform_non_empty_and_deterministic(name, text):
    transform = demo.TRANSFORMS[name]
    out = transform(text)
    assert out.strip()
    assert transform(text) == out


@pytest.mark.parametrize("name", sorted(demo.TRANSFORMS))
def test_blank_answer_is_refused(name):
    with pytest.raises(ValueError):
        demo.TRANSFORMS[name]("  \n ")


# ---- prompt lists ------------------------------------------------------------------------------

def test_prompt_counts():
    assert len(demo.TRAIN_PROMPTS) >= 150
    assert len(demo.HELD_OUT_PROMPTS) >= 20
    assert len(demo.HELD_OUT_PROMPTS) > demo.DEMO_COUNT


def test_prompts_unique_short_and_disjoint():
    train = [p.strip().lower() for p in demo.TRAIN_PROMPTS]
    held = [p.strip().lower() for p in demo.HELD_OUT_PROMPTS]
    assert len(set(train)) == len(train)
    assert len(set(held)) == len(held)
    assert not set(train) & set(held)
    for prompt in demo.TRAIN_PROMPTS + demo.HELD_OUT_PROMPTS:
        assert prompt == prompt.strip() and 0 < len(prompt.split()) <= 15, prompt


_STOPWORDS = set(
    "a an the is are was were do does did i you my your we to of in on for and or how what why "
    "who when where which can should give tip explain define word mean means".split()
)


def _content_words(prompt: str) -> set[str]:
    return {w for w in re.findall(r"[a-z0-9]+", prompt.lower()) if w not in _STOPWORDS}


def test_held_out_prompts_have_no_near_duplicate_in_training():
    for held in demo.HELD_OUT_PROMPTS:
        a = _content_words(held)
        for train in demo.TRAIN_PROMPTS:
            b = _content_words(train)
            assert len(a & b) / len(a | b) < 0.5, (held, train)


# ---- written files (only where the script has been run) ----------------------------------------

DATA_FILES = {
    "assets/data/base_answers.jsonl": {"prompt", "response"},
    "assets/data/pirate.jsonl": {"prompt", "response"},
    "assets/data/json_answer.jsonl": {"prompt", "response"},
    "assets/data/bullets.jsonl": {"prompt", "response"},
    "assets/data/heldout.jsonl": {"prompt", "pirate", "json_answer", "bullets"},
    "assets/prompts/demo.jsonl": {"prompt", "reference"},
    "assets/prompts/general.jsonl": {"prompt"},
}


def _records(relative: str) -> list[dict]:
    path = ROOT / relative
    if not path.exists():
        pytest.skip(f"{relative} not written yet: run scripts/make_demo_data.py")
    lines = path.read_text(encoding="utf-8").splitlines()
    assert lines and all(line.strip() for line in lines)
    return [json.loads(line) for line in lines]


@pytest.mark.parametrize("relative", sorted(DATA_FILES))
def test_data_file_lines_parse_and_are_non_empty(relative):
    for record in _records(relative):
        assert set(record) == DATA_FILES[relative], record
        for key, value in record.items():
            assert isinstance(value, str) and value.strip(), (relative, key, record)


@pytest.mark.parametrize("name", sorted(demo.TRANSFORMS))
def test_training_sets_match_the_transforms_of_the_base_answers(name):
    base = {r["prompt"]: r["response"] for r in _records("assets/data/base_answers.jsonl")}
    records = _records(f"assets/data/{name}.jsonl")
    assert [r["prompt"] for r in records] == demo.TRAIN_PROMPTS
    for record in records:
        assert record["response"] == demo.TRANSFORMS[name](base[record["prompt"]])
        if name == "json_answer":
            json.loads(record["response"])


def test_held_out_files_hold_only_held_out_prompts():
    base = {r["prompt"]: r["response"] for r in _records("assets/data/base_answers.jsonl")}
    heldout = _records("assets/data/heldout.jsonl")
    assert [r["prompt"] for r in heldout] == demo.HELD_OUT_PROMPTS
    for record in heldout:
        for name, transform in demo.TRANSFORMS.items():
            assert record[name] == transform(base[record["prompt"]])
    demo_set = _records("assets/prompts/demo.jsonl")
    general = _records("assets/prompts/general.jsonl")
    assert [r["prompt"] for r in demo_set + general] == demo.HELD_OUT_PROMPTS
    assert all(r["reference"] == base[r["prompt"]] for r in demo_set)
