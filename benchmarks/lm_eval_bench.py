"""Our one-base lm-eval route against lm-eval's reload-per-adapter route, with parity figures (issue 25).

    .venv/bin/python benchmarks/lm_eval_bench.py [--limit 20] [--tasks T1,T2] [--batch-size 8] [--json OUT]

On the embedded default (SmolLM2-135M-Instruct, its dequantized cache folder) with the demo adapters:

  1. ours: ``Session.start`` + the demo adapters attached once, then ``bench.run.run_benchmark`` on each variant
     (``simple_evaluate`` on the loaded model, the adapter switched, never reloaded);
  2. lm-eval's own: for each variant, ``HFLM(pretrained=<folder>, peft=<adapter folder>)`` (the base loaded again,
     the adapter put on it by PEFT) and ``simple_evaluate`` on the same tasks and ``--limit``.

The two routes take turns variant by variant, so a change in the machine's load (2 shared cores) falls on both.

Prints lm-eval's numbers and our paired verdicts per variant and task, the parity figures (largest per-item
log-likelihood difference, items whose acc / exact_match differ) and both routes' wall clocks with the ratio.
Nothing here asserts a speed.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))  # runs from a checkout: `python benchmarks/lm_eval_bench.py`


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--limit", type=int, default=20)
    parser.add_argument("--tasks", default=None)
    parser.add_argument("--batch-size", type=int, default=8)
    parser.add_argument("--json", type=Path)
    args = parser.parse_args()

    import lm_eval
    from lm_eval.models.huggingface import HFLM
    from lm_eval.tasks import TaskManager

    from adapters_ui.adapters import demo
    from adapters_ui.bench.run import BenchmarkRun, run_benchmark
    from adapters_ui.bench.tasks import SHIPPED, SHIPPED_TASKS, resolved_folder
    from adapters_ui.cli.bench import print_results
    from adapters_ui.config import Settings
    from adapters_ui.model.base import dequantized_folder, embedded_gguf_path
    from adapters_ui.model.quiet import quiet_libraries
    from adapters_ui.session import Session

    quiet_libraries()
    tasks = args.tasks.split(",") if args.tasks else list(SHIPPED_TASKS)
    settings = Settings.from_env()
    started = time.perf_counter()
    session = Session.start(settings)
    adapters = {info.name: Path(info.path) for info in demo.attach_demo_adapters(session)}
    loaded = time.perf_counter() - started
    variants = ["base", *adapters]
    folder, _ = dequantized_folder(embedded_gguf_path(), settings.cache_dir)
    dtype = str(session.base.model.dtype).removeprefix("torch.")
    device = str(session.base.device)
    print(f"load average before: {os.getloadavg()[0]:.2f} ({os.cpu_count()} cores)")

    runs, ours_s, theirs_s, worst, differing, items = [], loaded, 0.0, 0.0, 0, 0
    with tempfile.TemporaryDirectory() as scratch:
        manager = TaskManager(include_path=str(resolved_folder(SHIPPED, Path(scratch))), include_defaults=False)
        for variant in variants:  # interleaved, so a change of the machine's load falls on both routes alike
            begun = time.perf_counter()
            runs.append(run_benchmark(session.backend, session.turns, tasks, [variant], limit=args.limit,
                                      batch_size=args.batch_size))
            ours_s += time.perf_counter() - begun
            begun = time.perf_counter()
            lm = HFLM(pretrained=str(folder), peft=None if variant == "base" else str(adapters[variant]), device=device,
                      dtype=dtype, batch_size=args.batch_size)
            out = lm_eval.simple_evaluate(model=lm, tasks=tasks, task_manager=manager, limit=args.limit, log_samples=True)
            theirs_s += time.perf_counter() - begun
            for task in tasks:
                for mine, own in zip(runs[-1].samples[variant][task], out["samples"][task]):
                    items += 1
                    a, b = _lls(mine), _lls(own)
                    if a:
                        worst = max(worst, max(abs(x - y) for x, y in zip(a, b)))
                    differing += any(mine.get(m) != own.get(m) for m in ("acc", "acc_norm", "exact_match"))
            del lm
    run = BenchmarkRun(tuple(tasks), tuple(variants), {v: r.results[v] for v, r in zip(variants, runs)},
                       {v: r.samples[v] for v, r in zip(variants, runs)}, runs[0].output_types,
                       {v: r.seconds[v] for v, r in zip(variants, runs)}, runs[0].lm_eval_version)
    document = run.to_json()
    print_results(document)
    print(f"load average after: {os.getloadavg()[0]:.2f}")
    ours = ours_s
    print(f"\nparity over {items} items x variants: largest per-item log-likelihood difference {worst:.2e}; "
          f"items whose acc/acc_norm/exact_match differ: {differing}")
    print(f"ours (one base, load {loaded:.1f} s + {len(variants)} variants): {ours:.1f} s; "
          f"lm-eval reloading per variant: {theirs_s:.1f} s; ratio {theirs_s / ours:.2f}x "
          f"(per variant ours: {', '.join(f'{v} {s:.1f} s' for v, s in run.seconds.items())})")
    if args.json:
        document.update(parity={"max_abs_loglikelihood_difference": worst, "differing_items": differing, "items": items},
                        timing={"ours_s": ours, "ours_load_s": loaded, "lm_eval_reload_s": theirs_s, "limit": args.limit})
        args.json.write_text(json.dumps(document, indent=1), encoding="utf-8")


def _lls(sample: dict) -> list[float]:
    return [float(r[0]) if isinstance(r, (list, tuple)) else float(r) for r in sample["filtered_resps"] if not isinstance(r, str)]


if __name__ == "__main__":
    main()
