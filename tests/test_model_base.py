"""Resolving what --base names, and choosing device and dtype."""

from __future__ import annotations

import pytest
import torch

from adapters_ui.config import Settings
from adapters_ui.disk import file_sha256
from adapters_ui.errors import BaseModelError, ConfigError
from adapters_ui.model.base import (
    embedded_gguf_path,
    gguf_cache_key,
    load_base,
    pick_device,
    pick_dtype,
    resolve_source,
    same_model,
)
from adapters_ui.names import EMBEDDED_NAME, short_model_name


def test_nothing_given_means_the_embedded_gguf():
    source = resolve_source(None)
    assert (source.kind, source.name) == ("embedded", EMBEDDED_NAME)
    assert source.file.name == "SmolLM2-135M-Instruct.Q4_1.gguf" and source.file.is_file()


@pytest.mark.parametrize(
    "spec, kind, error",
    [
        ("HuggingFaceTB/SmolLM2-135M-Instruct", "hub", None),
        ("{tmp}/model.gguf", None, "GGUF file not found"),
        ("{tmp}", None, "has no config.json"),
        ("./no/such/folder", None, "Base model not found"),
        ("{tiny}", "folder", None),
    ],
)
def test_resolve_source(spec, kind, error, tmp_path, tiny_base_dir):
    spec = spec.format(tmp=tmp_path, tiny=tiny_base_dir)
    if error:
        with pytest.raises(BaseModelError, match=error):
            resolve_source(spec)
    else:
        assert resolve_source(spec).kind == kind


def test_dtype_follows_the_device():
    assert pick_dtype(torch.device("cpu")) == torch.float32
    assert pick_dtype(torch.device("mps")) == torch.float16
    assert pick_dtype(torch.device("cpu"), "bfloat16") == torch.bfloat16


@pytest.mark.skipif(torch.cuda.is_available(), reason="checks the message for a machine without CUDA")
def test_asking_for_a_missing_gpu_is_a_clear_error():
    assert pick_device("auto") == torch.device("cpu")
    with pytest.raises(BaseModelError, match="no CUDA GPU is available"):
        pick_device("cuda")


def test_dtype_flag_is_applied(tiny_base_dir, tmp_path):
    base = load_base(Settings(base_model=str(tiny_base_dir), cache_dir=tmp_path, dtype="bfloat16"))
    assert {p.dtype for p in base.model.parameters()} == {torch.bfloat16}
    assert base.tokenizer.padding_side == "left" and base.tokenizer.pad_token is not None


@pytest.mark.parametrize(
    "env, words",
    [({"ADAPTERS_UI_DEVICE": "tpu"}, "Unknown device 'tpu'"), ({"ADAPTERS_UI_MAX_NEW_TOKENS": "lots"}, "must be a whole number"),
     ({"ADAPTERS_UI_MAX_ADAPTERS": "0"}, "at least 1")],
)
def test_bad_settings(env, words):
    with pytest.raises(ConfigError, match=words):
        Settings.from_env(env)


def test_settings_from_env_and_flags():
    settings = Settings.from_env({"ADAPTERS_UI_DEVICE": "CPU", "ADAPTERS_UI_PUBLIC": "yes", "ADAPTERS_UI_DEMO": "0"}, dtype="float16")
    assert (settings.device, settings.dtype, settings.public, settings.demo) == ("cpu", "float16", True, False)


# ---- does an adapter's recorded base mean this base? ----------------------------------------


@pytest.mark.parametrize(
    "recorded, same",
    [
        ("HuggingFaceTB/SmolLM2-135M-Instruct", True),
        ("{package}", True),  # loaded from the package folder with gguf_file=...
        ("{package}/", True),
        ("{package}/SmolLM2-135M-Instruct.Q4_1.gguf", True),
        ("SmolLM2-135M-Instruct.Q4_1.gguf", True),
        ("{cache}/gguf/{key}", True),  # the dequantized copy this app makes
        ("/home/me/models/SmolLM2-135M-Instruct", True),
        ("{cache}/gguf/0123456789abcdef0123456789abcdef", False),  # some other GGUF's copy
        ("HuggingFaceTB/SmolLM2-360M-Instruct", False),
        ("/srv/models/llm_other", False),
        ("meta-llama/Llama-3.2-1B", False),
    ],
)
def test_same_model_recognises_the_embedded_default(recorded, same, tmp_path):
    gguf = embedded_gguf_path()
    recorded = recorded.format(package=gguf.parent, cache=tmp_path, key=file_sha256(gguf)[:32])
    assert same_model(recorded, EMBEDDED_NAME) is same
    assert same_model(EMBEDDED_NAME, recorded) is same


def test_the_cache_key_names_the_folder_load_base_writes(tmp_path):
    """The key same_model accepts is the folder the dequantized copy really lands in."""
    gguf = embedded_gguf_path()
    assert gguf_cache_key(gguf) == file_sha256(gguf)[:32]


@pytest.mark.parametrize(
    "name, short",
    [
        ("HuggingFaceTB/SmolLM2-360M-Instruct", "HuggingFaceTB/SmolLM2-360M-Instruct"),
        ("/work/main/.venv/lib/python3.11/site-packages/llm_other", "llm_other"),
        ("/srv/models/Llama-3.2-1B/", "Llama-3.2-1B"),
        ("/data/models/Qwen2.5-0.5B.Q4_K_M.gguf", "Qwen2.5-0.5B.Q4_K_M.gguf"),
        (r"C:\Users\me\models\phi-2", "phi-2"),
        ("/root/.cache/adapters_ui/gguf/0123456789abcdef0123456789abcdef", "dequantized GGUF 01234567"),
        ("/m/" + "x" * 80, "x" * 47 + "…"),
    ],
)
def test_short_model_name(name, short):
    assert short_model_name(name) == short
    assert "/home" not in short and "\n" not in short and len(short) <= 48
