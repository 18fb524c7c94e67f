"""Fine-tune one PEFT adapter on prompt/response pairs, save it with a model card.

Data: JSONL, one ``{"prompt": ..., "response": ...}`` a line. Each pair is rendered with
the tokenizer's chat template; the loss covers only the response tokens (and the
end-of-turn token), so the adapter learns how to answer, not how to ask.

    prompt ids: [<|im_start|>user\\n ... <|im_end|>\\n<|im_start|>assistant\\n]  labels -100
    answer ids: [response ... <|im_end|>]                                      labels = ids
"""

from __future__ import annotations

import json
import math
import random
import shlex
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Callable

from adapters_ui.config import Settings
from adapters_ui.errors import ConfigError, PromptError

if TYPE_CHECKING:  # torch loads when training starts: the CLI's --help reads METHODS and SAVE_DTYPES without it
    import torch

METHODS = ("lora", "rslora", "dora", "ia3", "loha", "lokr", "prompt")
SAVE_DTYPES = ("float32", "float16", "bfloat16")
ATTENTION = ["q_proj", "k_proj", "v_proj", "o_proj"]


@dataclass(frozen=True)
class TrainConfig:
    """What to train. Every field is a `train` flag of the same name."""

    data: Path
    output: Path
    method: str = "lora"
    rank: int = 8
    alpha: float | None = None  # default: 2 x rank
    targets: tuple[str, ...] = ("q_proj", "v_proj")  # ("all-linear",) for every linear layer
    steps: int = 150
    batch_size: int = 8
    learning_rate: float | None = None  # default per method
    max_length: int = 256
    seed: int = 0
    save_dtype: str = "float32"
    log_every: int = 10

    def __post_init__(self) -> None:
        if self.method not in METHODS:
            raise ConfigError(f"Unknown method {self.method!r}: use one of {', '.join(METHODS)}.")
        if self.save_dtype not in SAVE_DTYPES:
            raise ConfigError(f"Unknown save dtype {self.save_dtype!r}: use one of {', '.join(SAVE_DTYPES)}.")
        for name in ("rank", "steps", "batch_size", "max_length", "log_every"):
            if getattr(self, name) < 1:
                raise ConfigError(f"{name} must be at least 1, got {getattr(self, name)}.")

    @property
    def lr(self) -> float:
        if self.learning_rate is not None:
            return self.learning_rate
        return {"ia3": 3e-3, "prompt": 3e-2}.get(self.method, 5e-4)


@dataclass
class TrainResult:
    output: Path
    losses: list[float] = field(default_factory=list)  # one per step
    seconds: float = 0.0
    trainable_params: int = 0
    examples: int = 0

    @property
    def start_loss(self) -> float:
        return mean(self.losses[: max(1, len(self.losses) // 10)])

    @property
    def final_loss(self) -> float:
        return mean(self.losses[-max(1, len(self.losses) // 10):])


def mean(values: list[float]) -> float:
    return sum(values) / len(values)


def peft_config(config: TrainConfig):
    """The PEFT config for a method name."""
    from peft import IA3Config, LoHaConfig, LoKrConfig, LoraConfig, PromptTuningConfig

    targets = "all-linear" if config.targets == ("all-linear",) else list(config.targets)
    alpha = config.alpha if config.alpha is not None else 2 * config.rank
    common = {"task_type": "CAUSAL_LM"}
    if config.method in ("lora", "rslora", "dora"):
        return LoraConfig(r=config.rank, lora_alpha=alpha, lora_dropout=0.05, target_modules=targets,
                          use_rslora=config.method == "rslora", use_dora=config.method == "dora", **common)
    if config.method == "ia3":
        feedforward = [t for t in (targets if isinstance(targets, list) else []) if t in ("down_proj", "up_proj", "gate_proj")]
        return IA3Config(target_modules=targets, feedforward_modules=feedforward, **common)
    if config.method == "loha":
        return LoHaConfig(r=config.rank, alpha=alpha, target_modules=targets, **common)
    if config.method == "lokr":
        return LoKrConfig(r=config.rank, alpha=alpha, target_modules=targets, **common)
    return PromptTuningConfig(num_virtual_tokens=config.rank, **common)


def read_pairs(path: Path) -> list[dict]:
    """``{"prompt", "response"}`` records from a JSONL file; one-line errors name the bad line."""
    if not path.is_file():
        raise PromptError(f"Training data {path} does not exist: give a .jsonl file of {{\"prompt\", \"response\"}} lines.")
    pairs = []
    for number, line in enumerate(path.read_text(encoding="utf-8").splitlines(), 1):
        if not line.strip():
            continue
        try:
            record = json.loads(line)
        except json.JSONDecodeError:
            raise PromptError(f"{path} line {number} is not valid JSON: fix that line.") from None
        if not isinstance(record, dict) or not str(record.get("prompt", "")).strip() or not str(record.get("response", "")).strip():
            raise PromptError(f"{path} line {number} needs non-empty \"prompt\" and \"response\" strings.")
        pairs.append({"prompt": str(record["prompt"]), "response": str(record["response"])})
    if not pairs:
        raise PromptError(f"{path} holds no training pairs: add {{\"prompt\", \"response\"}} lines.")
    return pairs


def encode_pair(tokenizer, prompt: str, response: str, max_length: int) -> tuple[list[int], list[int]]:
    """Token ids and labels (-100 on the prompt part) for one chat turn."""
    user = [{"role": "user", "content": prompt}]
    prompt_text = tokenizer.apply_chat_template(user, add_generation_prompt=True, tokenize=False)
    full_text = tokenizer.apply_chat_template(user + [{"role": "assistant", "content": response}], tokenize=False)
    if not full_text.startswith(prompt_text):  # a template that rewrites earlier turns: fall back to plain text
        full_text = prompt_text + response + (tokenizer.eos_token or "")
    prompt_ids = tokenizer(prompt_text, add_special_tokens=False)["input_ids"]
    full_ids = tokenizer(full_text.rstrip("\n"), add_special_tokens=False)["input_ids"][:max_length]
    labels = [-100] * min(len(prompt_ids), len(full_ids)) + full_ids[len(prompt_ids):]
    return full_ids, labels


def collate(batch: list[tuple[list[int], list[int]]], pad_id: int) -> dict[str, torch.Tensor]:
    """Right-pad a batch: [batch, longest] ids, mask and labels (-100 on padding)."""
    import torch

    longest = max(len(ids) for ids, _ in batch)
    ids = torch.full((len(batch), longest), pad_id)
    labels = torch.full((len(batch), longest), -100)
    mask = torch.zeros((len(batch), longest), dtype=torch.long)
    for row, (row_ids, row_labels) in enumerate(batch):
        ids[row, : len(row_ids)] = torch.tensor(row_ids)
        labels[row, : len(row_labels)] = torch.tensor(row_labels)
        mask[row, : len(row_ids)] = 1
    return {"input_ids": ids, "attention_mask": mask, "labels": labels}


def train(config: TrainConfig, settings: Settings, on_log: Callable[[str], None] = print, base=None) -> TrainResult:
    """Train and save one adapter; ``base`` (a LoadedBase) may be passed to reuse a loaded model."""
    import torch
    from peft import get_peft_model

    from adapters_ui.model.base import load_base

    pairs = read_pairs(config.data)
    base = base or load_base(settings)
    tokenizer = base.tokenizer
    random.seed(config.seed)
    torch.manual_seed(config.seed)
    encoded = [encode_pair(tokenizer, p["prompt"], p["response"], config.max_length) for p in pairs]
    model = get_peft_model(base.model, peft_config(config))
    model.train()
    trainable = [p for p in model.parameters() if p.requires_grad]
    optimizer = torch.optim.AdamW(trainable, lr=config.lr, weight_decay=0.0)
    warmup = max(1, config.steps // 10)
    schedule = torch.optim.lr_scheduler.LambdaLR(
        optimizer, lambda step: min(1.0, (step + 1) / warmup) * 0.5 * (1 + math.cos(math.pi * min(step, config.steps) / config.steps))
    )
    result = TrainResult(config.output, trainable_params=sum(p.numel() for p in trainable), examples=len(pairs))
    on_log(f"training {config.method} ({result.trainable_params:,} params) on {len(pairs)} pairs from {config.data}, "
           f"{config.steps} steps x {config.batch_size}, lr {config.lr:g}, device {base.device}")
    started = time.perf_counter()
    order: list[int] = []
    for step in range(1, config.steps + 1):
        if len(order) < config.batch_size:  # reshuffle each epoch
            order += random.sample(range(len(encoded)), len(encoded))
        batch = collate([encoded[i] for i in order[: config.batch_size]], tokenizer.pad_token_id)
        del order[: config.batch_size]
        loss = model(**{k: v.to(base.device) for k, v in batch.items()}).loss
        loss.backward()
        torch.nn.utils.clip_grad_norm_(trainable, 1.0)
        optimizer.step()
        schedule.step()
        optimizer.zero_grad(set_to_none=True)
        result.losses.append(loss.item())
        if step % config.log_every == 0 or step in (1, config.steps):
            elapsed = time.perf_counter() - started
            on_log(f"step {step:>4}/{config.steps}  loss {mean(result.losses[-config.log_every:]):.4f}  ({elapsed:.0f} s)")
    result.seconds = time.perf_counter() - started
    model.eval()
    save_adapter(model, config, result, base.source.name)
    on_log(f"saved {config.output} in {result.seconds:.0f} s: loss {result.start_loss:.3f} -> {result.final_loss:.3f}")
    return result


def save_adapter(model, config: TrainConfig, result: TrainResult, base_name: str) -> None:
    """save_pretrained in the chosen dtype, then our model card (replacing PEFT's template)."""
    if config.save_dtype != "float32":
        dtype = getattr(torch, config.save_dtype)
        for param in model.parameters():
            if param.requires_grad:
                param.data = param.data.to(dtype)
    config.output.mkdir(parents=True, exist_ok=True)
    # save_embedding_layers=False: we never train embeddings, and "auto" fetches the base's config from the hub.
    model.save_pretrained(config.output, save_embedding_layers=False)
    (config.output / "README.md").write_text(model_card(config, result, base_name), encoding="utf-8")
    (config.output / "training_log.json").write_text(
        json.dumps({"losses": [round(x, 5) for x in result.losses], "seconds": round(result.seconds, 1)}) + "\n",
        encoding="utf-8",
    )


def command_line(config: TrainConfig) -> str:
    """The `train` command that reproduces this adapter."""
    parts = ["python -m adapters_ui train", f"--data {shlex.quote(str(config.data))}", f"--output {shlex.quote(str(config.output))}",
             f"--method {config.method}", f"--rank {config.rank}", f"--targets {' '.join(config.targets)}",
             f"--steps {config.steps}", f"--batch-size {config.batch_size}", f"--seed {config.seed}"]
    if config.alpha is not None:
        parts.append(f"--alpha {config.alpha:g}")
    if config.learning_rate is not None:
        parts.append(f"--learning-rate {config.learning_rate:g}")
    if config.save_dtype != "float32":
        parts.append(f"--save-dtype {config.save_dtype}")
    return " ".join(parts)


def model_card(config: TrainConfig, result: TrainResult, base_name: str) -> str:
    peft = peft_config(config).to_dict()
    shown = {k: v for k, v in peft.items() if k in ("peft_type", "r", "lora_alpha", "alpha", "use_dora", "use_rslora",
                                                   "target_modules", "feedforward_modules", "num_virtual_tokens", "lora_dropout")}
    shown = {k: sorted(v) if isinstance(v, (set, list)) else v for k, v in shown.items()}
    curve = ", ".join(f"{x:.3f}" for x in result.losses[:: max(1, len(result.losses) // 10)])
    return f"""---
library_name: peft
base_model: {base_name}
---
# {config.output.name}

A {config.method} adapter for **{base_name}**, trained by `adapters_ui`.

- **PEFT config:** `{json.dumps(shown, default=str)}`
- **Trainable parameters:** {result.trainable_params:,}
- **Data:** `{config.data}` ({result.examples} prompt/response pairs, chat template, loss on responses only)
- **Training:** {config.steps} steps x batch {config.batch_size}, AdamW lr {config.lr:g} (warm-up, cosine decay), seed {config.seed}, {result.seconds:.0f} s
- **Loss:** {result.start_loss:.3f} (first tenth of steps) -> {result.final_loss:.3f} (last tenth)
- **Loss curve (every {max(1, len(result.losses) // 10)} steps):** {curve}
- **Saved as:** {config.save_dtype}

## Reproduce

```
{command_line(config)}
```
"""
