"""Checks an adapter folder before anything touches the model.

``read_adapter`` does every check that needs no model (name, folder, config, weights,
caps) and returns an ``AdapterSpec`` holding the parsed config and the tensors in CPU
memory. ``check_targets`` then checks the config against the base model's module names.
Shapes are checked by the engine against the modules PEFT actually creates.
Each failure raises one ``AdapterError`` subclass with a one-line message.
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass
from pathlib import Path

import torch

from adapters_ui.adapters.files import adapter_storage, find_weights_file, load_bin_state_dict
from adapters_ui.errors import (
    AdapterConfigError,
    AdapterNameError,
    AdapterNotFoundError,
    AdapterWeightsError,
    ArchitectureMismatchError,
    ShapeMismatchError,
    UnknownPeftTypeError,
    UnsafeWeightsError,
    first_line,
)
from adapters_ui.names import ADAPTER_NAME
from adapters_ui.records import AdapterStorage

RESERVED_NAMES = frozenset({"base", "__base__"})
# PEFT methods that need inputs a plain prompt comparison cannot give.
UNSUPPORTED_TYPES = {
    "POLY": "it routes by task ids given at generation time",
    "MULTITASK_PROMPT_TUNING": "it needs task ids at generation time",
    "XLORA": "it needs its classifier and all its LoRA experts loaded together",
}


@dataclass
class AdapterSpec:
    """A validated adapter, ready to inject: config, tensors (CPU) and what it costs on disk."""

    name: str
    path: Path
    config: object  # peft.PeftConfig
    weights_file: Path
    state_dict: dict[str, torch.Tensor]
    storage: AdapterStorage

    @property
    def made_for(self) -> str:
        """' (its config names X)' for error messages, or '' when the config names no base."""
        named = getattr(self.config, "base_model_name_or_path", None)
        return f" (its config names {named})" if named else ""

    @property
    def peft_type(self) -> str:
        return str(getattr(self.config.peft_type, "value", self.config.peft_type))


def name_from_folder(folder: Path) -> str:
    """A usable adapter name from a folder name: 'lora v1.2' -> 'lora_v1_2'."""
    cleaned = re.sub(r"[^A-Za-z0-9_-]+", "_", folder.name).strip("_-")[:64]
    return cleaned or "adapter"


def check_name(name: str, taken: set[str] | frozenset[str] = frozenset()) -> str:
    if name in RESERVED_NAMES:
        raise AdapterNameError(f"The name {name!r} is reserved for the unadapted base model: choose another name.")
    if not ADAPTER_NAME.match(name):
        raise AdapterNameError(
            f"Adapter name {name!r} is not usable: use 1-64 letters, digits, '_' or '-', starting with a letter or digit."
        )
    if name in taken:
        raise AdapterNameError(f"An adapter named {name!r} is already attached: detach it first or choose another name.")
    return name


def read_config(folder: Path):
    """Parse adapter_config.json into the PEFT config class its peft_type names."""
    from peft import PEFT_TYPE_TO_CONFIG_MAPPING

    config_file = folder / "adapter_config.json"
    if not config_file.is_file():
        raise AdapterConfigError(
            f"{folder} has no adapter_config.json: point to the folder that save_pretrained() wrote."
        )
    try:
        raw = json.loads(config_file.read_text(encoding="utf-8"))
    except (json.JSONDecodeError, UnicodeDecodeError) as exc:
        where = f" at line {exc.lineno}, column {exc.colno}" if isinstance(exc, json.JSONDecodeError) else ""
        raise AdapterConfigError(f"{config_file} is not valid JSON{where}: fix or re-save the adapter.") from None
    if not isinstance(raw, dict):
        raise AdapterConfigError(f"{config_file} must hold a JSON object: re-save the adapter with save_pretrained().")
    peft_type = raw.get("peft_type")
    if not peft_type:
        raise AdapterConfigError(f"{config_file} has no peft_type: re-save the adapter with save_pretrained().")
    if peft_type not in PEFT_TYPE_TO_CONFIG_MAPPING:
        known = ", ".join(sorted(k for k in PEFT_TYPE_TO_CONFIG_MAPPING if k not in UNSUPPORTED_TYPES)[:12])
        raise UnknownPeftTypeError(
            f"Unknown peft_type {peft_type!r} in {config_file}: this PEFT knows {known}, ...; upgrade peft or fix the config."
        )
    if peft_type in UNSUPPORTED_TYPES:
        raise UnknownPeftTypeError(
            f"peft_type {peft_type} is not supported for side-by-side comparison: {UNSUPPORTED_TYPES[peft_type]}."
        )
    config_cls = PEFT_TYPE_TO_CONFIG_MAPPING[peft_type]
    try:
        config = config_cls.from_pretrained(str(folder))
    except Exception as exc:  # noqa: BLE001 - PEFT raises many types for bad fields
        raise AdapterConfigError(f"{config_file} is not a valid {peft_type} config: {first_line(exc)}.") from None
    if getattr(config, "layer_replication", None):
        raise AdapterConfigError(
            f"{folder.name} uses layer_replication, which rewrites the base model's layers: not supported here."
        )
    return config


def read_weights(folder: Path, *, public: bool, max_bytes: int) -> tuple[Path, dict[str, torch.Tensor]]:
    """Load the adapter's tensors to CPU. .bin files only as plain tensors, never in public mode."""
    from safetensors import SafetensorError
    from safetensors.torch import load_file

    weights = find_weights_file(folder)
    if weights is None:
        raise AdapterWeightsError(
            f"{folder} has no adapter_model.safetensors (or adapter_model.bin): the adapter's weights are missing."
        )
    size = weights.stat().st_size
    if size > max_bytes:
        raise AdapterWeightsError(
            f"{weights.name} is {size:,} bytes, over the {max_bytes:,}-byte cap: raise ADAPTERS_UI_MAX_ADAPTER_BYTES to allow it."
        )
    if weights.suffix == ".bin":
        if public:
            raise UnsafeWeightsError(
                f"{weights.name} is a pickle, refused in public mode: convert the adapter to safetensors."
            )
        return weights, load_bin_state_dict(weights)
    try:
        return weights, load_file(str(weights), device="cpu")
    except (SafetensorError, OSError, ValueError) as exc:
        raise AdapterWeightsError(f"{weights} is not a readable safetensors file ({first_line(exc)}): re-save the adapter.") from None


def read_adapter(
    path: str | Path,
    name: str | None = None,
    *,
    taken: set[str] | frozenset[str] = frozenset(),
    public: bool = False,
    max_bytes: int = 2 * 1024**3,
) -> AdapterSpec:
    """Every check that needs no model; raises an AdapterError with a one-line message."""
    if not str(path).strip():
        raise AdapterNotFoundError("No adapter folder given: enter the path of a folder that holds adapter_config.json.")
    folder = Path(path).expanduser()
    if not folder.exists():
        raise AdapterNotFoundError(f"Adapter folder not found: {path}. Give the folder that holds adapter_config.json.")
    if not folder.is_dir():
        raise AdapterNotFoundError(f"{path} is a file, not a folder: give the folder that holds adapter_config.json.")
    name = check_name(name if name else name_from_folder(folder.resolve()), taken)
    config = read_config(folder)
    weights_file, state_dict = read_weights(folder, public=public, max_bytes=max_bytes)
    if not state_dict:
        raise AdapterWeightsError(f"{weights_file} holds no tensors: re-save the adapter.")
    return AdapterSpec(name, folder.resolve(), config, weights_file, state_dict, adapter_storage(folder, state_dict))


def check_targets(spec: AdapterSpec, model: torch.nn.Module) -> None:
    """The adapter must target modules this base model has (else it was made for another architecture)."""
    from peft.tuners.tuners_utils import check_target_module_exists

    targets = getattr(spec.config, "target_modules", None)
    if not targets:
        return  # prompt learning, or PEFT's per-architecture default targets
    names = [n for n, _ in model.named_modules() if n]
    if any(check_target_module_exists(spec.config, n) for n in names):
        return
    wanted = targets if isinstance(targets, str) else ", ".join(sorted(targets))
    model_type = getattr(getattr(model, "config", None), "model_type", "this model")
    raise ArchitectureMismatchError(
        f"Adapter {spec.name!r} targets {wanted}, which the {model_type} base model does not have: "
        f"it was made for another architecture{spec.made_for}; attach an adapter trained on this base."
    )


INIT_FLAGS = ("init_lora_weights", "init_weights", "init_ia3_weights")  # config flags that make a fresh adapter


def check_tensors(spec: AdapterSpec, expected: dict[str, torch.Tensor]) -> None:
    """The file's tensors must be exactly those the config creates, with the same shapes."""
    found = spec.state_dict
    for key, tensor in found.items():
        if key in expected and tuple(expected[key].shape) != tuple(tensor.shape):
            raise ShapeMismatchError(
                f"Adapter {spec.name!r} was made for a model of another size{spec.made_for}: {key} has shape "
                f"{list(tensor.shape)} in the file but this base needs {list(expected[key].shape)}; "
                "attach an adapter trained on this base."
            )
    missing = sorted(set(expected) - set(found))
    unexpected = sorted(set(found) - set(expected))
    if unexpected:
        raise ArchitectureMismatchError(
            f"Adapter {spec.name!r} holds {len(unexpected)} tensor(s) this base has no place for (e.g. {unexpected[0]}): "
            "it was made for another architecture; attach an adapter trained on this base."
        )
    if missing:
        raise AdapterWeightsError(
            f"Adapter {spec.name!r} lacks {len(missing)} tensor(s) its config needs (e.g. {missing[0]}): "
            "the weights file is incomplete; re-save the adapter."
        )
