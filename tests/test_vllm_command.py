"""The command line that starts the CPU vLLM server (backends/remote/vllm_launch), read back as vLLM would: no
server is started. Structured outputs must be compact for a weak judge, and vLLM (0.32.0, its
StructuredOutputsConfig validator) refuses ``disable_any_whitespace`` unless the backend is xgrammar or guidance."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from adapters_ui.backends.remote.vllm_launch import vllm_command


def option(command: list[str], name: str) -> list[str]:
    """Every value given to ``name`` on the command line."""
    return [command[i + 1] for i, arg in enumerate(command) if arg == name]


@pytest.mark.parametrize("adapters, modules", [({}, []), ({"lora": Path("/a/lora")}, ["lora=/a/lora"])])
def test_the_server_answers_json_without_whitespace_on_a_backend_that_allows_it(adapters, modules):
    command, _env = vllm_command(8000, Path("/m"), adapters, Path("/venv"))
    value, = option(command, "--structured-outputs-config")
    config = json.loads(value)
    assert config == {"backend": "xgrammar", "disable_any_whitespace": True}
    assert config["backend"] in ("xgrammar", "guidance")  # vLLM's own rule for disable_any_whitespace
    assert command[:3] == ["/venv/bin/python", "-m", "vllm.entrypoints.openai.api_server"]
    assert option(command, "--lora-modules") == modules[:1] and command[len(command) - len(modules):] == modules
    assert option(command, "--model") == ["/m"] and option(command, "--port") == ["8000"]
