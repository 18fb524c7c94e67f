"""The benchmark part of the Evaluate tab: lm-eval tasks on the base and the ticked variants, as a stored job.

A benchmark is an evaluation (``runs/benchmark``), so once started it opens in the tab's own view: the
progress bar (lm-eval's requests), Cancel, the permalink, and the verdicts, where the "all" slice shows
lm-eval's numbers beside our paired verdicts (``views/benchmark``) and each task is a slice of its own.
"""

from __future__ import annotations

import importlib.util
from dataclasses import dataclass

import gradio as gr

from adapters_ui.bench.dependency import INSTALL
from adapters_ui.bench.tasks import SHIPPED_TASKS
from adapters_ui.errors import BenchmarkError

DEFAULT_LIMIT = 20
ABOUT = ("Standard benchmarks through [lm-evaluation-harness](https://github.com/EleutherAI/lm-evaluation-harness) on the "
         "loaded base: every ticked variant is scored on the same weights, never reloaded. The shipped tasks are "
         "arithmetic (multiple choice), unit conversions (generation, exact match) and general text (perplexity: did "
         "an adapter damage what the base knew?).")


@dataclass
class EvaluateBench:
    """The benchmark's inputs (set by ``build_evaluate_bench``)."""

    tasks: gr.CheckboxGroup = None
    more: gr.Textbox = None
    limit: gr.Number = None
    fewshot: gr.Textbox = None
    start: gr.Button = None

    def inputs(self) -> list:
        return [self.tasks, self.more, self.limit, self.fewshot]


def build_evaluate_bench(public: bool = False) -> EvaluateBench:
    """``public``: a public Space runs its shipped tasks only (an installed task's dataset is fetched from the Hub)."""
    b = EvaluateBench()
    with gr.Accordion("Benchmark with lm-evaluation-harness", open=False, elem_id="bench-box"):
        gr.Markdown(ABOUT if lm_eval_installed() else f"{ABOUT}\n\n**lm-eval is not installed here:** run `{INSTALL}`.")
        b.tasks = gr.CheckboxGroup(list(SHIPPED_TASKS), value=list(SHIPPED_TASKS), label="Shipped tasks",
                                   elem_id="bench-tasks")
        b.more = gr.Textbox(label="…and installed lm-eval tasks (comma-separated names)", max_lines=1,
                            placeholder="e.g. arc_easy,hellaswag (they need their datasets)", elem_id="bench-more",
                            visible=not public)
        with gr.Row():
            b.limit = gr.Number(DEFAULT_LIMIT, label="Items per task (0: all)", precision=0, minimum=0,
                                elem_id="bench-limit")
            b.fewshot = gr.Textbox("", label="Few-shot examples (empty: the task's)", max_lines=1,
                                   elem_id="bench-fewshot")  # a number box shows 0 for empty, and 0-shot is a choice
        b.start = gr.Button("Run benchmark", variant="primary", elem_id="bench-start")
    return b


def lm_eval_installed() -> bool:
    return importlib.util.find_spec("lm_eval") is not None


def benchmark_request(tasks, more, limit, fewshot, public: bool = False) -> tuple[list[str], int | None, int | None]:
    """(task names, items per task or None for all, few-shot or None) from the form; one line when it is not usable."""
    names = allowed_tasks([*(tasks or []), *(t.strip() for t in (more or "").split(",") if t.strip())], public)
    if limit is not None and limit < 0:
        raise BenchmarkError(f"Items per task {limit} is negative: give 0 for all, or how many.")
    shots = str(fewshot if fewshot is not None else "").strip()
    if shots and not (shots.isdigit() and shots.isascii()):
        raise BenchmarkError(f"Few-shot examples {shots[:20]!r} is not a whole number of 0 or more: leave it empty "
                             "for the task's own, or give how many.")
    return list(dict.fromkeys(names)), int(limit) if limit else None, int(shots) if shots else None


def allowed_tasks(names: list[str], public: bool) -> list[str]:
    """The task names to run; one line when there are none, or when a public Space is asked for one it does not ship
    (lm-eval would fetch any dataset from the Hub a visitor names)."""
    if not names:
        raise BenchmarkError("No task chosen: tick a shipped task or name an installed lm-eval task.")
    other = [name for name in names if name not in SHIPPED_TASKS]
    if public and other:
        raise BenchmarkError(f"This Space runs only its shipped tasks ({', '.join(SHIPPED_TASKS)}), not {other[0][:60]!r}: "
                             "run adapters-ui on your own machine for other lm-eval tasks.")
    return names
