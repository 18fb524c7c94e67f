"""The dashboard's layout: three tabs (Compare, Adapters, Playground) wired to ``handlers``.

``create_app()`` builds the Blocks without loading weights or serving; the base model
loads on the first page view, so importing this module or ``app.py`` is cheap.
What one visitor does to their own view (results, selected row, playground variant,
chat) lives in per-session state; the base model and the attached adapters are shared.
"""

from __future__ import annotations

from functools import partial

import gradio as gr

from .. import demo as demo_set
from ..config import Settings
from ..html_views import VIEW_CSS
from . import handlers as h

APP_CSS = """
.gradio-container {max-width: 1500px !important; margin: auto}
#header {font-size: 16px}
#notice, #compare-notice, #play-notice {min-height: 1.6em; font-size: 16px}
#grid {max-height: none}
"""

# Every UI event stays off the API: the one public endpoint is `compare` (gr.api below).
UI_ONLY = {"api_visibility": "private"}

# A click anywhere in a grid row sends that row's original index (data-row) to the server.
GRID_CLICK_JS = """
element.addEventListener('click', (event) => {
  const row = event.target.closest('tr[data-row]');
  if (row) trigger('click', {row: Number(row.dataset.row)});
});
"""

INTRO = (
    "# adapters_ui — what does each fine-tuned adapter change, and what does it cost?\n"
    "One base model, several PEFT adapters: the same prompts through each, outputs side by side, "
    "differences marked, and each adapter's size on disk next to a full copy of the model."
)


def create_app(settings: Settings | None = None) -> gr.Blocks:
    holder = h.SessionHolder(settings)
    settings = holder.settings
    demo_prompts = demo_set.demo_prompts() if demo_set.wants_demo(settings) else []
    with gr.Blocks(title="adapters_ui", delete_cache=(3600, 3600)) as demo:
        gr.Markdown(INTRO)
        header = gr.Markdown("Loading the base model…", elem_id="header")
        view = gr.State(h.CompareView())

        with gr.Tabs():
            # ---- Compare -----------------------------------------------------------------
            with gr.Tab("Compare", id="compare"):
                with gr.Row(equal_height=False):
                    with gr.Column(scale=3):
                        prompts = gr.Textbox(
                            label="Prompts (one per line)", lines=7, max_lines=14, elem_id="prompts",
                            value="\n".join(demo_prompts) or "What is the capital of France?\nGive me a tip for learning to cook.",
                        )
                        with gr.Row():
                            preset = gr.Dropdown(h.prompt_set_choices(), value=None, label="Preset prompt set", scale=1)
                            prompt_file = gr.UploadButton("Upload prompts (.txt / .jsonl / .csv)", file_types=[".txt", ".jsonl", ".csv", ".json"],
                                                          type="filepath", scale=1, elem_id="prompt-file")
                    with gr.Column(scale=2):
                        variants = gr.CheckboxGroup(label="Variants to run", choices=["base"], value=["base"], elem_id="variants")
                        max_tokens = gr.Slider(1, settings.max_new_tokens_cap, value=settings.max_new_tokens, step=1, label="Max new tokens", elem_id="max-tokens")
                        with gr.Accordion("Decoding", open=False):
                            decoding = gr.Radio([h.GREEDY, h.SAMPLING], value=h.GREEDY, label="Greedy (exact, repeatable) or sampling")
                            with gr.Row():
                                seed = gr.Number(0, label="Seed", precision=0, minimum=0)
                                temperature = gr.Slider(0.05, 2.0, value=0.7, step=0.05, label="Temperature")
                                top_p = gr.Slider(0.05, 1.0, value=0.9, step=0.05, label="Top-p")
                        with gr.Row():
                            run_btn = gr.Button("Compare", variant="primary", size="lg", elem_id="run", scale=3)
                            stop_btn = gr.Button("Stop", variant="stop", size="lg", elem_id="stop", scale=1)
                compare_notice = gr.Markdown(elem_id="compare-notice")
                only_differ = gr.Checkbox(label="Only prompts where variants differ", value=False, elem_id="only-differ")
                grid = gr.HTML("", css_template=VIEW_CSS, js_on_load=GRID_CLICK_JS, elem_id="grid", padding=False)
                diff = gr.HTML("", css_template=VIEW_CSS, elem_id="diff")
                with gr.Row():
                    storage_plot = gr.Plot(label="Storage", show_label=False, elem_id="storage-chart")
                    difference_plot = gr.Plot(label="Output differences", show_label=False, elem_id="difference-chart")
                with gr.Row(equal_height=False):
                    scaling_plot = gr.Plot(label="Many tasks", show_label=False, elem_id="scaling-chart", scale=2)
                    with gr.Column(scale=1):
                        gr.Markdown("### Download this comparison\nCSV and JSON for analysis; the HTML report opens offline, charts included.")
                        csv_btn = gr.DownloadButton("CSV", interactive=False, elem_id="export-csv")
                        json_btn = gr.DownloadButton("JSON", interactive=False, elem_id="export-json")
                        html_btn = gr.DownloadButton("HTML report", interactive=False, variant="primary", elem_id="export-html")

            # ---- Adapters ----------------------------------------------------------------
            with gr.Tab("Adapters", id="adapters"):
                notice = gr.Markdown(elem_id="notice")
                adapter_name = gr.Textbox(label="Name for the next adapter (optional; default: its folder or repo name)", max_lines=1, elem_id="adapter-name")
                with gr.Row(equal_height=True):
                    with gr.Column():
                        gr.Markdown("**From the adapter directory**")
                        folder = gr.Dropdown(h.folder_choices(settings), label="Adapter folder", allow_custom_value=not settings.public,
                                             info="assets/adapters and ADAPTERS_UI_ADAPTER_DIR" + ("" if settings.public else "; or type a path on the server"))
                        folder_btn = gr.Button("Attach folder", variant="primary")
                    with gr.Column():
                        gr.Markdown("**Upload a zip of an adapter folder**")
                        upload = gr.File(label="adapter.zip (holds adapter_config.json + weights)", file_types=[".zip"], type="filepath", height=150, elem_id="zip-upload")
                    with gr.Column():
                        gr.Markdown("**From the Hugging Face Hub** (when online)")
                        hub_id = gr.Textbox(label="Repo id", placeholder="owner/name", max_lines=1)
                        revision = gr.Textbox(label="Revision (optional)", placeholder="main", max_lines=1)
                        hub_btn = gr.Button("Attach from Hub")
                table = gr.Dataframe(headers=h.ADAPTER_COLUMNS, label="Attached adapters", interactive=False, wrap=True, elem_id="adapters-table",
                                     column_widths=["13%", "8%", "6%", "6%", "25%", "11%", "10%", "9%", "12%"])
                with gr.Row():
                    detach_name = gr.Dropdown(label="Detach an adapter", choices=[], scale=3)
                    detach_btn = gr.Button("Detach", variant="stop", scale=1)

            # ---- Playground ---------------------------------------------------------------
            with gr.Tab("Playground", id="playground"):
                with gr.Row():
                    play_variant = gr.Radio(["base"], value="base", label="Talk to", elem_id="play-variant", scale=3)
                    mode = gr.Radio([h.CHAT, h.COMPLETE], value=h.CHAT, label="Mode", scale=1)
                    play_tokens = gr.Slider(1, settings.max_new_tokens_cap, value=settings.max_new_tokens, step=1, label="Max new tokens", scale=1, elem_id="play-tokens")
                play_notice = gr.Markdown(elem_id="play-notice")
                with gr.Column(visible=True) as chat_box:
                    chatbot = gr.Chatbot(label="Chat", height=420, elem_id="chatbot")
                    with gr.Row():
                        message = gr.Textbox(placeholder="Type a message and press Enter", show_label=False, scale=5, elem_id="message")
                        send = gr.Button("Send", variant="primary", scale=1)
                with gr.Column(visible=False) as complete_box:
                    start_text = gr.Textbox(label="Text to continue (no chat template)", lines=4, elem_id="start-text")
                    complete_btn = gr.Button("Continue", variant="primary")
                    continuation = gr.Textbox(label="Continuation", lines=6, interactive=False, elem_id="continuation")

        # ---- wiring -------------------------------------------------------------------------
        adapter_outputs = [header, notice, table, detach_name, variants, play_variant, storage_plot, scaling_plot]
        demo.load(partial(h.page_load, holder), outputs=adapter_outputs, **UI_ONLY)
        folder_btn.click(partial(h.attach_folder, holder), [folder, adapter_name], adapter_outputs, **UI_ONLY)
        upload.upload(partial(h.attach_zip, holder), [upload, adapter_name], adapter_outputs, **UI_ONLY).then(
            lambda: None, outputs=upload, **UI_ONLY
        )
        hub_btn.click(partial(h.attach_hub, holder), [hub_id, revision, adapter_name], adapter_outputs, **UI_ONLY)
        detach_btn.click(partial(h.detach, holder), [detach_name], adapter_outputs, **UI_ONLY)

        preset.change(h.load_prompt_set, preset, [prompts, compare_notice], **UI_ONLY)
        prompt_file.upload(h.load_prompt_file, prompt_file, [prompts, compare_notice], **UI_ONLY)
        run_btn.click(
            partial(h.run_compare, holder),
            [prompts, variants, max_tokens, decoding, seed, temperature, top_p, only_differ],
            [compare_notice, grid, diff, view, difference_plot, csv_btn, json_btn, html_btn],
            show_progress_on=[compare_notice], **UI_ONLY,
        ).then(partial(h.header_markdown, holder), outputs=header, **UI_ONLY)
        stop_btn.click(partial(h.stop_compare, holder), outputs=compare_notice, **UI_ONLY)
        grid.click(h.select_row, [view, only_differ], [grid, diff, view], **UI_ONLY)
        only_differ.change(h.filter_rows, [view, only_differ], grid, **UI_ONLY)

        mode.change(lambda m: (gr.update(visible=m == h.CHAT), gr.update(visible=m == h.COMPLETE)), mode, [chat_box, complete_box], **UI_ONLY)
        play_variant.change(lambda v: gr.update(label=f"Chat with {v}"), play_variant, chatbot, **UI_ONLY)
        chat_inputs = [message, chatbot, play_variant, play_tokens]
        chat_outputs = [chatbot, message, play_notice]
        for trigger in (send.click, message.submit):
            trigger(partial(h.chat_reply, holder), chat_inputs, chat_outputs, **UI_ONLY)
        chatbot.clear(lambda: "", outputs=play_notice, **UI_ONLY)
        complete_btn.click(
            partial(h.complete_text, holder), [start_text, play_variant, play_tokens],
            [continuation, play_notice], **UI_ONLY,
        )

        def compare_api(prompts: str, variants: list[str], max_new_tokens: int = 64) -> list[dict]:
            """Prompts (one a line), variant names ("base" and attached adapters; empty = all), max new tokens -> [{prompt, outputs}]."""
            return h.compare_records(holder, prompts, variants, max_new_tokens)

        gr.api(compare_api, api_name="compare")
    return demo


def launch_kwargs() -> dict:
    return {"theme": gr.themes.Soft(text_size="lg"), "css": APP_CSS, "show_error": True}
