"""An evaluation document (the plain dict of EVAL_SPEC) read for the views, and written as CSV and JSON.

No chart and no HTML here, so a script or the store can export an evaluation without plotly. The
CSV has one row per item, variant and sample; each check becomes a ``check:NAME`` column and each
score a column of its own, so a spreadsheet filters on them directly:

    >>> document = {"items": [{"id": "q1", "category": "json", "tags": ["easy"], "variant": "base", "sample": 0,
    ...                        "output": "{}", "checks": {"is-json": True}, "scores": {"checks": 1.0}}]}
    >>> items_csv(document).splitlines()
    ['id,category,tags,variant,sample,output,check:is-json,checks', 'q1,json,easy,base,0,{},true,1.0']
"""

from __future__ import annotations

import csv
import io

from adapters_ui.views.document import json_text

ITEM_COLUMNS = ("id", "category", "tags", "variant", "sample", "output")
CHECK_PREFIX = "check:"
TAG_SEPARATOR = "; "  # tags in one CSV cell: "easy; math"


def baseline_variant(document: dict) -> str | None:
    """The baseline when it is a variant of this document; None when it is another evaluation
    (``"evaluation:<id>"``), whose outputs this document does not hold."""
    baseline = document.get("baseline")
    return baseline if baseline in (document.get("variants") or []) else None


def compared_variants(document: dict) -> list[str]:
    """The variants compared with the baseline: every variant but the baseline, in the document's order."""
    baseline = baseline_variant(document)
    return [v for v in document.get("variants") or [] if v != baseline]


def item_outputs(document: dict) -> dict[str, dict[str, list[dict]]]:
    """{item id: {variant: its records, by sample}} from ``items``, item ids in first-seen order."""
    grouped: dict[str, dict[str, list[dict]]] = {}
    for record in document.get("items") or []:
        grouped.setdefault(str(record["id"]), {}).setdefault(record["variant"], []).append(record)
    for variants in grouped.values():
        for records in variants.values():
            records.sort(key=lambda r: r.get("sample") or 0)
    return grouped


def set_items(document: dict) -> list[dict]:
    """The set's items in set order (``set_items``), then any item id only ``items`` names (its category and
    tags from its first record, no prompt): the item browser lists every item that has outputs."""
    listed = [dict(item, id=str(item["id"])) for item in document.get("set_items") or []]
    known = {item["id"] for item in listed}
    for record in document.get("items") or []:
        item_id = str(record["id"])
        if item_id not in known:
            known.add(item_id)
            listed.append({"id": item_id, "prompt": None, "messages": None, "reference": None,
                           "category": record.get("category"), "tags": list(record.get("tags") or []), "checks": []})
    return listed


def prompt_text(item: dict) -> str:
    """The item's prompt, or its messages one turn a line ("user: Hi"); "" when the document has neither."""
    if item.get("prompt") is not None:
        return item["prompt"]
    return "\n".join(f"{turn['role']}: {turn['content']}" for turn in item.get("messages") or [])


def _first_seen(keys_per_record) -> list[str]:
    """Every key, once, in the order the records first name it."""
    return list(dict.fromkeys(key for keys in keys_per_record for key in keys))


def _cell(value) -> str:
    """A CSV cell: empty for a missing value, true/false for a check, the number as Python writes it."""
    if value is None:
        return ""
    if isinstance(value, bool):
        return "true" if value else "false"
    return str(value)


def items_csv(document: dict) -> str:
    """One row per item, variant and sample, in the document's order: ``ITEM_COLUMNS``, one ``check:NAME``
    column per check name, one column per score. A check an item does not have, or a null score, is empty.

    Rows end in CRLF, as ``document.to_csv``'s do, so an output with a carriage return reads back exactly."""
    records = document.get("items") or []
    checks = _first_seen((r.get("checks") or {}) for r in records)
    scores = _first_seen((r.get("scores") or {}) for r in records)
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\r\n")
    writer.writerow([*ITEM_COLUMNS, *(CHECK_PREFIX + name for name in checks), *scores])
    for r in records:
        passed, values = r.get("checks") or {}, r.get("scores") or {}
        writer.writerow([r["id"], _cell(r.get("category")), TAG_SEPARATOR.join(r.get("tags") or []), r["variant"],
                         _cell(r.get("sample")), _cell(r.get("output")),
                         *(_cell(passed.get(name)) for name in checks), *(_cell(values.get(name)) for name in scores)])
    return out.getvalue()


def evaluation_json(document: dict) -> str:
    """The document itself as the JSON download: the same shape the CLI's ``--json`` and the API write."""
    return json_text(document)
