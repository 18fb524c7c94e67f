"""The Adapters tab: attach (folder, zip or bundle, Hub), detach, bundle, mix; the merge section and the
weights view sit in this tab too (see ``merge`` and ``analysis``)."""

from __future__ import annotations

import time
from dataclasses import dataclass
from pathlib import Path

import gradio as gr

from adapters_ui.adapters import bundle, sources
from adapters_ui.adapters.mix import METHODS as MIX_METHODS
from adapters_ui.config import Settings
from adapters_ui.errors import AdaptersUIError
from adapters_ui.formatting import format_bytes, format_ratio, format_size
from adapters_ui.ui.common import BOX_UNITS, UI_ONLY, export_folder, ok, problem
from adapters_ui.ui.merge import MergeSection, build_merge_section
from adapters_ui.ui.page import Layout, PageHandlers
from adapters_ui.views import charts
from adapters_ui.views.html import ADAPTER_COLUMNS

BUNDLES_HELP = ("### Bundles\nEvery attached adapter, each under its own name, in one .zip with a manifest "
                "(`bundle.json`: names, types, sizes, base model, SHA-256 of each file). Upload a bundle in "
                "*Upload a zip* above to attach all of its adapters in one step (checked whole first: nothing is "
                "attached if a file does not match, a name is taken, or it was made on another base).")
MIX_HELP = ("### Mix adapters\nA new LoRA adapter from attached LoRA adapters with weights (PEFT's "
            "add_weighted_adapter), saved as a folder of its own and compared like any other. `cat` adds the "
            "weighted updates exactly (rank: the sum); `svd` truncates that sum to the largest rank; `linear`, "
            "`ties` and `dare_linear` need equal ranks.")
WEIGHTS_HELP = ("### What each adapter changed in the weights\nThe size of its update to each layer's weights "
                "(for LoRA ||ΔW|| from its small factors, never the full matrix), per layer and module.")


@dataclass
class AdaptersTab:
    """The Adapters tab's components (each set by ``build_adapters_tab``)."""

    notice: gr.Markdown = None
    name: gr.Textbox = None
    folder: gr.Dropdown = None
    folder_btn: gr.Button = None
    upload: gr.File = None
    hub_id: gr.Textbox = None
    revision: gr.Textbox = None
    hub_btn: gr.Button = None
    table: gr.Dataframe = None
    detach_name: gr.Dropdown = None
    detach_btn: gr.Button = None
    bundle_btn: gr.Button = None
    bundle_file: gr.File = None
    mix_parts: gr.Textbox = None
    mix_method: gr.Dropdown = None
    mix_density: gr.Number = None
    mix_name: gr.Textbox = None
    mix_btn: gr.Button = None
    merge: MergeSection = None
    weights_name: gr.Dropdown = None
    weights_note: gr.Markdown = None
    weights_plot: gr.Plot = None


def build_adapters_tab(settings: Settings) -> AdaptersTab:
    a = AdaptersTab()
    a.notice = gr.Markdown(elem_id="notice")
    a.name = gr.Textbox(label="Name for the next adapter (optional; default: its folder or repo name)", max_lines=1, elem_id="adapter-name")
    with gr.Row(equal_height=True):
        _build_sources(a, settings)
    a.table = gr.Dataframe(headers=ADAPTER_COLUMNS, label="Attached adapters", interactive=False, wrap=True, elem_id="adapters-table",
                           column_widths=["13%", "8%", "6%", "6%", "25%", "11%", "10%", "9%", "12%"])
    with gr.Row():
        a.detach_name = gr.Dropdown(label="Detach an adapter", choices=[], scale=3, elem_id="detach-name")
        a.detach_btn = gr.Button("Detach", variant="stop", scale=1)
    gr.Markdown(BUNDLES_HELP)
    with gr.Row(equal_height=True):
        a.bundle_btn = gr.Button("Save all as a bundle", elem_id="save-bundle", scale=1)
        a.bundle_file = gr.File(label="Bundle (.zip)", interactive=False, elem_id="bundle-file", height=80, scale=3)
    _build_mix(a)
    a.merge = build_merge_section()
    gr.Markdown(WEIGHTS_HELP)
    with gr.Row(equal_height=True):
        a.weights_name = gr.Dropdown([], label="Adapter", elem_id="weights-adapter", scale=1)
        a.weights_note = gr.Markdown(elem_id="weights-note")
    a.weights_plot = gr.Plot(charts.weight_heatmap_figure(None), show_label=False, elem_id="weights-chart")
    return a


def _build_sources(a: AdaptersTab, settings: Settings) -> None:
    """The three ways in: a folder of the adapter directory, an uploaded zip, a Hub repo."""
    with gr.Column():
        gr.Markdown("**From the adapter directory**")
        # A typed path always reaches the handler, which refuses it in public mode: with custom values off, the
        # page would silently put back the last listed pick and attach that instead.
        a.folder = gr.Dropdown(sources.adapter_folder_choices(settings), label="Adapter folder", allow_custom_value=True,
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


def _build_mix(a: AdaptersTab) -> None:
    gr.Markdown(MIX_HELP)
    with gr.Row(equal_height=True):
        a.mix_parts = gr.Textbox(label="Adapters and weights", placeholder="pirate: 0.7, json_answer: 0.3", max_lines=1,
                                 elem_id="mix-parts", scale=3)
        a.mix_method = gr.Dropdown(list(MIX_METHODS), value="cat", label="Method", elem_id="mix-method", scale=1)
        a.mix_density = gr.Number(0.5, label="Density (ties, dare_linear)", minimum=0.01, maximum=1, scale=1)
        a.mix_name = gr.Textbox(label="Name of the mix", max_lines=1, elem_id="mix-name", scale=1)
        a.mix_btn = gr.Button("Mix", elem_id="mix-button", scale=1)


def attach_or_adopt(session, folder: str, name: str | None):
    """A typed folder, or the name of an adapter the server serves and that is not attached (after a Detach)."""
    served = {a.name for a in session.server_adapters()} if not Path(folder).expanduser().exists() else set()
    if folder in served and name in (None, folder):
        return session.adopt(folder)
    return session.attach(folder, name)


def _given(text: str | None) -> str | None:
    """A typed name, or None when the box is empty."""
    return (text or "").strip() or None


class AdaptersHandlers:
    """Attach, detach, bundle and mix; every answer lists the adapters again (``PageHandlers.refresh``)."""

    def __init__(self, page: PageHandlers):
        self.page = page
        self.holder = page.holder
        self.settings = page.settings

    def _attached(self, attach) -> tuple:
        try:
            info = attach(self.holder.get())
        except AdaptersUIError as exc:
            return self.page.refresh(problem(exc))
        session = self.holder.get()
        ratio = session.storage().ratio(info.name)
        evicted = session.registry.evicted_for(info.name)  # public mode, at the cap
        room = f"Detached '{evicted.name}' (least recently used upload) to make room. " if evicted else ""
        size = format_size(info.bytes_on_disk) + ("" if ratio is None else f", {format_ratio(ratio)} than the model")
        return self.page.refresh(ok(f"{room}Attached **{info.name}** ({info.method}, {size})."))

    def attach_folder(self, folder: str | None, name: str | None) -> tuple:
        """Attach a folder picked from the adapter directory, or typed as a path on the server."""
        if not (folder or "").strip():
            return self.page.refresh(problem("No adapter folder chosen: pick one from the list or type its path."))
        if self.settings.public and folder.strip() not in {path for _, path in sources.adapter_folder_choices(self.settings)}:
            return self.page.refresh(problem("In public mode only the listed adapter folders can be attached: pick one from the list, or upload a zip."))
        return self._attached(lambda s: attach_or_adopt(s, folder.strip(), _given(name)))

    def attach_zip(self, upload: str | None, name: str | None) -> tuple:
        """An adapter's zip, or a bundle's (it holds bundle.json): then every adapter in it, under its own name."""
        if not upload:
            return self.page.refresh(problem("No zip uploaded: drop a .zip of the adapter folder first."))
        if bundle.is_bundle_zip(upload):
            return self.attach_bundle(upload)
        return self._attached(lambda s: sources.attach_zip(s, upload, _given(name)))

    def attach_bundle(self, upload: str) -> tuple:
        """All of a bundle's adapters in one step (visitor uploads unpack under the uploads folder), or none."""
        try:
            infos = self.holder.get().attach_bundle(upload)
        except AdaptersUIError as exc:
            return self.page.refresh(problem(exc))
        names = ", ".join(f"**{info.name}** ({info.method})" for info in infos)
        count = f"{len(infos)} adapter{'s' if len(infos) != 1 else ''}"
        return self.page.refresh(ok(f"Attached {count} from the bundle {Path(upload).name}: {names}."))

    def save_bundle(self) -> tuple:
        """(notice, file): every attached adapter in one .zip with its manifest, among the downloads."""
        target = export_folder() / f"adapters-bundle-{time.strftime('%Y%m%d-%H%M%S')}.zip"
        try:
            manifest = self.holder.get().save_bundle(target)
        except AdaptersUIError as exc:
            return problem(exc), gr.update(value=None)
        count = f"{len(manifest.adapters)} adapter{'s' if len(manifest.adapters) != 1 else ''}"
        return (ok(f"Saved {count} ({', '.join(manifest.names)}; {format_bytes(target.stat().st_size)}) as a bundle: "
                   f"download it below ({BOX_UNITS}); uploading it as a zip here attaches them all in one step."),
                gr.update(value=str(target)))

    def attach_hub(self, repo_id: str | None, revision: str | None, name: str | None) -> tuple:
        return self._attached(lambda s: sources.attach_hub(s, (repo_id or "").strip(), _given(revision), _given(name)))

    def mix(self, parts: str | None, method: str | None, density: float | None, name: str | None) -> tuple:
        """A weighted mix of attached LoRA adapters, attached under ``name``."""
        from adapters_ui.adapters.mix import WITH_DENSITY, parse_parts

        if not (name or "").strip():
            return self.page.refresh(problem("No name for the mix: type one (letters, digits, '_' or '-')."))
        try:
            weights = parse_parts(parts or "")
        except AdaptersUIError as exc:
            return self.page.refresh(problem(exc))
        method = method or "cat"
        return self._attached(lambda s: s.mix(name.strip(), weights, method, density if method in WITH_DENSITY else None))

    def detach(self, name: str | None) -> tuple:
        session = self.holder.get()
        if not name:
            return self.page.refresh(problem("No adapter chosen: pick the adapter to detach."))
        try:
            info = next((info for info in session.adapters() if info.name == name), None)
            session.detach(name)
        except AdaptersUIError as exc:
            return self.page.refresh(problem(exc))
        if info is not None and info.on_server:  # the server's own: it stays there, attachable again by name
            return self.page.refresh(ok(f"Detached **{name}**; the server still serves it: type `{name}` as the adapter "
                                        "folder to attach it again."))
        if info is not None and info.path:
            sources.remove_upload(info.path, session.settings)
        return self.page.refresh(ok(f"Detached **{name}**."))


def wire_adapters(layout: Layout, handlers: AdaptersHandlers) -> None:
    """Everything that attaches, detaches or lists adapters refreshes every list and chart."""
    a, outputs = layout.adapters, layout.lists()
    # "multiple": a second click while the first attach runs is queued, not dropped (gradio's default "once" drops
    # it); the registry attaches one at a time, and each answer lists every adapter attached so far.
    queued = {"trigger_mode": "multiple", **UI_ONLY}
    a.folder_btn.click(handlers.attach_folder, [a.folder, a.name], outputs, **queued)
    a.upload.upload(handlers.attach_zip, [a.upload, a.name], outputs, **queued).then(lambda: None, outputs=a.upload, **UI_ONLY)
    a.hub_btn.click(handlers.attach_hub, [a.hub_id, a.revision, a.name], outputs, **queued)
    a.detach_btn.click(handlers.detach, [a.detach_name], outputs, **queued)
    a.mix_btn.click(handlers.mix, [a.mix_parts, a.mix_method, a.mix_density, a.mix_name], outputs, **queued)
    a.bundle_btn.click(handlers.save_bundle, outputs=[a.notice, a.bundle_file], **UI_ONLY)
