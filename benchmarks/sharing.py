"""How fairly visitors share the model: a chat reply behind another visitor's demo run, and Stop.

    .venv/bin/python benchmarks/sharing.py [--tokens 64] [--chat-tokens 16]

On the embedded default with the demo adapters: visitor A starts the demo comparison
(8 prompts x base + 3 adapters); 3 s later visitor B asks for a chat reply. Prints how
long B waited for their first token and for the whole reply, then how long a Stop
takes to end a run (from stop() to the run's end).
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from adapters_ui.adapters import demo  # noqa: E402 (after the sys.path line)
from adapters_ui.config import Settings  # noqa: E402
from adapters_ui.runs.prompts import demo_prompts  # noqa: E402
from adapters_ui.runs.run import Partial  # noqa: E402
from adapters_ui.session import Session  # noqa: E402


def first_token_and_end(run) -> tuple[float, float]:
    """Seconds from now to the run's first streamed token, and to its end."""
    asked, first = time.perf_counter(), None
    for event in run:
        if first is None and isinstance(event, Partial):
            first = time.perf_counter() - asked
    return first if first is not None else float("nan"), time.perf_counter() - asked


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--tokens", type=int, default=64, help="new tokens per output of the demo run")
    parser.add_argument("--chat-tokens", type=int, default=16)
    parser.add_argument("--head-start", type=float, default=3.0, help="seconds the demo run has before the chat")
    args = parser.parse_args()

    session = Session.start(Settings(demo=True))
    demo.attach_demo_adapters(session)
    prompts = demo_prompts()
    settings = session.generation_settings(max_new_tokens=args.tokens)
    session.compare(["warm up"], ["base", "pirate"], session.generation_settings(max_new_tokens=4))

    long_run = session.start_compare(prompts, None, settings, owner="A")
    time.sleep(args.head_start)
    chat = session.start_chat([{"role": "user", "content": "Hi!"}], "pirate",
                              session.generation_settings(max_new_tokens=args.chat_tokens), owner="B")
    first, whole = first_token_and_end(chat)
    demo_run = long_run.result()
    print(f"demo run: {len(prompts)} prompts x {len(demo_run.variants)} variants, {args.tokens} tokens: "
          f"{demo_run.generate_s:.1f} s model time, {len(long_run.plan.batches)} batches")
    print(f"chat reply asked {args.head_start:.0f} s into it: first token after {first:.1f} s, "
          f"whole reply ({args.chat_tokens} tokens) after {whole:.1f} s")

    run = session.start_compare(prompts, None, settings, owner="A")
    time.sleep(4.0)
    pressed = time.perf_counter()
    run.stop()
    stopped = run.final()
    done, total = stopped.counts()
    print(f"stop: the run ended {time.perf_counter() - pressed:.2f} s after stop() ({done} of {total} outputs finished, "
          f"{sum(len(r.cut_off) for r in stopped.results)} cut off)")


if __name__ == "__main__":
    main()
