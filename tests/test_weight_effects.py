"""What an adapter changed in the weights: the norms from the small factors equal the Frobenius
norm of PEFT's own full ΔW, on plain and on injected base models, and the heatmap and CLI show them."""

from __future__ import annotations

import copy

import pytest
import torch
from helpers import make_adapter

from adapters_ui.adapters.validation import read_adapter
from adapters_ui.adapters.weight_effects import effective_rank, weight_effects
from adapters_ui.analysis.weights import ModuleEffect, WeightEffects
from adapters_ui.cli.main import main
from adapters_ui.config import Settings
from adapters_ui.errors import AdapterError
from adapters_ui.session import Session
from adapters_ui.views.charts import NO_WEIGHT_EFFECTS, weight_heatmap_figure

TIGHT = 1e-5  # the factor route against PEFT's float32 ΔW
SPECTRUM = 1e-4  # effective rank against svdvals of that float32 matrix (its tiny noise singular values)


@pytest.fixture(scope="module")
def base(tiny_base_dir):
    from transformers import AutoModelForCausalLM

    return AutoModelForCausalLM.from_pretrained(tiny_base_dir).eval().requires_grad_(False)


@pytest.fixture(scope="module")
def more_adapters(base, tmp_path_factory) -> dict:
    """Adapters the shared fixture lacks: per-module rank and alpha, decomposed LoKr factors, prefix tuning."""
    from peft import LNTuningConfig, LoKrConfig, LoraConfig, PrefixTuningConfig

    causal = {"task_type": "CAUSAL_LM"}
    configs = {
        "pattern": LoraConfig(r=4, lora_alpha=8, target_modules=["q_proj", "v_proj"], init_lora_weights=False,
                              rank_pattern={"v_proj": 2, "layers.1.self_attn.q_proj": 6}, alpha_pattern={"q_proj": 3},
                              **causal),
        "lokr_decomposed": LoKrConfig(r=2, alpha=4, decompose_both=True, target_modules=["q_proj", "v_proj"],
                                      init_weights=False, **causal),
        "prefix": PrefixTuningConfig(num_virtual_tokens=3, **causal),
        "ln_tuning": LNTuningConfig(target_modules=["input_layernorm"], **causal),
    }
    root = tmp_path_factory.mktemp("weight-adapters")
    return {name: make_adapter(base, config, root / name, seed=20 + i) for i, (name, config) in enumerate(configs.items())}


@pytest.fixture(scope="module")
def folders(tiny_adapters, more_adapters) -> dict:
    return {**tiny_adapters, **more_adapters}


def peft_deltas(base, folder) -> dict[str, torch.Tensor]:
    """{module path: ΔW} as PEFT computes it: ``get_delta_weight``, or for IA3 (which has none) the
    merged weight minus the original one."""
    from peft import PeftModel
    from peft.tuners.tuners_utils import BaseTunerLayer

    model = PeftModel.from_pretrained(copy.deepcopy(base), str(folder)).eval()
    deltas = {}
    for path, module in model.get_base_model().named_modules():
        if not isinstance(module, BaseTunerLayer):
            continue
        if hasattr(module, "get_delta_weight"):
            deltas[path] = module.get_delta_weight("default").detach()
        else:
            before = module.get_base_layer().weight.detach().clone()
            module.merge()
            deltas[path] = module.get_base_layer().weight.detach() - before
    return deltas


def spectrum_rank(delta: torch.Tensor) -> float:
    sigma = torch.linalg.svdvals(delta.double())
    p = sigma[sigma > 0] / sigma.sum()
    return float(torch.exp(-(p * p.log()).sum()))


@pytest.mark.parametrize("name", ["lora", "rslora", "dora", "pattern", "loha", "lokr", "lokr_decomposed"])
def test_low_rank_norms_and_spectra_equal_peft_full_delta(name, folders, base):
    spec = read_adapter(folders[name])
    effects = weight_effects(spec, base)
    deltas = peft_deltas(base, folders[name])
    assert [m.path for m in effects.modules] == list(deltas)  # every changed module, in the model's order
    for m in effects.modules:
        delta = deltas[m.path]
        assert m.norm == pytest.approx(float(torch.linalg.matrix_norm(delta.double())), rel=TIGHT)
        assert m.effective_rank == pytest.approx(spectrum_rank(delta), rel=SPECTRUM)
        weight = base.get_submodule(m.path).weight
        assert m.relative == pytest.approx(m.norm / float(torch.linalg.matrix_norm(weight)), rel=TIGHT)
        assert m.layer == int(m.path.split(".")[2]) and m.module == m.path.rsplit(".", 1)[1]
    assert "ΔW" in effects.quantity


def test_rank_and_alpha_patterns_are_resolved_per_module(folders, base):
    effects = weight_effects(read_adapter(folders["pattern"]), base)
    ranks = {m.path: m.rank for m in effects.modules}
    assert ranks == {
        "model.layers.0.self_attn.q_proj": 4, "model.layers.0.self_attn.v_proj": 2,
        "model.layers.1.self_attn.q_proj": 6, "model.layers.1.self_attn.v_proj": 2,
    }


def test_rslora_covers_every_linear_in_model_order(folders, base):
    effects = weight_effects(read_adapter(folders["rslora"]), base)
    assert "alpha/√r" in effects.quantity
    assert [m.module for m in effects.modules if m.layer == 0] == [
        "q_proj", "k_proj", "v_proj", "o_proj", "gate_proj", "up_proj", "down_proj"]
    assert {m.layer for m in effects.modules} == {0, 1} and {m.rank for m in effects.modules} == {8}


def test_ia3_norm_equals_its_merged_weight_change(folders, base):
    spec = read_adapter(folders["ia3"])
    effects = weight_effects(spec, base)
    deltas = peft_deltas(base, folders["ia3"])
    assert sorted(m.path for m in effects.modules) == sorted(deltas)
    for m in effects.modules:
        assert m.norm == pytest.approx(float(torch.linalg.matrix_norm(deltas[m.path].double())), rel=TIGHT)
        # the same, by hand: feed-forward down_proj scales inputs (columns), k and v scale outputs (rows)
        W = base.get_submodule(m.path).weight.double()
        scale = spec.state_dict[f"base_model.model.{m.path}.ia3_l"].double()
        assert scale.shape == ((1, W.shape[1]) if m.module == "down_proj" else (W.shape[0], 1))
        assert m.norm == pytest.approx(float(torch.linalg.matrix_norm(W * scale - W)), rel=TIGHT)
        assert m.rank is None and m.effective_rank is None and m.magnitude_change is None
    assert "diag(l-1)" in effects.quantity


def test_dora_magnitude_change_by_hand(folders, base):
    spec = read_adapter(folders["dora"])
    effects = weight_effects(spec, base)
    assert "DoRA" in effects.quantity
    for m in effects.modules:
        magnitude = spec.state_dict[f"base_model.model.{m.path}.lora_magnitude_vector"].double()  # [out]
        column_norms = torch.linalg.norm(base.get_submodule(m.path).weight.double(), dim=1)  # [out]
        expected = torch.linalg.norm(magnitude - column_norms) / torch.linalg.norm(column_norms)
        assert m.magnitude_change == pytest.approx(float(expected), rel=TIGHT) and m.magnitude_change > 0
    assert all(m.magnitude_change is None for m in weight_effects(read_adapter(folders["lora"]), base).modules)


@pytest.mark.parametrize("name, tokens", [("prompt", 4), ("ptuning", 4)])
def test_prompt_learning_one_row_per_virtual_token(name, tokens, folders, base):
    spec = read_adapter(folders[name])
    effects = weight_effects(spec, base)
    expected = torch.linalg.norm(spec.state_dict["prompt_embeddings"].double(), dim=1)
    typical = float(torch.linalg.norm(base.get_input_embeddings().weight.double(), dim=1).mean())
    assert len(effects.modules) == tokens == spec.config.num_virtual_tokens
    assert [m.module for m in effects.modules] == [f"token {i}" for i in range(tokens)]
    assert [m.norm for m in effects.modules] == pytest.approx(expected.tolist(), rel=TIGHT)
    assert [m.relative for m in effects.modules] == pytest.approx((expected / typical).tolist(), rel=TIGHT)
    assert all(m.layer is None and m.rank is None for m in effects.modules)


def test_prefix_tuning_reports_the_whole_prefix_vector(folders, base):
    spec = read_adapter(folders["prefix"])
    effects = weight_effects(spec, base)
    vectors = spec.state_dict["prompt_embeddings"]  # [3, layers*2*kv_hidden]
    assert len(effects.modules) == 3 and vectors.shape[1] > base.config.hidden_size
    assert [m.norm for m in effects.modules] == pytest.approx(torch.linalg.norm(vectors.double(), dim=1).tolist(), rel=TIGHT)
    assert all(m.relative is None for m in effects.modules)  # keys and values: no token embedding to set it against


def test_hand_worked_two_by_two_lora(tmp_path):
    """W = [[3, 0], [0, 4]], A = [[1, 0]], B = [[2], [0]], alpha = r = 1: ΔW = [[2, 0], [0, 0]],
    ||ΔW||_F = 2, one direction (effective rank 1), ||W||_F = 5 so relative 0.4."""
    from peft import LoraConfig, get_peft_model

    class TwoByTwo(torch.nn.Module):
        def __init__(self):
            super().__init__()
            self.proj = torch.nn.Linear(2, 2, bias=False)

    plain = TwoByTwo()
    with torch.no_grad():
        plain.proj.weight.copy_(torch.tensor([[3.0, 0.0], [0.0, 4.0]]))
    model = get_peft_model(copy.deepcopy(plain), LoraConfig(r=1, lora_alpha=1, target_modules=["proj"]))
    with torch.no_grad():
        model.base_model.model.proj.lora_A["default"].weight.copy_(torch.tensor([[1.0, 0.0]]))
        model.base_model.model.proj.lora_B["default"].weight.copy_(torch.tensor([[2.0], [0.0]]))
    model.save_pretrained(tmp_path / "two")
    effects = weight_effects(read_adapter(tmp_path / "two"), plain)
    assert effects.modules == (ModuleEffect(layer=None, module="proj", path="proj", norm=2.0, relative=0.4, rank=1,
                                            effective_rank=1.0, magnitude_change=None),)
    assert effects.table() == [{"layer": None, "module": "proj", "path": "proj", "norm": 2.0, "relative": 0.4,
                                "rank": 1, "effective_rank": 1.0, "magnitude_change": None}]


@pytest.mark.parametrize("sigma, expected", [([2.0, 0.0], 1.0), ([1.0, 1.0, 1.0, 1.0], 4.0), ([0.0, 0.0], 0.0)])
def test_effective_rank(sigma, expected):
    assert effective_rank(torch.tensor(sigma)) == pytest.approx(expected)


@pytest.mark.parametrize("name", ["lora", "dora", "ia3", "loha", "prompt"])
def test_same_numbers_when_the_base_holds_injected_layers(name, tiny_base_dir, tiny_adapters, base, tmp_path):
    session = Session.start(Settings(base_model=str(tiny_base_dir), cache_dir=tmp_path))
    session.attach(tiny_adapters[name], name)
    spec = session.registry.spec(name)
    mounted = weight_effects(spec, session.base.model)
    if name != "prompt":  # the backend mounted the family: PEFT layers sit in the base model itself
        assert hasattr(session.base.model.get_submodule(mounted.modules[0].path), "base_layer")
    assert [_numbers(m) for m in mounted.modules] == [_numbers(m) for m in weight_effects(spec, base).modules]


def _numbers(m: ModuleEffect) -> tuple:
    return (m.path, m.layer, m.module, m.rank, pytest.approx(m.norm, rel=TIGHT),
            None if m.relative is None else pytest.approx(m.relative, rel=TIGHT),
            None if m.effective_rank is None else pytest.approx(m.effective_rank, rel=TIGHT),
            None if m.magnitude_change is None else pytest.approx(m.magnitude_change, rel=TIGHT))


def test_a_peft_model_is_unwrapped(folders, base):
    from peft import PeftModel

    wrapped = PeftModel.from_pretrained(copy.deepcopy(base), str(folders["lokr"])).eval()
    spec = read_adapter(folders["lokr"])
    assert [m.norm for m in weight_effects(spec, wrapped).modules] == pytest.approx(
        [m.norm for m in weight_effects(spec, base).modules], rel=TIGHT)


def test_a_type_without_a_weight_view_is_one_line(folders, base):
    spec = read_adapter(folders["ln_tuning"])
    with pytest.raises(AdapterError, match=r"LN_TUNING: that type has no weight view yet") as caught:
        weight_effects(spec, base)
    assert "\n" not in str(caught.value)


# ---- heatmap ---------------------------------------------------------------------------
def test_heatmap_one_cell_per_layer_and_module(folders, base):
    fig = weight_heatmap_figure(weight_effects(read_adapter(folders["rslora"]), base))
    (heatmap,) = fig.data
    assert heatmap.type == "heatmap"
    assert list(heatmap.x) == ["q_proj", "k_proj", "v_proj", "o_proj", "gate_proj", "up_proj", "down_proj"]
    assert list(heatmap.y) == ["0", "1"] and fig.layout.yaxis.autorange == "reversed"  # layer 0 on top
    assert len(heatmap.z) == 2 and all(len(row) == 7 for row in heatmap.z)
    assert "rslora" in fig.layout.title.text and "ΔW" in fig.layout.title.text
    assert "model.layers.1.mlp.down_proj" in heatmap.hovertext[1][6] and "effective rank" in heatmap.hovertext[1][6]


def test_heatmap_leaves_untouched_modules_empty():
    def effect(layer, module, norm):
        return ModuleEffect(layer, module, f"model.layers.{layer}.self_attn.{module}", norm, 0.1, 2, 1.5, 0.3)

    effects = WeightEffects("pirate", "LORA", "||ΔW||_F", (effect(0, "q_proj", 1.0), effect(1, "v_proj", 2.0)))
    (heatmap,) = weight_heatmap_figure(effects).data
    assert list(heatmap.x) == ["q_proj", "v_proj"]
    assert [list(row) for row in heatmap.z] == [[1.0, None], [None, 2.0]]
    assert "DoRA magnitude change: 0.3" in heatmap.hovertext[0][0] and heatmap.hovertext[0][1] == ""


def test_heatmap_prompt_learning_is_one_row_of_tokens(folders, base):
    (heatmap,) = weight_heatmap_figure(weight_effects(read_adapter(folders["prompt"]), base)).data
    assert list(heatmap.x) == ["token 0", "token 1", "token 2", "token 3"]
    assert list(heatmap.y) == ["virtual tokens"] and len(heatmap.z) == 1 and len(heatmap.z[0]) == 4


def test_heatmap_without_effects_says_what_to_do():
    for effects in (None, WeightEffects("x", "LORA", "", ())):
        fig = weight_heatmap_figure(effects)
        assert not fig.data and fig.layout.annotations[0].text == NO_WEIGHT_EFFECTS


# ---- CLI -------------------------------------------------------------------------------
@pytest.mark.parametrize("name, rows, words", [
    ("dora", [["0", "q_proj"], ["0", "v_proj"], ["1", "q_proj"], ["1", "v_proj"]], ["DoRA", "magnitude change"]),
    ("prompt", [["token", str(i)] for i in range(4)], ["virtual token's embedding"]),
])
def test_cli_inspect_weights_prints_the_table(name, rows, words, tiny_base_dir, tiny_adapters, capsys):
    assert main(["inspect", str(tiny_adapters[name]), "--base", str(tiny_base_dir), "--weights"]) == 0
    out = capsys.readouterr().out
    assert "OK:" in out and "\n  weights: " not in out and "\nweights: " in out
    header = next(line for line in out.splitlines() if line.strip().startswith("layer"))
    assert header.split() == ["layer", "module", "norm", "relative", "rank", "effective", "rank", "magnitude", "change"]
    table = [line.split() for line in out.splitlines()[out.splitlines().index(header) + 1:]]
    assert [cells[:2] for cells in table] == rows
    if name == "dora":  # every number filled: norm, relative, rank, effective rank, magnitude change
        assert all(len(cells) == 7 for cells in table)
    else:  # only norm and relative: the rest blank
        assert all(len(cells) == 4 for cells in table)
    assert all(word in out for word in words)


def test_cli_inspect_without_weights_prints_no_table(tiny_base_dir, tiny_adapters, capsys):
    assert main(["inspect", str(tiny_adapters["lora"]), "--base", str(tiny_base_dir)]) == 0
    assert "weights:" not in capsys.readouterr().out
