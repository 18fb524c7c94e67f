"""A judge model loaded in this process, beside the base: a model folder, a .gguf file, or the embedded model.

It answers like ``JudgeClient`` (``ask``, ``ask_many``, ``model``, ``requests``), so judging code does not care
where the judge runs. It has no structured outputs: its replies are read as free text (``judging/parse``).
Greedy, left-padded batches of ``batch`` conversations, one batch at a time (a lock: one model, one caller).
"""

from __future__ import annotations

import threading
import time

from adapters_ui.config import Settings
from adapters_ui.errors import BaseModelError, JudgeError
from adapters_ui.formatting import format_chat
from adapters_ui.judging.client import JudgeReply


class LocalJudge:
    """The judge ``spec`` (as ``--base`` takes it) loaded with ``settings``' device, dtype and cache."""

    structured = False  # free text only

    def __init__(self, spec: str | None, settings: Settings, max_tokens: int = 512, batch: int = 4):
        from adapters_ui.model.base import load_base

        try:
            self.loaded = load_base(settings.replace(base_model=spec))
        except BaseModelError as exc:
            raise JudgeError(f"Judge: {exc}") from None
        self.model = self.loaded.source.name
        self.max_tokens, self.batch, self.concurrency = max_tokens, max(1, batch), 1
        self.requests = 0
        self._lock = threading.Lock()

    @property
    def name(self) -> str:
        return f"{self.model} (in this process)"

    def close(self) -> None:
        """Nothing to close: the weights go with the object."""

    def ask(self, messages: list[dict], schema: dict | None = None) -> JudgeReply:
        return self.ask_many([messages], schema)[0]

    def ask_many(self, conversations: list[list[dict]], schema: dict | None = None) -> list[JudgeReply]:
        """Replies in the order asked, ``batch`` conversations per generate call."""
        replies: list[JudgeReply] = []
        with self._lock:
            for start in range(0, len(conversations), self.batch):
                replies += self._generate(conversations[start : start + self.batch])
        return replies

    def _generate(self, conversations: list[list[dict]]) -> list[JudgeReply]:
        import torch

        tokenizer, network = self.loaded.tokenizer, self.loaded.model
        began = time.perf_counter()
        texts = [format_chat(tokenizer, messages) for messages in conversations]
        batch = tokenizer(texts, return_tensors="pt", padding=True, add_special_tokens=False).to(self.loaded.device)
        with torch.no_grad():
            out = network.generate(**batch, max_new_tokens=self.max_tokens, do_sample=False,
                                   pad_token_id=tokenizer.pad_token_id)
        self.requests += len(conversations)
        seconds = (time.perf_counter() - began) / len(conversations)  # the batch's time, shared
        replies = []
        for row, prompt_tokens in zip(out[:, batch["input_ids"].shape[1]:], batch["attention_mask"].sum(dim=1).tolist()):
            ids = row.tolist()
            if tokenizer.eos_token_id in ids:
                ids = ids[: ids.index(tokenizer.eos_token_id)]
            ids = [i for i in ids if i != tokenizer.pad_token_id]
            replies.append(JudgeReply(tokenizer.decode(ids, skip_special_tokens=True).strip(), int(prompt_tokens),
                                      len(ids), seconds, structured=False))
        return replies
