"""Wall time of the CLI commands that need no model: --help, saved list/show, review results.

    .venv/bin/python benchmarks/cli_speed.py [--database sqlite:///PATH] [--repeat 5]

Each command runs as its own process (`python -m adapters_ui ...`), as a user types it, and
the median of --repeat runs is printed with the slowest. Without --database, a new SQLite file
in a temporary folder is seeded first: `compare --save` of the demo prompts on the embedded
default with the demo adapters (8 tokens each), a review of base vs pirate and 6 votes. Pass
--database to time a store seeded earlier (e.g. by an older checkout) so that before and
after are measured on the same rows; --keep prints the seeded database's URL and keeps it.
"""

from __future__ import annotations

import argparse
import os
import re
import statistics
import subprocess
import sys
import tempfile
import time
import uuid
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
TARGET_S = 1.5  # the target for every command here, on 2 CPU cores


def cli(*argv: str) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "adapters_ui", *argv], cwd=ROOT, capture_output=True,
                          text=True, env={**os.environ, "PYTHONWARNINGS": "ignore"})


def seed(url: str) -> tuple[str, str]:
    """A saved demo comparison with a review and 6 votes -> (run id, review id)."""
    done = cli("compare", "--max-new-tokens", "8", "--save", "--database", url)
    assert done.returncode == 0, done.stderr[-2000:]
    run_id = re.search(r"^saved:\s+(\S+)$", done.stdout, re.M).group(1)
    done = cli("review", "create", run_id, "--variants", "base,pirate", "--database", url)
    assert done.returncode == 0, done.stderr[-2000:]
    review_id = re.search(r"^review:\s+(\S+)$", done.stdout, re.M).group(1)
    token = re.search(r"/review/\?reviewer=([A-Za-z0-9_-]+)$", done.stdout, re.M).group(1)
    sys.path.insert(0, str(ROOT))
    from adapters_ui.store import Database
    from adapters_ui.store.reviews import cast_vote, join_review, next_task

    db = Database.open(url)
    try:
        for number, choice in enumerate(["a", "b", "a", "tie", "a", "b"]):
            reviewer = f"reviewer-{number % 2}"
            join_review(db, token, reviewer)
            task = next_task(db, token, reviewer)
            if task is not None:
                cast_vote(db, token, reviewer, task.task_id, choice, vote_id=str(uuid.uuid4()))
    finally:
        db.close()
    return run_id, review_id


def ids_in(url: str) -> tuple[str, str]:
    """The newest saved run of the store and its first review (from the CLI's own listings)."""
    listing = cli("saved", "list", "--database", url)
    assert listing.returncode == 0, listing.stderr[-2000:]
    run_id = re.search(r"^([A-Za-z0-9_-]{16,})\s", listing.stdout.split("\n", 1)[1], re.M).group(1)
    reviews = cli("review", "list", run_id, "--database", url)
    review_id = re.search(r"^([A-Za-z0-9_-]{16,})\s", reviews.stdout.split("\n", 1)[1], re.M).group(1)
    return run_id, review_id


def timed(argv: list[str], repeat: int) -> tuple[float, float]:
    """(median, slowest) seconds of `python -m adapters_ui ARGV`, which must succeed."""
    times = []
    for _ in range(repeat):
        started = time.perf_counter()
        done = cli(*argv)
        times.append(time.perf_counter() - started)
        assert done.returncode == 0, f"{argv}: {done.stderr[-2000:]}"
    return statistics.median(times), max(times)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--database", help="a store seeded earlier (default: seed a new SQLite file)")
    parser.add_argument("--repeat", type=int, default=5)
    parser.add_argument("--keep", action="store_true", help="keep the seeded database and print its URL")
    args = parser.parse_args()

    folder = tempfile.mkdtemp(prefix="adapters_ui-cli-speed-")
    url = args.database
    if url is None:
        url = f"sqlite:///{Path(folder) / 'store.db'}"
        print(f"seeding {url} (one demo comparison on the embedded default) ...", flush=True)
        run_id, review_id = seed(url)
        if args.keep:
            print(f"kept: --database {url}")
    else:
        run_id, review_id = ids_in(url)
    commands = {
        "--help": ["--help"],
        "saved list": ["saved", "list", "--database", url],
        "saved show ID": ["saved", "show", run_id, "--database", url],
        "review results ID --json": ["review", "results", review_id, "--json", "--database", url],
    }
    print(f"{'command':28} {'median s':>9} {'slowest s':>10}  (target < {TARGET_S} s; {args.repeat} runs each)")
    for label, argv in commands.items():
        median, slowest = timed(argv, args.repeat)
        print(f"{label:28} {median:9.2f} {slowest:10.2f}", flush=True)


if __name__ == "__main__":
    main()
