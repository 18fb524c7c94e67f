"""Run lm-eval tasks on the base and each adapter of the loaded model: ``simple_evaluate`` once per variant.

The model is never reloaded: one ``VariantLM`` (lm-eval's ``HFLM`` on the backend's model) scores every
variant, its ``variant`` switched between runs. ``log_samples=True`` keeps lm-eval's per-item samples,
which ``records`` turns into paired verdicts.

    >>> run = run_benchmark(session.backend, session.turns, ["adapters_ui_arith_mc"], ["base", "pirate"],
    ...                     limit=20)  # doctest: +SKIP
    >>> run.results["pirate"]["adapters_ui_arith_mc"]["acc,none"]  # doctest: +SKIP

Task folders: the shipped tasks (``tasks.SHIPPED``) and ``include_path`` (the user's YAMLs, as lm-eval's
``--include_path``), both copied with their relative ``data_files`` made absolute. lm-eval's own task
index (about 14,000 tasks, 8 s to read) is only read when a task is asked for that neither folder has.
"""

from __future__ import annotations

import math
import tempfile
import threading
import time
from collections.abc import Callable, Iterator, Mapping, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

from adapters_ui.bench.dependency import require_lm_eval
from adapters_ui.bench.records import benchmark_verdicts, item_records
from adapters_ui.bench.tasks import SHIPPED, resolved_folder, task_names
from adapters_ui.errors import BenchmarkError
from adapters_ui.names import BASE

OnVariant = Callable[[str, int, int], None]  # (variant, its index from 0, how many) when a variant starts


@dataclass(frozen=True)
class BenchmarkRun:
    """lm-eval's numbers per variant and task, its per-item samples, and how long each variant took."""

    tasks: tuple[str, ...]
    variants: tuple[str, ...]
    results: Mapping[str, Mapping[str, dict]]  # variant -> task -> lm-eval's keys ("acc,none", "acc_stderr,none", ...)
    samples: Mapping[str, Mapping[str, list[dict]]]  # variant -> task -> lm-eval's logged samples (JSON-safe)
    output_types: Mapping[str, str]  # task -> "multiple_choice" | "generate_until" | "loglikelihood_rolling" | ...
    seconds: Mapping[str, float]  # variant -> wall time of its simple_evaluate
    lm_eval_version: str
    n_shot: Mapping[str, int] | None = None  # task -> few-shot examples per item, as lm-eval reports them

    def records(self) -> list[dict]:
        """Per-item evaluation records (``records.item_records``)."""
        return item_records(self.samples, self.output_types)

    def verdicts(self, baseline: str = BASE) -> list[dict]:
        """Each other variant against ``baseline``, per task and metric, one Holm family."""
        return benchmark_verdicts(self.records(), baseline=baseline, variants=[v for v in self.variants if v != baseline])

    def to_json(self, baseline: str = BASE) -> dict:
        """``results[variant][task]`` with lm-eval's keys, the paired verdicts, and the run's facts."""
        verdicts = self.verdicts(baseline) if baseline in self.variants and len(self.variants) > 1 else []
        return {"lm_eval_version": self.lm_eval_version, "tasks": list(self.tasks), "variants": list(self.variants),
                "baseline": baseline, "n_shot": dict(self.n_shot or {}), "results": _plain(self.results), "seconds": dict(self.seconds), "verdicts": verdicts}


def run_benchmark(backend, turns, tasks: Sequence[str], variants: Sequence[str], *, include_path: Path | None = None,
                  limit: int | float | None = None, num_fewshot: int | None = None, batch_size: int = 8,
                  cancel: threading.Event | None = None, on_variant: OnVariant | None = None) -> BenchmarkRun:
    """lm-eval's ``simple_evaluate`` on ``tasks`` for each of ``variants`` on the backend's loaded model."""
    tasks, variants = checked_request(backend, tasks, variants)
    with task_manager(tasks, include_path) as manager:
        lm = variant_lm(backend, turns, cancel=cancel, batch_size=batch_size)
        results, samples, output_types, seconds, n_shot = {}, {}, {}, {}, {}
        for index, variant in enumerate(variants):
            if on_variant is not None:
                on_variant(variant, index, len(variants))
            scored = evaluate_variant(lm, variant, tasks, manager, limit=limit, num_fewshot=num_fewshot)
            results[variant], samples[variant], seconds[variant] = scored.results, scored.samples, scored.seconds
            output_types.update(scored.output_types)
            n_shot.update(scored.n_shot)
    return BenchmarkRun(tuple(tasks), tuple(variants), results, samples, output_types, seconds, lm_eval_version(), n_shot)


@dataclass(frozen=True)
class VariantScores:
    """One variant's ``simple_evaluate``: lm-eval's numbers and samples per task, and its wall time."""

    results: dict  # task -> lm-eval's keys
    samples: dict  # task -> logged samples (JSON-safe)
    output_types: dict  # task -> output type
    n_shot: dict  # task -> few-shot examples per item
    seconds: float


def checked_request(backend, tasks: Sequence[str], variants: Sequence[str]) -> tuple[list[str], list[str]]:
    """The tasks and variants without repeats, refused in one line when lm-eval, a route or a variant is missing."""
    require_lm_eval()
    in_process = getattr(backend, "in_process", False)  # else a server: bench/server_lm, each variant a served model name
    if not hasattr(backend, "as_variant" if in_process else "served_model"):
        raise BenchmarkError("Benchmarks run on the in-process backend or on a vLLM server (--backend-url): this backend is neither.")
    tasks, variants = list(dict.fromkeys(tasks)), list(dict.fromkeys(variants))
    if not tasks or not variants:
        raise BenchmarkError("Give at least one task and one variant: e.g. --tasks adapters_ui_arith_mc --variants base.")
    for variant in variants:
        backend.check_as_variant(variant) if in_process else backend.served_model(variant)
    return tasks, variants


def variant_lm(backend, turns, *, cancel: threading.Event | None = None, batch_size: int = 8):
    """The lm-eval model that scores every variant of ``backend`` (set its ``variant`` before each run): lm-eval's
    ``HFLM`` on the model in process (``variant_lm``), else its ``local-completions`` on the server (``server_lm``)."""
    if getattr(backend, "in_process", False):
        from adapters_ui.bench.variant_lm import VariantLM

        return VariantLM(backend, turns, cancel=cancel, batch_size=batch_size)
    from adapters_ui.bench.server_lm import ServerLM

    return ServerLM(backend, cancel=cancel, batch_size=batch_size)


@contextmanager
def task_manager(tasks: Sequence[str], include_path: Path | None = None) -> Iterator:
    """lm-eval's ``TaskManager`` over the shipped tasks and ``include_path`` (copies whose relative
    ``data_files`` are made absolute, removed on exit); one line names a task none of them has."""
    require_lm_eval()
    from lm_eval.tasks import TaskManager

    with tempfile.TemporaryDirectory(prefix="adapters_ui-bench-") as scratch:
        folders = [resolved_folder(SHIPPED, Path(scratch) / "shipped")]
        if include_path is not None:
            if not Path(include_path).is_dir():
                raise BenchmarkError(f"--include-path {include_path} is not a folder: give the folder of your task YAMLs.")
            folders.append(resolved_folder(Path(include_path), Path(scratch) / "included"))
        local = {name for folder in folders for name in task_names(folder)}
        manager = TaskManager(include_path=[str(f) for f in folders], include_defaults=not set(tasks) <= local)
        unknown = [t for t in tasks if t not in manager.all_tasks]
        if unknown:
            raise BenchmarkError(f"Unknown task {unknown[0]!r}: use a shipped task ({', '.join(sorted(task_names(SHIPPED)))}), "
                                 "one of --include-path's YAMLs, or an installed lm-eval task name.")
        yield manager


def evaluate_variant(lm, variant: str, tasks: Sequence[str], manager, *, limit: int | float | None = None,
                     num_fewshot: int | None = None) -> VariantScores:
    """``simple_evaluate`` with ``log_samples`` on ``lm`` switched to ``variant``."""
    lm_eval = require_lm_eval()
    lm.variant = variant
    started = time.perf_counter()
    out = lm_eval.simple_evaluate(model=lm, tasks=list(tasks), task_manager=manager, limit=limit, num_fewshot=num_fewshot,
                                  log_samples=True)
    seconds = time.perf_counter() - started
    scored = list(out["samples"])  # the tasks themselves: a group's members, not the group
    return VariantScores(results={t: _plain(dict(numbers)) for t, numbers in out["results"].items()},
                         samples={t: _plain(out["samples"][t]) for t in scored},
                         output_types={t: out["configs"][t]["output_type"] for t in scored},
                         n_shot={t: _plain(out.get("n-shot", {}).get(t)) for t in scored}, seconds=seconds)


def lm_eval_version() -> str:
    from importlib.metadata import version

    return version("lm_eval")


def _plain(value):
    """JSON-safe: numpy scalars to Python, tuples to lists, NaN and infinities to None."""
    if isinstance(value, Mapping):
        return {str(k): _plain(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [_plain(v) for v in value]
    if hasattr(value, "item") and callable(value.item) and getattr(value, "ndim", 1) == 0:
        value = value.item()
    if isinstance(value, float) and not math.isfinite(value):
        return None
    return value if value is None or isinstance(value, (str, bool, int, float)) else str(value)
