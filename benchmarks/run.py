"""Speed of the engine against the plain way, on the embedded default (SmolLM2-135M, CPU here).

Plain way: one PeftModel with every adapter, set_adapter(name), one prompt at a time.
Engine:    LoRA adapters and base rows in one mixed batch, others batched per adapter.
Prints the times and the ratio; also checks that both give the same texts.

    python benchmarks/run.py [--adapters 4] [--prompts 6] [--tokens 24] [--first-load]
"""

from __future__ import annotations

import argparse
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path[:0] = [str(ROOT), str(ROOT / "tests")]

from helpers import make_adapter, plain_generate  # noqa: E402

from adapters_ui.config import Settings  # noqa: E402
from adapters_ui.model.base import load_base  # noqa: E402
from adapters_ui.session import Session  # noqa: E402

PROMPTS = [
    "What is the capital of France?",
    "Give me a tip for learning to cook.",
    "Explain photosynthesis in one sentence.",
    "Name three colours.",
    "Write a haiku about autumn leaves falling on a quiet pond.",
    "Why is the sky blue?",
    "Suggest a name for a grey cat.",
    "What is 12 times 12?",
]


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--adapters", type=int, default=4)
    parser.add_argument("--prompts", type=int, default=6)
    parser.add_argument("--tokens", type=int, default=24)
    parser.add_argument("--first-load", action="store_true", help="also time a load with an empty cache (~30 s)")
    args = parser.parse_args()
    from peft import LoraConfig, PeftModel
    from transformers.utils import logging as hf_logging

    hf_logging.disable_progress_bar()
    hf_logging.set_verbosity_error()
    cache = ROOT / ".cache" / "test-models"
    if args.first_load:
        with tempfile.TemporaryDirectory() as empty:
            first = load_base(Settings(cache_dir=Path(empty)))
            print(f"first load (dequantize GGUF, write cache): {first.load_s:6.1f} s")
    settings = Settings(cache_dir=cache)
    session = Session.start(settings)
    print(f"cached load:                                {session.base.load_s:6.1f} s")
    prompts = (PROMPTS * 4)[: args.prompts]
    with tempfile.TemporaryDirectory() as tmp:
        targets = [["q_proj", "v_proj"], ["k_proj", "o_proj"], "all-linear", ["up_proj", "down_proj"]]
        paths = []
        for i in range(args.adapters):
            config = LoraConfig(r=8, lora_alpha=16, target_modules=targets[i % 4], init_lora_weights=False, task_type="CAUSAL_LM")
            paths.append(make_adapter(session.base.model, config, Path(tmp) / f"lora{i}", seed=i + 1, scale=0.05))
            session.attach(paths[-1])
        gen = session.generation_settings(max_new_tokens=args.tokens)

        started = time.perf_counter()
        result = session.compare(prompts, settings=gen)
        engine_s = time.perf_counter() - started

        plain = PeftModel.from_pretrained(load_base(settings).model, str(paths[0]), adapter_name="lora0").eval()
        for i, path in enumerate(paths[1:], 1):
            plain.load_adapter(str(path), adapter_name=f"lora{i}")
        tokenizer = session.base.tokenizer
        started = time.perf_counter()
        plain_out = {}
        with plain.disable_adapter():
            plain_out["base"] = [plain_generate(plain, tokenizer, p, args.tokens) for p in prompts]
        for i in range(len(paths)):
            plain.set_adapter(f"lora{i}")
            plain_out[f"lora{i}"] = [plain_generate(plain, tokenizer, p, args.tokens) for p in prompts]
        plain_s = time.perf_counter() - started

    same = all(result.outputs(v) == plain_out[v] for v in plain_out)
    rows = len(prompts) * (args.adapters + 1)
    print(f"outputs: {len(prompts)} prompts x {args.adapters + 1} variants = {rows}, {args.tokens} new tokens each")
    print(f"plain PEFT, one adapter and one prompt at a time: {plain_s:6.1f} s")
    print(f"engine (mixed LoRA batch):                        {engine_s:6.1f} s")
    print(f"speed-up: {plain_s / engine_s:.2f}x   identical texts: {same}")


if __name__ == "__main__":
    main()
