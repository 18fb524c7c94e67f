"""The review pages: an app of their own, mounted at /review, so blindness is structural.

It never receives the attached adapters or any variant name: the reviewer page gets a
prompt, two outputs labelled A and B, and an opaque pair id. The owner page (``?owner=``)
shows the results. Which page a visitor gets depends only on the secret in the link:

    /review/?reviewer=<token>   judge pairs: A better / B better / tie / both bad / skip
    /review/?owner=<token>      win rates, Bradley–Terry, win matrix, agreement, comments, exports
"""

from __future__ import annotations

from dataclasses import dataclass

import gradio as gr

from adapters_ui.config import Settings
from adapters_ui.judging.templates import PAIRWISE
from adapters_ui.store import DatabaseHolder
from adapters_ui.store import reviews as store
from adapters_ui.ui.judge_template import holes_text, template_boxes
from adapters_ui.ui.review import ReviewerState, ReviewHandlers, oauth_enabled

UI_ONLY = {"api_visibility": "private"}
VOTES = {"concurrency_limit": 16, "concurrency_id": "votes"}  # database work: many reviewers at once
ANSWERS = (("a", "A is better"), ("b", "B is better"), ("tie", "Tie"), ("both_bad", "Both are bad"), ("skip", "Skip"))
REVIEW_CSS = """
.gradio-container {max-width: 1200px !important; width: 100%; margin: auto}
#review-notice {min-height: 1.6em; font-size: 17px}
#review-progress {font-size: 18px}
#output-a textarea, #output-b textarea, #review-prompt textarea {font-size: 16px}
.judge-text {white-space: pre-wrap; overflow-wrap: anywhere; border-left: 3px solid #ccc; padding-left: 8px}
#results-tables, #judge-section {overflow-x: auto; max-width: 100%}
"""
JUDGE_TICK_S = 1.5


@dataclass
class ReviewPage:
    """The review page's components: a reviewer's join box and pair, or the owner's results (each set by ``build_review_page``)."""

    title: gr.Markdown = None
    notice: gr.Markdown = None
    state: gr.State = None
    owner: gr.State = None
    told: gr.State = None  # the vote count the owner was shown before confirming a delete
    join_box: gr.Column = None
    name: gr.Textbox = None
    start: gr.Button = None
    task_box: gr.Column = None
    progress: gr.Markdown = None
    prompt: gr.Textbox = None
    out_a: gr.Textbox = None
    out_b: gr.Textbox = None
    comment: gr.Textbox = None
    buttons: dict = None  # answer -> its button
    results_box: gr.Column = None
    summary: gr.Markdown = None
    matrix_plot: gr.Plot = None
    strength_plot: gr.Plot = None
    tables: gr.HTML = None
    csv_file: gr.DownloadButton = None
    votes_file: gr.DownloadButton = None
    json_file: gr.DownloadButton = None
    html_file: gr.DownloadButton = None
    refresh: gr.Button = None
    close: gr.Button = None
    remove: gr.Button = None
    confirm_box: gr.Column = None
    question: gr.Markdown = None
    confirm: gr.Button = None
    cancel: gr.Button = None
    show_judge: gr.Checkbox = None
    judge_line: gr.Markdown = None
    judge_system: gr.Textbox = None
    judge_user: gr.Textbox = None
    judge_start: gr.Button = None
    judge_cancel: gr.Button = None
    judge_progress: gr.Markdown = None
    judge_html: gr.HTML = None
    judge_timer: gr.Timer = None

    def shown(self) -> list:
        """What a reviewer's step updates."""
        return [self.notice, self.state, self.join_box, self.task_box, self.progress, self.prompt, self.out_a,
                self.out_b, self.comment]

    def results(self) -> list:
        """What the owner's results page updates."""
        return [self.notice, self.summary, self.tables, self.matrix_plot, self.strength_plot, self.csv_file,
                self.votes_file, self.json_file, self.html_file, self.judge_html, self.judge_progress, self.judge_timer]


def build_review_page() -> ReviewPage:
    r = ReviewPage()
    r.title = gr.Markdown("# Blind review", elem_id="review-title")
    r.notice = gr.Markdown(elem_id="review-notice")
    r.state, r.owner = gr.State(ReviewerState()), gr.State("")
    r.told = gr.State(None)
    with gr.Column(visible=False) as r.join_box:
        if oauth_enabled():
            gr.LoginButton()
        r.name = gr.Textbox(label="Your name", max_length=store.MAX_NAME, max_lines=1, elem_id="reviewer-name")
        r.start = gr.Button("Start reviewing", variant="primary", elem_id="start-review")
    with gr.Column(visible=False) as r.task_box:
        _build_task(r)
    with gr.Column(visible=False) as r.results_box:
        _build_results(r)
    return r


def _build_task(r: ReviewPage) -> None:
    """One prompt, two unnamed outputs, a comment and the answers."""
    r.progress = gr.Markdown(elem_id="review-progress")
    r.prompt = gr.Textbox(label="Prompt", interactive=False, lines=2, max_lines=12, elem_id="review-prompt")
    with gr.Row(equal_height=True):
        r.out_a = gr.Textbox(label="A", interactive=False, lines=6, max_lines=30, elem_id="output-a")
        r.out_b = gr.Textbox(label="B", interactive=False, lines=6, max_lines=30, elem_id="output-b")
    r.comment = gr.Textbox(label=f"Comment (optional, up to {store.MAX_COMMENT} characters)", lines=2,
                           max_length=store.MAX_COMMENT, elem_id="review-comment")
    with gr.Row():
        r.buttons = {choice: gr.Button(label, variant="primary" if choice in "ab" else "secondary",
                                       elem_id=f"vote-{choice}") for choice, label in ANSWERS}


def _build_results(r: ReviewPage) -> None:
    """The owner's page: the charts, tables and downloads, the judge, and closing or deleting the review."""
    r.summary = gr.Markdown(elem_id="results-summary")
    r.show_judge = gr.Checkbox(False, label="Count the judge model as one more reviewer in every result below "
                               "(marked “judge: MODEL”)", elem_id="show-judge")
    with gr.Row():
        r.matrix_plot = gr.Plot(show_label=False, elem_id="win-matrix")
        r.strength_plot = gr.Plot(show_label=False, elem_id="strengths")
    r.tables = gr.HTML(elem_id="results-tables")
    with gr.Row():
        r.csv_file = gr.DownloadButton("CSV", interactive=False, elem_id="review-csv")
        r.votes_file = gr.DownloadButton("Votes CSV", interactive=False, elem_id="review-votes-csv")
        r.json_file = gr.DownloadButton("JSON", interactive=False, elem_id="review-json")
        r.html_file = gr.DownloadButton("HTML report", interactive=False, variant="primary", elem_id="review-html")
    with gr.Row():
        r.refresh = gr.Button("Refresh results", elem_id="refresh-results")
        r.close = gr.Button("Close voting", variant="stop", elem_id="close-review")
        r.remove = gr.Button("Delete review", variant="stop", elem_id="delete-review")
    with gr.Column(visible=False) as r.confirm_box:
        r.question = gr.Markdown(elem_id="delete-question")
        with gr.Row():
            r.confirm = gr.Button("Yes, delete the review and its votes", variant="stop", elem_id="confirm-delete")
            r.cancel = gr.Button("Cancel", elem_id="cancel-delete")
    _build_judge(r)


def _build_judge(r: ReviewPage) -> None:
    """Which judge is set, its template (editable), Judge / Cancel, its progress and what it found."""
    with gr.Accordion("Judge model", open=True, elem_id="judge-box"):
        r.judge_line = gr.Markdown(elem_id="judge-line")
        gr.Markdown("The judge sees the prompt and the two answers as *Assistant A* and *B*, never a variant name, "
                    "and judges every pair in both orders: a verdict counts only when both orders agree. It is one "
                    "more opinion beside the people, never a replacement for them.")
        with gr.Accordion(f"Template (MT-Bench pairwise; edit it, keep {holes_text(PAIRWISE)})", open=False):
            r.judge_system, r.judge_user = template_boxes(PAIRWISE, "judge")
        with gr.Row():
            r.judge_start = gr.Button("Judge this review", variant="primary", elem_id="judge-start")
            r.judge_cancel = gr.Button("Cancel judging", variant="stop", elem_id="judge-cancel")
        r.judge_progress = gr.Markdown(elem_id="judge-progress")
        r.judge_html = gr.HTML(elem_id="judge-section")
    r.judge_timer = gr.Timer(JUDGE_TICK_S, active=False)


def wire_review_page(app: gr.Blocks, r: ReviewPage, handlers: ReviewHandlers) -> None:
    """The link decides the page (reviewer or owner); votes share one concurrency limit (``VOTES``)."""
    shown, results_out = r.shown(), r.results()
    app.load(handlers.open_link, outputs=[r.title, r.notice, r.state, r.join_box, r.task_box, r.results_box, r.owner],
             show_progress="hidden", **UI_ONLY
             ).then(lambda o: handlers.results_page(o) if o else (gr.skip(),) * len(results_out), r.owner, results_out,
                    show_progress="hidden", **UI_ONLY)
    app.load(handlers.judge.judge_line, outputs=r.judge_line, show_progress="hidden", **UI_ONLY)
    for trigger in (r.start.click, r.name.submit):
        trigger(handlers.join_page, [r.state, r.name], shown, **UI_ONLY, **VOTES)
    for choice, button in r.buttons.items():
        button.click(_answer(handlers, choice), [r.state, r.comment], shown, trigger_mode="once", **UI_ONLY, **VOTES)
    r.refresh.click(handlers.results_page, [r.owner, r.show_judge], results_out, **UI_ONLY)
    r.show_judge.change(handlers.results_page, [r.owner, r.show_judge], results_out, show_progress="hidden", **UI_ONLY)
    r.judge_start.click(handlers.start_judge, [r.owner, r.judge_system, r.judge_user], [r.judge_progress, r.judge_timer],
                        trigger_mode="once", **UI_ONLY)  # the answer stands under the button, not at the page's top
    r.judge_cancel.click(handlers.cancel_judge, r.owner, r.judge_progress, **UI_ONLY)
    r.judge_timer.tick(handlers.judge_tick, [r.owner, r.show_judge], results_out, show_progress="hidden", **UI_ONLY)
    r.close.click(handlers.close_review, r.owner, r.notice, **UI_ONLY)
    r.remove.click(handlers.ask_delete, r.owner, [r.notice, r.question, r.confirm_box, r.told], **UI_ONLY)
    r.confirm.click(handlers.delete, [r.owner, r.told], [r.notice, r.results_box, r.confirm_box], trigger_mode="once", **UI_ONLY)
    r.cancel.click(lambda: ("Nothing was deleted.", gr.update(visible=False), None), outputs=[r.notice, r.confirm_box, r.told],
                   **UI_ONLY)


def add_review_api(handlers: ReviewHandlers) -> None:
    """The review's endpoints for scripts (gradio_client): join, next pair, vote, results."""
    gr.api(handlers.api_join, api_name="join", **VOTES)
    gr.api(handlers.api_next, api_name="next", **VOTES)
    gr.api(handlers.api_vote, api_name="vote", **VOTES)
    gr.api(handlers.api_results, api_name="results")


def create_review_app(settings: Settings | None = None, database: DatabaseHolder | None = None) -> gr.Blocks:
    settings = settings or Settings.from_env()
    handlers = ReviewHandlers(database or DatabaseHolder(settings.database), settings)
    with gr.Blocks(title="adapters_ui review") as app:
        page = build_review_page()
        wire_review_page(app, page, handlers)
        add_review_api(handlers)
    return app


def _answer(ui: ReviewHandlers, choice: str):
    """One button's handler (a named function per answer: gradio reads its signature)."""
    def answer(state: ReviewerState, comment: str) -> tuple:
        return ui.vote(choice, state, comment)
    answer.__name__ = f"answer_{choice}"
    return answer
