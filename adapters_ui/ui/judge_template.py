"""A judge's template on the pages (a review's owner page, the Evaluate tab): its system and user prompts in two
editable boxes, and one line that names it and the holes an edit must keep. ``JudgeDesk.start_edited`` reads
the boxes back and refuses an edit that lost a hole.
"""

from __future__ import annotations

import gradio as gr

from adapters_ui.judging.templates import JudgeTemplate, required_holes

TITLES = {"pairwise": "MT-Bench pairwise", "pairwise with reference": "MT-Bench pairwise with reference",
          "rubric": "Prometheus rubric", "rubric with reference": "Prometheus rubric with reference"}


def holes_text(template: JudgeTemplate) -> str:
    """e.g. '{question}, {answer_a}, {answer_b}' for PAIRWISE."""
    return ", ".join("{" + hole + "}" for hole in required_holes(template))


def template_line(template: JudgeTemplate, why: str = "") -> str:
    """e.g. '**MT-Bench pairwise** (the open evaluation's items have no reference answer): edit it, keep ...'."""
    title = TITLES.get(template.name, template.name)
    return f"**{title}**{f' ({why})' if why else ''}: edit it, keep {holes_text(template)}."


def template_boxes(template: JudgeTemplate, elem_prefix: str) -> tuple[gr.Textbox, gr.Textbox]:
    """The System and User prompt boxes (elem_ids ``<prefix>-system``, ``<prefix>-user``), filled with ``template``."""
    system = gr.Textbox(template.system, label="System prompt", lines=4, max_lines=12, elem_id=f"{elem_prefix}-system")
    user = gr.Textbox(template.user, label="User prompt", lines=6, max_lines=20, elem_id=f"{elem_prefix}-user")
    return system, user

