"""adapters_ui: compare fine-tuned PEFT adapters of one causal LM, side by side.

The public API loads lazily: ``import adapters_ui`` costs no torch, and ``adapters_ui.Session``
imports the session (and torch) only when it is first used. Only ``ui/`` imports gradio.

    >>> import adapters_ui
    >>> adapters_ui.Settings().max_new_tokens
    64
"""

from __future__ import annotations

import importlib

__version__ = "0.1.0"

# public name -> the module that defines it (imported on first use)
_PUBLIC = {
    "AdaptersUIError": "adapters_ui.errors",
    "CompareRun": "adapters_ui.runs.run",
    "Comparison": "adapters_ui.runs.run",
    "GenerationSettings": "adapters_ui.decoding",
    "Session": "adapters_ui.session",
    "Settings": "adapters_ui.config",
}

__all__ = ["__version__", *_PUBLIC]


def __getattr__(name: str):
    module = _PUBLIC.get(name)
    if module is None:
        raise AttributeError(f"module 'adapters_ui' has no attribute {name!r}")
    value = getattr(importlib.import_module(module), name)
    globals()[name] = value  # later lookups skip __getattr__
    return value


def __dir__() -> list[str]:
    return sorted([*globals(), *_PUBLIC])
