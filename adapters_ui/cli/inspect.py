"""The inspect command of the CLI: attach one adapter to the base, say whether it fits, and (--weights) what it
changes in the weights.

    python -m adapters_ui inspect assets/adapters/pirate
    python -m adapters_ui inspect path/to/adapter --base path/to/model --weights
"""

from __future__ import annotations

import time
from pathlib import Path

from adapters_ui.cli.common import add_model_flags, examples, print_table
from adapters_ui.config import Settings
from adapters_ui.formatting import format_bytes


def add_commands(commands) -> None:
    """`inspect` (loads the base model)."""
    inspect = commands.add_parser("inspect", help="validate one adapter against the base model", **examples(
        "%(prog)s assets/adapters/pirate",
        "%(prog)s path/to/adapter --base path/to/model --weights  # and ||ΔW|| per layer"))
    add_model_flags(inspect)
    inspect.add_argument("path", type=Path, help="adapter folder")
    inspect.add_argument("--name", help="name to check it under (default: folder name)")
    inspect.add_argument("--weights", action="store_true",
                         help="also print what it changes in the weights: ||ΔW|| per layer and module (per virtual token for prompt learning)")
    inspect.set_defaults(handler=run_inspect, loads_model=True)


def run_inspect(args, settings: Settings) -> int:
    """Attach one adapter to the base and describe it."""
    from adapters_ui.session import Session

    started = time.perf_counter()
    session = Session.start(settings)
    info = session.attach(args.path, args.name)
    print(f"OK: {args.path} attaches to {session.base.source.name} ({time.perf_counter() - started:.1f} s)")
    for key, value in adapter_rows(session, info):
        print(f"  {key:<13} {value}")
    if args.weights:
        print_weight_effects(session.weight_effects(info.name))
    return 0


def adapter_rows(session, info) -> list[tuple[str, object]]:
    """(label, value) lines describing an attached adapter next to the base it was attached to."""
    storage = session.storage()
    match = {True: "yes", False: "NO", None: "unknown (config names no base)"}[info.base_match]
    return [
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


def print_weight_effects(effects) -> None:
    """inspect --weights: the quantity line, then one aligned row per module (blank where a number does not apply)."""

    def number(value, spec: str) -> str:
        return "" if value is None else format(value, spec)

    print(f"\nweights: {effects.quantity}")
    print_table(
        ["layer", "module", "norm", "relative", "rank", "effective rank", "magnitude change"],
        [[number(m.layer, "d"), m.module, number(m.norm, ".4g"), number(m.relative, ".3g"), number(m.rank, "d"),
          number(m.effective_rank, ".2f"), number(m.magnitude_change, ".3g")] for m in effects.modules],
        indent="  ",
    )
