"""The bundle commands of the CLI: save attached adapters as one bundle, show (and verify) a bundle.

    python -m adapters_ui bundle save --adapter pirate=assets/adapters/pirate --adapter assets/adapters/bullets --output team.zip
    python -m adapters_ui bundle show team.zip
    python -m adapters_ui compare --bundle team.zip --prompt "Hi!"     (compare --bundle: cli/compare.py)
"""

from __future__ import annotations

import json
from pathlib import Path

from adapters_ui.cli.common import add_adapter_flags, add_model_flags, attach_all, examples, print_table, program
from adapters_ui.config import Settings
from adapters_ui.errors import AdapterError
from adapters_ui.formatting import format_bytes

SAVE_ARGS = "--adapter pirate=assets/adapters/pirate --adapter assets/adapters/bullets --output team.zip"


def add_commands(commands) -> None:
    """`bundle save` (loads the base to check each adapter) and `bundle show` (no model)."""
    command = program()
    bundle = commands.add_parser("bundle", help="save attached adapters as one folder or .zip with a manifest; show one", **examples(
        f"%(prog)s save {SAVE_ARGS}", "%(prog)s show team.zip", f'{command} compare --bundle team.zip --prompt "Hi!"'))
    subs = bundle.add_subparsers(dest="bundle_command", required=True)
    save = subs.add_parser("save", help="attach adapters, then write them (and a bundle.json with SHA-256s) as one bundle", **examples(
        f"%(prog)s {SAVE_ARGS}", "%(prog)s --output demo_bundle  # the demo adapters, as a folder",
        f'{command} compare --bundle team.zip --prompt "Hi!"'))
    add_model_flags(save)
    add_adapter_flags(save, "adapter folder, optionally named (repeatable); default with the embedded base: the demo adapters",
                      "also take the adapters of a bundle (repeatable)")
    save.add_argument("--output", type=Path, required=True, metavar="OUT.zip|DIR", help="a .zip path, or a new (or empty) folder")
    save.set_defaults(handler=run_bundle_save, loads_model=True)
    show = subs.add_parser("show", help="print a bundle's manifest as a table after checking every file's SHA-256 (no model)", **examples(
        "%(prog)s team.zip", "%(prog)s team.zip --json > manifest.json"))
    show.add_argument("path", type=Path, help="a bundle folder or .zip")
    show.add_argument("--json", action="store_true", help="print the manifest as JSON instead")
    show.set_defaults(handler=run_bundle_show)


def run_bundle_save(args, settings: Settings) -> int:
    import tempfile

    from adapters_ui.adapters import demo
    from adapters_ui.adapters.bundle import check_target
    from adapters_ui.session import Session

    # What can be checked without the model is checked before loading it.
    if not args.adapter and not args.bundle and not demo.wants_demo(settings):
        raise AdapterError("No adapters given: pass --adapter NAME=PATH (repeatable) or --bundle PATH.")
    check_target(args.output)
    with tempfile.TemporaryDirectory(prefix="adapters_ui-bundle-") as scratch:
        session = Session.start(settings)
        attach_all(session, args.adapter, args.bundle, Path(scratch))
        if not args.adapter and not args.bundle:
            demo.attach_demo_adapters(session)
        manifest = session.save_bundle(args.output)
    print_manifest(manifest)
    print(f"\nwrote {args.output} ({len(manifest.adapters)} adapters, {format_bytes(manifest.total_bytes)})")
    return 0


def run_bundle_show(args, settings: Settings) -> int:
    from adapters_ui.adapters.bundle import show_bundle

    manifest = show_bundle(args.path, settings)
    if args.json:
        print(json.dumps(manifest.to_dict(), indent=1))
        return 0
    print_manifest(manifest)
    files = sum(len(a.files) for a in manifest.adapters)
    print(f"\nverified: {files} files match their SHA-256 in bundle.json")
    return 0


def print_manifest(manifest) -> None:
    base = manifest.base_model
    print(f"bundle (version {manifest.version}) created {manifest.created_at or '-'} on base model {base.get('name')}"
          f" ({base.get('kind', '?')}: {base.get('location', '-')})")
    rows = []
    for a in manifest.adapters:
        size = a.rank if a.virtual_tokens is None else f"{a.virtual_tokens} tokens"
        made = f"mix ({a.mix.get('method')})" if a.mix else ""
        rows.append([a.name, a.method, a.peft_type, size, f"{a.params:,}", format_bytes(a.bytes),
                     a.weights.sha256[:16], made])
    print_table(["adapter", "method", "peft_type", "rank", "params", "bytes", "weights sha256", "note"], rows, indent="  ")
