"""The compare commands of the CLI: run prompts through the base and every adapter (``compare``), and list what
a comparison would run (``variants``).

    python -m adapters_ui compare --adapter pirate=assets/adapters/pirate --prompt "Hi!" --save
    python -m adapters_ui compare --prompts prompts.jsonl --analyze --json out.json
    python -m adapters_ui variants --backend-url http://127.0.0.1:8000
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

from adapters_ui.adapters.mix import METHODS as MIX_METHODS
from adapters_ui.cli.common import (
    EXIT_STOPPED,
    add_adapter_flags,
    add_backend_flag,
    add_database_flag,
    add_model_flags,
    attach_all,
    examples,
    open_database,
    print_table,
)
from adapters_ui.config import Settings
from adapters_ui.errors import AdaptersUIError, PromptError
from adapters_ui.formatting import format_bytes, format_size, plural

if TYPE_CHECKING:
    from adapters_ui.analysis.analyze import Analysis
    from adapters_ui.runs.run import Comparison
    from adapters_ui.store import Database


def add_commands(commands) -> None:
    """`compare` and `variants` (both load the base model)."""
    add_compare(commands)
    add_variants(commands)


def add_compare(commands) -> None:
    compare = commands.add_parser("compare", help="run prompts through the base model and every adapter", **examples(
        '%(prog)s --prompt "What is 2+2?"  # the embedded base and the demo adapters',
        "%(prog)s --adapter pirate=assets/adapters/pirate --prompts prompts.jsonl --json out.json",
        '%(prog)s --base HuggingFaceTB/SmolLM2-135M-Instruct --adapter ./my_adapter --prompt "Hi!" --save',
        '%(prog)s --mix blend=pirate:0.5,json_answer:0.5 --prompt "Hi!" --analyze',
        '%(prog)s --bundle team.zip --prompt "Hi!"  # every adapter of a bundle (bundle save)',
        '%(prog)s --backend-url http://127.0.0.1:8000 --prompt "Hi!"  # on a vLLM server, with its own adapters',
        '%(prog)s --backend-url http://127.0.0.1:8000 --variants base,pirate --prompt "Hi!"  # some of them'))
    add_model_flags(compare)
    add_backend_flag(compare)
    add_adapter_flags(compare, "adapter folder, optionally named (repeatable); default with the embedded base: the demo adapters in assets/adapters",
                      "attach every adapter of a bundle folder or .zip (bundle save; repeatable)")
    prompts = compare.add_mutually_exclusive_group()
    prompts.add_argument("--prompt", action="append", metavar="TEXT", help="a prompt (repeatable)")
    prompts.add_argument("--prompts", type=Path, metavar="FILE",
                         help=".txt (one a line), .jsonl ({\"prompt\": ...}) or .csv (prompt column); default: assets/prompts/demo.jsonl")
    compare.add_argument("--variants", action="append", default=[], metavar="NAMES",
                         help="the variants to compare, separated by commas (repeatable), e.g. base,pirate; default: the "
                              "base and every adapter (with --backend-url also the server's own); the variants command lists them")
    add_mix_flags(compare)
    compare.add_argument("--max-new-tokens", type=int, help="tokens per output (default 64; env ADAPTERS_UI_MAX_NEW_TOKENS)")
    compare.add_argument("--batch-size", type=int, help="most rows in one decode loop (default 256; fewer when memory is short)")
    compare.add_argument("--no-chat-template", action="store_true", help="send prompts as raw text")
    compare.add_argument("--json", type=Path, metavar="OUT", help="also write the results as JSON to OUT")
    compare.add_argument("--analyze", action="store_true", help="after the outputs: token divergence from the base "
                         "and, when the prompts carry references, reference scores (printed, and in --json)")
    compare.add_argument("--save", action="store_true", help="save the finished comparison: prints its id, permalink and owner key")
    add_database_flag(compare)
    compare.set_defaults(handler=run_compare, loads_model=True)


def add_mix_flags(compare: argparse.ArgumentParser) -> None:
    compare.add_argument("--mix", action="append", default=[], metavar="NAME=ADAPTER:WEIGHT,...",
                         help="also compare a weighted mix of attached LoRA adapters, e.g. blend=pirate:0.5,json_answer:0.5 (repeatable)")
    compare.add_argument("--mix-method", default="cat", choices=MIX_METHODS, help="how --mix combines (default cat: the exact weighted sum)")
    compare.add_argument("--mix-density", type=float, help="share of each update kept by ties / dare_linear")


def add_variants(commands) -> None:
    variants = commands.add_parser(
        "variants", help="list the variants a comparison can run: the base and each adapter, with type and size",
        description="The base and every adapter compare would run: those given with --adapter / --bundle (default with "
                    "the embedded base: the demo adapters), and with --backend-url every adapter the server serves on its "
                    "base. A server adapter whose folder this machine cannot read shows its size as \"on the server\".",
        **examples("%(prog)s  # the embedded base and the demo adapters",
                   "%(prog)s --backend-url http://127.0.0.1:8000  # the server's base and its own adapters"))
    add_model_flags(variants)
    add_backend_flag(variants)
    add_adapter_flags(variants, "adapter folder, optionally named (repeatable)", "every adapter of a bundle (repeatable)")
    variants.set_defaults(handler=run_variants, loads_model=True)


def run_variants(args, settings: Settings) -> int:
    """Print the variants a comparison with these flags can run: the base, then each adapter (type, size, source)."""
    from adapters_ui.adapters import demo
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


# ---- compare ----------------------------------------------------------------------------------
def run_compare(args, settings: Settings) -> int:
    """Run the prompts through every variant; print them, and write (--json) and save (--save) them."""
    from adapters_ui.decoding import generation_settings
    from adapters_ui.session import Session
    from adapters_ui.views.document import report_data

    # Everything that can be checked without the model is checked before loading it.
    prompts, references, categories = read_prompts(args)
    generation = generation_settings(
        settings, max_new_tokens=args.max_new_tokens, batch_size=args.batch_size, use_chat_template=not args.no_chat_template
    )
    # An unreachable store fails before the model loads; --mix folders live as long as the command.
    with open_database(settings) if args.save else nullcontext() as db, tempfile.TemporaryDirectory(prefix="adapters_ui-mix-") as mixes:
        session = Session.start(settings)
        attach_variants(session, args, settings, Path(mixes))
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
        write_json(args.json, data)
        if args.save:
            save_finished(db, data, session.adapters(), settings)
    return 0 if comparison.complete else EXIT_STOPPED


def read_prompts(args) -> tuple[list[str], list | None, list | None]:
    """(prompts, references, categories) from --prompts FILE, --prompt TEXT or the demo set (a file carries the last two)."""
    from adapters_ui.runs.prompts import demo_prompts, read_prompt_items

    if args.prompts:
        items = read_prompt_items(args.prompts)
        return [item.text for item in items], [item.reference for item in items], [item.category for item in items]
    if args.prompt:
        return list(args.prompt), None, None
    prompts = demo_prompts()
    if not prompts:
        raise PromptError("No prompts given and no demo prompt set found: pass --prompt TEXT or --prompts FILE.")
    return prompts, None, None


def attach_variants(session, args, settings: Settings, scratch: Path) -> None:
    """--adapter and --bundle (else the demo adapters where they fit the base), then each --mix (saved under ``scratch``)."""
    from adapters_ui.adapters import demo
    from adapters_ui.adapters.mix import parse_parts

    attach_all(session, args.adapter, args.bundle, scratch)  # a bundle's zip unpacks there too
    if not args.adapter and not args.bundle and demo.wants_demo(settings):
        demo.attach_demo_adapters(session)
    for value in args.mix:
        name, _, parts = value.partition("=")
        session.mix(name.strip(), parse_parts(parts), args.mix_method, args.mix_density, root=scratch)


def write_json(path: Path | None, data) -> None:
    """--json OUT: the same document as the UI's JSON export."""
    from adapters_ui.views.document import to_json

    if path:
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(to_json(data), encoding="utf-8")
        print(f"\nwrote {path}")


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
    return ended(run.final())


def ended(comparison: Comparison) -> Comparison:
    """A failed run is its one-line error; a stopped one says how far it got (on stderr)."""
    if comparison.status == "failed":
        raise AdaptersUIError(comparison.error)
    if not comparison.complete:
        done, total = comparison.counts()
        print(f"{comparison.status}: {done} of {total} outputs finished", file=sys.stderr)
    return comparison


# ---- what compare prints ------------------------------------------------------------------------
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
            body = output_lines(text_with_note(result, variant, text), width - label - 3) or ["(empty)"]
            for i, line in enumerate(body):
                print(f"{variant if i == 0 else '':<{label}} | {line}")
    print("\n" + "=" * width)
    print_storage(storage)
    print(f"\ngenerate: {comparison.generate_s:.2f} s for {plural(len(comparison.results), 'prompt')} x "
          f"{plural(len(comparison.variants), 'variant')}")


def text_with_note(result, variant: str, text: str | None) -> str:
    """An output as printed: with a note when it was not run, was cut off or says what the base says."""
    if text is None:
        return "(not run: stopped)"
    if variant in result.cut_off:
        return text + " [cut off]"
    return text + ("" if variant == "base" or text != result.outputs.get("base") else " (same as base)")


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


def print_analysis(analysis: Analysis, generate_s: float) -> None:
    """compare --analyze: divergence from the base, then the reference leaderboards (per category, then all)."""
    from adapters_ui.views.analysis_html import DIVERGENCE_COLUMNS, divergence_rows

    document = analysis.to_dict()
    print("\nwhere each variant departs from the base (teacher-forced, KL(variant || base) per token):")
    print_table(DIVERGENCE_COLUMNS, [[_text(v) for v in row] for row in divergence_rows(document["summaries"])])
    board = analysis.leaderboard()
    for category, rows in analysis.leaderboard_by_category().items():
        print(f"\nreference scores, category {category} (its prompts alone; best first; d_ = change from the base):")
        _print_leaderboard(rows)
    if board:
        together = ", all categories together" if analysis.references_by_category else ""
        print(f"\nreference scores{together} (best first; d_ = change from the base):")
        _print_leaderboard(board)
    print(f"\nanalyze: {analysis.analyze_s:.2f} s (generate took {generate_s:.2f} s)")


def _print_leaderboard(rows: list[dict]) -> None:
    from adapters_ui.analysis.references import LEADERBOARD_COLUMNS

    print_table(list(LEADERBOARD_COLUMNS), [[_text(row[key]) for key in LEADERBOARD_COLUMNS] for row in rows])


def _text(value) -> str:
    return f"{value:.4g}" if isinstance(value, float) else value
