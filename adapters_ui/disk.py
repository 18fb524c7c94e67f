"""Files on disk, torch-free: one SHA-256, and folders written beside their target then published in one rename.

Every writer of a folder (merges, bundles, the dequantized GGUF cache) stages it with ``staged`` so that a
failure never leaves half a folder; every weights file and GGUF base is hashed with ``file_sha256``.
"""

from __future__ import annotations

import hashlib
import os
import shutil
import tempfile
from contextlib import contextmanager
from pathlib import Path
from typing import Iterator


def file_sha256(path: Path, chunk: int = 1 << 20) -> str:
    """Hex SHA-256 of a file, read in 1 MiB pieces (weights files and GGUF bases can be gigabytes)."""
    digest = hashlib.sha256()
    with open(path, "rb") as handle:
        while block := handle.read(chunk):
            digest.update(block)
    return digest.hexdigest()


@contextmanager
def staged(target: Path, prefix: str | None = None, publish: bool = True) -> Iterator[Path]:
    """A new staging folder beside ``target`` to write into; when the block ends well it is published as ``target``
    in one rename (``publish=False``: the block publishes something else, e.g. a zip of it), and whatever happens it
    is gone afterwards, so a failure never leaves half a folder, at ``target`` or beside it."""
    target = Path(target)
    target.parent.mkdir(parents=True, exist_ok=True)
    stage = Path(tempfile.mkdtemp(prefix=prefix or f".{target.name}-staging-", dir=target.parent))
    try:
        yield stage
        if publish:
            move_into_place(stage, target)
    finally:
        shutil.rmtree(stage, ignore_errors=True)


def move_into_place(staging: Path, target: Path) -> None:
    """Publish a folder written in ``staging`` as ``target`` in one rename, with the usual permissions; ``target``
    may exist only as an empty folder (callers check that first), so a failure never leaves half a folder."""
    usual_permissions(staging)
    if target.is_dir():
        target.rmdir()
    os.replace(staging, target)


def usual_permissions(folder: Path) -> None:
    """Give ``folder`` and its files what a plain mkdir and open would (mkdtemp makes a folder private, some
    writers their files), so that a server process of another user can read what was written there."""
    umask = _umask()
    folder.chmod(0o777 & ~umask)
    for path in folder.iterdir():
        if path.is_file():
            path.chmod(0o666 & ~umask)


def _umask() -> int:
    """The process's umask, read without changing it where /proc tells it (os.umask sets it, racing other threads)."""
    try:
        for line in Path("/proc/self/status").read_text().splitlines():
            if line.startswith("Umask:"):
                return int(line.split()[1], 8)
    except (OSError, ValueError):
        pass
    umask = os.umask(0o022)
    os.umask(umask)
    return umask
