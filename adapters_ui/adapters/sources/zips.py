"""Uploaded zips, untrusted: unpacked only after every entry is checked (no absolute or ``..`` paths, no links,
bounded count and size), into a fresh folder under ``<cache_dir>/uploads`` that is removed again if anything fails.
Errors name the upload by its own file name, never by a folder on the server.

    >>> attach_zip(session, "/tmp/gradio/ab12/pirate.zip").name  # doctest: +SKIP
    'pirate'
"""

from __future__ import annotations

import re
import shutil
import stat
import tempfile
import zipfile
import zlib
from pathlib import Path

from adapters_ui.adapters.sources.folders import CONFIG_FILE, adapter_name
from adapters_ui.adapters.sources.shown import os_reason, shown_as
from adapters_ui.adapters.sources.uploads import uploads_root
from adapters_ui.errors import AdapterSourceError, first_line
from adapters_ui.formatting import format_bytes
from adapters_ui.records import AdapterInfo

MAX_ZIP_ENTRIES = 1000
# Room for the config, README and tokenizer files next to weights of up to max_adapter_bytes.
ZIP_ALLOWANCE_BYTES = 1024**2
_CHUNK = 1024**2
_IGNORED_DIRS = {"__MACOSX"}  # resource forks macOS Finder adds to every zip
_IGNORED_FILES = {".DS_Store"}


def _upload_label(zip_path: str | Path) -> str:
    """The uploaded file's own name (gradio keeps it), never the temp folder it waits in."""
    return Path(zip_path).name or "(unnamed upload)"


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
                f"Could not unpack {label} on the server ({os_reason(exc)}): free disk space or set ADAPTERS_UI_CACHE_DIR."
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
                    f"Could not unpack {label} on the server ({os_reason(exc)}): free disk space or set ADAPTERS_UI_CACHE_DIR."
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
        with shown_as(top, _upload_label(zip_path)):
            return session.attach(folder, name.strip())
    except BaseException:
        shutil.rmtree(top, ignore_errors=True)
        raise
