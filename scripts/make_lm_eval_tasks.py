"""Build the data of the shipped lm-eval tasks (assets/lm_eval_tasks/*.jsonl), deterministically.

Every item is made here, from facts this script computes or text the project wrote:

- ``arith_mc.jsonl``: two-number sums and differences, four choices (the true result and three
  near misses: off by one, off by ten, the digits swapped or off by two), the answer's place
  spread evenly by a fixed seed.
- ``units_gen.jsonl``: metric unit conversions (m -> cm, kg -> g, km -> m, L -> mL, h -> min,
  min -> s) with the computed number as the target.
- ``general_text.jsonl``: the ``reference`` answers of the demo evaluation set's ``general``
  category (assets/evals/demo.jsonl, plain explanations written for this project), the text a
  base model should keep predicting well after fine-tuning (the "forgetting" task).

    python scripts/make_lm_eval_tasks.py   # rewrites the three files; the same bytes every run
"""

from __future__ import annotations

import json
import random
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
TASKS = ROOT / "assets" / "lm_eval_tasks"
DEMO_SET = ROOT / "assets" / "evals" / "demo.jsonl"
SEED = 25
MC_ITEMS = 300
GEN_ITEMS = 120

UNITS = [  # (from, to, factor)
    ("meters", "centimeters", 100), ("kilograms", "grams", 1000), ("kilometers", "meters", 1000),
    ("liters", "milliliters", 1000), ("hours", "minutes", 60), ("minutes", "seconds", 60),
]


def near_misses(value: int, rng: random.Random) -> list[int]:
    """Three wrong answers close to ``value``, all different and non-negative."""
    swapped = int(str(value)[::-1]) if value >= 10 and str(value)[::-1] != str(value) else value + 2
    pool = [value + 1, value - 1, value + 10, value - 10, swapped, value + 2]
    wrong: list[int] = []
    for candidate in pool:
        if candidate != value and candidate >= 0 and candidate not in wrong:
            wrong.append(candidate)
    rng.shuffle(wrong)
    return wrong[:3]


def arithmetic_items(count: int = MC_ITEMS, seed: int = SEED) -> list[dict]:
    rng = random.Random(seed)
    items = []
    for i in range(count):
        a, b = rng.randint(10, 99), rng.randint(10, 99)
        if i % 2 == 0:
            question, value = f"What is {a} plus {b}?", a + b
        else:
            a, b = max(a, b), min(a, b)
            question, value = f"What is {a} minus {b}?", a - b
        choices = near_misses(value, rng)
        answer = i % 4  # the true result's place: evenly spread
        choices.insert(answer, value)
        items.append({"id": f"arith-{i:03d}", "question": question, "choices": [str(c) for c in choices], "answer": answer})
    return items


def unit_items(count: int = GEN_ITEMS, seed: int = SEED) -> list[dict]:
    rng = random.Random(seed + 1)
    items = []
    for i in range(count):
        source, target, factor = UNITS[i % len(UNITS)]
        amount = rng.randint(2, 20)
        items.append({"id": f"units-{i:03d}", "question": f"How many {target} are in {amount} {source}?",
                      "answer": str(amount * factor)})
    return items


def general_texts(demo_set: Path = DEMO_SET) -> list[dict]:
    rows = [json.loads(line) for line in demo_set.read_text(encoding="utf-8").splitlines() if line.strip()]
    return [{"id": r["id"], "text": r["reference"]} for r in rows if r.get("category") == "general" and r.get("reference")]


def write_jsonl(path: Path, rows: list[dict]) -> None:
    path.write_text("".join(json.dumps(r, ensure_ascii=False) + "\n" for r in rows), encoding="utf-8")


def main() -> None:
    TASKS.mkdir(parents=True, exist_ok=True)
    for name, rows in (("arith_mc", arithmetic_items()), ("units_gen", unit_items()), ("general_text", general_texts())):
        write_jsonl(TASKS / f"{name}.jsonl", rows)
        print(f"{TASKS / name}.jsonl: {len(rows)} items")


if __name__ == "__main__":
    main()
