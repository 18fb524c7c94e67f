"""The review pages' handlers: a reviewer's join, pair and vote, the owner's results, close and delete,
and the review API. Bound to the database only: the review app never sees the attached adapters."""

from __future__ import annotations

import html
import os
import re
import uuid
from dataclasses import dataclass, replace
from pathlib import Path

import gradio as gr

from adapters_ui.analysis.review_stats import summarise, to_csv, to_json, votes_csv
from adapters_ui.config import Settings
from adapters_ui.errors import AdaptersUIError
from adapters_ui.formatting import plural
from adapters_ui.judging.templates import PAIRWISE
from adapters_ui.runs.review_judging import review_judging_view
from adapters_ui.store import DatabaseHolder
from adapters_ui.store import reviews as store
from adapters_ui.ui.common import export_folder, problem
from adapters_ui.ui.judge_desk import JudgeDesk
from adapters_ui.views import charts
from adapters_ui.views.judge_report import judge_section_html
from adapters_ui.views.review_report import results_html, results_tables_html


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

    def __init__(self, database: DatabaseHolder, settings: Settings | None = None):
        self.database = database
        self.judge = JudgeDesk(database, settings or Settings())

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
    def results_page(self, owner: str, show_judge: bool = False) -> tuple:
        """-> (notice, summary, tables, win matrix, strengths, csv, votes csv, json, html, judge section,
        judge progress, judge timer); ``show_judge`` counts the judge as one more reviewer in every result."""
        try:
            snapshot = store.review_results(self.database.get(), owner_token=owner)
            view = review_judging_view(self.database.get(), snapshot.info.id, snapshot)
        except AdaptersUIError as exc:
            return (problem(exc), *[gr.skip()] * 11)
        judgements = snapshot.judgements + (view.judged if show_judge else [])
        results = summarise(snapshot.info.title, snapshot.prompts, snapshot.info.variants, judgements,
                            votes=snapshot.votes)
        folder = export_folder()
        files = {"csv": (folder / "review.csv", to_csv(results)), "votes": (folder / "review-votes.csv", votes_csv(results)),
                 "json": (folder / "review.json", to_json(results)), "html": (folder / "review.html", results_html(results))}
        for path, text in files.values():
            Path(path).write_text(text, encoding="utf-8")
        line, running = self.judge.progress(snapshot.info.id)
        shown = f" · the judge **{view.judging.reviewer}** is counted as one more reviewer" if show_judge and view.judged else ""
        return ("", _summary(snapshot.info, results) + shown, results_tables_html(results),
                charts.win_matrix_figure(results.variants, results.win_matrix), charts.strength_figure(results.strengths),
                *(gr.update(value=str(files[k][0]), interactive=True) for k in ("csv", "votes", "json", "html")),
                judge_section_html(view), line, gr.Timer(active=running))

    # ---- the judge -----------------------------------------------------------------------------
    def start_judge(self, owner: str, system: str, user: str) -> tuple:
        """Judge every pair of the owner's review both ways with the (edited) template -> (the judge's line under
        its buttons: what happened, or why not; the judge timer)."""
        try:
            review_id = store.owner_info(self.database.get(), owner).id
        except AdaptersUIError as exc:
            return problem(exc), gr.skip()
        notice, started = self.judge.start_edited(review_id, "pairwise", PAIRWISE.name, system, user)
        return notice, gr.Timer(active=started)

    def cancel_judge(self, owner: str) -> str:
        try:
            return self.judge.cancel(store.owner_info(self.database.get(), owner).id)
        except AdaptersUIError as exc:
            return problem(exc)

    def judge_tick(self, owner: str, show_judge: bool) -> tuple:
        """The timer while a judge works: its progress line; once it ends, every result again."""
        try:
            review_id = store.owner_info(self.database.get(), owner).id
        except AdaptersUIError as exc:
            return (problem(exc), *[gr.skip()] * 10, gr.Timer(active=False))
        line, running = self.judge.progress(review_id)
        if running:
            return (*[gr.skip()] * 10, line, gr.skip())
        return self.results_page(owner, show_judge)

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
