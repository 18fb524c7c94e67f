"""Command line: thin over ``Session`` and the store; prints tables or JSON, turns errors into exit codes.
Installed (pip install .) it is the ``adapters-ui`` command; every command's --help ends with examples.

    python -m adapters_ui serve --port 8080             (the dashboard, as python app.py serves it)
    python -m adapters_ui compare --adapter pirate=assets/adapters/pirate --prompt "Hi!" --save
    python -m adapters_ui inspect path/to/adapter
    python -m adapters_ui train --data pairs.jsonl --output my_adapter
    python -m adapters_ui merge --adapter assets/adapters/pirate --output pirate-merged
    python -m adapters_ui saved list                    (the store commands: cli_store.py)
    python -m adapters_ui bundle save --output team.zip (bundles: cli_bundle.py)
    python -m adapters_ui review results REVIEW_ID --json

Saved comparisons and reviews live in ADAPTERS_UI_DATABASE_URL (or --database URL), else in a
SQLite file under the cache folder; printed links start with ADAPTERS_UI_PUBLIC_URL.
"""

from __future__ import annotations

import argparse
import re
import shutil
import sys
import tempfile
import textwrap
import time
from contextlib import nullcontext
from pathlib import Path
from typing import TYPE_CHECKING

from adapters_ui import __version__
from adapters_ui.adapters import demo
from adapters_ui.adapters.mix import METHODS as MIX_METHODS
from adapters_ui.adapters.mix import parse_parts
from adapters_ui.adapters.training import METHODS, SAVE_DTYPES
from adapters_ui.cli.analysis import print_analysis, print_weight_effects
from adapters_ui.cli.bundle import add_bundle_commands, attach_all
from adapters_ui.cli.common import examples, program
from adapters_ui.cli.store import add_store_commands, open_database, protect_ids
from adapters_ui.config import DEVICES, DTYPES, Settings
from adapters_ui.errors import AdaptersUIError, PromptError
from adapters_ui.formatting import format_bytes, format_size, plural
from adapters_ui.logs import configure_logging
from adapters_ui.names import ADAPTER_NAME
from adapters_ui.runs.prompts import demo_prompts, read_prompt_items
from adapters_ui.views.document import report_data, to_json

if TYPE_CHECKING:
    from adapters_ui.runs.run import Comparison
    from adapters_ui.store import Database

EXIT_ERROR = 1
EXIT_STOPPED = 130  # Ctrl-C: what was written is still printed (and saved with --json)


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog=program(), description="Compare PEFT adapters of a causal LM (adapters-ui and python -m adapters_ui are the same command).",
        **examples("%(prog)s serve  # the dashboard at http://127.0.0.1:7860",
                   '%(prog)s compare --prompt "What is 2+2?"  # base vs the demo adapters',
                   "%(prog)s inspect assets/adapters/pirate",
                   "%(prog)s compare --help  # each command's flags and examples"))
    parser.add_argument("--version", action="version", version=f"%(prog)s {__version__}")
    commands = parser.add_subparsers(dest="command", required=True)

    def base_flags(sub: argparse.ArgumentParser) -> None:
        sub.add_argument("--base", help="hub id, model folder or .gguf file (default: embedded SmolLM2-135M-Instruct; env ADAPTERS_UI_BASE_MODEL)")
        sub.add_argument("--device", choices=DEVICES, help="default: auto (CUDA, MPS, else CPU)")
        sub.add_argument("--dtype", choices=DTYPES, help="default: auto")

    def backend_flag(sub: argparse.ArgumentParser) -> None:
        sub.add_argument("--backend-url", metavar="URL", help="generate on an OpenAI-compatible server (vLLM) instead of "
                         "in this process, e.g. http://127.0.0.1:8000 (env ADAPTERS_UI_BACKEND_URL; its API key: "
                         "ADAPTERS_UI_BACKEND_API_KEY)")

    def database_flag(sub: argparse.ArgumentParser) -> None:
        sub.add_argument("--database", metavar="URL", help="SQLAlchemy URL of the store, e.g. sqlite:///runs.db "
                         "(default: env ADAPTERS_UI_DATABASE_URL, else adapters_ui.db in the cache folder)")

    serve = commands.add_parser(
        "serve", help="start the dashboard (the same as python app.py in a checkout)",
        description="Serve the dashboard at / and the blind-review pages at /review/, as python app.py does.\n"
                    "The base model loads while the server starts; Ctrl-C stops it.", **examples(
        "%(prog)s  # http://127.0.0.1:7860: the embedded SmolLM2 and the demo adapters",
        "%(prog)s --host 0.0.0.0 --port 8080 --base HuggingFaceTB/SmolLM2-360M-Instruct",
        "%(prog)s --backend-url http://127.0.0.1:8000  # generate on a vLLM server",
        "ADAPTERS_UI_LOG_LEVEL=DEBUG %(prog)s"))
    base_flags(serve)
    backend_flag(serve)
    database_flag(serve)
    serve.add_argument("--host", help="address to listen on (default: env GRADIO_SERVER_NAME, else 127.0.0.1; 0.0.0.0: every interface)")
    serve.add_argument("--port", type=port_number, help="port to listen on (default: env GRADIO_SERVER_PORT, else 7860)")
    serve.set_defaults(handler=run_serve)

    compare = commands.add_parser("compare", help="run prompts through the base model and every adapter", **examples(
        '%(prog)s --prompt "What is 2+2?"  # the embedded base and the demo adapters',
        "%(prog)s --adapter pirate=assets/adapters/pirate --prompts prompts.jsonl --json out.json",
        '%(prog)s --base HuggingFaceTB/SmolLM2-135M-Instruct --adapter ./my_adapter --prompt "Hi!" --save',
        '%(prog)s --mix blend=pirate:0.5,json_answer:0.5 --prompt "Hi!" --analyze',
        '%(prog)s --bundle team.zip --prompt "Hi!"  # every adapter of a bundle (bundle save)',
        '%(prog)s --backend-url http://127.0.0.1:8000 --prompt "Hi!"  # on a vLLM server, with its own adapters',
        '%(prog)s --backend-url http://127.0.0.1:8000 --variants base,pirate --prompt "Hi!"  # some of them'))
    base_flags(compare)
    backend_flag(compare)
    compare.add_argument("--adapter", action="append", default=[], metavar="NAME=PATH",
                         help="adapter folder, optionally named (repeatable); default with the embedded base: the demo adapters in assets/adapters")
    compare.add_argument("--bundle", action="append", default=[], metavar="PATH",
                         help="attach every adapter of a bundle folder or .zip (bundle save; repeatable)")
    prompts = compare.add_mutually_exclusive_group()
    prompts.add_argument("--prompt", action="append", metavar="TEXT", help="a prompt (repeatable)")
    prompts.add_argument("--prompts", type=Path, metavar="FILE",
                         help=".txt (one a line), .jsonl ({\"prompt\": ...}) or .csv (prompt column); default: assets/prompts/demo.jsonl")
    compare.add_argument("--variants", action="append", default=[], metavar="NAMES",
                         help="the variants to compare, separated by commas (repeatable), e.g. base,pirate; default: the "
                              "base and every adapter (with --backend-url also the server's own); the variants command lists them")
    compare.add_argument("--mix", action="append", default=[], metavar="NAME=ADAPTER:WEIGHT,...",
                         help="also compare a weighted mix of attached LoRA adapters, e.g. blend=pirate:0.5,json_answer:0.5 (repeatable)")
    compare.add_argument("--mix-method", default="cat", choices=MIX_METHODS, help="how --mix combines (default cat: the exact weighted sum)")
    compare.add_argument("--mix-density", type=float, help="share of each update kept by ties / dare_linear")
    compare.add_argument("--max-new-tokens", type=int, help="tokens per output (default 64; env ADAPTERS_UI_MAX_NEW_TOKENS)")
    compare.add_argument("--batch-size", type=int, help="most rows in one decode loop (default 256; fewer when memory is short)")
    compare.add_argument("--no-chat-template", action="store_true", help="send prompts as raw text")
    compare.add_argument("--json", type=Path, metavar="OUT", help="also write the results as JSON to OUT")
    compare.add_argument("--analyze", action="store_true", help="after the outputs: token divergence from the base "
                         "and, when the prompts carry references, reference scores (printed, and in --json)")
    compare.add_argument("--save", action="store_true", help="save the finished comparison: prints its id, permalink and owner key")
    database_flag(compare)
    compare.set_defaults(handler=run_compare)

    variants = commands.add_parser(
        "variants", help="list the variants a comparison can run: the base and each adapter, with type and size",
        description="The base and every adapter compare would run: those given with --adapter / --bundle (default with "
                    "the embedded base: the demo adapters), and with --backend-url every adapter the server serves on its "
                    "base. A server adapter whose folder this machine cannot read shows its size as \"on the server\".",
        **examples("%(prog)s  # the embedded base and the demo adapters",
                   "%(prog)s --backend-url http://127.0.0.1:8000  # the server's base and its own adapters"))
    base_flags(variants)
    backend_flag(variants)
    variants.add_argument("--adapter", action="append", default=[], metavar="NAME=PATH", help="adapter folder, optionally named (repeatable)")
    variants.add_argument("--bundle", action="append", default=[], metavar="PATH", help="every adapter of a bundle (repeatable)")
    variants.set_defaults(handler=run_variants)

    train = commands.add_parser("train", help="fine-tune a PEFT adapter on prompt/response pairs", **examples(
        "%(prog)s --data pairs.jsonl --output my_adapter",
        "%(prog)s --data pairs.jsonl --output my_dora --method dora --rank 8 --targets all-linear --steps 300"))
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

    inspect = commands.add_parser("inspect", help="validate one adapter against the base model", **examples(
        "%(prog)s assets/adapters/pirate",
        "%(prog)s path/to/adapter --base path/to/model --weights  # and ||ΔW|| per layer"))
    base_flags(inspect)
    inspect.add_argument("path", type=Path, help="adapter folder")
    inspect.add_argument("--name", help="name to check it under (default: folder name)")
    inspect.add_argument("--weights", action="store_true",
                         help="also print what it changes in the weights: ||ΔW|| per layer and module (per virtual token for prompt learning)")
    inspect.set_defaults(handler=run_inspect)

    merge = commands.add_parser(
        "merge", help="write the base with one adapter merged in as a standalone model folder",
        description="Merge one adapter into a fresh copy of the base (PEFT's merge_and_unload) and save it as a model "
                    "folder (safetensors weights, config, tokenizer) that loads without PEFT. One-way: the merged copy "
                    "cannot be un-merged, and it costs a whole model.",
        **examples("%(prog)s --adapter assets/adapters/pirate --output pirate-merged",
                   '%(prog)s --base path/to/model --adapter my_dora --output my_model  # then: compare --base my_model --prompt "Hi!"'))
    base_flags(merge)
    merge.add_argument("--adapter", type=Path, required=True, metavar="PATH", help="adapter folder (any type PEFT can merge: "
                       "LoRA, DoRA, IA3, LoHa, LoKr, ...; not prompt learning)")
    merge.add_argument("--output", type=Path, required=True, metavar="DIR", help="model folder to write (new, or empty)")
    merge.set_defaults(handler=run_merge)

    add_store_commands(commands, database_flag)
    add_bundle_commands(commands, base_flags)
    return parser


def port_number(value: str) -> int:
    if not value.isdigit() or not 1 <= int(value) <= 65535:
        raise argparse.ArgumentTypeError(f"{value!r} is not a port number: use 1 to 65535")
    return int(value)


def parse_adapter_arg(value: str) -> tuple[str | None, str]:
    """'pirate=path/to/dir' -> ('pirate', 'path/to/dir'); 'path/to/dir' -> (None, 'path/to/dir')."""
    name, sep, path = value.partition("=")
    if sep and ADAPTER_NAME.match(name) and not Path(value).exists():
        return name, path
    return None, value


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(protect_ids(list(sys.argv[1:] if argv is None else argv)))
    if args.command in ("compare", "variants", "train", "inspect", "merge") or getattr(args, "bundle_command", None) == "save":
        quiet_libraries()  # the store commands load no model
    try:
        settings = Settings.from_env(base_model=getattr(args, "base", None), device=getattr(args, "device", None),
                                     dtype=getattr(args, "dtype", None), database_url=getattr(args, "database", None),
                                     backend_url=getattr(args, "backend_url", None))
        if argv is None:  # a real command line; a caller passing argv (a test, a notebook) keeps its own logging
            # the app logs its address and a line per run; the other commands print their own output
            configure_logging(settings.log_level, default="INFO" if args.command == "serve" else "WARNING")
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


def run_compare(args, settings: Settings) -> int:
    """Run the prompts through every variant; print them, and write (--json) and save (--save) them."""
    from adapters_ui.decoding import generation_settings
    from adapters_ui.session import Session

    # Everything that can be checked without the model is checked before loading it.
    references = categories = None
    if args.prompts:
        items = read_prompt_items(args.prompts)
        prompts, references = [item.text for item in items], [item.reference for item in items]
        categories = [item.category for item in items]
    elif args.prompt:
        prompts = list(args.prompt)
    else:
        prompts = demo_prompts()
        if not prompts:
            raise PromptError("No prompts given and no demo prompt set found: pass --prompt TEXT or --prompts FILE.")
    generation = generation_settings(
        settings, max_new_tokens=args.max_new_tokens, batch_size=args.batch_size, use_chat_template=not args.no_chat_template
    )
    # An unreachable store fails before the model loads; --mix folders live as long as the command.
    with open_database(settings) if args.save else nullcontext() as db, tempfile.TemporaryDirectory(prefix="adapters_ui-mix-") as mixes:
        session = Session.start(settings)
        attach_all(session, args.adapter, args.bundle, Path(mixes))  # a bundle's zip unpacks there too
        if not args.adapter and not args.bundle and demo.wants_demo(settings):
            demo.attach_demo_adapters(session)
        for value in args.mix:
            name, _, parts = value.partition("=")
            session.mix(name.strip(), parse_parts(parts), args.mix_method, args.mix_density, root=Path(mixes))
        chosen = [name.strip() for value in args.variants for name in value.split(",") if name.strip()] or None
        try:
            comparison = follow(session.start_compare(prompts, chosen, settings=generation, references=references,
                                                      categories=categories))
        except AdaptersUIError as exc:
            if args.save:  # still one line
                raise AdaptersUIError(f"{exc} (not saved)") from None
            raise
        storage = session.storage()
        print_comparison(session, comparison, storage)
        analysis = session.analyze(comparison) if args.analyze else None
        if analysis is not None:
            print_analysis(analysis, comparison.generate_s)
        data = report_data(session.base.info(), session.adapters(), storage.to_dict(), comparison,
                           analysis.to_dict() if analysis else None)
        if args.json:
            args.json.parent.mkdir(parents=True, exist_ok=True)
            args.json.write_text(to_json(data), encoding="utf-8")
            print(f"\nwrote {args.json}")
        if args.save:
            save_finished(db, data, session.adapters(), settings)
    return 0 if comparison.complete else EXIT_STOPPED


def run_variants(args, settings: Settings) -> int:
    """Print the variants a comparison with these flags can run: the base, then each adapter (type, size, source)."""
    from adapters_ui.session import Session

    with tempfile.TemporaryDirectory(prefix="adapters_ui-bundle-") as scratch:
        session = Session.start(settings)
        attach_all(session, args.adapter, args.bundle, Path(scratch))
        if not args.adapter and not args.bundle and demo.wants_demo(settings):
            demo.attach_demo_adapters(session)
        print(f"base model: {session.base.source.name}  backend: {session.backend.description}")
        print(f"{'variant':<20} {'type':<14} {'size':>13}  source")
        print(f"{'base':<20} {'base model':<14} {format_bytes(session.storage().model.full_copy_bytes):>13}  "
              f"{'the server' if not session.backend.in_process else session.base.source.name}")
        for info in session.adapters():
            source = f"the server ({info.path or 'path not reported'})" if info.on_server else info.path
            print(f"{info.name:<20} {info.method:<14} {format_size(info.bytes_on_disk):>13}  {source}")
    return 0


def save_finished(db: Database, data, adapters, settings: Settings) -> None:
    """Save a finished comparison and print its id, permalink and owner key; a stopped one gets a note."""
    from adapters_ui.store.links import comparison_link
    from adapters_ui.store.saved import save_comparison

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
    On a terminal one line is redrawn; otherwise a line is printed per change. Outputs done and
    tokens written are shown, at most once a second unless the outputs or the place in line change."""
    from adapters_ui.runs.run import Ended, Queued

    live, shown, key, shown_at = sys.stderr.isatty(), "", None, 0.0
    try:
        for event in run.events(heartbeat=1.0):
            if isinstance(event, Ended):
                break
            if isinstance(event, Queued):
                line, now_key = f"waiting for another run (position {event.position})", ("waiting", event.position)
            elif run.plan is not None:
                now = run.progress()
                line, now_key = now.line + (f" · {now.generate_s:.0f} s" if live else ""), ("running", now.done)
            else:
                continue
            if line != shown and (now_key != key or time.monotonic() - shown_at >= 1.0):
                print(f"\r{line}" if live else line, end="" if live else "\n", file=sys.stderr, flush=True)
                shown, key, shown_at = line, now_key, time.monotonic()
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
    print(f"base model: {base.source.name}  backend: {session.backend.description}  device: {base.device_name}  "
          f"dtype: {base.dtype_name}  load: {base.load_s:.1f} s")
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
            body = output_lines(text + changed, width - label - 3) or ["(empty)"]
            for i, line in enumerate(body):
                print(f"{variant if i == 0 else '':<{label}} | {line}")
    print("\n" + "=" * width)
    print_storage(storage)
    print(f"\ngenerate: {comparison.generate_s:.2f} s for {plural(len(comparison.results), 'prompt')} x "
          f"{plural(len(comparison.variants), 'variant')}")


def output_lines(text: str, width: int) -> list[str]:
    """An output wrapped to ``width`` for the terminal, keeping its line breaks and its leading and trailing
    whitespace (outputs are never stripped); [] for "". A carriage return or form feed breaks the line too.

        >>> output_lines("\\n  two spaces", 40)
        ['', '  two spaces']
    """
    if not text:
        return []
    return [piece for line in re.split(r"\r\n|[\n\r\v\f]", text)
            for piece in textwrap.wrap(line, width, replace_whitespace=False, drop_whitespace=False, tabsize=4) or [""]]


def print_storage(storage) -> None:
    model = storage.model
    file_part = f", {format_bytes(model.file_bytes)} as loaded from disk" if model.file_bytes else ""
    print(f"full model: {model.params:,} params, {format_bytes(model.full_copy_bytes)} as {model.dtype}{file_part}")
    if not storage.adapters:
        return
    print(f"{'adapter':<20} {'type':<14} {'params':>12} {'size':>13} {'x smaller':>10}")
    for name, info in storage.adapters.items():
        ratio = storage.ratio(name)
        params = "" if info.params is None else f"{info.params:,}"
        print(f"{name:<20} {info.method:<14} {params:>12} {format_size(info.bytes_on_disk):>13} "
              f"{'' if ratio is None else f'{ratio:.0f}':>10}")


# ---- train, inspect --------------------------------------------------------------------
def run_train(args, settings: Settings) -> int:
    """Fine-tune one adapter, logging as it goes."""
    from adapters_ui.adapters.training import TrainConfig, train

    config = TrainConfig(
        data=args.data, output=args.output, method=args.method, rank=args.rank, alpha=args.alpha,
        targets=tuple(args.targets), steps=args.steps, batch_size=args.batch_size, learning_rate=args.learning_rate,
        max_length=args.max_length, seed=args.seed, save_dtype=args.save_dtype, log_every=args.log_every,
    )
    train(config, settings, on_log=lambda line: print(line, flush=True))
    return 0


def run_inspect(args, settings: Settings) -> int:
    """Attach one adapter to the base and describe it."""
    from adapters_ui.session import Session

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
    if args.weights:
        print_weight_effects(session.weight_effects(info.name))
    return 0


def run_merge(args, settings: Settings) -> int:
    """Merge one adapter into a copy of the base and print what was written; bad input fails before the model loads."""
    from adapters_ui.adapters.merge import check_mergeable, check_output, merge_adapter
    from adapters_ui.adapters.validation import read_adapter
    from adapters_ui.model.base import resolve_source

    output = check_output(args.output)
    spec = read_adapter(args.adapter, public=settings.public, max_bytes=settings.max_adapter_bytes)
    check_mergeable(spec, resolve_source(settings.base_model).name)
    merged = merge_adapter(spec, settings, output)
    print(f"wrote {merged.folder}")
    for line in merged.summary():
        print(f"  {line}")
    return 0


# ---- serve ------------------------------------------------------------------------------
def run_serve(args, settings: Settings) -> int:
    """The dashboard and the review pages, as ``python app.py`` serves them (blocks until Ctrl-C)."""
    from adapters_ui.ui.server import create_server, serve  # gradio loads only for this command

    serve(create_server(settings), host=args.host, port=args.port)
    return 0
