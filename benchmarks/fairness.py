"""Fairness behind a long run: a chat's first-token wait, and what the long run loses to it.

    .venv/bin/python benchmarks/fairness.py [--prompts 20] [--tokens 64] [--chats 3] [--chat-tokens 32]

On the embedded default with the demo adapters, visitor A compares ``--prompts`` prompts x (base +
the demo adapters), every output exactly ``--tokens`` long (min_new_tokens = max_new_tokens, so
the work is the same every time): all rows are one decode loop. Measured in one process:

  1. B's chat alone: seconds to its first token (its own compute time) and to its end;
  2. A's run alone: tokens per second (wall clock, and per second of its own model time);
  3. A's run again, with B asking ``--chats`` chat replies one after another while it works (the
     first ``--delay`` s after A's first token): each chat's wait for its first token minus its own compute
     time (1), and A's throughput with them, as a ratio of (2).

The targets (issue 21): every chat's extra wait <= 2 s, and A keeps >= 85% of its wall-clock
throughput (the chats' own compute time is in A's wall clock, so part of the loss is theirs).
"""

from __future__ import annotations

import argparse
import statistics
import sys
import threading
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from compare_bench import PROMPTS as MORE_PROMPTS  # noqa: E402 (benchmarks/ is on sys.path when run)

from adapters_ui.adapters import demo  # noqa: E402 (after the sys.path line)
from adapters_ui.config import Settings  # noqa: E402
from adapters_ui.runs.prompts import demo_prompts  # noqa: E402
from adapters_ui.runs.run import Partial  # noqa: E402
from adapters_ui.session import Session  # noqa: E402

CHAT = [{"role": "user", "content": "Hi! What should I cook tonight?"}]


def chat_times(session, variant: str, settings) -> tuple[float, float]:
    """Seconds from asking to the chat's first streamed token, and to its end."""
    asked, first = time.perf_counter(), None
    run = session.start_chat(CHAT, variant, settings, owner="B")
    for event in run:
        if first is None and isinstance(event, Partial):
            first = time.perf_counter() - asked
    return first if first is not None else float("nan"), time.perf_counter() - asked


def long_run(session, prompts, variants, settings, chats: int = 0, chat_variant: str = "base", chat_settings=None,
             delay: float = 1.0):
    """A's run: (wall seconds, own model seconds, [chat first-token seconds]); B's chats, one after
    another, while it works."""
    started = time.perf_counter()
    run = session.start_compare(prompts, variants, settings, owner="A")
    firsts: list[float] = []
    writing = threading.Event()

    def visitor_b() -> None:
        writing.wait()
        time.sleep(delay)
        for _ in range(chats):
            if run.ended:
                return
            firsts.append(chat_times(session, chat_variant, chat_settings)[0])

    b = threading.Thread(target=visitor_b)
    b.start()
    for event in run:
        if isinstance(event, Partial):
            writing.set()
    writing.set()
    b.join()
    comparison = run.result()
    assert comparison.complete
    return time.perf_counter() - started, comparison.generate_s, firsts, comparison


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--prompts", type=int, default=20)
    parser.add_argument("--tokens", type=int, default=64, help="new tokens per output of A's run (exactly)")
    parser.add_argument("--chats", type=int, default=3, help="chat replies B asks, one after another, during A's run")
    parser.add_argument("--chat-tokens", type=int, default=32)
    parser.add_argument("--repeats", type=int, default=2, help="A alone and A with B, this many times each")
    parser.add_argument("--delay", type=float, default=1.0, help="seconds after A's first token that B asks")
    args = parser.parse_args()

    session = Session.start(Settings(demo=True))
    demo.attach_demo_adapters(session)
    adapters = [a.name for a in session.adapters()]
    variants = ["base", *adapters]
    prompts = ((demo_prompts() or []) + MORE_PROMPTS)[: args.prompts]
    settings = session.generation_settings(max_new_tokens=args.tokens, min_new_tokens=args.tokens)
    chat_variant = adapters[0] if adapters else "base"
    chat_settings = session.generation_settings(max_new_tokens=args.chat_tokens)
    rows = len(prompts) * len(variants)
    tokens = rows * args.tokens
    print(f"A: {len(prompts)} prompts x {len(variants)} variants ({', '.join(variants)}) x {args.tokens} tokens "
          f"= {rows} outputs, {tokens} tokens; B: chats of {args.chat_tokens} tokens on {chat_variant!r}; "
          f"best of {args.repeats} (a busy machine: the least disturbed run counts)")
    long_run(session, prompts, variants, settings)  # warm up: the first big batch pays one-off costs
    own = [chat_times(session, chat_variant, chat_settings) for _ in range(3)]
    own_first = min(f for f, _ in own)
    print(f"B's chat alone: first token after {own_first:.2f} s, whole reply after {min(w for _, w in own):.2f} s")

    alone_runs, shared_runs, firsts = [], [], []
    for _ in range(args.repeats):
        wall, model_s, _, alone = long_run(session, prompts, variants, settings)
        alone_runs.append((wall, model_s))
        wall_b, model_b, heard, shared = long_run(session, prompts, variants, settings, args.chats, chat_variant,
                                                  chat_settings, args.delay)
        assert shared.results == alone.results, "A's outputs changed when B's chats shared the model"
        shared_runs.append((wall_b, model_b))
        firsts += heard
    wall, model_s = min(alone_runs)
    wall_b, model_b = min(shared_runs)
    print(f"A alone: {wall:.1f} s wall, {model_s:.1f} s model time, {tokens / wall:.1f} tokens/s "
          f"(all: {', '.join(f'{w:.1f}' for w, _ in alone_runs)} s)")
    print(f"A with B's chats: {wall_b:.1f} s wall, {model_b:.1f} s model time, {tokens / wall_b:.1f} tokens/s "
          f"(all: {', '.join(f'{w:.1f}' for w, _ in shared_runs)} s)")
    print("B's chats' first token after " + ", ".join(f"{f:.2f}" for f in firsts) + " s")
    waits = [f - own_first for f in firsts]
    if waits:
        print(f"B's wait beyond its own compute time: max {max(waits):.2f} s, median {statistics.median(waits):.2f} s "
              f"(target <= 2 s)")
    print(f"A's throughput with B / alone: wall {wall / wall_b:.3f}, own model time {model_s / model_b:.3f} "
          f"(target >= 0.85); A's outputs are the same with and without B")


if __name__ == "__main__":
    main()
