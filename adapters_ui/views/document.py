"""One comparison as a plain document: the record exports, the store and the API share.

``report_data`` turns a finished comparison and what it ran on into a ``ReportData``; ``to_json``
and ``to_csv`` write it. No chart and no HTML here, so the store can read and write documents
without plotly (``views/report.py`` draws the HTML report from the same data).
"""

from __future__ import annotations

import csv
import io
import json
from dataclasses import asdict, dataclass
from datetime import datetime, timezone
from typing import TYPE_CHECKING, Any, Mapping, Protocol, Sequence

from adapters_ui.analysis.text_diff import difference_summary
from adapters_ui.formatting import format_size, format_times
from adapters_ui.names import short_model_name
from adapters_ui.records import BaseInfo, size_ratio

if TYPE_CHECKING:  # only for annotations: building a report never needs a model
    from adapters_ui.records import AdapterInfo


class ComparisonResult(Protocol):
    """What an export reads from a finished comparison (``session.Comparison`` has it)."""

    @property
    def variants(self) -> Sequence[str]: ...
    @property
    def routes(self) -> Mapping[str, str]: ...  # variant -> engine path
    @property
    def settings(self) -> Any: ...  # the GenerationSettings dataclass
    @property
    def generate_s(self) -> float: ...
    @property
    def waited_s(self) -> float: ...  # waiting for other visitors' batches
    @property
    def status(self) -> str: ...  # finished | stopped | failed
    @property
    def error(self) -> str | None: ...
    def records(self) -> list[dict]: ...  # [{"prompt": str, "outputs": {variant: text | None}, "cut_off"?: [...]}]


@dataclass(frozen=True)
class ReportData:
    """Everything an export shows, as plain data (no model, no session). The JSON document has
    these keys in this order, with ``differences`` after ``results``."""

    base_model: str
    device: str
    dtype: str
    created: str  # ISO time
    settings: dict  # generation settings
    routes: dict[str, str]  # variant -> engine path
    variants: list[str]
    results: list[dict]  # [{"prompt": str, "outputs": {variant: text}}]
    adapters: list[dict]  # rows for html_views.adapter_table_html
    storage: dict  # StorageReport.to_dict()
    timing: dict[str, float]  # {"load_s": ..., "generate_s": ..., "waited_s": ...}
    status: str = "finished"  # stopped: outputs so far (cut-off ones listed per result); failed: see error
    error: str | None = None
    analysis: dict | None = None  # Analysis.to_dict() when the comparison was analyzed; the JSON's last key


def adapter_row(info: AdapterInfo, times_smaller: float | None) -> dict:
    """One adapters-table row, formatted for people (the UI's table has the same columns); a server adapter whose
    files this machine cannot read shows "on the server" for its size (``times_smaller`` None)."""
    return {
        "name": info.name,
        "type": info.method,
        "rank": rank_cell(info),
        "alpha": info.alpha,
        "targets": ", ".join(info.target_modules),
        "params": "" if info.params is None else f"{info.params:,}",
        "size": format_size(info.bytes_on_disk),
        "x smaller": "" if times_smaller is None else format_times(times_smaller),
        "made for base": made_for_base(info),
    }


def rank_cell(info: AdapterInfo) -> int | str | None:
    """The rank, or for prompt learning (which has none) its number of virtual tokens: '8 virtual tokens'."""
    if info.virtual_tokens is not None:
        return f"{info.virtual_tokens} virtual tokens"
    return info.rank


def made_for_base(info: AdapterInfo) -> str:
    """'yes', 'unknown', or 'no: made for <short name>' (one line: never a long server path)."""
    if info.base_match is None or not info.base_model:
        return "unknown"
    return "yes" if info.base_match else f"no: made for {short_model_name(info.base_model)}"


def report_data(base: BaseInfo, adapters: Sequence[AdapterInfo], storage: dict, comparison: ComparisonResult,
                analysis: dict | None = None) -> ReportData:
    """One comparison with the base and adapters it ran on; ``storage`` is ``StorageReport.to_dict()``,
    ``analysis`` its ``Analysis.to_dict()`` when it was analyzed."""
    full = storage["full_model_bytes"]
    return ReportData(
        base_model=base.name,
        device=base.device,
        dtype=base.dtype,
        created=datetime.now(timezone.utc).isoformat(timespec="seconds"),  # noqa: UP017 - Python 3.10 has no datetime.UTC
        settings=asdict(comparison.settings),
        routes=dict(comparison.routes),
        variants=list(comparison.variants),
        results=comparison.records(),
        adapters=[adapter_row(info, None if info.bytes_on_disk is None else size_ratio(full, info.bytes_on_disk))
                  for info in adapters],
        storage=storage,
        timing={"load_s": round(base.load_s, 3), "generate_s": round(comparison.generate_s, 3),
                "waited_s": round(comparison.waited_s, 3)},
        status=comparison.status,
        error=comparison.error,
        analysis=analysis,
    )


def to_csv(data: ReportData) -> str:
    """One row per prompt: ``prompt`` then one column per variant (missing output -> empty).

    Rows end in CRLF (RFC 4180): csv quotes a field holding any character of the line ending, so an
    output with a lone carriage return reads back exactly (with "\\n" endings it was written bare)."""
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\r\n")
    writer.writerow(["prompt", *data.variants])
    for record in data.results:
        outputs = record["outputs"]
        writer.writerow([record["prompt"], *("" if outputs.get(v) is None else outputs[v] for v in data.variants)])
    return out.getvalue()


def to_document(data: ReportData) -> dict:
    """The JSON document: every field of ``data``, plus the per-adapter difference summary after ``results``;
    ``analysis`` only when the comparison was analyzed."""
    document = {}
    for key, value in asdict(data).items():
        if key == "analysis" and value is None:
            continue
        document[key] = value
        if key == "results":
            document["differences"] = [asdict(d) for d in difference_summary(data.results)]
    return document


def json_text(document: dict) -> str:
    """A document as indented UTF-8 JSON (readable text, not \\u escapes), ending in a newline: every JSON export."""
    return json.dumps(document, indent=2, ensure_ascii=False) + "\n"


def to_json(data: ReportData) -> str:
    """``to_document`` as ``json_text``."""
    return json_text(to_document(data))
