"""Resolving what --base names, and choosing device and dtype."""

from __future__ import annotations

import pytest
import torch

from adapters_ui.base_model import EMBEDDED_NAME, load_base, pick_device, pick_dtype, resolve_source
from adapters_ui.config import Settings
from adapters_ui.errors import BaseModelError, ConfigError


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
