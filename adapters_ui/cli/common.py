"""The CLI's --help: every command's help ends with an "examples:" block of commands that run.

In an epilog argparse replaces ``%(prog)s`` with the command itself ("adapters-ui compare", or
"python -m adapters_ui compare" when started that way), so examples name the command as typed:

    >>> commands.add_parser("inspect", help="...", **examples("%(prog)s assets/adapters/pirate"))   # doctest: +SKIP
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

SCRIPT = "adapters-ui"  # the console script of pyproject.toml


def program() -> str:
    """'adapters-ui' when started by that command, else 'python -m adapters_ui' (both run cli.main)."""
    return SCRIPT if Path(sys.argv[0]).stem == SCRIPT else "python -m adapters_ui"


def examples(*commands: str) -> dict:
    """``add_parser`` keywords for an epilog listing ``commands``, one a line, their ``# comments`` aligned."""
    parts = [command.partition(" # ") for command in commands]
    width = max(len(command.rstrip()) for command, _, comment in parts if comment) if any(p[2] for p in parts) else 0
    lines = [f"  {command.rstrip():<{width}}  # {comment.strip()}" if comment else f"  {command}" for command, _, comment in parts]
    return {"epilog": "examples:\n" + "\n".join(lines), "formatter_class": argparse.RawDescriptionHelpFormatter}
