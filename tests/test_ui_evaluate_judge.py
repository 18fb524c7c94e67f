"""The judge in the Evaluate tab, through its handlers on the fake backend: a real HTTP server plays a fair judge
(tests/test_judging.ScriptedJudge: the output that says "lora" wins, or is graded 5). A judging of the open
evaluation starts, its progress is followed, and when it ends the evaluation's own timer is switched on so that
the redraw shows ``judge_preference`` or ``judge_grade`` in the verdict table; refusals are one line each and
store nothing. The Templates accordion shows the template of the chosen mode (with the reference when the open
evaluation's items have one), swaps it with the mode, and the judging stores the edited template and its hash."""

from __future__ import annotations

import dataclasses
import hashlib

import gradio as gr
import pytest
from helpers import write_jsonl
from test_judging import ScriptedJudge, shown_first, user_text
from test_ui_evaluate import finished, start, write_set

from adapters_ui.judging.templates import NO_REFERENCE, PAIRWISE, PAIRWISE_WITH_REFERENCE, RUBRIC, RUBRIC_WITH_REFERENCE
from adapters_ui.store.judgements import list_judgings, load_judging
from adapters_ui.ui.evaluate_judge import EvaluateJudgeHandlers
from adapters_ui.ui.judge_desk import NO_JUDGE


def fair(body):
    if "###Response to evaluate:" in user_text(body):  # rubric: 5 for lora's outputs, 2 for the rest
        response = user_text(body).split("###Response to evaluate:")[1].split("###")[0]
        return 200, "Fits. [RESULT] 5" if "lora says" in response else "Meh. [RESULT] 2"
    return 200, '{"explanation": "fits", "verdict": "%s"}' % ("A" if "lora says" in shown_first(body) else "B")


@pytest.fixture
def judge():
    server = ScriptedJudge(fair)
    yield server
    server.close()


@pytest.fixture
def opened(fake_ui, fake_adapters, tmp_path):
    """An evaluation of base and lora on 12 items, finished, and the browser state that started it."""
    fake_ui.adapters.attach_folder(str(fake_adapters["lora"]), "lora")
    owned, evaluation_id, *_ = start(fake_ui.evaluate, write_set(tmp_path / "set.jsonl"))
    finished(fake_ui.evaluate, evaluation_id)
    return fake_ui.evaluate, evaluation_id, owned


def handlers_for(ui, url, **settings) -> EvaluateJudgeHandlers:
    return EvaluateJudgeHandlers(ui.database, dataclasses.replace(ui.settings, judge_url=url, **settings))


@pytest.mark.parametrize("mode, metric, done", [("pairwise", "judge_preference", "12 of 12 pairs"),
                                                ("rubric", "judge_grade", "24 of 24 outputs")])
def test_judge_the_open_evaluation_then_its_verdicts_join_the_table(opened, judge, mode, metric, done):
    ui, evaluation_id, owned = opened
    judging = handlers_for(ui, judge.url)
    assert judging.opened(evaluation_id)[1] == "Not judged yet."
    notice, timer = judging.start(evaluation_id, mode, "base", "", "Is it right?", owned)
    assert notice.startswith("**Judging**") and timer.active
    job, = judging.desk.jobs.values()
    assert job.wait(30) and job.progress().status == "finished"
    line, judge_timer, evaluation_timer = judging.tick(evaluation_id)
    assert line.startswith(done) and not judge_timer.active and evaluation_timer.active
    assert len(judge.bodies) == 24  # 12 pairs both ways, or one grade for each of 12 items x 2 variants
    stored, = list_judgings(ui.database.get(), "evaluation", evaluation_id)
    assert stored.mode == mode and (stored.rubric == "Is it right?" if mode == "rubric" else stored.rubric is None)
    verdicts = [v for v in ui.document(evaluation_id, "base")["verdicts"] if v["metric"] == metric]
    overall, = [v for v in verdicts if v["slice"] is None]
    assert overall["variant"] == "lora" and overall["difference"] > 0  # the fair judge prefers lora, always


def test_refusals_are_one_line_and_store_nothing(opened, judge):
    ui, evaluation_id, owned = opened
    checks = [
        (handlers_for(ui, None), (evaluation_id, "pairwise", "base", "", "", owned), "No judge is set"),
        (handlers_for(ui, judge.url), (None, "pairwise", "base", "", "", owned), "No evaluation is open"),
        (handlers_for(ui, judge.url), (evaluation_id, "pairwise", "base", "other-id", "", owned), "pick a baseline variant"),
        (handlers_for(ui, judge.url, public=True), (evaluation_id, "pairwise", "base", "", "", {}), "Only the browser"),
        (handlers_for(ui, judge.url), (evaluation_id, "pairwise", "nobody", "", "", owned), "nobody"),
    ]
    for handlers, args, says in checks:
        notice, timer = handlers.start(*args)
        assert notice.startswith("**Error:**") and says in notice and "\n" not in notice, notice
        assert not getattr(timer, "active", False)
    assert list_judgings(ui.database.get()) == [] and judge.bodies == []
    assert handlers_for(ui, None).opened(evaluation_id)[0] == NO_JUDGE


def sha16(kind: str, system: str, user: str) -> str:
    """The template hash worked out here, not by JudgeTemplate.hash: SHA-256 of kind, system, user joined by NUL."""
    return hashlib.sha256(f"{kind}\0{system}\0{user}".encode()).hexdigest()[:16]


@pytest.mark.parametrize("mode, shipped", [("pairwise", PAIRWISE), ("rubric", RUBRIC)])
def test_the_judging_stores_the_edited_template_and_its_hash(opened, judge, mode, shipped):
    ui, evaluation_id, owned = opened
    judging = handlers_for(ui, judge.url)
    name, _line, system, user = judging.template(mode, evaluation_id, None)  # what the boxes show
    assert (name, system, user) == (shipped.name, shipped.system, shipped.user)
    system, user = "Be strict. " + system, user.replace("{question}", "QUESTION: {question}")
    notice, timer = judging.start(evaluation_id, mode, "base", "", "Is it right?", owned, name, system, user)
    assert notice.startswith("**Judging**") and timer.active
    job, = judging.desk.jobs.values()
    assert job.wait(30) and job.progress().status == "finished"
    listed, = list_judgings(ui.database.get(), "evaluation", evaluation_id)
    stored = load_judging(ui.database.get(), listed.id)
    assert stored.template["hash"] == sha16(mode, system, user) != sha16(mode, shipped.system, shipped.user)
    assert (stored.template["name"], stored.template["system"], stored.template["user"]) == (name, system, user)
    assert all(b["messages"][0]["content"].startswith("Be strict. ") and "QUESTION: question" in user_text(b)
               for b in judge.bodies) and len(judge.bodies) == 24


NO_HOLE = [  # template name, mode, system, user -> what the one line says
    ("pairwise", "pairwise", PAIRWISE.system, PAIRWISE.user.replace("{answer_b}", "B"), "lost {answer_b}"),
    ("pairwise", "pairwise", PAIRWISE.system.replace("impartial", "fair"), "", "lost {question}"),
    ("pairwise with reference", "pairwise", PAIRWISE_WITH_REFERENCE.system,
     PAIRWISE_WITH_REFERENCE.user.replace("{reference}", ""), "lost {reference}"),
    ("rubric", "rubric", RUBRIC.system, RUBRIC.user.replace("{rubric}", "be kind"), "lost {rubric}"),
    ("rubric with reference", "rubric", RUBRIC_WITH_REFERENCE.system, RUBRIC.user, "lost {reference}"),
    ("rubric", "pairwise", RUBRIC.system, RUBRIC.user, "for rubric judging, not pairwise"),
    ("mt-bench", "pairwise", PAIRWISE.system, PAIRWISE.user, "'mt-bench' is not known"),
]


@pytest.mark.parametrize("name, mode, system, user, says", NO_HOLE)
def test_a_template_that_lost_a_hole_is_refused_in_one_line_and_nothing_is_stored(opened, judge, name, mode, system,
                                                                                 user, says):
    ui, evaluation_id, owned = opened
    notice, timer = handlers_for(ui, judge.url).start(evaluation_id, mode, "base", "", "", owned, name, system, user)
    assert notice.startswith("**Error:**") and says in notice and "\n" not in notice, notice
    assert not getattr(timer, "active", False)
    assert list_judgings(ui.database.get()) == [] and judge.bodies == []


def test_switching_the_mode_swaps_the_template_and_opening_keeps_edits(opened, judge):
    ui, evaluation_id, _owned = opened
    judging = handlers_for(ui, judge.url)
    skip = gr.skip()
    name, line, system, user = judging.template("rubric", evaluation_id, "pairwise")
    assert (name, system, user) == ("rubric", RUBRIC.system, RUBRIC.user) and "{rubric}" in line
    name, line, system, user = judging.template("pairwise", evaluation_id, name)
    assert (name, system, user) == ("pairwise", PAIRWISE.system, PAIRWISE.user)
    assert "no reference answer" in line and "{answer_b}" in line and "{reference}" not in line
    assert judging.template("pairwise", evaluation_id, "pairwise") == (skip, line, skip, skip)  # edits stay
    assert judging.template("pairwise", None, "pairwise")[0] == skip


@pytest.fixture
def referenced(fake_ui, fake_adapters, tmp_path):
    """A finished evaluation of base and lora on 4 items; items 0 and 2 have a reference answer, 1 and 3 none."""
    fake_ui.adapters.attach_folder(str(fake_adapters["lora"]), "lora")
    rows = [{"id": f"q{i}", "prompt": f"question {i}", **({"reference": f"the answer to {i}"} if i % 2 == 0 else {})}
            for i in range(4)]
    owned, evaluation_id, *_ = start(fake_ui.evaluate, write_jsonl(tmp_path / "ref.jsonl", rows))
    finished(fake_ui.evaluate, evaluation_id)
    return fake_ui.evaluate, evaluation_id, owned


@pytest.mark.parametrize("mode, shipped", [("pairwise", PAIRWISE_WITH_REFERENCE), ("rubric", RUBRIC_WITH_REFERENCE)])
def test_with_references_the_with_reference_template_is_shown_and_an_item_without_one_says_so(referenced, judge,
                                                                                              mode, shipped):
    ui, evaluation_id, owned = referenced
    judging = handlers_for(ui, judge.url)
    name, line, system, user = judging.template(mode, evaluation_id, "pairwise")
    assert (name, system, user) == (shipped.name, shipped.system, shipped.user) and "{reference}" in line
    notice, _timer = judging.start(evaluation_id, mode, "base", "", "Is it right?", owned, name, system, user)
    job, = judging.desk.jobs.values()
    assert notice.startswith("**Judging**") and job.wait(30) and job.progress().status == "finished"
    asked = {text.split("question ")[1][0]: text for text in map(user_text, judge.bodies)}
    assert asked.keys() == {"0", "1", "2", "3"}
    assert "the answer to 0" in asked["0"] and "the answer to 2" in asked["2"]
    assert NO_REFERENCE in asked["1"] and NO_REFERENCE in asked["3"] and NO_REFERENCE not in asked["0"]
