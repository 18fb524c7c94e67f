"""The same comparison (base + K LoRA adapters x N prompts) through the in-process engine and through a
vLLM server, from one run: prints both times, the ratio, and whether the outputs agree token for token.

On the embedded SmolLM2-135M-Instruct, greedy, fp32, every output exactly ``--tokens`` long (min_new_tokens
= max_new_tokens, so an early end of text flatters nobody). The adapters are K copies of the demo's LoRAs
(pirate, json_answer, pirate, ...) under their own names, served by the server from the start.

    python benchmarks/vllm_bench.py                          # CPU: starts vLLM's CPU build (make vllm)
    python benchmarks/vllm_bench.py --adapters 2 --prompts 16
    python benchmarks/vllm_bench.py --all-cores              # vLLM computes on every core (it keeps one by default)
    python benchmarks/vllm_bench.py --backend-url http://gpu-host:8000   # GPU section: a vLLM you started

GPU section: with a CUDA GPU here, the in-process engine runs on it (bf16 unless --dtype), and
``--backend-url`` names a CUDA vLLM serving the same base and adapter folders (started as the README's
"Scaling out" shows, with --lora-modules <name>=<folder> for each copy this script prints).
"""

from __future__ import annotations

import argparse
import os
import shutil
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path[:0] = [str(ROOT), str(ROOT / "tests")]

import torch  # noqa: E402
from app_server import CACHE, free_port  # noqa: E402

from adapters_ui.adapters import demo  # noqa: E402
from adapters_ui.backends.remote.vllm_launch import VLLMServer  # noqa: E402
from adapters_ui.config import Settings  # noqa: E402
from adapters_ui.runs.prompts import demo_prompts  # noqa: E402
from adapters_ui.session import Session  # noqa: E402


def adapter_copies(count: int, root: Path) -> dict[str, Path]:
    sources = ["pirate", "json_answer"]
    copies = {}
    for i in range(count):
        source = sources[i % 2]
        copies[f"{source}_{i + 1}"] = Path(shutil.copytree(demo.DEMO_ADAPTERS / source, root / f"{source}_{i + 1}"))
    return copies


def timed_compare(session: Session, prompts: list[str], variants: list[str], tokens: int) -> tuple[float, dict]:
    settings = session.generation_settings(max_new_tokens=tokens, min_new_tokens=tokens)
    session.compare(prompts[:1], variants[:2], settings)  # warm-up: first-call costs are not the comparison's
    started = time.perf_counter()
    comparison = session.compare(prompts, variants, settings)
    return time.perf_counter() - started, {v: comparison.outputs(v) for v in variants}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--adapters", type=int, default=4, help="K LoRA adapters (default 4)")
    parser.add_argument("--prompts", type=int, default=8, help="N prompts from the demo set, repeated when N > 8 (default 8)")
    parser.add_argument("--tokens", type=int, default=32, help="tokens per output (default 32)")
    parser.add_argument("--backend-url", help="a vLLM already serving the base and the printed adapter copies (GPU section)")
    parser.add_argument("--dtype", default="auto", help="in-process dtype (default auto: fp32 on CPU, bf16 on CUDA)")
    parser.add_argument("--all-cores", action="store_true", help="vLLM's CPU engine on every core: by default it "
                        "reserves one for its API server (on 2 cores: computes on 1)")
    args = parser.parse_args()
    if args.all_cores:
        os.environ.update(VLLM_CPU_OMP_THREADS_BIND=f"0-{os.cpu_count() - 1}", VLLM_CPU_NUM_OF_RESERVED_CPU="0")

    base_prompts = demo_prompts()
    prompts = (base_prompts * (args.prompts // len(base_prompts) + 1))[: args.prompts]
    gpu = torch.cuda.is_available()
    print(f"machine: {'CUDA ' + torch.cuda.get_device_name(0) if gpu else 'CPU'}, {torch.get_num_threads()} torch threads; "
          f"K={args.adapters} LoRA adapters x N={args.prompts} prompts x {args.tokens} tokens (+ base)")
    with tempfile.TemporaryDirectory() as tmp:
        copies = adapter_copies(args.adapters, Path(tmp))
        variants = ["base", *copies]
        server = None
        if args.backend_url:
            url = args.backend_url
            print("serve these on the vLLM: --lora-modules " + " ".join(f"{n}={p}" for n, p in copies.items()))
        else:
            server = VLLMServer(free_port(), Path(tmp) / "vllm.log", CACHE, adapters=copies, max_loras=args.adapters)
            url = server.start()
            print(f"vLLM (CPU build) started in {server.start_s:.1f} s; cores: {server.core_line()}")
        try:
            local = Session.start(Settings(cache_dir=CACHE, dtype=args.dtype, demo=False, max_new_tokens_cap=4096))
            for folder in copies.values():
                local.attach(folder)
            local_s, local_out = timed_compare(local, prompts, variants, args.tokens)
            remote = Session.start(Settings(cache_dir=CACHE, backend_url=url, demo=False, max_new_tokens_cap=4096))
            for folder in copies.values():
                remote.attach(folder)  # the server's own adapters (same folders): nothing to load
            remote_s, remote_out = timed_compare(remote, prompts, variants, args.tokens)
        finally:
            if server is not None:
                server.stop()
    rows = len(prompts) * len(variants)
    same = sum(a == b for v in variants for a, b in zip(local_out[v], remote_out[v]))
    print(f"in-process ({local.backend.description}, {local.base.device_name}): {local_s:.2f} s, "
          f"{rows * args.tokens / local_s:.0f} tokens/s")
    print(f"vLLM ({remote.backend.description}): {remote_s:.2f} s, {rows * args.tokens / remote_s:.0f} tokens/s")
    print(f"ratio in-process / vLLM: {local_s / remote_s:.2f} (above 1: vLLM is faster)")
    print(f"outputs equal token for token: {same} of {rows}")


if __name__ == "__main__":
    main()
