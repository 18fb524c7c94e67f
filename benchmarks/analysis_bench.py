"""What explaining a comparison costs next to making it: Analyze against Compare, on the embedded default.

    python benchmarks/analysis_bench.py             # the demo set: 8 prompts x base + 3 demo adapters
    python benchmarks/analysis_bench.py --rounds 3  # best of 3

Each round generates the prompts (the app's default settings) and then reads every output back
(``Session.analyze``: token divergence from the base, and the references' perplexities when the
prompts carry references). Ratios come from the same round, since these shared cores' speed
drifts from minute to minute. It also runs the "styles" set (12 prompts with references in the
demo adapters' styles) and prints its leaderboard. Rows go to out/analysis_bench/analysis.csv.
"""

from __future__ import annotations

import argparse
import csv
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path[:0] = [str(ROOT)]

from adapters_ui.adapters import demo  # noqa: E402
from adapters_ui.cli.compare import print_analysis  # noqa: E402
from adapters_ui.config import Settings  # noqa: E402
from adapters_ui.runs.prompts import read_prompt_items  # noqa: E402
from adapters_ui.session import SessionHolder  # noqa: E402


def one_round(session, prompt_file: Path) -> tuple[dict, object]:
    items = read_prompt_items(prompt_file)
    comparison = session.start_compare([i.text for i in items], references=[i.reference for i in items]).result()
    analysis = session.analyze(comparison)
    tokens = sum(s.tokens or 0 for s in analysis.summaries.values())
    row = {"prompts": prompt_file.stem, "outputs": len(items) * len(comparison.variants),
           "generate_s": round(comparison.generate_s, 2), "analyze_s": round(analysis.analyze_s, 2),
           "analyze_over_generate": round(analysis.analyze_s / comparison.generate_s, 3), "adapter_tokens_read": tokens,
           "references": sum(1 for i in items if i.reference)}
    return row, (comparison, analysis)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rounds", type=int, default=2)
    parser.add_argument("--out", type=Path, default=ROOT / "out" / "analysis_bench")
    args = parser.parse_args()
    session = SessionHolder(Settings(cache_dir=ROOT / ".cache" / "test-models")).get()
    rows = []
    for round_ in range(1, args.rounds + 1):
        row, _ = one_round(session, demo.DEMO_PROMPTS)
        rows.append({"round": round_, **row})
        print(f"demo set, round {round_}: generate {row['generate_s']:.1f} s, analyze {row['analyze_s']:.1f} s "
              f"-> analyze / generate = {row['analyze_over_generate']:.2f}", flush=True)
    best = min(rows, key=lambda r: r["analyze_over_generate"])
    worst = max(rows, key=lambda r: r["analyze_over_generate"])
    print(f"analyze / generate on {best['outputs']} outputs: {best['analyze_over_generate']:.2f} "
          f"(worst round {worst['analyze_over_generate']:.2f})")
    row, (comparison, analysis) = one_round(session, demo.PROMPT_SETS / "styles.jsonl")
    rows.append({"round": "styles", **row})
    print(f"\nstyles set ({row['references']} references): generate {row['generate_s']:.1f} s, analyze {row['analyze_s']:.1f} s")
    print_analysis(analysis, comparison.generate_s)
    args.out.mkdir(parents=True, exist_ok=True)
    with open(args.out / "analysis.csv", "w", newline="") as handle:
        writer = csv.DictWriter(handle, list(rows[0]))
        writer.writeheader()
        writer.writerows(rows)
    print(f"\nwrote {args.out / 'analysis.csv'}")


if __name__ == "__main__":
    main()
