"""What visitors leave on the server (unpacked zips, bundles and mixes under ``<cache_dir>/uploads``, Hub
downloads): which adapters came from them, deleting one after its detach (or when public mode evicts it at the cap),
and clearing what an earlier run left at a server's start."""

from __future__ import annotations

import atexit
import logging
import shutil
from pathlib import Path

from adapters_ui.adapters.sources.hub import hub_root
from adapters_ui.adapters.sources.shown import os_reason
from adapters_ui.config import Settings

log = logging.getLogger(__name__)


def uploads_root(settings: Settings) -> Path:
    """Where visitors' zips, bundles and mixes are unpacked or saved, one fresh folder each."""
    return settings.cache_dir / "uploads"


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
        log.warning("could not clear old uploads in %s: %s", root, os_reason(exc))
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
