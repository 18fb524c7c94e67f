"""The merge command of the CLI: the base with one adapter merged in, written as a standalone model folder.

    python -m adapters_ui merge --adapter assets/adapters/pirate --output pirate-merged
"""

from __future__ import annotations

from pathlib import Path

from adapters_ui.cli.common import add_model_flags, examples
from adapters_ui.config import Settings


def add_commands(commands) -> None:
    """`merge` (loads the base model)."""
    merge = commands.add_parser(
        "merge", help="write the base with one adapter merged in as a standalone model folder",
        description="Merge one adapter into a fresh copy of the base (PEFT's merge_and_unload) and save it as a model "
                    "folder (safetensors weights, config, tokenizer) that loads without PEFT. One-way: the merged copy "
                    "cannot be un-merged, and it costs a whole model.",
        **examples("%(prog)s --adapter assets/adapters/pirate --output pirate-merged",
                   '%(prog)s --base path/to/model --adapter my_dora --output my_model  # then: compare --base my_model --prompt "Hi!"'))
    add_model_flags(merge)
    merge.add_argument("--adapter", type=Path, required=True, metavar="PATH", help="adapter folder (any type PEFT can merge: "
                       "LoRA, DoRA, IA3, LoHa, LoKr, ...; not prompt learning)")
    merge.add_argument("--output", type=Path, required=True, metavar="DIR", help="model folder to write (new, or empty)")
    merge.set_defaults(handler=run_merge, loads_model=True)


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
