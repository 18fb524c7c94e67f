"""Bundles: every attached adapter, each under its own name, in one folder or ``.zip`` with a manifest,
reattached in one step.

    <bundle>/bundle.json                   format, version, created-at, base model, and per adapter: name,
                                           type, method, rank, sizes, and each file's bytes and SHA-256
    <bundle>/<name>/adapter_config.json    the attached adapter's own files, copied byte for byte
    <bundle>/<name>/adapter_model.safetensors
    <bundle>/<name>/mix.json               (a weighted mix only: how it was made)

    >>> session.save_bundle("team.zip").names                  # doctest: +SKIP
    ['pirate', 'json_answer', 'bullets']
    >>> [info.name for info in other.attach_bundle("team.zip")]  # doctest: +SKIP
    ['pirate', 'json_answer', 'bullets']

Why copies of the files, not ``save_pretrained``: a PeftModel saves only its active adapter, and the copy
keeps each weights file's SHA-256 the same as when it was attached (a saved comparison names it).
Reattaching checks everything before attaching anything (manifest, every file's size and SHA-256, the base
model, names already taken, caps) and attaches all or none. A bundle made on another base is refused: its
adapters might load (same architecture) but their outputs would mean nothing.
"""

from __future__ import annotations

import json
import os
import re
import shutil
import tempfile
import uuid
import zipfile
from contextlib import contextmanager
from dataclasses import asdict, dataclass, field
from datetime import datetime, timezone
from pathlib import Path

from adapters_ui.adapters.validation import read_config
from adapters_ui.config import Settings
from adapters_ui.disk import file_sha256, staged
from adapters_ui.errors import AdaptersUIError, BundleError
from adapters_ui.formatting import format_bytes
from adapters_ui.model.base import BaseSource, same_model
from adapters_ui.names import ADAPTER_NAME

MANIFEST = "bundle.json"
FORMAT = "adapters_ui bundle"
VERSION = 1
CONFIG_FILE = "adapter_config.json"
WEIGHTS_FILES = ("adapter_model.safetensors", "adapter_model.bin")
EXTRA_FILES = ("mix.json",)  # copied along when the adapter's folder has it
BUNDLE_FILES = (CONFIG_FILE, *WEIGHTS_FILES, *EXTRA_FILES)
_IGNORED = {".DS_Store", "__MACOSX"}
_SHA256 = re.compile(r"^[0-9a-f]{64}$")
_AGAIN = "save the bundle again, or get an intact copy"


@dataclass(frozen=True)
class BundleFile:
    name: str
    bytes: int
    sha256: str


@dataclass(frozen=True)
class BundleAdapter:
    """One adapter of a bundle, as its manifest describes it."""

    name: str
    peft_type: str
    method: str
    rank: int | None
    virtual_tokens: int | None
    alpha: float | None
    target_modules: list[str]
    params: int
    dtype: str
    bytes: int  # its size: its weights file's bytes (``records.AdapterStorage``), the same as when attached
    made_for: str | None  # base_model_name_or_path from its config
    mix: dict | None  # a weighted mix's recipe (method, weights, density), else None
    files: list[BundleFile]

    @property
    def weights(self) -> BundleFile:
        return next(f for f in self.files if f.name in WEIGHTS_FILES)


@dataclass(frozen=True)
class Manifest:
    """What ``bundle.json`` holds."""

    created_at: str
    base_model: dict  # {"name", "kind", "location"}: location is a hub id or a file/folder name, never a server path
    adapters: list[BundleAdapter]
    format: str = FORMAT
    version: int = VERSION
    total_bytes: int = 0
    extra: dict = field(default_factory=dict)  # keys a newer writer added, kept when read

    @property
    def names(self) -> list[str]:
        return [a.name for a in self.adapters]

    @property
    def base_name(self) -> str:
        return str(self.base_model.get("name", ""))

    def to_dict(self) -> dict:
        return {"format": self.format, "version": self.version, "created_at": self.created_at,
                "base_model": self.base_model, "total_bytes": self.total_bytes,
                "adapters": [asdict(a) for a in self.adapters], **self.extra}


# ---- saving ---------------------------------------------------------------------------------------------


def base_entry(source: BaseSource) -> dict:
    """The base model as a manifest names it: a hub id as is, a file or folder by its own name only."""
    location = source.location if source.kind == "hub" else Path(source.location).name
    return {"name": source.name, "kind": source.kind, "location": location}


def check_target(target: str | Path) -> Path:
    """Where a bundle may be written: a ``.zip`` path that does not exist yet, or a new or empty folder."""
    target = Path(target).expanduser()
    if target.is_file() or (target.exists() and target.suffix.lower() == ".zip"):
        raise BundleError(f"{target} already exists: choose a new path for the bundle, or delete the old one.")
    if target.is_dir() and any(target.iterdir()):
        raise BundleError(f"Folder {target} is not empty: give a new or empty folder (or a .zip path) for the bundle.")
    return target


def write_bundle(target: str | Path, adapters: list, base: BaseSource) -> Manifest:
    """Write ``adapters`` ([(AdapterInfo, AdapterSpec)], as attached) to ``target``: a ``.zip`` path, else a
    folder (new, or empty). Written beside the target first and moved into place at the end, so a failure
    leaves nothing behind."""
    if not adapters:
        raise BundleError("No adapters are attached: attach at least one, then save the bundle.")
    target = check_target(target)
    as_zip = target.suffix.lower() == ".zip"
    packed = target.with_name(f".{target.name}.{uuid.uuid4().hex[:8]}.partial")
    stage = None
    try:
        # A folder bundle is published as the (empty, checked above) target; a zip bundle is packed from it.
        with staged(target, prefix=".bundle-", publish=not as_zip) as stage:
            entries = [_copy_adapter(info, spec, stage / info.name) for info, spec in adapters]
            manifest = Manifest(created_at=datetime.now(timezone.utc).isoformat(timespec="seconds"),
                                base_model=base_entry(base), adapters=entries, total_bytes=sum(a.bytes for a in entries))
            (stage / MANIFEST).write_text(json.dumps(manifest.to_dict(), indent=1) + "\n", encoding="utf-8")
            if as_zip:
                _zip_folder(stage, packed)
                os.replace(packed, target)
    except OSError as exc:
        if stage is None:  # no staging folder could be made
            raise BundleError(f"Cannot write the bundle beside {target} ({exc.strerror or type(exc).__name__}): "
                              "choose a folder you can write to.") from None
        raise BundleError(f"Could not write the bundle {target.name} ({exc.strerror or type(exc).__name__}): "
                          "free disk space or choose another place.") from None
    finally:
        packed.unlink(missing_ok=True)
    return manifest


def _copy_adapter(info, spec, dest: Path) -> BundleAdapter:
    """Copy one attached adapter's files; the copy must be what was attached (weights SHA-256, config)."""
    dest.mkdir()
    sources = [spec.path / CONFIG_FILE, spec.weights_file,
               *[spec.path / extra for extra in EXTRA_FILES if (spec.path / extra).is_file()]]
    again = "attach it again, then save the bundle"
    for source in sources:
        try:
            if source.name == "mix.json":
                _copy_recipe(source, dest / source.name)
            else:
                shutil.copyfile(source, dest / source.name)
        except FileNotFoundError:
            raise BundleError(f"Adapter {info.name!r}: its {source.name} is gone from disk since it was attached: {again}.") from None
    files = [BundleFile(p.name, p.stat().st_size, file_sha256(p)) for p in (dest / s.name for s in sources)]
    weights = files[1]
    if info.sha256 and weights.sha256 != info.sha256:
        raise BundleError(f"Adapter {info.name!r}: its {weights.name} changed on disk since it was attached: {again}.")
    if read_config(dest).to_dict() != spec.config.to_dict():
        raise BundleError(f"Adapter {info.name!r}: its {CONFIG_FILE} changed on disk since it was attached: {again}.")
    mix = None
    if (dest / "mix.json").is_file():
        recipe = json.loads((dest / "mix.json").read_text(encoding="utf-8"))
        mix = {key: recipe.get(key) for key in ("method", "weights", "density")}
    return BundleAdapter(
        name=info.name, peft_type=info.peft_type, method=info.method, rank=info.rank,
        virtual_tokens=info.virtual_tokens, alpha=info.alpha, target_modules=list(info.target_modules),
        params=info.params, dtype=info.dtype, bytes=weights.bytes, made_for=info.base_model,
        mix=mix, files=files,
    )


def _copy_recipe(source: Path, dest: Path) -> None:
    """A mix's recipe with each source's path cut to its folder name: a bundle downloaded from a public page
    must not show the server's folders (the SHA-256s still say exactly which weights were mixed)."""
    try:
        recipe = json.loads(source.read_text(encoding="utf-8"))
        for entry in (recipe.get("sources") or {}).values():
            if isinstance(entry, dict) and entry.get("path"):
                entry["path"] = Path(entry["path"]).name
    except (json.JSONDecodeError, UnicodeDecodeError, AttributeError):
        shutil.copyfile(source, dest)  # not ours to fix: carried as it is
        return
    dest.write_text(json.dumps(recipe, indent=1), encoding="utf-8")


def _zip_folder(folder: Path, out: Path) -> None:
    """Weights stored as they are (they barely compress; deflating gigabytes costs minutes), JSON deflated."""
    with zipfile.ZipFile(out, "w") as archive:
        for path in sorted(p for p in folder.rglob("*") if p.is_file()):
            packed = zipfile.ZIP_STORED if path.name in WEIGHTS_FILES else zipfile.ZIP_DEFLATED
            archive.write(path, path.relative_to(folder).as_posix(), compress_type=packed)


# ---- reading and checking -------------------------------------------------------------------------------


def is_bundle_zip(path: str | Path) -> bool:
    """Whether a zip holds a bundle manifest (at its top, or inside one folder); False for anything unreadable."""
    try:
        with zipfile.ZipFile(path) as archive:
            names = archive.namelist()
    except (OSError, zipfile.BadZipFile, EOFError, ValueError):
        return False
    parts = (tuple(p for p in n.replace("\\", "/").split("/") if p) for n in names)
    return any(p and p[-1] == MANIFEST and len(p) <= 2 for p in parts)


@contextmanager
def opened(path: str | Path, root: Path, max_bytes: int):
    """(the bundle folder, the label errors name it by) for a bundle folder or ``.zip``; a zip is unpacked
    under ``root`` with the upload checks of ``sources`` and removed again on leaving."""
    from adapters_ui.adapters.sources import extract_bundle_zip

    if not str(path).strip():
        raise BundleError("No bundle given: give a bundle folder or .zip that 'bundle save' wrote.")
    path = Path(path).expanduser()
    if path.is_dir():
        yield path, str(path)
        return
    if not path.exists():
        raise BundleError(f"Bundle not found: {path}. Give a bundle folder or .zip that 'bundle save' wrote.")
    if not zipfile.is_zipfile(path):
        raise BundleError(f"{path.name} is neither a bundle folder nor a .zip: give what 'bundle save' or "
                          "'Save all as a bundle' wrote.")
    top, folder = extract_bundle_zip(path, root, max_bytes, MANIFEST)
    try:
        yield folder, path.name
    finally:
        shutil.rmtree(top, ignore_errors=True)


def read_manifest(folder: Path, label: str) -> Manifest:
    """Parse and check ``bundle.json``: one BundleError naming what is wrong."""
    where = f"{label}/{MANIFEST}"
    file = Path(folder) / MANIFEST
    if not file.is_file():
        raise BundleError(f"{label} has no {MANIFEST}: give a bundle folder or .zip that 'bundle save' wrote.")
    try:
        raw = json.loads(file.read_text(encoding="utf-8"))
    except (json.JSONDecodeError, UnicodeDecodeError):
        raise BundleError(f"{where} is not valid JSON: {_AGAIN}.") from None

    def need(ok: bool, what: str) -> None:
        if not ok:
            raise BundleError(f"{where} {what}: {_AGAIN}.")

    need(isinstance(raw, dict) and raw.get("format") == FORMAT, f"is not an adapters_ui bundle manifest (no \"format\": \"{FORMAT}\")")
    version = raw.get("version")
    need(isinstance(version, int) and version >= 1, "has no usable version")
    if version > VERSION:
        raise BundleError(f"{label} is a version-{version} bundle; this adapters_ui reads version {VERSION}: upgrade adapters_ui.")
    base = raw.get("base_model")
    need(isinstance(base, dict) and isinstance(base.get("name"), str) and base["name"].strip(), "names no base model")
    items = raw.get("adapters")
    need(isinstance(items, list) and items, "lists no adapters")
    adapters, seen = [], set()
    for item in items:
        name = item.get("name") if isinstance(item, dict) else None
        need(isinstance(name, str) and bool(ADAPTER_NAME.match(name)), f"has an adapter without a usable name ({name!r})")
        need(name not in seen, f"lists the adapter {name!r} twice")
        seen.add(name)
        files = item.get("files")
        need(isinstance(files, list) and files, f"lists no files for {name!r}")
        parsed = []
        for entry in files:
            ok = (isinstance(entry, dict) and entry.get("name") in BUNDLE_FILES and isinstance(entry.get("bytes"), int)
                  and entry["bytes"] >= 0 and isinstance(entry.get("sha256"), str) and bool(_SHA256.match(entry["sha256"])))
            need(ok, f"has a file entry for {name!r} that is not one of {', '.join(BUNDLE_FILES)} with bytes and sha256")
            parsed.append(BundleFile(entry["name"], entry["bytes"], entry["sha256"]))
        names = [f.name for f in parsed]
        need(len(set(names)) == len(names) and CONFIG_FILE in names and sum(n in WEIGHTS_FILES for n in names) == 1,
             f"must list {name!r}'s {CONFIG_FILE} and one weights file, once each")
        try:
            adapters.append(BundleAdapter(
                name=name, peft_type=str(item["peft_type"]), method=str(item.get("method") or item["peft_type"]),
                rank=item.get("rank"), virtual_tokens=item.get("virtual_tokens"), alpha=item.get("alpha"),
                target_modules=list(item.get("target_modules") or []), params=int(item.get("params") or 0),
                dtype=str(item.get("dtype") or ""), bytes=next(f.bytes for f in parsed if f.name in WEIGHTS_FILES),
                made_for=item.get("made_for"),
                mix=item.get("mix") if isinstance(item.get("mix"), dict) else None, files=parsed,
            ))
        except (KeyError, TypeError, ValueError):
            need(False, f"describes {name!r} without a peft_type (or with unusable numbers)")
    known = {"format", "version", "created_at", "base_model", "total_bytes", "adapters"}
    return Manifest(created_at=str(raw.get("created_at") or ""), base_model=base, adapters=adapters, version=version,
                    total_bytes=sum(a.bytes for a in adapters), extra={k: v for k, v in raw.items() if k not in known})


def verify_files(folder: Path, manifest: Manifest, label: str) -> None:
    """Every listed file is there with its size and SHA-256, and nothing unlisted sits beside them."""
    folder = Path(folder)
    listed = {MANIFEST, *manifest.names}
    extra = sorted(p.name for p in folder.iterdir() if p.name not in listed and p.name not in _IGNORED)
    if extra:
        raise BundleError(f"{label} holds {extra[0]}, which {MANIFEST} does not list: {_AGAIN}.")
    for adapter in manifest.adapters:
        sub = folder / adapter.name
        if not sub.is_dir() or sub.is_symlink():
            raise BundleError(f"{label} has no folder {adapter.name}/ though {MANIFEST} lists it: {_AGAIN}.")
        names = {f.name for f in adapter.files}
        extra = sorted(p.name for p in sub.iterdir() if p.name not in names and p.name not in _IGNORED)
        if extra:
            raise BundleError(f"{label}: {adapter.name}/{extra[0]} is not listed in {MANIFEST}: {_AGAIN}.")
        for entry in adapter.files:
            path, shown = sub / entry.name, f"{adapter.name}/{entry.name}"
            if not path.is_file() or path.is_symlink():
                raise BundleError(f"{label} is missing {shown}, which {MANIFEST} lists: {_AGAIN}.")
            size = path.stat().st_size
            if size != entry.bytes:
                raise BundleError(f"{label}: {shown} is {size:,} bytes, {MANIFEST} says {entry.bytes:,} "
                                  f"(changed or damaged after the bundle was made): {_AGAIN}.")
            if file_sha256(path) != entry.sha256:
                raise BundleError(f"{label}: {shown} does not match its SHA-256 in {MANIFEST} "
                                  f"(changed or damaged after the bundle was made): {_AGAIN}.")


def check_fits(manifest: Manifest, label: str, base_name: str, taken: set[str], settings: Settings) -> None:
    """Refuse, in one line, a bundle this session cannot take whole: another base, taken names, caps, pickles."""
    if not same_model(manifest.base_name, base_name):
        raise BundleError(f"{label} was made on {manifest.base_name}, but this session runs {base_name}: its adapters "
                          f"would mean nothing here; start with --base {manifest.base_name} (or ADAPTERS_UI_BASE_MODEL).")
    clashes = [name for name in manifest.names if name in taken]
    if clashes:
        its = "it" if len(clashes) == 1 else "them"
        raise BundleError(f"{label} holds {', '.join(clashes)}, already attached under the same name: detach {its} "
                          "first (nothing from the bundle was attached).")
    if len(taken) + len(manifest.adapters) > settings.max_adapters:
        raise BundleError(f"{label} holds {len(manifest.adapters)} adapters and {len(taken)} are attached, more than "
                          f"the {settings.max_adapters} allowed: detach some first (or raise ADAPTERS_UI_MAX_ADAPTERS).")
    for adapter in manifest.adapters:
        weights = adapter.weights
        if weights.bytes > settings.max_adapter_bytes:
            raise BundleError(f"{label}: {adapter.name}/{weights.name} is {format_bytes(weights.bytes)}, over the "
                              f"{format_bytes(settings.max_adapter_bytes)} cap: raise ADAPTERS_UI_MAX_ADAPTER_BYTES to allow it.")
        if settings.public and weights.name.endswith(".bin"):
            raise BundleError(f"{label}: {adapter.name}/{weights.name} is a pickle, refused in public mode: "
                              "convert the adapter to safetensors and save the bundle again.")


def unpack_budget(settings: Settings, attached: int) -> int:
    """The most bytes a bundle zip may unpack to: the free adapter slots, each at the weights cap plus room for JSON."""
    from adapters_ui.adapters.sources import ZIP_ALLOWANCE_BYTES

    return max(1, settings.max_adapters - attached) * (settings.max_adapter_bytes + ZIP_ALLOWANCE_BYTES)


def show_bundle(path: str | Path, settings: Settings) -> Manifest:
    """Read and verify a bundle without a model (``bundle show``): its manifest, once every file checks out.
    A zip unpacks into a temporary folder, removed afterwards."""
    with tempfile.TemporaryDirectory(prefix="adapters_ui-bundle-") as scratch:
        with opened(path, Path(scratch), unpack_budget(settings, 0)) as (folder, label):
            manifest = read_manifest(folder, label)
            verify_files(folder, manifest, label)
            return manifest


# ---- attaching -------------------------------------------------------------------------------------------


def attach_bundle(session, path: str | Path, root: Path | None = None) -> list:
    """Check a bundle whole, then attach each of its adapters under its own name; all or none.

    A zip is unpacked under ``root`` (default: the uploads folder), and each adapter moves to a folder of
    its own there, so detaching one from the page deletes only its files."""
    from adapters_ui.adapters.sources import shown_as, uploads_root

    settings, registry = session.settings, session.registry
    root = Path(root or uploads_root(settings))
    placed: list[Path] = []
    attached: list = []
    try:
        with opened(path, root, unpack_budget(settings, len(registry.names))) as (folder, label):
            manifest = read_manifest(folder, label)
            check_fits(manifest, label, session.base.source.name, set(registry.names), settings)
            verify_files(folder, manifest, label)
            folders = {name: folder / name for name in manifest.names}
            if not Path(path).is_dir():  # out of the unpacked zip, which goes away
                for name in manifest.names:
                    placed.append(root / f"bundle-{name}-{uuid.uuid4().hex[:8]}")
                    try:
                        shutil.move(str(folders[name]), placed[-1])
                    except OSError as exc:
                        raise BundleError(f"Could not unpack {label} on the server ({exc.strerror or type(exc).__name__}): "
                                          "free disk space or set ADAPTERS_UI_CACHE_DIR.") from None
                    folders[name] = placed[-1]
        for name, where in folders.items():
            with shown_as(where, f"{label}/{name}"):
                attached.append(session.attach(where, name))
    except BaseException:
        for info in reversed(attached):
            try:
                session.detach(info.name)
            except AdaptersUIError:
                pass  # already detached by someone else
        for folder in placed:
            shutil.rmtree(folder, ignore_errors=True)
        raise
    return attached
