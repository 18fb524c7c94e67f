"""What ``compare --analyze`` and ``inspect --weights`` print: divergence, the reference leaderboard, weight updates."""

from __future__ import annotations

from adapters_ui.analysis.analyze import Analysis
from adapters_ui.analysis.references import LEADERBOARD_COLUMNS
from adapters_ui.cli.store import print_table
from adapters_ui.views.analysis_html import DIVERGENCE_COLUMNS, divergence_rows


def _text(value) -> str:
    return f"{value:.4g}" if isinstance(value, float) else value


def print_analysis(analysis: Analysis, generate_s: float) -> None:
    document = analysis.to_dict()
    print("\nwhere each variant departs from the base (teacher-forced, KL(variant || base) per token):")
    print_table(DIVERGENCE_COLUMNS, [[_text(v) for v in row] for row in divergence_rows(document["summaries"])])
    board = analysis.leaderboard()
    for category, rows in analysis.leaderboard_by_category().items():
        print(f"\nreference scores, category {category} (its prompts alone; best first; d_ = change from the base):")
        _print_leaderboard(rows)
    if board:
        together = ", all categories together" if analysis.references_by_category else ""
        print(f"\nreference scores{together} (best first; d_ = change from the base):")
        _print_leaderboard(board)
    print(f"\nanalyze: {analysis.analyze_s:.2f} s (generate took {generate_s:.2f} s)")


def _print_leaderboard(rows: list[dict]) -> None:
    print_table(list(LEADERBOARD_COLUMNS), [[_text(row[key]) for key in LEADERBOARD_COLUMNS] for row in rows])


def print_weight_effects(effects) -> None:
    """The quantity line, then one aligned row per module (blank where a number does not apply)."""

    def number(value, spec: str) -> str:
        return "" if value is None else format(value, spec)

    print(f"\nweights: {effects.quantity}")
    print_table(
        ["layer", "module", "norm", "relative", "rank", "effective rank", "magnitude change"],
        [[number(m.layer, "d"), m.module, number(m.norm, ".4g"), number(m.relative, ".3g"), number(m.rank, "d"),
          number(m.effective_rank, ".2f"), number(m.magnitude_change, ".3g")] for m in effects.modules],
        indent="  ",
    )
