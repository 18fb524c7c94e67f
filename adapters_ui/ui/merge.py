"""The Adapters tab's merge section: the base with one adapter baked in, as a standalone model to download.

Pick an adapter: the sizes and the one-way warning; confirm: merge on a fresh copy of the base (never the
model serving the page), then the zip to download.
"""

from __future__ import annotations

import shutil
from dataclasses import dataclass
from pathlib import Path

import gradio as gr

from adapters_ui.errors import AdaptersUIError
from adapters_ui.formatting import format_bytes, format_times
from adapters_ui.session import SessionHolder
from adapters_ui.ui.common import BOX_UNITS, UI_ONLY, export_folder, merges_root, ok, problem

KEEP_MERGES = 3  # merged models (whole model copies) that stay on disk for download
MERGE_HELP = ("### Merge for deployment\nThe base with one adapter baked into its weights (PEFT's merge_and_unload), "
              "as a standalone model folder (safetensors, config, tokenizer) that serves without PEFT. Made on a fresh "
              "copy of the base, never on the model serving this page.")


@dataclass
class MergeSection:
    name: gr.Dropdown
    warning: gr.Markdown
    confirm: gr.Button
    notice: gr.Markdown
    file: gr.File


def build_merge_section() -> MergeSection:
    gr.Markdown(MERGE_HELP)
    with gr.Row(equal_height=True):
        name = gr.Dropdown([], value=None, label="Adapter to merge", elem_id="merge-adapter", scale=1)
        with gr.Column(scale=3):
            warning = gr.Markdown(visible=False, elem_id="merge-warning")
            confirm = gr.Button("Merge and download", variant="primary", visible=False, elem_id="merge-confirm")
    notice = gr.Markdown(elem_id="merge-notice")
    file = gr.File(label="Merged model (.zip)", visible=False, interactive=False, elem_id="merge-file")
    return MergeSection(name, warning, confirm, notice, file)


def merge_warning(plan) -> str:
    """The box shown before a merge: what it costs next to the adapter, and that it cannot be undone."""
    text = plan.warning()
    for size in {format_bytes(plan.merged_bytes), format_bytes(plan.adapter_bytes)}:
        text = text.replace(size, size.replace(" ", "\u00a0"))  # "939.9 kB" never breaks across lines
    return (f"⚠️ **Merging is one-way.** {text} The merge runs on a fresh copy of the base: this page's "
            "model and its adapters stay as they are (comparisons wait while it works).")


class MergeHandlers:
    """The merge picker, its preview and the merge itself, on one shared ``SessionHolder``."""

    def __init__(self, holder: SessionHolder):
        self.holder = holder
        self.settings = holder.settings

    def merge_choices(self, current: str | None):
        """The attached adapters for the merge picker, keeping the visitor's pick while it is attached."""
        session = self.holder.loaded
        names = list(session.registry.names) if session is not None else []
        return gr.update(choices=names, value=current if current in names else None)

    def merge_preview(self, name: str | None) -> tuple:
        """(warning, confirm button, notice, download) for the picked adapter: before anything is merged, the size
        of the merged model next to the adapter's and the one-way note; or, in one line, why it cannot be merged."""
        hidden = gr.update(value=None, visible=False)
        if not name:
            return gr.update(value="", visible=False), gr.update(visible=False), "", hidden
        try:
            plan = self.holder.get().merge_plan(name)
        except AdaptersUIError as exc:
            return gr.update(value=problem(exc), visible=True), gr.update(visible=False), "", hidden
        return gr.update(value=merge_warning(plan), visible=True), gr.update(visible=True, interactive=True), "", hidden

    def merge(self, name: str | None) -> tuple:
        """(notice, download): ``name`` merged into a fresh copy of the base, offered as a .zip of the model folder
        (the last few merges stay on disk, see ``merges_root``). The model serving the page is not touched."""
        hidden = gr.update(value=None, visible=False)
        if not name:
            return problem("No adapter chosen: pick the adapter to merge."), hidden
        folder: Path | None = None
        try:
            session = self.holder.get()
            plan = session.merge_plan(name)  # a refusal costs nothing: no folder made
            folder = export_folder(merges_root(), KEEP_MERGES)
            merged, archive = self._merged(session, plan, name, folder)
        except (AdaptersUIError, OSError) as exc:
            if folder is not None:
                shutil.rmtree(folder, ignore_errors=True)
            reason = exc if isinstance(exc, AdaptersUIError) else (
                f"Could not write the merged model: {exc.strerror or exc}; free some disk space and merge again.")
            return problem(reason), hidden
        except BaseException:  # a bug or an interrupt: still no half-made download left behind
            if folder is not None:
                shutil.rmtree(folder, ignore_errors=True)
            raise
        return self._merged_notice(name, plan, merged, archive), gr.update(value=str(archive), visible=True)

    @staticmethod
    def _merged(session, plan, name: str, folder: Path) -> tuple:
        """(merged model, its zip) written under ``folder``, once there is room for both."""
        from adapters_ui.adapters.merge import check_room, zip_folder

        check_room(2 * plan.merged_bytes, folder, "the merged model and its zip")
        merged = session.merge(name, folder / f"{name}-merged")
        return merged, zip_folder(merged.folder, folder / f"{name}-merged.zip")

    def _merged_notice(self, name: str, plan, merged, archive: Path) -> str:
        where = "" if self.settings.public else f" Folder on the server: `{merged.folder}`."
        return ok(
            f"merged **{name}** ({plan.method}) into {merged.base} in {merged.seconds:.1f} s, saved as {plan.dtype}: "
            f"{format_bytes(merged.weights_bytes)} of weights, {format_times(merged.ratio)}x the adapter's "
            f"{format_bytes(plan.adapter_bytes)}. Download the zip below ({format_bytes(archive.stat().st_size)}; "
            f"{BOX_UNITS}); it loads with plain transformers (`AutoModelForCausalLM.from_pretrained`).{where}"
        )


def wire_merge(section: MergeSection, table: gr.Dataframe, handlers: MergeHandlers) -> None:
    """The picker follows the attached adapters (``table``); one whole-model copy is merged at a time."""
    m = section
    table.change(handlers.merge_choices, m.name, m.name, **UI_ONLY)
    m.name.change(handlers.merge_preview, m.name, [m.warning, m.confirm, m.notice, m.file], **UI_ONLY)
    m.confirm.click(lambda: "**Merging…** loading a fresh copy of the base, merging, saving and zipping",
                    outputs=m.notice, **UI_ONLY
                    ).then(handlers.merge, m.name, [m.notice, m.file], show_progress="hidden",
                           concurrency_limit=1, concurrency_id="merge", **UI_ONLY)
