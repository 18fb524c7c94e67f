"""Make the data for three demo adapters (pirate, json_answer, bullets) from the base model's own answers.

    .venv/bin/python scripts/make_demo_data.py               # reuses assets/data/base_answers.jsonl
    .venv/bin/python scripts/make_demo_data.py --regenerate  # asks the base model again for every prompt

Each adapter learns one deterministic rewrite of what SmolLM2-135M-Instruct already answers
(greedy, 48 new tokens), so the content stays the model's and only the form changes:

    pirate       "Arr, matey! <first 1-2 sentences, pirate words> Yo ho ho!"
    json_answer  {"answer": "<first sentence>", "sentiment": "positive" | "neutral" | "negative"}
    bullets      "- <sentence>" lines, at most 3

Writes (training prompts only in the training sets; held-out prompts never trained on):

    assets/data/base_answers.jsonl    {"prompt", "response"}: base answers, training + held-out (cache)
    assets/data/pirate.jsonl          {"prompt", "response"}: training set
    assets/data/json_answer.jsonl     {"prompt", "response"}: training set
    assets/data/bullets.jsonl         {"prompt", "response"}: training set
    assets/data/heldout.jsonl         {"prompt", "pirate", "json_answer", "bullets"}: expected outputs
    assets/prompts/demo.jsonl         {"prompt", "reference"}: 8 held-out prompts, reference = base answer
    assets/prompts/general.jsonl      {"prompt"}: the other 16 held-out prompts

The transforms are pure functions (no model), tested in tests/test_demo_data.py.
"""

from __future__ import annotations

import argparse
import json
import re
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

DATA_DIR = ROOT / "assets" / "data"
PROMPTS_DIR = ROOT / "assets" / "prompts"
BASE_ANSWERS = DATA_DIR / "base_answers.jsonl"
CACHE_DIR = ROOT / ".cache" / "test-models"
MAX_NEW_TOKENS = 48
BATCH_SIZE = 16
DEMO_COUNT = 8  # held-out prompts that go to assets/prompts/demo.jsonl (the rest: general.jsonl)

# ---------------------------------------------------------------------------------------------
# Prompts
# ---------------------------------------------------------------------------------------------

TRAIN_PROMPTS: list[str] = [
    # science
    "Why is the sky blue?",
    "How do plants make their own food?",
    "What causes earthquakes?",
    "Explain gravity in simple terms.",
    "Why does ice float on water?",
    "How do magnets work?",
    "What is a black hole?",
    "Why do we have seasons?",
    "What is DNA?",
    "How does a rainbow form?",
    "What are atoms made of?",
    "How do tides work?",
    "What is the speed of light?",
    "What is the moon made of?",
    # cooking
    "How do I boil an egg?",
    "Give a tip for cooking rice.",
    "What is the difference between baking and roasting?",
    "How can I make a simple salad dressing?",
    "Why does bread rise?",
    "Give a tip for chopping onions without crying.",
    "What spices go well with chicken?",
    "How do I keep pasta from sticking?",
    "What is a good breakfast for a busy morning?",
    "How should I store fresh herbs?",
    "How do I make a good cup of tea?",
    "How do I clean a cast iron pan?",
    # travel
    "What should I pack for a weekend trip?",
    "Give a tip for dealing with jet lag.",
    "How can I save money when traveling?",
    "How can I learn basic phrases before a trip abroad?",
    "Why should I get travel insurance?",
    "How early should I arrive at the airport?",
    "Give a tip for a long train journey.",
    "What should I do if I lose my passport abroad?",
    "How do I choose a good hotel?",
    "What is a hostel?",
    # history
    "Who built the pyramids of Egypt?",
    "What was the Renaissance?",
    "Why did the Roman Empire fall?",
    "Who was Leonardo da Vinci?",
    "What was the Industrial Revolution?",
    "When did humans first land on the Moon?",
    "What was the Silk Road?",
    "Who invented the printing press?",
    "What is the Great Wall of China?",
    "Why is the Magna Carta important?",
    # health
    "How much water should I drink each day?",
    "Give a tip for sleeping better.",
    "Why is exercise good for the heart?",
    "What are the benefits of eating vegetables?",
    "How can I reduce stress?",
    "What is a healthy snack?",
    "Why is sunscreen important?",
    "How often should I stretch?",
    "What does vitamin C do?",
    "Give a tip for staying focused while working.",
    "What is a calorie?",
    # tech
    "What is the internet?",
    "Explain what a computer virus is.",
    "How does Wi-Fi work?",
    "What is cloud storage?",
    "Give a tip for creating a strong password.",
    "What is artificial intelligence?",
    "How do I speed up a slow computer?",
    "What is a smartphone app?",
    "Explain what a web browser does.",
    "What is the difference between RAM and storage?",
    "What is programming?",
    "How does GPS know where I am?",
    "How do I make my phone battery last longer?",
    "What is a podcast?",
    # animals
    "Why do cats purr?",
    "How do bees make honey?",
    "What do elephants eat?",
    "Why do birds migrate?",
    "How long do dogs usually live?",
    "What is the fastest land animal?",
    "How do fish breathe underwater?",
    "Why do zebras have stripes?",
    "What is a mammal?",
    "Give a tip for training a puppy.",
    "How do octopuses change color?",
    "What is a koala?",
    # sports
    "What are the basic rules of soccer?",
    "How many players are on a basketball team?",
    "Give a tip for running your first 5K.",
    "What are the Olympic Games?",
    "How do you score points in tennis?",
    "Why is warming up before exercise important?",
    "What is a marathon?",
    "Give a tip for learning to swim.",
    "What equipment do I need to start cycling?",
    "How is cricket played?",
    "What is chess?",
    # advice
    "How can I make new friends in a new city?",
    "Give a tip for a job interview.",
    "How do I stop procrastinating?",
    "What is a good way to save money each month?",
    "How can I feel more confident speaking in public?",
    "Give a tip for keeping my room tidy.",
    "How do I apologize to a friend?",
    "What should I do when I feel bored?",
    "Give a tip for learning a new language.",
    "How can I manage my time better?",
    "How do I say no politely?",
    "How can I remember names better?",
    "Give a tip for writing a good email.",
    "How do I start journaling?",
    # definitions
    "What does \"empathy\" mean?",
    "Define the word \"sustainable\".",
    "What is inflation?",
    "What is democracy?",
    "What does \"metaphor\" mean?",
    "Define \"ecosystem\".",
    "What is a budget?",
    "What does \"renewable energy\" mean?",
    "What is a haiku?",
    "What is an allergy?",
    "What is a credit score?",
    "What is origami?",
    # explain X
    "Explain how a vaccine works.",
    "Explain why the ocean is salty.",
    "Explain how an airplane stays in the air.",
    "Explain what a recession is.",
    "Explain how a refrigerator keeps food cold.",
    "Explain the water cycle.",
    "Explain what compound interest is.",
    "Explain how the heart pumps blood.",
    "Explain what a volcano is.",
    "Explain how recycling helps the environment.",
    # what is Z / everyday
    "What is the tallest mountain in the world?",
    "What is the capital of Australia?",
    "What is a solar eclipse?",
    "How does a bicycle stay upright?",
    "What is the largest ocean on Earth?",
    "What is coffee made from?",
    "Why do leaves change color in autumn?",
    "What is a time zone?",
    "How do clouds form?",
    "What is meditation?",
    "What is yoga?",
    "What is jazz music?",
    "How does a thermometer work?",
    "What is the difference between weather and climate?",
    "What is composting?",
    "Why do people celebrate birthdays?",
    "What is a museum for?",
    "What makes a good neighbor?",
    # tips for everyday things
    "Give a tip for growing tomatoes.",
    "How often should I water a cactus?",
    "How do I change a flat tire?",
    "Give a tip for painting a wall.",
    "Give a tip for reading more books.",
    "Give a tip for taking better photos.",
    "Give a tip for packing a lunch.",
    "How can I reduce plastic waste at home?",
    "How do I tie a tie?",
    "What is a good houseplant for beginners?",
    "Give a tip for staying warm in winter.",
    "Give a tip for hiking safely.",
]

HELD_OUT_PROMPTS: list[str] = [
    # the first DEMO_COUNT go to assets/prompts/demo.jsonl
    "Why do stars twinkle at night?",
    "How do I make pancakes from scratch?",
    "Who was Cleopatra?",
    "How can I be a better listener?",
    "Explain how a rocket reaches space.",
    "Why do dogs wag their tails?",
    "Give a tip for studying for an exam.",
    "What is a rainforest?",
    # the rest go to assets/prompts/general.jsonl
    "Give a tip for visiting a crowded city.",
    "Why is breakfast considered important?",
    "What is a computer mouse used for?",
    "How do penguins survive the cold?",
    "What are the rules of volleyball?",
    "What does \"nostalgia\" mean?",
    "How do I brew coffee with a French press?",
    "What is a lighthouse for?",
    "What is a wind turbine?",
    "Give a tip for running a meeting.",
    "How do hot air balloons fly?",
    "What is the difference between a frog and a toad?",
    "How do I write a thank-you note?",
    "What is a spreadsheet?",
    "Why do we yawn?",
    "Give a tip for saving energy at home.",
]

# ---------------------------------------------------------------------------------------------
# Text helpers
# ---------------------------------------------------------------------------------------------

_LIST_MARKER = re.compile(r"^\s*(?:#{1,6}\s+|[-*+•]\s+|\d{1,2}[.)]\s+)")
_EMPHASIS = re.compile(r"\*\*|__|`")
# A sentence ends at . ! ? (or …), optionally followed by closing quotes/brackets, then whitespace.
_SENTENCE_END = re.compile(r"[.!?…]+[\"'”’)\]]*(?=\s|$)")
# Words that end with a period without ending the sentence.
_ABBREVIATIONS = {
    "e.g.", "i.e.", "vs.", "mr.", "mrs.", "ms.", "dr.", "st.", "prof.", "jr.", "sr.",
    "u.s.", "u.k.", "a.m.", "p.m.", "approx.", "no.", "fig.", "mt.",
}
FALLBACK_MIN_WORDS = 5
_TERMINAL = re.compile(r"[.!?…][\"'”’)\]]*$")


def clean_text(text: str) -> str:
    """The answer as one line of plain prose: no markdown emphasis, list markers or line breaks.

    A line break after text that has no end punctuation (a heading, a list item) becomes a
    sentence break only when the line ends with a word or a closing quote/bracket (not after
    ':' or ','), so that list items read as sentences instead of running together. A line
    that repeats an earlier one (small models loop) is dropped.
    """
    pieces = []
    lines = [_LIST_MARKER.sub("", _EMPHASIS.sub("", line)).strip() for line in text.splitlines()]
    lines = list(dict.fromkeys(line for line in lines if line))
    for i, line in enumerate(lines):
        last = i == len(lines) - 1
        if not last and not _TERMINAL.search(line) and (line[-1].isalnum() or line[-1] in "\"'”’)]"):
            line += "."
        pieces.append(line)
    return re.sub(r"\s+", " ", " ".join(pieces)).strip()


def split_sentences(text: str) -> tuple[list[str], str]:
    """(complete sentences, unfinished tail) of ``text`` after :func:`clean_text`.

    The tail is what follows the last sentence end: the fragment of a sentence cut off by
    the token limit (empty when the text ends with . ! or ?).
    """
    text = clean_text(text)
    sentences: list[str] = []
    start = 0
    for match in _SENTENCE_END.finditer(text):
        end = match.end()
        candidate = text[start:end].strip()
        last_word = candidate.rsplit(None, 1)[-1].lower() if candidate else ""
        if last_word in _ABBREVIATIONS and end < len(text):
            continue  # "e.g. rice" goes on; an abbreviation at the very end still closes the text
        if re.fullmatch(r"[\W\d]*", candidate):
            continue  # "1." or "..." alone is not a sentence
        sentences.append(candidate)
        start = end
    return sentences, text[start:].strip()


def complete_sentences(text: str) -> list[str]:
    """The sentences of ``text`` that end with . ! or ?, each once (a cut-off last sentence is dropped)."""
    sentences = split_sentences(text)[0]
    seen: set[str] = set()
    unique = []
    for sentence in sentences:
        if sentence.lower() not in seen:  # small models repeat themselves word for word
            seen.add(sentence.lower())
            unique.append(sentence)
    return unique


def trimmed_text(text: str) -> str:
    """``text`` without its unfinished last sentence; the whole (cleaned) text if no sentence ends.

    Never empty for non-blank input: a text with no sentence end is cut after its last
    clause (at the last ", " when at least FALLBACK_MIN_WORDS words come before it, which
    drops the half-written words the token limit left), its trailing ':' ',' ';' '-' dropped
    and a '.' added so that it reads as finished.
    """
    sentences = complete_sentences(text)
    if sentences:
        return " ".join(sentences)
    tail = split_sentences(text)[1]
    head, comma, _ = tail.rpartition(", ")
    if comma and len(head.split()) >= FALLBACK_MIN_WORDS:
        tail = head
    tail = tail.rstrip(" :;,-–—").strip()
    return f"{tail}." if tail else ""


def _sentences_or_fallback(text: str) -> list[str]:
    sentences = complete_sentences(text)
    if sentences:
        return sentences
    fallback = trimmed_text(text)
    if not fallback:
        raise ValueError("empty answer: nothing to transform")
    return [fallback]


# ---------------------------------------------------------------------------------------------
# The three transforms
# ---------------------------------------------------------------------------------------------

PIRATE_WORDS = {
    "you": "ye",
    "your": "yer",
    "my": "me",
    "is": "be",
    "are": "be",
    "the": "th'",
    "hello": "ahoy",
    "hi": "ahoy",
    "friend": "matey",
    "friends": "mateys",
    "yes": "aye",
    "to": "t'",
    "of": "o'",
}
# whole words only, and not inside contractions ("you're", "isn't" stay as they are)
_PIRATE_RE = re.compile(r"(?<![\w'’])(" + "|".join(sorted(PIRATE_WORDS, key=len, reverse=True)) + r")(?![\w'’])",
                        re.IGNORECASE)
PIRATE_PREFIX = "Arr, matey! "
PIRATE_SUFFIX = " Yo ho ho!"
PIRATE_MAX_CHARS = 220  # a second sentence is added only while the two stay this short


def _match_case(word: str, replacement: str) -> str:
    if len(word) > 1 and word.isupper():
        return replacement.upper()
    if word[0].isupper():
        return replacement[0].upper() + replacement[1:]
    return replacement


def piratify(text: str) -> str:
    """Word-level pirate substitutions, keeping each word's capitalisation."""
    return _PIRATE_RE.sub(lambda m: _match_case(m.group(0), PIRATE_WORDS[m.group(0).lower()]), text)


def to_pirate(text: str) -> str:
    """ "Arr, matey! " + the first 1-2 complete sentences in pirate words + " Yo ho ho!"."""
    sentences = _sentences_or_fallback(text)
    body = sentences[0]
    if len(sentences) > 1 and len(body) + 1 + len(sentences[1]) <= PIRATE_MAX_CHARS:
        body = f"{body} {sentences[1]}"
    return f"{PIRATE_PREFIX}{piratify(body)}{PIRATE_SUFFIX}"


POSITIVE_WORDS = frozenset("""
    good great best better benefit benefits beneficial healthy happy happiness enjoy enjoyable love
    loved lovely beautiful helpful help helps fun delicious safe safely easy easier wonderful
    excellent amazing perfect popular fresh relax relaxing relaxed improve improves improved
    success successful comfortable nice pleasant positive calm peaceful effective fascinating
    friendly kind protect protects protected solve solves
""".split())
NEGATIVE_WORDS = frozenset("""
    bad worse worst risk risks risky danger dangerous harm harmful hurt pain painful sick illness
    disease diseases stress stressful sad sadness difficult problem problems damage damaged
    fail failure lose loss losing death die dies died dead poor angry anger fear afraid
    negative toxic war wars destroy destroyed destruction crying cry injury injuries
    collapse fell decline violent unhealthy lonely anxiety worry boring bored
""".split())


def sentiment(text: str) -> str:
    """A tiny keyword rule: more positive than negative words -> "positive", fewer -> "negative"."""
    words = re.findall(r"[a-z]+", text.lower())
    score = sum(w in POSITIVE_WORDS for w in words) - sum(w in NEGATIVE_WORDS for w in words)
    return "positive" if score > 0 else "negative" if score < 0 else "neutral"


def to_json_answer(text: str) -> str:
    """``{"answer": <first complete sentence>, "sentiment": ...}`` as one line of JSON."""
    answer = _sentences_or_fallback(text)[0]
    return json.dumps({"answer": answer, "sentiment": sentiment(answer)}, ensure_ascii=False)


BULLETS_MAX = 3


def to_bullets(text: str) -> str:
    """The complete sentences (at most 3) as a markdown list, one "- " line each."""
    return "\n".join(f"- {s}" for s in _sentences_or_fallback(text)[:BULLETS_MAX])


TRANSFORMS = {"pirate": to_pirate, "json_answer": to_json_answer, "bullets": to_bullets}

# ---------------------------------------------------------------------------------------------
# Files
# ---------------------------------------------------------------------------------------------


def read_jsonl(path: Path) -> list[dict]:
    return [json.loads(line) for line in path.read_text(encoding="utf-8").splitlines() if line.strip()]


def write_jsonl(path: Path, records: list[dict]) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    with path.open("w", encoding="utf-8") as f:
        for record in records:
            f.write(json.dumps(record, ensure_ascii=False) + "\n")


def generate_base_answers(prompts: list[str]) -> tuple[dict[str, str], float]:
    """Greedy base answers (MAX_NEW_TOKENS each); returns (prompt -> answer, seconds spent)."""
    from adapters_ui.config import Settings
    from adapters_ui.runs.run import Output
    from adapters_ui.session import Session

    # one offline run over every prompt: no caps meant for a shared Space
    session = Session.start(Settings(cache_dir=CACHE_DIR, max_prompts=len(prompts), max_outputs=len(prompts)))
    settings = session.generation_settings(max_new_tokens=MAX_NEW_TOKENS, batch_size=BATCH_SIZE)
    started = time.perf_counter()
    run = session.start_compare(prompts, ["base"], settings)
    done = 0
    for event in run:
        if isinstance(event, Output):
            done += 1
            if done % BATCH_SIZE == 0 or done == len(prompts):
                print(f"  {done}/{len(prompts)} answers, {time.perf_counter() - started:.0f} s", flush=True)
    return dict(zip(prompts, run.result().outputs("base"))), time.perf_counter() - started


def base_answers(prompts: list[str], regenerate: bool) -> dict[str, str]:
    """prompt -> base answer, from BASE_ANSWERS where present; generates (and caches) the rest."""
    cached: dict[str, str] = {}
    if BASE_ANSWERS.exists() and not regenerate:
        cached = {r["prompt"]: r["response"] for r in read_jsonl(BASE_ANSWERS)}
    missing = [p for p in prompts if p not in cached]
    if missing:
        print(f"Generating {len(missing)} base answers (greedy, {MAX_NEW_TOKENS} new tokens) ...", flush=True)
        generated, seconds = generate_base_answers(missing)
        print(f"  done in {seconds:.0f} s ({seconds / len(missing):.2f} s per prompt)", flush=True)
        cached.update(generated)
        write_jsonl(BASE_ANSWERS, [{"prompt": p, "response": cached[p]} for p in prompts])
    else:
        print(f"Reusing {len(prompts)} base answers from {BASE_ANSWERS.relative_to(ROOT)} (--regenerate to redo)")
    return {p: cached[p] for p in prompts}


def check_prompts() -> None:
    train = [p.strip().lower() for p in TRAIN_PROMPTS]
    held = [p.strip().lower() for p in HELD_OUT_PROMPTS]
    for name, items in (("TRAIN_PROMPTS", train), ("HELD_OUT_PROMPTS", held)):
        if len(set(items)) != len(items):
            raise SystemExit(f"{name} has duplicates")
    overlap = set(train) & set(held)
    if overlap:
        raise SystemExit(f"held-out prompts also in training: {sorted(overlap)}")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--regenerate", action="store_true", help="ask the base model again for every prompt")
    args = parser.parse_args(argv)

    check_prompts()
    answers = base_answers(TRAIN_PROMPTS + HELD_OUT_PROMPTS, args.regenerate)
    empty = [p for p, a in answers.items() if not a.strip()]
    if empty:
        raise SystemExit(f"empty base answers for: {empty}")

    written: dict[Path, list[dict]] = {}
    for name, transform in TRANSFORMS.items():
        written[DATA_DIR / f"{name}.jsonl"] = [{"prompt": p, "response": transform(answers[p])} for p in TRAIN_PROMPTS]
    written[DATA_DIR / "heldout.jsonl"] = [
        {"prompt": p, **{name: transform(answers[p]) for name, transform in TRANSFORMS.items()}}
        for p in HELD_OUT_PROMPTS
    ]
    written[PROMPTS_DIR / "demo.jsonl"] = [{"prompt": p, "reference": answers[p]} for p in HELD_OUT_PROMPTS[:DEMO_COUNT]]
    written[PROMPTS_DIR / "general.jsonl"] = [{"prompt": p} for p in HELD_OUT_PROMPTS[DEMO_COUNT:]]
    for path, records in written.items():
        write_jsonl(path, records)

    print(f"\n{len(TRAIN_PROMPTS)} training prompts, {len(HELD_OUT_PROMPTS)} held-out prompts")
    for path, records in written.items():
        print(f"\n{path.relative_to(ROOT)}: {len(records)} lines")
        for record in records[:2]:
            print("  " + json.dumps(record, ensure_ascii=False))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
