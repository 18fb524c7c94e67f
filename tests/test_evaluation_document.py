"""The evaluation document: the EVAL_SPEC keys, a baseline variant or another evaluation (v1 against v2, with the
regressed items and both outputs), and the gate on it (fake backend: "lora says ..." passes, "v2 says ..." fails)."""

from __future__ import annotations

import json

import pytest
from helpers import write_jsonl

from adapters_ui.analysis.gate import gate
from adapters_ui.errors import StatisticsError
from adapters_ui.runs.evaluation_document import evaluation_document, split_baseline
from adapters_ui.views.evaluation_items import regressed_items_html, regressions

ITEM_KEYS = {"id", "category", "tags", "variant", "sample", "output", "checks", "scores"}
VERDICT_KEYS = {"variant", "metric", "slice", "baseline", "mean", "difference", "low", "high", "p_value", "p_holm", "verdict"}
METRICS = {"checks", "exact_match", "contains", "rouge_l", "reference_perplexity", "output_tokens", "cut_off", "latency_s"}


@pytest.fixture
def two_versions(fake_session, fake_adapters, db, tmp_path):
    """v1 (named lora) passes "contains: lora says" on every item; v2 fails it on every item."""
    rows = [{"id": f"q{i}", "prompt": f"question {i}", "category": "a" if i % 2 else "b", "tags": ["t"] if i < 4 else [],
             "reference": f"lora says question {i}", "checks": [{"type": "contains", "value": "lora says"}]}
            for i in range(14)]
    path = write_jsonl(tmp_path / "set.jsonl", rows)
    fake_session.attach(fake_adapters["lora"], "lora")
    fake_session.attach(fake_adapters["lora_b"], "v2")
    first, v1 = fake_session.start_evaluation(db, path, ["base", "lora"])
    second, v2 = fake_session.start_evaluation(db, path, ["base", "v2"])
    assert first.wait(30) and second.wait(30)
    return v1.id, v2.id


def test_the_document_has_the_spec_s_keys_and_names(two_versions, db):
    v1, _ = two_versions
    document = evaluation_document(db, v1)
    assert document["id"] == v1 and document["baseline"] == "base" and document["status"] == "finished"
    assert len(document["items"]) == 14 * 2 and all(set(r) == ITEM_KEYS for r in document["items"])
    assert {m for r in document["items"] for m in r["scores"]} == METRICS
    assert all(VERDICT_KEYS <= set(r) for r in document["verdicts"])
    slices = {r["slice"] for r in document["verdicts"]}
    assert slices == {None, "category:a", "category:b", "tag:t"}
    [checks] = [r for r in document["verdicts"] if r["metric"] == "checks" and r["slice"] is None]
    assert checks["variant"] == "lora" and checks["mean"] == 1.0 and checks["baseline_mean"] == 0.0
    assert checks["verdict"] == "better" and checks["test"] == "mcnemar"
    assert checks["p_value"] == pytest.approx(2 * 0.5**14)
    json.dumps(document, allow_nan=False)


def test_another_evaluation_as_the_baseline_shows_regressed_items_with_both_outputs(two_versions, db):
    v1, v2 = two_versions
    document = evaluation_document(db, v2, baseline=f"{v1}/lora")
    assert document["baseline"] == f"evaluation:{v1}/lora"
    [checks] = [r for r in document["verdicts"] if r["metric"] == "checks" and r["slice"] is None and r["variant"] == "v2"]
    assert checks["verdict"] == "worse" and checks["difference"] == -1.0
    [versions] = [v for v in document["versions"] if v["variant"] == "v2"]
    assert versions["regressed"] == 14 and versions["test"] == "mcnemar"
    first = versions["items"][0]
    assert first["change"] == "regressed" and first["old_output"].startswith("lora says") and first["new_output"].startswith("v2 says")
    assert set(regressions(document)) == {f"q{i}" for i in range(14)}
    html = regressed_items_html(document)
    assert ">lora</del>" in html and ">v2</ins>" in html  # both outputs, with the word diff
    decision = gate(document["verdicts"], "v2", document["baseline"], max_drop=0.02)
    assert not decision.passed and decision.reason.startswith("v2 is worse than evaluation:")


def test_the_other_evaluation_s_only_adapter_is_its_baseline_variant(two_versions, db):
    v1, v2 = two_versions
    assert evaluation_document(db, v2, baseline=v1)["baseline"] == f"evaluation:{v1}/lora"


@pytest.mark.parametrize("baseline, words", [
    ("nope", "is not a variant of this evaluation"),
])
def test_a_bad_baseline_is_one_line(two_versions, db, baseline, words):
    with pytest.raises(StatisticsError, match=words):
        evaluation_document(db, two_versions[0], baseline=baseline)


@pytest.mark.parametrize("text, expected", [
    ("base", (None, "base")), ("pirate", (None, "pirate")),
    ("A" * 22, ("A" * 22, None)), ("A" * 22 + "/pirate", ("A" * 22, "pirate")),
])
def test_split_baseline(text, expected):
    assert split_baseline(text) == expected
