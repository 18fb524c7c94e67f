"""Adapters in known folders: the demo set and ``ADAPTERS_UI_ADAPTER_DIR``, offered by name.

    >>> adapter_folder_choices(Settings())[0]                   # doctest: +SKIP
    ('bullets  (assets/adapters)', '/.../assets/adapters/bullets')
"""

from __future__ import annotations

from pathlib import Path

from adapters_ui.adapters import demo
from adapters_ui.adapters.sources.shown import shown_path
from adapters_ui.adapters.validation import name_from_folder
from adapters_ui.config import Settings

CONFIG_FILE = "adapter_config.json"


def adapter_name(text: str) -> str:
    """A valid adapter name from any text (a zip stem, a repo name): 'My LoRA v1.2' -> 'My_LoRA_v1_2'."""
    return name_from_folder(Path(text))


def adapter_folder_choices(settings: Settings) -> list[tuple[str, str]]:
    """(label, absolute path) for each adapter folder in the demo folder and ``settings.adapter_dirs``.

    A root counts itself when it holds adapter_config.json, then its direct sub-folders that
    do, sorted by name. Missing or unreadable roots are skipped: the list only offers what exists.
    """
    choices: list[tuple[str, str]] = []
    seen: set[Path] = set()
    for root in (demo.DEMO_ADAPTERS, *settings.adapter_dirs):
        root = Path(root).expanduser()
        try:
            if not root.is_dir():
                continue
            subs = sorted((p for p in root.iterdir() if p.is_dir()), key=lambda p: (p.name.lower(), p.name))
        except OSError:
            continue
        for folder in [root, *subs]:
            resolved = folder.resolve()
            if resolved in seen or not (folder / CONFIG_FILE).is_file():
                continue
            seen.add(resolved)
            choices.append((f"{folder.name}  ({shown_path(folder.parent)})", str(resolved)))
    return choices
