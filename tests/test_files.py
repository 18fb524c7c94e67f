"""Storage numbers come from real PEFT adapters saved by save_pretrained, not hand-made files."""

from __future__ import annotations

import os
import pickle
import struct
from pathlib import Path

import pytest
import torch
from peft import LoraConfig, get_peft_model
from safetensors.torch import save_file
from transformers import LlamaConfig, LlamaForCausalLM

from adapters_ui.adapters.files import (
    WEIGHTS_FILES,
    adapter_storage,
    find_weights_file,
    load_bin_state_dict,
    model_storage,
    read_safetensors_header,
    weights_info,
)
from adapters_ui.errors import AdapterNotFoundError, AdapterWeightsError, UnsafeWeightsError
from adapters_ui.records import AdapterStorage, TensorInfo, size_ratio

VOCAB, HIDDEN = 128, 32
# 2 layers x (q: A 4x32 + B 32x4, v: A 4x32 + B 16x4); v_proj is 2 kv heads x head_dim 8 = 16 wide.
LORA_PARAMS = 2 * (4 * 32 + 32 * 4 + 4 * 32 + 16 * 4)


def tiny_llama(tie: bool = False) -> LlamaForCausalLM:
    torch.manual_seed(0)
    config = LlamaConfig(
        vocab_size=VOCAB,
        hidden_size=HIDDEN,
        intermediate_size=64,
        num_hidden_layers=2,
        num_attention_heads=4,
        num_key_value_heads=2,
        tie_word_embeddings=tie,
    )
    return LlamaForCausalLM(config)


def tiny_peft(dtype: torch.dtype = torch.float32):
    lora = LoraConfig(r=4, target_modules=["q_proj", "v_proj"], init_lora_weights=False)
    return get_peft_model(tiny_llama(), lora).to(dtype)


def save_adapter(folder: Path, safe: bool = True, dtype: torch.dtype = torch.float32):
    model = tiny_peft(dtype)
    model.save_pretrained(folder, safe_serialization=safe)
    return model


def dir_file_bytes(folder: Path) -> int:
    return sum(os.path.getsize(folder / n) for n in os.listdir(folder) if os.path.isfile(folder / n))


@pytest.mark.parametrize(
    "shape, numel",
    [((), 1), ((3,), 3), ((4, 32), 128), ((2, 0, 5), 0)],
)
def test_tensor_info_numel(shape, numel):
    assert TensorInfo("F32", shape).numel == numel


@pytest.mark.parametrize("safe", [True, False], ids=["safetensors", "bin"])
def test_adapter_params_match_peft_trainable_count(tmp_path, safe):
    model = save_adapter(tmp_path / "a", safe=safe)
    trainable, _ = model.get_nb_trainable_parameters()
    storage = adapter_storage(tmp_path / "a")
    assert storage.params == trainable == LORA_PARAMS
    assert storage.dtype == "F32"
    assert storage.weights_bytes == (tmp_path / "a" / WEIGHTS_FILES[0 if safe else 1]).stat().st_size


def test_header_lists_every_lora_tensor_and_skips_metadata(tmp_path):
    save_adapter(tmp_path / "a")
    header = read_safetensors_header(tmp_path / "a" / "adapter_model.safetensors")
    assert "__metadata__" not in header
    assert len(header) == 8  # 2 layers x 2 modules x (A, B)
    q_a = next(info for name, info in header.items() if "layers.0" in name and "q_proj.lora_A" in name)
    v_b = next(info for name, info in header.items() if "layers.1" in name and "v_proj.lora_B" in name)
    assert q_a == TensorInfo("F32", (4, 32))
    assert v_b == TensorInfo("F32", (16, 4))


@pytest.mark.parametrize(
    "extra_root_files, extra_sub_files",
    [
        ({}, {}),
        ({"NOTES.md": b"x" * 1234, "tokenizer.json": b"{}" * 500}, {}),
        ({}, {"checkpoint-10/adapter_model.safetensors": b"y" * 5000}),
    ],
    ids=["as-saved", "extra-root-files-do-not-count", "subfolders-do-not-count"],
)
def test_an_adapters_size_is_its_weights_file(tmp_path, extra_root_files, extra_sub_files):
    """One definition of an adapter's size (README, notes, checkpoints beside it are not the adapter)."""
    folder = tmp_path / "a"
    save_adapter(folder)
    for rel, data in {**extra_root_files, **extra_sub_files}.items():
        (folder / rel).parent.mkdir(parents=True, exist_ok=True)
        (folder / rel).write_bytes(data)
    weights = (folder / "adapter_model.safetensors").stat().st_size
    assert dir_file_bytes(folder) > weights  # PEFT writes a config and a card beside it
    assert adapter_storage(folder).bytes_on_disk == adapter_storage(folder).weights_bytes == weights


def test_bin_and_safetensors_agree(tmp_path):
    model = tiny_peft()
    model.save_pretrained(tmp_path / "st", safe_serialization=True)
    model.save_pretrained(tmp_path / "bin", safe_serialization=False)
    st_info = weights_info(tmp_path / "st" / "adapter_model.safetensors")
    bin_info = weights_info(tmp_path / "bin" / "adapter_model.bin")
    assert st_info == bin_info
    st, bn = adapter_storage(tmp_path / "st"), adapter_storage(tmp_path / "bin")
    assert (st.params, st.dtype) == (bn.params, bn.dtype) == (LORA_PARAMS, "F32")


def test_bin_state_dict_holds_the_saved_values(tmp_path):
    model = save_adapter(tmp_path / "a", safe=False)
    state = load_bin_state_dict(tmp_path / "a" / "adapter_model.bin")
    lora_a = {n: p for n, p in model.named_parameters() if "layers.0.self_attn.q_proj.lora_A" in n}
    (name, param), = lora_a.items()
    stored = next(t for k, t in state.items() if "layers.0.self_attn.q_proj.lora_A" in k)
    assert torch.equal(stored, param.detach())


@pytest.mark.parametrize(
    "files, expected",
    [
        (["adapter_model.safetensors", "adapter_model.bin"], "adapter_model.safetensors"),
        (["adapter_model.bin"], "adapter_model.bin"),
        (["adapter_model.safetensors"], "adapter_model.safetensors"),
        (["adapter_config.json", "model.safetensors"], None),
        ([], None),
    ],
)
def test_find_weights_file_prefers_safetensors(tmp_path, files, expected):
    for name in files:
        (tmp_path / name).write_bytes(b"")
    found = find_weights_file(tmp_path)
    assert (found.name if found else None) == expected


def test_find_weights_file_ignores_a_folder_with_the_weights_name(tmp_path):
    (tmp_path / "adapter_model.safetensors").mkdir()
    (tmp_path / "adapter_model.bin").write_bytes(b"")
    assert find_weights_file(tmp_path) == tmp_path / "adapter_model.bin"


@pytest.mark.parametrize(
    "dtypes, expected",
    [
        ({"a": (torch.bfloat16, (8, 4))}, "BF16"),
        ({"a": (torch.float32, (8, 4)), "b": (torch.bfloat16, (2, 2))}, "mixed (F32, BF16)"),
        ({"a": (torch.float32, (2, 2)), "b": (torch.float16, (8, 4))}, "mixed (F16, F32)"),
    ],
)
def test_dtype_summary(tmp_path, dtypes, expected):
    tensors = {name: torch.zeros(shape, dtype=dt) for name, (dt, shape) in dtypes.items()}
    save_file(tensors, tmp_path / "adapter_model.safetensors")
    storage = adapter_storage(tmp_path)
    assert storage.dtype == expected
    assert storage.params == sum(t.numel() for t in tensors.values())


@pytest.mark.parametrize("safe", [True, False], ids=["safetensors", "bin"])
def test_bf16_adapter_reports_bf16(tmp_path, safe):
    save_adapter(tmp_path / "a", safe=safe, dtype=torch.bfloat16)
    assert adapter_storage(tmp_path / "a") == AdapterStorage(
        bytes_on_disk=(tmp_path / "a" / WEIGHTS_FILES[0 if safe else 1]).stat().st_size,
        weights_bytes=(tmp_path / "a" / WEIGHTS_FILES[0 if safe else 1]).stat().st_size,
        params=LORA_PARAMS,
        dtype="BF16",
    )


def _valid_safetensors(tmp_path: Path) -> bytes:
    save_file({"w": torch.ones(4, 4)}, tmp_path / "ok.safetensors")
    return (tmp_path / "ok.safetensors").read_bytes()


def _with_header(header: bytes, data: bytes = b"") -> bytes:
    return struct.pack("<Q", len(header)) + header + data


@pytest.mark.parametrize(
    "make, reason",
    [
        (lambda ok: b"", "only 0 bytes"),
        (lambda ok: b"\x10\x00\x00", "only 3 bytes"),
        (lambda ok: struct.pack("<Q", 10_000) + b"{}", "header length 10000"),
        (lambda ok: struct.pack("<Q", 2**63) + b"{}", "does not fit"),
        (lambda ok: _with_header(b"not json at all"), "not valid JSON"),
        (lambda ok: _with_header(b"\xff\xfe{}"), "not valid JSON"),
        (lambda ok: _with_header(b"[1, 2]"), "not a JSON object"),
        (lambda ok: _with_header(b'{"w": {"dtype": "F32", "shape": [2]}}'), "'w' lacks"),
        (lambda ok: _with_header(b'{"w": {"dtype": "F32", "shape": [-1], "data_offsets": [0, 0]}}'), "'w' lacks"),
        (lambda ok: _with_header(b'{"w": {"dtype": "F32", "shape": [2], "data_offsets": [8, 0]}}'), "'w' lacks"),
        (lambda ok: _with_header(b'{"w": "F32"}'), "'w' lacks"),
        (lambda ok: ok[:-10], "ends at byte 64"),
        (lambda ok: ok[:20], "does not fit"),
    ],
    ids=[
        "empty", "short-prefix", "header-past-eof", "huge-length", "not-json", "not-utf8",
        "json-list", "no-offsets", "negative-dim", "reversed-offsets", "entry-not-object",
        "data-truncated", "header-truncated",
    ],
)
def test_corrupt_safetensors_raise_one_line_error(tmp_path, make, reason):
    path = tmp_path / "adapter_model.safetensors"
    path.write_bytes(make(_valid_safetensors(tmp_path)))
    with pytest.raises(AdapterWeightsError) as exc:
        read_safetensors_header(path)
    message = str(exc.value)
    assert reason in message
    assert "adapter_model.safetensors" in message and "\n" not in message
    assert message.endswith("re-download or re-save the adapter.")


def test_valid_hand_made_header_is_read(tmp_path):
    path = tmp_path / "w.safetensors"
    path.write_bytes(_valid_safetensors(tmp_path))
    assert read_safetensors_header(path) == {"w": TensorInfo("F32", (4, 4))}


class Evil:
    def __init__(self, marker: Path):
        self.marker = marker

    def __reduce__(self):
        return (os.system, (f"touch {self.marker}",))


def _torch_zip(path, obj):
    torch.save(obj, path)


def _torch_legacy(path, obj):
    torch.save(obj, path, _use_new_zipfile_serialization=False)


def _plain_pickle(path, obj):
    with open(path, "wb") as f:
        pickle.dump(obj, f, protocol=2)


@pytest.mark.parametrize("writer", [_torch_zip, _torch_legacy, _plain_pickle])
def test_malicious_pickle_is_refused_and_never_runs(tmp_path, monkeypatch, writer):
    monkeypatch.chdir(tmp_path)
    marker = tmp_path / "MARKER"
    folder = tmp_path / "evil"
    folder.mkdir()
    (folder / "adapter_config.json").write_text("{}")
    writer(folder / "adapter_model.bin", {"x": Evil(marker)})
    with pytest.raises(UnsafeWeightsError) as exc:
        adapter_storage(folder)
    message = str(exc.value)
    assert "holds pickled code" in message and "safetensors" in message and "\n" not in message
    assert not marker.exists()
    assert not (tmp_path / "MARKER").exists()


@pytest.mark.parametrize(
    "write, reason",
    [
        (lambda p: p.write_bytes(b""), "could not be loaded (EOFError"),
        (lambda p: p.write_bytes(b"hello world garbage " * 10), "could not be loaded"),
        (lambda p: p.write_bytes(b"\x80\x02\xffgarbage"), "is not a PyTorch weights file"),
        (lambda p: _truncated_zip(p), "could not be loaded (RuntimeError"),
        (lambda p: torch.save([torch.ones(2)], p), "holds a list, not a dict of tensors"),
        (lambda p: torch.save({"a": torch.ones(2), "b": 3}, p), "entry 'b' is a int, not a tensor"),
    ],
    ids=["empty", "garbage-text", "bad-opcode", "truncated-zip", "list", "non-tensor-value"],
)
def test_unreadable_bin_is_a_weights_error_not_unsafe(tmp_path, write, reason):
    path = tmp_path / "adapter_model.bin"
    write(path)
    with pytest.raises(AdapterWeightsError) as exc:
        load_bin_state_dict(path)
    assert type(exc.value) is AdapterWeightsError
    assert reason in str(exc.value) and "\n" not in str(exc.value)


def _truncated_zip(path: Path) -> None:
    torch.save({"a": torch.ones(100)}, path)
    data = path.read_bytes()
    path.write_bytes(data[: len(data) // 2])


@pytest.mark.parametrize(
    "setup, error, fragment",
    [
        (lambda d: None, AdapterNotFoundError, "does not exist"),
        (lambda d: d.mkdir(), AdapterWeightsError, "has no adapter_model.safetensors or adapter_model.bin"),
        (lambda d: (d.mkdir(), save_file({}, d / "adapter_model.safetensors")), AdapterWeightsError, "holds no tensors"),
        (lambda d: (d.mkdir(), (d / "adapter_model.bin").write_bytes(b"")), AdapterWeightsError, "could not be loaded"),
    ],
    ids=["missing-folder", "no-weights", "empty-safetensors", "empty-bin"],
)
def test_adapter_storage_errors(tmp_path, setup, error, fragment):
    folder = tmp_path / "adapter"
    setup(folder)
    with pytest.raises(error) as exc:
        adapter_storage(folder)
    assert fragment in str(exc.value) and "\n" not in str(exc.value)


def test_weights_info_rejects_other_suffixes(tmp_path):
    path = tmp_path / "adapter_model.pt"
    torch.save({"a": torch.ones(2)}, path)
    with pytest.raises(AdapterWeightsError, match="neither .safetensors nor .bin"):
        weights_info(path)


@pytest.mark.parametrize(
    "dtype, dtype_name, bytes_per_param",
    [(torch.float32, "float32", 4), (torch.bfloat16, "bfloat16", 2), (torch.float16, "float16", 2)],
)
def test_model_storage_counts_and_sizes(dtype, dtype_name, bytes_per_param):
    model = tiny_llama().to(dtype)
    storage = model_storage(model)
    assert storage.params == model.num_parameters()
    assert storage.dtype == dtype_name
    assert storage.full_copy_bytes == storage.params * bytes_per_param
    assert storage.file_bytes is None


def test_tied_embeddings_counted_once():
    untied, tied = tiny_llama(tie=False), tiny_llama(tie=True)
    assert tied.lm_head.weight is tied.model.embed_tokens.weight
    assert model_storage(untied).params - model_storage(tied).params == VOCAB * HIDDEN
    state_dict_numel = sum(t.numel() for t in tied.state_dict().values() if t.is_floating_point())
    assert model_storage(tied).params < state_dict_numel


def test_model_storage_mixed_dtypes():
    model = torch.nn.Sequential(torch.nn.Linear(8, 8), torch.nn.Linear(2, 2).to(torch.bfloat16))
    storage = model_storage(model)
    assert storage.dtype == "mixed (float32, bfloat16)"
    assert storage.full_copy_bytes == (8 * 8 + 8) * 4 + (2 * 2 + 2) * 2


@pytest.mark.parametrize(
    "files, expected",
    [
        ({"model.safetensors": 1000, "config.json": 50}, 1000),
        ({"model-00001.safetensors": 700, "model-00002.safetensors": 300, "pytorch_model.bin": 999}, 1000),
        ({"pytorch_model.bin": 600, "training_args.bin": 77, "config.json": 5}, 600),
        ({"config.json": 5}, None),
        ({}, None),
    ],
    ids=["safetensors", "shards-beat-bin", "bin-only", "no-weights", "empty"],
)
def test_model_file_bytes_from_folder(tmp_path, files, expected):
    for name, size in files.items():
        (tmp_path / name).write_bytes(b"\0" * size)
    assert model_storage(torch.nn.Linear(2, 2), source=tmp_path).file_bytes == expected


def test_model_file_bytes_from_gguf_file_and_saved_model(tmp_path):
    gguf = tmp_path / "model.gguf"
    gguf.write_bytes(b"GGUF" + b"\0" * 996)
    assert model_storage(torch.nn.Linear(2, 2), source=gguf).file_bytes == 1000
    assert model_storage(torch.nn.Linear(2, 2), source=tmp_path / "missing").file_bytes is None

    model = tiny_llama()
    model.save_pretrained(tmp_path / "saved")
    storage = model_storage(model, source=tmp_path / "saved")
    weights = (tmp_path / "saved" / "model.safetensors").stat().st_size
    assert storage.file_bytes == weights
    assert storage.full_copy_bytes < weights < storage.full_copy_bytes + 100_000  # header only on top


@pytest.mark.parametrize(
    "full, adapter, expected",
    [(1000, 10, 100.0), (538_100_000, 1_800_000, 538.1 / 1.8), (10, 10, 1.0), (0, 5, 0.0)],
)
def test_size_ratio(full, adapter, expected):
    assert size_ratio(full, adapter) == pytest.approx(expected)


@pytest.mark.parametrize("adapter", [0, -1])
def test_size_ratio_rejects_empty_adapter(adapter):
    with pytest.raises(ValueError):
        size_ratio(1000, adapter)


def test_session_full_model_size_ignores_mounted_adapters(tiny_session, tiny_adapters, pristine_base):
    """PEFT injects adapter layers into the base in place; the full-copy size must not grow with them."""
    from adapters_ui.adapters.files import model_storage

    for name in ("lora", "dora"):
        tiny_session.attach(tiny_adapters[name])
    tiny_session.compare(["Hi"], settings=tiny_session.generation_settings(max_new_tokens=2))  # mounts a family
    bare = model_storage(pristine_base)
    assert sum(p.numel() for p in tiny_session.base.model.parameters()) > bare.params, "an adapter must be mounted"
    assert tiny_session.storage().model.full_copy_bytes == bare.full_copy_bytes
    assert tiny_session.storage().model.params == bare.params
