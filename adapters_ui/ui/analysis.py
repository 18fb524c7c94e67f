"""Event handlers of the analysis: explain a finished comparison, and show what an adapter changed in the weights.

Analysis runs on demand, after the outputs (Analyze), never while they stream. It takes the
model in turns like a comparison, so other visitors' runs interleave. Its result lives in the
visitor's ``CompareView`` (with the comparison it explains), and the downloads are written
again with the ``analysis`` object and the report's analysis sections.
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass
from typing import TYPE_CHECKING

import gradio as gr

from adapters_ui.errors import AdaptersUIError
from adapters_ui.formatting import plural
from adapters_ui.names import BASE
from adapters_ui.session import SessionHolder
from adapters_ui.ui.common import UI_ONLY, model_work, ok, problem
from adapters_ui.ui.state import CompareView
from adapters_ui.ui.zerogpu import gpu_task
from adapters_ui.views import charts
from adapters_ui.views.analysis_html import ANALYSIS_CSS, divergence_table_html, heat_html, leaderboards_html
from adapters_ui.views.document import report_data
from adapters_ui.views.html import VIEW_CSS

if TYPE_CHECKING:
    from adapters_ui.ui.adapters import AdaptersTab
    from adapters_ui.ui.compare import CompareTab

NOTHING_YET = "Nothing to analyze yet: press **Compare**, and once the outputs are in, press **Analyze outputs**."
HEAT_HINT = "<p class='ag-note'><i>Press Analyze outputs to see each adapter's tokens shaded by how far it departs from the base.</i></p>"


ON_SERVER_NOTE = ("\n\n*This dashboard drives a serving engine, which returns no full token distributions: the "
                  "token analysis runs only in process (start without `--backend-url`). The weights view in the "
                  "Adapters tab works here.*")


@dataclass
class AnalysisBox:
    """The Compare tab's analysis box: the Analyze button, its tables and the heat view."""

    analyze: gr.Button
    notice: gr.Markdown
    tables: gr.HTML
    heat_variant: gr.Radio
    heat: gr.HTML


def build_analysis_box(on_server: bool = False) -> AnalysisBox:
    """Explain a finished comparison: where each adapter departs from the base, reference scores, size vs effect.
    ``on_server``: a serving engine generates, and it returns no full distributions: say so up front."""
    with gr.Accordion("Explain the differences: token by token, against references, per MB", open=True,
                      elem_id="analysis-box"):
        gr.Markdown("Reads every adapter output back through the adapter and through the base (after the outputs, "
                    "never while they stream): how far each token's distribution moved (KL), whether the base would "
                    "have picked another token, and, when the prompts carry reference answers, how close each "
                    "variant comes (exact, contains, ROUGE-L, perplexity of the reference). The chart beside the "
                    "storage chart below then shows what each MB of adapter buys."
                    + (ON_SERVER_NOTE if on_server else ""))
        with gr.Row(equal_height=True):
            analyze = gr.Button("Analyze outputs", variant="secondary", elem_id="analyze", scale=1)
            notice = gr.Markdown(elem_id="analysis-notice")
        tables = gr.HTML("", css_template=VIEW_CSS + ANALYSIS_CSS, elem_id="analysis-tables")
        heat_variant = gr.Radio([], label="Heat view of", elem_id="heat-variant")
        heat = gr.HTML(HEAT_HINT, css_template=ANALYSIS_CSS, elem_id="heat")
    return AnalysisBox(analyze, notice, tables, heat_variant, heat)


class AnalysisHandlers:
    """The Analyze button, the heat view's variant picker and the weights view, on one shared ``SessionHolder``."""

    def __init__(self, holder: SessionHolder):
        self.holder = holder

    @staticmethod
    def cleared() -> tuple:
        """A new comparison started: the old analysis no longer explains what is on screen."""
        return "", "", gr.update(choices=[], value=None), HEAT_HINT, charts.effect_figure({}, None)

    def analyze(self, view: CompareView | None) -> tuple:
        """(notice, tables, heat variant picker, heat view, effect chart, csv, json, html, view)."""
        keep = (gr.skip(),) * 7
        if view is None or view.comparison is None:
            return (problem(NOTHING_YET), *keep, view)
        comparison = view.comparison
        session = self.holder.get()
        try:
            analysis = session.analyze(comparison)
        except AdaptersUIError as exc:
            return (problem(exc), *keep, view)
        document = view.analysis = analysis.to_dict()
        storage = session.storage().to_dict()
        data = (dataclasses.replace(view.report, analysis=document) if view.report is not None
                else report_data(session.base.info(), session.adapters(), storage, comparison, document))
        downloads = view.publish(data)
        adapters = [v for v in comparison.variants if v != BASE]
        first = adapters[0] if adapters else None
        notice = ok(f"read {plural(len(comparison.results), 'prompt')} x {plural(len(comparison.variants), 'variant')} back in "
                    f"{analysis.analyze_s:.1f} s (generating them took {comparison.generate_s:.1f} s). "
                    "Hover a shaded token for both probabilities; the downloads now include the analysis.")
        return (notice, self.tables(document), gr.update(choices=adapters, value=first), self.heat(view, first),
                charts.effect_figure(storage, document),
                *downloads, view)

    @staticmethod
    def tables(document: dict) -> str:
        return ("<h3>Where each adapter departs from the base</h3>" + divergence_table_html(document["summaries"])
                + "<h3>Reference scores</h3>" + leaderboards_html(document))

    @staticmethod
    def heat(view: CompareView | None, variant: str | None) -> str:
        """One adapter's outputs as heat lines (the analysis on screen must be of the comparison on screen)."""
        if view is None or view.analysis is None or variant in (None, BASE) or variant not in view.analysis["tokens"]:
            return HEAT_HINT
        prompts = [record["prompt"] for record in view.records]
        return heat_html(variant, prompts, view.analysis["tokens"][variant])

    # ---- Adapters tab: the weights view --------------------------------------------------------
    def weight_choices(self, current: str | None):
        """The attached adapters for the weights picker, keeping the visitor's pick while it is attached."""
        session = self.holder.loaded
        names = list(session.registry.names) if session is not None else []
        return gr.update(choices=names, value=current if current in names else (names[0] if names else None))

    def weight_view(self, name: str | None) -> tuple:
        """(heatmap, note) of what adapter ``name`` changed in the weights, per layer and module."""
        if not name:
            return charts.weight_heatmap_figure(None), ""
        session = self.holder.get()
        try:
            effects = session.weight_effects(name)
            method = session.registry.get(name).method
        except (AdaptersUIError, KeyError) as exc:  # KeyError: detached by another visitor meanwhile
            message = exc if isinstance(exc, AdaptersUIError) else f"{name!r} is no longer attached: pick another adapter."
            return charts.weight_heatmap_figure(None), problem(message)
        largest = max(effects.modules, key=lambda m: m.norm, default=None)
        where = f" Largest: **{largest.path}** ({largest.norm:.3g})." if largest else ""
        return charts.weight_heatmap_figure(effects), f"**{name}** ({method}): {effects.quantity}.{where}"


def wire_analysis(compare: CompareTab, adapters: AdaptersTab, view: gr.State, handlers: AnalysisHandlers) -> None:
    """A new comparison clears the analysis; Analyze explains the one on screen; the weights view follows its picker."""
    box, work = compare.analysis, model_work(handlers.holder.settings)
    gpu_s = handlers.holder.settings.gpu_duration_s
    shown = [box.notice, box.tables, box.heat_variant, box.heat, compare.effect_plot]
    compare.run.click(handlers.cleared, outputs=shown, **UI_ONLY)
    box.analyze.click(lambda: "**Analyzing…** reading the outputs back through each variant and the base",
                      outputs=box.notice, **UI_ONLY
                      ).then(gpu_task(handlers.analyze, gpu_s), view, [*shown, compare.csv, compare.json, compare.html, view],
                             show_progress="hidden", **work)  # the notice says it is working: no spinners to animate
    box.heat_variant.change(handlers.heat, [view, box.heat_variant], box.heat, **UI_ONLY)
    adapters.table.change(handlers.weight_choices, adapters.weights_name, adapters.weights_name, **UI_ONLY)
    adapters.weights_name.change(gpu_task(handlers.weight_view, gpu_s), adapters.weights_name,
                                 [adapters.weights_plot, adapters.weights_note], **work)
