"""The known-harmless library warnings are silenced, each by its message and module; nothing else is."""

from __future__ import annotations

import json
import re
import shutil
import warnings

import pytest

from adapters_ui.config import Settings
from adapters_ui.model.quiet import KNOWN_HARMLESS, quiet_known_warnings
from adapters_ui.session import Session


def start_attach_compare(settings: Settings, adapters: dict, quiet: bool) -> list[str]:
    """What the app does (start, attach, compare), recording every warning, repeats included."""
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        if quiet:
            quiet_known_warnings()
        session = Session.start(settings)
        for name, folder in adapters.items():
            session.attach(folder, name)
        session.compare(["Hi", "Say ok"], settings=session.generation_settings(max_new_tokens=2))
    return [f"{w.category.__name__}: {w.message}" for w in caught]


@pytest.fixture
def hub_named_lora(tiny_adapters, tmp_path):
    """The tiny LoRA as if made on a Hub model, like the demo adapters (they name HuggingFaceTB/SmolLM2-...)."""
    folder = shutil.copytree(tiny_adapters["lora"], tmp_path / "hub_lora")
    config = json.loads((folder / "adapter_config.json").read_text())
    (folder / "adapter_config.json").write_text(json.dumps({**config, "base_model_name_or_path": "org/tiny-llama"}))
    return folder


def test_the_known_warnings_are_silenced(tiny_settings, tiny_adapters, hub_named_lora):
    adapters = {"lora": hub_named_lora, "prompt": tiny_adapters["prompt"], "ia3": tiny_adapters["ia3"]}
    loud = start_attach_compare(tiny_settings, adapters, quiet=False)
    for category, message, _module, _why in KNOWN_HARMLESS:  # the control: each one really happens
        assert any(re.match(f"{category.__name__}: {message}", text) for text in loud), message
    assert start_attach_compare(tiny_settings, adapters, quiet=True) == []


@pytest.mark.parametrize(
    "message, module, shown",
    [
        ("Position ids are not supported for parameter efficient tuning. Ignoring position ids.", "peft.peft_model", False),
        ("Token type ids are not supported for parameter efficient tuning. Ignoring token type ids", "peft.peft_model", True),
        ("Position ids are not supported for parameter efficient tuning. Ignoring position ids.", "my_code", True),
        ("Position ids are not supported for parameter efficient tuning. Ignoring position ids.", "peft.peft_model_x", True),
    ],
)
def test_only_that_message_from_that_module(message, module, shown):
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        quiet_known_warnings()
        filters = list(warnings.filters)
        quiet_known_warnings()
        assert warnings.filters == filters  # calling it again adds nothing
        warnings.warn_explicit(message, UserWarning, "somewhere.py", 1, module=module)
    assert bool(caught) is shown
