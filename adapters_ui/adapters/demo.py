"""The demo set shipped in assets/: adapters trained on the embedded default, and prompt sets.

Started with no arguments (embedded base, no adapters named), the app and ``compare``
attach every folder under assets/adapters and load assets/prompts/demo.jsonl, so a
first visitor sees a real comparison with one click. They were trained for the
embedded SmolLM2-135M-Instruct only, so any other base starts empty.
"""

from __future__ import annotations

import logging
from pathlib import Path

from adapters_ui.config import Settings
from adapters_ui.demo_assets import ASSETS, DEMO_ADAPTERS, DEMO_PROMPTS, PACKAGE, PROMPT_SETS, assets_folder  # noqa: F401 (the demo set's places)
from adapters_ui.errors import AdapterError
from adapters_ui.model.base import same_model
from adapters_ui.names import EMBEDDED_NAME

log = logging.getLogger(__name__)


def demo_adapter_folders(root: Path = DEMO_ADAPTERS) -> list[Path]:
    if not root.is_dir():
        return []
    return sorted(p for p in root.iterdir() if (p / "adapter_config.json").is_file())


def wants_demo(settings: Settings) -> bool:
    """Demo adapters fit only SmolLM2-135M-Instruct (embedded, or its hub id on a Space); ADAPTERS_UI_DEMO=0 turns them off."""
    return settings.demo and (not settings.base_model or same_model(settings.base_model, EMBEDDED_NAME))


def attach_demo_adapters(session) -> list:
    """Attach every demo adapter the backend can run; one a serving engine refuses (bullets is DoRA)
    is left out with a log line, so the rest of the demo still works."""
    attached = []
    for folder in demo_adapter_folders():
        try:
            attached.append(session.attach(folder))
        except AdapterError as exc:  # the registry asks the backend first: a refusal costs no model work
            if session.backend.in_process:
                raise
            log.warning("demo adapter left out: %s", exc)
    return attached


def prompt_sets() -> dict[str, Path]:
    """Preset prompt sets by name ('demo', 'general', ...)."""
    if not PROMPT_SETS.is_dir():
        return {}
    return {p.stem: p for p in sorted(PROMPT_SETS.glob("*.jsonl"))}


# What each shipped demo adapter was trained to do, for the page (one line each).
DEMO_DESCRIPTIONS = {
    "pirate": 'LoRA r4 on q/v: answers in pirate speak ("Arr, matey! ... Yo ho ho!").',
    "json_answer": 'LoRA r16 on every linear layer: answers as one JSON object {"answer": ..., "sentiment": ...}.',
    "bullets": "DoRA r8: answers as a short list of bullet points.",
}


def demo_description(path: str | Path) -> str | None:
    """The one-line description of a shipped demo adapter folder, or None for any other adapter."""
    folder = Path(path).resolve()
    if folder.parent != DEMO_ADAPTERS.resolve():
        return None
    return DEMO_DESCRIPTIONS.get(folder.name)


def descriptions_markdown(adapters) -> str:
    """'**pirate**: ... ' lines for the attached demo adapters (by their attached names); '' when none."""
    lines = [f"- **{info.name}**: {text}" for info in adapters if (text := demo_description(info.path))]
    return "**What the demo adapters do**\n" + "\n".join(lines) if lines else ""


DEMO_LORAS = ("pirate", "json_answer")  # the demo's LoRAs vLLM can serve (bullets is DoRA: vLLM refuses it)


def demo_loras() -> dict[str, Path]:
    """The demo LoRA adapters a vLLM server is started with (name -> folder)."""
    return {name: DEMO_ADAPTERS / name for name in DEMO_LORAS}
