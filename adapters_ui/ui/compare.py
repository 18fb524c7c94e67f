"""The Compare tab: prompts and variants in, outputs side by side streaming in, downloads and Save below."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import gradio as gr

from adapters_ui.adapters import demo as demo_set
from adapters_ui.analysis.text_diff import difference_summary
from adapters_ui.config import Settings
from adapters_ui.errors import AdaptersUIError, PromptError
from adapters_ui.formatting import plural
from adapters_ui.runs.prompts import PromptItem, demo_prompts, parse_prompt_lines, read_prompt_items
from adapters_ui.runs.run import CompareRun, Comparison
from adapters_ui.session import SessionHolder
from adapters_ui.ui.analysis import AnalysisBox, build_analysis_box
from adapters_ui.ui.common import COMPARE, GRID_CLICK_JS, STOPS, UI_ONLY, model_work, ok, problem, redraws, stop_runs, visitor
from adapters_ui.ui.page import Page, PageHandlers
from adapters_ui.ui.state import CompareView, select_row
from adapters_ui.ui.zerogpu import gpu_task
from adapters_ui.views import charts
from adapters_ui.views.document import report_data
from adapters_ui.views.html import VIEW_CSS

GREEDY, SAMPLING = "greedy", "sampling"
# After Compare, bring the buttons, the progress line and the grid into view.
SHOW_RESULTS_JS = "() => { document.getElementById('run-bar')?.scrollIntoView({behavior: 'smooth', block: 'start'}); }"
DEFAULT_PROMPTS = "What is the capital of France?\nGive me a tip for learning to cook."


@dataclass
class CompareTab:
    """The Compare tab's components (each set by ``build_compare_tab``)."""

    prompts: gr.Textbox = None
    preset: gr.Dropdown = None
    prompt_file: gr.UploadButton = None
    variants: gr.CheckboxGroup = None
    descriptions: gr.Markdown = None
    max_tokens: gr.Slider = None
    decoding: gr.Radio = None
    seed: gr.Number = None
    temperature: gr.Slider = None
    top_p: gr.Slider = None
    run: gr.Button = None
    stop: gr.Button = None
    notice: gr.Markdown = None
    only_differ: gr.Checkbox = None
    grid: gr.HTML = None
    diff: gr.HTML = None
    analysis: AnalysisBox = None
    storage_plot: gr.Plot = None
    effect_plot: gr.Plot = None
    difference_plot: gr.Plot = None
    scaling_plot: gr.Plot = None
    csv: gr.DownloadButton = None
    json: gr.DownloadButton = None
    html: gr.DownloadButton = None
    save: gr.Button = None
    save_notice: gr.Markdown = None


def build_compare_tab(settings: Settings) -> CompareTab:
    c = CompareTab()
    with gr.Row(equal_height=False):
        with gr.Column(scale=3):
            _build_prompts(c, settings)
        with gr.Column(scale=2):
            _build_settings(c, settings)
    with gr.Row(elem_id="run-bar"):
        # disabled until the variants are listed and the base model is ready: it says which it waits for
        c.run = gr.Button("Compare (loading the page…)", variant="primary", size="lg", elem_id="run", scale=3,
                          interactive=False)
        c.stop = gr.Button("Stop", variant="stop", size="lg", elem_id="stop", scale=1)
    c.notice = gr.Markdown(elem_id="compare-notice")
    c.only_differ = gr.Checkbox(label="Only prompts where variants differ", value=False, elem_id="only-differ")
    c.grid = gr.HTML("", css_template=VIEW_CSS, js_on_load=GRID_CLICK_JS, elem_id="grid", padding=False)
    c.diff = gr.HTML("", css_template=VIEW_CSS, elem_id="diff")
    c.analysis = build_analysis_box(on_server=bool(settings.backend_url))
    _build_charts(c)
    _build_downloads(c)
    return c


def _build_prompts(c: CompareTab, settings: Settings) -> None:
    shown_prompts = demo_prompts() if demo_set.wants_demo(settings) else []
    c.prompts = gr.Textbox(label="Prompts (one per line)", lines=7, max_lines=14, elem_id="prompts",
                           value="\n".join(shown_prompts) or DEFAULT_PROMPTS)
    with gr.Row():
        c.preset = gr.Dropdown(list(demo_set.prompt_sets()), value=None, label="Preset prompt set", scale=1)
        c.prompt_file = gr.UploadButton("Upload prompts (.txt / .jsonl / .csv)", file_types=[".txt", ".jsonl", ".csv", ".json"],
                                        type="filepath", scale=1, elem_id="prompt-file")


def _build_settings(c: CompareTab, settings: Settings) -> None:
    c.variants = gr.CheckboxGroup(label="Variants to run", choices=["base"], value=["base"], elem_id="variants",
                                  interactive=False)  # until the page load lists them (see PageHandlers.page_load)
    c.descriptions = gr.Markdown(elem_id="demo-notes")
    c.max_tokens = gr.Slider(1, settings.max_new_tokens_cap, value=settings.max_new_tokens, step=1, label="Max new tokens", elem_id="max-tokens")
    with gr.Accordion("Decoding", open=False):
        c.decoding = gr.Radio([GREEDY, SAMPLING], value=GREEDY, label="Greedy (exact, repeatable) or sampling")
        with gr.Row():
            c.seed = gr.Number(0, label="Seed", precision=0, minimum=0)
            c.temperature = gr.Slider(0.05, 2.0, value=0.7, step=0.05, label="Temperature")
            c.top_p = gr.Slider(0.05, 1.0, value=0.9, step=0.05, label="Top-p")


def _build_charts(c: CompareTab) -> None:
    with gr.Row():  # what each adapter costs, next to what it buys (filled by Analyze)
        c.storage_plot = gr.Plot(label="Storage", show_label=False, elem_id="storage-chart")
        c.effect_plot = gr.Plot(charts.effect_figure({}, None), show_label=False, elem_id="effect-chart")
    with gr.Row():
        c.difference_plot = gr.Plot(charts.difference_figure([]), label="Output differences", show_label=False, elem_id="difference-chart")
        c.scaling_plot = gr.Plot(label="Many tasks", show_label=False, elem_id="scaling-chart")


def _build_downloads(c: CompareTab) -> None:
    with gr.Row(equal_height=True):
        with gr.Column():
            gr.Markdown("### Download this comparison\nCSV and JSON for analysis; the HTML report opens offline, charts included. "
                        "A stopped run can be downloaded too: it holds what was written.")
            with gr.Row():
                c.csv = gr.DownloadButton("CSV", interactive=False, elem_id="export-csv")
                c.json = gr.DownloadButton("JSON", interactive=False, elem_id="export-json")
                c.html = gr.DownloadButton("HTML report", interactive=False, variant="primary", elem_id="export-html")
        with gr.Column():
            gr.Markdown("### Keep it\nSave a finished comparison for a permalink that reopens it read-only, "
                        "and for blind reviews by your stakeholders.")
            c.save = gr.Button("Save comparison", elem_id="save-comparison")
            c.save_notice = gr.Markdown(elem_id="save-notice")


def ended_notice(comparison: Comparison, differences) -> str:
    """What the page says when a run has ended: finished, stopped, or failed (with why)."""
    done, total = comparison.counts()
    shape = f"{plural(len(comparison.results), 'prompt')} × {plural(len(comparison.variants), 'variant')}"
    if comparison.status == "failed":
        return problem(f"{comparison.error} ({done} of {total} outputs were finished and are kept.)")
    if comparison.status == "stopped":
        return (f"**Stopped:** {done} of {total} outputs finished ({shape}); cut-off outputs are marked, "
                "the rest were not run. The downloads hold what was written.")
    changed = ", ".join(f"{d.variant}: {d.changed}/{d.prompts} changed" for d in differences)
    return ok(f"{shape} in {comparison.generate_s:.1f} s" + (f" · {changed}" if changed else "")
              + " · click a row to see the differences")


def prompts_loaded(path: Path, label: str) -> tuple:
    """(prompts text, {prompt: PromptItem} of those with a reference or category, notice)."""
    items = read_prompt_items(path)
    annotations = {item.text: item for item in items if item.reference or item.category}
    referenced = sum(item.reference is not None for item in items)
    groups = len({item.category for item in items if item.category})
    notes = []
    if referenced:
        notes.append(f"{referenced} with a reference answer")
    if groups:
        notes.append(f"in {plural(groups, 'category', 'categories')}")
    notes = f" ({', '.join(notes)})" if notes else ""
    return ("\n".join(item.text for item in items), annotations,
            ok(f"Loaded {plural(len(items), 'prompt')}{notes} from {label}."))


class CompareHandlers:
    """The Compare tab's events, bound to one shared ``SessionHolder``."""

    def __init__(self, holder: SessionHolder):
        self.holder = holder
        self.settings = holder.settings

    def _start_compare(self, prompts_text, variants, max_tokens, decoding, seed, temperature, top_p,
                       annotations: dict | None, owner: str) -> CompareRun:
        session = self.holder.get()
        settings = session.generation_settings(
            max_new_tokens=max_tokens, do_sample=decoding == SAMPLING, seed=seed or 0, temperature=temperature, top_p=top_p)
        prompts = parse_prompt_lines(prompts_text or "")
        if not prompts:
            raise PromptError("No prompts given: type at least one prompt, one per line, or load a set.")
        if not variants:
            raise PromptError("No variants chosen: tick the base and/or at least one adapter.")
        variants = session.check_variants(variants)
        ordered = [v for v in session.variants if v in variants]  # base first, as in the checkboxes
        # the loaded file's reference and category of each prompt still in the box (an edited one has none)
        items = [(annotations or {}).get(p) or PromptItem(p) for p in prompts]
        return session.start_compare(prompts, ordered, settings, owner=owner, references=[i.reference for i in items],
                                     categories=[i.category for i in items], kind=COMPARE)

    def run_compare(self, prompts_text, variants, max_tokens, decoding, seed, temperature, top_p, only_differ,
                    annotations=None, request: gr.Request = None):
        """Generator: (notice, grid, diff, view, difference chart, csv, json, html) while outputs stream in."""
        try:
            run = self._start_compare(prompts_text, variants, max_tokens, decoding, seed, temperature, top_p,
                                      annotations, visitor(request))
        except AdaptersUIError as exc:
            yield (problem(exc), *[gr.skip()] * 7)
            return
        view = CompareView.waiting_for(run)
        try:
            yield ("**Starting…**", view.grid(), "", view, *[gr.skip()] * 4)  # old message gone, grid at once
            for event, status in redraws(run):
                if event is not None:
                    view.apply(event)
                    continue
                yield (status or gr.skip(), view.grid(), gr.skip(), view, *[gr.skip()] * 4)
        finally:
            run.stop()  # the page went away mid-run (generator closed): no work for nobody; no-op once ended
        yield self._ended(run.final(), view, only_differ)

    def _ended(self, comparison: Comparison, view: CompareView, only_differ: bool) -> tuple:
        session = self.holder.get()
        differences = difference_summary(view.records)
        adapters = session.adapters()
        data = report_data(session.base.info(), adapters, session.storage().to_dict(), comparison)
        downloads = view.publish(data)
        if comparison.complete:
            view.report, view.report_adapters = data, adapters
        view.comparison = comparison
        return (ended_notice(comparison, differences), view.grid(only_differ), view.diff(), view,
                charts.difference_figure(differences), *downloads)

    def stop_compare(self, request: gr.Request = None) -> str:
        return stop_runs(self.holder, COMPARE, request)

    def select_row(self, view: CompareView, only_differ: bool, evt: gr.EventData) -> tuple:
        return select_row(view, only_differ, evt)

    def filter_rows(self, view: CompareView, only_differ: bool) -> str:
        return view.grid(only_differ) if view else ""

    def load_prompt_set(self, name: str | None) -> tuple:
        """(prompts text, {prompt: PromptItem} with references and categories, notice) for a preset set from assets/prompts."""
        sets = demo_set.prompt_sets()
        if not name:
            return gr.skip(), gr.skip(), ""
        if name not in sets:
            return gr.skip(), gr.skip(), problem(f"Unknown prompt set {name!r}: pick one of {', '.join(sets)}.")
        return prompts_loaded(sets[name], f"the **{name}** set")

    def load_prompt_file(self, upload: str | None) -> tuple:
        """(prompts text, {prompt: PromptItem} with references and categories, notice) from an uploaded
        .txt / .jsonl / .csv / .json file."""
        if not upload:
            return gr.skip(), gr.skip(), ""
        try:
            return prompts_loaded(Path(upload), Path(upload).name)
        except AdaptersUIError as exc:
            return gr.skip(), gr.skip(), problem(exc)


def wire_compare(compare: CompareTab, page: Page, handlers: CompareHandlers, page_handlers: PageHandlers) -> None:
    c = compare
    loaded = [c.prompts, page.references, c.notice]
    c.preset.change(handlers.load_prompt_set, c.preset, loaded, **UI_ONLY)
    c.prompt_file.upload(handlers.load_prompt_file, c.prompt_file, loaded, **UI_ONLY)
    c.run.click(None, js=SHOW_RESULTS_JS, **UI_ONLY)
    c.run.click(
        gpu_task(handlers.run_compare, handlers.settings.gpu_duration_s),
        [c.prompts, c.variants, c.max_tokens, c.decoding, c.seed, c.temperature, c.top_p, c.only_differ, page.references],
        [c.notice, c.grid, c.diff, page.view, c.difference_plot, c.csv, c.json, c.html],
        show_progress="hidden", **model_work(handlers.settings),  # the line under the buttons says how far it is
    ).then(page_handlers.header_markdown, outputs=page.header, **UI_ONLY)
    c.stop.click(handlers.stop_compare, outputs=c.notice, **STOPS)
    c.grid.click(handlers.select_row, [page.view, c.only_differ], [c.grid, c.diff, page.view], **UI_ONLY)
    c.only_differ.change(handlers.filter_rows, [page.view, c.only_differ], c.grid, **UI_ONLY)
