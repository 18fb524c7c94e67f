"""The trainer really learns: loss falls, the adapter generalises to unseen prompts, the card is written."""

from __future__ import annotations

import json

import pytest
from helpers import save_tiny_base

from adapters_ui.adapters.training import TrainConfig, encode_pair, read_pairs
from adapters_ui.cli.main import main
from adapters_ui.config import Settings
from adapters_ui.errors import ConfigError, PromptError
from adapters_ui.session import Session

TRAIN_WORDS = ["apple", "river", "stone", "cloud", "green", "tiger", "paper", "music", "bread", "light", "chair", "ocean"]
HELD_OUT = ["window", "garden", "silver"]


@pytest.fixture(scope="module")
def learnable_base(tmp_path_factory):
    """A tiny Llama whose frozen lm_head is large enough for an adapter to reach confident answers."""
    return save_tiny_base(tmp_path_factory.mktemp("learnable"), init_range=0.2)


@pytest.fixture
def rule_data(tmp_path):
    """A rule to learn: whatever the prompt, answer 'ok!'."""
    path = tmp_path / "data.jsonl"
    path.write_text("\n".join(json.dumps({"prompt": w, "response": "ok!"}) for w in TRAIN_WORDS) + "\n")
    return path


@pytest.mark.parametrize("method, steps", [("lora", 60), ("ia3", 60), ("dora", 60)])
def test_train_learns_and_generalises(method, steps, rule_data, learnable_base, tmp_path, capsys):
    out = tmp_path / method
    argv = ["train", "--base", str(learnable_base), "--data", str(rule_data), "--output", str(out),
            "--method", method, "--rank", "8", "--targets", "q_proj", "v_proj", "down_proj",
            "--steps", str(steps), "--batch-size", "4", "--log-every", "20"]
    argv += ["--learning-rate", "0.05" if method == "ia3" else "0.01"]  # a tiny random model needs big steps
    assert main(argv) == 0
    printed = capsys.readouterr().out
    assert "step   20/" in printed and "saved" in printed
    losses = json.loads((out / "training_log.json").read_text())["losses"]
    assert len(losses) == steps
    assert sum(losses[-6:]) / 6 < 0.5 * sum(losses[:6]) / 6, "loss must fall by half"
    card = (out / "README.md").read_text()
    assert "## Reproduce" in card and f"--method {method}" in card and "Loss:" in card

    session = Session.start(Settings(base_model=str(learnable_base), cache_dir=tmp_path / "cache"))
    session.attach(out, "trained")
    result = session.compare(HELD_OUT, settings=session.generation_settings(max_new_tokens=3))
    assert result.outputs("trained") != result.outputs("base"), "the adapter changes unseen prompts' answers"
    assert result.outputs("trained").count("ok!") >= 2, "and answers them by the learned rule"


def test_encode_pair_masks_the_prompt(tiny_session):
    tokenizer = tiny_session.base.tokenizer
    ids, labels = encode_pair(tokenizer, "hi", "yo", 256)
    answer = [i for i, label in zip(ids, labels) if label != -100]
    assert tokenizer.decode(answer) == "yo<|im_end|>"
    assert len(ids) == len(labels)


@pytest.mark.parametrize(
    "content, words",
    [("", "holds no training pairs"), ("{bad\n", "line 1 is not valid JSON"), ('{"prompt": "a"}\n', 'needs non-empty "prompt" and "response"')],
)
def test_bad_training_data(content, words, tmp_path):
    path = tmp_path / "d.jsonl"
    path.write_text(content)
    with pytest.raises(PromptError, match=words):
        read_pairs(path)


def test_bad_train_config(tmp_path):
    with pytest.raises(ConfigError, match="Unknown method"):
        TrainConfig(data=tmp_path, output=tmp_path, method="magic")
