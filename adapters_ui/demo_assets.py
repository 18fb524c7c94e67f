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
