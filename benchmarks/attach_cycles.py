"""Does attaching and detaching leak? 100 attach/detach cycles of the demo adapters on the embedded SmolLM2,
in process; prints resident memory at the start and the end and the drift (the target: within 5%).

    python benchmarks/attach_cycles.py [--cycles 100] [--compare-every 25]

Each cycle attaches pirate (LoRA), json_answer (LoRA r16, every linear layer) and bullets (DoRA) and
detaches them again, so the adapter families are mounted and unmounted each time; every
``--compare-every`` cycles a one-prompt comparison runs on all three, so generation state is exercised too.
Five warm-up cycles come first: the allocator's first growth is not a leak.
"""

from __future__ import annotations

import argparse
import gc
import os
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path[:0] = [str(ROOT), str(ROOT / "tests")]

from app_server import CACHE  # noqa: E402

from adapters_ui.adapters import demo  # noqa: E402
from adapters_ui.config import Settings  # noqa: E402
from adapters_ui.formatting import format_bytes  # noqa: E402
from adapters_ui.session import Session  # noqa: E402

WARM_UP = 5


def resident_bytes() -> int:
    with open("/proc/self/statm") as statm:
        return int(statm.read().split()[1]) * os.sysconf("SC_PAGE_SIZE")


def cycle(session: Session, folders: list[Path], compare: bool) -> None:
    names = [session.attach(folder).name for folder in folders]
    if compare:
        session.compare(["Why is the sky blue?"], names, session.generation_settings(max_new_tokens=4))
    for name in names:
        session.detach(name)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--cycles", type=int, default=100)
    parser.add_argument("--compare-every", type=int, default=25)
    args = parser.parse_args()
    session = Session.start(Settings(cache_dir=CACHE, demo=False))
    folders = demo.demo_adapter_folders()
    for i in range(WARM_UP):
        cycle(session, folders, compare=i == 0)
    gc.collect()
    start = resident_bytes()
    started = time.perf_counter()
    for i in range(1, args.cycles + 1):
        cycle(session, folders, compare=args.compare_every > 0 and i % args.compare_every == 0)
        if i % 25 == 0:
            print(f"  after {i} cycles: {format_bytes(resident_bytes())} resident", flush=True)
    gc.collect()
    end = resident_bytes()
    print(f"{args.cycles} attach/detach cycles of {', '.join(f.name for f in folders)} in {time.perf_counter() - started:.0f} s")
    print(f"resident memory: start {format_bytes(start)}, end {format_bytes(end)}, drift {100 * (end - start) / start:+.1f}% "
          f"(target within 5%)")


if __name__ == "__main__":
    main()
