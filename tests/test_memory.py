"""The memory figure in the status line is real: it moves when the process really holds more."""

from __future__ import annotations

import re
import subprocess
import sys
from pathlib import Path

import pytest
import torch

from adapters_ui.model import memory as runtime
from adapters_ui.model.memory import describe_memory, memory_in_use

MB = 1000**2


MEASURE = """
import torch
from adapters_ui.model.memory import memory_in_use
before = memory_in_use("cpu")
held = torch.ones(50_000_000, dtype=torch.float32)  # 200 MB, every page written
during = memory_in_use("cpu")
assert held.sum().item() == 50_000_000  # still held when measured
del held
print(before, during, memory_in_use("cpu"))
"""


def test_cpu_memory_grows_while_a_tensor_is_held():
    """In a fresh process: a long test session's allocator may reuse pages it already holds."""
    root = Path(__file__).resolve().parents[1]
    done = subprocess.run([sys.executable, "-c", MEASURE], cwd=root, capture_output=True, text=True, check=True)
    before, during, after = map(int, done.stdout.split())
    assert before > 0
    assert during - before >= 150 * MB, (before, during)
    assert after < during - 100 * MB, (during, after)  # and given back once freed


def test_without_proc_it_falls_back_to_peak_rss(monkeypatch, tmp_path):
    current = memory_in_use("cpu")
    monkeypatch.setattr(runtime, "_STATM", tmp_path / "no-proc" / "statm")
    peak = memory_in_use("cpu")
    assert peak >= current * 0.9  # maxrss is the peak, so at least about the current size
    assert peak < 1000 * 1000 * MB  # kB were converted to bytes once, not twice


@pytest.mark.parametrize(
    "device, pattern",
    [
        ("cpu", r"^\d+\.\d (MB|GB) RAM$"),
        ("mps", r"^\d+\.\d (MB|GB) RAM$"),
        pytest.param("cuda", r"^(\d+ B|\d+\.\d (kB|MB|GB)) GPU$",
                     marks=pytest.mark.skipif(not torch.cuda.is_available(), reason="needs CUDA")),
    ],
)
def test_describe_memory(device, pattern):
    assert re.match(pattern, describe_memory(device)), describe_memory(device)


@pytest.mark.skipif(not torch.cuda.is_available(), reason="needs CUDA")
def test_cuda_memory_counts_gpu_tensors():
    before = memory_in_use("cuda")
    held = torch.ones(50_000_000, device="cuda")
    assert memory_in_use("cuda") - before >= 200 * MB
    del held
