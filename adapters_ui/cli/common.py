"""What several CLI command modules share: the program name and examples for --help, the flags many commands
take, exit codes, tables, the store and --adapter values. The command modules share code only through here.

In an epilog argparse replaces ``%(prog)s`` with the command itself ("adapters-ui compare", or
"python -m adapters_ui compare" when started that way), so examples name the command as typed:

    >>> commands.add_parser("inspect", help="...", **examples("%(prog)s assets/adapters/pirate"))   # doctest: +SKIP

Nothing here imports torch, a model library or the database driver at import time: ``--help`` and the store
commands stay quick.
"""

from __future__ import annotations

import argparse
import sys
from contextlib import contextmanager
from pathlib import Path
from typing import TYPE_CHECKING, Iterator, Sequence

from adapters_ui.config import DEVICES, DTYPES, Settings
from adapters_ui.names import ADAPTER_NAME

if TYPE_CHECKING:
    from adapters_ui.store import Database

SCRIPT = "adapters-ui"  # the console script of pyproject.toml
EXIT_ERROR = 1  # an AdaptersUIError: one line on stderr
EXIT_STOPPED = 130  # Ctrl-C: what was written is still printed (and saved with --json)
STORE_COMMANDS = ("saved", "review", "judge")  # their ids may begin with '-' (protect_ids)


def program() -> str:
    """'adapters-ui' when started by that command, else 'python -m adapters_ui' (both run cli.main)."""
    return SCRIPT if Path(sys.argv[0]).stem == SCRIPT else "python -m adapters_ui"


def examples(*commands: str) -> dict:
    """``add_parser`` keywords for an epilog listing ``commands``, one a line, their ``# comments`` aligned."""
    parts = [command.partition(" # ") for command in commands]
    width = max(len(command.rstrip()) for command, _, comment in parts if comment) if any(p[2] for p in parts) else 0
    lines = [f"  {command.rstrip():<{width}}  # {comment.strip()}" if comment else f"  {command}" for command, _, comment in parts]
    return {"epilog": "examples:\n" + "\n".join(lines), "formatter_class": argparse.RawDescriptionHelpFormatter}


# ---- flags several commands take -------------------------------------------------------------
def add_model_flags(command: argparse.ArgumentParser) -> None:
    """--base, --device, --dtype: the commands that load the base model."""
    command.add_argument("--base", help="hub id, model folder or .gguf file (default: embedded SmolLM2-135M-Instruct; env ADAPTERS_UI_BASE_MODEL)")
    command.add_argument("--device", choices=DEVICES, help="default: auto (CUDA, MPS, else CPU)")
    command.add_argument("--dtype", choices=DTYPES, help="default: auto")


def add_backend_flag(command: argparse.ArgumentParser) -> None:
    command.add_argument("--backend-url", metavar="URL", help="generate on an OpenAI-compatible server (vLLM) instead of "
                         "in this process, e.g. http://127.0.0.1:8000 (env ADAPTERS_UI_BACKEND_URL; its API key: "
                         "ADAPTERS_UI_BACKEND_API_KEY)")


def add_database_flag(command: argparse.ArgumentParser) -> None:
    command.add_argument("--database", metavar="URL", help="SQLAlchemy URL of the store, e.g. sqlite:///runs.db "
                         "(default: env ADAPTERS_UI_DATABASE_URL, else adapters_ui.db in the cache folder)")


def add_adapter_flags(command: argparse.ArgumentParser, adapter_help: str, bundle_help: str) -> None:
    """--adapter NAME=PATH and --bundle PATH, both repeatable (read back by ``attach_all``)."""
    command.add_argument("--adapter", action="append", default=[], metavar="NAME=PATH", help=adapter_help)
    command.add_argument("--bundle", action="append", default=[], metavar="PATH", help=bundle_help)


# ---- adapters, tables, the store ---------------------------------------------------------------
def parse_adapter_arg(value: str) -> tuple[str | None, str]:
    """'pirate=path/to/dir' -> ('pirate', 'path/to/dir'); 'path/to/dir' -> (None, 'path/to/dir')."""
    name, sep, path = value.partition("=")
    if sep and ADAPTER_NAME.match(name) and not Path(value).exists():
        return name, path
    return None, value


def attach_all(session, adapters: list[str], bundles: list[str], scratch: Path) -> None:
    """--adapter NAME=PATH and --bundle PATH values, in that order; a bundle's zip unpacks under ``scratch``."""
    for value in adapters:
        name, path = parse_adapter_arg(value)
        session.attach(path, name)
    for path in bundles:
        session.attach_bundle(path, root=scratch)


def print_table(columns: Sequence[str], rows: Sequence[Sequence[object]], indent: str = "") -> None:
    """A plain left-aligned text table."""
    cells = [[str(c) for c in columns]] + [["-" if v is None else str(v) for v in row] for row in rows]
    widths = [max(len(row[i]) for row in cells) for i in range(len(columns))]
    for row in cells:
        print(indent + "  ".join(v.ljust(w) for v, w in zip(row, widths)).rstrip())


@contextmanager
def open_database(settings: Settings) -> Iterator[Database]:
    """The store at ``settings.database`` (a one-line StoreError if unreachable), closed afterwards."""
    from adapters_ui.store import Database

    db = Database.open(settings.database)
    try:
        yield db
    finally:
        db.close()


def protect_ids(argv: list[str]) -> list[str]:
    """Ids are URL-safe base64 and may begin with '-': move those behind '--' so argparse reads them as the id.
    (Every option here is shorter than the 16 characters an id has, so none is taken for one.)"""
    if not argv or argv[0] not in STORE_COMMANDS or "--" in argv:
        return argv
    from adapters_ui.store.tokens import well_formed

    ids = [a for a in argv[1:] if a.startswith("-") and well_formed(a)]
    return [a for a in argv if a not in ids] + (["--", *ids] if ids else [])


def follow_with_bar(job, unit: str, what: str, cancelling: str, interval_s: float = 0.5) -> None:
    """A tqdm bar (``unit``s, rate, ETA) on stderr until ``job`` ends (it has ``progress()`` with done/total,
    ``wait``, ``cancel``); Ctrl-C cancels it and prints ``cancelling``. Redrawn every 15 s into a log."""
    from tqdm import tqdm

    first = job.progress()
    with tqdm(total=first.total, initial=first.done, unit=unit, desc=what, file=sys.stderr, dynamic_ncols=True,
              smoothing=0, mininterval=interval_s if sys.stderr.isatty() else 15) as bar:
        try:
            while not job.wait(interval_s):
                bar.update(job.progress().done - bar.n)
        except KeyboardInterrupt:
            job.cancel()
            print(f"\n{cancelling}", file=sys.stderr, flush=True)
            job.wait()
        bar.update(job.progress().done - bar.n)
