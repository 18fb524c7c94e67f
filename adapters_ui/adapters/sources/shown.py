"""What a visitor sees of the server: paths as they know them, and errors that name their upload or Hub repo, never
a folder on the server."""

from __future__ import annotations

from contextlib import contextmanager
from pathlib import Path

from adapters_ui.adapters import demo
from adapters_ui.errors import AdaptersUIError


def shown_path(path: Path) -> str:
    """A path as a user recognises it: relative to the repo, or with ~ for home, else absolute."""
    path = Path(path).resolve()
    for anchor, prefix in ((demo.ASSETS.parent.resolve(), ""), (Path.home().resolve(), "~")):
        try:
            rel = path.relative_to(anchor)
        except ValueError:
            continue
        return str(Path(prefix, rel)) if prefix else (str(rel) if rel.parts else ".")
    return str(path)


def os_reason(exc: OSError) -> str:
    """Why a file operation failed, without the path it failed on ('No space left on device')."""
    return exc.strerror or type(exc).__name__


@contextmanager
def shown_as(folder: Path, shown: str):
    """Errors raised inside name ``shown`` where they would name the server folder ``folder``:
    '/srv/cache/uploads/tmpab12/a/adapter_config.json is not valid JSON' -> 'pirate.zip/a/adapter_config.json ...'."""
    try:
        yield
    except AdaptersUIError as exc:
        message = str(exc)
        if str(folder) not in message:
            raise
        raise type(exc)(message.replace(str(folder), shown)) from None
