"""The Playground tab: chat with one variant, or let it continue a text, the reply streaming in."""

from __future__ import annotations

from dataclasses import dataclass

import gradio as gr

from adapters_ui.config import Settings
from adapters_ui.errors import AdaptersUIError
from adapters_ui.runs.run import Partial
from adapters_ui.session import SessionHolder
from adapters_ui.ui.common import PLAYGROUND, STOPS, UI_ONLY, model_work, ok, problem, redraws, stop_runs, visitor
from adapters_ui.ui.zerogpu import gpu_task

CHAT, COMPLETE = "chat", "complete"


@dataclass
class PlaygroundTab:
    """The Playground tab's components (each set by ``build_playground_tab``)."""

    variant: gr.Radio = None
    mode: gr.Radio = None
    tokens: gr.Slider = None
    notice: gr.Markdown = None
    chat_box: gr.Column = None
    chatbot: gr.Chatbot = None
    message: gr.Textbox = None
    send: gr.Button = None
    stop: gr.Button = None
    complete_box: gr.Column = None
    start_text: gr.Textbox = None
    complete_btn: gr.Button = None
    complete_stop: gr.Button = None
    continuation: gr.Textbox = None


def build_playground_tab(settings: Settings) -> PlaygroundTab:
    p = PlaygroundTab()
    with gr.Row():
        p.variant = gr.Radio(["base"], value="base", label="Talk to", elem_id="play-variant", scale=3, interactive=False)
        p.mode = gr.Radio([CHAT, COMPLETE], value=CHAT, label="Mode", scale=1)
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


def as_text(content) -> str:
    """Chatbot message content as plain text (gradio may hand back a list of parts)."""
    if isinstance(content, str):
        return content
    if isinstance(content, list):
        return " ".join(as_text(part) for part in content)
    if isinstance(content, dict):
        return str(content.get("text", ""))
    return str(content)


class PlaygroundHandlers:
    """Chat and completion with one variant, on one shared ``SessionHolder``."""

    def __init__(self, holder: SessionHolder):
        self.holder = holder
        self.settings = holder.settings

    def chat_reply(self, message: str, history: list[dict], variant: str, max_tokens, request: gr.Request = None):
        """Generator: (history, message box, notice), the reply growing token by token. The box is
        cleared once, when the message is taken: what the visitor types meanwhile is kept."""
        history = list(history or [])
        if not (message or "").strip():
            yield history, gr.skip(), problem("No message given: type a message first.")
            return
        messages = [{"role": m["role"], "content": as_text(m["content"])} for m in history] + [{"role": "user", "content": message}]
        history = [*history, {"role": "user", "content": message}, {"role": "assistant", "content": ""}]
        yield from self._stream_one(
            lambda session, settings: session.start_chat(messages, variant, settings, owner=visitor(request)),
            variant, max_tokens,
            show=lambda text, first: ([*history[:-1], {"role": "assistant", "content": text}], "" if first else gr.skip()),
            undo=lambda: (history[:-2], message),
        )

    def complete_text(self, text: str, variant: str, max_tokens, request: gr.Request = None):
        """Generator: (continuation, notice), growing token by token."""
        yield from self._stream_one(
            lambda session, settings: session.start_completion(text or "", variant, settings, owner=visitor(request)),
            variant, max_tokens, show=lambda so_far, first: (so_far,), undo=lambda: (gr.skip(),),
        )

    def _stream_one(self, start, variant, max_tokens, show, undo):
        """One playground run: yields ``show(text so far, first)`` + a notice until it ends."""
        session = self.holder.get()
        try:
            run = start(session, session.generation_settings(max_new_tokens=max_tokens))
        except AdaptersUIError as exc:
            yield (*undo(), problem(exc))
            return
        text, first = "", True
        try:
            for event, status in redraws(run):
                if isinstance(event, Partial):
                    text = next(iter(event.texts.values()))
                elif event is None:
                    waiting = status if status and status.startswith("**Waiting") else None
                    yield (*show(text, first), waiting or f"**{variant}** is writing…")
                    first = False
        finally:
            run.stop()
        yield self._ended(run.final(), variant, first, show, undo)

    @staticmethod
    def _ended(comparison, variant: str, first: bool, show, undo) -> tuple:
        """The last answer of a playground run: the reply, or why there is none."""
        reply = comparison.outputs(variant)[0]
        if comparison.status == "failed":
            return (*undo(), problem(comparison.error))
        if reply is None:  # stopped while still waiting for its turn: nothing was written, so no reply to show
            return (*undo(), f"**Stopped:** {variant}'s reply was cancelled before it started.")
        end = ok(f"**{variant}** answered in {comparison.generate_s:.1f} s.") if comparison.complete else f"**Stopped:** {variant}'s reply was cut off."
        return (*show(reply, first), end)

    def stop_playground(self, request: gr.Request = None) -> str:
        return stop_runs(self.holder, PLAYGROUND, request)


def wire_playground(play: PlaygroundTab, handlers: PlaygroundHandlers) -> None:
    p, work, gpu_s = play, model_work(handlers.settings), handlers.settings.gpu_duration_s
    p.mode.change(lambda m: (gr.update(visible=m == CHAT), gr.update(visible=m == COMPLETE)), p.mode,
                  [p.chat_box, p.complete_box], **UI_ONLY)
    p.variant.change(lambda v: gr.update(label=f"Chat with {v}"), p.variant, p.chatbot, **UI_ONLY)
    for trigger in (p.send.click, p.message.submit):  # Enter during a reply sends the draft once it ends
        trigger(gpu_task(handlers.chat_reply, gpu_s), [p.message, p.chatbot, p.variant, p.tokens], [p.chatbot, p.message, p.notice],
                trigger_mode="always_last", **work)
    p.chatbot.clear(lambda: "", outputs=p.notice, **UI_ONLY)
    p.complete_btn.click(gpu_task(handlers.complete_text, gpu_s), [p.start_text, p.variant, p.tokens], [p.continuation, p.notice], **work)
    for stop in (p.stop, p.complete_stop):
        stop.click(handlers.stop_playground, outputs=p.notice, **STOPS)
