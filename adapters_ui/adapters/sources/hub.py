"""Adapters downloaded from the Hugging Face Hub: only the files an adapter needs, into ``<cache_dir>/hub``; errors
are one line that names the repo, never the cache folder."""

from __future__ import annotations

import re
import sys
from pathlib import Path

from adapters_ui.adapters.sources.folders import CONFIG_FILE, adapter_name
from adapters_ui.adapters.sources.shown import os_reason, shown_as
from adapters_ui.config import Settings
from adapters_ui.errors import AdapterSourceError, first_line
from adapters_ui.records import AdapterInfo

HUB_FILES = ("adapter_config.json", "adapter_model.safetensors", "README.md")
_HUB_PART = r"[A-Za-z0-9_](?:[A-Za-z0-9_.-]{0,94}[A-Za-z0-9_])?"  # HF: no leading/trailing '-' or '.', <= 96
_REPO_ID = re.compile(rf"^{_HUB_PART}/{_HUB_PART}$")
_REVISION = re.compile(r"^[A-Za-z0-9_][A-Za-z0-9_./-]{0,199}$")
OFFLINE_MESSAGE = (
    "Hub downloads are off: this app runs offline (HF_HUB_OFFLINE=1). "
    "Download the adapter folder elsewhere and attach it as a folder or a zip."
)


def hub_root(settings: Settings) -> Path:
    """Where Hub downloads are cached (``snapshot_download(cache_dir=...)``)."""
    return settings.cache_dir / "hub"


def check_repo_id(repo_id: str) -> str:
    """'owner/name' with the Hub's rules (letters, digits, '-', '_', '.'; at most 96 each; no '--' or '..')."""
    repo_id = (repo_id or "").strip()
    if not repo_id:
        raise AdapterSourceError("No Hub repo id given: write it as owner/name, e.g. 'my-org/my-lora'.")
    if not _REPO_ID.match(repo_id) or "--" in repo_id or ".." in repo_id or repo_id.endswith(".git"):
        raise AdapterSourceError(
            f"{repo_id!r} is not a Hub repo id: write it as owner/name, e.g. 'my-org/my-lora' "
            "(letters, digits, '-', '_' and '.'; no '--' or '..')."
        )
    return repo_id


def _check_revision(revision: str | None) -> str | None:
    revision = (revision or "").strip() or None
    if revision is not None and (not _REVISION.match(revision) or ".." in revision or revision.endswith("/")):
        raise AdapterSourceError(
            f"{revision!r} is not a usable revision: give a branch, tag or commit hash, or leave it empty for main."
        )
    return revision


def _connection_errors() -> tuple[type[BaseException], ...]:
    """Network failures of whichever HTTP client huggingface_hub uses (only loaded modules can raise)."""
    found: list[type[BaseException]] = [ConnectionError, TimeoutError]
    for module, names in (("httpx2", ("TransportError",)), ("httpx", ("TransportError",)),
                          ("requests", ("ConnectionError", "Timeout"))):
        mod = sys.modules.get(module)
        found += [getattr(mod, n) for n in names if mod is not None and hasattr(mod, n)]
    return tuple(found)


def _hub_error(exc: BaseException, repo_id: str, where: str) -> AdapterSourceError | None:
    """The one-line error for a failed snapshot_download, or None when it is not a known failure."""
    from huggingface_hub.errors import (
        EntryNotFoundError,
        GatedRepoError,
        HfHubHTTPError,
        LocalEntryNotFoundError,
        OfflineModeIsEnabled,
        RepositoryNotFoundError,
        RevisionNotFoundError,
    )

    unreachable = (
        f"Could not download {where} from the Hub ({{}}): check your network connection and try again, "
        "or attach a downloaded copy as a folder or a zip."
    )
    cause = exc.__cause__ or exc.__context__
    if isinstance(exc, OfflineModeIsEnabled) or isinstance(cause, OfflineModeIsEnabled):
        return AdapterSourceError(OFFLINE_MESSAGE)
    if isinstance(exc, GatedRepoError):
        return AdapterSourceError(
            f"Hub repo {repo_id} is gated: accept its terms on the Hub and set HF_TOKEN, or attach a downloaded copy."
        )
    if isinstance(exc, RepositoryNotFoundError):
        return AdapterSourceError(
            f"Hub repo {repo_id} was not found: check the id (a private repo also needs HF_TOKEN)."
        )
    if isinstance(exc, RevisionNotFoundError):
        return AdapterSourceError(
            f"Hub repo {repo_id} has no revision {where.partition('@')[2]!r}: "
            "give an existing branch, tag or commit, or leave the revision empty."
        )
    if isinstance(exc, LocalEntryNotFoundError):  # no network (or the Hub down) and nothing cached
        detail = f"{type(cause).__name__}: {first_line(cause)}" if cause else first_line(exc)
        return AdapterSourceError(unreachable.format(detail))
    if isinstance(exc, EntryNotFoundError):
        return AdapterSourceError(
            f"Hub repo {where} is missing a file it lists ({first_line(exc)}): try again later, or attach a downloaded copy."
        )
    if isinstance(exc, HfHubHTTPError):
        return AdapterSourceError(
            f"The Hub refused to send {where} ({first_line(exc)}): try again later (a private repo needs HF_TOKEN)."
        )
    if isinstance(exc, _connection_errors()):
        return AdapterSourceError(unreachable.format(f"{type(exc).__name__}: {first_line(exc)}"))
    if isinstance(exc, OSError):
        return AdapterSourceError(
            f"Could not save {where} on the server ({os_reason(exc)}): free disk space or set ADAPTERS_UI_CACHE_DIR."
        )
    return None


def download_hub_adapter(repo_id: str, revision: str | None, settings: Settings) -> Path:
    """Download an adapter repo's config and weights into ``<cache_dir>/hub``; return its folder.

    Only the files an adapter needs are fetched; pickled ``.bin`` weights only outside public mode.
    """
    import huggingface_hub.constants as hf_constants

    repo_id = check_repo_id(repo_id)
    revision = _check_revision(revision)
    if hf_constants.HF_HUB_OFFLINE:  # read now: tests and base_model.stay_offline() flip it at runtime
        raise AdapterSourceError(OFFLINE_MESSAGE)
    from huggingface_hub import snapshot_download

    where = f"{repo_id}@{revision}" if revision else repo_id
    patterns = [*HUB_FILES, *([] if settings.public else ["adapter_model.bin"])]
    try:
        folder = Path(snapshot_download(
            repo_id, revision=revision, allow_patterns=patterns, cache_dir=hub_root(settings),
        ))
    except Exception as exc:  # mapped to one line below; unknown failures propagate
        error = _hub_error(exc, repo_id, where)
        if error is None:
            raise
        raise error from exc
    if not (folder / CONFIG_FILE).is_file():
        raise AdapterSourceError(
            f"Hub repo {where} has no {CONFIG_FILE} at its top: give the repo that an adapter's push_to_hub() made."
        )
    if settings.public and not (folder / "adapter_model.safetensors").is_file():
        raise AdapterSourceError(
            f"Hub repo {where} has no adapter_model.safetensors, and public mode downloads no pickled .bin: "
            "use a repo with safetensors weights."
        )
    return folder


def attach_hub(session, repo_id: str, revision: str | None = None, name: str | None = None) -> AdapterInfo:
    """Download an adapter from the Hub and attach it; the default name is the repo's name part."""
    folder = download_hub_adapter(repo_id, revision, session.settings)
    repo_id, revision = check_repo_id(repo_id), _check_revision(revision)
    if not (name and name.strip()):
        name = adapter_name(repo_id.split("/", 1)[1])
    with shown_as(folder, f"{repo_id}@{revision}" if revision else repo_id):
        return session.attach(folder, name.strip())
