"""A first Gradio app over the headless core: attach adapter folders, compare prompts.

``create_app()`` builds the Blocks without loading weights or serving; the session
(base model) loads on first use, so importing this module or ``app.py`` is cheap.
Handlers are plain functions of the holder: testable without a server.
"""

from __future__ import annotations

import html
import threading

import gradio as gr
import pandas as pd

from .. import demo as demo_set
from ..config import Settings
from ..errors import AdaptersUIError
from ..prompts import parse_prompt_lines
from ..session import Session
from ..storage import format_bytes

ADAPTER_COLUMNS = ["name", "type", "rank", "alpha", "targets", "params", "size", "x smaller", "made for base"]


class SessionHolder:
    """Loads the session once, on first use, from any thread."""

    def __init__(self, settings: Settings | None = None):
        self.settings = settings or Settings.from_env()
        self._session: Session | None = None
        self._lock = threading.Lock()

    def get(self) -> Session:
        with self._lock:
            if self._session is None:
                session = Session.start(self.settings)
                if demo_set.wants_demo(self.settings):
                    demo_set.attach_demo_adapters(session)
                self._session = session
            return self._session


def header_markdown(holder: SessionHolder) -> str:
    session = holder.get()
    base = session.base
    return (
        f"**Base model:** {base.source.name} &nbsp;·&nbsp; **device:** {base.device} &nbsp;·&nbsp; "
        f"**dtype:** {base.dtype_name} &nbsp;·&nbsp; **adapters:** {len(session.adapters())}"
    )


def adapters_frame(holder: SessionHolder) -> pd.DataFrame:
    session = holder.get()
    storage = session.storage()
    rows = [
        [info.name, info.variant, info.rank, info.alpha, ", ".join(info.target_modules), f"{info.params:,}",
         format_bytes(info.bytes_on_disk), f"{storage.ratio(info.name):,.0f}",
         {True: "yes", False: "no", None: "unknown"}[info.base_match]]
        for info in session.adapters()
    ]
    return pd.DataFrame(rows, columns=ADAPTER_COLUMNS)


def attach(holder: SessionHolder, path: str, name: str):
    try:
        info = holder.get().attach((path or "").strip(), (name or "").strip() or None)
    except AdaptersUIError as exc:
        raise gr.Error(str(exc)) from None
    gr.Info(f"Attached {info.name} ({info.variant}, {format_bytes(info.bytes_on_disk)}).")
    return refresh(holder)


def detach(holder: SessionHolder, name: str):
    try:
        holder.get().detach(name or "")
    except AdaptersUIError as exc:
        raise gr.Error(str(exc)) from None
    return refresh(holder)


def refresh(holder: SessionHolder):
    session = holder.get()
    names = [info.name for info in session.adapters()]
    return (
        header_markdown(holder),
        adapters_frame(holder),
        gr.update(choices=names, value=None),
        gr.update(choices=session.variants, value=session.variants),
    )


def compare(holder: SessionHolder, prompts_text: str, variants: list[str], max_new_tokens: float) -> list[dict]:
    """API and UI: prompts (one a line), variant names, max new tokens -> [{prompt, outputs}]."""
    try:
        session = holder.get()
        settings = session.generation_settings(max_new_tokens=int(max_new_tokens))
        return session.compare(parse_prompt_lines(prompts_text or ""), list(variants or []) or None, settings).records()
    except AdaptersUIError as exc:
        raise gr.Error(str(exc)) from None


GRID_CSS = (
    "table.ag-grid{width:100%;table-layout:fixed;border-collapse:collapse;font-size:15px}"
    ".ag-grid th,.ag-grid td{border:1px solid #d0d4dc;padding:8px;vertical-align:top;text-align:left;"
    "white-space:pre-wrap;overflow-wrap:anywhere}"
    ".ag-grid th{background:#eef0f6}.ag-grid td.same{color:#8a8f99}"
)


def records_html(records: list[dict]) -> str:
    """One row per prompt, one equal-width column per variant; text wraps, nothing overflows.
    Outputs identical to the base are greyed, so what each adapter changes stands out."""
    if not records:
        return ""
    variants = list(records[0]["outputs"])
    head = "".join(f"<th>{html.escape(v)}</th>" for v in ["prompt", *variants])
    rows = []
    for record in records:
        base = record["outputs"].get("base")
        cells = [f"<td><b>{html.escape(record['prompt'])}</b></td>"]
        for variant in variants:
            text = record["outputs"][variant]
            same = variant != "base" and text == base
            cells.append(f'<td class="{"same" if same else ""}">{html.escape(text) or "<i>(empty)</i>"}</td>')
        rows.append(f"<tr>{''.join(cells)}</tr>")
    return f'<style>{GRID_CSS}</style><table class="ag-grid"><thead><tr>{head}</tr></thead><tbody>{"".join(rows)}</tbody></table>'




def create_app(settings: Settings | None = None) -> gr.Blocks:
    holder = SessionHolder(settings)
    with gr.Blocks(title="adapters_ui") as demo:
        gr.Markdown("# adapters_ui — compare PEFT adapters side by side")
        header = gr.Markdown("Loading the base model…")
        with gr.Row():
            path = gr.Textbox(label="Adapter folder", placeholder="path/to/adapter (holds adapter_config.json)", scale=3)
            name = gr.Textbox(label="Name (optional)", scale=1)
            attach_btn = gr.Button("Attach", variant="primary", scale=1)
        table = gr.Dataframe(headers=ADAPTER_COLUMNS, label="Attached adapters", interactive=False, wrap=True)
        with gr.Row():
            detach_name = gr.Dropdown(label="Detach", choices=[], scale=3)
            detach_btn = gr.Button("Detach", scale=1)
        starting_prompts = demo_set.demo_prompts() if demo_set.wants_demo(holder.settings) else []
        prompts = gr.Textbox(
            label="Prompts (one per line)", lines=4,
            value="\n".join(starting_prompts) or "What is the capital of France?\nGive me a tip for learning to cook.",
        )
        with gr.Row():
            variants = gr.CheckboxGroup(label="Variants", choices=["base"], value=["base"], scale=3)
            max_tokens = gr.Slider(1, holder.settings.max_new_tokens_cap, value=holder.settings.max_new_tokens, step=1, label="Max new tokens", scale=1)
        run_btn = gr.Button("Compare", variant="primary")
        results = gr.JSON(visible=False)
        grid = gr.HTML(label="Outputs")

        outputs = [header, table, detach_name, variants]
        demo.load(lambda: refresh(holder), outputs=outputs)
        attach_btn.click(lambda p, n: attach(holder, p, n), [path, name], outputs)
        detach_btn.click(lambda n: detach(holder, n), [detach_name], outputs)
        run_btn.click(lambda p, v, m: compare(holder, p, v, m), [prompts, variants, max_tokens], results, api_visibility="private").then(
            records_html, results, grid
        )

        def compare_api(prompts: str, variants: list[str], max_new_tokens: int = 64) -> list[dict]:
            """Prompts (one a line), variant names ("base" and attached adapters), max new tokens -> [{prompt, outputs}]."""
            return compare(holder, prompts, variants, max_new_tokens)

        gr.api(compare_api, api_name="compare")
    return demo


def launch_kwargs() -> dict:
    return {"theme": gr.themes.Soft(), "show_error": True}
