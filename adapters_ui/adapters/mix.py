"""A new LoRA adapter made from attached ones with weights (PEFT's ``add_weighted_adapter``), saved as an
ordinary adapter folder so that it is compared, sized and exported like any other.

    >>> check_mix({"pirate": spec_a, "json_answer": spec_b}, [0.7, 0.3], "linear")   # doctest: +SKIP

Methods (PEFT's names): ``linear`` (weighted sum of the factors; equal ranks), ``cat`` (factors side by side:
the exact weighted sum of the updates, rank = the sum of ranks), ``svd`` (the weighted sum of the updates,
truncated back to the largest rank), ``ties`` and ``dare_linear`` (task-arithmetic merges that keep a
``density`` share of each update; equal ranks).
"""

from __future__ import annotations

import json
import math
from pathlib import Path
from typing import TYPE_CHECKING

from adapters_ui.errors import AdapterError

if TYPE_CHECKING:  # torch-free at import: the CLI's --help and the UI offer METHODS without loading torch
    from adapters_ui.adapters.validation import AdapterSpec

METHODS = ("linear", "cat", "svd", "ties", "dare_linear")
SAME_RANK = ("linear", "ties", "dare_linear")  # PEFT adds these factor by factor: every rank must match
WITH_DENSITY = ("ties", "dare_linear")


def parse_parts(text: str) -> dict[str, float]:
    """"pirate: 0.7, json_answer: 0.3" (or "=" for ":") -> {"pirate": 0.7, "json_answer": 0.3}.

        >>> parse_parts("pirate: 0.7, json_answer=0.3")
        {'pirate': 0.7, 'json_answer': 0.3}
    """
    parts: dict[str, float] = {}
    usage = "write the mix as adapter: weight pairs separated by commas, e.g. pirate: 0.7, json_answer: 0.3"
    for item in (text or "").split(","):
        if not item.strip():
            continue
        name, sep, weight = item.replace("=", ":").partition(":")
        try:
            value = float(weight)
        except ValueError:
            raise AdapterError(f"{item.strip()!r} has no weight: {usage}.") from None
        if not sep or not name.strip():
            raise AdapterError(f"{item.strip()!r} names no adapter: {usage}.")
        if name.strip() in parts:
            raise AdapterError(f"{name.strip()!r} appears twice in the mix: {usage}.")
        parts[name.strip()] = value
    if not parts:
        raise AdapterError(f"No adapters given: {usage}.")
    return parts


def check_mix(specs: dict[str, AdapterSpec], weights: list[float], method: str, density: float | None = None) -> None:
    """One-line AdapterError for anything PEFT would refuse or get wrong, before any model work."""
    names = ", ".join(specs)
    if method not in METHODS:
        raise AdapterError(f"Unknown combination method {method!r}: use one of {', '.join(METHODS)}.")
    if len(specs) < 2:
        raise AdapterError("A weighted mix needs at least two attached LoRA adapters: pick another one.")
    if len(weights) != len(specs):
        raise AdapterError(f"{len(weights)} weight(s) for {len(specs)} adapters ({names}): give one weight per adapter.")
    if not all(math.isfinite(w) for w in weights) or not any(weights):
        raise AdapterError(f"The weights {weights} cannot make a mix: use finite numbers, not all zero.")
    for name, spec in specs.items():
        config = spec.config
        if spec.peft_type != "LORA":
            raise AdapterError(f"Adapter {name!r} is {spec.peft_type}: only LoRA adapters can be mixed.")
        if getattr(config, "use_dora", False):
            raise AdapterError(f"Adapter {name!r} is DoRA: its magnitude vectors have no weighted mix; pick LoRA adapters.")
        if getattr(config, "modules_to_save", None) or getattr(config, "lora_bias", False):
            raise AdapterError(f"Adapter {name!r} saves whole modules or biases, which a weighted mix cannot combine.")
    if method in SAME_RANK:
        ranks = {name: _largest_rank(spec.config) for name, spec in specs.items()}
        if len(set(ranks.values())) > 1:
            shown = ", ".join(f"{n} r{r}" for n, r in ranks.items())
            raise AdapterError(f"{method} mixes need equal ranks, these differ ({shown}): use cat or svd instead.")
    if method in WITH_DENSITY and not (density is not None and 0 < density <= 1):
        raise AdapterError(f"{method} keeps a share of each update: give a density between 0 and 1, got {density}.")


def _largest_rank(config) -> int:
    return max([config.r, *(config.rank_pattern or {}).values()])


def save_mix(folder: Path, config, tensors: dict, base_name: str, recipe: dict) -> Path:
    """Write the mix as a PEFT adapter folder (config, safetensors) with ``mix.json`` saying how it was made."""
    from safetensors.torch import save_file

    folder.mkdir(parents=True, exist_ok=False)
    config.base_model_name_or_path = base_name
    config.inference_mode = True
    config.save_pretrained(str(folder))
    save_file(tensors, str(folder / "adapter_model.safetensors"))
    (folder / "mix.json").write_text(json.dumps(recipe, indent=1))
    return folder
