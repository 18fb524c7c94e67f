"""The shipped demo adapters: attach to the embedded default, and each visibly does its job on held-out prompts."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from adapters_ui.adapters import demo
from adapters_ui.cli.main import main
from adapters_ui.config import Settings
from adapters_ui.runs.prompts import read_prompt_items, read_prompts
from adapters_ui.session import Session

pytestmark = pytest.mark.integration
ROOT = Path(__file__).resolve().parents[1]
CACHE = ROOT / ".cache" / "test-models"
HELD_OUT = [json.loads(line)["prompt"] for line in (ROOT / "assets" / "data" / "heldout.jsonl").read_text().splitlines() if line.strip()]


def is_pirate(text: str) -> bool:
    return text.startswith("Arr")


def is_json_answer(text: str) -> bool:
    try:
        return isinstance(json.loads(text).get("answer"), str)
    except (ValueError, AttributeError):
        return False


def is_bullets(text: str) -> bool:
    return text.startswith("- ")


CHECKS = {"pirate": is_pirate, "json_answer": is_json_answer, "bullets": is_bullets}


@pytest.fixture(scope="module")
def demo_session():
    session = Session.start(Settings(cache_dir=CACHE))
    demo.attach_demo_adapters(session)
    return session


@pytest.fixture(scope="module")
def comparison(demo_session):
    return demo_session, demo_session.compare(HELD_OUT, settings=demo_session.generation_settings(max_new_tokens=48))


def test_the_demo_set_is_there_and_small():
    folders = {f.name: f for f in demo.demo_adapter_folders()}
    assert set(folders) == set(CHECKS)
    for folder in folders.values():
        weights = folder / "adapter_model.safetensors"
        assert weights.stat().st_size < 10_000_000
        assert "## Reproduce" in (folder / "README.md").read_text()
    assert len(read_prompts(demo.DEMO_PROMPTS)) >= 6


@pytest.mark.parametrize("name", list(CHECKS))
def test_each_demo_adapter_does_its_job_on_held_out_prompts(name, comparison):
    session, result = comparison
    info = next(i for i in session.adapters() if i.name == name)
    assert info.base_match is True
    outputs = result.outputs(name)
    changed = sum(a != b for a, b in zip(outputs, result.outputs("base")))
    by_rule = sum(CHECKS[name](text) for text in outputs)
    print(f"\n{name}: {changed}/{len(outputs)} changed, {by_rule}/{len(outputs)} follow the rule; e.g. {outputs[0]!r}")
    assert changed >= 0.9 * len(outputs)
    assert by_rule >= 0.75 * len(outputs)
    assert not any(CHECKS[name](text) for text in result.outputs("base")), "the base must not already do it"


def test_the_demo_set_runs_in_one_decode_loop(comparison):
    """LoRA and DoRA rows share the base rows' batches: the demo click runs as few decode loops as rows allow."""
    session, result = comparison
    assert {info.route for info in session.adapters()} == {"mixed"}
    assert set(result.routes.values()) == {"mixed"}
    plan = session.backend.plan(list(result.variants), [r.prompt for r in result.results], result.settings)
    assert plan.rows == len(result.variants) * len(result.results)
    assert len(plan.batches) == -(-plan.rows // result.settings.batch_size)  # as few loops as the batch size allows
    assert all(batch.route == "mixed" and len(batch.variants) > 1 for batch in plan.batches)


def test_each_demo_adapter_leads_its_own_category_of_the_styles_set(demo_session):
    """On the styles set (held-out prompts, references in each demo style), each adapter finds its own style's
    references the least perplexing, far below the base. ROUGE-L is not asserted: the references are the
    base's own answers restyled, so the base's content overlaps them most and it often leads on ROUGE-L.
    The reference perplexity needs no output, so 8 new tokens keep this quick."""
    items = read_prompt_items(demo.PROMPT_SETS / "styles.jsonl")
    run = demo_session.start_compare([i.text for i in items], references=[i.reference for i in items],
                                     categories=[i.category for i in items],
                                     settings=demo_session.generation_settings(max_new_tokens=8))
    analysis = demo_session.analyze(run.result())
    boards = analysis.leaderboard_by_category()
    assert list(boards) == list(CHECKS)  # the styles, in the order they first appear
    for style, rows in boards.items():
        perplexity = {row["variant"]: row["perplexity"] for row in rows}
        print(f"\n{style}: reference perplexity {perplexity}; ROUGE-L leader {rows[0]['variant']}")
        assert all(row["prompts"] == 4 for row in rows)
        assert min(perplexity, key=perplexity.get) == style
        assert perplexity[style] < perplexity["base"] / 1.5  # by a margin, not a tie


def test_compare_with_no_arguments_uses_the_demo_set(tmp_path, monkeypatch):
    monkeypatch.setenv("ADAPTERS_UI_CACHE_DIR", str(CACHE))
    out = tmp_path / "demo.json"
    assert main(["compare", "--max-new-tokens", "8", "--json", str(out)]) == 0
    data = json.loads(out.read_text())
    assert data["variants"] == ["base", *sorted(CHECKS)]
    assert [r["prompt"] for r in data["results"]] == read_prompts(demo.DEMO_PROMPTS)


def test_another_base_starts_without_the_demo_set(tiny_settings):
    assert not demo.wants_demo(tiny_settings)
    assert demo.wants_demo(Settings()) and not demo.wants_demo(Settings(demo=False))
    assert demo.wants_demo(Settings(base_model="HuggingFaceTB/SmolLM2-135M-Instruct"))  # a Space loading it from the hub
