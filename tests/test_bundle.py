"""Bundles on the tiny Llama: every attached adapter (LoRA, DoRA, IA3, LoHa, prompt tuning, a mix) saved as one
folder or zip with a manifest, reattached in a fresh session with the same outputs; anything wrong is one line
before anything is attached, and a failure halfway leaves nothing attached."""

from __future__ import annotations

import hashlib
import json
import shutil
import zipfile
from pathlib import Path

import pytest
from helpers import save_tiny_base

from adapters_ui.adapters.bundle import MANIFEST, is_bundle_zip, show_bundle
from adapters_ui.cli.main import main
from adapters_ui.config import Settings
from adapters_ui.disk import staged
from adapters_ui.errors import AdapterError, AdapterSourceError, BundleError
from adapters_ui.session import Session

PROMPTS = ["hello there", "a longer prompt about the sea", "x"]
KINDS = ("lora", "dora", "ia3", "loha", "prompt")


def outputs(session) -> dict[str, list[str]]:
    result = session.compare(PROMPTS, settings=session.generation_settings(max_new_tokens=8))
    return {v: result.outputs(v) for v in result.variants}


def sha(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def uploads(settings) -> list[Path]:
    root = settings.cache_dir / "uploads"
    return sorted(root.iterdir()) if root.exists() else []


@pytest.fixture
def full(tiny_session, tiny_adapters):
    """Five PEFT methods and a cat mix of two LoRAs, attached."""
    for kind in KINDS:
        tiny_session.attach(tiny_adapters[kind])
    tiny_session.attach(tiny_adapters["lora_b"])
    tiny_session.mix("blend", {"lora": 0.6, "lora_b": 0.4}, "cat")
    return tiny_session


@pytest.fixture
def small_bundle(tiny_session, tiny_adapters, tmp_path) -> Path:
    """A zip of lora (LoRA) and ia3 (IA3) made on the tiny base."""
    tiny_session.attach(tiny_adapters["lora"])
    tiny_session.attach(tiny_adapters["ia3"])
    tiny_session.save_bundle(tmp_path / "made" / "small.zip")
    return tmp_path / "made" / "small.zip"


@pytest.mark.parametrize("form", ["folder", "zip"])
def test_a_bundle_reattached_in_a_fresh_session_gives_the_same_outputs(full, tiny_settings, tmp_path, form):
    before = outputs(full)
    target = tmp_path / ("team.zip" if form == "zip" else "team")
    manifest = full.save_bundle(target)
    assert manifest.names == ["lora", "dora", "ia3", "loha", "prompt", "lora_b", "blend"]
    assert target.is_file() if form == "zip" else (target / MANIFEST).is_file()
    if form == "folder":  # the usual permissions of a new folder, not mkdtemp's private 0700
        (tmp_path / "peer").mkdir()
        assert target.stat().st_mode & 0o777 == (tmp_path / "peer").stat().st_mode & 0o777 != 0o700
    assert not [p for p in target.parent.iterdir() if p.name.startswith(".")]  # no staging left beside it

    fresh = Session.start(tiny_settings)
    infos = fresh.attach_bundle(target)
    assert [i.name for i in infos] == manifest.names == fresh.registry.names
    assert [i.method for i in infos] == ["LoRA", "DoRA", "IA3", "LoHa", "prompt tuning", "LoRA", "LoRA"]
    assert outputs(fresh) == before  # every variant, token for token
    assert len(set(map(tuple, before.values()))) == len(before)  # and they do differ from each other
    original = {i.name: i.sha256 for i in full.adapters()}
    assert {i.name: i.sha256 for i in infos} == original  # the very same weights files
    if form == "zip":  # unpacked under uploads, one folder per adapter: detaching one deletes only its files
        folders = uploads(tiny_settings)
        assert len(folders) == len(infos) + 1  # + the mix that `full` made there
        assert Path(infos[0].path) in folders and (Path(infos[-1].path) / "mix.json").is_file()


def test_the_manifest_names_types_sizes_base_and_hashes(full, tmp_path):
    full.save_bundle(tmp_path / "team")
    data = json.loads((tmp_path / "team" / MANIFEST).read_text())
    assert data["format"] == "adapters_ui bundle" and data["version"] == 1 and data["created_at"].endswith("+00:00")
    assert data["base_model"] == {"name": full.base.source.name, "kind": "folder", "location": full.base.source.name}
    rows = {a["name"]: a for a in data["adapters"]}
    assert {n: (a["peft_type"], a["method"], a["rank"], a["virtual_tokens"]) for n, a in rows.items()} == {
        "lora": ("LORA", "LoRA", 4, None), "dora": ("LORA", "DoRA", 4, None), "ia3": ("IA3", "IA3", None, None),
        "loha": ("LOHA", "LoHa", 4, None), "prompt": ("PROMPT_TUNING", "prompt tuning", None, 4),
        "lora_b": ("LORA", "LoRA", 2, None), "blend": ("LORA", "LoRA", 6, None)}
    assert rows["blend"]["mix"] == {"method": "cat", "weights": {"lora": 0.6, "lora_b": 0.4}, "density": None}
    recipe = json.loads((tmp_path / "team" / "blend" / "mix.json").read_text())  # no server folders in a download
    assert {n: s["path"] for n, s in recipe["sources"].items()} == {"lora": "lora", "lora_b": "lora_b"}
    assert recipe["sources"]["lora"]["sha256"] == full.registry.get("lora").sha256
    assert rows["lora"]["mix"] is None
    for name, row in rows.items():
        folder = tmp_path / "team" / name
        assert sorted(f["name"] for f in row["files"]) == sorted(p.name for p in folder.iterdir())
        for entry in row["files"]:
            assert entry["sha256"] == sha(folder / entry["name"]) and entry["bytes"] == (folder / entry["name"]).stat().st_size
        weights = next(f for f in row["files"] if f["name"].startswith("adapter_model."))
        assert row["bytes"] == weights["bytes"] == full.registry.get(name).bytes_on_disk  # one definition of its size
        assert row["params"] == full.registry.get(name).params > 0
    assert data["total_bytes"] == sum(a["bytes"] for a in data["adapters"])
    assert show_bundle(tmp_path / "team", full.settings).names == list(rows)


def tamper(bundle: Path, tmp_path: Path, edit) -> Path:
    """A copy of a zip bundle with ``edit(folder)`` applied, zipped again."""
    folder = tmp_path / "tampered"
    with zipfile.ZipFile(bundle) as archive:
        archive.extractall(folder)
    edit(folder)
    out = tmp_path / "tampered.zip"
    with zipfile.ZipFile(out, "w") as archive:
        for path in sorted(p for p in folder.rglob("*") if p.is_file()):
            archive.write(path, path.relative_to(folder).as_posix())
    return out


def flip_a_byte(path: Path) -> None:
    data = bytearray(path.read_bytes())
    data[-1] ^= 1
    path.write_bytes(bytes(data))


def set_manifest(folder: Path, change) -> None:
    data = json.loads((folder / MANIFEST).read_text())
    change(data)
    (folder / MANIFEST).write_text(json.dumps(data))


@pytest.mark.parametrize("edit, words", [
    (lambda f: flip_a_byte(f / "ia3" / "adapter_model.safetensors"),
     "tampered.zip: ia3/adapter_model.safetensors does not match its SHA-256 in bundle.json"),
    (lambda f: (f / "lora" / "adapter_config.json").write_text((f / "lora" / "adapter_config.json").read_text() + " "),
     "tampered.zip: lora/adapter_config.json is"),
    (lambda f: (f / "ia3" / "adapter_model.safetensors").unlink(), "tampered.zip is missing ia3/adapter_model.safetensors"),
    (lambda f: (f / "lora" / "notes.txt").write_text("hi"), "lora/notes.txt is not listed in bundle.json"),
    (lambda f: shutil.rmtree(f / "ia3"), "tampered.zip has no folder ia3/"),
    (lambda f: set_manifest(f, lambda d: d.update(version=9)), "is a version-9 bundle; this adapters_ui reads version 1"),
    (lambda f: set_manifest(f, lambda d: d.update(format="other")), "is not an adapters_ui bundle manifest"),
    (lambda f: set_manifest(f, lambda d: d["adapters"][0].update(name="../x")), "without a usable name ('../x')"),
    (lambda f: set_manifest(f, lambda d: d["adapters"][0]["files"][0].update(name="../../etc/passwd")), "has a file entry for 'lora'"),
    (lambda f: (f / MANIFEST).write_text("{"), "tampered.zip/bundle.json is not valid JSON"),
])
def test_a_damaged_bundle_is_one_line_and_nothing_is_attached(small_bundle, tiny_settings, tiny_adapters, tmp_path, edit, words):
    bad = tamper(small_bundle, tmp_path, edit)
    fresh = Session.start(tiny_settings)
    fresh.attach(tiny_adapters["loha"])
    with pytest.raises(BundleError) as raised:
        fresh.attach_bundle(bad)
    message = str(raised.value)
    assert words in message and "\n" not in message and str(tmp_path) not in message  # an upload is named by its own name
    assert fresh.registry.names == ["loha"] and uploads(tiny_settings) == []


def test_a_name_clash_is_refused_before_anything_attaches(small_bundle, tiny_settings, tiny_adapters):
    fresh = Session.start(tiny_settings)
    fresh.attach(tiny_adapters["dora"], "ia3")
    with pytest.raises(BundleError, match=r"small.zip holds ia3, already attached under the same name: detach it first"):
        fresh.attach_bundle(small_bundle)
    assert fresh.registry.names == ["ia3"] and uploads(tiny_settings) == []


def test_more_adapters_than_allowed_are_refused_whole(small_bundle, tiny_settings, tiny_adapters):
    fresh = Session.start(tiny_settings.replace(max_adapters=2))
    fresh.attach(tiny_adapters["loha"])
    with pytest.raises(BundleError, match="holds 2 adapters and 1 are attached, more than the 2 allowed"):
        fresh.attach_bundle(small_bundle)
    assert fresh.registry.names == ["loha"]


def test_weights_over_the_cap_are_refused_whole(small_bundle, tiny_settings):
    fresh = Session.start(tiny_settings.replace(max_adapter_bytes=2000))
    with pytest.raises(BundleError, match="small.zip: lora/adapter_model.safetensors is .* over the .* cap"):
        fresh.attach_bundle(small_bundle)
    assert fresh.registry.names == []


def test_a_bundle_made_on_another_base_is_refused(small_bundle, tmp_path):
    other_base = save_tiny_base(tmp_path / "other-llama", seed=3)
    other = Session.start(Settings(base_model=str(other_base), cache_dir=tmp_path / "other-cache"))
    with pytest.raises(BundleError) as raised:
        other.attach_bundle(small_bundle)
    assert "small.zip was made on" in str(raised.value) and "but this session runs other-llama" in str(raised.value)
    assert other.registry.names == []


def test_a_failing_attach_halfway_leaves_nothing_attached(small_bundle, tiny_settings, tmp_path):
    def wrong_target(folder: Path) -> None:  # ia3 (the second) now targets a module the base lacks; hashes redone
        config = folder / "ia3" / "adapter_config.json"
        config.write_text(config.read_text().replace('"k_proj"', '"nope_proj"'))

        def fix(data):
            entry = next(f for f in data["adapters"][1]["files"] if f["name"] == "adapter_config.json")
            entry.update(bytes=config.stat().st_size, sha256=sha(config))
        set_manifest(folder, fix)

    bad = tamper(small_bundle, tmp_path, wrong_target)
    fresh = Session.start(tiny_settings)
    with pytest.raises(AdapterError) as raised:
        fresh.attach_bundle(bad)
    assert str(raised.value).startswith("Adapter 'ia3' holds 2 tensor(s) this base has no place for")
    assert fresh.registry.names == [] and uploads(tiny_settings) == []  # lora was attached, then detached again
    assert fresh.attach_bundle(small_bundle)[0].name == "lora"  # and the session still works


def test_an_unsafe_bundle_zip_is_refused_by_the_upload_checks(small_bundle, tiny_settings, tmp_path):
    evil = tmp_path / "evil.zip"
    with zipfile.ZipFile(small_bundle) as src, zipfile.ZipFile(evil, "w") as out:
        for info in src.infolist():
            out.writestr(info.filename, src.read(info))
        out.writestr("../outside.txt", "x")
    assert is_bundle_zip(evil) and not is_bundle_zip(tmp_path / "nope.zip")
    with pytest.raises(AdapterSourceError, match="unsafe path '../outside.txt'"):
        Session.start(tiny_settings).attach_bundle(evil)
    assert not (tmp_path / "outside.txt").exists() and uploads(tiny_settings) == []


def test_saving_refuses_what_it_cannot_write_whole(tiny_session, tiny_adapters, tmp_path):
    with pytest.raises(BundleError, match="No adapters are attached"):
        tiny_session.save_bundle(tmp_path / "empty.zip")
    copy = tmp_path / "copy"
    shutil.copytree(tiny_adapters["lora"], copy)
    tiny_session.attach(copy, "lora")
    (tmp_path / "full").mkdir()
    (tmp_path / "full" / "x").write_text("x")
    with pytest.raises(BundleError, match="is not empty"):
        tiny_session.save_bundle(tmp_path / "full")
    flip_a_byte(copy / "adapter_model.safetensors")  # the attached adapter's file changed after the attach
    out = tmp_path / "out"
    out.mkdir()
    with pytest.raises(BundleError, match="'lora': its adapter_model.safetensors changed on disk since it was attached"):
        tiny_session.save_bundle(out / "b.zip")
    assert list(out.iterdir()) == []  # no staging folder, no partial zip


def test_staged_publishes_whole_or_leaves_nothing(tmp_path):
    """The one stage-then-publish step under bundles and merges: one rename at the end, nothing left on failure."""
    target = tmp_path / "out" / "model"
    with staged(target) as stage:
        assert stage.parent == target.parent and not target.exists()
        (stage / "weights").write_text("w")
    assert [p.name for p in target.parent.iterdir()] == ["model"] and (target / "weights").read_text() == "w"
    other = tmp_path / "out" / "other"
    with pytest.raises(RuntimeError, match="halfway"), staged(other) as stage:
        (stage / "weights").write_text("w")
        raise RuntimeError("halfway")
    assert [p.name for p in other.parent.iterdir()] == ["model"]  # no staging folder, no half-written target
    with staged(other, publish=False) as stage:
        (stage / "weights").write_text("w")
    assert [p.name for p in other.parent.iterdir()] == ["model"]  # not published: the caller publishes something else


# ---- the CLI --------------------------------------------------------------------------------------------


def test_cli_bundle_save_show_and_compare(tiny_base_dir, tiny_adapters, tmp_path, capsys):
    out = tmp_path / "cli.zip"
    assert main(["bundle", "save", "--base", str(tiny_base_dir), "--adapter", f"pirate={tiny_adapters['lora']}",
                 "--adapter", str(tiny_adapters["prompt"]), "--output", str(out)]) == 0
    printed = capsys.readouterr().out
    assert f"wrote {out} (2 adapters" in printed and "pirate" in printed and "prompt tuning" in printed

    assert main(["bundle", "show", str(out)]) == 0
    printed = capsys.readouterr().out
    assert "verified: 4 files match their SHA-256" in printed and "4 tokens" in printed
    assert main(["bundle", "show", str(out), "--json"]) == 0
    assert [a["name"] for a in json.loads(capsys.readouterr().out)["adapters"]] == ["pirate", "prompt"]

    result = tmp_path / "result.json"
    assert main(["compare", "--base", str(tiny_base_dir), "--bundle", str(out), "--adapter", f"ia3={tiny_adapters['ia3']}",
                 "--prompt", "hi", "--max-new-tokens", "3", "--json", str(result)]) == 0
    assert json.loads(result.read_text())["variants"] == ["base", "ia3", "pirate", "prompt"]

    bad = tamper(out, tmp_path, lambda f: flip_a_byte(f / "pirate" / "adapter_model.safetensors"))
    capsys.readouterr()
    assert main(["bundle", "show", str(bad)]) == 1
    error = capsys.readouterr().err
    assert error.startswith("error: tampered.zip: pirate/adapter_model.safetensors does not match") and error.count("\n") == 1


@pytest.mark.parametrize("argv, words", [
    (["bundle", "save", "--base", "{base}", "--output", "{tmp}/x.zip"], "No adapters given: pass --adapter"),
    (["bundle", "save", "--base", "{base}", "--adapter", "{tmp}/nope", "--output", "{tmp}/x.zip"], "Adapter folder not found"),
    (["bundle", "save", "--base", "{tmp}/no-base", "--adapter", "{lora}", "--output", "{lora}"], "is not empty"),  # before the model
    (["bundle", "show", "{tmp}/nope.zip"], "Bundle not found"),
    (["bundle", "show", "{lora}"], "has no bundle.json"),
    (["compare", "--base", "{base}", "--bundle", "{lora}/adapter_config.json", "--prompt", "hi"], "adapter_config.json is neither a bundle folder nor a .zip"),
])
def test_cli_bundle_bad_input_is_one_line(argv, words, tiny_base_dir, tiny_adapters, tmp_path, capsys):
    values = {"base": str(tiny_base_dir), "tmp": str(tmp_path), "lora": str(tiny_adapters["lora"])}
    assert main([a.format(**values) for a in argv]) == 1
    error = capsys.readouterr().err
    assert words in error and error.count("\n") == 1
    assert not (tmp_path / "x.zip").exists()


# ---- the page ---------------------------------------------------------------------------------------------


def test_save_a_bundle_on_the_page_then_upload_it_to_attach_all(ui, holder, tiny_adapters, tiny_settings):
    from adapters_ui.formatting import format_bytes
    from adapters_ui.session import SessionHolder
    from adapters_ui.ui.app import Handlers
    from adapters_ui.ui.common import exports_root

    notice, _file = ui.adapters.save_bundle()
    assert notice.startswith("**Error:** No adapters are attached")
    ui.adapters.attach_folder(str(tiny_adapters["lora"]), "")
    ui.adapters.attach_folder(str(tiny_adapters["dora"]), "")
    notice, file = ui.adapters.save_bundle()
    path = Path(file["value"])
    assert "Saved 2 adapters (lora, dora;" in notice and path.suffix == ".zip" and is_bundle_zip(path)
    assert f"{format_bytes(path.stat().st_size)})" in notice and "the download box counts in MiB" in notice
    assert exports_root() in path.parents  # where gradio may serve it from

    page = Handlers.on(SessionHolder(tiny_settings))  # a fresh app on the same base
    _header, notice, table, *_ = page.adapters.attach_zip(str(path), "ignored")
    assert notice.startswith("**Done:** Attached 2 adapters from the bundle") and "**lora** (LoRA), **dora** (DoRA)" in notice
    assert list(table["name"]) == ["lora", "dora"]
    _header, notice, *_ = page.adapters.attach_zip(str(path), "")
    assert notice.startswith("**Error:**") and "already attached under the same name" in notice
    session = page.holder.get()
    lora_folder, dora_folder = (Path(i.path) for i in session.adapters())
    page.adapters.detach("lora")
    assert not lora_folder.exists() and dora_folder.is_dir()  # detaching one deletes only its own files


def test_public_mode_takes_a_safetensors_bundle_upload_and_refuses_a_pickled_one(tiny_base_dir, tiny_session, tiny_adapters,
                                                                               tiny_settings, tmp_path):
    from helpers import adapter_configs, make_adapter
    from transformers import AutoModelForCausalLM

    as_bin = make_adapter(AutoModelForCausalLM.from_pretrained(tiny_base_dir), adapter_configs()["lora_b"],
                          tmp_path / "as_bin", safe_serialization=False)
    tiny_session.attach(tiny_adapters["lora"])
    tiny_session.save_bundle(tmp_path / "safe.zip")
    tiny_session.attach(as_bin)
    pickled = tiny_session.save_bundle(tmp_path / "pickled.zip")
    assert [f.name for f in pickled.adapters[1].files] == ["adapter_config.json", "adapter_model.bin"]

    public = Session.start(tiny_settings.replace(public=True))
    with pytest.raises(BundleError, match=r"pickled.zip: as_bin/adapter_model.bin is a pickle, refused in public mode"):
        public.attach_bundle(tmp_path / "pickled.zip")
    assert public.registry.names == [] and uploads(public.settings) == []
    (info,) = public.attach_bundle(tmp_path / "safe.zip")  # a visitor upload: unpacked under the uploads folder
    assert Path(info.path).parent == public.settings.cache_dir / "uploads"


@pytest.mark.integration
def test_cli_bundle_save_defaults_to_the_demo_adapters_on_the_embedded_base(monkeypatch, tmp_path, capsys):
    from app_server import CACHE

    monkeypatch.setenv("ADAPTERS_UI_CACHE_DIR", str(CACHE))  # the dequantized SmolLM2 the integration tests share
    out = tmp_path / "demo"
    assert main(["bundle", "save", "--output", str(out)]) == 0
    data = json.loads((out / MANIFEST).read_text())
    assert [a["name"] for a in data["adapters"]] == ["bullets", "json_answer", "pirate"]
    assert data["base_model"] == {"name": "HuggingFaceTB/SmolLM2-135M-Instruct", "kind": "embedded",
                                  "location": "SmolLM2-135M-Instruct.Q4_1.gguf"}
    demo = Path(__file__).resolve().parents[1] / "assets" / "adapters"
    for adapter in data["adapters"]:  # byte for byte the shipped files
        for entry in adapter["files"]:
            assert entry["sha256"] == sha(demo / adapter["name"] / entry["name"])
