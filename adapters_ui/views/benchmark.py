"""A benchmark's table: lm-eval's own numbers (metric ± stderr) per task and variant, and beside each our
paired verdict against the baseline on the same items (exact McNemar or Wilcoxon, Holm over the benchmark).

lm-eval compares models by their numbers and stderrs alone (an unpaired view); the verdict column pairs
the same docs, so it sees a difference the stderrs hide, and says so only when Holm still does.

    task                  metric         variant  lm-eval        difference [95% CI]   p (Holm)  verdict
    adapters_ui_arith_mc  acc            base     0.310 ± 0.027
    adapters_ui_arith_mc  acc            pirate   0.270 ± 0.026  −4.0 pt [−8.0, −0.3]  0.041     ▼ worse

Metrics lm-eval reports without a per-item value (word and byte perplexity) have no verdict; the
log-likelihood we read per item (lm-eval reports no mean of it) has a verdict and no lm-eval number.
"""

from __future__ import annotations

import html

from adapters_ui.views.evaluation import MISSING, verdict_cell, verdict_row

SHOWN = ("acc", "acc_norm", "exact_match", "bits_per_byte", "word_perplexity", "byte_perplexity")  # lm-eval's, in order
COLUMNS = ("task", "metric", "variant", "lm-eval", "verdict", "difference [95% CI]", "p (Holm)", "n")
NOTHING_YET = "No variant has finished yet: lm-eval's numbers appear a variant at a time."


def lm_eval_value(numbers: dict, metric: str) -> str | None:
    """``0.310 ± 0.027`` from lm-eval's keys (``acc,none`` and ``acc_stderr,none``), None when it has no such metric."""
    value = numbers.get(f"{metric},none")
    if not isinstance(value, (int, float)):
        return None
    stderr = numbers.get(f"{metric}_stderr,none")
    return f"{value:.3f}" + (f" ± {stderr:.3f}" if isinstance(stderr, (int, float)) else "")


def benchmark_rows(document: dict) -> list[dict]:
    """One row per task, metric and variant: lm-eval's number and, for a variant other than the baseline, its verdict."""
    bench = document.get("benchmark") or {}
    numbers = bench.get("variants") or {}
    verdicts = {(v["slice"], v["metric"], v["variant"]): v for v in document.get("verdicts") or []}
    rows = []
    for task in _tasks(document):
        for metric in _metrics(numbers, verdicts, task):
            for variant in document["variants"]:
                value = lm_eval_value((numbers.get(variant) or {}).get("results", {}).get(task, {}), metric)
                verdict = verdicts.get((f"category:{task}", metric, variant))
                if value is None and verdict is None:
                    continue
                row = verdict_row(verdict) if verdict else {}
                rows.append({"task": task, "metric": metric, "variant": variant, "lm-eval": value or MISSING,
                             "verdict": verdict["verdict"] if verdict else None,
                             "difference [95% CI]": row.get("difference [95% CI]", ""),
                             "p (Holm)": row.get("p (Holm)", ""), "n": verdict["n"] if verdict else ""})
    return rows


def benchmark_table_html(document: dict) -> str:
    """``benchmark_rows`` as a table, a rule above each task's first row; every name escaped."""
    rows = benchmark_rows(document)
    if not rows:
        return f'<p class="ag-note">{html.escape(NOTHING_YET)}</p>'
    head = "".join(f"<th>{html.escape(c)}</th>" for c in COLUMNS)
    body, previous = [], None
    for row in rows:
        first = ' class="ag-first"' if previous is not None and row["task"] != previous else ""
        previous = row["task"]
        cells = [f"<td>{html.escape(str(row[c]))}</td>" for c in COLUMNS[:3]]
        cells.append(f'<td class="num">{html.escape(row["lm-eval"])}</td>')
        cells.append(verdict_cell(row["verdict"]) if row["verdict"] else "<td></td>")
        cells += [f'<td class="num">{html.escape(str(row[c]))}</td>' for c in COLUMNS[5:]]
        body.append(f'<tr data-variant="{html.escape(row["variant"])}" data-task="{html.escape(row["task"])}"{first}>'
                    f'{"".join(cells)}</tr>')
    bench = document["benchmark"]
    caption = (f"lm-eval {bench.get('lm_eval_version') or ''}: its numbers ± stderr, and the paired verdict against "
               f"{document.get('baseline') or ''} on the same items (Holm over the benchmark)")
    return (f'<div class="ag-scroll"><table class="ag-table ag-eval ag-bench"><caption class="ag-note">'
            f'{html.escape(caption)}</caption><thead><tr>{head}</tr></thead><tbody>{"".join(body)}</tbody></table></div>')


def _tasks(document: dict) -> list[str]:
    bench = document.get("benchmark") or {}
    scored = {t for numbers in (bench.get("variants") or {}).values() for t in numbers.get("results", {})}
    named = [t for t in bench.get("tasks") or [] if t in scored]
    return named + sorted(scored - set(named))


def _metrics(numbers: dict, verdicts: dict, task: str) -> list[str]:
    """lm-eval's metrics of ``task`` in ``SHOWN`` order, then those only a verdict has (log-likelihood)."""
    reported = {key.split(",")[0] for v in numbers.values() for key in (v.get("results", {}).get(task) or {})}
    found = [m for m in SHOWN if m in reported]
    return found + sorted({metric for (slice, metric, _) in verdicts if slice == f"category:{task}"} - set(found))
