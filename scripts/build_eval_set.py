"""Build assets/evals/demo.jsonl: the evaluation set that shows what each demo adapter does, and costs.

    .venv/bin/python scripts/build_eval_set.py      # writes assets/evals/demo.jsonl
    .venv/bin/python scripts/check_eval_set.py      # runs it on the base and the three demo adapters

What the set shows: the same 38 questions are asked four ways, one category each, so that the
differences between categories come from what is asked, not from the topic:

    general   the plain question; checks: a plain answer (not JSON, not a list, no pirate talk)
    json      asks for {"answer": ..., "sentiment": ...}; checks: is-json and a json-schema
    bullets   asks for a bulleted list; checks: a line that starts with a bullet ("- ", "* ", "• ")
    pirate    asks for pirate talk; checks: a pirate word (arr, matey, ahoy, ye, yer, aye, yo ho, ...)

Run on the demo adapters (scripts/check_eval_set.py), each wins its own category, since it answers
in its style whatever it is asked and the base rarely does what is asked; and each loses the
general category, where its style is not wanted. One weakness is left in on purpose and tagged:
asked for JSON with the shape shown ({"answer": "...", ...} in the prompt, or an earlier answer in
JSON), json_answer writes only {"sentiment": ...} and fails, while the base, given the example,
sometimes succeeds (tag "json-shape": 6 of the 36 json prompts and both json conversations).
The other categories show whatever is really there.

36 questions are single prompts; 2 are conversations (``messages``: the ask, an answer in the
category's style, and a follow-up), so the chat path runs too. Every item has a topic tag
(science, history, animals, health, tech, cooking, everyday), the conversations also
"multi-turn". References are written here (short, correct answers) and put in the category's
style: JSON as the json_answer adapter writes it (its sentiment rule from make_demo_data.py),
bullets one sentence a line, pirate with make_demo_data.py's pirate words.

No randomness: the same script writes the same bytes. It refuses to write a set whose questions
are among the adapters' training prompts (assets/data/*.jsonl), or whose reference fails its own
item's checks.
"""

from __future__ import annotations

import importlib.util
import json
import re
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

from adapters_ui.analysis.checks import parse_checks, passes_all, run_checks  # noqa: E402 (after the path)

DATA_DIR = ROOT / "assets" / "data"
OUTPUT = ROOT / "assets" / "evals" / "demo.jsonl"
CATEGORIES = ("general", "json", "bullets", "pirate")


def _demo_data():
    """scripts/make_demo_data.py, for its pirate words and sentiment rule (the ones the adapters learned)."""
    spec = importlib.util.spec_from_file_location("make_demo_data", ROOT / "scripts" / "make_demo_data.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


# ---------------------------------------------------------------------------------------------
# The questions: (tag, question, a short correct answer of two sentences)
# ---------------------------------------------------------------------------------------------

QUESTIONS: list[tuple[str, str, str]] = [
    ("science", "What causes thunder?",
     "Thunder is the sound of air expanding very quickly after a lightning bolt heats it. "
     "The heated air pushes outward and makes a shock wave that we hear as a rumble or a crack."),
    ("science", "What is friction?",
     "Friction is the force that resists two surfaces sliding against each other. "
     "It slows moving objects down and turns some of their motion into heat."),
    ("science", "How does sound travel?",
     "Sound travels as vibrations that pass from particle to particle through air, water or solids. "
     "It cannot travel through empty space, because there is nothing there to vibrate."),
    ("science", "What is a comet?",
     "A comet is a small body of ice, dust and rock that orbits the Sun. "
     "When it comes close to the Sun, the ice turns to gas and forms a glowing head and a long tail."),
    ("science", "Why does metal feel colder than wood?",
     "Metal conducts heat much better than wood, so it draws heat away from your hand faster. "
     "Both can be at the same temperature, but your skin loses heat to the metal more quickly."),
    ("science", "What is evaporation?",
     "Evaporation is the change of a liquid into a gas at its surface. "
     "Puddles and wet clothes dry because their water evaporates into the air."),
    ("science", "Why does the Moon have phases?",
     "The Moon has phases because we see different parts of its sunlit half as it orbits the Earth. "
     "Over about a month it goes from new moon to full moon and back again."),
    ("science", "What is an electric current?",
     "An electric current is a flow of electric charge, usually electrons moving through a wire. "
     "It is measured in amperes and powers lights, motors and electronic devices."),
    ("history", "Who was Julius Caesar?",
     "Julius Caesar was a Roman general and politician who conquered Gaul and became dictator of Rome. "
     "He was assassinated by a group of senators in 44 BC."),
    ("history", "What was the Cold War?",
     "The Cold War was a long rivalry between the United States and the Soviet Union from the late 1940s to 1991. "
     "The two sides competed through an arms race and a space race but never fought each other directly."),
    ("history", "Who was Marie Curie?",
     "Marie Curie was a Polish-born French scientist who studied radioactivity. "
     "She was the first person to win two Nobel Prizes, in physics and in chemistry."),
    ("history", "What was the French Revolution?",
     "The French Revolution was a period of political upheaval in France that began in 1789. "
     "It ended the absolute monarchy and spread ideas of liberty, equality and citizens' rights."),
    ("history", "Who was William Shakespeare?",
     "William Shakespeare was an English playwright and poet who lived from 1564 to 1616. "
     "He wrote plays such as Hamlet, Macbeth and Romeo and Juliet, which are still performed around the world."),
    ("history", "Why was the Berlin Wall built?",
     "The Berlin Wall was built in 1961 by East Germany to stop its people from fleeing to West Berlin. "
     "It divided the city until it was opened in 1989."),
    ("animals", "How do bats find their way in the dark?",
     "Many bats use echolocation: they make high-pitched calls and listen for the echoes. "
     "The echoes tell them where obstacles and insects are, even in complete darkness."),
    ("animals", "Why do camels have humps?",
     "A camel's hump stores fat, not water. "
     "The fat is a reserve of energy that helps the camel go a long time without food in the desert."),
    ("animals", "What do pandas eat?",
     "Giant pandas eat almost nothing but bamboo. "
     "An adult spends most of the day eating and can get through more than 12 kilograms of bamboo a day."),
    ("animals", "How do snakes move without legs?",
     "Snakes move by bending their bodies in waves and pushing against the ground with their muscles and belly scales. "
     "Some also creep forward in a straight line by lifting and pulling their scales along."),
    ("animals", "Why do whales come to the surface?",
     "Whales are mammals that breathe air with lungs, so they must come up to breathe. "
     "They breathe out through a blowhole on top of the head, which makes the spout we see."),
    ("health", "Why should I wash my hands?",
     "Washing your hands with soap removes germs that can cause colds and stomach bugs. "
     "It is one of the simplest ways to protect yourself and the people around you."),
    ("health", "What is a fever?",
     "A fever is a body temperature higher than normal, usually above 38 degrees Celsius. "
     "It is often a sign that the body is fighting an infection."),
    ("health", "Why is fiber good for digestion?",
     "Fiber adds bulk to food and helps it move smoothly through the gut. "
     "It also feeds helpful gut bacteria and can help prevent constipation."),
    ("health", "What does protein do in the body?",
     "Protein builds and repairs muscles, skin and other tissues. "
     "It also makes the enzymes and hormones that the body needs to work."),
    ("tech", "What is a QR code?",
     "A QR code is a square pattern of black and white modules that stores information, such as a web address. "
     "A phone camera can scan it to open the link or read the data."),
    ("tech", "What does a router do?",
     "A router connects the devices on a home network and passes data between them and the internet. "
     "It sends each piece of data to the right device."),
    ("tech", "What is a pixel?",
     "A pixel is the smallest dot of color in a digital image or on a screen. "
     "Millions of pixels together make up the pictures we see."),
    ("tech", "What is open-source software?",
     "Open-source software is software whose source code anyone can read, change and share. "
     "Linux and Firefox are well-known examples."),
    ("tech", "What is a USB drive?",
     "A USB drive is a small portable device that stores files on flash memory. "
     "You plug it into a USB port to copy files to or from a computer."),
    ("cooking", "Why do we knead dough?",
     "Kneading develops gluten, a network of proteins that makes dough stretchy and strong. "
     "This lets the dough trap gas and rise into a light loaf."),
    ("cooking", "What is the difference between a fruit and a vegetable?",
     "In botany, a fruit grows from a flower and holds the seeds, while vegetables are other parts of a plant such as roots, stems and leaves. "
     "In cooking the words are used more loosely, so tomatoes are often called vegetables."),
    ("cooking", "How do I keep bananas from ripening too fast?",
     "Keep bananas away from other fruit, because ripening fruit gives off ethylene gas. "
     "Wrapping the stems or putting ripe bananas in the fridge also slows them down."),
    ("cooking", "What is fermentation?",
     "Fermentation is a process in which yeast or bacteria break down sugars without oxygen. "
     "It is used to make bread, yogurt, cheese and many other foods."),
    ("everyday", "Why do we have leap years?",
     "A year on Earth is about 365 and a quarter days long, so the calendar adds one extra day every four years. "
     "That day, February 29, keeps the calendar in step with the seasons."),
    ("everyday", "How does a compass work?",
     "A compass has a magnetized needle that lines up with the Earth's magnetic field. "
     "One end points toward magnetic north, which shows you the directions."),
    ("everyday", "How does a microwave oven heat food?",
     "A microwave oven makes microwaves that cause the water molecules in food to vibrate. "
     "The vibration produces heat, which warms the food."),
    ("everyday", "How do I read an analog clock?",
     "The short hand shows the hour and the long hand shows the minutes. "
     "Each number on the face stands for five minutes when the long hand points to it."),
]

# Conversations: (tag, first question, its answer, follow-up question, the follow-up's answer)
CONVERSATIONS: list[tuple[str, str, str, str, str]] = [
    ("science", "What is a planet?",
     "A planet is a large body that orbits a star and is massive enough to be round. "
     "Earth is one of the eight planets that orbit the Sun.",
     "Which planet is the largest?",
     "Jupiter is the largest planet in our solar system. "
     "It is a gas giant more than eleven times wider than the Earth."),
    ("cooking", "What is a smoothie?",
     "A smoothie is a thick drink made by blending fruit, often with yogurt, milk or juice. "
     "It is quick to make and easy to take with you.",
     "Can I make one without a blender?",
     "Yes, you can mash soft fruit such as bananas with a fork and shake it with milk or yogurt in a jar. "
     "The result is less smooth, but it still makes a good drink."),
]

# How each category asks (taken in turn, question by question); {q} is the question.
ASKS: dict[str, tuple[str, ...]] = {
    "general": ("{q}",),
    "json": (
        'Answer in JSON with the keys "answer" (a string) and "sentiment" (positive, neutral or negative). {q}',
        '{q} Reply in JSON, with an "answer" and its "sentiment" (positive, neutral or negative).',
        "Give your answer as a JSON object with the fields answer and sentiment. {q}",
    ),
    "bullets": (
        'Answer as a bulleted list, one "- " line per point. {q}',
        "{q} Give your answer as bullet points.",
        "In a few bullet points: {q}",
    ),
    "pirate": (
        "Answer like a pirate. {q}",
        "{q} Answer in pirate speak.",
        "Talk like a pirate and tell me: {q}",
    ),
}
# Every SHAPE_EVERY-th json question shows the JSON shape it wants instead (tag "json-shape", as do the json
# conversations, whose earlier answer is JSON): json_answer drops its "answer" key when it sees one.
JSON_SHAPE_ASK = '{q} Reply with only a JSON object: {{"answer": "...", "sentiment": "positive" | "neutral" | "negative"}}.'
SHAPE_EVERY = 6
SHAPE_TAG = "json-shape"
FOLLOW_UP = {"general": "{q}", "json": "{q} Use the same JSON format.", "bullets": "{q} Bullet points again, please.",
             "pirate": "{q} Keep talking like a pirate."}

# What each category checks: the promise of its ask, and nothing about content (the references carry that).
ANSWER_SCHEMA = {
    "type": "object",
    "required": ["answer", "sentiment"],
    "properties": {"answer": {"type": "string", "minLength": 1}, "sentiment": {"enum": ["positive", "neutral", "negative"]}},
}
PIRATE_WORDS = r"(?i)\b(?:arr+|matey|mateys|ahoy|avast|aye|ye|yer|yo ho|hearties|landlubbers?)\b"
BULLET_LINE = r"(?m)^\s*[-*•] +\S"
PLAIN_START = r"^(?!\s*(?:[{\[•-]|\*\s))\s*\S"  # text that opens like prose: not JSON, not a list
CHECKS: dict[str, list[dict]] = {
    "general": [{"type": "regex", "value": PLAIN_START}, {"type": "not-contains", "value": "matey"},
                {"type": "not-contains", "value": "Yo ho"}],
    "json": [{"type": "is-json"}, {"type": "json-schema", "value": ANSWER_SCHEMA}],
    "bullets": [{"type": "regex", "value": BULLET_LINE}],
    "pirate": [{"type": "regex", "value": PIRATE_WORDS}],
}


# ---------------------------------------------------------------------------------------------
# Styles of the references
# ---------------------------------------------------------------------------------------------

def sentences(text: str) -> list[str]:
    """The sentences of a written answer: 'A b. C d.' -> ['A b.', 'C d.']."""
    return [s for s in re.split(r"(?<=[.!?])\s+", text.strip()) if s]


def styled(category: str, answer: str, demo=None) -> str:
    """The answer in the category's style, as the matching adapter writes it."""
    demo = demo or _demo_data()
    if category == "json":
        first = sentences(answer)[0]
        return json.dumps({"answer": first, "sentiment": demo.sentiment(first)}, ensure_ascii=False)
    if category == "bullets":
        return "\n".join(f"- {s}" for s in sentences(answer))
    if category == "pirate":
        return f"{demo.PIRATE_PREFIX}{demo.piratify(answer)}{demo.PIRATE_SUFFIX}"
    return answer


def shows_shape(category: str, index: int) -> bool:
    """Whether the json question at ``index`` (0-based) is asked with the JSON shape shown."""
    return category == "json" and index % SHAPE_EVERY == SHAPE_EVERY - 1


def ask(category: str, question: str, index: int) -> str:
    if shows_shape(category, index):
        return JSON_SHAPE_ASK.format(q=question)
    templates = ASKS[category]
    return templates[index % len(templates)].format(q=question)


# ---------------------------------------------------------------------------------------------
# The items
# ---------------------------------------------------------------------------------------------

def build_items() -> list[dict]:
    """Every item, category by category: single prompts, then the conversations; ids "json-007"."""
    demo = _demo_data()
    items = []
    for category in CATEGORIES:
        number = 0
        for index, (tag, question, answer) in enumerate(QUESTIONS):
            number += 1
            tags = [tag, SHAPE_TAG] if shows_shape(category, index) else [tag]
            items.append({"id": f"{category}-{number:03d}", "category": category, "tags": tags,
                          "prompt": ask(category, question, index), "reference": styled(category, answer, demo),
                          "checks": CHECKS[category]})
        for index, (tag, first, first_answer, follow_up, answer) in enumerate(CONVERSATIONS):
            number += 1
            messages = [{"role": "user", "content": ask(category, first, index)},
                        {"role": "assistant", "content": styled(category, first_answer, demo)},
                        {"role": "user", "content": FOLLOW_UP[category].format(q=follow_up)}]
            items.append({"id": f"{category}-{number:03d}", "category": category, "tags": [tag, "multi-turn", *([SHAPE_TAG] if category == "json" else [])],
                          "messages": messages, "reference": styled(category, answer, demo), "checks": CHECKS[category]})
    return items


def _normal(text: str) -> str:
    return " ".join(re.sub(r"[^a-z0-9]+", " ", text.casefold()).split())


def training_prompts(data_dir: Path = DATA_DIR) -> set[str]:
    """Every prompt in assets/data/*.jsonl (the three training sets, the held-out and base answers), normalized."""
    prompts = set()
    for path in sorted(data_dir.glob("*.jsonl")):
        for line in path.read_text(encoding="utf-8").splitlines():
            if line.strip():
                prompts.add(_normal(json.loads(line)["prompt"]))
    return prompts


def overlaps(items: list[dict], known: set[str]) -> list[str]:
    """The ids of items with a user turn that asks a known prompt: the whole turn, or one of its sentences
    ("Answer in JSON ... . What is DNA?" asks "What is DNA?"; "What is DNA sequencing?" does not)."""
    found = []
    for item in items:
        turns = [item["prompt"]] if "prompt" in item else [m["content"] for m in item["messages"] if m["role"] == "user"]
        pieces = {_normal(piece) for turn in turns for piece in [turn, *re.split(r"(?<=[.?!:])\s+", turn)]}
        if pieces & known:
            found.append(item["id"])
    return found


def failing_references(items: list[dict]) -> list[str]:
    """The ids of items whose reference does not pass the item's own checks."""
    return [item["id"] for item in items if not passes_all(run_checks(parse_checks(item["checks"]), item["reference"]))]


def render(items: list[dict]) -> str:
    return "".join(json.dumps(item, ensure_ascii=False) + "\n" for item in items)


def write_eval_set(path: Path = OUTPUT, data_dir: Path = DATA_DIR) -> Path:
    """Write the set to ``path``, after refusing one that asks a training prompt or has an unpassable reference."""
    items = build_items()
    overlapping = overlaps(items, training_prompts(data_dir))
    if overlapping:
        raise SystemExit(f"{len(overlapping)} items ask a prompt from {data_dir} (first: {overlapping[0]}): "
                         "change their questions, the adapters were trained or tuned on those.")
    failing = failing_references(items)
    if failing:
        raise SystemExit(f"{len(failing)} references fail their own checks (first: {failing[0]}): fix the reference or the checks.")
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(render(items), encoding="utf-8")
    return path


def main() -> int:
    path = write_eval_set()
    items = build_items()
    counts = ", ".join(f"{c} {sum(item['category'] == c for item in items)}" for c in CATEGORIES)
    print(f"wrote {path.relative_to(ROOT)}: {len(items)} items ({counts}), "
          f"{sum('messages' in item for item in items)} multi-turn")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
