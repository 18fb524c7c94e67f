"""What an adapter and a full model cost on disk: bytes, parameter counts, dtypes, ratios.

The point of comparing adapters is partly how small they are next to a full fine-tuned
copy, so the numbers come from the files themselves. Safetensors headers are parsed
without reading tensor data; ``.bin`` pickles are loaded only through PyTorch's
weights-only unpickler, and a pickle that would run code is refused, never executed.
"""

from __future__ import annotations

import io
import json
import pickle
import pickletools
import struct
import zipfile
from collections import Counter
from pathlib import Path

import torch

from adapters_ui.errors import AdapterNotFoundError, AdapterWeightsError, UnsafeWeightsError
from adapters_ui.formatting import dtype_name
from adapters_ui.records import AdapterStorage, ModelStorage, TensorInfo

WEIGHTS_FILES = ("adapter_model.safetensors", "adapter_model.bin")

# Safetensors caps its JSON header at 100 MB; a bigger length field means a corrupt file.
_MAX_HEADER_BYTES = 100_000_000


def find_weights_file(folder: Path) -> Path | None:
    """The adapter's weights file; safetensors wins because it cannot carry code."""
    for name in WEIGHTS_FILES:
        candidate = Path(folder) / name
        if candidate.is_file():
            return candidate
    return None


def _where(path: Path) -> str:
    return f"{path.name} in {path.parent}"


def _corrupt(path: Path, reason: str) -> AdapterWeightsError:
    return AdapterWeightsError(
        f"{_where(path)} is truncated or corrupt ({reason}): re-download or re-save the adapter."
    )


def read_safetensors_header(path: Path) -> dict[str, TensorInfo]:
    """Tensor names, dtypes and shapes from a safetensors header; tensor data is never read."""
    path = Path(path)
    try:
        size = path.stat().st_size
        with path.open("rb") as f:
            prefix = f.read(8)
            if len(prefix) < 8:
                raise _corrupt(path, f"only {len(prefix)} bytes, shorter than the 8-byte header length")
            (header_len,) = struct.unpack("<Q", prefix)
            if header_len > _MAX_HEADER_BYTES or header_len > size - 8:
                raise _corrupt(path, f"header length {header_len} does not fit in a {size}-byte file")
            raw = f.read(header_len)
    except OSError as e:
        raise AdapterWeightsError(
            f"{_where(path)} could not be read ({e.strerror or e}): check the file's permissions."
        ) from None
    try:
        header = json.loads(raw.decode("utf-8"))
    except (UnicodeDecodeError, json.JSONDecodeError):
        raise _corrupt(path, "header is not valid JSON") from None
    if not isinstance(header, dict):
        raise _corrupt(path, "header is not a JSON object")

    data_len = size - 8 - header_len
    tensors: dict[str, TensorInfo] = {}
    for name, entry in header.items():
        if name == "__metadata__":
            continue
        try:
            dtype, shape, (start, end) = entry["dtype"], entry["shape"], entry["data_offsets"]
            ok = (
                isinstance(dtype, str)
                and isinstance(shape, list)
                and all(type(d) is int and d >= 0 for d in shape)
                and type(start) is int
                and type(end) is int
                and 0 <= start <= end
            )
        except (TypeError, KeyError, ValueError):
            ok = False
        if not ok:
            raise _corrupt(path, f"entry {name!r} lacks a valid dtype, shape and data_offsets")
        if end > data_len:
            raise _corrupt(path, f"tensor {name!r} ends at byte {end} but only {data_len} data bytes exist")
        tensors[name] = TensorInfo(dtype=dtype, shape=tuple(shape))
    return tensors


def _pickles_parse(path: Path) -> bool:
    """Whether the file's pickle streams are well-formed, read opcode by opcode, nothing run.

    Tells a pickle the weights-only unpickler refused for what it imports or calls (unsafe)
    from bytes that are simply not a pickle (corrupt). Zip checkpoints keep their pickle in
    ``*/data.pkl``; legacy checkpoints chain up to four pickles before raw storage bytes.
    """
    try:
        if zipfile.is_zipfile(path):
            with zipfile.ZipFile(path) as archive:
                members = [n for n in archive.namelist() if n.endswith("data.pkl")]
                if not members:
                    return False
                data = archive.read(members[0])
        else:
            data = path.read_bytes()
        stream = io.BytesIO(data)
        for _ in range(4):
            if stream.tell() >= len(data):
                break
            for _ in pickletools.genops(stream):
                pass
        return True
    except Exception:  # any parse failure means "not a pickle", which is the answer sought
        return False


def load_bin_state_dict(path: Path) -> dict[str, torch.Tensor]:
    """A ``.bin`` state dict, loaded with the weights-only unpickler so no code can run."""
    path = Path(path)
    try:
        state = torch.load(path, map_location="cpu", weights_only=True)
    except pickle.UnpicklingError:
        if _pickles_parse(path):
            raise UnsafeWeightsError(
                f"{_where(path)} holds pickled code, not plain tensors; it was refused. "
                "Re-save the adapter as safetensors."
            ) from None
        raise AdapterWeightsError(
            f"{_where(path)} is not a PyTorch weights file: re-download or re-save the adapter as safetensors."
        ) from None
    except Exception as e:
        detail = (str(e).strip().splitlines() or [""])[0][:120]
        reason = f"{type(e).__name__}: {detail}" if detail else type(e).__name__
        raise AdapterWeightsError(
            f"{_where(path)} could not be loaded ({reason}): re-download or re-save the adapter as safetensors."
        ) from None
    if not isinstance(state, dict):
        raise AdapterWeightsError(
            f"{_where(path)} holds a {type(state).__name__}, not a dict of tensors: "
            "re-save the adapter with save_pretrained."
        )
    for key, value in state.items():
        if not isinstance(key, str) or not isinstance(value, torch.Tensor):
            raise AdapterWeightsError(
                f"{_where(path)} entry {key!r} is a {type(value).__name__}, not a tensor: "
                "re-save the adapter with save_pretrained."
            )
    return state


def weights_info(path: Path) -> dict[str, TensorInfo]:
    """Dtype and shape of every tensor in a weights file, whichever of the two formats it is."""
    path = Path(path)
    if path.suffix == ".safetensors":
        return read_safetensors_header(path)
    if path.suffix == ".bin":
        return {
            name: TensorInfo(dtype=dtype_name(t.dtype), shape=tuple(t.shape))
            for name, t in load_bin_state_dict(path).items()
        }
    raise AdapterWeightsError(
        f"{_where(path)} is neither .safetensors nor .bin: save the adapter with save_pretrained."
    )


def _summarize_dtypes(numel_by_dtype: Counter) -> str:
    """One dtype name, or ``mixed (A, B)`` with the dtype holding most elements first."""
    names = [name for name, _ in sorted(numel_by_dtype.items(), key=lambda kv: (-kv[1], kv[0]))]
    if not names:
        return "none"
    return names[0] if len(names) == 1 else f"mixed ({', '.join(names)})"


def adapter_storage(folder: Path, tensors: dict[str, torch.Tensor] | None = None) -> AdapterStorage:
    """Disk size, parameter count and dtype of one saved adapter folder.

    ``tensors``: the folder's weights when the caller already loaded them (a .bin is then
    not unpickled a second time)."""
    folder = Path(folder)
    if not folder.is_dir():
        raise AdapterNotFoundError(f"Adapter folder {folder} does not exist: check the path.")
    weights = find_weights_file(folder)
    if weights is None:
        raise AdapterWeightsError(
            f"Adapter folder {folder} has no {' or '.join(WEIGHTS_FILES)}: "
            "point at the folder that save_pretrained wrote."
        )
    if tensors is None:
        info = weights_info(weights)
    else:
        info = {name: TensorInfo(dtype_name(t.dtype), tuple(t.shape)) for name, t in tensors.items()}
    if not info:
        raise AdapterWeightsError(
            f"{_where(weights)} holds no tensors: re-save the adapter after training it."
        )
    numel_by_dtype: Counter = Counter()
    for tensor in info.values():
        numel_by_dtype[tensor.dtype] += tensor.numel
    return AdapterStorage(
        bytes_on_disk=weights.stat().st_size,
        weights_bytes=weights.stat().st_size,
        params=sum(numel_by_dtype.values()),
        dtype=_summarize_dtypes(numel_by_dtype),
    )


def _source_file_bytes(source: Path | None) -> int | None:
    """Bytes of the base model's weight files as they sit on disk, when it came from disk.

    A file (a .gguf) counts whole. A folder counts its root ``*.safetensors``, or, when it
    has none, its ``*.bin`` (without ``training_args.bin``), so a repo shipping both
    formats is not counted twice. None when there is nothing on disk to measure.
    """
    if source is None:
        return None
    source = Path(source)
    if source.is_file():
        return source.stat().st_size
    if not source.is_dir():
        return None
    files = sorted(p for p in source.glob("*.safetensors") if p.is_file())
    if not files:
        files = [p for p in source.glob("*.bin") if p.is_file() and p.name != "training_args.bin"]
    return sum(p.stat().st_size for p in files) if files else None


def model_storage(model: torch.nn.Module, source: Path | None = None) -> ModelStorage:
    """Parameter count and size of a loaded model; tied weights are counted once.

    Pass the bare base model: a PEFT-wrapped one would count its adapters too.
    ``full_copy_bytes`` is what saving a fully fine-tuned copy in the same dtype costs.
    """
    numel_by_dtype: Counter = Counter()
    full_copy_bytes = 0
    for p in model.parameters():  # yields each shared (tied) parameter once
        numel_by_dtype[str(p.dtype).removeprefix("torch.")] += p.numel()
        full_copy_bytes += p.numel() * p.element_size()
    return ModelStorage(
        params=sum(numel_by_dtype.values()),
        dtype=_summarize_dtypes(numel_by_dtype),
        full_copy_bytes=full_copy_bytes,
        file_bytes=_source_file_bytes(source),
    )
