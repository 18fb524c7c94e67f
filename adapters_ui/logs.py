"""Logging for the entry points (``python app.py``, ``adapters-ui serve``, the CLI): one call, one format.

The level applies to this project's loggers (``adapters_ui.*``); libraries stay at WARNING so their
chatter does not bury ours. Library modules only log (``logging.getLogger(__name__)``); an entry
point decides where lines go and how many, from ADAPTERS_UI_LOG_LEVEL (``Settings.log_level``).

    >>> configure_logging(Settings.from_env().log_level, default="INFO")      # doctest: +SKIP
    2026-11-30 17:02:11,514 adapters_ui.ui.server: adapters_ui on http://127.0.0.1:7860 (reviews under /review/)
"""

from __future__ import annotations

import logging
import sys

from adapters_ui.config import LOG_LEVELS

FORMAT = "%(asctime)s %(name)s: %(message)s"
_HANDLER = "adapters_ui"  # the name of the one handler added here, so that a second call adds no second one


class StderrHandler(logging.StreamHandler):
    """Writes to ``sys.stderr`` as it is at each line, not as it was when logging was set up."""

    def __init__(self) -> None:
        super().__init__(sys.stderr)

    @property
    def stream(self):
        return sys.stderr

    @stream.setter
    def stream(self, value) -> None:
        pass


def configure_logging(level: str | None, default: str = "INFO") -> str:
    """Send log lines to stderr: ``adapters_ui.*`` from ``level`` (``default`` when None) up, libraries
    from WARNING up. Returns the level in use."""
    level = (level or default).strip().upper()
    if level not in LOG_LEVELS:  # Settings refuses these already: this is a caller's mistake
        raise ValueError(f"Unknown log level {level!r}: use one of {', '.join(LOG_LEVELS)}.")
    root = logging.getLogger()
    if not any(handler.get_name() == _HANDLER for handler in root.handlers):
        handler = StderrHandler()
        handler.set_name(_HANDLER)
        handler.setFormatter(logging.Formatter(FORMAT))
        root.addHandler(handler)
    root.setLevel(logging.WARNING)
    logging.getLogger("adapters_ui").setLevel(level)
    return level
