"""An evaluation job's speed against plain generate and the decode floor, its costs, and a visitor's wait.

    ADAPTERS_UI_CACHE_DIR=/path/to/cache .venv/bin/python benchmarks/evaluation.py [--items 1000] [--tokens 48]
        [--quick] [--batch-items 32] [--memory-items 100] [--plain-items N] [--skip-memory] [--skip-plain] [--skip-floor]
        [--skip-interactive]

On the embedded default (SmolLM2-135M-Instruct) with the demo adapters, in this process: a synthetic set of
``--items`` items (assets/evals/demo.jsonl interleaved by category and repeated, ids made distinct, prompts,
checks and references kept, so every score and the reference read-back run) goes through base + the 3 demo
adapters, greedy, at most ``--tokens`` new tokens per output. Measured, one after another:

  1. the evaluation job: ``Session.start_evaluation`` on a new SQLite file in a temporary folder, ``job.wait()``;
     items/s and outputs/s of its wall clock, and where its time goes (the job's own timers: generation, the
     reference read-back, scoring, the database writes; target: writes <= 5% of the generation time);
  2. plain: the same stored items rendered by the job's own render function, in the job's batches of
     ``--batch-items`` items, each batch ``backend.plan`` + ``backend.generate`` per planned batch on the model
     thread: no job, no CompareRun or turn queue, no database, no read-back, no scoring. Its outputs must equal
     the job's (greedy), which is checked. ``--plain-items N`` runs only the first N items' batches, against the
     job's own time on those batches (``job.batch_seconds``), to halve a long run;
  3. the compute floor: the largest batch the plan makes (the first ``--batch-items`` items x every variant,
     one decode loop) with min_new_tokens = max_new_tokens = ``--tokens``, timed once and scaled to every row:
     floor = t(largest batch) x rows / rows of that batch. The job's rows may end before ``--tokens`` tokens
     (end of text), so the floor is also printed scaled to the tokens the job actually wrote;
  4. peak memory: the growth of the process's peak RSS (VmHWM, reset through /proc/self/clear_refs) over its
     RSS just before the job, for the job of (1) and for a job of ``--memory-items`` items in a fresh
     subprocess that does the same steps (load, demo adapters, warm-up, job); target: flat. Within (1), at each
     committed batch, the RSS then and the batch's own peak: a trend across batches would mean something is
     held (the peak of one batch follows its longest prompt and reference, not the items done before it);
  5. an interactive Compare (1 prompt, pirate, 16 tokens) started during (1), half a batch into its second
     batch: seconds to its first streamed token and to its end, against the same Compare alone (best of 2,
     after the job). Its own compute time is part of (1)'s wall clock.

Prints a table and the ratios; nothing here asserts a speed. A full run (1,000 items x 4 variants x 48 tokens)
takes a long time on 2 CPU cores: try ``--quick`` (100 items) first.
"""

from __future__ import annotations

import argparse
import json
import math
import re
import subprocess
import sys
import tempfile
import threading
import time
from itertools import zip_longest
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from adapters_ui.adapters.demo import attach_demo_adapters  # noqa: E402 (after the sys.path line)
from adapters_ui.config import Settings  # noqa: E402
from adapters_ui.demo_assets import eval_set_path  # noqa: E402
from adapters_ui.model.thread import on_model_thread  # noqa: E402
from adapters_ui.runs.evaluation import BATCH_ITEMS, batches  # noqa: E402
from adapters_ui.runs.run import Partial  # noqa: E402
from adapters_ui.session import Session  # noqa: E402
from adapters_ui.store import Database  # noqa: E402
from adapters_ui.store.evaluations import FINISHED, iter_outputs, load_items  # noqa: E402

COMPARE_PROMPT = "Tell me about the sea."
COMPARE_VARIANT = "pirate"
COMPARE_TOKENS = 16
MIB = 1024 * 1024


def write_set(folder: Path, items: int) -> Path:
    """``items`` items from the shipped demo set, repeated with distinct ids ("general-001~2": third copy). The
    shipped items are interleaved by category first (the file holds them category by category), so every batch
    holds the categories alike and two set sizes differ only in how many such batches they have: a batch's peak
    memory follows its longest prompt and reference."""
    by_category: dict[str | None, list[dict]] = {}
    for line in eval_set_path("demo").read_text().splitlines():
        if line.strip():
            item = json.loads(line)
            by_category.setdefault(item.get("category"), []).append(item)
    shipped = [item for row in zip_longest(*by_category.values()) for item in row if item is not None]
    path = folder / f"bench-{items}.jsonl"
    with path.open("w") as out:
        for n in range(items):
            item = dict(shipped[n % len(shipped)])
            copy = n // len(shipped)
            if copy:
                item["id"] = f"{item['id']}~{copy}"
            out.write(json.dumps(item) + "\n")
    return path


def rss_bytes(field: str = "VmRSS") -> int:
    """The process's resident set (or ``VmHWM``, its peak since the last reset) from /proc/self/status."""
    return int(re.search(rf"^{field}:\s+(\d+) kB", Path("/proc/self/status").read_text(), re.M).group(1)) * 1024


def track_memory(job, before: int) -> None:
    """At each committed batch: (outputs stored, RSS then, peak RSS during the batch) as growth over ``before``,
    in ``job.memory``; the peak restarts at every batch, so a trend across batches shows whether anything is held."""
    job.memory, seen = [], job.progress().done
    while not job.wait(0.1):
        done = job.progress().done
        if done != seen:
            job.memory.append((done, rss_bytes() - before, rss_bytes("VmHWM") - before))
            reset_peak_rss()
            seen = done
    if job.progress().done != seen:
        job.memory.append((job.progress().done, rss_bytes() - before, rss_bytes("VmHWM") - before))


def memory_line(memory: list, longest: list[int]) -> str:
    """The per-batch memory: RSS after each batch and each batch's peak (MiB over the RSS before the job), next to
    the batch's longest prompt + reference in tokens (what its largest tensors follow)."""
    if len(memory) < 2:
        return "memory per batch: fewer than 2 batches"
    cells = [f"{i + 1}:{r / MIB:.0f}/{p / MIB:.0f}/{n}" for i, ((_, r, p), n) in enumerate(zip(memory, longest))]
    peaks = sorted(p for _, _, p in memory)
    return (f"memory per committed batch (batch:RSS after/its peak MiB/longest prompt+reference tokens): "
            f"{' '.join(cells)}; RSS after the first +{memory[0][1] / MIB:.0f} MiB, after the last "
            f"+{memory[-1][1] / MIB:.0f} MiB; batch peaks median +{peaks[len(peaks) // 2] / MIB:.0f} MiB, "
            f"max +{peaks[-1] / MIB:.0f} MiB")


def longest_per_batch(session: Session, items: list[dict], batch_items: int) -> list[int]:
    """Each batch's longest rendered prompt plus its reference, in tokens."""
    tokenizer = session.base.tokenizer
    size = [len(tokenizer(session._render_item(item))["input_ids"]) + len(tokenizer(item.get("reference") or "")["input_ids"])
            for item in items]
    return [max(size[p] for p in positions) for positions in batches(len(items), batch_items)]


def reset_peak_rss() -> int:
    """Make the peak RSS start again from now (Linux); the RSS now."""
    Path("/proc/self/clear_refs").write_text("5")
    return rss_bytes()


def load() -> tuple[Session, list[str], float]:
    started = time.perf_counter()
    session = Session.start(Settings.from_env())
    attach_demo_adapters(session)
    return session, session.variants, time.perf_counter() - started


def warm_up(session: Session, variants: list[str]) -> float:
    """One small mixed batch: the first decode loop pays one-off costs that no measurement should carry."""
    started = time.perf_counter()
    settings = session.generation_settings(max_new_tokens=4)
    texts = [session._render_item({"prompt": p}) for p in ("Hi!", "Name a colour.", "What is 2 + 2?")]
    for batch in session.backend.plan(variants, texts, settings).batches:
        on_model_thread(session.backend.generate, batch, texts, settings)
    return time.perf_counter() - started


def run_job(session: Session, variants: list[str], set_path: Path, folder: Path, args, during=None):
    """The evaluation job on a new SQLite file: (job, db, evaluation id, wall seconds, peak RSS growth in bytes).
    ``during(job)`` runs in a thread of its own while the job works."""
    db = Database.open(f"sqlite:///{folder / f'{set_path.stem}.db'}")
    settings = session.generation_settings(max_new_tokens=args.tokens)
    before = reset_peak_rss()
    started = time.perf_counter()
    job, ref = session.start_evaluation(db, set_path, variants, settings=settings, batch_items=args.batch_items)
    helpers = [threading.Thread(target=track_memory, args=(job, before))]
    if during:
        helpers.append(threading.Thread(target=during, args=(job,)))
    for helper in helpers:
        helper.start()
    job.wait()
    wall = time.perf_counter() - started
    for helper in helpers:
        helper.join()
    peak = max(grown for _, _, grown in job.memory) if job.memory else rss_bytes("VmHWM") - before
    status = job.progress()
    if status.status != FINISHED:
        sys.exit(f"the evaluation job did not finish: {status.line()}")
    return job, db, ref.id, wall, peak


def compare_times(session: Session) -> tuple[float, float]:
    """Seconds from starting the 1-prompt, 1-variant Compare to its first streamed token, and to its end."""
    settings = session.generation_settings(max_new_tokens=COMPARE_TOKENS)
    asked, first = time.perf_counter(), None
    for event in session.start_compare([COMPARE_PROMPT], [COMPARE_VARIANT], settings, owner="visitor"):
        if first is None and isinstance(event, Partial):
            first = time.perf_counter() - asked
    return first if first is not None else math.nan, time.perf_counter() - asked


def plain_generate(session: Session, variants: list[str], items: list[dict], args) -> tuple[float, dict]:
    """The job's rows without the job: (seconds, outputs by (item position, variant))."""
    settings = session.generation_settings(max_new_tokens=args.tokens)
    backend, outputs, seconds = session.backend, {}, 0.0
    for positions in batches(len(items), args.batch_items):
        texts = [session._render_item(items[p], settings.use_chat_template) for p in positions]
        started = time.perf_counter()
        for batch in backend.plan(variants, texts, settings).batches:
            generated = on_model_thread(backend.generate, batch, texts, settings)
            for (row, variant), text in zip(batch.rows, generated.texts):
                outputs[(positions[row], variant)] = text
        seconds += time.perf_counter() - started
    return seconds, outputs


def floor_batch(session: Session, variants: list[str], items: list[dict], args) -> tuple[float, int]:
    """(seconds, rows) of the plan's largest batch, every row exactly ``--tokens`` tokens long."""
    settings = session.generation_settings(max_new_tokens=args.tokens, min_new_tokens=args.tokens)
    texts = [session._render_item(item, settings.use_chat_template) for item in items[: args.batch_items]]
    batch = max(session.backend.plan(variants, texts, settings).batches, key=lambda b: len(b.rows))
    started = time.perf_counter()
    on_model_thread(session.backend.generate, batch, texts, settings)
    return time.perf_counter() - started, len(batch.rows)


def memory_probe(args) -> None:
    """The fresh subprocess of (4): load, demo adapters, warm-up, the job; prints its peak RSS growth."""
    session, variants, _ = load()
    warm_up(session, variants)
    with tempfile.TemporaryDirectory(prefix="adapters_ui-eval-bench-") as folder:
        _, db, _, _, peak = run_job(session, variants, write_set(Path(folder), args.items), Path(folder), args)
        db.close()
    print("MEMORY " + json.dumps({"items": args.items, "peak_growth": peak}), flush=True)


def memory_in_subprocess(items: int, args) -> int | None:
    argv = [sys.executable, __file__, "--memory-probe", "--items", str(items), "--tokens", str(args.tokens),
            "--batch-items", str(args.batch_items)]
    done = subprocess.run(argv, capture_output=True, text=True)
    found = re.search(r"^MEMORY (.*)$", done.stdout, re.M)
    if done.returncode or not found:
        print(f"memory probe of {items} items failed:\n{done.stderr[-2000:]}")
        return None
    return json.loads(found.group(1))["peak_growth"]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--items", type=int, default=1000, help="items in the synthetic set (default 1000)")
    parser.add_argument("--quick", action="store_true", help="100 items (overrides --items)")
    parser.add_argument("--tokens", type=int, default=48, help="max_new_tokens of every output (default 48)")
    parser.add_argument("--batch-items", type=int, default=BATCH_ITEMS, help="items per committed batch of the job")
    parser.add_argument("--memory-items", type=int, default=100,
                        help="the other set size whose peak memory is measured, in a fresh subprocess (default 100)")
    parser.add_argument("--skip-memory", action="store_true", help="no memory subprocess")
    parser.add_argument("--plain-items", type=int, help="plain generate on the first N items only (their batches), "
                        "against the job's time on those batches (default: all)")
    parser.add_argument("--skip-plain", action="store_true", help="no plain batched generate (the longest part after the job)")
    parser.add_argument("--skip-floor", action="store_true", help="no fixed-length decode of the largest batch")
    parser.add_argument("--skip-interactive", action="store_true", help="no Compare during the job")
    parser.add_argument("--memory-probe", action="store_true", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.quick:
        args.items = 100
    if args.memory_probe:
        return memory_probe(args)
    began = time.perf_counter()

    session, variants, load_s = load()
    warm_s = warm_up(session, variants)
    rows = args.items * len(variants)
    job_batches = batches(args.items, args.batch_items)
    print(f"set: {args.items} items (demo.jsonl repeated) x {len(variants)} variants ({', '.join(variants)}) = {rows} "
          f"outputs of at most {args.tokens} tokens, greedy; {len(job_batches)} batches of <= {args.batch_items} items; "
          f"model and adapters loaded in {load_s:.1f} s, warm-up {warm_s:.1f} s", flush=True)

    heard: dict[str, tuple[float, float] | str] = {}

    def visitor(job) -> None:
        """Half a batch into the job's second batch, one Compare."""
        while not job.ended and not job.batch_seconds:
            time.sleep(0.05)
        if job.ended or len(job_batches) < 2:
            heard["during"] = "the job had ended (it has one batch: use more items or a smaller --batch-items)"
            return
        time.sleep(job.batch_seconds[0] / 2)
        heard["during"] = compare_times(session) if not job.ended else "the job had ended"

    with tempfile.TemporaryDirectory(prefix="adapters_ui-eval-bench-") as folder:
        set_path = write_set(Path(folder), args.items)
        job, db, evaluation_id, job_s, peak = run_job(session, variants, set_path, Path(folder), args,
                                                      None if args.skip_interactive else visitor)
        items = load_items(db, evaluation_id)
        stored = list(iter_outputs(db, evaluation_id))
        db.close()
    tokens_written = sum(row["scores"]["output_tokens"] for row in stored)
    print(f"job: {job_s:.1f} s, {job.progress().line()}", flush=True)

    print(f"\n{'':34} {'seconds':>9} {'items/s':>8} {'outputs/s':>10} {'job / this':>11}")
    print(f"{'evaluation job (wall clock)':34} {job_s:9.1f} {args.items / job_s:8.2f} {rows / job_s:10.2f}")
    if not args.skip_plain:
        part = min(args.plain_items or args.items, args.items)  # the first batches' items: the same rows both ways
        plain_s, plain = plain_generate(session, variants, items[:part], args)
        job_part_s = sum(job.batch_seconds[: len(batches(part, args.batch_items))])
        compared = [row for row in stored if row["position"] < part]
        same = sum(plain.get((row["position"], row["variant"])) == row["output"] for row in compared)
        label = "plain batched generate" + ("" if part == args.items else f" ({part} items)")
        print(f"{label:34} {plain_s:9.1f} {part / plain_s:8.2f} {part * len(variants) / plain_s:10.2f} "
              f"{job_part_s / plain_s:11.2f}   (the job's {job_part_s:.1f} s on the same rows; "
              f"{same} of {len(compared)} outputs equal the job's)", flush=True)
    if not args.skip_floor:
        batch_s, batch_rows = floor_batch(session, variants, items, args)
        floor_s = batch_s * rows / batch_rows
        floor_written = batch_s / (batch_rows * args.tokens) * tokens_written
        print(f"{f'floor: {rows} rows x {args.tokens} tokens':34} {floor_s:9.1f} {args.items / floor_s:8.2f} "
              f"{rows / floor_s:10.2f} {job_s / floor_s:11.2f}   ({batch_rows}-row batch in {batch_s:.1f} s, scaled)")
        print(f"{f'floor: the {tokens_written} tokens written':34} {floor_written:9.1f} "
              f"{args.items / floor_written:8.2f} {rows / floor_written:10.2f} {job_s / floor_written:11.2f}", flush=True)

    generation = job.generate_seconds
    print(f"\njob's time: generation {generation:.1f} s, reference read-back {job.read_back_seconds:.1f} s, "
          f"scoring {job.score_seconds:.2f} s, database writes {job.write_seconds:.2f} s "
          f"= {100 * job.write_seconds / generation:.2f}% of generation (target <= 5%); "
          f"batches {sum(job.batch_seconds):.1f} s of {job_s:.1f} s wall")

    if not args.skip_memory:
        sizes = {args.items: peak}
        if args.memory_items != args.items:
            sizes[args.memory_items] = memory_in_subprocess(args.memory_items, args)
        print(memory_line(job.memory, longest_per_batch(session, items, args.batch_items)), flush=True)
        print("peak RSS growth during the job: " + ", ".join(
            f"{n} items +{grown / MIB:.0f} MiB" for n, grown in sorted(sizes.items()) if grown is not None)
            + " (target: flat)", flush=True)

    if not args.skip_interactive:
        alone = min(compare_times(session) for _ in range(2))
        during = heard.get("during", "not measured")
        line = (f"interactive Compare ({COMPARE_VARIANT}, 1 prompt, {COMPARE_TOKENS} tokens): alone first token "
                f"{alone[0]:.2f} s, end {alone[1]:.2f} s; during the job ")
        if isinstance(during, tuple):
            line += (f"first token {during[0]:.2f} s (+{during[0] - alone[0]:.2f}), end {during[1]:.2f} s "
                     f"(+{during[1] - alone[1]:.2f})")
        else:
            line += during
        print(line)
    print(f"\nbenchmark wall clock: {time.perf_counter() - began:.0f} s")


if __name__ == "__main__":
    main()
