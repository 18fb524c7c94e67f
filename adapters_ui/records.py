"""Plain records that cross layers: what the base is, what an adapter is and costs, sizes.

No torch, no model: the store, the views and the CLI read and write these without loading one.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field


@dataclass(frozen=True)
class BaseInfo:
    """What exports say about the loaded base: plain data, no model."""

    name: str
    device: str
    dtype: str
    load_s: float


@dataclass(frozen=True)
class TensorInfo:
    """Dtype and shape of one stored tensor, known without reading its data."""

    dtype: str
    shape: tuple[int, ...]

    @property
    def numel(self) -> int:
        return math.prod(self.shape)


@dataclass(frozen=True)
class AdapterStorage:
    """What one adapter folder costs.

    An adapter's size, everywhere it is shown (table, charts, bundle manifest, merge warning, exports), is the
    bytes of its weights file (``adapter_model.safetensors`` or ``.bin``): what it adds to the base. A README,
    training logs or checkpoints beside it are not the adapter, and a copy (a zip, a bundle) keeps the same size.
    ``bytes_on_disk`` is that size; ``weights_bytes`` is the same number.
    """

    bytes_on_disk: int
    weights_bytes: int
    params: int
    dtype: str


@dataclass(frozen=True)
class ModelStorage:
    """What the base model costs, and what a full fine-tuned copy of it would cost."""

    params: int
    dtype: str
    full_copy_bytes: int
    file_bytes: int | None


def size_ratio(full_bytes: int, adapter_bytes: int) -> float:
    """How many times smaller the adapter is than a full copy (``full / adapter``)."""
    if adapter_bytes <= 0:
        raise ValueError(f"adapter_bytes must be positive, got {adapter_bytes}")
    return full_bytes / adapter_bytes


@dataclass(frozen=True)
class AdapterInfo:
    """One row of the adapters table."""

    name: str
    peft_type: str  # e.g. LORA, IA3; DoRA and rsLoRA are LORA with a flag, shown in `method`
    method: str  # "LoRA", "DoRA", "rsLoRA", "IA3", "prompt tuning", ... (a variant is base-or-an-adapter)
    route: str  # engine path: mixed | batch | single
    rank: int | None  # None for methods without one (IA3, prompt learning)
    virtual_tokens: int | None  # prompt learning only: the learned tokens put before each prompt
    alpha: float | None
    target_modules: tuple[str, ...]
    params: int | None  # None: the server's adapter, its files not readable here (also bytes_on_disk)
    bytes_on_disk: int | None  # its weights file's bytes (``records.AdapterStorage``); None: "on the server"
    dtype: str
    base_model: str | None  # base_model_name_or_path from its config
    base_match: bool | None  # None when the config names no base
    path: str
    weights_format: str  # safetensors | bin
    sha256: str = ""  # of the weights file: a saved comparison says exactly which weights made its outputs
    on_server: bool = False  # the server's own adapter (adopted): detaching it here leaves it on the server

    @property
    def files_here(self) -> bool:
        """False for a server adapter whose folder this machine cannot read: no size, type details or weights."""
        return self.bytes_on_disk is not None


@dataclass(frozen=True)
class StorageReport:
    """The full model's size next to each adapter's."""

    model: ModelStorage
    adapters: dict[str, AdapterInfo] = field(default_factory=dict)

    def ratio(self, name: str) -> float | None:
        """How many times smaller than a full copy of the model this adapter is (None: on the server, size unknown)."""
        size = self.adapters[name].bytes_on_disk
        return None if size is None else size_ratio(self.model.full_copy_bytes, size)

    def to_dict(self) -> dict:
        return {
            "full_model_bytes": self.model.full_copy_bytes,
            "full_model_params": self.model.params,
            "full_model_dtype": self.model.dtype,
            "base_file_bytes": self.model.file_bytes,
            "adapters": {
                name: {"bytes": info.bytes_on_disk, "params": info.params, "dtype": info.dtype,
                       "times_smaller": None if info.bytes_on_disk is None else round(self.ratio(name), 1)}
                for name, info in self.adapters.items()
            },
        }
