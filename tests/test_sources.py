"""Adapters from known folders, uploaded zips and the Hub: the same adapter as a typed folder, or one clear line.

Zips are real zip files built from the real tiny adapters; Hub calls go to a tiny HTTP
server on 127.0.0.1 (or to a closed local port), never to the internet.
"""

from __future__ import annotations

import hashlib
import json
import os
import shutil
import signal
import socket
import stat
import zipfile
from http.server import BaseHTTPRequestHandler
from pathlib import Path

import pytest
from helpers import LocalServer

from adapters_ui import errors
from adapters_ui.adapters import demo, sources
from adapters_ui.adapters.sources import (
    OFFLINE_MESSAGE,
    adapter_folder_choices,
    attach_hub,
    attach_zip,
    check_repo_id,
    download_hub_adapter,
    extract_adapter_zip,
    remove_upload,
    shown_path,
    zips,
)
from adapters_ui.config import Settings
from adapters_ui.session import Session

CAP = 256 * 1024  # max_adapter_bytes of the capped session: the zip limit is CAP + 1 MiB
JUNK = {"__MACOSX/._adapter_config.json": b"\x00\x05\x16\x07", ".DS_Store": b"\x00\x00\x00\x01Bud1"}


# ---- building zips ------------------------------------------------------------------------


def folder_entries(folder: Path, prefix: str = "") -> dict[str, bytes]:
    return {prefix + p.name: p.read_bytes() for p in sorted(folder.iterdir()) if p.is_file()}


def write_zip(path: Path, entries: dict, compression=zipfile.ZIP_DEFLATED) -> Path:
    """entries: name -> bytes, or name -> ZipInfo-ready (bytes, external_attr) for links and odd entries."""
    path.parent.mkdir(parents=True, exist_ok=True)
    with zipfile.ZipFile(path, "w", compression) as archive:
        for name, data in entries.items():
            info = zipfile.ZipInfo(name)
            info.compress_type = compression
            if isinstance(data, tuple):
                data, info.external_attr = data
            else:
                info.external_attr = (stat.S_IFDIR | 0o755) << 16 if name.endswith("/") else (stat.S_IFREG | 0o644) << 16
            archive.writestr(info, data)
    return path


def set_declared_size(path: Path, entry: str, size: int) -> Path:
    """Make the central directory claim another uncompressed size for one entry (what a crafted zip does)."""
    data = bytearray(path.read_bytes())
    at = data.find(b"PK\x01\x02")
    while at != -1:
        name_len = int.from_bytes(data[at + 28:at + 30], "little")
        if data[at + 46:at + 46 + name_len].decode() == entry:
            data[at + 24:at + 28] = size.to_bytes(4, "little")
            path.write_bytes(bytes(data))
            return path
        at = data.find(b"PK\x01\x02", at + 4)
    raise AssertionError(f"{entry} not in {path}")


def uploads(session) -> set[str]:
    root = session.settings.cache_dir / "uploads"
    return {p.name for p in root.iterdir()} if root.is_dir() else set()


# ---- known folders ---------------------------------------------------------------------------


def test_demo_folders_are_offered(tmp_path):
    choices = adapter_folder_choices(Settings(cache_dir=tmp_path / "cache"))
    expected = [(f"{p.name}  (assets/adapters)", str(p.resolve())) for p in demo.demo_adapter_folders()]
    assert choices == expected
    if demo.DEMO_ADAPTERS.is_dir():
        assert [label.split()[0] for label, _ in choices] == ["bullets", "json_answer", "pirate"]


def adapter_dir(tiny_adapters, tmp_path) -> Path:
    """Two adapters (given out of order), a folder that is not an adapter, and a stray file."""
    root = tmp_path / "my adapters"
    shutil.copytree(tiny_adapters["lora"], root / "zeta")
    shutil.copytree(tiny_adapters["ia3"], root / "Alpha")
    (root / "notes").mkdir()
    (root / "notes" / "README.md").write_text("not an adapter")
    (root / "stray.txt").write_text("x")
    return root


@pytest.mark.parametrize(
    "dirs, expected_names",
    [
        (lambda root, t: (root,), ["Alpha", "zeta"]),
        (lambda root, t: (root, root, root / "zeta"), ["Alpha", "zeta"]),  # no duplicates
        (lambda root, t: (root.parent / "missing", root), ["Alpha", "zeta"]),  # missing root skipped
        (lambda root, t: (root / "stray.txt",), []),  # a file is no root
        (lambda root, t: (t["lora_b"],), ["lora_b"]),  # a root that is itself an adapter
        (lambda root, t: (root / "notes",), []),
    ],
    ids=["two-and-a-non-adapter", "duplicates", "missing-root", "file-root", "root-is-adapter", "no-adapters"],
)
def test_custom_adapter_dirs(dirs, expected_names, tiny_adapters, tmp_path):
    root = adapter_dir(tiny_adapters, tmp_path)
    settings = Settings(cache_dir=tmp_path / "cache", adapter_dirs=dirs(root, tiny_adapters))
    demo_part = adapter_folder_choices(Settings(cache_dir=tmp_path / "cache"))
    choices = adapter_folder_choices(settings)

    assert choices[: len(demo_part)] == demo_part
    custom = choices[len(demo_part):]
    assert [label.split("  (")[0] for label, _ in custom] == expected_names
    for label, path in custom:
        folder = Path(path)
        assert folder.is_absolute() and (folder / "adapter_config.json").is_file()
        assert label == f"{folder.name}  ({shown_path(folder.parent)})"
    assert len({path for _, path in choices}) == len(choices)


@pytest.mark.parametrize(
    "path, shown",
    [
        (demo.DEMO_ADAPTERS, "assets/adapters"),
        (demo.ASSETS.parent, "."),
        (Path.home() / "adapters" / "x", "~/adapters/x"),
        (Path("/opt/nowhere/adapters"), "/opt/nowhere/adapters"),
    ],
)
def test_shown_path(path, shown):
    assert shown_path(path) == shown


# ---- zips that work ----------------------------------------------------------------------------


LAYOUTS = [
    # (adapter, zip file name, folder inside the zip, expected default name)
    ("lora", "My Adapter v2.zip", "", "My_Adapter_v2"),
    ("dora", "upload.zip", "pirate-ish/", "pirate-ish"),
    ("ptuning", "upload.zip", "outer/inner/deep.lora/", "deep_lora"),
    ("ia3", "base.zip", "ia3 copy/", "ia3_copy"),
]


@pytest.mark.parametrize("kind, zip_name, inside, name", LAYOUTS, ids=["top-level", "one-folder", "nested", "spaces"])
def test_zip_layouts_attach_like_the_folder(kind, zip_name, inside, name, tiny_session, tiny_adapters, tmp_path):
    folder = tiny_adapters[kind]
    dirs = {"/".join(inside.split("/")[: i + 1]) + "/": b"" for i in range(inside.count("/"))}
    junk = {k.replace("__MACOSX/", f"__MACOSX/{inside}"): v for k, v in JUNK.items()}
    junk[inside + ".DS_Store"] = junk.pop(".DS_Store")
    archive = write_zip(tmp_path / zip_name, {**dirs, **folder_entries(folder, inside), **junk})

    direct = tiny_session.attach(folder, "direct")
    info = attach_zip(tiny_session, archive)

    assert info.name == name
    assert tiny_session.variants == ["base", "direct", name]
    upload = Path(info.path)
    assert upload.is_relative_to((tiny_session.settings.cache_dir / "uploads").resolve())
    assert sorted(p.name for p in upload.iterdir()) == sorted(p.name for p in folder.iterdir())
    assert (upload / "adapter_model.safetensors").read_bytes() == (folder / "adapter_model.safetensors").read_bytes()
    assert (info.params, info.method, info.bytes_on_disk) == (direct.params, direct.method, direct.bytes_on_disk)
    settings = tiny_session.generation_settings(max_new_tokens=4)
    result = tiny_session.compare(["Hi", "Say ok"], ["direct", name], settings)
    assert result.outputs(name) == result.outputs("direct")


def test_zip_name_given_wins_and_upload_is_removed_after_detach(tiny_session, tiny_adapters, tmp_path):
    archive = write_zip(tmp_path / "lora.zip", folder_entries(tiny_adapters["lora"], "lora/"))
    info = attach_zip(tiny_session, archive, name="chosen")
    assert info.name == "chosen"

    tiny_session.detach("chosen")
    assert remove_upload(info.path, tiny_session.settings)
    assert not Path(info.path).exists() and uploads(tiny_session) == set()


def test_extract_returns_the_adapter_folder(tiny_adapters, tmp_path):
    archive = write_zip(tmp_path / "a.zip", {"x/readme.txt": b"hi", **folder_entries(tiny_adapters["lora"], "x/y/")})
    folder = extract_adapter_zip(archive, tmp_path / "dest", CAP)
    assert folder.name == "y" and (folder / "adapter_config.json").is_file()
    assert (folder.parent / "readme.txt").read_bytes() == b"hi"
    assert folder.parent.parent.parent == (tmp_path / "dest").resolve()


# ---- zips that do not --------------------------------------------------------------------------


def good(t, prefix=""):
    return folder_entries(t["lora"], prefix)


def case_not_a_zip(t, tmp):
    (tmp / "adapter.zip").write_bytes(b"this is not a zip")
    return tmp / "adapter.zip"


def case_missing_file(t, tmp):
    return tmp / "gone.zip"


def case_a_folder(t, tmp):
    (tmp / "dir.zip").mkdir()
    return tmp / "dir.zip"


def case_empty(t, tmp):
    return write_zip(tmp / "empty.zip", {})


def case_only_junk(t, tmp):
    return write_zip(tmp / "junk.zip", {"a/": b"", **JUNK})


def case_absolute_path(t, tmp):
    return write_zip(tmp / "abs.zip", {**good(t), "/tmp/evil.txt": b"x"})


def case_dotdot(t, tmp):
    return write_zip(tmp / "slip.zip", {**good(t, "a/"), "a/../../evil.txt": b"x"})


def case_windows_dotdot(t, tmp):
    return write_zip(tmp / "winslip.zip", {**good(t), "..\\evil.txt": b"x"})


def case_drive_letter(t, tmp):
    return write_zip(tmp / "drive.zip", {**good(t), "C:/evil.txt": b"x"})


def case_symlink(t, tmp):
    return write_zip(tmp / "link.zip", {**good(t, "a/"), "a/README.md": (b"/etc/passwd", (stat.S_IFLNK | 0o777) << 16)})


def case_fifo(t, tmp):
    return write_zip(tmp / "fifo.zip", {**good(t), "pipe": (b"", (stat.S_IFIFO | 0o644) << 16)})


def case_bomb(t, tmp):
    return write_zip(tmp / "bomb.zip", {**good(t, "a/"), "a/padding.bin": bytes(2 * 1024**2)})


def case_forged_huge_size(t, tmp):
    """Declared sizes are checked before anything is written."""
    return set_declared_size(write_zip(tmp / "huge.zip", good(t)), "adapter_config.json", 0xFFFFFFF0)


def case_lying_small_size(t, tmp):
    """A 2 MiB entry that claims 100 bytes: the declared check passes, unpacking must still refuse it."""
    path = write_zip(tmp / "liar.zip", {**good(t), "padding.bin": bytes(2 * 1024**2)})
    return set_declared_size(path, "padding.bin", 100)


def case_too_many_entries(t, tmp):
    return write_zip(tmp / "many.zip", {**good(t, "a/"), **{f"a/n{i:04}.txt": b"" for i in range(1000)}})


def case_no_config(t, tmp):
    entries = good(t, "a/")
    del entries["a/adapter_config.json"]
    return write_zip(tmp / "noconfig.zip", entries)


def case_two_adapters(t, tmp):
    return write_zip(tmp / "two.zip", {**good(t, "first/"), **folder_entries(t["ia3"], "second/")})


def case_adapter_and_checkpoint(t, tmp):
    return write_zip(tmp / "run.zip", {**good(t, "run/"), **good(t, "run/checkpoint-10/")})


def case_damaged(t, tmp):
    path = write_zip(tmp / "damaged.zip", good(t), compression=zipfile.ZIP_STORED)
    weights = (t["lora"] / "adapter_model.safetensors").read_bytes()
    data = bytearray(path.read_bytes())
    at = data.find(weights) + len(weights) // 2
    data[at] ^= 0xFF
    path.write_bytes(bytes(data))
    return path


def case_duplicate_entry(t, tmp):
    path = write_zip(tmp / "dup.zip", good(t))
    with zipfile.ZipFile(path, "a") as archive, pytest.warns(UserWarning, match="Duplicate name"):
        archive.writestr("adapter_config.json", b"{}")
    return path


def case_unknown_peft_type(t, tmp):
    entries = good(t, "a/")
    config = json.loads(entries["a/adapter_config.json"])
    entries["a/adapter_config.json"] = json.dumps({**config, "peft_type": "SUPER_LORA"}).encode()
    return write_zip(tmp / "super.zip", entries)


def case_weights_removed(t, tmp):
    entries = good(t, "a/")
    del entries["a/adapter_model.safetensors"]
    return write_zip(tmp / "noweights.zip", entries)


def case_broken_config(t, tmp):
    return write_zip(tmp / "broken.zip", {**good(t, "a/"), "a/adapter_config.json": b"{oops"})


def case_name_taken(t, tmp):
    return write_zip(tmp / "kept.zip", good(t))  # top-level files: default name "kept", already attached


def case_bad_default_name(t, tmp):
    return write_zip(tmp / "base.zip", good(t))  # "base" is reserved


BAD_ZIPS = [
    # (case, error type, words the one-line message must contain)
    (case_not_a_zip, errors.AdapterSourceError,
     "adapter.zip is not a zip file: upload a .zip of the adapter folder (the folder that holds adapter_config.json)."),
    (case_missing_file, errors.AdapterSourceError, "gone.zip not found"),
    (case_a_folder, errors.AdapterSourceError, "dir.zip not found"),
    (case_empty, errors.AdapterSourceError, "empty.zip is empty"),
    (case_only_junk, errors.AdapterSourceError, "junk.zip is empty"),
    (case_absolute_path, errors.AdapterSourceError, "unsafe path '/tmp/evil.txt'"),
    (case_dotdot, errors.AdapterSourceError, "unsafe path 'a/../../evil.txt'"),
    (case_windows_dotdot, errors.AdapterSourceError, "unsafe path"),
    (case_drive_letter, errors.AdapterSourceError, "unsafe path 'C:/evil.txt'"),
    (case_symlink, errors.AdapterSourceError, "'a/README.md', a symlink, which is refused"),
    (case_fifo, errors.AdapterSourceError, "'pipe', a special file"),
    (case_bomb, errors.AdapterSourceError, "unpacks to 2.1 MB, over the 1.3 MB allowed"),
    (case_forged_huge_size, errors.AdapterSourceError, "unpacks to 4.3 GB, over the 1.3 MB allowed"),
    (case_lying_small_size, errors.AdapterSourceError, "liar.zip is damaged (Bad CRC-32"),
    (case_too_many_entries, errors.AdapterSourceError, "many.zip has 1,003 entries, more than the 1,000 allowed"),
    (case_no_config, errors.AdapterSourceError, "noconfig.zip has no adapter_config.json"),
    (case_two_adapters, errors.AdapterSourceError, "two.zip holds 2 adapters (first, second): upload one adapter per zip."),
    (case_adapter_and_checkpoint, errors.AdapterSourceError, "holds 2 adapters (run, run/checkpoint-10)"),
    (case_damaged, errors.AdapterSourceError, "damaged.zip is damaged"),
    (case_duplicate_entry, errors.AdapterSourceError, "holds the same path twice"),
    (case_unknown_peft_type, errors.UnknownPeftTypeError, "Unknown peft_type 'SUPER_LORA'"),
    (case_weights_removed, errors.AdapterWeightsError, "noweights.zip/a has no adapter_model.safetensors (or adapter_model.bin)"),
    (case_broken_config, errors.AdapterConfigError, "broken.zip/a/adapter_config.json is not valid JSON at line 1"),
    (case_name_taken, errors.AdapterNameError, "'kept' is already attached"),
    (case_bad_default_name, errors.AdapterNameError, "'base' is reserved"),
]


@pytest.fixture
def capped_session(tiny_settings) -> Session:
    return Session.start(tiny_settings.replace(max_adapter_bytes=CAP))


@pytest.mark.parametrize("make_bad, error, words", BAD_ZIPS, ids=[c[0].__name__[5:] for c in BAD_ZIPS])
def test_bad_zip_is_refused_cleanly(make_bad, error, words, capped_session, tiny_adapters, tmp_path):
    capped_session.attach(tiny_adapters["ia3"])
    kept = attach_zip(capped_session, write_zip(tmp_path / "ok" / "kept.zip", good(tiny_adapters)))
    before = uploads(capped_session)
    assert len(before) == 1
    bad = make_bad(tiny_adapters, tmp_path)

    with pytest.raises(error) as caught:
        attach_zip(capped_session, bad)

    message = str(caught.value)
    assert words in message
    assert "\n" not in message and len(message) < 400
    assert str(tmp_path) not in message, "the message names a folder on the server"
    assert uploads(capped_session) == before, "a failed upload left files behind"
    assert capped_session.variants == ["base", "ia3", "kept"]
    assert Path(kept.path).is_dir()
    assert not (tmp_path / "evil.txt").exists() and not (tmp_path.parent / "evil.txt").exists()


def test_unpack_failure_names_only_the_upload(tiny_adapters, tmp_path):
    """The cache folder cannot be written (here: it is a file): the message says why, not where."""
    blocked = tmp_path / "server" / "cache"
    blocked.parent.mkdir()
    blocked.write_text("a file where the cache folder should be")
    archive = write_zip(tmp_path / "gradio" / "ab12" / "pirate.zip", good(tiny_adapters))
    with pytest.raises(errors.AdapterSourceError) as caught:
        extract_adapter_zip(archive, blocked / "uploads", CAP)
    assert str(caught.value) == (
        "Could not unpack pirate.zip on the server (Not a directory): free disk space or set ADAPTERS_UI_CACHE_DIR."
    )


def test_unpacking_counts_real_bytes(tiny_adapters, tmp_path):
    """The second guard: CPython's zipfile already stops at declared sizes, so drive the writer directly."""
    archive = write_zip(tmp_path / "a.zip", {**good(tiny_adapters), "padding.bin": bytes(300_000)})
    with zipfile.ZipFile(archive) as opened:
        files = [(info, (info.filename,)) for info in opened.infolist()]
        with pytest.raises(errors.AdapterSourceError, match="a.zip unpacks to more than the 200.0 kB allowed"):
            zips._write_entries("a.zip", opened, files, tmp_path / "out", 200_000)
        zips._write_entries("a.zip", opened, files, tmp_path / "ok", 400_000)
    assert (tmp_path / "ok" / "padding.bin").stat().st_size == 300_000


# ---- remove_upload ---------------------------------------------------------------------------


def link_to_elsewhere(at: Path, tmp: Path) -> Path:
    at.symlink_to(tmp / "elsewhere", target_is_directory=True)
    return at


@pytest.mark.parametrize(
    "pick, deleted",
    [
        (lambda root, up, tmp: up, True),  # the adapter folder inside an upload
        (lambda root, up, tmp: up.parent.parent, True),  # the upload's own temp folder
        (lambda root, up, tmp: up / "adapter_config.json", True),
        (lambda root, up, tmp: root, False),  # never the uploads folder itself
        (lambda root, up, tmp: tmp / "elsewhere", False),
        (lambda root, up, tmp: root / ".." / ".." / "elsewhere", False),
        (lambda root, up, tmp: link_to_elsewhere(root / "link", tmp), False),
        (lambda root, up, tmp: link_to_elsewhere(up / "link", tmp), False),
        (lambda root, up, tmp: root / "not-there", False),
    ],
    ids=["adapter-folder", "temp-folder", "file-inside", "uploads-root", "outside", "dotdot", "link-in-root",
         "link-in-upload", "missing"],
)
def test_remove_upload_deletes_only_under_uploads(pick, deleted, tiny_adapters, tmp_path):
    settings = Settings(cache_dir=tmp_path / "cache")
    root = settings.cache_dir / "uploads"
    archive = write_zip(tmp_path / "a.zip", good(tiny_adapters, "top/adapter/"))
    upload = extract_adapter_zip(archive, root, CAP)
    (tmp_path / "elsewhere").mkdir()
    (tmp_path / "elsewhere" / "keep.txt").write_text("keep")
    path = pick(root, upload, tmp_path)

    assert remove_upload(path, settings) is deleted
    assert upload.exists() is not deleted
    assert root.is_dir()
    assert (tmp_path / "elsewhere" / "keep.txt").read_text() == "keep"


# ---- the Hub -------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "repo_id, words",
    [
        ("", "No Hub repo id given"),
        ("   ", "No Hub repo id given"),
        ("gpt2", "'gpt2' is not a Hub repo id: write it as owner/name"),
        ("a/b/c", "is not a Hub repo id"),
        ("/name", "is not a Hub repo id"),
        ("owner/", "is not a Hub repo id"),
        ("-owner/name", "is not a Hub repo id"),
        ("owner/name.", "is not a Hub repo id"),
        ("owner/na--me", "is not a Hub repo id"),
        ("owner/na..me", "is not a Hub repo id"),
        ("owner/name.git", "is not a Hub repo id"),
        ("own er/name", "is not a Hub repo id"),
        ("owner/näme", "is not a Hub repo id"),
        ("owner/" + "x" * 97, "is not a Hub repo id"),
        ("https://huggingface.co/owner/name", "is not a Hub repo id"),
    ],
)
def test_bad_repo_ids(repo_id, words, tiny_settings):
    with pytest.raises(errors.AdapterSourceError) as caught:
        download_hub_adapter(repo_id, None, tiny_settings)
    assert words in str(caught.value) and "\n" not in str(caught.value)


@pytest.mark.parametrize("repo_id", ["owner/name", " my-org/My.LoRA_v2 ", "a/b", "o/" + "x" * 96])
def test_good_repo_ids(repo_id):
    assert check_repo_id(repo_id) == repo_id.strip()


@pytest.mark.parametrize("revision", ["", "main", "v1.0", "refs/pr/1", "0123456789abcdef0123456789abcdef01234567"])
def test_offline_refuses_valid_requests(revision, tiny_session):
    import huggingface_hub.constants

    assert huggingface_hub.constants.HF_HUB_OFFLINE  # conftest: no test may reach a hub
    with pytest.raises(errors.AdapterSourceError) as caught:
        attach_hub(tiny_session, "owner/name", revision)
    assert str(caught.value) == OFFLINE_MESSAGE
    assert tiny_session.variants == ["base"]


@pytest.mark.parametrize("revision", ["../../etc", "has space", "/main", "main/"])
def test_bad_revisions(revision, tiny_settings):
    with pytest.raises(errors.AdapterSourceError, match="is not a usable revision"):
        download_hub_adapter("owner/name", revision, tiny_settings)


class FakeHub(LocalServer):
    """Enough of the Hub's HTTP API for snapshot_download, on 127.0.0.1: one repo, or one error for everything."""

    SHA = "0123456789abcdef0123456789abcdef01234567"

    def __init__(self):
        self.files: dict[str, bytes] = {}
        self.error: tuple[int, str] | None = None  # (status, X-Error-Code) answered to every request
        self.seen: list[str] = []
        hub = self

        class Handler(BaseHTTPRequestHandler):
            def log_message(self, *args):
                pass

            def do_HEAD(self):
                self.answer()

            def do_GET(self):
                self.answer()

            def reply(self, status: int, body: bytes = b"{}", **headers):
                self.send_response(status)
                for key, value in {"Content-Type": "application/json", **headers}.items():
                    self.send_header(key.replace("_", "-"), value)
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                if self.command != "HEAD":
                    self.wfile.write(body)

            def answer(self):
                hub.seen.append(f"{self.command} {self.path}")
                path = self.path.split("?")[0]
                if hub.error:
                    return self.reply(hub.error[0], b'{"error": "no"}', X_Error_Code=hub.error[1])
                if path.startswith("/api/models/") and "/tree/" in path:
                    tree = [{"type": "file", "path": n, "size": len(d), "oid": hashlib.sha1(d).hexdigest()}
                            for n, d in hub.files.items()]
                    return self.reply(200, json.dumps(tree).encode())
                if path.startswith("/api/models/"):
                    return self.reply(200, json.dumps({"id": "owner/name", "sha": hub.SHA}).encode())
                name = path.partition("/resolve/")[2].partition("/")[2]
                if name in hub.files:
                    data = hub.files[name]
                    return self.reply(200, data, X_Repo_Commit=hub.SHA, ETag=f'"{hashlib.sha256(data).hexdigest()}"')
                return self.reply(404, X_Error_Code="EntryNotFound")

        super().__init__(Handler)


def point_hub_at(monkeypatch, url: str) -> None:
    """Online mode, but every Hub URL huggingface_hub builds goes to ``url`` (API calls and file downloads).

    Call it after starting sessions: loading a local base switches the process offline again."""
    from huggingface_hub import constants

    monkeypatch.setattr(constants, "HF_HUB_OFFLINE", False)
    monkeypatch.setattr(constants, "ENDPOINT", url)  # read by HfApi at call time
    # file URLs come from a template built from HF_ENDPOINT at import time
    monkeypatch.setattr(constants, "HUGGINGFACE_CO_URL_TEMPLATE", url + "/{repo_id}/resolve/{revision}/{filename}")
    monkeypatch.setenv("HF_ENDPOINT", url)
    monkeypatch.setenv("HF_HUB_OFFLINE", "0")
    for key in ("HTTP_PROXY", "HTTPS_PROXY", "ALL_PROXY", "http_proxy", "https_proxy", "all_proxy"):
        monkeypatch.delenv(key, raising=False)


@pytest.fixture
def deadline():
    """Fail instead of hanging: network tests get 30 seconds."""

    def expire(signum, frame):
        raise TimeoutError("the Hub test ran over 30 s")

    previous = signal.signal(signal.SIGALRM, expire)
    signal.alarm(30)
    yield
    signal.alarm(0)
    signal.signal(signal.SIGALRM, previous)


@pytest.fixture
def fake_hub(deadline):
    from huggingface_hub.utils import close_session

    close_session()  # a cached HTTP client may carry another process-wide configuration
    hub = FakeHub()
    yield hub
    hub.close()
    close_session()


def closed_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]  # nothing listens there once closed


def test_unreachable_hub_is_one_line(monkeypatch, deadline, tiny_session):
    from huggingface_hub.utils import close_session

    close_session()
    point_hub_at(monkeypatch, f"http://127.0.0.1:{closed_port()}")
    with pytest.raises(errors.AdapterSourceError) as caught:
        attach_hub(tiny_session, "owner/name", "v1")
    message = str(caught.value)
    assert message.startswith("Could not download owner/name@v1 from the Hub (ConnectError")
    assert "check your network connection" in message and "\n" not in message
    assert tiny_session.variants == ["base"]
    close_session()


HUB_ERRORS = [
    # (status, X-Error-Code, revision, words)
    (404, "RepoNotFound", None, "Hub repo owner/name was not found: check the id (a private repo also needs HF_TOKEN)."),
    (401, "RepoNotFound", "main", "Hub repo owner/name was not found"),
    (404, "RevisionNotFound", "v9", "Hub repo owner/name has no revision 'v9': give an existing branch"),
    (403, "GatedRepo", None, "Hub repo owner/name is gated: accept its terms on the Hub and set HF_TOKEN"),
    (500, "", "v2", "Could not download owner/name@v2 from the Hub (HfHubHTTPError: Server error '500"),
]


@pytest.mark.parametrize("status, code, revision, words", HUB_ERRORS, ids=[f"{e[0]}-{e[1]}" for e in HUB_ERRORS])
def test_hub_errors_are_one_line(status, code, revision, words, fake_hub, tiny_session, monkeypatch):
    point_hub_at(monkeypatch, fake_hub.url)
    fake_hub.error = (status, code)
    with pytest.raises(errors.AdapterSourceError) as caught:
        attach_hub(tiny_session, "owner/name", revision)
    assert str(caught.value).startswith(words)
    assert "\n" not in str(caught.value)
    assert any("/api/models/owner/name" in s for s in fake_hub.seen), "the request did not reach the local hub"
    assert tiny_session.variants == ["base"]


@pytest.mark.parametrize(
    "public, extra, expected_files, name, expected_name",
    [
        (False, {}, {"adapter_config.json", "adapter_model.safetensors", "README.md"}, None, "My_LoRA_v2"),
        (True, {"adapter_model.bin": b"x"}, {"adapter_config.json", "adapter_model.safetensors", "README.md"}, "mine", "mine"),
        (False, {"adapter_model.bin": b"x"}, {"adapter_config.json", "adapter_model.safetensors", "README.md", "adapter_model.bin"}, None, "My_LoRA_v2"),
    ],
    ids=["plain", "public-skips-bin", "private-fetches-bin"],
)
def test_hub_adapter_attaches_like_the_folder(public, extra, expected_files, name, expected_name,
                                              fake_hub, tiny_settings, tiny_adapters, monkeypatch):
    session = Session.start(tiny_settings.replace(public=public))
    point_hub_at(monkeypatch, fake_hub.url)
    lora = tiny_adapters["lora"]
    fake_hub.files = {**folder_entries(lora), "README.md": b"# hi", "train.py": b"print()", **extra}

    direct = session.attach(lora, "direct")
    info = attach_hub(session, "owner/My.LoRA_v2", name=name)

    assert info.name == expected_name
    folder = Path(info.path)
    assert folder.is_relative_to((tiny_settings.cache_dir / "hub").resolve())
    assert {p.name for p in folder.iterdir()} == expected_files
    assert info.params == direct.params
    settings = session.generation_settings(max_new_tokens=4)
    result = session.compare(["Hi", "Say ok"], ["direct", info.name], settings)
    assert result.outputs(info.name) == result.outputs("direct")
    assert not any("train.py" in s for s in fake_hub.seen)


@pytest.mark.parametrize(
    "files, public, words",
    [
        ({"README.md": b"# a model"}, False, "Hub repo owner/name has no adapter_config.json at its top"),
        ({"adapter_config.json": b"{}", "adapter_model.bin": b"x"}, True,
         "Hub repo owner/name has no adapter_model.safetensors, and public mode downloads no pickled .bin"),
    ],
    ids=["not-an-adapter", "public-bin-only"],
)
def test_hub_repo_without_adapter(files, public, words, fake_hub, tiny_settings, monkeypatch):
    point_hub_at(monkeypatch, fake_hub.url)
    fake_hub.files = files
    with pytest.raises(errors.AdapterSourceError) as caught:
        download_hub_adapter("owner/name", None, tiny_settings.replace(public=public))
    assert str(caught.value).startswith(words)


def test_hub_adapter_errors_name_the_repo_not_the_cache(fake_hub, tiny_settings, tiny_adapters, monkeypatch):
    session = Session.start(tiny_settings)
    point_hub_at(monkeypatch, fake_hub.url)
    fake_hub.files = {**folder_entries(tiny_adapters["lora"]), "adapter_config.json": b"{oops"}
    with pytest.raises(errors.AdapterConfigError) as caught:
        attach_hub(session, "owner/name", "v1")
    message = str(caught.value)
    assert message.startswith("owner/name@v1/adapter_config.json is not valid JSON at line 1")
    assert str(tiny_settings.cache_dir) not in message


def test_hub_download_that_cannot_be_saved_names_no_folder(fake_hub, tiny_settings, tiny_adapters, tmp_path, monkeypatch):
    blocked = tmp_path / "blocked"
    blocked.write_text("a file where the cache folder should be")
    point_hub_at(monkeypatch, fake_hub.url)
    fake_hub.files = folder_entries(tiny_adapters["lora"])
    with pytest.raises(errors.AdapterSourceError) as caught:
        download_hub_adapter("owner/name", None, tiny_settings.replace(cache_dir=blocked))
    assert str(caught.value) == (
        "Could not save owner/name on the server (Not a directory): free disk space or set ADAPTERS_UI_CACHE_DIR."
    )


def test_hub_name_default_is_sanitised():
    assert sources.adapter_name("My.LoRA v2") == "My_LoRA_v2"
    assert sources.adapter_name("...") == "adapter"
    assert os.sep not in sources.adapter_name("a/b")
