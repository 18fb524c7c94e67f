"""Many reviewers voting at once through the review API of a real ``python app.py``.

Starts the app on the database, seeds a saved comparison (25 prompts x base/pirate/formal, every
pair: 75 pairs) and a review of it, then releases REVIEWERS threads together, each with its own
gradio_client: /join, then VOTES votes through /vote, each with a fresh UUID as its vote id; about
1 vote in 10 is sent again with the same id (a retried request) and must count once.
Prints the votes cast and stored, the retries, the wall time, the time per vote and votes/s.

    .venv/bin/python benchmarks/reviews.py [--database URL] [--reviewers 20] [--votes 50]

Without --database a new SQLite file in a temporary folder is used (and removed). A given database
(e.g. postgresql+psycopg://user:password@host:port/db) keeps the comparison, review and votes made.
The same run, with its checks, is tests/test_review_load.py.
"""

from __future__ import annotations

import argparse
import sys
import tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path[:0] = [str(ROOT), str(ROOT / "tests")]

from test_review_load import RETRY_EVERY, percentile, run_reviewers, seed_review, start_app, stored_votes  # noqa: E402


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--database", help="SQLAlchemy URL (default: a new SQLite file in a temporary folder)")
    parser.add_argument("--reviewers", type=int, default=20)
    parser.add_argument("--votes", type=int, default=50, help="votes per reviewer")
    parser.add_argument("--prompts", type=int, default=25, help="prompts of the comparison (3 pairs each)")
    parser.add_argument("--per-pair", type=int, default=20, help="judgements each pair needs (at most 50)")
    parser.add_argument("--retry-every", type=int, default=RETRY_EVERY, help="send 1 vote in N twice (0: never)")
    args = parser.parse_args()
    if args.votes > 3 * args.prompts:
        parser.error(f"--votes {args.votes}: a reviewer has only {3 * args.prompts} pairs (3 per prompt)")

    with tempfile.TemporaryDirectory(prefix="review-bench-") as tmp:
        url = args.database or f"sqlite:///{tmp}/adapters_ui.db"
        seeded = seed_review(url, prompts=args.prompts, per_pair=args.per_pair)
        app = start_app(url, Path(tmp) / "app")
        try:
            load = run_reviewers(app.review_url, seeded.reviewer_token, args.reviewers, args.votes, args.retry_every)
        finally:
            app.stop()
        rows = stored_votes(url, seeded.review_id)

    errors = [f"{run.name}: {run.error}" for run in load.runs if run.error]
    cast, times = load.votes, sorted(v.seconds for v in load.votes)
    counted_once = load.total("retries_same_done") if len(rows) == len(cast) else 0
    print(f"database: {url.split(':', 1)[0]} ({seeded.items} pairs, {args.per_pair} judgements each wanted)")
    print(f"reviewers: {args.reviewers} at once, {args.votes} votes each")
    print(f"votes cast:            {len(cast):6d}")
    print(f"votes stored:          {len(rows):6d}   (distinct ids {len({r['id'] for r in rows})}, "
          f"ids sent {len({v.vote_id for v in cast} & {r['id'] for r in rows})})")
    print(f"retries (same id):     {load.total('retries'):6d}   duplicates: {load.total('retries_duplicate')}, "
          f"counted once: {counted_once}")
    print(f"lost replies resent:   {load.total('resent'):6d}   (gradio_client lost the reply; sent again, same vote id)")
    print(f"wall time:             {load.wall_s:6.1f} s")
    print(f"time per vote:         median {percentile(times, 50) * 1000:.0f} ms, p95 {percentile(times, 95) * 1000:.0f} ms, "
          f"max {times[-1] * 1000 if times else float('nan'):.0f} ms")
    print(f"votes/s:               {len(cast) / load.wall_s:6.1f}")
    if errors:
        print(f"{len(errors)} reviewer(s) stopped early: " + "; ".join(errors[:5]))
        sys.exit(1)


if __name__ == "__main__":
    main()
