"""The CLI: readable table, the documented JSON, and bad input as one line with a non-zero exit."""

from __future__ import annotations

import json
import re
import subprocess
import sys
from pathlib import Path

import pytest
from helpers import JSON_KEYS

from adapters_ui.cli.common import parse_adapter_arg
from adapters_ui.cli.main import main

ROOT = Path(__file__).resolve().parents[1]


def test_compare_writes_the_documented_json(tiny_base_dir, tiny_adapters, tmp_path, capsys):
    prompts = tmp_path / "prompts.jsonl"
    prompts.write_text('{"prompt": "Hello there"}\n{"prompt": "What is 2+2?", "reference": "4"}\n')
    out = tmp_path / "result.json"
    code = main([
        "compare", "--base", str(tiny_base_dir),
        "--adapter", f"pirate={tiny_adapters['lora']}", "--adapter", str(tiny_adapters["ia3"]),
        "--prompts", str(prompts), "--max-new-tokens", "6", "--json", str(out),
    ])
    assert code == 0
    data = json.loads(out.read_text())
    assert list(data) == JSON_KEYS  # the same document as the UI's JSON export
    assert data["settings"]["max_new_tokens"] == 6 and set(data["routes"]) == {"base", "pirate", "ia3"}
    assert [row["name"] for row in data["adapters"]] == ["pirate", "ia3"]
    assert [d["variant"] for d in data["differences"]] == ["pirate", "ia3"]
    assert data["variants"] == ["base", "pirate", "ia3"]
    assert data["device"] == "cpu" and data["dtype"] == "float32"
    assert [r["prompt"] for r in data["results"]] == ["Hello there", "What is 2+2?"]
    assert all(set(r["outputs"]) == {"base", "pirate", "ia3"} for r in data["results"])
    assert data["storage"]["full_model_bytes"] > 0
    assert set(data["storage"]["adapters"]) == {"pirate", "ia3"}
    assert data["storage"]["adapters"]["pirate"]["params"] == 1792
    assert data["timing"]["load_s"] >= 0 and data["timing"]["generate_s"] > 0
    printed = capsys.readouterr().out
    assert "[1] Hello there" in printed and "pirate" in printed and "x smaller" in printed


@pytest.mark.parametrize(
    "argv_tail, words",
    [
        (["--adapter", "{missing}", "--prompt", "hi"], "Adapter folder not found"),
        (["--adapter", "base={lora}", "--prompt", "hi"], "reserved"),
        (["--adapter", "{lora}", "--prompts", "{nofile}"], "does not exist"),
        (["--adapter", "{lora}", "--prompt", "hi", "--max-new-tokens", "0"], "at least 1"),
        (["--adapter", "{lora}", "--prompt", "hi", "--max-new-tokens", "100000"], "over the cap"),
        (["--adapter", "{lora}", "--adapter", "{ia3}", "--mix", "m=lora:1,ia3:1", "--prompt", "hi"], "'ia3' is IA3: only LoRA"),
        (["--adapter", "{lora}", "--mix", "m=lora", "--prompt", "hi"], "'lora' has no weight"),
    ],
)
def test_compare_bad_input(argv_tail, words, tiny_base_dir, tiny_adapters, tmp_path, capsys):
    values = {"missing": str(tmp_path / "nope"), "lora": str(tiny_adapters["lora"]), "nofile": str(tmp_path / "p.txt"),
              "ia3": str(tiny_adapters["ia3"])}
    argv = ["compare", "--base", str(tiny_base_dir)] + [a.format(**values) for a in argv_tail]
    assert main(argv) == 1
    err = capsys.readouterr().err.strip()
    assert err.startswith("error: ") and words in err and "\n" not in err


def test_compare_a_mix_of_two_adapters(tiny_base_dir, tiny_adapters, tmp_path):
    out = tmp_path / "mix.json"
    code = main(["compare", "--base", str(tiny_base_dir), "--adapter", f"a={tiny_adapters['lora']}",
                 "--adapter", f"b={tiny_adapters['lora_b']}", "--mix", "blend=a:0.5,b:0.5", "--mix-method", "svd",
                 "--prompt", "Hello there", "--max-new-tokens", "6", "--json", str(out)])
    assert code == 0
    data = json.loads(out.read_text())
    assert data["variants"] == ["base", "a", "b", "blend"]
    assert [row["rank"] for row in data["adapters"]] == [4, 2, 4]


def test_inspect_good_adapter(tiny_base_dir, tiny_adapters, capsys):
    assert main(["inspect", str(tiny_adapters["loha"]), "--base", str(tiny_base_dir)]) == 0
    out = capsys.readouterr().out
    assert "OK:" in out and "LoHa (LOHA)" in out and "x smaller" in out


def test_bad_base_is_one_line(tmp_path, capsys):
    assert main(["inspect", str(tmp_path), "--base", str(tmp_path / "missing.gguf")]) == 1
    assert capsys.readouterr().err.strip() == f"error: GGUF file not found: {tmp_path / 'missing.gguf'}. Check the path, or pass a hub id or a model folder."


@pytest.mark.parametrize(
    "value, expected",
    [("pirate=some/dir", ("pirate", "some/dir")), ("some/dir", (None, "some/dir")), ("a.b=c", (None, "a.b=c"))],
)
def test_parse_adapter_arg(value, expected):
    assert parse_adapter_arg(value) == expected


def test_real_entry_point_never_prints_a_traceback(tiny_base_dir, tiny_adapters, tmp_path):
    """python -m adapters_ui, as a user runs it, on an adapter whose config is broken."""
    bad = tmp_path / "broken"
    bad.mkdir()
    (bad / "adapter_config.json").write_text("{oops")
    run = subprocess.run(
        [sys.executable, "-m", "adapters_ui", "inspect", str(bad), "--base", str(tiny_base_dir)],
        cwd=ROOT, capture_output=True, text=True, timeout=300,
    )
    assert run.returncode == 1
    assert "Traceback" not in run.stderr
    assert run.stderr.strip().splitlines()[-1] == f"error: {bad / 'adapter_config.json'} is not valid JSON at line 1, column 2: fix or re-save the adapter."


def test_ctrl_c_stops_the_comparison_and_keeps_what_was_written(tiny_base_dir, tiny_adapters, tmp_path):
    """Live progress on stderr; SIGINT ends the run cleanly: exit 130, outputs so far printed and saved."""
    import signal

    prompts = tmp_path / "many.txt"
    prompts.write_text("\n".join(f"Prompt number {i}" for i in range(24)) + "\n")  # 48 rows: 3 loops of 16
    out = tmp_path / "partial.json"
    process = subprocess.Popen(
        [sys.executable, "-m", "adapters_ui", "compare", "--base", str(tiny_base_dir), "--adapter", f"lora={tiny_adapters['lora']}",
         "--prompts", str(prompts), "--max-new-tokens", "300", "--batch-size", "16", "--json", str(out)],
        cwd=ROOT, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
    )
    progress = []
    for line in process.stderr:  # a line per change of the outputs count, and of the tokens count at most once a second
        progress.append(line.strip())
        if line.startswith("16 of 48 outputs done"):
            process.send_signal(signal.SIGINT)
            break
    stdout, stderr = process.communicate(timeout=300)
    assert process.returncode == 130, stderr
    assert re.fullmatch(r"0 of 48 outputs done · [\d,]+ of 14,400 tokens", progress[0]) and "Traceback" not in stderr
    written = [int(re.search(r"· ([\d,]+) of", line)[1].replace(",", "")) for line in progress]
    assert written == sorted(written)  # how often it moves depends on the clock: test_runs checks it by events
    assert "stopping: keeping what was written" in stderr and "stopped: " in stderr
    assert "[cut off]" in stdout or "(not run: stopped)" in stdout
    data = json.loads(out.read_text())
    assert data["status"] == "stopped"
    finished = [text for r in data["results"] for text in r["outputs"].values() if text is not None]
    assert 16 <= len(finished) < 48
