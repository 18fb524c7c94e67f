"""The review pages: an app of their own, mounted at /review, so blindness is structural.

It never receives the attached adapters or any variant name: the reviewer page gets a
prompt, two outputs labelled A and B, and an opaque pair id. The owner page (``?owner=``)
shows the results. Which page a visitor gets depends only on the secret in the link:

    /review/?reviewer=<token>   judge pairs: A better / B better / tie / both bad / skip
    /review/?owner=<token>      win rates, Bradley–Terry, win matrix, agreement, comments, exports
"""

from __future__ import annotations

import html
import os
import re
import uuid
from dataclasses import dataclass, replace
from pathlib import Path

import gradio as gr

from adapters_ui.analysis.review_stats import to_csv, to_json, votes_csv
from adapters_ui.config import Settings
from adapters_ui.errors import AdaptersUIError
from adapters_ui.formatting import plural
from adapters_ui.store import DatabaseHolder
from adapters_ui.store import reviews as store
from adapters_ui.ui.common import export_folder, problem
from adapters_ui.views import charts
from adapters_ui.views.review_report import results_html, results_tables_html

UI_ONLY = {"api_visibility": "private"}
VOTES = {"concurrency_limit": 16, "concurrency_id": "votes"}  # database work: many reviewers at once
ANSWERS = (("a", "A is better"), ("b", "B is better"), ("tie", "Tie"), ("both_bad", "Both are bad"), ("skip", "Skip"))
REVIEW_CSS = """
.gradio-container {max-width: 1200px !important; width: 100%; margin: auto}
#review-notice {min-height: 1.6em; font-size: 17px}
#review-progress {font-size: 18px}
#output-a textarea, #output-b textarea, #review-prompt textarea {font-size: 16px}
"""


@dataclass(frozen=True)
class ReviewerState:
    """Kept server-side (gr.State): the pair on screen and the id its vote will carry, so a double
    click or a retried request sends the same vote id and counts once."""

    token: str = ""
    name: str = ""
    task_id: str = ""
    vote_id: str = ""


def oauth_enabled() -> bool:
    """Hugging Face login exists only on a Space with ``hf_oauth: true`` (it sets OAUTH_CLIENT_ID)."""
    return bool(os.environ.get("OAUTH_CLIENT_ID") and os.environ.get("SPACE_ID"))


def as_text(text: str) -> str:
    """Text a visitor typed, for a Markdown line: HTML escaped and Markdown's special characters quoted."""
    return re.sub(r"([\\`*_{}\[\]()#+\-.!|~>])", r"\\\1", html.escape(text))


def query(request: gr.Request | None, key: str) -> str:
    return ((getattr(request, "query_params", None) or {}).get(key) or "").strip()


class ReviewHandlers:
    """Every event of the review pages, bound to one database."""

    def __init__(self, database: DatabaseHolder):
        self.database = database

    # ---- opening a link ------------------------------------------------------------------
    def open_link(self, request: gr.Request = None) -> tuple:
        """-> (title, notice, state, join box, task box, results box, owner token)."""
        reviewer, owner = query(request, "reviewer"), query(request, "owner")
        hidden = (gr.update(visible=False),) * 3
        try:
            if owner:
                store.review_results(self.database.get(), owner_token=owner)  # checks the link
                return ("# Review results", "", ReviewerState(), *_visible(results=True), owner)
            if reviewer:
                title = store.review_title(self.database.get(), reviewer)
                return (f"# {title}", _join_help(), ReviewerState(token=reviewer), *_visible(join=True), "")
        except AdaptersUIError as exc:
            return ("# Blind review", problem(exc), ReviewerState(), *hidden, "")
        return ("# Blind review", problem("This page needs a review link: ask the review's owner for one."),
                ReviewerState(), *hidden, "")

    # ---- the reviewer ------------------------------------------------------------------------
    def join_page(self, state: ReviewerState, name: str, profile: gr.OAuthProfile | None = None) -> tuple:
        """-> (notice, state, join box, task box, progress, prompt, A, B, comment)."""
        name = getattr(profile, "username", None) or name
        try:
            name, done, _total = store.join_review(self.database.get(), state.token, name)
        except AdaptersUIError as exc:
            return (problem(exc), state, *[gr.skip()] * 7)
        state = replace(state, name=name)
        shown = as_text(name)
        welcome = f"Welcome back, **{shown}**: you answered {done} so far." if done else f"Thank you, **{shown}**."
        return self._show_next(state, welcome)

    def vote(self, choice: str, state: ReviewerState, comment: str) -> tuple:
        """One answer for the pair on screen; the next pair shows only after the vote committed."""
        try:
            receipt = store.cast_vote(self.database.get(), state.token, state.name, state.task_id, choice,
                                      comment, vote_id=state.vote_id)
        except AdaptersUIError as exc:
            return (problem(exc), state, *[gr.skip()] * 7)
        said = "Skipped." if choice == "skip" else "Vote recorded."
        return self._show_next(state, f"{said} ({receipt.done} answered)")

    def _show_next(self, state: ReviewerState, notice: str) -> tuple:
        try:
            task = store.next_task(self.database.get(), state.token, state.name)
        except AdaptersUIError as exc:
            return (problem(exc), state, *[gr.skip()] * 7)
        if task is None:
            done = f"{notice} **All done:** nothing is left for you to judge. Thank you!"
            return (done, replace(state, task_id="", vote_id=""), gr.update(visible=False), gr.update(visible=False),
                    *[gr.skip()] * 5)
        state = replace(state, task_id=task.task_id, vote_id=str(uuid.uuid4()))
        progress = f"**{task.done + 1} of {task.total}** · judge A against B for this prompt"
        return (notice, state, gr.update(visible=False), gr.update(visible=True), progress, task.prompt, task.a,
                task.b, "")

    # ---- the owner ---------------------------------------------------------------------------
    def results_page(self, owner: str) -> tuple:
        """-> (notice, summary, tables, win matrix, strengths, csv, votes csv, json, html)."""
        try:
            snapshot = store.review_results(self.database.get(), owner_token=owner)
        except AdaptersUIError as exc:
            return (problem(exc), *[gr.skip()] * 8)
        results = store.summarise_review(snapshot)
        folder = export_folder()
        files = {"csv": (folder / "review.csv", to_csv(results)), "votes": (folder / "review-votes.csv", votes_csv(results)),
                 "json": (folder / "review.json", to_json(results)), "html": (folder / "review.html", results_html(results))}
        for path, text in files.values():
            Path(path).write_text(text, encoding="utf-8")
        return ("", _summary(snapshot.info, results), results_tables_html(results),
                charts.win_matrix_figure(results.variants, results.win_matrix), charts.strength_figure(results.strengths),
                *(gr.update(value=str(files[k][0]), interactive=True) for k in ("csv", "votes", "json", "html")))

    def close_review(self, owner: str) -> str:
        try:
            store.revoke_review(self.database.get(), owner)
        except AdaptersUIError as exc:
            return problem(exc)
        return "**Closed:** the reviewer link takes no more votes; the results stay here."

    def ask_delete(self, owner: str) -> tuple:
        """The first click on Delete: say what would be lost, and ask beside the buttons that answer
        -> (notice, question, confirm box, votes told of)."""
        try:
            info = store.owner_info(self.database.get(), owner)
        except AdaptersUIError as exc:
            return problem(exc), "", gr.update(visible=False), None
        question = (f"**Delete this review?** Its {plural(info.votes, 'vote')} and both links will be gone for good; "
                    "this cannot be undone. Close voting instead to keep the results.")
        return "", question, gr.update(visible=True), info.votes

    def delete(self, owner: str, told: int | None) -> tuple:
        """The confirmation -> (notice, results box, confirm box): deletes only what the owner was told of."""
        if told is None:
            return problem("Press Delete review first: it says how many votes would be lost."), gr.skip(), gr.skip()
        try:
            store.delete_review(self.database.get(), owner, expected_votes=told)
        except AdaptersUIError as exc:
            return problem(exc), gr.skip(), gr.update(visible=False)
        return (f"**Deleted:** the review, its {plural(told, 'vote')} and both links are gone.", gr.update(visible=False),
                gr.update(visible=False))

    # ---- API -------------------------------------------------------------------------------------
    def api_join(self, token: str, name: str) -> dict:
        name, done, total = self._api(store.join_review, token, name)
        return {"name": name, "done": done, "total": total}

    def api_next(self, token: str, name: str) -> dict | None:
        task = self._api(store.next_task, token, name)
        return None if task is None else task.__dict__.copy()

    def api_vote(self, token: str, name: str, task_id: str, choice: str, comment: str = "", vote_id: str = "") -> dict:
        receipt = self._api(store.cast_vote, token, name, task_id, choice, comment, vote_id or None)
        return {**receipt.__dict__, "next": self.api_next(token, name)}

    def api_results(self, owner: str) -> dict:
        return store.summarise_review(self._api(store.review_results, owner_token=owner)).to_document()

    def _api(self, call, *args, **kwargs):
        try:
            return call(self.database.get(), *args, **kwargs)
        except AdaptersUIError as exc:
            raise gr.Error(str(exc), print_exception=False) from None


def _visible(join: bool = False, task: bool = False, results: bool = False) -> tuple:
    return gr.update(visible=join), gr.update(visible=task), gr.update(visible=results)


def _join_help() -> str:
    return ("You will see one prompt and two answers, **A** and **B**, from unnamed models. Pick the better one, "
            "a tie, or *both bad*. Give your name to start; with the same name you resume where you stopped.")


def _summary(info: store.ReviewInfo, results) -> str:
    pairing = store.PAIRINGS[info.pairing]
    state = " · **closed**" if info.revoked else ""
    return (f"## {info.title}\n{plural(results.judgements_count, 'judgement')} from "
            f"{plural(len(results.reviewers), 'reviewer')} · {plural(info.items, 'pair')} ({pairing}), "
            f"{plural(info.per_pair, 'judgement')} each wanted · variants: {', '.join(info.variants)}{state}")


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

    def shown(self) -> list:
        """What a reviewer's step updates."""
        return [self.notice, self.state, self.join_box, self.task_box, self.progress, self.prompt, self.out_a,
                self.out_b, self.comment]

    def results(self) -> list:
        """What the owner's results page updates."""
        return [self.notice, self.summary, self.tables, self.matrix_plot, self.strength_plot, self.csv_file,
                self.votes_file, self.json_file, self.html_file]


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
    """The owner's page: the charts, tables and downloads, and closing or deleting the review."""
    r.summary = gr.Markdown(elem_id="results-summary")
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


def wire_review_page(app: gr.Blocks, r: ReviewPage, handlers: ReviewHandlers) -> None:
    """The link decides the page (reviewer or owner); votes share one concurrency limit (``VOTES``)."""
    shown, results_out = r.shown(), r.results()
    app.load(handlers.open_link, outputs=[r.title, r.notice, r.state, r.join_box, r.task_box, r.results_box, r.owner],
             show_progress="hidden", **UI_ONLY
             ).then(lambda o: handlers.results_page(o) if o else (gr.skip(),) * 9, r.owner, results_out,
                    show_progress="hidden", **UI_ONLY)
    for trigger in (r.start.click, r.name.submit):
        trigger(handlers.join_page, [r.state, r.name], shown, **UI_ONLY, **VOTES)
    for choice, button in r.buttons.items():
        button.click(_answer(handlers, choice), [r.state, r.comment], shown, trigger_mode="once", **UI_ONLY, **VOTES)
    r.refresh.click(handlers.results_page, r.owner, results_out, **UI_ONLY)
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
    handlers = ReviewHandlers(database or DatabaseHolder(settings.database))
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
