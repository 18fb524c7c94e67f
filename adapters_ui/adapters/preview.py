"""What the page can show before the base model has loaded (issue 21, item 9).

A warm start answers HTTP in seconds, but loading the base takes as long again. Meanwhile the page lists the
adapters the start will attach, read from their own folders (names, types, sizes: no model needed), and the
storage chart draws the full model's bar from its size remembered at the last start on this cache folder:

    >>> preview = Preview.read(settings)     # doctest: +SKIP  (the demo adapters, when the base is the embedded one)
    >>> preview.storage().to_dict()           # doctest: +SKIP  (None until one start has measured the model)
    >>> remember_model_storage(settings, session.storage().model)   # doctest: +SKIP  (after a load)
"""

from __future__ import annotations

import json
import logging
from dataclasses import asdict, dataclass, field
from pathlib import Path

from adapters_ui.adapters import demo as demo_set
from adapters_ui.adapters.registry import describe
from adapters_ui.adapters.validation import read_adapter
from adapters_ui.config import Settings
from adapters_ui.errors import AdapterError, first_line
from adapters_ui.names import EMBEDDED_NAME
from adapters_ui.records import AdapterInfo, ModelStorage

log = logging.getLogger(__name__)

MEMO_FILE = "model_storage.json"  # in cache_dir: {model key: ModelStorage fields}


def _memo_key(settings: Settings) -> str:
    """Which measurement fits: the same base, loaded the same way (dtype and device change the full copy's size)."""
    return "|".join([settings.backend_url or "in-process", settings.base_model or EMBEDDED_NAME,
                     settings.dtype, settings.device])


def remember_model_storage(settings: Settings, storage: ModelStorage) -> None:
    """Keep the loaded model's size for the next start's page (best effort: a read-only cache only loses the bar)."""
    path = Path(settings.cache_dir) / MEMO_FILE
    try:
        memo = json.loads(path.read_text()) if path.is_file() else {}
        memo[_memo_key(settings)] = asdict(storage)
        path.parent.mkdir(parents=True, exist_ok=True)
        staged = path.with_suffix(".tmp")
        staged.write_text(json.dumps(memo, indent=1))
        staged.replace(path)
    except (OSError, ValueError) as exc:
        log.debug("could not remember the model's size: %s", first_line(exc))


def remembered_model_storage(settings: Settings) -> ModelStorage | None:
    """The size measured at an earlier start with the same settings, or None (first start, or unreadable)."""
    try:
        found = json.loads((Path(settings.cache_dir) / MEMO_FILE).read_text()).get(_memo_key(settings))
        return ModelStorage(**found) if found else None
    except (OSError, ValueError, TypeError, AttributeError):
        return None


@dataclass(frozen=True)
class Preview:
    """The adapters the start attaches, described from disk, and the model's remembered size (None if unknown)."""

    adapters: list[AdapterInfo] = field(default_factory=list)
    model: ModelStorage | None = None

    @classmethod
    def read(cls, settings: Settings) -> "Preview":
        """The demo adapters (the only ones a start attaches) when this base wants them; one that cannot be read is
        left out here: the load itself reports it."""
        infos = []
        base = settings.base_model or EMBEDDED_NAME
        for folder in demo_set.demo_adapter_folders() if demo_set.wants_demo(settings) else []:
            try:
                spec = read_adapter(folder, public=settings.public, max_bytes=settings.max_adapter_bytes)
            except AdapterError:
                continue
            infos.append(describe(spec, base, route=""))
        return cls(infos, remembered_model_storage(settings))

    @property
    def names(self) -> list[str]:
        return [info.name for info in self.adapters]

    def storage(self):
        """A StorageReport like a loaded session's, when the model's size is known; else None."""
        from adapters_ui.records import StorageReport

        return StorageReport(self.model, {info.name: info for info in self.adapters}) if self.model else None
