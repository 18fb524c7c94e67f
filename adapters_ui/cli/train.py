"""The train command of the CLI: fine-tune one PEFT adapter on prompt/response pairs.

    python -m adapters_ui train --data pairs.jsonl --output my_adapter
"""

from __future__ import annotations

from pathlib import Path

from adapters_ui.adapters.training import METHODS, SAVE_DTYPES
from adapters_ui.cli.common import add_model_flags, examples
from adapters_ui.config import Settings


def add_commands(commands) -> None:
    """`train` (loads the base model)."""
    train = commands.add_parser("train", help="fine-tune a PEFT adapter on prompt/response pairs", **examples(
        "%(prog)s --data pairs.jsonl --output my_adapter",
        "%(prog)s --data pairs.jsonl --output my_dora --method dora --rank 8 --targets all-linear --steps 300"))
    add_model_flags(train)
    train.add_argument("--data", type=Path, required=True, help='JSONL of {"prompt": ..., "response": ...}')
    train.add_argument("--output", type=Path, required=True, help="adapter folder to write")
    train.add_argument("--method", default="lora", choices=METHODS)
    train.add_argument("--rank", type=int, default=8, help="rank (virtual tokens for --method prompt); default 8")
    train.add_argument("--alpha", type=float, help="scaling alpha (default 2 x rank)")
    train.add_argument("--targets", nargs="+", default=["q_proj", "v_proj"], help="module names, or all-linear")
    train.add_argument("--steps", type=int, default=150)
    train.add_argument("--batch-size", type=int, default=8)
    train.add_argument("--learning-rate", type=float, help="default: 5e-4 (LoRA family), 3e-3 (IA3), 3e-2 (prompt)")
    train.add_argument("--max-length", type=int, default=256, help="tokens per example")
    train.add_argument("--seed", type=int, default=0)
    train.add_argument("--save-dtype", default="float32", choices=SAVE_DTYPES)
    train.add_argument("--log-every", type=int, default=10)
    train.set_defaults(handler=run_train, loads_model=True)


def run_train(args, settings: Settings) -> int:
    """Fine-tune one adapter, logging as it goes."""
    from adapters_ui.adapters.training import TrainConfig, train

    config = TrainConfig(
        data=args.data, output=args.output, method=args.method, rank=args.rank, alpha=args.alpha,
        targets=tuple(args.targets), steps=args.steps, batch_size=args.batch_size, learning_rate=args.learning_rate,
        max_length=args.max_length, seed=args.seed, save_dtype=args.save_dtype, log_every=args.log_every,
    )
    train(config, settings, on_log=lambda line: print(line, flush=True))
    return 0
