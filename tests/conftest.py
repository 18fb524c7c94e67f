"""Shared fixtures. Every test runs offline, with its own cache folder and no ADAPTERS_UI_* from the user."""

from __future__ import annotations

import copy
import os
from pathlib import Path

os.environ["HF_HUB_OFFLINE"] = "1"  # before any import reads it: no test may reach a hub

import pytest

from helpers import adapter_configs, make_adapter, save_tiny_base

from adapters_ui.config import Settings
from adapters_ui.session import Session


@pytest.fixture(autouse=True)
def isolated_env(monkeypatch, tmp_path_factory):
    for key in list(os.environ):
        if key.startswith("ADAPTERS_UI_"):
            monkeypatch.delenv(key)
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    monkeypatch.setenv("ADAPTERS_UI_CACHE_DIR", str(tmp_path_factory.getbasetemp() / "cache"))


@pytest.fixture(scope="session")
def tiny_base_dir(tmp_path_factory) -> Path:
    """A tiny random Llama + character tokenizer, built in memory and saved as a model folder."""
    return save_tiny_base(tmp_path_factory.mktemp("tiny-llama"))


@pytest.fixture(scope="session")
def tiny_adapters(tiny_base_dir, tmp_path_factory) -> dict[str, Path]:
    """One saved adapter per PEFT method, with random weights, made on the tiny base."""
    from transformers import AutoModelForCausalLM

    base = AutoModelForCausalLM.from_pretrained(tiny_base_dir)
    root = tmp_path_factory.mktemp("adapters")
    return {name: make_adapter(base, config, root / name, seed=i + 1) for i, (name, config) in enumerate(adapter_configs().items())}


@pytest.fixture
def tiny_settings(tiny_base_dir, tmp_path) -> Settings:
    return Settings(base_model=str(tiny_base_dir), cache_dir=tmp_path / "cache")


@pytest.fixture
def tiny_session(tiny_settings) -> Session:
    return Session.start(tiny_settings)


@pytest.fixture
def pristine_base(tiny_session):
    """An untouched copy of the tiny session's base model, for plain-PEFT references."""
    return copy.deepcopy(tiny_session.base.model)
