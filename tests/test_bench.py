"""Benchmarks through lm-evaluation-harness on the one loaded base (issue 25).

Parity: our route (lm-eval's HFLM on the session's model, the variant switched per pass, never reloaded)
gives the same per-item log-likelihoods (within 1e-4), the same accuracy and the same generations as
lm-eval's own ``hf`` model loading the base again with ``peft=PATH``, for LoRA, DoRA and IA3.
"""

from __future__ import annotations

import json
import math
import sys
import threading
import time
from pathlib import Path

import pytest

from adapters_ui.bench.records import benchmark_verdicts, item_records
from adapters_ui.bench.run import run_benchmark
from adapters_ui.bench.tasks import SHIPPED, SHIPPED_TASKS, resolved_folder, task_names
from adapters_ui.cli.main import main
from adapters_ui.errors import BenchDependencyError

LIMIT = 6
ADAPTERS = ("lora", "dora", "ia3")


# ---- the shipped tasks ---------------------------------------------------------------------------


def test_the_shipped_folder_defines_the_three_tasks():
    assert task_names(SHIPPED) == sorted(SHIPPED_TASKS)


def test_resolved_folder_makes_relative_data_files_absolute(tmp_path):
    import yaml

    copy = resolved_folder(SHIPPED, tmp_path / "tasks")
    config = yaml.safe_load((copy / "arith_mc.yaml").read_text())
    assert config["dataset_kwargs"]["data_files"] == {"test": str(SHIPPED.resolve() / "arith_mc.jsonl")}
    assert (copy / "arith_mc.jsonl").read_bytes() == (SHIPPED / "arith_mc.jsonl").read_bytes()


def test_the_task_data_is_what_the_script_builds():
    """scripts/make_lm_eval_tasks.py is deterministic and the shipped files are its output."""
    sys.path.insert(0, str(SHIPPED.parent.parent / "scripts"))
    try:
        import make_lm_eval_tasks as build
    finally:
        sys.path.pop(0)
    for name, rows in (("arith_mc", build.arithmetic_items()), ("units_gen", build.unit_items()),
                       ("general_text", build.general_texts())):
        assert [json.loads(line) for line in (SHIPPED / f"{name}.jsonl").read_text().splitlines()] == rows
    for item in build.arithmetic_items():
        a, op, b = item["question"].removeprefix("What is ").removesuffix("?").split(" ")
        assert int(item["choices"][item["answer"]]) == (int(a) + int(b) if op == "plus" else int(a) - int(b))
        assert len(set(item["choices"])) == 4


# ---- parity with lm-eval's own hf + peft route -----------------------------------------------------


@pytest.fixture(scope="module")
def our_run(tiny_base_dir, tiny_adapters, tmp_path_factory):
    """Our route: one session, LoRA, DoRA and IA3 attached, every variant scored on the same loaded weights."""
    from adapters_ui.config import Settings
    from adapters_ui.session import Session

    session = Session.start(Settings(base_model=str(tiny_base_dir), cache_dir=tmp_path_factory.mktemp("cache")))
    weights = {k: v.clone() for k, v in session.base.model.state_dict().items()}  # the base as loaded
    for name in ADAPTERS:
        session.attach(tiny_adapters[name], name)
    run = run_benchmark(session.backend, session.turns, list(SHIPPED_TASKS), ["base", *ADAPTERS], limit=LIMIT)
    return session, run, weights


def lm_eval_own_run(base_dir, adapter_dir, tmp_path) -> dict:
    """lm-eval's reference: HFLM(pretrained=PATH, peft=PATH), the base loaded again for this adapter."""
    import lm_eval
    from lm_eval.models.huggingface import HFLM
    from lm_eval.tasks import TaskManager

    lm = HFLM(pretrained=str(base_dir), peft=None if adapter_dir is None else str(adapter_dir), device="cpu", batch_size=8)
    manager = TaskManager(include_path=str(resolved_folder(SHIPPED, tmp_path / "tasks")), include_defaults=False)
    return lm_eval.simple_evaluate(model=lm, tasks=list(SHIPPED_TASKS), task_manager=manager, limit=LIMIT, log_samples=True)


def loglikelihoods(sample: dict) -> list[float]:
    """Every log-likelihood lm-eval logged for one item (each choice's, or the passage's)."""
    responses = sample["filtered_resps"]
    return [float(r[0]) if isinstance(r, (list, tuple)) else float(r) for r in responses if not isinstance(r, str)]


@pytest.mark.parametrize("variant", ["base", *ADAPTERS])
def test_per_item_loglikelihoods_accuracy_and_generations_match_lm_eval_with_peft(our_run, tiny_base_dir, tiny_adapters,
                                                                                      variant, tmp_path):
    _, run, _ = our_run
    theirs = lm_eval_own_run(tiny_base_dir, None if variant == "base" else tiny_adapters[variant], tmp_path)
    for task in SHIPPED_TASKS:
        mine, reference = run.samples[variant][task], theirs["samples"][task]
        assert [s["doc_id"] for s in mine] == [s["doc_id"] for s in reference]
        for ours, own in zip(mine, reference):
            assert loglikelihoods(ours) == pytest.approx(loglikelihoods(own), abs=1e-4)
            for metric in ("acc", "acc_norm", "exact_match"):
                assert ours.get(metric) == own.get(metric)
            if run.output_types[task] == "generate_until":
                assert ours["resps"] == own["resps"]
        for key, value in theirs["results"][task].items():
            if isinstance(value, float) and "stderr" not in key:
                assert run.results[variant][task][key] == pytest.approx(value, rel=1e-4), key


DEMO_LIMIT = 2


def test_the_demo_adapters_on_smollm2_match_lm_eval_with_peft(tmp_path):
    """The embedded SmolLM2 with the demo adapters (LoRA pirate and json_answer, DoRA bullets): our one-base route
    against lm-eval's own ``HFLM(pretrained=<the dequantized folder>, peft=<the adapter>)``, per item."""
    import lm_eval
    from app_server import CACHE
    from lm_eval.models.huggingface import HFLM
    from lm_eval.tasks import TaskManager

    from adapters_ui.adapters import demo
    from adapters_ui.config import Settings
    from adapters_ui.model.base import dequantized_folder, embedded_gguf_path
    from adapters_ui.session import Session

    session = Session.start(Settings(cache_dir=CACHE, demo=False))
    adapters = {info.name: Path(info.path) for info in demo.attach_demo_adapters(session)}
    ours = run_benchmark(session.backend, session.turns, list(SHIPPED_TASKS), ["base", *adapters], limit=DEMO_LIMIT)
    folder, _ = dequantized_folder(embedded_gguf_path(), CACHE)
    manager = TaskManager(include_path=str(resolved_folder(SHIPPED, tmp_path / "tasks")), include_defaults=False)
    for variant in ["base", *adapters]:
        lm = HFLM(pretrained=str(folder), peft=None if variant == "base" else str(adapters[variant]), device="cpu",
                  dtype=str(session.base.model.dtype).removeprefix("torch."), batch_size=8)
        theirs = lm_eval.simple_evaluate(model=lm, tasks=list(SHIPPED_TASKS), task_manager=manager, limit=DEMO_LIMIT,
                                         log_samples=True)
        for task in SHIPPED_TASKS:
            for mine, own in zip(ours.samples[variant][task], theirs["samples"][task], strict=True):
                assert loglikelihoods(mine) == pytest.approx(loglikelihoods(own), abs=1e-4), (variant, task)
                assert [mine.get(m) for m in ("acc", "acc_norm", "exact_match")] == \
                    [own.get(m) for m in ("acc", "acc_norm", "exact_match")], (variant, task)
                assert mine["resps"] == own["resps"] or ours.output_types[task] != "generate_until"
    assert ours.samples["pirate"]["adapters_ui_general_text"] != ours.samples["base"]["adapters_ui_general_text"]


def test_the_adapters_change_the_scores_and_the_base_is_not_reloaded_or_changed(our_run):
    """The parity above is not vacuous (each adapter moves the log-likelihoods), and after the run
    the session's base weights are exactly as loaded (adapters mounted and unmounted, never merged)."""
    session, run, weights = our_run
    base = [ll for s in run.samples["base"]["adapters_ui_general_text"] for ll in loglikelihoods(s)]
    for name in ADAPTERS:
        own = [ll for s in run.samples[name]["adapters_ui_general_text"] for ll in loglikelihoods(s)]
        assert max(abs(a - b) for a, b in zip(own, base)) > 1e-3, name
    session.backend._unmount()
    after = session.base.model.state_dict()
    assert set(after) == set(weights)
    assert all((after[k] == weights[k]).all() for k in weights)


def test_the_run_holds_lm_eval_keys_records_and_verdicts(our_run):
    _, run, _ = our_run
    document = run.to_json()
    assert set(document["results"]) == {"base", *ADAPTERS}
    assert {"acc,none", "acc_stderr,none", "acc_norm,none"} <= set(document["results"]["lora"]["adapters_ui_arith_mc"])
    assert "bits_per_byte,none" in document["results"]["ia3"]["adapters_ui_general_text"]
    assert "exact_match,none" in document["results"]["dora"]["adapters_ui_units_gen"]
    records = run.records()
    assert len(records) == 4 * 3 * LIMIT
    verdicts = document["verdicts"]
    assert {(v["variant"], v["slice"], v["metric"]) for v in verdicts} == {
        (name, f"category:{task}", metric) for name in ADAPTERS for task, metrics in (
            ("adapters_ui_arith_mc", ("acc", "acc_norm", "loglikelihood")), ("adapters_ui_units_gen", ("exact_match",)),
            ("adapters_ui_general_text", ("loglikelihood", "bits_per_byte"))) for metric in metrics}
    json.dumps(document)  # plain JSON


def test_a_benchmark_waits_for_the_model_turn_a_visitor_holds(our_run):
    """Background work: no forward pass of the benchmark runs while somebody else holds the model."""
    session, _, _ = our_run
    done = threading.Event()
    with session.turns.turn():
        worker = threading.Thread(target=lambda: (run_benchmark(session.backend, session.turns, ["adapters_ui_arith_mc"],
                                                                ["lora"], limit=2), done.set()))
        worker.start()
        time.sleep(2.0)
        assert not done.is_set()
    worker.join(timeout=120)
    assert done.is_set()


# ---- the command ---------------------------------------------------------------------------------


def test_bench_command_end_to_end(tiny_base_dir, tiny_adapters, tmp_path, monkeypatch, capsys):
    """From another working directory (the shipped tasks' data_files are relative), --limit 3, --json."""
    monkeypatch.chdir(tmp_path)
    out = tmp_path / "out" / "bench.json"
    code = main(["bench", "--tasks", "adapters_ui_arith_mc,adapters_ui_general_text", "--limit", "3", "--num-fewshot", "1",
                 "--base", str(tiny_base_dir),
                 "--adapter", f"lora={tiny_adapters['lora']}", "--adapter", f"prompt={tiny_adapters['prompt']}", "--json", str(out)])
    printed = capsys.readouterr()
    assert code == 0, printed.err
    document = json.loads(out.read_text())
    assert document["variants"] == ["base", "lora"]  # prompt learning left out by default, and said so
    assert "skipping prompt-learning adapters prompt" in printed.err
    assert document["results"]["lora"]["adapters_ui_arith_mc"]["acc,none"] in (0.0, 1 / 3, 2 / 3, 1.0)
    assert {v["slice"] for v in document["verdicts"]} == {"category:adapters_ui_arith_mc", "category:adapters_ui_general_text"}
    assert "paired verdicts against base" in printed.out
    assert document["n_shot"]["adapters_ui_arith_mc"] == 1
    assert f"benchmark: {document['evaluation']}" in printed.err  # stored as an evaluation: ?evaluation=ID opens it


@pytest.mark.parametrize("argv, expected_error", [
    (["--tasks", "no_such_task"], "Unknown task 'no_such_task'"),
    (["--tasks", "adapters_ui_arith_mc", "--variants", "base,nobody"], "Unknown variant 'nobody'"),
    (["--tasks", "adapters_ui_arith_mc", "--variants", "base,prompt"], "is prompt learning"),
    (["--tasks", "adapters_ui_arith_mc", "--variants", "lora", "--limit", "1"], "Baseline 'base' is not among the variants"),
    (["--tasks", "adapters_ui_arith_mc", "--limit", "0"], "--limit 0.0 is not positive"),
])
def test_bench_command_refusals_are_one_line(tiny_base_dir, tiny_adapters, capsys, argv, expected_error):
    extra = [] if "--limit" in argv else ["--limit", "1"]
    code = main(["bench", *argv, *extra, "--base", str(tiny_base_dir), "--adapter", f"lora={tiny_adapters['lora']}",
                 "--adapter", f"prompt={tiny_adapters['prompt']}"])
    err = capsys.readouterr().err.strip().splitlines()
    assert code == 1
    assert expected_error in err[-1] and err[-1].startswith("error: ")


def test_without_lm_eval_the_command_says_how_to_install_it(monkeypatch, capsys):
    """lm_eval not importable: one line with the install command, before any model loads."""
    import adapters_ui.session

    monkeypatch.setitem(sys.modules, "lm_eval", None)  # `import lm_eval` now fails as if it were not installed
    monkeypatch.setattr(adapters_ui.session.Session, "start", lambda *a, **k: pytest.fail("the model was loaded"))
    code = main(["bench", "--tasks", "adapters_ui_arith_mc"])
    err = capsys.readouterr().err
    assert code == 1
    assert err.count("\n") == 1 and err.startswith("error: ")
    assert 'pip install "adapters-ui[bench]"' in err
    with pytest.raises(BenchDependencyError):
        run_benchmark(object(), None, ["adapters_ui_arith_mc"], ["base"])


# ---- records -> verdicts, worked by hand ----------------------------------------------------------


def hand_samples() -> tuple[dict, dict]:
    """A 10-item multiple-choice task and a 3-passage rolling task, base and tuned.

    mc: base right on items 0-1, tuned on 0-8 → 7 discordant pairs, all for tuned: exact McNemar
        p = 2 · 0.5^7 = 1/64. Gold log-likelihood: base −2, tuned −2 + 0.1·(i+1): ten distinct positive
        differences, exact Wilcoxon p = 2/2^10.
    rolling: passage log-likelihoods base −100, −200, −300, tuned −90, −180, −270 (100 bytes each):
        three positive differences, Wilcoxon p = 2/2^3 = 0.25; bits per byte differ by −0.1, −0.2, −0.3 · 1/ln 2,
        p = 0.25 too.
    Holm over the four: 2/1024 · 4, 1/64 · 3 = 0.046875, then 0.25 · 2 = 0.5 for both rolling ones.
    """
    def mc(variant):
        rows = []
        for i in range(10):
            right = i < 2 if variant == "base" else i < 9
            gold = -2.0 if variant == "base" else -2.0 + 0.1 * (i + 1)
            responses = [(gold, right), (gold - 1 if right else gold + 1, False)]
            rows.append({"doc_id": i, "doc": {"id": f"q{i}"}, "target": 0, "filtered_resps": responses,
                         "metrics": ["acc"], "acc": float(right)})
        return rows

    def rolling(variant):
        lls = [-100.0, -200.0, -300.0] if variant == "base" else [-90.0, -180.0, -270.0]
        return [{"doc_id": i, "doc": {"text": "x"}, "filtered_resps": [ll], "bits_per_byte": (ll, 100)} for i, ll in enumerate(lls)]

    samples = {v: {"mc": mc(v), "text": rolling(v)} for v in ("base", "tuned")}
    return samples, {"mc": "multiple_choice", "text": "loglikelihood_rolling"}


def test_records_carry_lm_eval_per_item_values():
    samples, types = hand_samples()
    records = item_records(samples, types)
    first = records[0]
    assert (first["id"], first["category"], first["variant"], first["sample"]) == ("mc/q0", "mc", "base", 0)
    assert first["scores"] == {"acc": 1.0, "loglikelihood": -2.0}
    rolling = [r for r in records if r["category"] == "text" and r["variant"] == "tuned"]
    assert [r["id"] for r in rolling] == ["text/0", "text/1", "text/2"]
    assert rolling[1]["scores"] == pytest.approx({"loglikelihood": -180.0, "bits_per_byte": 180 / (100 * math.log(2))})


def test_verdicts_from_records_match_the_hand_worked_case():
    samples, types = hand_samples()
    verdicts = benchmark_verdicts(item_records(samples, types))
    got = {(v["slice"], v["metric"]): v for v in verdicts}
    assert list(got) == [("category:mc", "acc"), ("category:mc", "loglikelihood"),
                         ("category:text", "loglikelihood"), ("category:text", "bits_per_byte")]
    acc = got["category:mc", "acc"]
    assert (acc["test"], acc["n"], acc["mean"], acc["baseline_mean"]) == ("mcnemar", 10, 0.9, 0.2)
    assert acc["p_value"] == pytest.approx(1 / 64) and acc["p_holm"] == pytest.approx(3 / 64)
    assert acc["verdict"] == "better"
    ll = got["category:mc", "loglikelihood"]
    assert (ll["test"], ll["p_value"], ll["p_holm"], ll["verdict"]) == ("wilcoxon", pytest.approx(2 / 1024), pytest.approx(8 / 1024), "better")
    assert ll["difference"] == pytest.approx(0.55)
    for metric, difference in (("loglikelihood", 20.0), ("bits_per_byte", -0.2 / math.log(2))):
        row = got["category:text", metric]
        assert (row["p_value"], row["p_holm"], row["verdict"]) == (pytest.approx(0.25), pytest.approx(0.5), "no evidence")
        assert row["difference"] == pytest.approx(difference)


@pytest.mark.parametrize("samples, types, expected_error", [
    ({"base": {"t": []}}, {}, "task 't' has no output type"),
    ({"base": {"t": [{"doc_id": 0, "filtered_resps": [-1.0]}]}}, {"t": "loglikelihood_rolling"}, None),
])
def test_item_records_refusals(samples, types, expected_error):
    from adapters_ui.errors import StatisticsError

    if expected_error is None:
        assert item_records(samples, types)[0]["scores"] == {"loglikelihood": -1.0}
    else:
        with pytest.raises(StatisticsError, match=expected_error):
            item_records(samples, types)
