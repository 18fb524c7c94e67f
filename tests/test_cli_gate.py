"""`adapters-ui gate`: exit 0 or 1 with the one-line reason (or --json), and the evaluations it refuses, in one line.

The stored evaluations are written directly (``create_evaluation`` + ``write_outputs``): no model. Their
scores are made so the verdicts can be worked by hand. 24 items; the base passes every item's checks;
``same`` passes them all too (difference 0); ``drifted`` fails one (-1/24 = -0.0417; exact McNemar on one
discordant pair: p = 1, no evidence); ``worse`` passes 8 (-16/24 = -0.667; 16 discordant pairs, all one
way: p = 2 * 0.5**16 = 3.1e-5, worse).
"""

from __future__ import annotations

import json

import pytest

from adapters_ui.cli.main import main
from adapters_ui.store import Database
from adapters_ui.store.evaluations import FINISHED, create_evaluation, set_status, write_outputs

ITEMS = 24
PASSES = {"base": ITEMS, "same": ITEMS, "drifted": ITEMS - 1, "worse": 8}  # variant -> items whose checks pass


@pytest.fixture
def db_url(tmp_path) -> str:
    return f"sqlite:///{tmp_path / 'store.db'}"


def store_evaluation(db_url: str, variants: dict[str, int], finished: bool = True) -> str:
    """A stored evaluation of ITEMS items; variant -> how many of the first items pass their check."""
    db = Database.open(db_url)
    try:
        items = [{"id": f"q{i:02d}", "prompt": f"question {i}", "category": "even" if i % 2 == 0 else "odd",
                  "tags": [], "checks": [{"type": "contains", "value": "yes", "name": "contains:yes"}]}
                 for i in range(ITEMS)]
        ref = create_evaluation(db, base_model="tiny", set_name="set.jsonl", set_sha256="", variants=list(variants),
                                samples=1, batch_items=8, settings={}, items=items)
        rows = []
        for position in range(ITEMS):
            for variant, passes in variants.items():
                passed = position < passes
                rows.append({"position": position, "variant": variant, "sample": 0, "output": "yes" if passed else "no",
                             "checks": {"contains:yes": passed},
                             "scores": {"checks": float(passed), "exact_match": None, "contains": None, "rouge_l": None,
                                        "reference_perplexity": None, "output_tokens": 1, "cut_off": 0.0,
                                        "latency_s": 0.1}})
        write_outputs(db, ref.id, rows)
        if finished:
            set_status(db, ref.id, FINISHED)
        return ref.id
    finally:
        db.close()


@pytest.fixture
def evaluation(db_url) -> str:
    return store_evaluation(db_url, PASSES)


def gate(evaluation_id: str, db_url: str, capsys, *flags: str) -> tuple[int, str, str]:
    code = main(["gate", evaluation_id, "--database", db_url, *flags])
    captured = capsys.readouterr()
    return code, captured.out, captured.err


@pytest.mark.parametrize("flags, code, line", [
    (["--candidate", "same"], 0,
     "pass: same is not significantly worse than base on checks: 1.00 vs 1.00 (difference +0.00, 95% CI "
     "0.00..0.00, p_holm 1, 24 items)"),
    (["--candidate", "drifted"], 0, "pass: drifted is not significantly worse than base on checks: 0.958 vs 1.00 "
     "(difference -0.0417"),
    (["--candidate", "drifted", "--max-drop", "0.05"], 0,
     "pass: drifted is not significantly worse than base on checks, within the allowed drop of 0.0500: 0.958 vs 1.00"),
    (["--candidate", "drifted", "--max-drop", "0.02"], 1,
     "FAIL: drifted falls 0.0417 behind base on checks, more than the allowed 0.0200 (not significant): 0.958 vs 1.00"),
    (["--candidate", "worse"], 1, "FAIL: worse is worse than base on checks: 0.333 vs 1.00 (difference -0.667, 95% CI"),
    (["--candidate", "base", "--baseline", "worse"], 0,  # the other way round: better
     "pass: base is better than worse on checks: 1.00 vs 0.333 (difference +0.667"),
    (["--candidate", "worse", "--metric", "output_tokens"], 1, "error: output_tokens has no better side, so it cannot "
     "gate: pick one of checks,"),
    (["--candidate", "worse", "--metric", "latency_s"], 0, "pass: worse is not significantly worse than base on "
     "latency_s: 0.100 vs 0.100"),
])
def test_gate_exit_code_and_reason(evaluation, db_url, capsys, flags, code, line):
    got, out, err = gate(evaluation, db_url, capsys, "--baseline", "base", *flags)
    printed = out if got == 0 or line.startswith("FAIL") else err
    assert got == code
    assert printed.startswith(line) and printed.count("\n") == 1, printed
    if line.startswith("pass: same"):
        assert printed == line + "\n"


def test_gate_json_is_the_decision(evaluation, db_url, capsys):
    code, out, err = gate(evaluation, db_url, capsys, "--baseline", "base", "--candidate", "worse", "--json")
    assert code == 1 and err == ""
    decision = json.loads(out)
    assert set(decision) == {"evaluation", "passed", "reason", "max_drop", "record"}
    assert decision["evaluation"] == evaluation and decision["passed"] is False and decision["max_drop"] is None
    assert decision["reason"].startswith("worse is worse than base on checks: 0.333 vs 1.00")
    record = decision["record"]
    assert (record["variant"], record["baseline"], record["metric"], record["slice"]) == ("worse", "base", "checks", None)
    assert record["n"] == ITEMS and record["test"] == "mcnemar" and record["verdict"] == "worse"
    assert record["mean"] == pytest.approx(8 / 24) and record["difference"] == pytest.approx(-16 / 24)
    assert record["p_value"] == pytest.approx(2 * 0.5**16)  # exact McNemar, worked by hand


def test_gate_passes_with_json_and_max_drop(evaluation, db_url, capsys):
    code, out, _ = gate(evaluation, db_url, capsys, "--baseline", "base", "--candidate", "drifted", "--max-drop",
                        "0.05", "--json")
    decision = json.loads(out)
    assert code == 0 and decision["passed"] is True and decision["max_drop"] == 0.05
    assert decision["record"]["p_value"] == pytest.approx(1.0) and decision["record"]["verdict"] == "no evidence"


def test_gate_against_another_evaluation(db_url, capsys):
    """v2's candidate against v1's stored evaluation of the same items (the baseline given as ID/VARIANT)."""
    v1 = store_evaluation(db_url, {"base": ITEMS, "adapter": ITEMS})
    v2 = store_evaluation(db_url, {"base": ITEMS, "adapter": 8})
    code, out, _ = gate(v2, db_url, capsys, "--baseline", f"{v1}/adapter", "--candidate", "adapter")
    assert code == 1
    assert out.startswith(f"FAIL: adapter is worse than evaluation:{v1}/adapter on checks: 0.333 vs 1.00")
    code, out, _ = gate(v2, db_url, capsys, "--baseline", v1, "--candidate", "base")  # the same-named variant of v1
    assert code == 0 and out.startswith(f"pass: base is not significantly worse than evaluation:{v1}/base on checks")


@pytest.mark.parametrize("evaluation_id, flags, error", [
    ("{unfinished}", ["--candidate", "worse"], "error: Evaluation {unfinished} is running, not finished: the gate "
     "judges finished evaluations only (finish it with `adapters-ui evaluate --resume {unfinished}`)."),
    ("{evaluation}", ["--candidate", "nope"], "error: Candidate 'nope' is not a variant of evaluation {evaluation}: "
     "choose from base, same, drifted, worse."),
    ("{evaluation}", ["--candidate", "worse", "--baseline", "nope"], "error: Baseline 'nope' is not a variant of this "
     "evaluation: choose from base, same, drifted, worse, or give another evaluation's id."),
    ("{evaluation}", ["--candidate", "worse", "--metric", "bleu"], "error: unknown metric 'bleu': use one of checks,"),
    ("{evaluation}", ["--candidate", "worse", "--max-drop", "-0.1"], "error: max_drop must be 0 or more"),
    ("AAAAAAAAAAAAAAAAAAAAAA", ["--candidate", "worse"], "error: No evaluation has the id 'AAAAAAAAAAAAAAAAAAAAAA': "
     "check the link, or list them with `adapters-ui evaluations`."),
    ("not-an-id", ["--candidate", "worse"], "error: 'not-an-id' is not an evaluation id"),
])
def test_gate_refuses_in_one_line(evaluation, db_url, capsys, evaluation_id, flags, error):
    unfinished = store_evaluation(db_url, PASSES, finished=False)
    names = {"evaluation": evaluation, "unfinished": unfinished}
    flags = flags if "--baseline" in flags else ["--baseline", "base", *flags]
    code, out, err = gate(evaluation_id.format(**names), db_url, capsys, *flags)
    assert code == 1 and out == ""
    assert err.startswith(error.format(**names)) and err.count("\n") == 1, err


def test_evaluations_lists_them_newest_first(evaluation, db_url, capsys):
    unfinished = store_evaluation(db_url, {"base": ITEMS}, finished=False)
    assert main(["evaluations", "--database", db_url]) == 0
    lines = capsys.readouterr().out.splitlines()
    assert lines[0].split() == ["id", "created", "status", "set", "items", "variants", "samples"]
    assert [line.split()[0] for line in lines[1:]] == [unfinished, evaluation]
    assert lines[1].split()[2:] == ["running", "set.jsonl", "24", "base", "1"]
    assert lines[2].split()[2:] == ["finished", "set.jsonl", "24", "base,same,drifted,worse", "1"]
