"""Where adapters come from besides a typed path: known folders, an uploaded zip, a Hub repo.

Each source ends in an ordinary adapter folder that ``Session.attach`` validates, so the
checks live in one place. Uploads are untrusted: a zip is unpacked only after every entry
is checked (no absolute or ``..`` paths, no links, bounded count and size), into a fresh
folder under ``<cache_dir>/uploads`` that is removed again if anything fails. Errors name
the upload by its own file name (or the Hub repo by its id), never by a folder on the server.

    >>> adapter_folder_choices(Settings())[0]                   # doctest: +SKIP
    ('bullets  (assets/adapters)', '/.../assets/adapters/bullets')
    >>> attach_zip(session, "/tmp/gradio/ab12/pirate.zip").name  # doctest: +SKIP
    'pirate'
"""

from __future__ import annotations

import atexit
import logging
import re
import shutil
import stat
import sys
import tempfile
import zipfile
import zlib
from contextlib import contextmanager
from pathlib import Path

from adapters_ui.adapters import demo
from adapters_ui.adapters.validation import name_from_folder
from adapters_ui.config import Settings
from adapters_ui.errors import AdapterSourceError, AdaptersUIError, first_line
from adapters_ui.formatting import format_bytes
from adapters_ui.records import AdapterInfo

log = logging.getLogger(__name__)

CONFIG_FILE = "adapter_config.json"
MAX_ZIP_ENTRIES = 1000
# Room for the config, README and tokenizer files next to weights of up to max_adapter_bytes.
ZIP_ALLOWANCE_BYTES = 1024**2
_CHUNK = 1024**2
_IGNORED_DIRS = {"__MACOSX"}  # resource forks macOS Finder adds to every zip
_IGNORED_FILES = {".DS_Store"}

HUB_FILES = ("adapter_config.json", "adapter_model.safetensors", "README.md")
_HUB_PART = r"[A-Za-z0-9_](?:[A-Za-z0-9_.-]{0,94}[A-Za-z0-9_])?"  # HF: no leading/trailing '-' or '.', <= 96
_REPO_ID = re.compile(rf"^{_HUB_PART}/{_HUB_PART}$")
_REVISION = re.compile(r"^[A-Za-z0-9_][A-Za-z0-9_./-]{0,199}$")
OFFLINE_MESSAGE = (
    "Hub downloads are off: this app runs offline (HF_HUB_OFFLINE=1). "
    "Download the adapter folder elsewhere and attach it as a folder or a zip."
)


def adapter_name(text: str) -> str:
    """A valid adapter name from any text (a zip stem, a repo name): 'My LoRA v1.2' -> 'My_LoRA_v1_2'."""
    return name_from_folder(Path(text))


# ---- known folders ---------------------------------------------------------------------


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


# ---- uploaded zips -----------------------------------------------------------------------


def _upload_label(zip_path: str | Path) -> str:
    """The uploaded file's own name (gradio keeps it), never the temp folder it waits in."""
    return Path(zip_path).name or "(unnamed upload)"


def _os_reason(exc: OSError) -> str:
    """Why a file operation failed, without the path it failed on ('No space left on device')."""
    return exc.strerror or type(exc).__name__


@contextmanager
def _shown_as(folder: Path, shown: str):
    """Errors raised inside name ``shown`` where they would name the server folder ``folder``:
    '/srv/cache/uploads/tmpab12/a/adapter_config.json is not valid JSON' -> 'pirate.zip/a/adapter_config.json ...'."""
    try:
        yield
    except AdaptersUIError as exc:
        message = str(exc)
        if str(folder) not in message:
            raise
        raise type(exc)(message.replace(str(folder), shown)) from None


def _entry_parts(name: str) -> tuple[str, ...] | None:
    """The path parts of a zip entry, or None when it would land outside the target folder."""
    name = name.replace("\\", "/")  # zips made on Windows may use backslashes
    if name.startswith("/") or re.match(r"^[A-Za-z]:", name):
        return None
    parts = tuple(p for p in name.split("/") if p not in ("", "."))
    return None if ".." in parts else parts


def _ignored(parts: tuple[str, ...]) -> bool:
    return any(p in _IGNORED_DIRS for p in parts) or (bool(parts) and parts[-1] in _IGNORED_FILES)


def _check_entries(label: str, archive: zipfile.ZipFile, limit: int,
                   marker: str = CONFIG_FILE) -> tuple[list, tuple[str, ...]]:
    """Every entry checked before anything is written: returns (files to write, the parts of the one folder
    holding ``marker``: adapter_config.json, or a bundle's manifest)."""
    infos = archive.infolist()
    if len(infos) > MAX_ZIP_ENTRIES:
        raise AdapterSourceError(
            f"{label} has {len(infos):,} entries, more than the {MAX_ZIP_ENTRIES:,} allowed: "
            "zip only the adapter folder (adapter_config.json and its weights)."
        )
    files: list[tuple[zipfile.ZipInfo, tuple[str, ...]]] = []
    for info in infos:
        parts = _entry_parts(info.filename)
        if parts is None:
            raise AdapterSourceError(
                f"{label} holds an unsafe path {info.filename!r} (absolute or with '..'): "
                "zip the adapter folder itself so every path inside is relative."
            )
        kind = stat.S_IFMT(info.external_attr >> 16)
        if kind not in (0, stat.S_IFREG, stat.S_IFDIR):
            what = "a symlink" if kind == stat.S_IFLNK else "a special file"
            raise AdapterSourceError(
                f"{label} holds {info.filename!r}, {what}, which is refused: zip the adapter's real files, not links."
            )
        if info.flag_bits & 0x1:
            raise AdapterSourceError(f"{label} is password-protected: upload a .zip without a password.")
        if info.is_dir() or kind == stat.S_IFDIR or not parts or _ignored(parts):
            continue
        files.append((info, parts))
    if not files:
        raise AdapterSourceError(
            f"{label} is empty: upload a .zip of the adapter folder (the folder that holds {CONFIG_FILE})."
        )
    declared = sum(info.file_size for info, _ in files)
    if declared > limit:
        raise AdapterSourceError(
            f"{label} unpacks to {format_bytes(declared)}, over the {format_bytes(limit)} allowed: "
            "zip only the adapter folder, or raise ADAPTERS_UI_MAX_ADAPTER_BYTES."
        )
    folders = sorted({parts[:-1] for _, parts in files if parts[-1] == marker})
    if marker != CONFIG_FILE and len(folders) != 1:
        raise AdapterSourceError(f"{label} holds {len(folders) or 'no'} {marker}: give one bundle .zip that "
                                 "'Save all as a bundle' or 'bundle save' wrote.")
    if not folders:
        raise AdapterSourceError(f"{label} has no {CONFIG_FILE}: zip the folder that save_pretrained() wrote.")
    if len(folders) > 1:
        names = ", ".join("/".join(f) or "(top level)" for f in folders[:5]) + (", ..." if len(folders) > 5 else "")
        raise AdapterSourceError(f"{label} holds {len(folders)} adapters ({names}): upload one adapter per zip.")
    return files, folders[0]


def _write_entries(label: str, archive: zipfile.ZipFile, files: list, top: Path, limit: int) -> None:
    """Unpack checked entries, counting real bytes: a zip may lie about its sizes.

    (CPython's zipfile also stops each entry at its declared size and then fails its CRC
    check; the count keeps the cap true whatever the reader does.)"""
    written = 0
    for info, parts in files:
        target = top.joinpath(*parts)
        target.parent.mkdir(parents=True, exist_ok=True)
        with archive.open(info) as src, open(target, "xb") as dst:
            while chunk := src.read(_CHUNK):
                written += len(chunk)
                if written > limit:
                    raise AdapterSourceError(
                        f"{label} unpacks to more than the {format_bytes(limit)} allowed: "
                        "zip only the adapter folder, or raise ADAPTERS_UI_MAX_ADAPTER_BYTES."
                    )
                dst.write(chunk)


def _extract(zip_path: str | Path, dest_root: Path, max_bytes: int, marker: str = CONFIG_FILE) -> tuple[Path, Path]:
    """(the new temp folder, the folder inside it holding ``marker``); nothing is left behind on failure."""
    zip_path = Path(zip_path)
    label = _upload_label(zip_path)
    limit = max_bytes + ZIP_ALLOWANCE_BYTES
    try:
        archive = zipfile.ZipFile(zip_path)
    except (FileNotFoundError, IsADirectoryError):
        raise AdapterSourceError(f"Zip file {label} not found: upload the .zip of the adapter folder again.") from None
    except (zipfile.BadZipFile, EOFError, ValueError, OSError):
        raise AdapterSourceError(
            f"{label} is not a zip file: upload a .zip of the adapter folder (the folder that holds {CONFIG_FILE})."
        ) from None
    with archive:
        files, adapter_parts = _check_entries(label, archive, limit, marker)
        try:
            Path(dest_root).mkdir(parents=True, exist_ok=True)
            top = Path(tempfile.mkdtemp(dir=dest_root)).resolve()
        except OSError as exc:
            raise AdapterSourceError(
                f"Could not unpack {label} on the server ({_os_reason(exc)}): free disk space or set ADAPTERS_UI_CACHE_DIR."
            ) from None
        try:
            _write_entries(label, archive, files, top, limit)
        except BaseException as exc:
            shutil.rmtree(top, ignore_errors=True)
            if isinstance(exc, AdapterSourceError):
                raise
            if isinstance(exc, (FileExistsError, NotADirectoryError, IsADirectoryError)):
                raise AdapterSourceError(
                    f"{label} holds the same path twice (or as both a file and a folder): zip the adapter folder again."
                ) from None
            if isinstance(exc, (zipfile.BadZipFile, zlib.error, EOFError)):
                raise AdapterSourceError(
                    f"{label} is damaged ({first_line(exc)}): zip the adapter folder again and upload the new .zip."
                ) from None
            if isinstance(exc, NotImplementedError):
                raise AdapterSourceError(
                    f"{label} uses a compression Python cannot read ({first_line(exc)}): zip it again with standard (deflate) compression."
                ) from None
            if isinstance(exc, OSError):
                raise AdapterSourceError(
                    f"Could not unpack {label} on the server ({_os_reason(exc)}): free disk space or set ADAPTERS_UI_CACHE_DIR."
                ) from None
            raise
    return top, top.joinpath(*adapter_parts)


def extract_adapter_zip(zip_path: str | Path, dest_root: Path, max_bytes: int) -> Path:
    """Unpack an uploaded zip into a new folder under ``dest_root``; return the folder holding adapter_config.json.

    Accepts the adapter's files at the top of the zip or inside one (possibly nested) folder.
    Raises AdapterSourceError, and removes what it unpacked, on any unsafe or unusable zip.
    """
    return _extract(zip_path, dest_root, max_bytes)[1]


def extract_bundle_zip(zip_path: str | Path, dest_root: Path, max_bytes: int, manifest: str) -> tuple[Path, Path]:
    """Unpack a bundle zip with the same checks as an adapter zip (paths, links, count, real bytes up to
    ``max_bytes``): (the new folder under ``dest_root``, the folder in it holding ``manifest``)."""
    return _extract(zip_path, dest_root, max_bytes, marker=manifest)


def uploads_root(settings: Settings) -> Path:
    return settings.cache_dir / "uploads"


def attach_zip(session, zip_path: str | Path, name: str | None = None) -> AdapterInfo:
    """Unpack an uploaded zip under ``<cache_dir>/uploads`` and attach it; on failure nothing stays behind.

    Default name: the adapter folder's name, or the zip's own name when the files sit at its top
    (gradio keeps the uploaded file's name).
    """
    settings = session.settings
    top, folder = _extract(zip_path, uploads_root(settings), settings.max_adapter_bytes)
    try:
        if not (name and name.strip()):
            name = adapter_name(Path(zip_path).stem if folder == top else folder.name)
        with _shown_as(top, _upload_label(zip_path)):
            return session.attach(folder, name.strip())
    except BaseException:
        shutil.rmtree(top, ignore_errors=True)
        raise


_HELD: dict[Path, object] = {}  # uploads folder -> the open lock file that marks it as this server's


def clear_stale_uploads(settings: Settings) -> int:
    """At a server's start: delete what earlier runs left in the uploads folder (unpacked zips, bundles, mixes), which
    nothing attaches any more; the number of folders deleted. A restart forgets who uploaded what under which name,
    so the files are only clutter (see the README). The folder is then locked for this process's life, and a second
    server started on the same cache folder deletes nothing of the first's."""
    root = uploads_root(settings)
    try:
        root.mkdir(parents=True, exist_ok=True)
        if root.resolve() not in _HELD:
            lock = open(root / ".lock", "a")  # noqa: SIM115 - held open until the process ends
            try:
                import fcntl

                fcntl.flock(lock, fcntl.LOCK_EX | fcntl.LOCK_NB)
            except ImportError:  # no flock (Windows): one server per cache folder, as usual
                pass
            except OSError:  # another live server uses this cache folder: its uploads stay
                lock.close()
                log.info("uploads in %s are another running server's: kept", root)
                return 0
            _HELD[root.resolve()] = lock
            atexit.register(lock.close)
        stale = [entry for entry in root.iterdir() if entry.name != ".lock"]
    except OSError as exc:
        log.warning("could not clear old uploads in %s: %s", root, _os_reason(exc))
        return 0
    for entry in stale:
        if entry.is_dir() and not entry.is_symlink():
            shutil.rmtree(entry, ignore_errors=True)
        else:
            entry.unlink(missing_ok=True)
    if stale:
        log.info("deleted %d upload(s) left by an earlier run (a restart detaches them)", len(stale))
    return len(stale)


def remove_upload(path: str | Path, settings: Settings) -> bool:
    """Delete the unpacked upload that ``path`` lies in (call after detaching it); nothing outside uploads.

    Returns whether something was deleted. Paths are resolved first, so links and '..' cannot
    point it elsewhere.
    """
    root = uploads_root(settings).resolve()
    try:
        rel = Path(path).expanduser().resolve().relative_to(root)
    except (ValueError, OSError):
        return False
    if not rel.parts:
        return False  # the uploads folder itself
    top = root / rel.parts[0]
    if top.is_symlink() or not top.is_dir():
        return False
    shutil.rmtree(top)
    return True


# ---- the Hugging Face Hub ------------------------------------------------------------------


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
            f"Could not save {where} on the server ({_os_reason(exc)}): free disk space or set ADAPTERS_UI_CACHE_DIR."
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
            repo_id, revision=revision, allow_patterns=patterns, cache_dir=settings.cache_dir / "hub",
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
    with _shown_as(folder, f"{repo_id}@{revision}" if revision else repo_id):
        return session.attach(folder, name.strip())


# ---- visitor files: what public mode evicts at the cap ---------------------------------------------


def hub_root(settings: Settings) -> Path:
    """Where Hub downloads are cached (``snapshot_download(cache_dir=...)``)."""
    return settings.cache_dir / "hub"


def _visitor_folder(path: str | Path, settings: Settings) -> tuple[str, Path] | None:
    """("upload", its folder under uploads) for an unpacked zip or a mix, ("hub", its snapshot folder) for a Hub
    download; None for every other adapter (the shipped demo set, listed folders, typed paths)."""
    try:
        folder = Path(path).expanduser().resolve()
    except OSError:
        return None
    for kind, root, depth in (("upload", uploads_root(settings), 1), ("hub", hub_root(settings), 3)):
        try:
            root = root.resolve()
            rel = folder.relative_to(root)
        except (ValueError, OSError):
            continue
        if len(rel.parts) >= depth and (kind == "upload" or rel.parts[1] == "snapshots"):
            return kind, root.joinpath(*rel.parts[:depth])
    return None


def is_visitor_upload(path: str | Path, settings: Settings) -> bool:
    """Whether the adapter at ``path`` came from a visitor (a zip upload, a Hub download or a mix)."""
    return _visitor_folder(path, settings) is not None


def remove_visitor_upload(path: str | Path, settings: Settings, keep: list[str] | tuple = ()) -> bool:
    """Delete the files a visitor's adapter came in (its unpacked upload or mix, or its Hub revision), unless an
    adapter at one of the ``keep`` paths (the ones still attached) lies in the same folder; whether it deleted."""
    found = _visitor_folder(path, settings)
    if found is None or any(_visitor_folder(other, settings) == found for other in keep):
        return False
    kind, folder = found
    if kind == "upload":
        return remove_upload(path, settings)
    return _remove_hub_revision(folder)


def _remove_hub_revision(snapshot: Path) -> bool:
    """Delete one downloaded revision through huggingface_hub's cache clean-up (its blobs go too unless another
    revision shares them); a cache it cannot read loses the snapshot folder only."""
    from huggingface_hub import scan_cache_dir

    try:
        scan_cache_dir(snapshot.parents[2]).delete_revisions(snapshot.name).execute()
    except Exception:  # noqa: BLE001 - CacheNotFound, a corrupted cache: fall back to the folder itself
        shutil.rmtree(snapshot, ignore_errors=True)
    return not snapshot.exists()
