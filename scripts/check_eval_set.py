"""Run the shipped evaluation set on the embedded base and the three demo adapters, and check its story.

    ADAPTERS_UI_CACHE_DIR=.cache/test-models .venv/bin/python scripts/check_eval_set.py [--outputs out.jsonl]

Every item of assets/evals/demo.jsonl goes through base, bullets, json_answer and pirate (greedy,
48 new tokens; single prompts as one comparison, conversations one chat reply at a time). It prints
the share of items passing all their checks per variant and category, then each adapter against
the base on the ``checks`` metric (``analysis.paired.slices``: all items, each category, each tag;
exact McNemar, Holm over the whole family), and exits 1 unless every adapter is "better" in its
own category (json_answer on json, bullets on bullets, pirate on pirate). A few minutes on 2 CPU cores.

    variant           all  bullets  general     json   pirate      (a run on 2 CPU cores, 195 s)
    base             0.34     0.11     1.00     0.03     0.21
    bullets          0.27     1.00     0.05     0.00     0.03
    json_answer      0.20     0.00     0.00     0.79     0.00
    pirate           0.27     0.05     0.03     0.00     1.00

Each adapter is "better" in its own category (p_holm 4.5e-09, 1.1e-06, 7.1e-08) and "worse" on
general; json_answer's 8 failures on json are exactly the 8 "json-shape" items.
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

from adapters_ui.analysis.checks import passes_all, run_checks  # noqa: E402 (after the path)
from adapters_ui.analysis.paired import PairedResult, holm, slices  # noqa: E402
from adapters_ui.runs.evalset import EvalItem, read_eval_set  # noqa: E402

SET = ROOT / "assets" / "evals" / "demo.jsonl"
BASE = "base"
OWN_CATEGORY = {"json_answer": "json", "bullets": "bullets", "pirate": "pirate"}  # what each demo adapter promises
MAX_NEW_TOKENS = 48


def generate(session, items: tuple[EvalItem, ...], variants: list[str], settings) -> dict[str, list[str]]:
    """Each variant's output for each item, in item order: the single prompts as one comparison, then each
    conversation's next reply (the chat path, as the dashboard's playground runs it)."""
    single = [i for i, item in enumerate(items) if item.messages is None]
    outputs: dict[str, list[str]] = {variant: [""] * len(items) for variant in variants}
    comparison = session.start_compare([items[i].prompt for i in single], variants, settings=settings).result()
    if not comparison.complete:
        raise SystemExit(f"The comparison ended {comparison.status}: {comparison.error}")
    for variant in variants:
        for i, text in zip(single, comparison.outputs(variant)):
            outputs[variant][i] = text
    for i, item in enumerate(items):
        if item.messages is not None:
            for variant in variants:
                outputs[variant][i] = session.chat(item.chat(), variant, settings)
    return outputs


def passes(items: tuple[EvalItem, ...], outputs: list[str]) -> list[float]:
    """1.0 where the output passes every check of its item, else 0.0 (every item here has checks)."""
    return [1.0 if passes_all(run_checks(item.checks, output)) else 0.0 for item, output in zip(items, outputs)]


def pass_table(items: tuple[EvalItem, ...], scores: dict[str, list[float]]) -> str:
    categories = sorted({item.category for item in items})
    columns = ["all", *categories]
    lines = ["share of items passing all their checks", f"{'variant':<12}" + "".join(f"{c:>9}" for c in columns)]
    for variant, values in scores.items():
        cells = [sum(values) / len(values)]
        for category in categories:
            chosen = [v for v, item in zip(values, items) if item.category == category]
            cells.append(sum(chosen) / len(chosen))
        lines.append(f"{variant:<12}" + "".join(f"{c:>9.2f}" for c in cells))
    return "\n".join(lines)


def verdicts(items: tuple[EvalItem, ...], scores: dict[str, list[float]]) -> list[PairedResult]:
    """Every adapter against the base on ``checks``: all items, each category and tag; Holm over them all."""
    categories = [item.category for item in items]
    tags = [list(item.tags) for item in items]
    family = []
    for variant, values in scores.items():
        if variant != BASE:
            family += slices(variant, "checks", values, scores[BASE], categories=categories, tags=tags, baseline_name=BASE)
    return holm(family)


def verdict_table(results: list[PairedResult]) -> str:
    def number(value, digits=2):
        return "-" if value is None else f"{value:.{digits}f}"

    header = f"{'variant':<12}{'slice':<20}{'n':>4}{'mean':>7}{'base':>7}{'diff':>7}  {'95% interval':<16}{'p':>10}{'p_holm':>10}  verdict"
    lines = [f"paired verdicts vs {BASE} on checks (exact McNemar, Holm over {len(results)} results)", header]
    for r in results:
        interval = f"[{number(r.low)}, {number(r.high)}]"
        p = "-" if r.p_value is None else f"{r.p_value:.2g}"
        p_holm = "-" if r.p_holm is None else f"{r.p_holm:.2g}"
        lines.append(f"{r.variant:<12}{r.slice or 'all':<20}{r.n:>4}{number(r.mean):>7}{number(r.baseline_mean):>7}"
                     f"{number(r.difference):>7}  {interval:<16}{p:>10}{p_holm:>10}  {r.verdict}")
    return "\n".join(lines)


def story_problems(results: list[PairedResult]) -> list[str]:
    """What is missing from the story: an adapter that is not "better" than the base in its own category."""
    problems = []
    for variant, category in OWN_CATEGORY.items():
        found = [r for r in results if r.variant == variant and r.slice == f"category:{category}"]
        if not found or found[0].verdict != "better":
            problems.append(f"{variant} is not better than {BASE} on category:{category}"
                            + (f" ({found[0].verdict}, p_holm {found[0].p_holm})" if found else " (not run)"))
    return problems


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--set", type=Path, default=SET, help="the evaluation set (default: assets/evals/demo.jsonl)")
    parser.add_argument("--outputs", type=Path, help="also write every output here, one JSON object a line")
    args = parser.parse_args(argv)

    from adapters_ui.adapters.demo import attach_demo_adapters
    from adapters_ui.config import Settings
    from adapters_ui.session import Session

    eval_set = read_eval_set(args.set)
    items = eval_set.items
    started = time.perf_counter()
    # one offline run over the whole set: no caps meant for a shared Space
    session = Session.start(Settings.from_env(max_prompts=max(len(items), 64), max_outputs=max(4 * len(items), 256)))
    attach_demo_adapters(session)
    variants = [BASE, *sorted(OWN_CATEGORY)]
    settings = session.generation_settings(max_new_tokens=MAX_NEW_TOKENS)
    outputs = generate(session, items, variants, settings)
    seconds = time.perf_counter() - started
    if args.outputs:
        with args.outputs.open("w", encoding="utf-8") as f:
            for variant in variants:
                for item, output in zip(items, outputs[variant]):
                    f.write(json.dumps({"id": item.id, "variant": variant, "output": output}, ensure_ascii=False) + "\n")

    scores = {variant: passes(items, outputs[variant]) for variant in variants}
    results = verdicts(items, scores)
    print(f"{eval_set.name}: {len(items)} items x {len(variants)} variants, greedy, max_new_tokens {MAX_NEW_TOKENS}, "
          f"{seconds:.0f} s")
    print()
    print(pass_table(items, scores))
    print()
    print(verdict_table(results))
    problems = story_problems(results)
    print()
    print("story: " + ("; ".join(problems) if problems else "every adapter is better than the base in its own category"))
    return 1 if problems else 0


if __name__ == "__main__":
    raise SystemExit(main())
