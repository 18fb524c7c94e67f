"""`bench`: standard benchmarks (lm-evaluation-harness tasks) on the base and each adapter, one loaded base.

    adapters-ui bench --tasks adapters_ui_arith_mc,adapters_ui_general_text --limit 50 --json bench.json
    adapters-ui bench --tasks my_task --include-path ./my_tasks --adapter v2=./adapter_v2 --variants base,v2
"""

from __future__ import annotations

import json
import sys
import tempfile
from pathlib import Path

from adapters_ui.cli.common import (
    EXIT_STOPPED,
    add_adapter_flags,
    add_backend_flag,
    add_database_flag,
    add_model_flags,
    attach_all,
    examples,
    follow_with_bar,
    open_database,
    print_table,
)
from adapters_ui.config import Settings
from adapters_ui.errors import AdaptersUIError, ConfigError

SHOWN = ("acc", "acc_norm", "exact_match", "word_perplexity", "byte_perplexity", "bits_per_byte")  # lm-eval's, in this order


def add_commands(commands) -> None:
    bench = commands.add_parser("bench", help="lm-evaluation-harness tasks on the base and each adapter, with paired verdicts", **examples(
        "%(prog)s --tasks adapters_ui_arith_mc,adapters_ui_units_gen,adapters_ui_general_text --limit 50  # the shipped tasks",
        "%(prog)s --tasks my_task --include-path ./my_tasks --json bench.json",
        "%(prog)s --tasks adapters_ui_arith_mc --adapter v2=./adapter_v2 --variants base,v2 --num-fewshot 3"))
    bench.add_argument("--tasks", required=True, metavar="T1,T2", help="comma-separated lm-eval task names: the shipped "
                       "adapters_ui_arith_mc, adapters_ui_units_gen, adapters_ui_general_text, --include-path's, or installed ones")
    bench.add_argument("--include-path", type=Path, metavar="DIR", help="a folder of your own task YAMLs (as lm-eval's "
                       "--include_path; relative data_files are read beside each YAML)")
    bench.add_argument("--limit", type=float, metavar="N", help="at most N items per task (below 1: that share of them)")
    bench.add_argument("--variants", action="append", default=[], metavar="NAMES",
                       help="comma-separated variants (default: base and every adapter but prompt learning)")
    bench.add_argument("--num-fewshot", type=int, metavar="K", help="few-shot examples per item (default: the task's)")
    bench.add_argument("--baseline", default="base", metavar="VARIANT", help="what the paired verdicts compare against")
    bench.add_argument("--batch-size", type=int, default=8, metavar="N", help="lm-eval's batch size (default 8)")
    bench.add_argument("--json", type=Path, metavar="OUT", help="write results[variant][task] (lm-eval's keys) and the verdicts")
    add_model_flags(bench)
    add_backend_flag(bench)
    add_database_flag(bench)
    add_adapter_flags(bench, "adapter folder, optionally named (repeatable); default with the embedded base: the demo adapters",
                      "attach every adapter of a bundle folder or .zip (repeatable)")
    bench.set_defaults(handler=run_bench, loads_model=True)


def run_bench(args, settings: Settings) -> int:
    """Check lm-eval is there, load the base once, attach, store the benchmark and follow it variant by variant,
    then print lm-eval's numbers and the verdicts; ``--json`` writes them with the evaluation's id."""
    from adapters_ui.bench.dependency import require_lm_eval

    require_lm_eval()  # before the model loads: one line saying how to install it
    from adapters_ui.adapters import demo
    from adapters_ui.runs.evaluation_document import evaluation_document
    from adapters_ui.session import Session
    from adapters_ui.store.links import evaluation_link

    tasks = [t.strip() for t in args.tasks.split(",") if t.strip()]
    limit = None if args.limit is None else (int(args.limit) if args.limit >= 1 else args.limit)
    if limit is not None and limit <= 0:
        raise ConfigError(f"--limit {args.limit} is not positive: give a number of items (or a share below 1).")
    with open_database(settings) as db, tempfile.TemporaryDirectory(prefix="adapters_ui-bench-") as scratch:
        session = Session.start(settings)
        attach_all(session, args.adapter, args.bundle, Path(scratch))
        if not args.adapter and not args.bundle and demo.wants_demo(settings):
            demo.attach_demo_adapters(session)
        chosen = [n.strip() for value in args.variants for n in value.split(",") if n.strip()]
        variants = session.check_variants(chosen) if chosen else default_variants(session)
        if args.baseline not in variants:
            raise ConfigError(f"Baseline {args.baseline!r} is not among the variants {','.join(variants)}: add it, or pick "
                              "another --baseline.")
        job, ref = session.start_benchmark(db, tasks, variants, include_path=args.include_path, limit=limit,
                                           num_fewshot=args.num_fewshot, batch_size=args.batch_size)
        print(f"benchmark: {ref.id}\npermalink: {evaluation_link(settings.public_url, ref.id)}", file=sys.stderr)
        follow_with_bar(job, "request", f"benchmark {ref.id[:8]}", "cancelling: every finished variant is kept ...")
        status = job.progress()
        if status.status == "failed":
            raise AdaptersUIError(status.error)
        document = bench_json(evaluation_document(db, ref.id, args.baseline))
    print_results(document)
    if args.json:
        args.json.parent.mkdir(parents=True, exist_ok=True)
        args.json.write_text(json.dumps(document, indent=1, ensure_ascii=False), encoding="utf-8")
        print(f"\nwrote {args.json}")
    if status.status != "finished":
        print(f"{status.status}: {status.line()}; go on with: adapters-ui evaluate --resume {ref.id}", file=sys.stderr)
        return EXIT_STOPPED
    return 0


def bench_json(document: dict) -> dict:
    """``results[variant][task]`` with lm-eval's keys, the paired verdicts, the run's facts and the evaluation's id."""
    bench = document["benchmark"]
    numbers = bench["variants"]
    return {"evaluation": document["id"], "lm_eval_version": bench["lm_eval_version"], "tasks": bench["tasks"],
            "variants": document["variants"], "baseline": document["baseline"],
            "n_shot": {t: n for v in numbers.values() for t, n in v["n_shot"].items()},
            "results": {v: numbers[v]["results"] for v in document["variants"] if v in numbers},
            "seconds": {v: numbers[v]["seconds"] for v in document["variants"] if v in numbers},
            "verdicts": document["verdicts"]}


def default_variants(session) -> list[str]:
    """The base and every adapter this route can read (prompt learning's virtual tokens are not in the base)."""
    skipped = [a.name for a in session.adapters() if a.virtual_tokens is not None]
    if skipped:
        print(f"skipping prompt-learning adapters {', '.join(skipped)} (name them in --variants to be told why)", file=sys.stderr)
    return ["base", *(a.name for a in session.adapters() if a.virtual_tokens is None)]


def print_results(document: dict) -> None:
    """lm-eval's numbers (value ± stderr) per variant and task, then the verdicts against the baseline."""
    rows = []
    for variant, tasks in document["results"].items():
        for task, numbers in tasks.items():
            for metric in SHOWN:
                value = numbers.get(f"{metric},none")
                if value is not None:
                    stderr = numbers.get(f"{metric}_stderr,none")
                    shown = f"{value:.4g}" + (f" ± {stderr:.2g}" if isinstance(stderr, (int, float)) else "")
                    rows.append([variant, task, metric, shown])
    print_table(["variant", "task", "metric", "lm-eval value"], rows)
    verdicts = document["verdicts"]
    if verdicts:
        print(f"\npaired verdicts against {document['baseline']} (Holm over all {len(verdicts)} rows):")
        print_table(["variant", "task", "metric", "n", "mean", "baseline", "difference", "test", "p (Holm)", "verdict"],
                    [[r["variant"], (r["slice"] or "").removeprefix("category:"), r["metric"], r["n"], _num(r["mean"]),
                      _num(r["baseline_mean"]), _num(r["difference"]), r["test"], _num(r["p_holm"]), r["verdict"]]
                     for r in verdicts])


def _num(value) -> str:
    return "-" if value is None else f"{value:.3g}"
