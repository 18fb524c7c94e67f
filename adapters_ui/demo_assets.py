"""Where the shipped demo set lives: adapters and prompt sets under assets/ (paths only, no imports).

``pip install .`` puts them inside the package (adapters_ui/assets); a checkout or a Space has
them beside it (assets/).
"""

from __future__ import annotations

from pathlib import Path

PACKAGE = Path(__file__).resolve().parent  # adapters_ui/


def assets_folder(package: Path = PACKAGE) -> Path:
    """adapters_ui/assets in an installed package (``pip install .`` puts the demo set there), else the
    checkout's top-level assets/ beside the package (where the Space and the scripts use it)."""
    installed = package / "assets"
    return installed if installed.is_dir() else package.parent / "assets"


ASSETS = assets_folder()
DEMO_ADAPTERS = ASSETS / "adapters"
PROMPT_SETS = ASSETS / "prompts"
DEMO_PROMPTS = PROMPT_SETS / "demo.jsonl"
EVAL_SETS = ASSETS / "evals"  # shipped evaluation sets: picked by name in the page and the CLI ("demo")


def shipped_eval_sets(root: Path = EVAL_SETS) -> dict[str, Path]:
    """name -> file of every shipped evaluation set (assets/evals/NAME.jsonl)."""
    return {p.stem: p for p in sorted(root.glob("*.jsonl"))} if root.is_dir() else {}


def eval_set_path(name_or_path: str) -> Path:
    """A shipped set's file for its name ("demo"), else the path as given (read_eval_set checks it)."""
    shipped = shipped_eval_sets()
    return shipped[name_or_path] if name_or_path in shipped and not Path(name_or_path).exists() else Path(name_or_path)
