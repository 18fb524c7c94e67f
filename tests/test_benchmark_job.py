"""A benchmark stored as an evaluation (issue 25): lm-eval's docs as items, a finished variant at a time.

On the tiny random Llama with LoRA and IA3 attached, through the real lm-eval: the stored document holds
lm-eval's own numbers per variant (the same as a plain ``run_benchmark`` on the same session), one output
per doc and variant with lm-eval's per-item scores, per-task verdicts (never pooled), and a Cancel keeps the
variants already finished; resuming runs only the rest and ends with the numbers of an uninterrupted run.
"""

from __future__ import annotations

import threading

import pytest

from adapters_ui.bench.counted_lm import CountedLM
from adapters_ui.bench.run import run_benchmark
from adapters_ui.bench.tasks import SHIPPED_TASKS
from adapters_ui.errors import AdaptersUIError
from adapters_ui.runs.evaluation_document import evaluation_document
from adapters_ui.store.benchmarks import finished_variants
from adapters_ui.store.evaluations import CANCELLED, FINISHED, count_outputs, load_items

LIMIT = 4
VARIANTS = ["base", "lora", "ia3"]


@pytest.fixture(scope="module")
def session(tiny_base_dir, tiny_adapters, tmp_path_factory):
    from adapters_ui.config import Settings
    from adapters_ui.session import Session

    session = Session.start(Settings(base_model=str(tiny_base_dir), cache_dir=tmp_path_factory.mktemp("cache")))
    for name in VARIANTS[1:]:
        session.attach(tiny_adapters[name], name)
    return session


@pytest.fixture(scope="module")
def plain_run(session):
    """The same tasks through ``run_benchmark`` (no database): what the stored benchmark must equal."""
    return run_benchmark(session.backend, session.turns, list(SHIPPED_TASKS), VARIANTS, limit=LIMIT)


def test_a_stored_benchmark_is_an_evaluation_with_lm_evals_numbers(session, db, plain_run):
    job, ref = session.start_benchmark(db, list(SHIPPED_TASKS), VARIANTS, limit=LIMIT)
    assert job.wait(600) and job.progress().status == FINISHED, job.progress().line()
    progress = job.progress()
    assert progress.done == progress.total == plain_run_requests(db, ref.id) * len(VARIANTS)
    document = evaluation_document(db, ref.id)
    items = load_items(db, ref.id)
    assert len(items) == 3 * LIMIT and count_outputs(db, ref.id) == 3 * LIMIT * len(VARIANTS)
    assert {item["category"] for item in items} == set(SHIPPED_TASKS)
    numbers = document["benchmark"]["variants"]
    for variant in VARIANTS:
        for task in SHIPPED_TASKS:
            for key, value in plain_run.results[variant][task].items():
                if isinstance(value, float):
                    assert numbers[variant]["results"][task][key] == pytest.approx(value, rel=1e-6), (variant, task, key)
    mine = {(r["id"], r["variant"]): r["scores"] for r in document["items"]}
    for record in plain_run.records():
        assert mine[(record["id"], record["variant"])] == pytest.approx(record["scores"])
    assert document["verdicts"] == plain_run.verdicts()  # per task, one Holm family, the same statistics
    assert {v["slice"] for v in document["verdicts"]} == {f"category:{t}" for t in SHIPPED_TASKS}  # never pooled


def plain_run_requests(db, evaluation_id) -> int:
    from adapters_ui.store.evaluations import load_evaluation

    return load_evaluation(db, evaluation_id).settings["requests"]


def test_cancel_keeps_finished_variants_and_resume_runs_only_the_rest(session, db, plain_run, monkeypatch):
    """Cancel once the second variant has answered a chunk: the first stays whole, the second leaves nothing;
    resuming scores the second and third only, and the numbers are the uninterrupted run's."""
    cancelled = threading.Event()
    chunk = CountedLM._chunked

    def cancel_in_lora(self, call, requests):
        answers = chunk(self, call, requests)
        if self.variant == "lora" and not cancelled.is_set():
            cancelled.set()
            session.evaluations.get(job_id[0]).cancel()
        return answers

    monkeypatch.setattr(CountedLM, "_chunked", cancel_in_lora)
    job_id = []
    job, ref = session.start_benchmark(db, list(SHIPPED_TASKS), VARIANTS, limit=LIMIT)
    job_id.append(ref.id)
    assert job.wait(600) and job.progress().status == CANCELLED, job.progress().line()
    assert finished_variants(db, ref.id) == {"base"}
    assert count_outputs(db, ref.id) == 3 * LIMIT  # base's whole, nothing of lora's
    monkeypatch.setattr(CountedLM, "_chunked", chunk)
    resumed = session.resume_evaluation(db, ref.id)
    seen = []
    original = CountedLM._chunked
    monkeypatch.setattr(CountedLM, "_chunked", lambda self, call, requests: (seen.append(self.variant), original(self, call, requests))[1])
    assert resumed.wait(600) and resumed.progress().status == FINISHED
    assert set(seen) == {"lora", "ia3"}  # base was not scored again
    document = evaluation_document(db, ref.id)
    assert document["verdicts"] == plain_run.verdicts()


@pytest.mark.parametrize(("tasks", "variants", "options", "expected_error"), [
    (["no_such_task_anywhere"], ["base"], {}, "Unknown task 'no_such_task_anywhere'"),
    ([], ["base"], {}, "Give at least one task"),
    (["adapters_ui_arith_mc"], ["nobody"], {}, "nobody"),
    (["adapters_ui_arith_mc"], ["base"], {"limit": 0}, "limit 0 is not positive"),
    (["adapters_ui_arith_mc"], ["base"], {"num_fewshot": -1}, "num_fewshot -1 is negative"),
    (["adapters_ui_arith_mc"], ["base"], {"include_path": "/no/such/folder"}, "is not a folder"),
])
def test_refusals_are_one_line_and_store_nothing(session, db, tasks, variants, options, expected_error):
    from adapters_ui.store.evaluations import list_evaluations

    before = len(list_evaluations(db))
    with pytest.raises(AdaptersUIError, match=expected_error) as caught:
        session.start_benchmark(db, tasks, variants, **options)
    assert "\n" not in str(caught.value)
    assert len(list_evaluations(db)) == before


def test_a_benchmarks_baseline_is_one_of_its_own_variants(session, db):
    job, ref = session.start_benchmark(db, ["adapters_ui_arith_mc"], ["base", "lora"], limit=2)
    assert job.wait(600)
    with pytest.raises(AdaptersUIError, match="A benchmark compares its own variants"):
        evaluation_document(db, ref.id, baseline=f"{ref.id}/base")
    assert evaluation_document(db, ref.id, baseline="lora")["verdicts"][0]["variant"] == "base"


def test_the_gate_reads_a_benchmarks_task_verdict(session, db, tmp_path, capsys):
    """A benchmark's verdicts are per task: the gate takes the task's slice (by default the only task's), and
    without one says which slices there are."""
    from adapters_ui.analysis.gate import gate
    from adapters_ui.cli.main import main

    job, ref = session.start_benchmark(db, ["adapters_ui_arith_mc", "adapters_ui_general_text"], ["base", "lora"], limit=3)
    assert job.wait(600)
    verdicts = evaluation_document(db, ref.id)["verdicts"]
    decision = gate(verdicts, "lora", "base", metric="bits_per_byte", slice="category:adapters_ui_general_text")
    assert "on bits_per_byte (category:adapters_ui_general_text)" in decision.reason
    with pytest.raises(AdaptersUIError, match="pick a slice from category:adapters_ui_arith_mc"):
        gate(verdicts, "lora", "base", metric="acc")
    url = f"sqlite:///{tmp_path / 'store.db'}"
    code = main(["gate", ref.id, "--baseline", "base", "--candidate", "lora", "--metric", "loglikelihood",
                 "--slice", "category:adapters_ui_arith_mc", "--database", url])
    line = capsys.readouterr().out.strip()
    assert code in (0, 1) and "lora" in line and "loglikelihood (category:adapters_ui_arith_mc)" in line
    assert line.startswith("pass: " if code == 0 else "FAIL: ")


def test_a_users_own_task_folder_with_relative_data_files(session, db, tmp_path, monkeypatch):
    """--include-path: a YAML of the user's, its data file named relative to it, run from another directory."""
    import json

    folder = tmp_path / "my_tasks"
    folder.mkdir()
    rows = [{"id": f"yn-{i}", "question": f"Is {i} even?", "answer": i % 2} for i in range(6)]
    (folder / "yes_no.jsonl").write_text("".join(json.dumps(r) + "\n" for r in rows))
    (folder / "yes_no.yaml").write_text(
        "task: my_yes_no\ndataset_path: json\ndataset_kwargs:\n  data_files:\n    test: yes_no.jsonl\ntest_split: test\n"
        "output_type: multiple_choice\ndoc_to_text: \"Question: {{question}}\\nAnswer:\"\n"
        "doc_to_choice: [\"yes\", \"no\"]\ndoc_to_target: answer\nmetric_list:\n  - metric: acc\n")
    monkeypatch.chdir(tmp_path.parent)
    job, ref = session.start_benchmark(db, ["my_yes_no"], ["base", "lora"], include_path=folder)
    assert job.wait(600) and job.progress().status == FINISHED, job.progress().line()
    document = evaluation_document(db, ref.id)
    assert [i["id"] for i in load_items(db, ref.id)] == [f"my_yes_no/yn-{i}" for i in range(6)]
    assert [i["reference"] for i in load_items(db, ref.id)] == ["yes", "no"] * 3
    assert 0 <= document["benchmark"]["variants"]["lora"]["results"]["my_yes_no"]["acc,none"] <= 1
    assert job.progress().total == 2 * 6 * 2  # two choices an item, two variants


def test_a_task_whose_data_cannot_be_read_is_one_line_and_stores_nothing(session, db, tmp_path):
    from adapters_ui.store.evaluations import list_evaluations

    folder = tmp_path / "broken"
    folder.mkdir()
    (folder / "gone.yaml").write_text("task: my_gone\ndataset_path: json\ndataset_kwargs:\n  data_files:\n    test: gone.jsonl\n"
                                      "test_split: test\noutput_type: loglikelihood_rolling\ndoc_to_text: ''\n"
                                      "doc_to_target: '{{text}}'\nmetric_list:\n  - metric: bits_per_byte\n")
    before = len(list_evaluations(db))
    with pytest.raises(AdaptersUIError, match="The data of my_gone could not be read") as caught:
        session.start_benchmark(db, ["my_gone"], ["base"], include_path=folder)
    assert "\n" not in str(caught.value) and len(list_evaluations(db)) == before


def test_a_benchmark_is_not_judged(session, db):
    """Its outputs are lm-eval's filtered answers and log-likelihoods, not texts to compare: refused in one line."""
    from adapters_ui.runs.judging import start_judging

    job, ref = session.start_benchmark(db, ["adapters_ui_arith_mc"], ["base", "lora"], limit=2)
    assert job.wait(600)
    with pytest.raises(AdaptersUIError, match="is a benchmark, scored by lm-eval's own metrics"):
        start_judging(db, ref.id, judge=None)
