"""Merged export (PEFT's merge_and_unload) on the tiny Llama: the merged folder loads with plain transformers and
writes what base + adapter write through the session; the session's own model is never touched; what cannot be
merged is one line, before any work, and leaves nothing behind."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest
import torch
from helpers import plain_generate
from safetensors.torch import load_file, save_file
from transformers import AutoModelForCausalLM, AutoTokenizer

from adapters_ui.cli.main import main
from adapters_ui.errors import AdapterError, MergeError, UnknownVariantError

PROMPTS = ["hello there", "a longer prompt about the sea", "x", "What is 2+2?"]
TOKENS = 12


def session_outputs(session, variant: str) -> list[str]:
    return session.compare(PROMPTS, [variant], session.generation_settings(max_new_tokens=TOKENS)).outputs(variant)


def merged_outputs(folder: Path) -> list[str]:
    """Greedy outputs of the merged folder through plain transformers: no PEFT, no adapters_ui."""
    model = AutoModelForCausalLM.from_pretrained(folder).eval()
    tokenizer = AutoTokenizer.from_pretrained(folder)
    return [plain_generate(model, tokenizer, prompt, TOKENS) for prompt in PROMPTS]


def snapshot(model: torch.nn.Module) -> dict[str, torch.Tensor]:
    return {name: tensor.detach().clone() for name, tensor in model.state_dict().items()}


def leftovers(folder: Path) -> list[str]:
    return [p.name for p in folder.iterdir() if "merging" in p.name or p.name.endswith(".partial")]


@pytest.mark.parametrize("kind", ["lora", "ia3", "loha", "dora"])
def test_the_merged_folder_writes_what_base_plus_adapter_write(tiny_session, tiny_adapters, tmp_path, kind):
    session = tiny_session
    session.attach(tiny_adapters[kind], "tuned")
    session.attach(tiny_adapters["lora_b"], "other")  # another adapter mounted in the serving model meanwhile
    wanted, base_before = session_outputs(session, "tuned"), session_outputs(session, "base")
    assert wanted != base_before  # the adapter changes the outputs, so equal outputs below mean something
    before = snapshot(session.base.model)
    merged = session.merge("tuned", tmp_path / "out")
    assert merged_outputs(merged.folder) == wanted
    # The serving model is untouched: the same tensors, the same outputs, the adapter still switchable.
    after = snapshot(session.base.model)
    assert after.keys() == before.keys() and all(torch.equal(before[k], after[k]) for k in before)
    assert session_outputs(session, "tuned") == wanted and session_outputs(session, "base") == base_before
    assert session.variants == ["base", "tuned", "other"]


def test_sizes_the_warning_and_what_is_written(tiny_session, tiny_adapters, tmp_path):
    tiny_session.attach(tiny_adapters["lora"], "tuned")
    plan = tiny_session.merge_plan("tuned")
    full = tiny_session.storage().model
    assert plan.merged_bytes == full.full_copy_bytes == full.params * 4 and plan.dtype == "float32"
    assert plan.adapter_bytes == tiny_session.storage().adapters["tuned"].bytes_on_disk
    text = plan.warning()
    assert text.startswith("Merged model: ") and "the merged copy cannot be un-merged" in text and "\n" not in text
    assert f"{plan.ratio:.0f}x the adapter's" in text or f"{plan.ratio:.1f}x the adapter's" in text
    (tmp_path / "out").mkdir()  # an empty folder may be the target
    merged = tiny_session.merge("tuned", tmp_path / "out")
    names = {p.name for p in merged.folder.iterdir()}
    assert {"config.json", "model.safetensors", "tokenizer.json", "merge.json"} <= names
    assert not any(n.startswith("adapter_") for n in names)  # a plain model: no PEFT files
    weights = load_file(merged.folder / "model.safetensors")
    assert all(t.dtype == torch.float32 for t in weights.values()) and not any("lora" in k for k in weights)
    assert sum(t.numel() for t in weights.values()) == plan.params
    assert 0 <= merged.weights_bytes - plan.merged_bytes < 64_000  # the safetensors header
    assert merged.bytes_on_disk == sum(p.stat().st_size for p in merged.folder.iterdir())
    provenance = json.loads((merged.folder / "merge.json").read_text())
    assert provenance["adapter"] == "tuned" and provenance["adapter_type"] == "LoRA" and provenance["dtype"] == "float32"
    assert leftovers(tmp_path) == []
    summary = merged.summary()
    assert "one-way" in summary[-1] and "x the adapter's" in summary[1]


@pytest.fixture
def foreign_lora(tiny_adapters, tmp_path) -> Path:
    """tiny_adapters['lora'] claiming to be made for another model."""
    folder = tmp_path / "foreign"
    shutil.copytree(tiny_adapters["lora"], folder)
    config = json.loads((folder / "adapter_config.json").read_text())
    config["base_model_name_or_path"] = "meta-llama/Llama-3.2-1B"
    (folder / "adapter_config.json").write_text(json.dumps(config))
    return folder


@pytest.fixture
def nan_lora(tiny_adapters, tmp_path) -> Path:
    """tiny_adapters['lora'] with one NaN in its weights."""
    folder = tmp_path / "nan"
    shutil.copytree(tiny_adapters["lora"], folder)
    tensors = load_file(folder / "adapter_model.safetensors")
    key = sorted(tensors)[0]
    tensors[key][0, 0] = float("nan")
    save_file(tensors, str(folder / "adapter_model.safetensors"))
    return folder


@pytest.mark.parametrize("name, output, error, words", [
    ("prompt", "out", MergeError, "'prompt' is prompt tuning: its learned virtual tokens go in front of each prompt"),
    ("ptuning", "out", MergeError, "'ptuning' is p-tuning"),
    ("foreign", "out", MergeError, "was made for meta-llama/Llama-3.2-1B, not for this base"),
    ("nan", "out", MergeError, "Merging adapter 'nan' gives NaNs in the weights: its weights are broken"),
    ("lora", "taken", MergeError, "exists and is not empty: give a new folder"),
    ("lora", "a_file", MergeError, "is a file: give a new folder"),
    ("ghost", "out", UnknownVariantError, "Unknown variant 'ghost'"),
    ("base", "out", AdapterError, "The base model is not an adapter"),
])
def test_what_cannot_be_merged_is_one_line_and_leaves_nothing(tiny_session, tiny_adapters, foreign_lora, nan_lora, tmp_path,
                                                             name, output, error, words):
    for kind in ("lora", "prompt", "ptuning"):
        tiny_session.attach(tiny_adapters[kind])
    tiny_session.attach(foreign_lora)
    tiny_session.attach(nan_lora)
    target = tmp_path / "exports"
    target.mkdir()
    (target / "taken").mkdir()
    (target / "taken" / "keep.txt").write_text("mine")
    (target / "a_file").write_text("mine")
    before = sorted(p.name for p in target.iterdir())
    with pytest.raises(error) as raised:
        tiny_session.merge(name, target / output)
    assert words in str(raised.value) and "\n" not in str(raised.value)
    assert sorted(p.name for p in target.iterdir()) == before  # nothing written, nothing half-written
    assert (target / "taken" / "keep.txt").read_text() == "mine"


def test_the_cli_merges_a_folder_and_says_what_it_wrote(tiny_base_dir, tiny_adapters, tmp_path, capsys):
    out = tmp_path / "merged"
    assert main(["merge", "--base", str(tiny_base_dir), "--adapter", str(tiny_adapters["lokr"]), "--output", str(out)]) == 0
    printed = capsys.readouterr().out.splitlines()
    assert printed[0] == f"wrote {out.resolve()}"
    assert "merged lokr (LoKr) into" in printed[1] and "saved as float32" in printed[1]
    assert printed[2].strip().startswith("merged model: ") and "x the adapter's" in printed[2]
    assert "one-way" in printed[3] and "cannot be un-merged" in printed[3]
    assert (out / "model.safetensors").is_file() and leftovers(tmp_path) == []


@pytest.mark.parametrize("adapter, output, words", [
    ("{missing}", "{new}", "Adapter folder not found"),
    ("{prompt}", "{new}", "is prompt tuning"),
    ("{foreign}", "{new}", "was made for meta-llama/Llama-3.2-1B"),
    ("{lora}", "{taken}", "exists and is not empty"),
])
def test_cli_bad_input_is_one_line(tiny_base_dir, tiny_adapters, foreign_lora, tmp_path, capsys, adapter, output, words):
    (tmp_path / "taken").mkdir()
    (tmp_path / "taken" / "x").write_text("x")
    values = {"missing": str(tmp_path / "nope"), "prompt": str(tiny_adapters["prompt"]), "lora": str(tiny_adapters["lora"]),
              "foreign": str(foreign_lora), "new": str(tmp_path / "new"), "taken": str(tmp_path / "taken")}
    argv = ["merge", "--base", str(tiny_base_dir), "--adapter", adapter.format(**values), "--output", output.format(**values)]
    assert main(argv) == 1
    err = capsys.readouterr().err.strip()
    assert err.startswith("error: ") and words in err and "\n" not in err
    assert not (tmp_path / "new").exists()


def test_cli_help_shows_an_example(capsys):
    with pytest.raises(SystemExit):
        main(["merge", "--help"])
    assert "python -m adapters_ui merge --adapter assets/adapters/pirate --output pirate-merged" in capsys.readouterr().out


def test_the_page_warns_with_both_sizes_then_merges_on_a_copy_and_offers_a_zip(ui, holder, tiny_adapters):
    import zipfile

    from adapters_ui.formatting import format_bytes

    ui.adapters.attach_folder(str(tiny_adapters["lora"]), "tuned")
    ui.adapters.attach_folder(str(tiny_adapters["prompt"]), "soft")
    session = holder.get()
    assert ui.merge.merge_choices(None)["choices"] in (["tuned", "soft"], [("tuned", "tuned"), ("soft", "soft")])
    plan = session.merge_plan("tuned")
    box, button, notice, download = ui.merge.merge_preview("tuned")
    warning = box["value"].replace("\u00a0", " ")
    assert box["visible"] is True and warning.startswith("⚠️ **Merging is one-way.** Merged model: ")
    assert format_bytes(plan.merged_bytes) in warning and f"the adapter's {format_bytes(plan.adapter_bytes)}" in warning
    assert "cannot be un-merged" in warning
    assert button["visible"] is True and notice == "" and download["visible"] is False
    before = snapshot(session.base.model)
    notice, download = ui.merge.merge("tuned")
    assert notice.startswith("**Done:** merged **tuned** (LoRA) into ") and "Folder on the server: `" in notice
    assert "x the adapter's" in notice and "\n" not in notice
    archive = Path(download["value"])
    assert download["visible"] is True and archive.suffix == ".zip"
    weights = (archive.with_suffix("") / "model.safetensors").stat().st_size  # one size for the merged model: its weights
    assert f": {format_bytes(weights)} of weights, " in notice and "expected" not in notice and " on disk" not in notice
    assert f"below ({format_bytes(archive.stat().st_size)}; the download box counts in MiB" in notice
    with zipfile.ZipFile(archive) as zf:
        names = zf.namelist()
    assert "tuned-merged/model.safetensors" in names and "tuned-merged/config.json" in names
    folder = archive.with_suffix("")
    assert f"`{folder}`" in notice and (folder / "model.safetensors").is_file()
    after = snapshot(session.base.model)
    assert all(torch.equal(before[k], after[k]) for k in before)
    # What cannot be merged: one line in the warning box, no button, no work.
    box, button, _notice, _download = ui.merge.merge_preview("soft")
    assert box["value"].startswith("**Error:** Adapter 'soft' is prompt tuning") and button["visible"] is False
    notice, download = ui.merge.merge("soft")
    assert notice.startswith("**Error:** Adapter 'soft' is prompt tuning") and download["visible"] is False
    assert ui.merge.merge(None)[0] == "**Error:** No adapter chosen: pick the adapter to merge."
    assert ui.merge.merge_preview(None)[0]["visible"] is False


def test_public_pages_do_not_show_server_paths(tiny_settings, tiny_adapters):
    from adapters_ui.session import SessionHolder
    from adapters_ui.ui.app import Handlers

    ui = Handlers.on(SessionHolder(tiny_settings.replace(public=True, adapter_dirs=(tiny_adapters["lora"].parent,))))
    ui.adapters.attach_folder(str(tiny_adapters["ia3"].resolve()), "tuned")
    notice, download = ui.merge.merge("tuned")
    assert notice.startswith("**Done:** merged **tuned** (IA3)") and "Folder on the server" not in notice
    assert str(Path(download["value"]).parent) not in notice


def test_a_host_can_turn_merges_off(tiny_settings, tiny_adapters, monkeypatch):
    """ADAPTERS_UI_MERGES=0: the page (and the Session) refuse in one line before any work; the CLI still merges."""
    from adapters_ui.config import Settings
    from adapters_ui.session import SessionHolder
    from adapters_ui.ui.app import Handlers

    monkeypatch.setenv("ADAPTERS_UI_MERGES", "0")
    assert Settings.from_env().merges is False and Settings.from_env({"ADAPTERS_UI_MERGES": "yes"}).merges is True
    ui = Handlers.on(SessionHolder(tiny_settings.replace(merges=False)))
    ui.adapters.attach_folder(str(tiny_adapters["lora"]), "tuned")
    box, button, _notice, download = ui.merge.merge_preview("tuned")
    assert box["value"].startswith("**Error:** Merging is turned off on this server (ADAPTERS_UI_MERGES=0)")
    assert button["visible"] is False and download["visible"] is False
    notice, download = ui.merge.merge("tuned")
    assert notice.startswith("**Error:** Merging is turned off") and "\n" not in notice and download["visible"] is False


def test_a_server_backend_refuses_in_one_line(tiny_base_dir, tmp_path):
    """The weights live on the serving engine: nothing to merge here (a real RemoteBackend; no request is made)."""
    from adapters_ui.backends.remote.backend import RemoteBackend, ServedModel
    from adapters_ui.backends.remote.client import ServerClient
    from adapters_ui.config import Settings
    from adapters_ui.model.base import load_skeleton
    from adapters_ui.session import Session

    settings = Settings(base_model=str(tiny_base_dir), cache_dir=tmp_path / "cache")
    skeleton = load_skeleton(settings, str(tiny_base_dir), "http://127.0.0.1:1/v1")
    backend = RemoteBackend(ServerClient("http://127.0.0.1:1", timeout_s=1), skeleton, ServedModel("tiny", None, None, "vllm"))
    with pytest.raises(AdapterError) as raised:
        Session(skeleton, settings, backend).merge("pirate", tmp_path / "out")
    assert str(raised.value).startswith("Merging needs the base weights in this process") and "\n" not in str(raised.value)
    assert not (tmp_path / "out").exists()


@pytest.mark.integration
def test_the_cli_merges_the_demo_pirate_into_the_embedded_smollm2(tmp_path, monkeypatch, capsys):
    """The real thing: the default base (its dequantized copy is cached), the demo LoRA, ~538 MB written."""
    from app_server import CACHE, ROOT

    from adapters_ui.config import Settings
    from adapters_ui.session import Session

    monkeypatch.setenv("ADAPTERS_UI_CACHE_DIR", str(CACHE))
    out = tmp_path / "pirate-merged"
    assert main(["merge", "--adapter", str(ROOT / "assets/adapters/pirate"), "--output", str(out)]) == 0
    printed = capsys.readouterr().out
    assert "into HuggingFaceTB/SmolLM2-135M-Instruct" in printed and "saved as float32" in printed
    provenance = json.loads((out / "merge.json").read_text())
    assert provenance["base_model"] == "HuggingFaceTB/SmolLM2-135M-Instruct" and provenance["adapter"] == "pirate"
    session = Session.start(Settings(cache_dir=CACHE, demo=False))
    session.attach(ROOT / "assets/adapters/pirate")
    prompt = "Tell me about the sea."
    settings = session.generation_settings(max_new_tokens=16)
    wanted = session.compare([prompt], ["pirate"], settings).outputs("pirate")[0]
    weights = (out / "model.safetensors").stat().st_size
    assert 0 <= weights - session.merge_plan("pirate").merged_bytes < 100_000
    model = AutoModelForCausalLM.from_pretrained(out).eval()
    assert plain_generate(model, AutoTokenizer.from_pretrained(out), prompt, 16) == wanted


def test_the_merged_folder_is_readable_like_any_other(tiny_base_dir, tiny_adapters, tmp_path):
    import os
    import stat

    out = tmp_path / "merged"
    assert main(["merge", "--base", str(tiny_base_dir), "--adapter", str(tiny_adapters["lora"]), "--output", str(out)]) == 0
    umask = os.umask(0)
    os.umask(umask)
    assert stat.S_IMODE(out.stat().st_mode) == 0o777 & ~umask
    assert {stat.S_IMODE(p.stat().st_mode) for p in out.iterdir()} == {0o666 & ~umask}


def test_the_cli_saves_in_the_dtype_the_base_loads_in(tiny_base_dir, tiny_adapters, tmp_path, capsys):
    out = tmp_path / "half"
    argv = ["merge", "--base", str(tiny_base_dir), "--adapter", str(tiny_adapters["lora"]), "--output", str(out), "--dtype", "bfloat16"]
    assert main(argv) == 0
    assert "saved as bfloat16" in capsys.readouterr().out
    weights = load_file(out / "model.safetensors")
    assert {t.dtype for t in weights.values()} == {torch.bfloat16}
    provenance = json.loads((out / "merge.json").read_text())
    assert provenance["dtype"] == "bfloat16"
