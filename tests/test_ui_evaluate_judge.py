"""The judge in the Evaluate tab, through its handlers on the fake backend: a real HTTP server plays a fair judge
(tests/test_judging.ScriptedJudge: the output that says "lora" wins, or is graded 5). A judging of the open
evaluation starts, its progress is followed, and when it ends the evaluation's own timer is switched on so that
the redraw shows ``judge_preference`` or ``judge_grade`` in the verdict table; refusals are one line each and
store nothing."""

from __future__ import annotations

import dataclasses

import pytest
from test_judging import ScriptedJudge, shown_first, user_text
from test_ui_evaluate import finished, start, write_set

from adapters_ui.store.judgements import list_judgings
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
