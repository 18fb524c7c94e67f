"""What ``compare --analyze`` prints: each variant's divergence from the base and the reference leaderboard."""

from __future__ import annotations

from .analysis.analyze import Analysis
from .analysis.references import LEADERBOARD_COLUMNS
from .analysis_views import DIVERGENCE_COLUMNS, divergence_rows


def print_table(headers: list[str], rows: list[list]) -> None:
    """Columns as wide as their widest cell; numbers right-aligned."""
    cells = [[_text(v) for v in row] for row in rows]
    widths = [max(len(h), *(len(r[i]) for r in cells)) for i, h in enumerate(headers)]
    print("  ".join(h.ljust(w) for h, w in zip(headers, widths)))
    for row, raw in zip(cells, rows):
        print("  ".join(c.rjust(w) if isinstance(v, (int, float)) else c.ljust(w) for c, v, w in zip(row, raw, widths)))


def _text(value) -> str:
    if value is None:
        return "-"
    if isinstance(value, float):
        return f"{value:.4g}"
    return str(value)


def print_analysis(analysis: Analysis, generate_s: float) -> None:
    document = analysis.to_dict()
    print("\nwhere each variant departs from the base (teacher-forced, KL(variant || base) per token):")
    print_table(list(DIVERGENCE_COLUMNS), divergence_rows(document["summaries"]))
    board = analysis.leaderboard()
    if board:
        print("\nreference scores (best first; d_ = change from the base):")
        print_table(list(LEADERBOARD_COLUMNS), [[row[key] for key in LEADERBOARD_COLUMNS] for row in board])
    print(f"\nanalyze: {analysis.analyze_s:.2f} s (generate took {generate_s:.2f} s)")
