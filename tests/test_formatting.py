"""Every number people read (bytes, ratios, dtypes, axis units) from one table of values and texts."""

from __future__ import annotations

import ast
from pathlib import Path

import pytest
import torch

from adapters_ui import formatting
from adapters_ui.formatting import (
    BYTE_UNITS,
    byte_tick_label,
    byte_unit,
    dtype_name,
    format_bytes,
    format_chat,
    format_ratio,
    format_times,
    shorten,
)


@pytest.mark.parametrize(
    "n, text",
    [
        (0, "0 B"),
        (912, "912 B"),
        (999, "999 B"),
        (1000, "1.0 kB"),
        (1_840, "1.8 kB"),
        (943_000, "943.0 kB"),
        (999_949, "999.9 kB"),
        (999_999, "1.0 MB"),  # rounds up into the next unit, never "1000.0 kB"
        (1_800_000, "1.8 MB"),
        (538_060_032, "538.1 MB"),
        (2_500_000_000, "2.5 GB"),
        (12_000_000_000_000, "12.0 TB"),
        (3 * 10**15, "3.0 PB"),
        (5 * 10**18, "5000.0 PB"),  # the last unit just grows
    ],
)
def test_format_bytes(n, text):
    assert format_bytes(n) == text


def test_format_bytes_rejects_negative():
    with pytest.raises(ValueError, match="must not be negative, got -1"):
        format_bytes(-1)


@pytest.mark.parametrize(
    "ratio, times, text",
    [
        (570.58, "571", "571x smaller"),  # 538,060,032 / 943,000
        (12_345.6, "12,346", "12,346x smaller"),
        (10.0, "10", "10x smaller"),
        (9.96, "10.0", "10.0x smaller"),
        (3.24, "3.2", "3.2x smaller"),
        (1.0, "1.0", "1.0x smaller"),
        (0.5, "0.5", "2.0x larger"),
        (0.01, "0.0", "100x larger"),
    ],
)
def test_ratio_text(ratio, times, text):
    assert (format_times(ratio), format_ratio(ratio)) == (times, text)


@pytest.mark.parametrize(
    "n, unit",
    [
        (0, ("B", 1.0)),
        (999, ("B", 1.0)),
        (1_000, ("kB", 1e3)),
        (40_000, ("kB", 1e3)),
        (558_100_000, ("MB", 1e6)),
        (5.4e9, ("GB", 1e9)),
        (2e12, ("TB", 1e12)),
        (7e15, ("PB", 1e15)),
        (7e20, ("PB", 1e15)),
    ],
)
def test_byte_unit(n, unit):
    assert byte_unit(n) == unit


@pytest.mark.parametrize(
    "exponent, label",
    [(-1, "0.1 B"), (0, "1 B"), (2, "100 B"), (3, "1 kB"), (5, "100 kB"), (6, "1 MB"), (8, "100 MB"), (9, "1 GB"),
     (12, "1 TB"), (15, "1 PB"), (18, "1000 PB")],
)
def test_byte_tick_label(exponent, label):
    assert byte_tick_label(exponent) == label


def test_axis_units_and_sizes_use_one_table():
    """The tick labels, the axis unit and format_bytes all name a power of 1000 the same way."""
    for power, unit in enumerate(BYTE_UNITS):
        assert byte_tick_label(3 * power) == f"1 {unit}"
        assert byte_unit(1000**power)[0] == unit
        assert format_bytes(2 * 1000**power).endswith(f" {unit}")


@pytest.mark.parametrize(
    "dtype, name",
    [
        (torch.float32, "F32"),
        (torch.float, "F32"),
        (torch.bfloat16, "BF16"),
        (torch.float16, "F16"),
        (torch.int8, "I8"),
        (torch.bool, "BOOL"),
        (torch.float8_e4m3fn, "F8_E4M3"),
        (torch.complex64, "COMPLEX64"),  # not in safetensors' list: upper-cased
        ("torch.bfloat16", "BF16"),
        ("float64", "F64"),
    ],
)
def test_dtype_name(dtype, name):
    assert dtype_name(dtype) == name


@pytest.mark.parametrize(
    "text, limit, expected, error",
    [
        ("pirate", 18, "pirate", None),
        ("customer_support_v2_long_name", 18, "customer_support_…", None),
        ("abc", 3, "abc", None),
        ("abcd", 3, "ab…", None),
        ("abcd", 1, "…", None),
        ("abcd", 0, None, "limit must be at least 1"),
    ],
)
def test_shorten(text, limit, expected, error):
    if error:
        with pytest.raises(ValueError, match=error):
            shorten(text, limit)
    else:
        assert shorten(text, limit) == expected
        assert len(shorten(text, limit)) <= limit


def test_formatting_imports_nothing():
    """Pure functions on plain values: the CLI, report and charts can all use them without torch or plotly."""
    tree = ast.parse(Path(formatting.__file__).read_text())
    imported = {node.module if isinstance(node, ast.ImportFrom) else alias.name
                for node in ast.walk(tree) if isinstance(node, (ast.Import, ast.ImportFrom)) for alias in node.names}
    assert imported == {"__future__"}


class _TemplateTokenizer:
    """A tokenizer with a chat template: what it is asked, as text (a real template is the model's own business)."""

    chat_template = "{{ messages }}"

    def apply_chat_template(self, messages, add_generation_prompt, tokenize):
        assert add_generation_prompt and not tokenize
        return "|".join(f"<{m['role']}>{m['content']}" for m in messages) + "|<assistant>"


CHAT = [{"role": "system", "content": "Be brief."}, {"role": "user", "content": "Hi"},
        {"role": "assistant", "content": "Hello"}, {"role": "user", "content": "More?"}]


@pytest.mark.parametrize(
    "tokenizer, messages, text",
    [
        (_TemplateTokenizer(), CHAT, "<system>Be brief.|<user>Hi|<assistant>Hello|<user>More?|<assistant>"),
        (object(), CHAT, "System: Be brief.\nUser: Hi\nAssistant: Hello\nUser: More?\nAssistant:"),
        (object(), [{"role": "user", "content": "Hi"}], "User: Hi\nAssistant:"),
    ],
)
def test_format_chat_uses_the_template_or_a_plain_transcript(tokenizer, messages, text):
    """The compared model and the judge model read a conversation through this one function."""
    assert format_chat(tokenizer, messages) == text
