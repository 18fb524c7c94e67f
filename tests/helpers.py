"""Builders shared by the tests: a tiny in-memory Llama with a character tokenizer, and real saved adapters.

Adapters get random (non-zero) weights: PEFT's default init makes a fresh LoRA a no-op,
and then every "it changes the output" test would pass vacuously.
"""

from __future__ import annotations

import copy
import json
import string
from pathlib import Path

import torch

# The one JSON document of both the UI's export and `compare --json`, keys in order.
JSON_KEYS = ["base_model", "device", "dtype", "created", "settings", "routes", "variants", "results", "differences",
             "adapters", "storage", "timing", "status", "error"]

SPECIALS = ["<unk>", "<|im_start|>", "<|im_end|>"]
CHATML = (
    "{% for m in messages %}<|im_start|>{{ m['role'] }}\n{{ m['content'] }}<|im_end|>\n{% endfor %}"
    "{% if add_generation_prompt %}<|im_start|>assistant\n{% endif %}"
)


def tiny_tokenizer(chat_template: str | None = CHATML):
    """A character-level fast tokenizer built in memory (no files, no hub)."""
    from tokenizers import Regex, Tokenizer, decoders, models, pre_tokenizers
    from transformers import PreTrainedTokenizerFast

    chars = list(string.printable)
    vocab = {tok: i for i, tok in enumerate(SPECIALS + chars)}
    core = Tokenizer(models.WordLevel(vocab=vocab, unk_token="<unk>"))
    core.pre_tokenizer = pre_tokenizers.Split(Regex("."), behavior="isolated")
    core.decoder = decoders.Fuse()
    tokenizer = PreTrainedTokenizerFast(
        tokenizer_object=core, unk_token="<unk>", bos_token="<|im_start|>", eos_token="<|im_end|>", pad_token="<|im_end|>"
    )
    tokenizer.add_special_tokens({"additional_special_tokens": ["<|im_start|>", "<|im_end|>"]})
    if chat_template:
        tokenizer.chat_template = chat_template
    return tokenizer


def tiny_llama(vocab_size: int, hidden: int = 64, seed: int = 0, init_range: float = 0.02):
    from transformers import LlamaConfig, LlamaForCausalLM

    torch.manual_seed(seed)
    config = LlamaConfig(
        vocab_size=vocab_size,
        hidden_size=hidden,
        intermediate_size=2 * hidden,
        num_hidden_layers=2,
        num_attention_heads=4,
        num_key_value_heads=2,
        max_position_embeddings=512,
        bos_token_id=1,
        eos_token_id=2,
        pad_token_id=2,
        tie_word_embeddings=False,  # tied + tiny init makes it print only newlines
        initializer_range=init_range,
    )
    return LlamaForCausalLM(config).eval()


def save_tiny_base(folder: Path, hidden: int = 64, seed: int = 0, init_range: float = 0.02) -> Path:
    tokenizer = tiny_tokenizer()
    tiny_llama(len(tokenizer), hidden, seed, init_range).save_pretrained(folder)
    tokenizer.save_pretrained(folder)
    return folder


def adapter_configs() -> dict:
    """One config per PEFT method the engine must handle correctly, keyed by a short name."""
    from peft import IA3Config, LoHaConfig, LoKrConfig, LoraConfig, PromptEncoderConfig, PromptTuningConfig

    causal = {"task_type": "CAUSAL_LM"}
    return {
        "lora": LoraConfig(r=4, lora_alpha=8, target_modules=["q_proj", "v_proj"], init_lora_weights=False, **causal),
        "lora_b": LoraConfig(r=2, lora_alpha=4, target_modules=["k_proj", "o_proj"], init_lora_weights=False, **causal),
        "rslora": LoraConfig(r=8, lora_alpha=8, use_rslora=True, target_modules="all-linear", init_lora_weights=False, **causal),
        "dora": LoraConfig(r=4, lora_alpha=8, use_dora=True, target_modules=["q_proj", "v_proj"], init_lora_weights=False, **causal),
        "ia3": IA3Config(target_modules=["k_proj", "v_proj", "down_proj"], feedforward_modules=["down_proj"], **causal),
        "loha": LoHaConfig(r=4, alpha=8, target_modules=["q_proj", "v_proj"], init_weights=False, **causal),
        "lokr": LoKrConfig(r=4, alpha=8, target_modules=["q_proj", "v_proj"], init_weights=False, **causal),
        "prompt": PromptTuningConfig(num_virtual_tokens=4, **causal),
        "ptuning": PromptEncoderConfig(num_virtual_tokens=4, encoder_hidden_size=32, **causal),
    }


def make_adapter(base_model, config, folder: Path, seed: int = 1, scale: float = 0.2, **save_kwargs) -> Path:
    """Wrap a copy of ``base_model`` with ``config``, give the adapter random weights, save it."""
    from peft import get_peft_model

    model = get_peft_model(copy.deepcopy(base_model), copy.deepcopy(config))
    generator = torch.Generator().manual_seed(seed)
    with torch.no_grad():
        for name, param in model.named_parameters():
            if not param.requires_grad:
                continue
            noise = torch.randn(param.shape, generator=generator, dtype=torch.float32).to(param.dtype)
            if "ia3" in name or "magnitude" in name:
                param.mul_(1 + scale * 1.5 * noise)  # multiplicative weights stay near 1
            elif "embedding" in name or "prompt" in name:
                param.copy_(noise)
            else:
                param.copy_(noise * scale)
    model.save_pretrained(folder, save_embedding_layers=False, **save_kwargs)
    return folder


def plain_peft_outputs(base_model, tokenizer, folder: Path, prompts: list[str], max_new_tokens: int) -> list[str]:
    """The reference: plain PEFT, this one adapter on a fresh base, one prompt at a time, greedy."""
    from peft import PeftModel

    model = PeftModel.from_pretrained(copy.deepcopy(base_model), str(folder)).eval()
    return [plain_generate(model, tokenizer, p, max_new_tokens) for p in prompts]


def plain_generate(model, tokenizer, prompt: str, max_new_tokens: int, formatted: bool = False) -> str:
    """Greedy, one prompt; ``formatted``: ``prompt`` is already the model's input text."""
    text = prompt if formatted else tokenizer.apply_chat_template(
        [{"role": "user", "content": prompt}], add_generation_prompt=True, tokenize=False
    )
    encoded = tokenizer(text, return_tensors="pt", add_special_tokens=False)
    with torch.no_grad():
        out = model.generate(**encoded, max_new_tokens=max_new_tokens, do_sample=False,
                             temperature=None, top_p=None, top_k=None, pad_token_id=tokenizer.pad_token_id)
    return tokenizer.decode(out[0, encoded["input_ids"].shape[1]:], skip_special_tokens=True)


def report_document(prompts: int = 3, variants: tuple[str, ...] = ("base", "pirate", "formal"), status: str = "finished"):
    """A finished comparison's export data with distinct outputs that never name their variant:
    ``reply_text(i, k)`` is prompt i's output of the k-th variant."""
    from adapters_ui.views.document import ReportData

    results = [{"prompt": f"Prompt number {i}?", "outputs": {v: reply_text(i, k) for k, v in enumerate(variants)}} for i in range(prompts)]
    adapters = {v: {"bytes": 40_000 * (k + 1), "params": 10_000 * (k + 1), "dtype": "float32",
                    "times_smaller": round(540_000_000 / (40_000 * (k + 1)), 1)}
                for k, v in enumerate(variants) if v != "base"}
    storage = {"full_model_bytes": 540_000_000, "full_model_params": 135_000_000, "full_model_dtype": "float32",
               "base_file_bytes": None, "adapters": adapters}
    return ReportData(base_model="tiny/base", device="cpu", dtype="float32", created="2026-11-30T00:00:00+00:00",
                      settings={"max_new_tokens": 8}, routes={v: "batch" for v in variants}, variants=list(variants),
                      results=results, adapters=[], storage=storage,
                      timing={"load_s": 1.0, "generate_s": 2.0, "waited_s": 0.0}, status=status)


def reply_text(prompt_index: int, variant_index: int) -> str:
    return f"Reply {variant_index}/{prompt_index}: the quick brown fox."


def drop_test_database(engine, name: str, tries: int = 3) -> None:
    """``DROP DATABASE ... WITH (FORCE)``: ends every other connection first, whoever's (an autovacuum
    worker's too: the test role needs pg_signal_backend, which scripts/postgres.sh grants). A connection
    that outlives PostgreSQL's 5 s wait for it to end gets another try."""
    import sqlalchemy as sa

    for attempt in range(1, tries + 1):
        try:
            with engine.connect() as conn:
                conn.execute(sa.text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
            return
        except sa.exc.DBAPIError as exc:
            state = getattr(exc.orig, "sqlstate", None)
            if state == "42501":  # insufficient_privilege: may not end another role's connection
                raise RuntimeError(f"cannot drop test database {name}: {str(exc.orig).splitlines()[0]} "
                                   "(run `bash scripts/postgres.sh start` again: it grants pg_signal_backend to the test role)") from None
            if state != "55006" or attempt == tries:  # 55006 object_in_use: still being accessed
                raise


class LocalServer:
    """A real HTTP server on a free loopback port, serving ``handler`` (a BaseHTTPRequestHandler class) in a
    thread: stands in for a Hub or a vLLM server where a test needs answers no real one gives (errors, odd text)."""

    def __init__(self, handler):
        import threading
        from http.server import ThreadingHTTPServer

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), handler)
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}"
        threading.Thread(target=self.server.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True).start()

    def close(self):
        self.server.shutdown()
        self.server.server_close()


class Recorder:
    """A backend, noting whose batch it generates (alice's prompts or bob's chat), in order:
    one entry per model turn (a batch that gives the model up between decode steps has several)."""

    def __init__(self, backend):
        self.backend = backend
        self.calls: list[str] = []

    def __getattr__(self, name):
        return getattr(self.backend, name)

    def begin(self, batch, texts, settings, on_rows=None):
        generation = self.backend.begin(batch, texts, settings, on_rows)
        advance, who = generation.advance, "alice" if "Prompt number" in texts[0] else "bob"

        def noted(stop=None, pause=None):
            self.calls.append(who)
            return advance(stop, pause)

        generation.advance = noted
        return generation


def write_jsonl(path: Path, rows: list[dict]) -> Path:
    """An evaluation set file: one JSON object per line."""
    path.write_text("".join(json.dumps(row) + "\n" for row in rows), encoding="utf-8")
    return path


def end_killed_run(process, db) -> None:
    """After a kill test: the child process gone for sure (it may have outlived a failed assertion), the test's
    database connection closed."""
    if process is not None and process.poll() is None:
        process.kill()
        process.wait()
    if db is not None:
        db.close()
