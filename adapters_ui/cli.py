"""Command line: thin over ``Session`` and the store; prints tables or JSON, turns errors into exit codes.

    python -m adapters_ui compare --adapter pirate=assets/adapters/pirate --prompt "Hi!" --save
    python -m adapters_ui inspect path/to/adapter
    python -m adapters_ui train --data pairs.jsonl --output my_adapter
    python -m adapters_ui saved list
    python -m adapters_ui saved show RUN_ID --json
    python -m adapters_ui review create RUN_ID --variants base,pirate --per-pair 3 --title "Pirate tone"
    python -m adapters_ui review list RUN_ID
    python -m adapters_ui review results REVIEW_ID --html review.html

Saved comparisons and reviews live in ADAPTERS_UI_DATABASE_URL (or --database URL), else in a
SQLite file under the cache folder; printed links start with ADAPTERS_UI_PUBLIC_URL.
"""

from __future__ import annotations

import argparse
import json
import shutil
import sys
import textwrap
import time
from contextlib import contextmanager, nullcontext
from pathlib import Path
from typing import TYPE_CHECKING, Iterator, Sequence

from . import demo
from .config import DEVICES, DTYPES, Settings
from .errors import AdaptersUIError, PromptError, StoreError, first_line
from .formatting import format_bytes, shorten
from .prompts import read_prompt_items
from .report import report_data, to_document, to_json
from .training import METHODS, SAVE_DTYPES
from .validation import NAME_PATTERN

if TYPE_CHECKING:
    from .runs import Comparison
    from .store import Database

EXIT_ERROR = 1
EXIT_STOPPED = 130  # Ctrl-C: what was written is still printed (and saved with --json)
PAIRINGS = {"all": "all", "vs-base": "vs_base"}  # --pairs value -> the store's pairing
PAIRING_WORDS = {"all": "every pair", "vs_base": "each adapter vs base"}


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="python -m adapters_ui", description="Compare PEFT adapters of a causal LM.")
    commands = parser.add_subparsers(dest="command", required=True)

    def base_flags(sub: argparse.ArgumentParser) -> None:
        sub.add_argument("--base", help="hub id, model folder or .gguf file (default: embedded SmolLM2-135M-Instruct; env ADAPTERS_UI_BASE_MODEL)")
        sub.add_argument("--device", choices=DEVICES, help="default: auto (CUDA, MPS, else CPU)")
        sub.add_argument("--dtype", choices=DTYPES, help="default: auto")

    def database_flag(sub: argparse.ArgumentParser) -> None:
        sub.add_argument("--database", metavar="URL", help="SQLAlchemy URL of the store, e.g. sqlite:///runs.db "
                         "(default: env ADAPTERS_UI_DATABASE_URL, else adapters_ui.db in the cache folder)")

    compare = commands.add_parser("compare", help="run prompts through the base model and every adapter")
    base_flags(compare)
    compare.add_argument("--adapter", action="append", default=[], metavar="NAME=PATH",
                         help="adapter folder, optionally named (repeatable); default with the embedded base: the demo adapters in assets/adapters")
    prompts = compare.add_mutually_exclusive_group()
    prompts.add_argument("--prompt", action="append", metavar="TEXT", help="a prompt (repeatable)")
    prompts.add_argument("--prompts", type=Path, metavar="FILE", help=".txt (one a line), .jsonl ({\"prompt\": ...}) or .csv (prompt column); default: assets/prompts/demo.jsonl")
    compare.add_argument("--max-new-tokens", type=int, help="tokens per output (default 64; env ADAPTERS_UI_MAX_NEW_TOKENS)")
    compare.add_argument("--no-chat-template", action="store_true", help="send prompts as raw text")
    compare.add_argument("--json", type=Path, metavar="OUT", help="also write the results as JSON to OUT")
    compare.add_argument("--save", action="store_true", help="save the finished comparison: prints its id, permalink and owner key")
    database_flag(compare)
    compare.set_defaults(handler=run_compare)

    train = commands.add_parser("train", help="fine-tune a PEFT adapter on prompt/response pairs")
    base_flags(train)
    train.add_argument("--data", type=Path, required=True, help='JSONL of {"prompt": ..., "response": ...}')
    train.add_argument("--output", type=Path, required=True, help="adapter folder to write")
    train.add_argument("--method", default="lora", choices=METHODS)
    train.add_argument("--rank", type=int, default=8, help="rank (virtual tokens for --method prompt); default 8")
    train.add_argument("--alpha", type=float, help="scaling alpha (default 2 x rank)")
    train.add_argument("--targets", nargs="+", default=["q_proj", "v_proj"], help="module names, or all-linear")
    train.add_argument("--steps", type=int, default=150)
    train.add_argument("--batch-size", type=int, default=8)
    train.add_argument("--learning-rate", type=float, help="default: 5e-4 (LoRA family), 3e-3 (IA3), 3e-2 (prompt)")
    train.add_argument("--max-length", type=int, default=256, help="tokens per example")
    train.add_argument("--seed", type=int, default=0)
    train.add_argument("--save-dtype", default="float32", choices=SAVE_DTYPES)
    train.add_argument("--log-every", type=int, default=10)
    train.set_defaults(handler=run_train)

    inspect = commands.add_parser("inspect", help="validate one adapter against the base model")
    base_flags(inspect)
    inspect.add_argument("path", type=Path, help="adapter folder")
    inspect.add_argument("--name", help="name to check it under (default: folder name)")
    inspect.set_defaults(handler=run_inspect)

    saved = commands.add_parser("saved", help="saved comparisons (compare --save)").add_subparsers(
        dest="saved_command", required=True)
    saved_list = saved.add_parser("list", help="saved comparisons, newest first")
    database_flag(saved_list)
    saved_list.set_defaults(handler=run_saved_list)
    saved_show = saved.add_parser("show", help="one saved comparison")
    saved_show.add_argument("id", metavar="RUN_ID", help="the saved comparison's id (the ?run= of its permalink)")
    saved_show.add_argument("--json", action="store_true", help="print the saved document as JSON")
    database_flag(saved_show)
    saved_show.set_defaults(handler=run_saved_show)

    review = commands.add_parser("review", help="blind A/B reviews of a saved comparison").add_subparsers(
        dest="review_command", required=True)
    create = review.add_parser("create", help="a new review: prints the reviewer and owner links")
    create.add_argument("id", metavar="RUN_ID", help="the saved comparison to review")
    create.add_argument("--variants", required=True, metavar="A,B,...", help="comma-separated variants, at least 2 (e.g. base,pirate)")
    create.add_argument("--pairs", choices=list(PAIRINGS), default="all", help="every pair (default), or each adapter against the base")
    create.add_argument("--per-pair", type=int, default=1, metavar="N", help="judgements each pair needs (default 1)")
    create.add_argument("--title", default="", help="shown to reviewers (default: 'Blind review of N prompts')")
    database_flag(create)
    create.set_defaults(handler=run_review_create)
    listing = review.add_parser("list", help="the reviews of one saved comparison")
    listing.add_argument("id", metavar="RUN_ID", help="the saved comparison")
    database_flag(listing)
    listing.set_defaults(handler=run_review_list)
    results = review.add_parser("results", help="win rates, strengths and agreement of one review")
    results.add_argument("id", metavar="REVIEW_ID", help="the review's id (from review create or review list)")
    output = results.add_mutually_exclusive_group()
    output.add_argument("--json", action="store_true", help="print the results as JSON (nothing else on stdout)")
    output.add_argument("--csv", action="store_true", help="print one CSV row per variant")
    results.add_argument("--html", type=Path, metavar="OUT", help="also write the self-contained HTML report to OUT")
    database_flag(results)
    results.set_defaults(handler=run_review_results)
    return parser


def parse_adapter_arg(value: str) -> tuple[str | None, str]:
    """'pirate=path/to/dir' -> ('pirate', 'path/to/dir'); 'path/to/dir' -> (None, 'path/to/dir')."""
    name, sep, path = value.partition("=")
    if sep and NAME_PATTERN.match(name) and not Path(value).exists():
        return name, path
    return None, value


def protect_ids(argv: list[str]) -> list[str]:
    """Ids are URL-safe base64 and may begin with '-': move those behind '--' so argparse reads them as the id.
    (Every option here is shorter than the 16 characters an id has, so none is taken for one.)"""
    if not argv or argv[0] not in ("saved", "review") or "--" in argv:
        return argv
    from .store.tokens import well_formed

    ids = [a for a in argv[1:] if a.startswith("-") and well_formed(a)]
    return [a for a in argv if a not in ids] + (["--", *ids] if ids else [])


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(protect_ids(list(sys.argv[1:] if argv is None else argv)))
    if args.command in ("compare", "train", "inspect"):
        quiet_libraries()  # the store commands load no model
    try:
        settings = Settings.from_env(base_model=getattr(args, "base", None), device=getattr(args, "device", None),
                                     dtype=getattr(args, "dtype", None), database_url=getattr(args, "database", None))
        return args.handler(args, settings)
    except AdaptersUIError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return EXIT_ERROR
    except KeyboardInterrupt:
        return 130


def quiet_libraries() -> None:
    """No library progress bars or chatter: stdout is the table, stderr is one error line."""
    import warnings

    from transformers.utils import logging as hf_logging

    hf_logging.disable_progress_bar()
    hf_logging.set_verbosity_error()
    warnings.filterwarnings("ignore", module=r"(peft|transformers|torch)(\..*)?")


@contextmanager
def open_database(settings: Settings) -> Iterator[Database]:
    """The store at ``settings.database`` (a one-line StoreError if unreachable), closed afterwards."""
    from .store import Database

    try:
        db = Database.open(settings.database)
    except OSError as exc:  # e.g. a SQLite file in a folder that cannot be made
        raise StoreError(f"Cannot open the database {settings.database}: {first_line(exc)}. "
                         "Check --database / ADAPTERS_UI_DATABASE_URL.") from None
    try:
        yield db
    finally:
        db.close()


def print_table(columns: Sequence[str], rows: Sequence[Sequence[object]], indent: str = "") -> None:
    """A plain left-aligned text table."""
    cells = [[str(c) for c in columns]] + [["-" if v is None else str(v) for v in row] for row in rows]
    widths = [max(len(row[i]) for row in cells) for i in range(len(columns))]
    for row in cells:
        print(indent + "  ".join(v.ljust(w) for v, w in zip(row, widths)).rstrip())


# ---- compare ---------------------------------------------------------------------------
def run_compare(args, settings: Settings) -> int:
    """Run the prompts through every variant; print them, and write (--json) and save (--save) them."""
    from .generation import generation_settings
    from .session import Session

    # Everything that can be checked without the model is checked before loading it.
    references = None
    if args.prompts:
        items = read_prompt_items(args.prompts)
        prompts, references = [item.text for item in items], [item.reference for item in items]
    elif args.prompt:
        prompts = list(args.prompt)
    else:
        prompts = demo.demo_prompts()
        if not prompts:
            raise PromptError("No prompts given and no demo prompt set found: pass --prompt TEXT or --prompts FILE.")
    generation = generation_settings(
        settings, max_new_tokens=args.max_new_tokens, use_chat_template=not args.no_chat_template
    )
    with open_database(settings) if args.save else nullcontext() as db:  # an unreachable store fails before the model loads
        session = Session.start(settings)
        for value in args.adapter:
            name, path = parse_adapter_arg(value)
            session.attach(path, name)
        if not args.adapter and demo.wants_demo(settings):
            demo.attach_demo_adapters(session)
        try:
            comparison = follow(session.start_compare(prompts, settings=generation, references=references))
        except AdaptersUIError as exc:
            if args.save:  # still one line
                raise AdaptersUIError(f"{exc} (not saved)") from None
            raise
        storage = session.storage()
        print_comparison(session, comparison, storage)
        data = report_data(session.base.info(), session.adapters(), storage.to_dict(), comparison)
        if args.json:
            args.json.parent.mkdir(parents=True, exist_ok=True)
            args.json.write_text(to_json(data), encoding="utf-8")
            print(f"\nwrote {args.json}")
        if args.save:
            save_finished(db, data, session.adapters(), settings)
    return 0 if comparison.complete else EXIT_STOPPED


def save_finished(db: Database, data, adapters, settings: Settings) -> None:
    """Save a finished comparison and print its id, permalink and owner key; a stopped one gets a note."""
    from .links import comparison_link
    from .store.saved import save_comparison

    if data.status != "finished":
        print(f"not saved: the comparison {data.status} before the end; only a finished one is saved.", file=sys.stderr)
        return
    ref = save_comparison(db, data, adapters)
    print(f"\nsaved:     {ref.id}")
    print(f"permalink: {comparison_link(settings.public_url, ref.id)}")
    print(f"owner key: {ref.owner_key}")
    print("The owner key is shown once: keep it; it is needed to create reviews of this comparison on a public Space.")


def follow(run) -> Comparison:
    """Live progress on stderr while ``run`` works; Ctrl-C stops it and keeps what was written.
    On a terminal one line is redrawn every second; otherwise a line is printed per change."""
    from .runs import Ended, Progress, Queued, Started

    live, shown = sys.stderr.isatty(), ""
    try:
        for event in run.events(heartbeat=1.0):
            if isinstance(event, Ended):
                break
            if isinstance(event, Queued):
                line = f"waiting for another run (position {event.position})"
            elif isinstance(event, (Started, Progress)):
                now = run.progress()
                line = f"{now.done} of {now.total} outputs done" + (f" · {now.generate_s:.0f} s" if live else "")
            else:
                continue
            if line != shown:
                print(f"\r{line}" if live else line, end="" if live else "\n", file=sys.stderr, flush=True)
                shown = line
    except KeyboardInterrupt:
        run.stop()
        print("\nstopping: keeping what was written ...", file=sys.stderr, flush=True)
    if live:
        print(file=sys.stderr)
    comparison = run.final()
    if comparison.status == "failed":
        raise AdaptersUIError(comparison.error)
    if not comparison.complete:
        done, total = comparison.counts()
        print(f"{comparison.status}: {done} of {total} outputs finished", file=sys.stderr)
    return comparison


def print_comparison(session, comparison, storage) -> None:
    width = max(60, min(shutil.get_terminal_size((100, 20)).columns, 140))
    label = max(len(v) for v in comparison.variants) + 2
    base = session.base
    print(f"base model: {base.source.name}  device: {base.device}  dtype: {base.dtype_name}  load: {base.load_s:.1f} s")
    for number, result in enumerate(comparison.results, 1):
        print("\n" + "=" * width)
        print(textwrap.fill(f"[{number}] {result.prompt}", width))
        print("-" * width)
        for variant, text in result.outputs.items():
            if text is None:
                text, changed = "", "(not run: stopped)"
            elif variant in result.cut_off:
                changed = " [cut off]"
            else:
                changed = "" if variant == "base" or text != result.outputs.get("base") else " (same as base)"
            body = textwrap.wrap(text + changed, width - label - 3) or ["(empty)"]
            for i, line in enumerate(body):
                print(f"{variant if i == 0 else '':<{label}} | {line}")
    print("\n" + "=" * width)
    print_storage(storage)
    print(f"\ngenerate: {comparison.generate_s:.2f} s for {len(comparison.results)} prompt(s) x {len(comparison.variants)} variant(s)")


def print_storage(storage) -> None:
    model = storage.model
    file_part = f", {format_bytes(model.file_bytes)} as loaded from disk" if model.file_bytes else ""
    print(f"full model: {model.params:,} params, {format_bytes(model.full_copy_bytes)} as {model.dtype}{file_part}")
    if not storage.adapters:
        return
    print(f"{'adapter':<20} {'type':<14} {'params':>12} {'on disk':>10} {'x smaller':>10}")
    for name, info in storage.adapters.items():
        print(f"{name:<20} {info.method:<14} {info.params:>12,} {format_bytes(info.bytes_on_disk):>10} {storage.ratio(name):>10.0f}")


# ---- train, inspect --------------------------------------------------------------------
def run_train(args, settings: Settings) -> int:
    """Fine-tune one adapter, logging as it goes."""
    from .training import TrainConfig, train

    config = TrainConfig(
        data=args.data, output=args.output, method=args.method, rank=args.rank, alpha=args.alpha,
        targets=tuple(args.targets), steps=args.steps, batch_size=args.batch_size, learning_rate=args.learning_rate,
        max_length=args.max_length, seed=args.seed, save_dtype=args.save_dtype, log_every=args.log_every,
    )
    train(config, settings, on_log=lambda line: print(line, flush=True))
    return 0


def run_inspect(args, settings: Settings) -> int:
    """Attach one adapter to the base and describe it."""
    from .session import Session

    started = time.perf_counter()
    session = Session.start(settings)
    info = session.attach(args.path, args.name)
    storage = session.storage()
    match = {True: "yes", False: "NO", None: "unknown (config names no base)"}[info.base_match]
    rows = [
        ("name", info.name),
        ("type", f"{info.method} ({info.peft_type})"),
        ("engine path", info.route),
        ("virtual tokens", info.virtual_tokens) if info.virtual_tokens is not None
        else ("rank", info.rank if info.rank is not None else "-"),
        ("alpha", info.alpha if info.alpha is not None else "-"),
        ("targets", ", ".join(info.target_modules) or "-"),
        ("params", f"{info.params:,}"),
        ("on disk", f"{format_bytes(info.bytes_on_disk)} ({info.weights_format}, {info.dtype})"),
        ("full model", format_bytes(storage.model.full_copy_bytes)),
        ("x smaller", f"{storage.ratio(info.name):.0f}"),
        ("made for", info.base_model or "-"),
        ("matches base", f"{match} (base: {session.base.source.name})"),
    ]
    print(f"OK: {args.path} attaches to {session.base.source.name} ({time.perf_counter() - started:.1f} s)")
    for key, value in rows:
        print(f"  {key:<13} {value}")
    return 0


# ---- saved comparisons -------------------------------------------------------------------
def run_saved_list(args, settings: Settings) -> int:
    """The saved comparisons, newest first."""
    from .store.saved import list_comparisons

    with open_database(settings) as db:
        saved = list_comparisons(db)
    if not saved:
        print("No saved comparisons yet: run `python -m adapters_ui compare ... --save`.")
        return 0
    print_table(["id", "created", "base model", "prompts", "variants"],
                [[s.id, s.created, shorten(s.base_model, 40), s.prompts, ", ".join(s.variants)] for s in saved])
    return 0


def run_saved_show(args, settings: Settings) -> int:
    """One saved comparison: a summary, or (--json) the saved document."""
    from .links import comparison_link
    from .store.saved import load_comparison

    with open_database(settings) as db:
        saved = load_comparison(db, args.id)
    data = saved.data
    if args.json:
        document = {"id": saved.id, "saved": saved.created, **to_document(data), "saved_adapters": saved.adapters}
        print(json.dumps(document, indent=2, ensure_ascii=False))
        return 0
    rows = [
        ("id", saved.id),
        ("saved", saved.created),
        ("permalink", comparison_link(settings.public_url, saved.id)),
        ("base model", data.base_model),
        ("device", f"{data.device} ({data.dtype})"),
        ("variants", ", ".join(data.variants)),
        ("prompts", len(data.results)),
        ("max tokens", data.settings.get("max_new_tokens", "-")),
    ]
    for key, value in rows:
        print(f"{key:<11} {value}")
    if saved.adapters:
        print("\nadapters:")
        print_table(["name", "type", "size", "sha256"],
                    [[a["name"], a["type"], format_bytes(a["bytes"]), a.get("sha256") or "-"] for a in saved.adapters],
                    indent="  ")
    print("\nprompts:")
    for number, record in enumerate(data.results, 1):
        print(f"  [{number}] {shorten(' '.join(record['prompt'].split()), 100)}")
    return 0


# ---- blind reviews -------------------------------------------------------------------------
def run_review_create(args, settings: Settings) -> int:
    """A new review of a saved comparison; prints its reviewer and owner links (shown once)."""
    from .links import owner_link, reviewer_link
    from .store.reviews import create_review

    variants = [v.strip() for v in args.variants.split(",") if v.strip()]
    with open_database(settings) as db:
        links = create_review(db, args.id, variants, pairing=PAIRINGS[args.pairs], per_pair=args.per_pair,
                              title=args.title)
    print(f"review:        {links.review_id}")
    print(f"pairs:         {links.items} to judge (prompts x pairs), {args.per_pair} judgement(s) each")
    print(f"reviewer link: {reviewer_link(settings.public_url, links.reviewer_token)}")
    print(f"owner link:    {owner_link(settings.public_url, links.owner_token)}")
    print("Both links are shown once: send the reviewer link to reviewers, keep the owner link private.")
    return 0


def run_review_list(args, settings: Settings) -> int:
    """The reviews of one saved comparison."""
    from .store.reviews import reviews_of
    from .store.saved import load_comparison

    with open_database(settings) as db:
        load_comparison(db, args.id)  # an unknown or malformed id is an error, not an empty list
        reviews = reviews_of(db, args.id)
    if not reviews:
        print(f"No reviews of {args.id} yet: create one with `python -m adapters_ui review create {args.id} --variants A,B`.")
        return 0
    print_table(["id", "title", "variants", "pairing", "per pair", "items", "created", "closed"],
                [[r.id, shorten(r.title, 40), ", ".join(r.variants), PAIRING_WORDS.get(r.pairing, r.pairing),
                  r.per_pair, r.items, r.created, "yes" if r.revoked else "no"] for r in reviews])
    return 0


def run_review_results(args, settings: Settings) -> int:
    """One review's results: a summary, JSON (--json) or CSV (--csv); --html OUT also writes the report."""
    from .review_stats import summarise, to_csv
    from .review_stats import to_json as results_json
    from .store.reviews import review_results

    with open_database(settings) as db:
        snapshot = review_results(db, review_id=args.id)
    info = snapshot.info
    results = summarise(info.title, snapshot.prompts, info.variants, snapshot.judgements)
    if args.html:
        from .review_report import results_html

        args.html.parent.mkdir(parents=True, exist_ok=True)
        args.html.write_text(results_html(results), encoding="utf-8")
    if args.json:
        sys.stdout.write(results_json(results))
    elif args.csv:
        sys.stdout.write(to_csv(results))
    else:
        print_results(info, results)
    if args.html:  # stdout stays the document with --json / --csv
        print(f"wrote {args.html}", file=sys.stderr if args.json or args.csv else sys.stdout)
    return 0


def print_results(info, results) -> None:
    """Win rates (Wilson 95%), Bradley–Terry strengths (bootstrap 95%), agreement and comments, as text."""
    from .review_report import kappa_words

    state = "closed" if info.revoked else "open"
    print(f"review {info.id}: {info.title}")
    print(f"comparison {info.comparison_id} · {', '.join(info.variants)} · {PAIRING_WORDS.get(info.pairing, info.pairing)}"
          f" · {info.per_pair} per pair · {state}")
    print(f"{results.judgements_count} judgement(s) by {len(results.reviewers)} reviewer(s) on {info.items} pair(s)")
    if not results.judgements_count:
        print("\nNo judgements yet: the results fill in as reviewers pick.")
        return
    print("\nwin rate (a tie or 'both bad' counts half; Wilson 95% interval)")
    print_table(["variant", "judged", "wins", "losses", "ties", "both bad", "win rate", "95% interval"],
                [[w.variant, w.n, w.wins, w.losses, w.ties, w.both_bad, f"{w.rate:.0%}", f"{w.low:.0%} - {w.high:.0%}"]
                 for w in results.win_rates], indent="  ")
    print(f"\nstrength (Bradley-Terry, mean 1000, +400 = 10:1 odds; 95% interval from {results.bootstrap} bootstrap resamples)")
    print_table(["rank", "variant", "strength", "95% interval"],
                [[rank, s.variant, f"{s.score:.0f}", f"{s.low:.0f} - {s.high:.0f}"]
                 for rank, s in enumerate(results.strengths, 1)], indent="  ")
    a = results.agreement
    if a.percent is None:
        agreement = "not enough overlap (no two reviewers judged the same pair on the same prompt)"
    else:
        kappa = ("Fleiss' kappa not defined (every vote in one category)" if a.fleiss_kappa is None
                 else f"Fleiss' kappa {a.fleiss_kappa:.2f} ({kappa_words(a.fleiss_kappa)})")
        agreement = f"{a.percent:.0f}% of reviewer pairs agree over {a.items} shared item(s), {a.reviewers} reviewers; {kappa}"
    print(f"\nagreement: {agreement}")
    print(f"comments:  {len(results.comments)} (read them with --html OUT or --json)")
