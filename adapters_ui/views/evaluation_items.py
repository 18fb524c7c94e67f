"""An evaluation item by item: rows for the item browser, one item's detail, and the regressed items.

A variant *regressed* on an item when it fails a check the baseline passes (with several samples:
when its pass rate on some check is below the baseline's). When the document carries ``versions``
(``asdict`` of ``analysis.versions.compare_versions`` results, one or a list, each optionally naming
its ``variant``), their ``regressed`` items on ``checks`` are the regressions instead: that is how
a baseline that is another evaluation, whose outputs this document does not hold, still shows them.

    >>> document = {"variants": ["base", "pirate"], "baseline": "base", "items": [
    ...     {"id": "q1", "variant": "base", "sample": 0, "output": "4", "checks": {"has 4": True}, "scores": {"checks": 1.0}},
    ...     {"id": "q1", "variant": "pirate", "sample": 0, "output": "Arr", "checks": {"has 4": False}, "scores": {"checks": 0.0}}]}
    >>> regressions(document)
    {'q1': {'pirate': ['has 4']}}
    >>> item_rows(document, only="regressions")
    [{'id': 'q1', 'category': '', 'tags': '', 'base': '✓', 'pirate': '✗', 'regressed': 'pirate'}]

Every prompt, reference and output is visitor or model text: all of it goes through ``html.escape``
(the word diffs through ``views.html``, which escapes too).
"""

from __future__ import annotations

import html

from adapters_ui.analysis.text_diff import similarity
from adapters_ui.errors import EvaluationError
from adapters_ui.formatting import plural
from adapters_ui.views.evaluation import number
from adapters_ui.views.evaluation_exports import baseline_variant, item_outputs, prompt_text, set_items
from adapters_ui.views.html import EMPTY, _block, diff_html, diff_panel_html

FILTERS = (None, "failures", "regressions")
FIXED_COLUMNS = ("id", "category", "tags", "regressed")
NO_CHECKS, NOT_RUN = "—", ""
REPORT_ITEMS_MAX = 100  # the report opens this many regressed items; the CSV has them all


def variant_column(name: str) -> str:
    """A variant's column in ``item_rows``: its name, unless that is one of ``FIXED_COLUMNS``."""
    return f"{name} (variant)" if name in FIXED_COLUMNS else name


def item_columns(document: dict) -> list[str]:
    """The keys of ``item_rows``, in order: headers for a data frame."""
    return ["id", "category", "tags", *(variant_column(v) for v in document.get("variants") or []), "regressed"]


def _pass_rates(records: list[dict]) -> dict[str, float]:
    """{check name: share of the samples that passed it}, over the samples that ran it."""
    runs: dict[str, list[bool]] = {}
    for record in records:
        for name, passed in (record.get("checks") or {}).items():
            runs.setdefault(name, []).append(bool(passed))
    return {name: sum(results) / len(results) for name, results in runs.items()}


def _version_regressions(versions) -> dict[str, dict[str, list[str]]]:
    """Regressed items of the ``versions`` comparisons on checks (no check names: they compare the score)."""
    found: dict[str, dict[str, list[str]]] = {}
    for comparison in versions if isinstance(versions, list) else [versions]:
        if comparison.get("metric", "checks") != "checks":
            continue
        for change in comparison.get("items") or []:
            if change.get("change") == "regressed":
                variant = comparison.get("variant") or comparison.get("variant_new") or "candidate"
                found.setdefault(str(change.get("item_id", change.get("id"))), {})[variant] = []
    return found


def _version_outputs(document: dict) -> dict[str, dict]:
    """item id -> its version-comparison row (``old_output``, ``new_output``), when the document has one."""
    versions = document.get("versions") or []
    rows = [row for comparison in (versions if isinstance(versions, list) else [versions])
            for row in comparison.get("items") or [] if "old_output" in row]
    return {str(row.get("id", row.get("item_id"))): row for row in rows}


def regressions(document: dict) -> dict[str, dict[str, list[str]]]:
    """{item id: {variant: the checks it fails that the baseline passes}}, items in first-seen order."""
    if document.get("versions"):
        return _version_regressions(document["versions"])
    baseline = baseline_variant(document)
    if baseline is None:
        return {}
    found: dict[str, dict[str, list[str]]] = {}
    for item_id, outputs in item_outputs(document).items():
        base = _pass_rates(outputs.get(baseline) or [])
        for variant, records in outputs.items():
            if variant == baseline:
                continue
            worse = [name for name, rate in _pass_rates(records).items() if name in base and rate < base[name]]
            if worse:
                found.setdefault(item_id, {})[variant] = worse
    return found


def _checks_cell(records: list[dict]) -> str:
    """✓ every sample passes all its checks, ✗ none does, ``2/3 ✓`` some; — no checks; blank not run yet."""
    if not records:
        return NOT_RUN
    scores = [(r.get("scores") or {}).get("checks") for r in records]
    scored = [s for s in scores if s is not None]
    if not scored:  # a benchmark's items: lm-eval's own pass/fail (acc, exact_match) stands in the checks
        scored = [float(all(r["checks"].values())) for r in records if r.get("checks")]
    if not scored:
        return NO_CHECKS
    passed = sum(s == 1 for s in scored)
    return "✓" if passed == len(scored) else "✗" if passed == 0 else f"{passed}/{len(scored)} ✓"


def _failed(outputs: dict[str, list[dict]]) -> bool:
    return any(passed is False for records in outputs.values() for r in records for passed in (r.get("checks") or {}).values())


def item_rows(document: dict, *, only: str | None = None, category: str | None = None, tag: str | None = None) -> list[dict]:
    """One row per item, in set order: id, category, tags, each variant's checks (``_checks_cell``) and the
    variants that regressed on it. ``only="failures"``: items where some variant fails a check;
    ``only="regressions"``: items where some variant regressed; ``category``/``tag`` keep that slice."""
    if only not in FILTERS:
        raise EvaluationError(f"unknown item filter {only!r}: use failures, regressions or None for all items")
    outputs, regressed = item_outputs(document), regressions(document)
    rows = []
    for item in set_items(document):
        item_id, tags = item["id"], list(item.get("tags") or [])
        mine = outputs.get(item_id, {})
        if (category is not None and item.get("category") != category) or (tag is not None and tag not in tags):
            continue
        if (only == "failures" and not _failed(mine)) or (only == "regressions" and item_id not in regressed):
            continue
        row = {"id": item_id, "category": item.get("category") or "", "tags": ", ".join(tags)}
        row.update({variant_column(v): _checks_cell(mine.get(v) or []) for v in document.get("variants") or []})
        row["regressed"] = ", ".join(regressed.get(item_id, {}))
        rows.append(row)
    return rows


def _find_item(document: dict, item_id: str) -> dict:
    for item in set_items(document):
        if item["id"] == str(item_id):
            return item
    raise EvaluationError(f"no item {item_id!r} in this evaluation: pick an id from the item list")


def _request_html(item: dict) -> str:
    """The prompt, or each message turn with its role, then the reference; all escaped."""
    if item.get("messages"):
        turns = "".join(f'<div class="ag-turn"><b>{html.escape(t["role"])}</b>: {html.escape(t["content"]) or EMPTY}</div>'
                        for t in item["messages"])
        request = _block("messages", turns)
    else:
        request = _block("prompt", html.escape(item.get("prompt") or "") or '<span class="pending">not in this document</span>')
    reference = item.get("reference")
    body = EMPTY if reference == "" else html.escape(reference) if reference is not None else '<span class="pending">no reference</span>'
    return request + _block("reference", body)


def checks_html(checks: dict[str, bool], label: str | None = None) -> str:
    """✓ or ✗ before each check name, failures in red, after ``label`` (a variant's name) when given; one line."""
    items = [f"<li><b>{html.escape(label)}</b></li>"] if label is not None else []
    items += [f'<li class="{"pass" if ok else "fail"}">{"✓" if ok else "✗"} {html.escape(name)}</li>' for name, ok in checks.items()]
    if not checks:
        items.append('<li class="ag-note">no checks</li>')
    return f'<ul class="ag-checks">{"".join(items)}</ul>'


def _scores_line(scores: dict) -> str:
    """The output's own scores as they are ("output_tokens 23 · latency_s 0.81"); checks are listed above it."""
    shown = [f"{html.escape(name)} {number(value)}" for name, value in scores.items() if value is not None and name != "checks"]
    return f'<div class="ag-scores">{" · ".join(shown)}</div>' if shown else ""


def _output_html(record: dict, base: dict | None, baseline: str | None) -> str:
    """One output: its label, checks, scores and text, the words it changes from the baseline's marked."""
    text = record.get("output")
    label = html.escape(record["variant"]) + (f" · sample {record.get('sample', 0)}" if record.get("sample") else "")
    if record["variant"] == baseline:
        label += " (baseline)"
    base_text = None if base is None else base.get("output")
    if text is None:
        body = '<span class="pending">not run yet</span>'
    elif base_text is None or record["variant"] == baseline:
        body = html.escape(text) or EMPTY
    else:
        label += f" — {100 * similarity(base_text, text):.0f}% similar to {html.escape(baseline)}"
        body = diff_html(base_text, text) or EMPTY
    return (f'<div class="ag-block" data-variant="{html.escape(record["variant"])}"><div class="ag-label">{label}</div>'
            f'{checks_html(record.get("checks") or {})}{_scores_line(record.get("scores") or {})}'
            f'<div class="ag-text">{body}</div></div>')


def item_detail_html(document: dict, item_id: str) -> str:
    """One item: prompt (or messages), reference, then every variant's output(s) with its checks, scores
    and its word diff from the baseline's output of the same sample (words added marked, dropped struck)."""
    item = _find_item(document, item_id)
    outputs = item_outputs(document).get(item["id"], {})
    baseline = baseline_variant(document)
    base_records = (outputs.get(baseline) or []) if baseline else []
    meta = " · ".join(part for part in (
        f"category: {item['category']}" if item.get("category") else "",
        f"tags: {', '.join(item['tags'])}" if item.get("tags") else "",
    ) if part)
    parts = [f'<div class="ag-diff ag-eval-item" data-item="{html.escape(item["id"])}"><h3>{html.escape(item["id"])}</h3>']
    if meta:
        parts.append(f'<p class="ag-note">{html.escape(meta)}</p>')
    parts.append(_request_html(item))
    if baseline is None:
        parts.append('<p class="ag-note">The baseline is another evaluation: outputs are shown as they are, without a diff.</p>')
    regressed = regressions(document).get(item["id"], {})
    for variant in sorted(document.get("variants") or [], key=lambda v: v != baseline):  # the baseline first
        if variant in regressed:
            failed = ", ".join(regressed[variant])
            parts.append(f'<p class="ag-note">▼ {html.escape(variant)} regressed'
                         + (f": fails {html.escape(failed)}, which {html.escape(baseline)} passes" if failed and baseline else "")
                         + "</p>")
        parts += [_output_html(record, _same_sample(base_records, record), baseline) for record in outputs.get(variant) or []]
        if not outputs.get(variant):
            parts.append(_block(html.escape(variant), '<span class="pending">not run yet</span>'))
    parts.append("</div>")
    return "".join(parts)


def _same_sample(base_records: list[dict], record: dict) -> dict | None:
    """The baseline's output of the record's sample, else its first one (None when it has none)."""
    return next((b for b in base_records if b.get("sample") == record.get("sample")), base_records[0] if base_records else None)


def regressed_items_html(document: dict, limit: int = REPORT_ITEMS_MAX) -> str:
    """The regressed items, each open: which variant fails which check, then its first output beside the
    baseline's (``views.html.diff_panel_html``: side by side, with the word diff). At most ``limit`` items."""
    found = regressions(document)
    if not found:
        return '<p class="ag-note">No regressed item: no variant fails a check that the baseline passes.</p>'
    outputs, baseline = item_outputs(document), baseline_variant(document)
    items = {item["id"]: item for item in set_items(document)}
    against = html.escape(str(document.get("baseline")))
    how = (f"as the version comparison with {against} found" if document.get("versions")
           else f"where a variant fails a check that {against} passes")
    parts = [f"<p>{plural(len(found), 'item')} {how} (first sample of each).</p>"]
    old_outputs = _version_outputs(document)
    for item_id, variants in list(found.items())[:limit]:
        if old_outputs:  # the baseline is another evaluation: its outputs come with the version comparison
            label = str(document.get("baseline"))
            record = {"prompt": prompt_text(items.get(item_id, {})),
                      "outputs": {label: old_outputs.get(item_id, {}).get("old_output"),
                                  **{v: old_outputs.get(item_id, {}).get("new_output") for v in variants}}}
            parts.append(f'<details open class="ag-regressed" data-item="{html.escape(item_id)}">'
                         f"<summary>{html.escape(item_id)} — {html.escape(', '.join(variants))} regressed</summary>"
                         f"{diff_panel_html(record, base=label, pending_text='no output')}</details>")
            continue
        firsts = {v: (outputs.get(item_id, {}).get(v) or [{}])[0] for v in ([baseline] if baseline else []) + list(variants)}
        summary = "; ".join(f"{v} fails {', '.join(checks)}" if checks else f"{v} regressed" for v, checks in variants.items())
        checks = "".join(checks_html(r.get("checks") or {}, label=v) for v, r in firsts.items())
        record = {"prompt": prompt_text(items.get(item_id, {})), "outputs": {v: r.get("output") for v, r in firsts.items()}}
        parts.append(f'<details open class="ag-regressed" data-item="{html.escape(item_id)}">'
                     f"<summary>{html.escape(item_id)} — {html.escape(summary)}</summary>{checks}"
                     f"{diff_panel_html(record, base=baseline or str(document.get('baseline')), pending_text='not in this document')}"
                     "</details>")
    if len(found) > limit:
        parts.append(f'<p class="ag-note">{len(found) - limit} more regressed items: see the CSV export.</p>')
    return "".join(parts)
