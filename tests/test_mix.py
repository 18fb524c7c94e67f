"""Weighted mixes of attached LoRA adapters (PEFT's add_weighted_adapter), on the tiny Llama: the mix is a
real adapter folder, attached and compared like any other; what cannot be mixed is one line, before any work."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from helpers import make_adapter
from peft import LoraConfig
from transformers import AutoModelForCausalLM

from adapters_ui.errors import AdapterError, UnknownVariantError

PROMPTS = ["hello there", "a longer prompt about the sea", "x"]


@pytest.fixture(scope="module")
def lora_twin(tiny_base_dir, tmp_path_factory) -> Path:
    """A second LoRA with the same rank and targets as tiny_adapters['lora'] (r4 on q, v), other weights."""
    config = LoraConfig(r=4, lora_alpha=8, target_modules=["q_proj", "v_proj"], init_lora_weights=False, task_type="CAUSAL_LM")
    return make_adapter(AutoModelForCausalLM.from_pretrained(tiny_base_dir), config,
                        tmp_path_factory.mktemp("twin") / "twin", seed=7, scale=0.3)


@pytest.fixture
def mixing(tiny_session, tiny_adapters, lora_twin):
    for name in ("lora", "lora_b", "dora", "ia3"):
        tiny_session.attach(tiny_adapters[name])
    tiny_session.attach(lora_twin)
    return tiny_session


def outputs(session, variant: str) -> list[str]:
    return session.compare(PROMPTS, [variant], session.generation_settings(max_new_tokens=10)).outputs(variant)


def test_a_linear_one_zero_mix_equals_the_first_adapter(mixing):
    info = mixing.mix("only_lora", {"lora": 1.0, "twin": 0.0}, "linear")
    assert info.method == "LoRA" and info.rank == 4 and "only_lora" in mixing.variants
    assert outputs(mixing, "only_lora") == outputs(mixing, "lora") != outputs(mixing, "twin")
    recipe = json.loads((Path(info.path) / "mix.json").read_text())
    assert recipe["method"] == "linear" and recipe["weights"] == {"lora": 1.0, "twin": 0.0}


def test_a_half_half_mix_differs_from_both_and_is_sized_from_its_files(mixing):
    info = mixing.mix("half", {"lora": 0.5, "twin": 0.5}, "linear")
    half = outputs(mixing, "half")
    assert half != outputs(mixing, "lora") and half != outputs(mixing, "twin")
    assert mixing.storage().to_dict()["adapters"]["half"]["bytes"] == info.bytes_on_disk > 0


@pytest.mark.parametrize("method, rank", [("cat", 6), ("svd", 4)])
def test_adapters_of_different_ranks_and_targets_mix_with_cat_or_svd(mixing, method, rank):
    info = mixing.mix(f"mix_{method}", {"lora": 0.6, "lora_b": 0.4}, method)
    assert info.rank == rank and set(info.target_modules) == {"q_proj", "v_proj", "k_proj", "o_proj"}
    assert outputs(mixing, f"mix_{method}") != outputs(mixing, "lora")


def test_a_ties_mix_keeps_a_share_of_each_update(mixing):
    assert mixing.mix("tied", {"lora": 1.0, "twin": 1.0}, "ties", density=0.5).rank == 4
    tied = outputs(mixing, "tied")
    assert tied != outputs(mixing, "lora") and tied != outputs(mixing, "twin")


def test_detaching_a_mix_deletes_its_folder(mixing):
    folder = Path(mixing.mix("gone", {"lora": 0.5, "twin": 0.5}).path)
    mixing.detach("gone")
    from adapters_ui.adapters.sources import remove_upload

    assert remove_upload(folder, mixing.settings) and not folder.exists()


@pytest.mark.parametrize("name, parts, method, density, error, words", [
    ("m", {"lora": 1.0, "lora_b": 1.0}, "linear", None, AdapterError, "linear mixes need equal ranks, these differ (lora r4, lora_b r2): use cat or svd"),
    ("m", {"lora": 1.0, "dora": 1.0}, "cat", None, AdapterError, "'dora' is DoRA"),
    ("m", {"lora": 1.0, "ia3": 1.0}, "cat", None, AdapterError, "'ia3' is IA3: only LoRA adapters can be mixed"),
    ("m", {"lora": 1.0}, "linear", None, AdapterError, "at least two attached LoRA adapters"),
    ("m", {"lora": 1.0, "twin": 1.0}, "average", None, AdapterError, "Unknown combination method 'average'"),
    ("m", {"lora": 0.0, "twin": 0.0}, "linear", None, AdapterError, "not all zero"),
    ("m", {"lora": 1.0, "twin": 1.0}, "ties", None, AdapterError, "give a density between 0 and 1"),
    ("m", {"lora": 1.0, "nope": 1.0}, "linear", None, UnknownVariantError, "Unknown variant 'nope'"),
    ("m", {"base": 1.0, "lora": 1.0}, "linear", None, AdapterError, "The base model is not an adapter"),
    ("lora", {"lora": 1.0, "twin": 1.0}, "linear", None, AdapterError, "already attached"),
    ("base", {"lora": 1.0, "twin": 1.0}, "linear", None, AdapterError, "reserved"),
])
def test_what_cannot_be_mixed_is_one_line_and_leaves_nothing(mixing, name, parts, method, density, error, words):
    before = [a.name for a in mixing.adapters()]
    uploads = mixing.settings.cache_dir / "uploads"
    with pytest.raises(error) as raised:
        mixing.mix(name, parts, method, density)
    assert words in str(raised.value) and "\n" not in str(raised.value)
    assert [a.name for a in mixing.adapters()] == before
    assert not uploads.exists() or not any(uploads.iterdir())
