"""Every bad adapter gets one clear line, nothing is half-attached, and the app keeps working."""

from __future__ import annotations

import json
import os
import pickle
import shutil
from pathlib import Path

import pytest
import torch
from helpers import adapter_configs, make_adapter, tiny_llama, tiny_tokenizer
from safetensors.torch import load_file, save_file

from adapters_ui import errors
from adapters_ui.config import Settings
from adapters_ui.session import Session


class Evil:
    """A pickle that runs a shell command when loaded by an unsafe unpickler."""

    def __init__(self, marker: Path):
        self.marker = marker

    def __reduce__(self):
        return (os.system, (f"touch {self.marker}",))


def copy_good(tiny_adapters, tmp_path, name="lora") -> Path:
    return Path(shutil.copytree(tiny_adapters[name], tmp_path / "work" / "adapter"))


def edit_config(folder: Path, **changes) -> Path:
    config = json.loads((folder / "adapter_config.json").read_text())
    config.update(changes)
    (folder / "adapter_config.json").write_text(json.dumps(config))
    return folder


def edit_tensors(folder: Path, change) -> Path:
    file = folder / "adapter_model.safetensors"
    tensors = load_file(file)
    change(tensors)
    save_file(tensors, file)
    return folder


def case_missing_folder(t, tmp):
    return tmp / "nope"


def case_file_not_folder(t, tmp):
    return copy_good(t, tmp) / "adapter_config.json"


def case_no_config(t, tmp):
    folder = copy_good(t, tmp)
    (folder / "adapter_config.json").unlink()
    return folder


def case_invalid_json(t, tmp):
    folder = copy_good(t, tmp)
    (folder / "adapter_config.json").write_text('{"peft_type": "LORA",\n  "r": 4,,}')
    return folder


def case_json_not_object(t, tmp):
    folder = copy_good(t, tmp)
    (folder / "adapter_config.json").write_text("[1, 2]")
    return folder


def case_no_peft_type(t, tmp):
    folder = copy_good(t, tmp)
    config = json.loads((folder / "adapter_config.json").read_text())
    del config["peft_type"]
    (folder / "adapter_config.json").write_text(json.dumps(config))
    return folder


def case_unknown_type(t, tmp):
    return edit_config(copy_good(t, tmp), peft_type="SUPER_LORA")


def case_unsupported_type(t, tmp):
    return edit_config(copy_good(t, tmp), peft_type="POLY")


def case_no_weights(t, tmp):
    folder = copy_good(t, tmp)
    (folder / "adapter_model.safetensors").unlink()
    return folder


def case_corrupt_weights(t, tmp):
    folder = copy_good(t, tmp)
    (folder / "adapter_model.safetensors").write_bytes(b"\x10\x00\x00\x00\x00\x00\x00\x00{not json")
    return folder


def case_other_architecture(t, tmp):
    """A real LoRA made for a (tiny) GPT-2: it targets c_attn, which Llama has no module of."""
    from peft import LoraConfig
    from transformers import GPT2Config, GPT2LMHeadModel

    gpt2 = GPT2LMHeadModel(GPT2Config(n_embd=32, n_layer=2, n_head=2, vocab_size=100, n_positions=64))
    config = LoraConfig(r=4, target_modules=["c_attn"], init_lora_weights=False, task_type="CAUSAL_LM")
    return make_adapter(gpt2, config, tmp / "gpt2-lora")


def case_other_size(t, tmp):
    """A real LoRA made for a Llama of another hidden size."""
    smaller = tiny_llama(len(tiny_tokenizer()), hidden=32)
    return make_adapter(smaller, adapter_configs()["lora"], tmp / "small-lora")


def case_extra_tensors(t, tmp):
    def add(tensors):
        tensors["base_model.model.model.layers.0.mlp.up_proj.lora_A.weight"] = torch.zeros(4, 64)

    return edit_tensors(copy_good(t, tmp), add)


def case_missing_tensors(t, tmp):
    def drop(tensors):
        del tensors[sorted(tensors)[0]]

    return edit_tensors(copy_good(t, tmp), drop)


def case_empty_weights(t, tmp):
    return edit_tensors(copy_good(t, tmp), lambda tensors: tensors.clear())


def case_malicious_bin(t, tmp):
    folder = copy_good(t, tmp)
    (folder / "adapter_model.safetensors").unlink()
    torch.save({"weight": Evil(tmp / "PWNED")}, folder / "adapter_model.bin")
    return folder


def case_malicious_raw_pickle(t, tmp):
    folder = copy_good(t, tmp)
    (folder / "adapter_model.safetensors").unlink()
    (folder / "adapter_model.bin").write_bytes(pickle.dumps(Evil(tmp / "PWNED")))
    return folder


BAD_ADAPTERS = [
    # (case, error type, words the one-line message must contain)
    (case_missing_folder, errors.AdapterNotFoundError, "Adapter folder not found"),
    (case_file_not_folder, errors.AdapterNotFoundError, "is a file, not a folder"),
    (case_no_config, errors.AdapterConfigError, "has no adapter_config.json"),
    (case_invalid_json, errors.AdapterConfigError, "is not valid JSON at line 2"),
    (case_json_not_object, errors.AdapterConfigError, "must hold a JSON object"),
    (case_no_peft_type, errors.AdapterConfigError, "has no peft_type"),
    (case_unknown_type, errors.UnknownPeftTypeError, "Unknown peft_type 'SUPER_LORA'"),
    (case_unsupported_type, errors.UnknownPeftTypeError, "POLY is not supported"),
    (case_no_weights, errors.AdapterWeightsError, "weights are missing"),
    (case_corrupt_weights, errors.AdapterWeightsError, "adapter_model.safetensors"),
    (case_other_architecture, errors.ArchitectureMismatchError, "targets c_attn"),
    (case_other_size, errors.ShapeMismatchError, "made for a model of another size"),
    (case_extra_tensors, errors.ArchitectureMismatchError, "has no place for"),
    (case_missing_tensors, errors.AdapterWeightsError, "the weights file is incomplete"),
    (case_empty_weights, errors.AdapterWeightsError, "holds no tensors"),
    (case_malicious_bin, errors.UnsafeWeightsError, "pickled code"),
    (case_malicious_raw_pickle, errors.UnsafeWeightsError, "pickled code"),
]


@pytest.mark.parametrize("make_bad, error, words", BAD_ADAPTERS, ids=[c[0].__name__[5:] for c in BAD_ADAPTERS])
def test_bad_adapter_is_refused_cleanly(make_bad, error, words, tiny_session, tiny_adapters, tmp_path):
    tiny_session.attach(tiny_adapters["lora_b"])  # an adapter already there must survive the failure
    tiny_session.attach(tiny_adapters["ia3"])
    settings = tiny_session.generation_settings(max_new_tokens=5)
    before = tiny_session.compare(["hi", "ok"], settings=settings)
    bad = make_bad(tiny_adapters, tmp_path)

    with pytest.raises(error) as caught:
        tiny_session.attach(bad, "candidate")

    message = str(caught.value)
    assert words in message
    assert "\n" not in message and len(message) < 400
    assert not (tmp_path / "PWNED").exists(), "a pickle ran code"
    assert tiny_session.variants == ["base", "lora_b", "ia3"]
    assert "candidate" not in tiny_session.backend._specs and "candidate" not in tiny_session.registry.names
    assert tiny_session.compare(["hi", "ok"], settings=settings).records() == before.records()
    tiny_session.attach(tiny_adapters["lora"], "candidate")  # the name is free again and attaching still works


@pytest.mark.parametrize(
    "name, words",
    [
        ("base", "reserved for the unadapted base model"),
        ("__base__", "reserved"),
        ("my.adapter", "is not usable"),
        ("has space", "is not usable"),
        ("-dash-first", "is not usable"),
        ("x" * 65, "is not usable"),
    ],
)
def test_bad_names(name, words, tiny_session, tiny_adapters):
    with pytest.raises(errors.AdapterNameError, match=words):
        tiny_session.attach(tiny_adapters["lora"], name)
    assert tiny_session.variants == ["base"]


def test_duplicate_name_is_an_error_not_an_overwrite(tiny_session, tiny_adapters):
    tiny_session.attach(tiny_adapters["lora"], "mine")
    settings = tiny_session.generation_settings(max_new_tokens=6)
    before = tiny_session.compare(["hello"], settings=settings).outputs("mine")
    with pytest.raises(errors.AdapterNameError, match="already attached"):
        tiny_session.attach(tiny_adapters["lora_b"], "mine")
    assert tiny_session.compare(["hello"], settings=settings).outputs("mine") == before


def test_folder_name_becomes_a_usable_name(tiny_session, tiny_adapters, tmp_path):
    folder = shutil.copytree(tiny_adapters["lora"], tmp_path / "my lora v1.2")
    assert tiny_session.attach(folder).name == "my_lora_v1_2"


def test_bin_weights_load_as_plain_tensors(tiny_session, tiny_adapters, tmp_path):
    from transformers import AutoModelForCausalLM

    base = AutoModelForCausalLM.from_pretrained(tiny_session.settings.base_model)
    folder = make_adapter(base, adapter_configs()["lora"], tmp_path / "as_bin", seed=1, safe_serialization=False)
    assert (folder / "adapter_model.bin").exists() and not (folder / "adapter_model.safetensors").exists()
    info = tiny_session.attach(folder)
    tiny_session.attach(tiny_adapters["lora"], "as_safetensors")  # same seed and config: same weights
    assert info.weights_format == "bin"
    result = tiny_session.compare(["hello", "bye"], settings=tiny_session.generation_settings(max_new_tokens=6))
    assert result.outputs("as_bin") == result.outputs("as_safetensors")


def test_public_mode_refuses_any_pickle(tiny_base_dir, tmp_path):
    from transformers import AutoModelForCausalLM

    session = Session.start(Settings(base_model=str(tiny_base_dir), cache_dir=tmp_path, public=True))
    base = AutoModelForCausalLM.from_pretrained(tiny_base_dir)
    folder = make_adapter(base, adapter_configs()["lora"], tmp_path / "as_bin", safe_serialization=False)
    with pytest.raises(errors.UnsafeWeightsError, match="refused in public mode"):
        session.attach(folder)


def test_caps(tiny_base_dir, tiny_adapters, tmp_path):
    session = Session.start(Settings(base_model=str(tiny_base_dir), cache_dir=tmp_path, max_adapters=1, max_adapter_bytes=4000))
    with pytest.raises(errors.AdapterWeightsError, match="over the 4,000-byte cap"):
        session.attach(tiny_adapters["lora"])  # 7 kB of weights; lokr has 2 kB
    session.attach(tiny_adapters["lokr"])
    with pytest.raises(errors.AdapterError, match="the most allowed"):
        session.attach(tiny_adapters["ia3"])


def test_detach_unknown_and_base(tiny_session):
    with pytest.raises(errors.AdapterError, match="No adapter named 'ghost'"):
        tiny_session.detach("ghost")
    with pytest.raises(errors.AdapterError, match="cannot be detached"):
        tiny_session.detach("base")


def test_adapter_table_row(tiny_session, tiny_adapters):
    info = tiny_session.attach(tiny_adapters["dora"])
    assert (info.peft_type, info.method, info.route, info.rank, info.alpha) == ("LORA", "DoRA", "mixed", 4, 8.0)
    assert info.target_modules == ("q_proj", "v_proj")
    assert info.params == 2 * (4 * 64 + 64 * 4 + 64) + 2 * (4 * 64 + 4 * 32 + 32)  # q: 64->64, v: 64->32, + magnitudes
    assert info.bytes_on_disk == (tiny_adapters["dora"] / "adapter_model.safetensors").stat().st_size  # its size: the weights
