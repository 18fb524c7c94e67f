"""A benchmark's items before it runs: what a stored evaluation of it holds, and how many requests it asks.

A benchmark is stored as an evaluation (``runs/benchmark``), and an evaluation is created with its items,
so they are read from lm-eval's own task objects, the docs lm-eval will score in its order:

- ``id``: ``"<task>/<the doc's id, else its doc_id>"`` (as ``records.item_records`` names them);
- ``category``: the task, so the evaluation's slices are by task;
- ``prompt``: lm-eval's ``doc_to_text`` (without few-shot examples), ``reference``: the gold answer as text;
- ``doc_id``: lm-eval's index of the doc, which its logged samples carry.

``requests`` counts the requests one variant's run asks of the model (a multiple-choice item asks one
per choice): the progress bar's total.

    >>> found = benchmark_items(manager, ["adapters_ui_arith_mc"], limit=2)  # doctest: +SKIP
    >>> found.items[0]["id"], found.requests
    ('adapters_ui_arith_mc/arith-000', 8)
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from adapters_ui.bench.records import doc_key
from adapters_ui.errors import BenchmarkError, first_line


@dataclass(frozen=True)
class BenchmarkItems:
    items: list[dict]
    requests: int  # the requests one variant asks (every choice of a multiple-choice item is one)
    tasks: tuple[str, ...]  # the leaf tasks, a group's members in its place


def benchmark_items(manager, tasks: Sequence[str], limit: int | float | None = None) -> BenchmarkItems:
    """The items of ``tasks`` (groups unfolded to their tasks) lm-eval scores with ``limit``."""
    from lm_eval.evaluator_utils import get_sample_size

    items, requests, leaves = [], 0, []
    order = {name: i for i, name in enumerate(tasks)}
    found = sorted(_loaded(manager, tasks).items(), key=lambda pair: order.get(pair[0], len(order)))
    for name, task in found:
        task.build_all_requests(limit=get_sample_size(task, limit), rank=0, world_size=1)
        requests += len(task.instances)
        docs = {instance.doc_id: instance.doc for instance in task.instances}
        ids = {doc_id: doc_key(doc, doc_id) for doc_id, doc in docs.items()}
        if len(set(ids.values())) < len(ids):  # the docs' own ids repeat: lm-eval's index names them
            ids = {doc_id: str(doc_id) for doc_id in docs}
        for doc_id, doc in sorted(docs.items()):
            items.append({"id": f"{name}/{ids[doc_id]}", "category": name, "doc_id": doc_id,
                          "prompt": _prompt(task, doc), "reference": _reference(task, doc)})
        leaves.append(name)
    if not items:
        raise BenchmarkError(f"The tasks {', '.join(tasks)} have no items to score: check their test split and --limit.")
    return BenchmarkItems(items, requests, tuple(leaves))


def _loaded(manager, tasks: Sequence[str]) -> dict:
    """lm-eval's task objects by name (their datasets read); a dataset that cannot be read is one line."""
    try:
        return manager.load(list(tasks))["tasks"]
    except Exception as exc:  # noqa: BLE001 - datasets raises many kinds (offline, missing file, bad JSON): one line each
        raise BenchmarkError(f"The data of {', '.join(tasks)} could not be read ({type(exc).__name__}: {first_line(exc)[:200]}): "
                             "a task from the Hub needs its dataset downloaded or internet; a local task, its data "
                             "file next to its YAML.") from None


def _prompt(task, doc) -> str:
    """What the model reads: lm-eval's ``doc_to_text``; a rolling passage's text is its target."""
    value = task.doc_to_target(doc) if task.OUTPUT_TYPE == "loglikelihood_rolling" else task.doc_to_text(doc)
    return value if isinstance(value, str) else str(value)


def _reference(task, doc) -> str | None:
    """The gold answer as text: the right choice of a multiple-choice item, else lm-eval's target."""
    try:
        target = task.doc_to_target(doc)
        if task.OUTPUT_TYPE == "multiple_choice":
            choices = task.doc_to_choice(doc)
            return str(choices[target]) if isinstance(target, int) and 0 <= target < len(choices) else str(target)
        if task.OUTPUT_TYPE == "loglikelihood_rolling":
            return None  # the passage itself: shown as the prompt
        return None if target is None else str(target[0] if isinstance(target, list) and target else target)
    except Exception:  # noqa: BLE001 - a task's own template may not render on a doc: the item stands without it
        return None
