"""The dashboard's layout: one builder per tab (Compare, Adapters, Playground), then the wiring.

``create_app()`` builds the Blocks without loading weights or serving; the base model
loads on the first page view, so importing this module or ``app.py`` is cheap.
``launch()`` builds and serves. What one visitor does to their own view (results,
selected row, playground variant, chat) lives in per-session state; the base model and
the attached adapters are shared, and the model is taken in turns (see ``scheduler``).
"""

from __future__ import annotations

from types import SimpleNamespace

import gradio as gr

from adapters_ui.adapters import demo as demo_set
from adapters_ui.adapters.mix import METHODS as MIX_METHODS
from adapters_ui.config import Settings
from adapters_ui.runs.prompts import demo_prompts
from adapters_ui.store import DatabaseHolder
from adapters_ui.ui import handlers as h
from adapters_ui.ui.analysis import HEAT_HINT, AnalysisHandlers
from adapters_ui.ui.guard import guard_events
from adapters_ui.ui.saved import SavedHandlers, browser_secret
from adapters_ui.ui.zerogpu import gpu_task
from adapters_ui.views import charts
from adapters_ui.views.analysis_html import ANALYSIS_CSS
from adapters_ui.views.html import VIEW_CSS

APP_CSS = """
.gradio-container {max-width: 1500px !important; margin: auto}
#header {font-size: 16px}
#server-note p {font-size: 18px; padding: 6px 10px; border-radius: 8px; background: #fff4e5}
#notice, #play-notice {min-height: 1.6em; font-size: 16px}
#compare-notice {min-height: 2.2em; font-size: 19px; padding: 6px 10px; border-radius: 8px; background: #f3f6fc}
#grid {max-height: none}
#demo-notes {font-size: 15px}
#merge-warning {padding: 8px 12px; border-radius: 8px; background: #fff6e5; border-left: 4px solid #e8a33d}
#merge-notice {min-height: 1.6em; font-size: 16px}
@media (max-width: 640px) {
  .ag-diff .ag-pair {grid-template-columns: 1fr !important}
  .js-plotly-plot .gtitle {font-size: 13px !important}
  .js-plotly-plot .modebar-container {top: auto !important; bottom: 0 !important}
}
"""

# Every UI event stays off the API: the one public endpoint is `compare` (gr.api below).
UI_ONLY = {"api_visibility": "private"}
# Model work is admitted up to Settings.max_runs at once; the TurnQueue then shares the model
# batch by batch (gradio's default of one at a time per event would queue visitors run by run).
STOPS = {"concurrency_limit": None, **UI_ONLY}
UI_CONCURRENCY = 16  # quick events (lists, prompts, rows, saving) handled at once; each is short

# A click anywhere in a grid row sends that row's original index (data-row) to the server.
GRID_CLICK_JS = """
element.addEventListener('click', (event) => {
  const row = event.target.closest('tr[data-row]');
  if (row) trigger('click', {row: Number(row.dataset.row)});
});
"""
# A plot redrawn while its tab is hidden keeps plotly's default 700 px width; a window resize
# makes every (responsive) plot re-measure its box once the tab shows again.
RESIZE_PLOTS_JS = "() => { setTimeout(() => window.dispatchEvent(new Event('resize')), 50); }"
# After Compare, bring the buttons, the progress line and the grid into view.
SHOW_RESULTS_JS = "() => { document.getElementById('run-bar')?.scrollIntoView({behavior: 'smooth', block: 'start'}); }"

INTRO = (
    "# adapters_ui — what does each fine-tuned adapter change, and what does it cost?\n"
    "One base model, several PEFT adapters: the same prompts through each, outputs side by side, "
    "differences marked, and each adapter's size on disk next to a full copy of the model."
)
# When the server goes down, gradio's page says "Connection to the server was lost. Attempting reconnection..." and
# reloads itself once the server answers again. The id of the server process that served the page is kept in the tab's
# sessionStorage, which that reload keeps (a State would be forgotten by the new server), so the reloaded page can say
# what happened to its results.
READ_BOOT_JS = "(seen) => sessionStorage.getItem('adapters_ui_server')"
KEEP_BOOT_JS = "(boot) => { sessionStorage.setItem('adapters_ui_server', boot); }"
LIST_SYNC_S = 3.0  # how often a page checks whether another visitor attached or detached an adapter
MODEL_WAIT_S = 1.0  # how often a page served before the base model loaded checks whether it is ready


def build_compare_tab(settings: Settings) -> SimpleNamespace:
    shown_prompts = demo_prompts() if demo_set.wants_demo(settings) else []
    c = SimpleNamespace()
    with gr.Row(equal_height=False):
        with gr.Column(scale=3):
            c.prompts = gr.Textbox(
                label="Prompts (one per line)", lines=7, max_lines=14, elem_id="prompts",
                value="\n".join(shown_prompts) or "What is the capital of France?\nGive me a tip for learning to cook.",
            )
            with gr.Row():
                c.preset = gr.Dropdown(h.prompt_set_choices(), value=None, label="Preset prompt set", scale=1)
                c.prompt_file = gr.UploadButton("Upload prompts (.txt / .jsonl / .csv)", file_types=[".txt", ".jsonl", ".csv", ".json"],
                                                type="filepath", scale=1, elem_id="prompt-file")
        with gr.Column(scale=2):
            c.variants = gr.CheckboxGroup(label="Variants to run", choices=["base"], value=["base"], elem_id="variants",
                                          interactive=False)  # until the page load lists them (see Handlers.page_load)
            c.descriptions = gr.Markdown(elem_id="demo-notes")
            c.max_tokens = gr.Slider(1, settings.max_new_tokens_cap, value=settings.max_new_tokens, step=1, label="Max new tokens", elem_id="max-tokens")
            with gr.Accordion("Decoding", open=False):
                c.decoding = gr.Radio([h.GREEDY, h.SAMPLING], value=h.GREEDY, label="Greedy (exact, repeatable) or sampling")
                with gr.Row():
                    c.seed = gr.Number(0, label="Seed", precision=0, minimum=0)
                    c.temperature = gr.Slider(0.05, 2.0, value=0.7, step=0.05, label="Temperature")
                    c.top_p = gr.Slider(0.05, 1.0, value=0.9, step=0.05, label="Top-p")
    with gr.Row(elem_id="run-bar"):
        # disabled until the variants are listed and the base model is ready: it says which it waits for
        c.run = gr.Button("Compare (loading the page…)", variant="primary", size="lg", elem_id="run", scale=3,
                          interactive=False)
        c.stop = gr.Button("Stop", variant="stop", size="lg", elem_id="stop", scale=1)
    c.notice = gr.Markdown(elem_id="compare-notice")
    c.only_differ = gr.Checkbox(label="Only prompts where variants differ", value=False, elem_id="only-differ")
    c.grid = gr.HTML("", css_template=VIEW_CSS, js_on_load=GRID_CLICK_JS, elem_id="grid", padding=False)
    c.diff = gr.HTML("", css_template=VIEW_CSS, elem_id="diff")
    build_analysis_box(c, on_server=bool(settings.backend_url))
    with gr.Row():  # what each adapter costs, next to what it buys (filled by Analyze)
        c.storage_plot = gr.Plot(label="Storage", show_label=False, elem_id="storage-chart")
        c.effect_plot = gr.Plot(charts.effect_figure({}, None), show_label=False, elem_id="effect-chart")
    with gr.Row():
        c.difference_plot = gr.Plot(charts.difference_figure([]), label="Output differences", show_label=False, elem_id="difference-chart")
        c.scaling_plot = gr.Plot(label="Many tasks", show_label=False, elem_id="scaling-chart")
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
    return c


def build_analysis_box(c: SimpleNamespace, on_server: bool = False) -> None:
    """Explain a finished comparison: where each adapter departs from the base, reference scores, size vs effect.
    ``on_server``: a serving engine generates, and it returns no full distributions: say so up front."""
    with gr.Accordion("Explain the differences: token by token, against references, per MB", open=True,
                      elem_id="analysis-box"):
        gr.Markdown("Reads every adapter output back through the adapter and through the base (after the outputs, "
                    "never while they stream): how far each token's distribution moved (KL), whether the base would "
                    "have picked another token, and, when the prompts carry reference answers, how close each "
                    "variant comes (exact, contains, ROUGE-L, perplexity of the reference). The chart beside the "
                    "storage chart below then shows what each MB of adapter buys."
                    + ("\n\n*This dashboard drives a serving engine, which returns no full token distributions: the "
                       "token analysis runs only in process (start without `--backend-url`). The weights view in the "
                       "Adapters tab works here.*" if on_server else ""))
        with gr.Row(equal_height=True):
            c.analyze = gr.Button("Analyze outputs", variant="secondary", elem_id="analyze", scale=1)
            c.analysis_notice = gr.Markdown(elem_id="analysis-notice")
        c.analysis_tables = gr.HTML("", css_template=VIEW_CSS + ANALYSIS_CSS, elem_id="analysis-tables")
        c.heat_variant = gr.Radio([], label="Heat view of", elem_id="heat-variant")
        c.heat = gr.HTML(HEAT_HINT, css_template=ANALYSIS_CSS, elem_id="heat")


def build_saved_tab() -> SimpleNamespace:
    """Saved comparisons, read-only: nothing here runs the model."""
    s = SimpleNamespace()
    with gr.Row(equal_height=True):
        s.choice = gr.Dropdown([], label="Saved comparisons (newest first)", scale=4, elem_id="saved-list")
        s.open = gr.Button("Open", variant="primary", scale=1, elem_id="open-saved")
    s.notice = gr.Markdown(elem_id="saved-notice")
    with gr.Column(visible=False) as s.opened:  # shown once a saved comparison is open
        s.meta = gr.Markdown(elem_id="saved-meta")
        s.grid = gr.HTML("", css_template=VIEW_CSS, js_on_load=GRID_CLICK_JS, elem_id="saved-grid", padding=False)
        s.diff = gr.HTML("", css_template=VIEW_CSS, elem_id="saved-diff")
        with gr.Row():
            s.storage_plot = gr.Plot(show_label=False, elem_id="saved-storage-chart")
            s.difference_plot = gr.Plot(show_label=False, elem_id="saved-difference-chart")
        with gr.Row(equal_height=False):
            s.scaling_plot = gr.Plot(show_label=False, elem_id="saved-scaling-chart", scale=2)
            with gr.Column(scale=1):
                s.csv = gr.DownloadButton("CSV", interactive=False, elem_id="saved-csv")
                s.json = gr.DownloadButton("JSON", interactive=False, elem_id="saved-json")
                s.html = gr.DownloadButton("HTML report", interactive=False, variant="primary", elem_id="saved-html")
    with gr.Accordion("Blind review by stakeholders", open=True, visible=False, elem_id="review-form") as s.review_box:
        gr.Markdown("Reviewers see one prompt and two unnamed outputs (A and B, in random order) and pick the better one. "
                    "You get a reviewer link to send and an owner link with the results.")
        with gr.Row():
            s.review_variants = gr.CheckboxGroup([], label="Variants taking part (at least 2)", elem_id="review-variants", scale=3)
            s.pairing = gr.Radio([("Every pair", "all"), ("Each adapter against the base", "vs_base")], value="all",
                                 label="Pairs", scale=2)
            s.per_pair = gr.Number(1, label="Judgements each pair needs", precision=0, minimum=1, maximum=50, scale=1,
                                   elem_id="per-pair")
        s.title = gr.Textbox(label="Title reviewers see (optional; do not name the variants)", max_lines=1, elem_id="review-title-input")
        s.create = gr.Button("Create review", variant="primary", elem_id="create-review")
        s.links = gr.Markdown(elem_id="review-links")
    return s


def build_adapters_tab(settings: Settings) -> SimpleNamespace:
    a = SimpleNamespace()
    a.notice = gr.Markdown(elem_id="notice")
    a.name = gr.Textbox(label="Name for the next adapter (optional; default: its folder or repo name)", max_lines=1, elem_id="adapter-name")
    with gr.Row(equal_height=True):
        with gr.Column():
            gr.Markdown("**From the adapter directory**")
            # A typed path always reaches the handler, which refuses it in public mode: with custom values off, the
            # page would silently put back the last listed pick and attach that instead.
            a.folder = gr.Dropdown(h.folder_choices(settings), label="Adapter folder", allow_custom_value=True,
                                   info="assets/adapters and ADAPTERS_UI_ADAPTER_DIR" + ("" if settings.public else "; or type a path on the server"),
                                   elem_id="adapter-folder")
            a.folder_btn = gr.Button("Attach folder", variant="primary", elem_id="attach-folder")
        with gr.Column():
            gr.Markdown("**Upload a zip of an adapter folder** (or a bundle)")
            a.upload = gr.File(label="adapter.zip (holds adapter_config.json + weights), or a bundle .zip", file_types=[".zip"],
                               type="filepath", height=150, elem_id="zip-upload")
        with gr.Column():
            gr.Markdown("**From the Hugging Face Hub** (when online)")
            a.hub_id = gr.Textbox(label="Repo id", placeholder="owner/name", max_lines=1)
            a.revision = gr.Textbox(label="Revision (optional)", placeholder="main", max_lines=1)
            a.hub_btn = gr.Button("Attach from Hub")
    a.table = gr.Dataframe(headers=h.ADAPTER_COLUMNS, label="Attached adapters", interactive=False, wrap=True, elem_id="adapters-table",
                           column_widths=["13%", "8%", "6%", "6%", "25%", "11%", "10%", "9%", "12%"])
    with gr.Row():
        a.detach_name = gr.Dropdown(label="Detach an adapter", choices=[], scale=3, elem_id="detach-name")
        a.detach_btn = gr.Button("Detach", variant="stop", scale=1)
    gr.Markdown("### Bundles\nEvery attached adapter, each under its own name, in one .zip with a manifest "
                "(`bundle.json`: names, types, sizes, base model, SHA-256 of each file). Upload a bundle in "
                "*Upload a zip* above to attach all of its adapters in one step (checked whole first: nothing is "
                "attached if a file does not match, a name is taken, or it was made on another base).")
    with gr.Row(equal_height=True):
        a.bundle_btn = gr.Button("Save all as a bundle", elem_id="save-bundle", scale=1)
        a.bundle_file = gr.File(label="Bundle (.zip)", interactive=False, elem_id="bundle-file", height=80, scale=3)
    gr.Markdown("### Mix adapters\nA new LoRA adapter from attached LoRA adapters with weights (PEFT's "
                "add_weighted_adapter), saved as a folder of its own and compared like any other. `cat` adds the "
                "weighted updates exactly (rank: the sum); `svd` truncates that sum to the largest rank; `linear`, "
                "`ties` and `dare_linear` need equal ranks.")
    with gr.Row(equal_height=True):
        a.mix_parts = gr.Textbox(label="Adapters and weights", placeholder="pirate: 0.7, json_answer: 0.3", max_lines=1,
                                 elem_id="mix-parts", scale=3)
        a.mix_method = gr.Dropdown(list(MIX_METHODS), value="cat", label="Method", elem_id="mix-method", scale=1)
        a.mix_density = gr.Number(0.5, label="Density (ties, dare_linear)", minimum=0.01, maximum=1, scale=1)
        a.mix_name = gr.Textbox(label="Name of the mix", max_lines=1, elem_id="mix-name", scale=1)
        a.mix_btn = gr.Button("Mix", elem_id="mix-button", scale=1)
    gr.Markdown("### Merge for deployment\nThe base with one adapter baked into its weights (PEFT's merge_and_unload), "
                "as a standalone model folder (safetensors, config, tokenizer) that serves without PEFT. Made on a fresh "
                "copy of the base, never on the model serving this page.")
    with gr.Row(equal_height=True):
        a.merge_name = gr.Dropdown([], value=None, label="Adapter to merge", elem_id="merge-adapter", scale=1)
        with gr.Column(scale=3):
            a.merge_warning = gr.Markdown(visible=False, elem_id="merge-warning")
            a.merge_btn = gr.Button("Merge and download", variant="primary", visible=False, elem_id="merge-confirm")
    a.merge_notice = gr.Markdown(elem_id="merge-notice")
    a.merge_file = gr.File(label="Merged model (.zip)", visible=False, interactive=False, elem_id="merge-file")
    gr.Markdown("### What each adapter changed in the weights\nThe size of its update to each layer's weights "
                "(for LoRA ||ΔW|| from its small factors, never the full matrix), per layer and module.")
    with gr.Row(equal_height=True):
        a.weights_name = gr.Dropdown([], label="Adapter", elem_id="weights-adapter", scale=1)
        a.weights_note = gr.Markdown(elem_id="weights-note")
    a.weights_plot = gr.Plot(charts.weight_heatmap_figure(None), show_label=False, elem_id="weights-chart")
    return a


def build_playground_tab(settings: Settings) -> SimpleNamespace:
    p = SimpleNamespace()
    with gr.Row():
        p.variant = gr.Radio(["base"], value="base", label="Talk to", elem_id="play-variant", scale=3, interactive=False)
        p.mode = gr.Radio([h.CHAT, h.COMPLETE], value=h.CHAT, label="Mode", scale=1)
        p.tokens = gr.Slider(1, settings.max_new_tokens_cap, value=settings.max_new_tokens, step=1, label="Max new tokens", scale=1, elem_id="play-tokens")
    p.notice = gr.Markdown(elem_id="play-notice")
    with gr.Column(visible=True) as p.chat_box:
        p.chatbot = gr.Chatbot(label="Chat", height=420, elem_id="chatbot")
        with gr.Row():
            p.message = gr.Textbox(placeholder="Type a message and press Enter", show_label=False, scale=5, elem_id="message")
            p.send = gr.Button("Send", variant="primary", scale=1, interactive=False, elem_id="send")
            p.stop = gr.Button("Stop", variant="stop", scale=1, elem_id="play-stop")
    with gr.Column(visible=False) as p.complete_box:
        p.start_text = gr.Textbox(label="Text to continue (no chat template)", lines=4, elem_id="start-text")
        with gr.Row():
            p.complete_btn = gr.Button("Continue", variant="primary", scale=3, interactive=False, elem_id="continue")
            p.complete_stop = gr.Button("Stop", variant="stop", scale=1)
        p.continuation = gr.Textbox(label="Continuation", lines=6, interactive=False, elem_id="continuation")
    return p


def wire_adapters(demo, ui: h.Handlers, header, c, a, p, versions, boot, restarted) -> None:
    """Everything that attaches, detaches or lists adapters refreshes every list and chart. The page load also
    tells a page that reconnects after the server restarted so (see ``Handlers.server_boot``). The page is served
    before the base model has loaded: it lists the adapters from disk, and a timer enables Compare and the
    Playground once the model is ready (see ``Handlers.page_load``)."""
    outputs = [header, a.notice, a.table, a.detach_name, c.variants, p.variant, c.storage_plot, c.scaling_plot,
               versions, c.descriptions]
    model_wait = gr.Timer(MODEL_WAIT_S, active=False)
    ready = [c.run, p.send, p.complete_btn, p.notice, model_wait]
    demo.load(ui.page_load, outputs=[*outputs, *ready], **UI_ONLY)
    model_wait.tick(ui.model_wait, outputs=[*outputs, *ready], show_progress="hidden", **STOPS)
    demo.load(ui.server_boot, boot, [boot, restarted], js=READ_BOOT_JS, **UI_ONLY
              ).then(None, boot, js=KEEP_BOOT_JS, **UI_ONLY)
    # "multiple": a second click while the first attach runs is queued, not dropped (gradio's default "once" drops
    # it); the registry attaches one at a time, and each answer lists every adapter attached so far.
    queued = {"trigger_mode": "multiple", **UI_ONLY}
    a.folder_btn.click(ui.attach_folder, [a.folder, a.name], outputs, **queued)
    a.upload.upload(ui.attach_zip, [a.upload, a.name], outputs, **queued).then(lambda: None, outputs=a.upload, **UI_ONLY)
    a.hub_btn.click(ui.attach_hub, [a.hub_id, a.revision, a.name], outputs, **queued)
    a.detach_btn.click(ui.detach, [a.detach_name], outputs, **queued)
    a.mix_btn.click(ui.mix, [a.mix_parts, a.mix_method, a.mix_density, a.mix_name], outputs, **queued)
    a.bundle_btn.click(ui.save_bundle, outputs=[a.notice, a.bundle_file], **UI_ONLY)
    gr.Timer(LIST_SYNC_S).tick(ui.sync_lists, [versions, c.variants], [*outputs, c.notice], show_progress="hidden", **STOPS)


def wire_compare(ui: h.Handlers, header, c, view, references, model_work: dict) -> None:
    c.preset.change(ui.load_prompt_set, c.preset, [c.prompts, references, c.notice], **UI_ONLY)
    c.prompt_file.upload(ui.load_prompt_file, c.prompt_file, [c.prompts, references, c.notice], **UI_ONLY)
    c.run.click(None, js=SHOW_RESULTS_JS, **UI_ONLY)
    c.run.click(
        gpu_task(ui.run_compare, ui.settings.gpu_duration_s),
        [c.prompts, c.variants, c.max_tokens, c.decoding, c.seed, c.temperature, c.top_p, c.only_differ, references],
        [c.notice, c.grid, c.diff, view, c.difference_plot, c.csv, c.json, c.html],
        show_progress="hidden", **model_work,  # the line under the buttons says how far it is
    ).then(ui.header_markdown, outputs=header, **UI_ONLY)
    c.stop.click(ui.stop_compare, outputs=c.notice, **STOPS)
    c.grid.click(ui.select_row, [view, c.only_differ], [c.grid, c.diff, view], **UI_ONLY)
    c.only_differ.change(ui.filter_rows, [view, c.only_differ], c.grid, **UI_ONLY)


def wire_analysis(ui: AnalysisHandlers, c, a, view, model_work: dict) -> None:
    gpu_s = ui.holder.settings.gpu_duration_s
    c.run.click(ui.cleared, outputs=[c.analysis_notice, c.analysis_tables, c.heat_variant, c.heat, c.effect_plot], **UI_ONLY)
    c.analyze.click(lambda: "**Analyzing…** reading the outputs back through each variant and the base",
                    outputs=c.analysis_notice, **UI_ONLY
                    ).then(gpu_task(ui.analyze, gpu_s), view, [c.analysis_notice, c.analysis_tables, c.heat_variant, c.heat, c.effect_plot,
                                                               c.csv, c.json, c.html, view],
                            show_progress="hidden", **model_work)  # the notice says it is working: no spinners to animate
    c.heat_variant.change(ui.heat, [view, c.heat_variant], c.heat, **UI_ONLY)
    a.table.change(ui.weight_choices, a.weights_name, a.weights_name, **UI_ONLY)
    a.weights_name.change(gpu_task(ui.weight_view, gpu_s), a.weights_name, [a.weights_plot, a.weights_note], **model_work)


def wire_playground(ui: h.Handlers, p, model_work: dict) -> None:
    p.mode.change(lambda m: (gr.update(visible=m == h.CHAT), gr.update(visible=m == h.COMPLETE)), p.mode,
                  [p.chat_box, p.complete_box], **UI_ONLY)
    p.variant.change(lambda v: gr.update(label=f"Chat with {v}"), p.variant, p.chatbot, **UI_ONLY)
    for trigger in (p.send.click, p.message.submit):  # Enter during a reply sends the draft once it ends
        trigger(gpu_task(ui.chat_reply, ui.settings.gpu_duration_s), [p.message, p.chatbot, p.variant, p.tokens], [p.chatbot, p.message, p.notice],
                trigger_mode="always_last", **model_work)
    p.chatbot.clear(lambda: "", outputs=p.notice, **UI_ONLY)
    p.complete_btn.click(gpu_task(ui.complete_text, ui.settings.gpu_duration_s), [p.start_text, p.variant, p.tokens], [p.continuation, p.notice], **model_work)
    for stop in (p.stop, p.complete_stop):
        stop.click(ui.stop_playground, outputs=p.notice, **STOPS)


def wire_merge(ui: h.Handlers, a) -> None:
    """Pick an adapter: the sizes and the one-way warning; confirm: merge on a copy, then the zip to download."""
    a.table.change(ui.merge_choices, a.merge_name, a.merge_name, **UI_ONLY)
    a.merge_name.change(ui.merge_preview, a.merge_name, [a.merge_warning, a.merge_btn, a.merge_notice, a.merge_file],
                        **UI_ONLY)
    a.merge_btn.click(lambda: "**Merging…** loading a fresh copy of the base, merging, saving and zipping",
                      outputs=a.merge_notice, **UI_ONLY
                      ).then(ui.merge, a.merge_name, [a.merge_notice, a.merge_file], show_progress="hidden",
                             concurrency_limit=1, concurrency_id="merge", **UI_ONLY)  # one whole-model copy at a time


def wire_saved(demo, saved: SavedHandlers, tabs, c, s, compare_view, saved_view, owned) -> None:
    opened = [s.notice, s.meta, s.grid, s.diff, saved_view, s.storage_plot, s.scaling_plot, s.difference_plot,
              s.csv, s.json, s.html, s.review_box, s.opened]
    demo.load(saved.page_open, owned, [tabs, s.choice, *opened], **UI_ONLY
              ).then(saved.review_form, saved_view, s.review_variants, **UI_ONLY)
    c.save.click(saved.save, [compare_view, owned], [c.save_notice, owned, s.choice], trigger_mode="once", **UI_ONLY)
    s.open.click(saved.open, [s.choice, owned], opened, **UI_ONLY).then(saved.review_form, saved_view, s.review_variants, **UI_ONLY)
    s.grid.click(_select_saved_row, saved_view, [s.grid, s.diff, saved_view], **UI_ONLY)
    s.create.click(saved.create_review, [saved_view, s.review_variants, s.pairing, s.per_pair, s.title, owned], s.links,
                   trigger_mode="once", **UI_ONLY)


def _select_saved_row(view: h.CompareView, evt: gr.EventData) -> tuple:
    return h.select_row(view, False, evt)  # a saved comparison shows every row


def create_app(settings: Settings | None = None, database: DatabaseHolder | None = None,
               sessions: h.SessionHolder | None = None) -> gr.Blocks:
    ui = h.Handlers(sessions or h.SessionHolder(settings))
    settings = ui.settings
    saved = SavedHandlers(database or DatabaseHolder(settings.database), ui.holder)
    model_work = {"concurrency_limit": settings.max_runs, "concurrency_id": "model", **UI_ONLY}
    # A merged model's zip is served from where it was written: gradio would otherwise hash it and copy it into its
    # cache, a third whole-model copy on disk (export_folder keeps only the last few merges there).
    gr.set_static_paths([h.merges_root()])
    with gr.Blocks(title="adapters_ui", delete_cache=(3600, 3600)) as demo:
        gr.Markdown(INTRO)
        header = gr.Markdown("Loading the base model…", elem_id="header")
        restarted = gr.Markdown(elem_id="server-note")  # says so when the server restarted under an open page
        view, references, versions = gr.State(h.CompareView()), gr.State({}), gr.State(-1)
        saved_view = gr.State(h.CompareView())
        # saved id -> owner key, in this browser only (encrypted with a key that survives restarts)
        owned = gr.BrowserState({}, storage_key="adapters_ui_saved", secret=browser_secret(settings.cache_dir))
        with gr.Tabs(overflow_behavior="wrap") as tabs:  # every tab stays in sight on a phone (not behind "…")
            with gr.Tab("Compare", id="compare") as compare_tab:
                c = build_compare_tab(settings)
            with gr.Tab("Adapters", id="adapters"):
                a = build_adapters_tab(settings)
            with gr.Tab("Playground", id="playground"):
                p = build_playground_tab(settings)
            with gr.Tab("Saved", id="saved") as saved_tab:
                s = build_saved_tab()
        boot = gr.Textbox(visible="hidden", elem_id="server-boot")  # carries the server id to and from the tab's sessionStorage
        wire_adapters(demo, ui, header, c, a, p, versions, boot, restarted)
        wire_compare(ui, header, c, view, references, model_work)
        wire_analysis(AnalysisHandlers(ui.holder), c, a, view, model_work)
        wire_playground(ui, p, model_work)
        wire_saved(demo, saved, tabs, c, s, view, saved_view, owned)
        wire_merge(ui, a)
        saved_tab.select(None, js=RESIZE_PLOTS_JS, **UI_ONLY)
        demo.unload(ui.page_closed)
        compare_tab.select(None, js=RESIZE_PLOTS_JS, **UI_ONLY)

        def compare_api(prompts: str, variants: list[str] | str | None = None, max_new_tokens: int | str = 64,
                        request: gr.Request = None) -> list[dict]:
            """Prompts (one a line), variant names ("base" and attached adapters, a list or "a, b"; empty = all),
            max new tokens -> [{prompt, outputs}]. Streams the records so far; a cancelled job stops the run."""
            yield from ui.api_compare(prompts, variants, max_new_tokens, request)

        gr.api(gpu_task(compare_api, settings.gpu_duration_s), api_name="compare", concurrency_limit=settings.max_runs, concurrency_id="model")

        def compare_and_save(prompts: str, variants: list[str] | str | None = None, max_new_tokens: int | str = 64,
                             request: gr.Request = None) -> dict:
            """Like compare, then saves the finished comparison -> {id, permalink, owner_key, results}.
            The owner key is shown once: a public Space asks for it to create reviews."""
            return saved.api_compare_and_save(prompts, variants, max_new_tokens, request)

        gr.api(gpu_task(compare_and_save, settings.gpu_duration_s), api_name="compare_and_save", concurrency_limit=settings.max_runs, concurrency_id="model")
    # A bounded queue: at most max_queue requests wait (one more is refused at once: "the queue is full");
    # quick UI events of different visitors run side by side, model work as model_work admits it.
    demo.queue(default_concurrency_limit=UI_CONCURRENCY, max_size=settings.max_queue)
    return guard_events(demo, settings.public)  # public mode: an unexpected error is one line, its traceback logged


def launch_kwargs(settings: Settings | None = None) -> dict:
    """Gradio's serving options. Public mode hides the text of errors raised outside our handlers
    (which ``guard_events`` already turns into one line); uploads stop at ``max_upload_bytes``."""
    public = settings is not None and settings.public
    limits = {"max_file_size": settings.max_upload_bytes} if settings is not None else {}
    return {"theme": gr.themes.Soft(text_size="lg"), "css": APP_CSS, "show_error": not public, **limits}


def launch(settings: Settings | None = None, **overrides) -> None:
    """Build the app and serve it (blocks until the server stops)."""
    settings = settings or Settings.from_env()
    create_app(settings).launch(**{**launch_kwargs(settings), **overrides})
