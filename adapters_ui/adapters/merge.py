"""Merged export: the base model with one adapter baked into its weights (PEFT's ``merge_and_unload``), saved
as a standalone model folder (safetensors weights, config, tokenizer) that plain transformers, vLLM or TGI load
without PEFT.

    >>> plan = plan_merge(spec, model_storage(base.model))   # doctest: +SKIP
    >>> plan.warning()                                       # doctest: +SKIP
    "Merged model: 538.1 MB (float32), 574x the adapter's 937.1 kB; ..."
    >>> merge_adapter(spec, settings, Path("pirate-merged"))  # doctest: +SKIP

The merge runs on a fresh copy of the base loaded from disk, never on the model that serves comparisons
(whose layers hold the mounted adapters). It is one-way: W + ΔW is stored with no record of ΔW, so the
merged copy cannot be switched off or un-merged, and it costs a whole model where the adapter cost a few MB.
"""

from __future__ import annotations

import copy
import json
import os
import shutil
import time
import zipfile
from dataclasses import dataclass
from pathlib import Path

from adapters_ui.adapters.files import model_storage
from adapters_ui.adapters.registry import method_label
from adapters_ui.adapters.validation import AdapterSpec, check_targets
from adapters_ui.config import Settings
from adapters_ui.disk import file_sha256, staged
from adapters_ui.errors import AdaptersUIError, MergeError, first_line
from adapters_ui.formatting import format_bytes, format_times
from adapters_ui.model.base import BaseSource, load_base, local_location, resolve_source, same_model
from adapters_ui.model.memory import available_memory
from adapters_ui.records import ModelStorage

# Types PEFT cannot fold into the weights: why, in words a user can act on.
NOT_MERGEABLE = {
    "ADAPTION_PROMPT": "its gated prompts are added inside attention at run time, not to the weights",
    "SHADOW": "its change depends on each input, it is no fixed change of the weights",
    "POLY": "it routes between its modules by task id at run time",
    "XLORA": "its classifier mixes its LoRA experts per token at run time",
}
ONE_WAY = "the adapter alone stays switchable, the merged copy cannot be un-merged"
WEIGHTS_GLOB = "*.safetensors"
SPARE_BYTES = 64 * 1024**2  # tokenizer, config and slack beyond the weights, when checking for room


@dataclass(frozen=True)
class MergePlan:
    """What a merge will produce, known before any work: the weights' size next to the adapter's."""

    adapter: str
    method: str  # "LoRA", "IA3", ...
    adapter_bytes: int  # the adapter's size: its weights file (``records.AdapterStorage``)
    merged_bytes: int  # the merged weights: parameters x bytes per element in ``dtype``
    params: int
    dtype: str

    @property
    def ratio(self) -> float:
        return self.merged_bytes / max(1, self.adapter_bytes)

    def warning(self) -> str:
        """One line: the sizes and the one-way note."""
        return (f"Merged model: {format_bytes(self.merged_bytes)} ({self.params:,} parameters in {self.dtype}), "
                f"{format_times(self.ratio)}x the adapter's {format_bytes(self.adapter_bytes)}; {ONE_WAY}.")


@dataclass(frozen=True)
class MergedModel:
    """A finished merge: where it is and what it really costs on disk."""

    folder: Path
    plan: MergePlan
    base: str
    bytes_on_disk: int  # every file in the folder (weights, config, tokenizer, merge.json)
    weights_bytes: int  # the safetensors files alone: the merged model's size, as an adapter's is its weights file
    seconds: float

    @property
    def ratio(self) -> float:
        return self.weights_bytes / max(1, self.plan.adapter_bytes)

    def summary(self) -> list[str]:
        """What the CLI prints and the page shows, line by line."""
        plan = self.plan
        return [
            f"merged {plan.adapter} ({plan.method}) into {self.base} in {self.seconds:.1f} s, saved as {plan.dtype}",
            f"merged model: {format_bytes(self.weights_bytes)} of weights, {format_times(self.ratio)}x the adapter's "
            f"{format_bytes(plan.adapter_bytes)} (both: weights files; the folder adds its tokenizer and config)",
            f"one-way: {ONE_WAY}; keep the adapter folder to switch it on and off.",
        ]


def merge_refusal(spec: AdapterSpec) -> str | None:
    """Why PEFT cannot merge this adapter into the weights (one line), or None when it can."""
    config, name = spec.config, spec.name
    method = method_label(config, spec.peft_type)
    if getattr(config, "is_prompt_learning", False):
        return (f"Adapter {name!r} is {method}: its learned virtual tokens go in front of each prompt and change no "
                "weight, so there is nothing to merge; deploy it as an adapter.")
    if spec.peft_type in NOT_MERGEABLE:
        return f"Adapter {name!r} is {method}: PEFT cannot merge it, {NOT_MERGEABLE[spec.peft_type]}; deploy it as an adapter."
    if getattr(config, "alora_invocation_tokens", None):
        return (f"Adapter {name!r} is an activated LoRA: it switches on only after its invocation tokens, which merged "
                "weights cannot do; deploy it as an adapter.")
    if getattr(config, "arrow_config", None):
        return f"Adapter {name!r} has an Arrow router that picks experts per token: it cannot be merged; deploy it as an adapter."
    return None


def check_mergeable(spec: AdapterSpec, base_name: str) -> None:
    """MergeError (one line) for an adapter PEFT cannot merge, or one made for another base, before any work."""
    refusal = merge_refusal(spec)
    if refusal:
        raise MergeError(refusal)
    named = getattr(spec.config, "base_model_name_or_path", None)
    if named and not same_model(named, base_name):
        raise MergeError(f"Adapter {spec.name!r} was made for {named}, not for this base ({base_name}): merging it would "
                         "bake its update into the wrong weights; merge it on the base it was trained on (--base).")


def check_output(output: Path) -> Path:
    """The output folder must be new or empty: a merge never mixes its files with others'."""
    output = Path(output).expanduser()
    if output.exists() and not output.is_dir():
        raise MergeError(f"{output} is a file: give a new folder for the merged model.")
    if output.is_dir() and any(output.iterdir()):
        raise MergeError(f"Output folder {output} exists and is not empty: give a new folder, or empty this one.")
    return output.resolve()


def plan_merge(spec: AdapterSpec, storage: ModelStorage) -> MergePlan:
    """The merged model's size: the base's parameters in the dtype they are saved in (merging adds none)."""
    return MergePlan(spec.name, method_label(spec.config, spec.peft_type), spec.storage.bytes_on_disk,
                     storage.full_copy_bytes, storage.params, storage.dtype)


def check_room(needed: int, folder: Path, what: str = "the merged model") -> None:
    """MergeError when the disk holding ``folder`` has less than ``needed`` bytes free."""
    folder = next((p for p in [Path(folder), *Path(folder).parents] if p.exists()), Path("/"))
    free = shutil.disk_usage(folder).free
    if free < needed + SPARE_BYTES:
        raise MergeError(f"{what} needs {format_bytes(needed)} but only {format_bytes(free)} is free on the disk of "
                         f"{folder}: free some space or write elsewhere.")


def check_memory(needed: int) -> None:
    """MergeError when this machine cannot hold another copy of the base in memory."""
    available = available_memory()
    if available is not None and available < needed * 1.1:
        raise MergeError(f"Merging needs a second copy of the base in memory ({format_bytes(needed)}), but only "
                         f"{format_bytes(available)} is available: close something, or merge with the CLI on a bigger machine.")


def merge_adapter(spec: AdapterSpec, settings: Settings, output: Path) -> MergedModel:
    """Load a fresh copy of the base named by ``settings`` (its device and dtype), merge ``spec`` into it and save
    the result as a model folder at ``output`` (written in a staging folder beside it, then renamed: a failure
    leaves nothing behind). The dtype saved is the base's as loaded (float32 on CPU)."""
    started = time.perf_counter()
    output = check_output(output)
    check_mergeable(spec, resolve_source(settings.base_model).name)
    base = load_base(settings)
    plan = plan_merge(spec, model_storage(base.model))
    check_room(plan.merged_bytes, output.parent)
    merged = merged_model(spec, base.model)
    tokenizer = _shipped_tokenizer(base.source, settings)
    try:
        with staged(output, prefix=f".{output.name}-merging-") as staging:  # replaces the empty output (checked above)
            merged.save_pretrained(staging, safe_serialization=True)
            tokenizer.save_pretrained(staging)
            (staging / "merge.json").write_text(json.dumps(_provenance(spec, base.source.name, plan), indent=1))
    except OSError as exc:
        raise MergeError(f"Could not write the merged model to {output}: {exc.strerror or first_line(exc)}; "
                         "check the folder's permissions and free space.") from None
    files = [p for p in output.iterdir() if p.is_file()]
    return MergedModel(output, plan, base.source.name, sum(p.stat().st_size for p in files),
                       sum(p.stat().st_size for p in output.glob(WEIGHTS_GLOB)), time.perf_counter() - started)


def merged_model(spec: AdapterSpec, model):
    """``model`` with ``spec`` merged into its weights (PEFT's merge_and_unload, checking for NaNs); ``model`` is
    changed in place, so pass a fresh copy. The adapter's tensors must be exactly those its config creates."""
    from peft import PeftModelForCausalLM
    from peft.utils import get_peft_model_state_dict, set_peft_model_state_dict

    from adapters_ui.adapters.validation import INIT_FLAGS, check_tensors

    check_targets(spec, model)
    config = copy.deepcopy(spec.config)
    config.inference_mode = True
    for flag in INIT_FLAGS:  # the weights come from the file: skip data-dependent inits
        if hasattr(config, flag):
            setattr(config, flag, True)
    try:
        host = PeftModelForCausalLM(model, config, adapter_name="merge")
        check_tensors(spec, get_peft_model_state_dict(host, adapter_name="merge"))
        set_peft_model_state_dict(host, {k: v.to(model.device) for k, v in spec.state_dict.items()}, adapter_name="merge")
        return host.merge_and_unload(safe_merge=True)
    except AdaptersUIError:
        raise
    except Exception as exc:  # noqa: BLE001 - PEFT raises many types (NaNs found, a layer it cannot merge)
        if "NaN" in str(exc):
            raise MergeError(f"Merging adapter {spec.name!r} gives NaNs in the weights: its weights are broken (NaN or "
                             "infinite values); re-train or re-save the adapter.") from exc
        raise MergeError(f"PEFT could not merge adapter {spec.name!r} into this base: {first_line(exc).rstrip('.')}.") from exc


def _shipped_tokenizer(source: BaseSource, settings: Settings):
    """The base's tokenizer as shipped (the app's copy is set to left padding for batched generation)."""
    from transformers import AutoTokenizer

    location, _, offline = local_location(source, settings)  # a GGUF's dequantized copy is cached by now
    return AutoTokenizer.from_pretrained(location, local_files_only=offline)


def _provenance(spec: AdapterSpec, base_name: str, plan: MergePlan) -> dict:
    import peft

    return {"base_model": base_name, "adapter": spec.name, "adapter_type": plan.method,
            "adapter_sha256": file_sha256(spec.weights_file), "dtype": plan.dtype, "peft_version": peft.__version__,
            "note": f"merged with PEFT's merge_and_unload; one-way: {ONE_WAY}"}


def zip_folder(folder: Path, target: Path) -> Path:
    """``folder`` as a zip holding the folder itself; weights stored as they are (they do not compress)."""
    partial = target.with_name(target.name + ".partial")
    try:
        with zipfile.ZipFile(partial, "w") as archive:
            for path in sorted(p for p in folder.rglob("*") if p.is_file()):
                method = zipfile.ZIP_STORED if path.suffix == ".safetensors" else zipfile.ZIP_DEFLATED
                archive.write(path, Path(folder.name) / path.relative_to(folder), compress_type=method)
        os.replace(partial, target)
    finally:
        partial.unlink(missing_ok=True)
    return target
