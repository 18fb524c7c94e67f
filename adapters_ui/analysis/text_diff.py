"""How adapter outputs differ from the base: word diffs and similarity, pure functions on strings.

Words, not characters, because a reader compares outputs word by word:

    >>> word_diff("the quick fox", "the slow fox")
    [('same', 'the '), ('removed', 'quick'), ('added', 'slow'), ('same', ' fox')]
    >>> round(similarity("the quick fox", "the slow fox"), 2)
    0.67
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from difflib import SequenceMatcher

from adapters_ui.names import BASE

_TOKEN = re.compile(r"\S+|\s+")


def tokens(text: str) -> list[str]:
    """Words and the whitespace between them, so ``"".join(tokens(text)) == text``."""
    return _TOKEN.findall(text)


def word_diff(base: str, other: str) -> list[tuple[str, str]]:
    """``(op, text)`` pieces, op in same | removed | added, that rebuild both texts.

    Joining the same + removed pieces in order gives ``base``; same + added gives
    ``other``. A space that happens to match between two changed words is folded into
    the change, so "the quick" -> "a slow" reads as one replacement, not two.
    """
    a, b = tokens(base), tokens(other)
    pieces: list[tuple[str, str]] = []
    for op, i1, i2, j1, j2 in SequenceMatcher(None, a, b, autojunk=False).get_opcodes():
        if op == "equal":
            pieces.append(("same", "".join(a[i1:i2])))
            continue
        if i2 > i1:
            pieces.append(("removed", "".join(a[i1:i2])))
        if j2 > j1:
            pieces.append(("added", "".join(b[j1:j2])))
    return _merge(_fold_spaces(pieces))


def _fold_spaces(pieces: list[tuple[str, str]]) -> list[tuple[str, str]]:
    """Turn a whitespace-only "same" piece between two changes into removed + added."""
    folded: list[tuple[str, str]] = []
    for k, (op, text) in enumerate(pieces):
        between_changes = 0 < k < len(pieces) - 1 and pieces[k - 1][0] != "same" and pieces[k + 1][0] != "same"
        if op == "same" and between_changes and not text.strip():
            folded += [("removed", text), ("added", text)]
        else:
            folded.append((op, text))
    return folded


def _merge(pieces: list[tuple[str, str]]) -> list[tuple[str, str]]:
    """One "same" piece per unchanged run; each changed run as all its removed text, then all its added text."""
    merged: list[tuple[str, str]] = []
    removed: list[str] = []
    added: list[str] = []

    def flush() -> None:
        if removed:
            merged.append(("removed", "".join(removed)))
        if added:
            merged.append(("added", "".join(added)))
        removed.clear()
        added.clear()

    for op, text in pieces:
        if op == "same":
            flush()
            if merged and merged[-1][0] == "same":
                merged[-1] = ("same", merged[-1][1] + text)
            else:
                merged.append(("same", text))
        else:
            (removed if op == "removed" else added).append(text)
    flush()
    return merged


def similarity(a: str, b: str) -> float:
    """Share of matching words, in [0, 1]: 1.0 for identical (or both wordless), 0.0 when one is empty.

    Whitespace is ignored: "a  b" and "a b" are 1.0, since they read the same.
    """
    if a == b:
        return 1.0
    return SequenceMatcher(None, a.split(), b.split(), autojunk=False).ratio()


@dataclass(frozen=True)
class VariantDifference:
    """How one adapter's outputs differ from the base over a set of prompts.

    ``share_changed`` and ``mean_similarity`` are fractions in [0, 1]; both are 0.0 when
    ``prompts`` is 0 (no prompt had both outputs).
    """

    variant: str
    prompts: int
    changed: int
    share_changed: float
    mean_similarity: float


def difference_summary(records: list[dict], base: str = BASE) -> list[VariantDifference]:
    """One entry per non-base variant, in the order of the first record's outputs.

    ``records``: ``[{"prompt": str, "outputs": {variant: text}, "cut_off"?: [variant, ...]}]``.
    A prompt counts for a variant only when both it and the base have a complete output (not
    missing, not None, not cut off by a Stop), so a stopped comparison is summarised on what
    really finished. Empty when there is no base.
    """
    if not records or base not in records[0]["outputs"]:
        return []
    summary = []
    for variant in records[0]["outputs"]:
        if variant == base:
            continue
        pairs = [
            (r["outputs"].get(base), r["outputs"].get(variant))
            for r in records
            if r["outputs"].get(base) is not None and r["outputs"].get(variant) is not None
            and not {base, variant} & set(r.get("cut_off") or ())
        ]
        n = len(pairs)
        changed = sum(text != base_text for base_text, text in pairs)
        mean = sum(similarity(base_text, text) for base_text, text in pairs) / n if n else 0.0
        summary.append(VariantDifference(variant, n, changed, changed / n if n else 0.0, mean))
    return summary


def finished_outputs(records: list[dict], variants: list[str]) -> tuple[int, int]:
    """(complete outputs, all outputs) of ``records``: missing (None) and cut-off ones are not complete."""
    done = sum(
        1 for r in records for v in variants
        if r["outputs"].get(v) is not None and v not in (r.get("cut_off") or ())
    )
    return done, len(records) * len(variants)


def rows_that_differ(records: list[dict]) -> list[int]:
    """Indices of records whose finished outputs (None = still running) are not all identical."""
    return [
        i for i, r in enumerate(records)
        if len({text for text in r["outputs"].values() if text is not None}) > 1
    ]
