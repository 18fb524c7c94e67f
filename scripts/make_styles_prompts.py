"""Make assets/prompts/styles.jsonl: held-out prompts whose reference is one demo adapter's style.

    .venv/bin/python scripts/make_styles_prompts.py

Scoring against these references shows whether an adapter learned its style on prompts it never
saw in training: the pirate adapter should score highest where the reference is the pirate
answer, json_answer on the JSON ones, bullets on the bullet lists, and the base below them all.

From assets/data/heldout.jsonl (24 held-out prompts, each with a "pirate", "json_answer" and
"bullets" answer, written by scripts/make_demo_data.py) it takes every other prompt (the 1st,
3rd, ..., 23rd: 12, spread over all topics) and gives them, in turn, the pirate, json_answer and
bullets answer as reference, so the three styles interleave, 4 prompts each:

    {"prompt": "Why do stars twinkle at night?", "reference": "Arr, matey! ...", "category": "pirate"}
    {"prompt": "Who was Cleopatra?", "reference": "{\\"answer\\": ...}", "category": "json_answer"}
    {"prompt": "Explain how a rocket reaches space.", "reference": "- ...", "category": "bullets"}
    {"prompt": "Give a tip for studying for an exam.", "reference": "Arr, matey! ...", "category": "pirate"}
    ...

No randomness: the same heldout.jsonl always gives the same file. "category" names the style of the
reference: the analysis ranks the variants on each category's prompts apart, so each adapter is
judged against its own style's references (all together, the base would lead, being scored
against two foreign styles less badly than each adapter).
"""

from __future__ import annotations

import json
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
HELDOUT = ROOT / "assets" / "data" / "heldout.jsonl"
OUTPUT = ROOT / "assets" / "prompts" / "styles.jsonl"
TASKS = ("pirate", "json_answer", "bullets")  # the demo adapters' styles, in the order they take turns
STEP = 2  # every other held-out prompt


def read_jsonl(path: Path) -> list[dict]:
    return [json.loads(line) for line in path.read_text(encoding="utf-8").splitlines() if line.strip()]


def styles_records(heldout: list[dict]) -> list[dict]:
    """Every STEP-th held-out record, its reference taken from the TASKS style in turn.

    [r0, r1, r2, r3, r4, ...] -> [r0 as pirate, r2 as json_answer, r4 as bullets, r6 as pirate, ...]
    """
    chosen = heldout[::STEP]
    return [
        {"prompt": record["prompt"], "reference": record[task], "category": task}
        for record, task in zip(chosen, TASKS * len(chosen))
    ]


def write_jsonl(path: Path, records: list[dict]) -> None:
    with path.open("w", encoding="utf-8") as f:
        for record in records:
            f.write(json.dumps(record, ensure_ascii=False) + "\n")


def main() -> int:
    records = styles_records(read_jsonl(HELDOUT))
    counts = {task: sum(r["category"] == task for r in records) for task in TASKS}
    if len(records) != 12 or set(counts.values()) != {4}:
        raise SystemExit(f"expected 12 prompts, 4 per style, from {HELDOUT.name}; got {counts}")
    write_jsonl(OUTPUT, records)
    print(f"{OUTPUT.relative_to(ROOT)}: {len(records)} prompts ({', '.join(f'{n} {t}' for t, n in counts.items())})")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
