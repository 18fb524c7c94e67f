"""The judge in the Evaluate tab: a judge model over the open evaluation, pairwise against the baseline
(each pair in both orders) or a 1–5 grade per output against an editable rubric. Its verdicts then join the
verdict table as ``judge_preference`` and ``judge_grade``, with the same paired statistics and slices.

Its "Templates" accordion shows the one template the judge will use (the mode's, with the reference when the
open evaluation's items have one) and lets the visitor edit it; the judging stores the edited texts and hash.
"""

from __future__ import annotations

from dataclasses import dataclass

import gradio as gr

from adapters_ui.config import Settings
from adapters_ui.errors import AdaptersUIError
from adapters_ui.judging.templates import DEFAULT_RUBRIC, PAIRWISE, template_for
from adapters_ui.runs.judging_units import evaluation_has_reference
from adapters_ui.store import DatabaseHolder
from adapters_ui.store import evaluations as evaluation_store
from adapters_ui.ui.common import UI_ONLY, problem
from adapters_ui.ui.judge_desk import JudgeDesk
from adapters_ui.ui.judge_template import template_boxes, template_line

MODES = [("Pairwise: each variant against the baseline, both orders", "pairwise"),
         ("Rubric: a 1–5 grade for every output", "rubric")]
TICK_S = 1.5
WHY = {  # (an evaluation is open, its items have references) -> why the boxes show this template
    (False, False): "no evaluation is open: one whose items have reference answers gets the with-reference template",
    (True, False): "the open evaluation's items have no reference answer",
    (True, True): "the open evaluation's items have reference answers; for an item without one the judge reads a "
                  "line saying so",
}


@dataclass
class EvaluateJudge:
    """The judge's part of the Evaluate tab (set by ``build_evaluate_judge``)."""

    line: gr.Markdown = None
    mode: gr.Radio = None
    rubric: gr.Textbox = None
    template_name: gr.State = None  # which shipped template the boxes show (edited or not)
    template_line: gr.Markdown = None
    system: gr.Textbox = None
    user: gr.Textbox = None
    start: gr.Button = None
    cancel: gr.Button = None
    progress: gr.Markdown = None
    timer: gr.Timer = None


def build_evaluate_judge() -> EvaluateJudge:
    j = EvaluateJudge()
    with gr.Accordion("Judge model", open=False, elem_id="eval-judge"):
        j.line = gr.Markdown(elem_id="eval-judge-line")
        j.mode = gr.Radio(MODES, value="pairwise", label="How the judge judges", elem_id="eval-judge-mode")
        j.rubric = gr.Textbox(DEFAULT_RUBRIC, label="Rubric (for rubric grades)", lines=6, max_lines=16,
                              elem_id="eval-judge-rubric")
        _build_templates(j)
        with gr.Row():
            j.start = gr.Button("Judge this evaluation", variant="primary", elem_id="eval-judge-start")
            j.cancel = gr.Button("Cancel judging", variant="stop", elem_id="eval-judge-cancel")
        j.progress = gr.Markdown(elem_id="eval-judge-progress")
    j.timer = gr.Timer(TICK_S, active=False)
    return j


def _build_templates(j: EvaluateJudge) -> None:
    """The template the judge will use, editable; the mode and the open evaluation choose which one it is."""
    with gr.Accordion("Templates", open=False, elem_id="eval-judge-templates"):
        j.template_line = gr.Markdown(template_line(PAIRWISE, WHY[False, False]), elem_id="eval-judge-template-line")
        j.system, j.user = template_boxes(PAIRWISE, "eval-judge")
    j.template_name = gr.State(PAIRWISE.name)


class EvaluateJudgeHandlers:
    """Start, cancel and follow a judging of the open evaluation; on a public Space only its owner's browser may."""

    def __init__(self, database: DatabaseHolder, settings: Settings):
        self.database, self.settings = database, settings
        self.desk = JudgeDesk(database, settings)

    def _refusal(self, evaluation_id: str | None, owned: dict | None) -> str | None:
        if not evaluation_id:
            return problem("No evaluation is open: start or open one first.")
        if self.settings.public and not evaluation_store.is_owner(self.database.get(), evaluation_id,
                                                                   (owned or {}).get(evaluation_id)):
            return problem("Only the browser that started this evaluation can judge it.")
        return None

    def start(self, evaluation_id, mode, baseline, other, rubric, owned, template_name=None, system=None,
              user=None) -> tuple:
        """-> (the judge's line under its buttons: what happened, or why not; the judge timer). With
        ``template_name``: that shipped template as edited in ``system`` and ``user`` (one line if it lost a
        hole); without it, the shipped one ``start_judging`` picks."""
        try:
            refusal = self._refusal(evaluation_id, owned)
        except AdaptersUIError as exc:
            refusal = problem(exc)
        if refusal is None and (other or "").strip():
            refusal = problem("The judge pairs the variants of this evaluation: pick a baseline variant, not another "
                              "evaluation's id.")
        if refusal:
            return refusal, gr.skip()
        mode, rubric = mode or "pairwise", rubric if mode == "rubric" else None
        if template_name:
            notice, started = self.desk.start_edited(evaluation_id, mode, template_name, system, user, baseline, rubric)
        else:
            notice, started = self.desk.start(evaluation_id, mode, baseline, rubric=rubric)
        return notice, gr.Timer(active=started)

    def template(self, mode, evaluation_id, shown) -> tuple:
        """-> (template name, its line, system, user): the template the judge will use for ``mode`` on the open
        evaluation. The boxes change only when it is another template than the ``shown`` one, so edits stay while
        the visitor opens evaluations that use the same template; switching the mode swaps them."""
        try:
            has_reference = bool(evaluation_id) and evaluation_has_reference(self.database.get(), evaluation_id)
        except AdaptersUIError:
            has_reference = False
        template = template_for(mode or "pairwise", has_reference)
        line = template_line(template, WHY[bool(evaluation_id), has_reference])
        if template.name == shown:
            return gr.skip(), line, gr.skip(), gr.skip()
        return template.name, line, template.system, template.user

    def cancel(self, evaluation_id, owned) -> str:
        try:
            return self._refusal(evaluation_id, owned) or self.desk.cancel(evaluation_id)
        except AdaptersUIError as exc:
            return problem(exc)

    def tick(self, evaluation_id) -> tuple:
        """-> (judge progress, judge timer, the evaluation's timer): when the judge ends, the evaluation's own
        timer ticks once, and its redraw shows the judge's verdicts."""
        if not evaluation_id:
            return gr.skip(), gr.Timer(active=False), gr.skip()
        try:
            line, running = self.desk.progress(evaluation_id)
        except AdaptersUIError as exc:
            return problem(exc), gr.Timer(active=False), gr.skip()
        return line, gr.skip() if running else gr.Timer(active=False), gr.skip() if running else gr.Timer(active=True)

    def opened(self, evaluation_id) -> tuple:
        """An evaluation opened (or the page loaded): which judge is set, and the open one's judging, if any."""
        if not evaluation_id:
            return self.desk.judge_line(), "", gr.skip()
        try:
            line, running = self.desk.progress(evaluation_id)
        except AdaptersUIError:
            return self.desk.judge_line(), "", gr.skip()
        return self.desk.judge_line(), line, gr.Timer(active=running)


def wire_evaluate_judge(e, j: EvaluateJudge, handlers: EvaluateJudgeHandlers) -> None:
    """Judge and Cancel act on the open evaluation and its baseline; the judge's timer follows the judging."""
    e.opened.change(handlers.opened, e.opened, [j.line, j.progress, j.timer], show_progress="hidden", **UI_ONLY)
    template_out = [j.template_name, j.template_line, j.system, j.user]
    j.mode.change(handlers.template, [j.mode, e.opened, j.template_name], template_out, **UI_ONLY)
    e.opened.change(handlers.template, [j.mode, e.opened, j.template_name], template_out, show_progress="hidden",
                    **UI_ONLY)
    j.start.click(handlers.start, [e.opened, j.mode, e.baseline, e.baseline_other, j.rubric, e.owned, j.template_name,
                                   j.system, j.user],
                  [j.progress, j.timer], trigger_mode="once", **UI_ONLY)  # the answer stands under the button
    j.cancel.click(handlers.cancel, [e.opened, e.owned], j.progress, **UI_ONLY)
    j.timer.tick(handlers.tick, e.opened, [j.progress, j.timer, e.timer], show_progress="hidden", **UI_ONLY)
