"""`evaluate`, `evaluations` and `gate`: evaluation jobs from the command line, and the regression gate for CI.

    adapters-ui evaluate demo --variants base,pirate --json out.json   # a shipped set (assets/evals/demo.jsonl)
    adapters-ui evaluate --resume ID                                   # finish a job a kill interrupted
    adapters-ui gate ID --baseline base --candidate pirate --max-drop 0.05 --json
"""

from __future__ import annotations

import json
import sys
import tempfile
import time
from pathlib import Path

from adapters_ui.cli.common import (
    EXIT_ERROR,
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

PROGRESS_S = 0.5  # how often the bar is redrawn


def add_commands(commands) -> None:
    add_evaluate(commands)
    add_evaluations(commands)
    add_gate(commands)


def add_evaluate(commands) -> None:
    evaluate = commands.add_parser("evaluate", help="run an evaluation set through the variants: checks, scores, paired verdicts", **examples(
        "%(prog)s demo  # the shipped set on the base and the demo adapters",
        "%(prog)s evals.jsonl --variants base,pirate --samples 3 --temperature 0.7 --json out.json",
        "%(prog)s evals.csv --adapter v2=./adapter_v2 --baseline ID_OF_V1_EVALUATION  # v2 against v1's evaluation",
        "%(prog)s --resume ID  # go on with a job that was killed or cancelled"))
    evaluate.add_argument("set", nargs="?", metavar="SET", help="an evaluation set (.jsonl, .csv, .parquet) or a shipped "
                          "set's name (demo)")
    evaluate.add_argument("--resume", metavar="ID", help="finish the stored job ID from its last committed batch")
    evaluate.add_argument("--variants", action="append", default=[], metavar="NAMES",
                          help="comma-separated variants to run (default: base and every adapter)")
    evaluate.add_argument("--samples", type=int, default=1, metavar="K", help="outputs per item and variant (default 1; "
                          "several need --temperature)")
    evaluate.add_argument("--max-new-tokens", type=int, help="tokens per output (default 64)")
    evaluate.add_argument("--temperature", type=float, help="sample at this temperature (default: greedy)")
    evaluate.add_argument("--seed", type=int, help="sampling seed (sample k uses seed + k)")
    evaluate.add_argument("--batch-items", type=int, metavar="N", help="items per committed batch (default 32)")
    evaluate.add_argument("--no-chat-template", action="store_true", help="send prompts as raw text")
    evaluate.add_argument("--baseline", default="base", metavar="VARIANT_OR_ID",
                          help="what the verdicts compare against: a variant, or another evaluation's ID[/VARIANT]")
    evaluate.add_argument("--json", type=Path, metavar="OUT", help="write the evaluation document (items and verdicts) to OUT")
    add_model_flags(evaluate)
    add_backend_flag(evaluate)
    add_adapter_flags(evaluate, "adapter folder, optionally named (repeatable); default with the embedded base: the demo adapters",
                      "attach every adapter of a bundle folder or .zip (repeatable)")
    add_database_flag(evaluate)
    evaluate.set_defaults(handler=run_evaluate, loads_model=True)


def add_evaluations(commands) -> None:
    listing = commands.add_parser("evaluations", help="list the stored evaluations, newest first", **examples("%(prog)s"))
    add_database_flag(listing)
    listing.set_defaults(handler=run_evaluations)


def add_gate(commands) -> None:
    gate = commands.add_parser("gate", help="exit 1 when a candidate is significantly worse than its baseline (for CI)",
                               **examples("%(prog)s ID --baseline base --candidate pirate",
                                          "%(prog)s BENCHMARK_ID --baseline base --candidate pirate --metric acc "
                                          "--slice category:adapters_ui_arith_mc",
                                          "%(prog)s ID --baseline ID_OF_V1 --candidate pirate --max-drop 0.02 --json"))
    gate.add_argument("evaluation", metavar="EVALUATION_ID")
    gate.add_argument("--baseline", required=True, metavar="VARIANT_OR_ID", help="a variant of the evaluation, or "
                      "another evaluation's ID[/VARIANT] on the same items")
    gate.add_argument("--candidate", required=True, metavar="VARIANT")
    gate.add_argument("--metric", default="checks", help="the metric that decides (default checks)")
    gate.add_argument("--max-drop", type=float, metavar="X", help="also fail when the candidate is worse by more than X, "
                      "significant or not (in the metric's units: 0.05 = 5 points of pass rate)")
    gate.add_argument("--slice", metavar="NAME", help="gate on one slice's verdict, e.g. category:adapters_ui_arith_mc "
                      "(a benchmark's tasks; default: all items, or a benchmark's only task)")
    gate.add_argument("--json", action="store_true", help="print the decision as JSON")
    add_database_flag(gate)
    gate.set_defaults(handler=run_gate)


# ---- evaluate ---------------------------------------------------------------------------------
def run_evaluate(args, settings: Settings) -> int:
    """Start (or resume) a job, follow it with a progress bar, then print its verdicts and write --json."""
    from adapters_ui.decoding import generation_settings
    from adapters_ui.demo_assets import eval_set_path
    from adapters_ui.runs.evalset import read_eval_set, summarize
    from adapters_ui.session import Session
    from adapters_ui.store.evaluations import load_evaluation
    from adapters_ui.store.links import evaluation_link

    if bool(args.set) == bool(args.resume):
        raise ConfigError("Give an evaluation set, or --resume ID, not both: e.g. `adapters-ui evaluate demo`.")
    overrides = {"max_new_tokens": args.max_new_tokens, "seed": args.seed, "use_chat_template": not args.no_chat_template}
    if args.temperature is not None:
        overrides.update(do_sample=True, temperature=args.temperature)
    generation = generation_settings(settings, **overrides)
    eval_set = None
    if args.set:  # a bad file is refused before the model loads
        path = eval_set_path(args.set)
        eval_set = read_eval_set(path)
        print(f"{eval_set.name}: {summarize(eval_set).text()}", file=sys.stderr)
    with open_database(settings) as db, tempfile.TemporaryDirectory(prefix="adapters_ui-eval-") as scratch:
        if args.resume:
            load_evaluation(db, args.resume)  # an unknown id fails before the model loads
        session = Session.start(settings)
        attach_adapters(session, args, settings, Path(scratch))
        if args.resume:
            job = session.resume_evaluation(db, args.resume)
        else:
            chosen = [name.strip() for value in args.variants for name in value.split(",") if name.strip()] or None
            check_baseline(args.baseline, chosen)
            extra = {"batch_items": args.batch_items} if args.batch_items else {}
            job, ref = session.start_evaluation(db, path, chosen, args.samples, generation, **extra)
            print(f"evaluation: {ref.id}\npermalink:  {evaluation_link(settings.public_url, ref.id)}\n"
                  f"owner key:  {ref.owner_key}  (shown once: it cancels the job in the page)", file=sys.stderr)
        follow_job(job)
        status = job.progress()
        if status.status == "failed":
            raise AdaptersUIError(status.error)
        document = finish(db, job.id, args.baseline, args.json)
    if status.status != "finished":
        print(f"{status.status}: {status.line()}; go on with: adapters-ui evaluate --resume {job.id}", file=sys.stderr)
        return EXIT_STOPPED
    return 0 if document is not None else EXIT_ERROR


def check_baseline(baseline: str, chosen: list[str] | None) -> None:
    """A baseline variant must be among the variants run: said before the job, not after it."""
    from adapters_ui.runs.evaluation_document import split_baseline

    other, variant = split_baseline(baseline)
    if other is None and chosen is not None and variant not in chosen:
        raise ConfigError(f"Baseline {variant!r} is not among --variants {','.join(chosen)}: add it, or pick "
                          "another --baseline.")


def attach_adapters(session, args, settings: Settings, scratch: Path) -> None:
    """--adapter and --bundle, else the demo adapters where they fit the base."""
    from adapters_ui.adapters import demo

    attach_all(session, args.adapter, args.bundle, scratch)
    if not args.adapter and not args.bundle and demo.wants_demo(settings):
        demo.attach_demo_adapters(session)


def follow_job(job) -> None:
    """A progress bar until the job ends; Ctrl-C cancels it, keeping every committed batch."""
    follow_with_bar(job, "output", f"evaluation {job.id[:8]}", "cancelling: every committed batch is kept ...",
                    PROGRESS_S)


def finish(db, evaluation_id: str, baseline: str, out: Path | None) -> dict:
    """Print the all-items verdicts and write the document to ``out``."""
    from adapters_ui.analysis.verdicts import best_first
    from adapters_ui.runs.evaluation_document import evaluation_document

    started = time.perf_counter()
    document = evaluation_document(db, evaluation_id, baseline)
    overall = [r for r in best_first(document["verdicts"]) if r["slice"] is None or "benchmark" in document]  # a
    # benchmark's verdicts are per task only
    print(f"\nverdicts against {document['baseline']} ({len(document['items'])} outputs; "
          f"statistics {time.perf_counter() - started:.1f} s):")
    print_table(["variant", "metric", "mean", "baseline", "difference [95% CI]", "p (Holm)", "verdict"],
                [[r["variant"], _metric(r), _num(r["mean"]), _num(r["baseline_mean"]), _interval(r), _num(r["p_holm"]),
                  r["verdict"]] for r in overall])
    if out:
        out.parent.mkdir(parents=True, exist_ok=True)
        out.write_text(json.dumps(document, indent=1, ensure_ascii=False), encoding="utf-8")
        print(f"\nwrote {out}")
    return document


def _metric(record: dict) -> str:
    """The metric, with its task when it is a benchmark's per-task verdict: 'acc (arith_mc)'."""
    return record["metric"] + (f" ({record['slice'].removeprefix('category:')})" if record["slice"] else "")


def _num(value) -> str:
    return "-" if value is None else f"{value:.3g}"


def _interval(record: dict) -> str:
    if record["difference"] is None:
        return "-"
    return f"{record['difference']:+.3g} [{record['low']:+.3g}, {record['high']:+.3g}]"


# ---- evaluations, gate -----------------------------------------------------------------------
def run_evaluations(args, settings: Settings) -> int:
    from adapters_ui.store.evaluations import list_evaluations

    with open_database(settings) as db:
        rows = list_evaluations(db)
    if not rows:
        print("no evaluations yet: run `adapters-ui evaluate demo`")
        return 0
    print_table(["id", "created", "status", "set", "items", "variants", "samples"],
                [[e.id, e.created, e.status, e.set_name, e.items, ",".join(e.variants), e.samples] for e in rows])
    return 0


def run_gate(args, settings: Settings) -> int:
    """Exit 0 when the candidate may replace the baseline, 1 (with the one-line reason) when it may not."""
    from adapters_ui.analysis.gate import gate
    from adapters_ui.runs.evaluation_document import item_records, verdicts_for
    from adapters_ui.store.benchmarks import is_benchmark
    from adapters_ui.store.evaluations import load_evaluation, load_items

    with open_database(settings) as db:
        stored = load_evaluation(db, args.evaluation)
        if stored.status != "finished":
            raise ConfigError(f"Evaluation {stored.id} is {stored.status}, not finished: the gate judges finished "
                              f"evaluations only (finish it with `adapters-ui evaluate --resume {stored.id}`).")
        if args.candidate not in stored.variants:
            raise ConfigError(f"Candidate {args.candidate!r} is not a variant of evaluation {stored.id}: choose from "
                              f"{', '.join(stored.variants)}.")
        records = item_records(db, stored, load_items(db, stored.id))
        label, verdicts = verdicts_for(db, stored, records, args.baseline, candidates=[args.candidate])
    tasks = stored.settings.get("tasks") or []
    slice = args.slice or (f"category:{tasks[0]}" if is_benchmark(stored.settings) and len(tasks) == 1 else None)
    decision = gate(verdicts, args.candidate, label, metric=args.metric, max_drop=args.max_drop, slice=slice)
    if args.json:
        print(json.dumps({"evaluation": stored.id, **decision.to_json()}, indent=1))
    else:
        print(("pass: " if decision.passed else "FAIL: ") + decision.reason)
    return 0 if decision.passed else EXIT_ERROR
