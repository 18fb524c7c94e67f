"""Numbers for people: byte sizes, size ratios, dtype names, and the byte units of chart axes; and a
conversation as a model reads it (``format_chat``: the compared model and a judge model read chats alike).

One home, one unit table, so the CLI, the UI, the report and the charts never disagree
about how big something is. Pure functions on plain values (no torch, no plotly):

    >>> format_bytes(943_000), format_ratio(538_060_032 / 943_000)
    ('943.0 kB', '571x smaller')
    >>> byte_unit(5.4e9), byte_tick_label(8)
    (('GB', 1000000000.0), '100 MB')
"""

from __future__ import annotations

# Decimal units, as disks and the Hub report them; unit i is 1000**i bytes.
BYTE_UNITS = ("B", "kB", "MB", "GB", "TB", "PB")
ON_SERVER = "on the server"  # the size of a server's adapter whose files this machine cannot read

# torch dtypes spelled the way safetensors headers spell them, so .bin and .safetensors agree.
_SAFETENSORS_DTYPES = {
    "float64": "F64",
    "float32": "F32",
    "float16": "F16",
    "bfloat16": "BF16",
    "int64": "I64",
    "int32": "I32",
    "int16": "I16",
    "int8": "I8",
    "uint8": "U8",
    "bool": "BOOL",
    "float8_e4m3fn": "F8_E4M3",
    "float8_e5m2": "F8_E5M2",
}


def format_bytes(n: int) -> str:
    """``912 B``, ``1.8 MB``, ``538.1 MB``: one decimal, and never ``1000.0 kB`` (that is ``1.0 MB``)."""
    if n < 0:
        raise ValueError(f"byte count must not be negative, got {n}")
    if n < 1000:
        return f"{n} B"
    value = float(n)
    for unit in BYTE_UNITS[1:]:
        value /= 1000
        if round(value, 1) < 1000 or unit == BYTE_UNITS[-1]:
            return f"{value:.1f} {unit}"
    raise AssertionError("unreachable")


def format_size(n: int | None) -> str:
    """An adapter's size for people: ``format_bytes``, or ``on the server`` when it is not known here (None)."""
    return ON_SERVER if n is None else format_bytes(n)


def byte_unit(n: float) -> tuple[str, float]:
    """The biggest unit that keeps ``n`` at 1 or more, for an axis of linear bytes: 5.4e9 -> ``("GB", 1e9)``."""
    for power in range(len(BYTE_UNITS) - 1, 0, -1):
        if n >= 1000**power:
            return BYTE_UNITS[power], float(1000**power)
    return BYTE_UNITS[0], 1.0


def byte_tick_label(exponent: int) -> str:
    """Tick label for ``10**exponent`` bytes on a log axis: 3 -> ``1 kB``, 8 -> ``100 MB``."""
    power = min(exponent // 3, len(BYTE_UNITS) - 1) if exponent >= 0 else 0
    return f"{10 ** (exponent - 3 * power):g} {BYTE_UNITS[power]}"


def format_times(ratio: float) -> str:
    """A size ratio's number: whole with separators from 10 up (``1,234``), else one decimal (``3.2``)."""
    return f"{ratio:,.0f}" if ratio >= 10 else f"{ratio:.1f}"


def format_ratio(ratio: float) -> str:
    """``570.6`` -> ``"571x smaller"``, ``3.24`` -> ``"3.2x smaller"``, ``0.5`` -> ``"2.0x larger"``."""
    return f"{format_times(ratio)}x smaller" if ratio >= 1 else f"{format_times(1 / ratio)}x larger"


def dtype_name(dtype: object) -> str:
    """A torch dtype as safetensors headers name it (``torch.bfloat16`` -> ``BF16``), so both formats agree.

    Takes the dtype object or its string, so this module needs no torch; unknown dtypes
    are upper-cased (``torch.complex64`` -> ``COMPLEX64``).
    """
    name = str(dtype).removeprefix("torch.")
    return _SAFETENSORS_DTYPES.get(name) or name.upper()


def shorten(text: str, limit: int) -> str:
    """``text`` cut to at most ``limit`` characters, ending in ``…`` when cut (chart labels stay one width)."""
    if limit < 1:
        raise ValueError(f"limit must be at least 1, got {limit}")
    return text if len(text) <= limit else text[: limit - 1] + "…"


def plural(count: int, noun: str, many: str | None = None) -> str:
    """A count and its noun, the noun in the plural unless the count is one: the one place counts get words.

    >>> plural(1, "reviewer"), plural(2, "pair"), plural(0, "judgement"), plural(1, "reply", "replies")
    ('1 reviewer', '2 pairs', '0 judgements', '1 reply')
    """
    return f"{count} {noun if count == 1 else many or noun + 's'}"


def format_seconds(seconds: float) -> str:
    """A duration as people read an ETA: whole seconds, then minutes and seconds, then hours and minutes.

    >>> format_seconds(7.4), format_seconds(224), format_seconds(3900)
    ('7 s', '3 min 44 s', '1 h 5 min')
    """
    total = max(0, round(seconds))
    if total < 60:
        return f"{total} s"
    if total < 3600:
        return f"{total // 60} min {total % 60} s"
    return f"{total // 3600} h {total % 3600 // 60} min"


def format_chat(tokenizer, messages: list[dict]) -> str:
    """A whole conversation ([{role, content}, ...], ending with the user) as a model reads it: its chat template
    with a generation prompt, or without one a plain "User:/Assistant:" transcript. Here, low, so both the runs and
    the judge model (``judging/local``, which may not import runs) format chats one way.

    >>> format_chat(object(), [{"role": "user", "content": "Hi"}])
    'User: Hi\\nAssistant:'
    """
    if getattr(tokenizer, "chat_template", None):
        return tokenizer.apply_chat_template(messages, add_generation_prompt=True, tokenize=False)
    return "\n".join([*(f"{m['role'].capitalize()}: {m['content']}" for m in messages), "Assistant:"])
