"""What an adapter changed in the base model's weights, per layer and module.

    effects = weight_effects(spec, session.base.model)
    effects.quantity      # '||ΔW||_F, with ΔW = (alpha/r)·B·A ...'
    effects.table()[0]    # {'layer': 0, 'module': 'q_proj', 'norm': 0.83, 'relative': 0.012, 'rank': 4, ...}

Each module gets the Frobenius norm of the update ΔW its adapter adds to the weight, and that
norm next to the weight's own (``relative``). Low-rank updates are measured from their small
factors and never formed: a 4096 x 4096 LoRA module costs an r x r QR, not 16 M numbers.

    LoRA, rsLoRA, DoRA   ΔW = scaling·B·A        ||ΔW||² = trace((BᵀB)(AAᵀ)), spectrum from the QR of B and Aᵀ
    IA3                  ΔW = W·diag(l-1)        (feed-forward: inputs scaled) or diag(l-1)·W (outputs scaled)
    LoHa                 ΔW = (w1a·w1b)⊙(w2a·w2b)·alpha/r, a product of two rank-r1·r2 factors (Khatri–Rao)
    LoKr                 ΔW = (w1⊗w2)·alpha/r    ||ΔW|| = ||w1||·||w2||, singular values σ(w1)·σ(w2)
    prompt learning      one row per virtual token: the L2 norm of its saved vector

The base model may hold injected PEFT layers of any family (the app mounts one at a time):
the plain weight is read through ``get_base_layer()``. Nothing here changes the model.
"""

from __future__ import annotations

import math
import re

import torch

from adapters_ui.adapters.validation import AdapterSpec
from adapters_ui.analysis.weights import ModuleEffect, WeightEffects
from adapters_ui.errors import AdapterError

SAVED_PREFIX = "base_model.model."  # PEFT's saved keys: base_model.model.<module path>.<adapter tensor>
LORA_TENSORS = ("lora_A.weight", "lora_B.weight", "lora_embedding_A", "lora_embedding_B", "lora_magnitude_vector")
IA3_TENSORS = ("ia3_l",)
LOHA_TENSORS = ("hada_w1_a", "hada_w1_b", "hada_w2_a", "hada_w2_b", "hada_t1", "hada_t2")
LOKR_TENSORS = ("lokr_w1", "lokr_w1_a", "lokr_w1_b", "lokr_w2", "lokr_w2_a", "lokr_w2_b", "lokr_t2")
PROMPT_TENSOR = "prompt_embeddings"  # [virtual tokens, hidden] (prefix tuning: [virtual tokens, layers*2*hidden])
_BLOCK_INDEX = re.compile(r"(?:^|\.)(?:layers|h|blocks|block|layer)\.(\d+)(?:\.|$)")  # model.layers.3.mlp -> 3


def weight_effects(spec: AdapterSpec, base_model: torch.nn.Module) -> WeightEffects:
    """Measure what ``spec`` changes in ``base_model`` (plain or holding injected PEFT layers)."""
    model = _plain_model(base_model)
    config = spec.config
    if getattr(config, "is_prompt_learning", False):
        quantity, modules = _prompt_effects(spec, model)
    elif spec.peft_type in _METHODS:
        names, describe, measure = _METHODS[spec.peft_type]
        grouped = _by_module(spec.state_dict, names)
        modules = _in_model_order(model, [measure(config, path, tensors, model) for path, tensors in grouped.items()])
        quantity = describe(config)
    else:
        raise AdapterError(f"Adapter {spec.name!r} is {spec.peft_type}: that type has no weight view yet "
                           "(LoRA, DoRA, IA3, LoHa, LoKr and prompt learning have one).")
    return WeightEffects(spec.name, spec.peft_type, quantity, tuple(modules))


# ---- where things are ------------------------------------------------------------------
def _plain_model(model: torch.nn.Module) -> torch.nn.Module:
    """The transformers model under a PeftModel (paths in saved keys are relative to it)."""
    if hasattr(model, "peft_config") and hasattr(model, "get_base_model"):
        return model.get_base_model()
    return model


def _by_module(state_dict: dict[str, torch.Tensor], names: tuple[str, ...]) -> dict[str, dict[str, torch.Tensor]]:
    """{module path: {tensor name: tensor}} for the saved keys ending in one of ``names``; other keys
    (modules_to_save copies, trainable tokens) are not low-rank updates and are left out."""
    grouped: dict[str, dict[str, torch.Tensor]] = {}
    for key, tensor in state_dict.items():
        for name in names:
            if key.endswith("." + name):
                path = key[: -len(name) - 1].removeprefix(SAVED_PREFIX)
                grouped.setdefault(path, {})[name] = tensor
                break
    return grouped


def _in_model_order(model: torch.nn.Module, effects: list[ModuleEffect]) -> list[ModuleEffect]:
    """Sort by position in ``model.named_modules()`` (q, k, v, o, gate, up, down; layer 2 before 10),
    not by the saved keys' alphabetical order; paths the model lacks go last."""
    order = {name: i for i, (name, _) in enumerate(model.named_modules())}
    return sorted(effects, key=lambda e: order.get(e.path, len(order)))


def _layer_of(path: str) -> int | None:
    match = _BLOCK_INDEX.search(path)
    return int(match.group(1)) if match else None


def _short_name(path: str) -> str:
    return path.rsplit(".", 1)[-1]


def _base_weight(model: torch.nn.Module, path: str) -> torch.Tensor | None:
    """The plain (dequantized) weight of the module at ``path``, as stored: [out, in] for nn.Linear,
    [in, out] for a fan_in_fan_out Conv1D. None when the model has no such module."""
    from peft.utils.integrations import dequantize_module_weight

    try:
        module = model.get_submodule(path)
    except AttributeError:
        return None
    if hasattr(module, "get_base_layer"):  # an injected PEFT layer: the original layer sits inside
        module = module.get_base_layer()
    if not isinstance(getattr(module, "weight", None), torch.Tensor) or module.weight.is_meta:
        return None  # no such weight, or only its shape is here (a base served elsewhere)
    return dequantize_module_weight(module).detach()


def _oriented(weight: torch.Tensor, fan_in_fan_out: bool) -> torch.Tensor:
    """[out, in...] whatever the layer stores (PEFT's ``transpose(weight, fan_in_fan_out)``)."""
    return weight.T if fan_in_fan_out else weight


def _frobenius(weight: torch.Tensor | None) -> float | None:
    return None if weight is None else float(torch.linalg.vector_norm(weight, dtype=torch.float32))


def _relative(norm: float, weight: torch.Tensor | None) -> float | None:
    size = _frobenius(weight)
    return norm / size if size else None


# ---- spectra ---------------------------------------------------------------------------
def effective_rank(singular_values: torch.Tensor) -> float:
    """exp(entropy of σ/Σσ) (Roy & Vetterli 2007): 1.0 for one direction, k for k equal ones, 0.0 for ΔW = 0.

    >>> effective_rank(torch.tensor([2.0, 0.0]))
    1.0
    """
    sigma = singular_values.double().flatten()
    total = sigma.sum()
    if total <= 0:
        return 0.0
    p = sigma[sigma > 0] / total
    return float(torch.exp(-(p * p.log()).sum()))


def low_rank_norm(B: torch.Tensor, A: torch.Tensor) -> float:
    """||B·A||_F from the factors, B [out, k] and A [k, in]: sqrt(trace((BᵀB)(AAᵀ))), two k x k matrices."""
    B, A = B.double(), A.double()
    return math.sqrt(max(float(torch.trace((B.T @ B) @ (A @ A.T))), 0.0))


def low_rank_singular_values(B: torch.Tensor, A: torch.Tensor) -> torch.Tensor:
    """Singular values of B·A without forming it: B = Q_B R_B, Aᵀ = Q_A R_A, so B·A = Q_B (R_B R_Aᵀ) Q_Aᵀ
    and, Q_B and Q_A having orthonormal columns, B·A shares the small core's singular values."""
    _, r_b = torch.linalg.qr(B.double())  # [min(out, k), k]
    _, r_a = torch.linalg.qr(A.double().T)  # [min(in, k), k]
    return torch.linalg.svdvals(r_b @ r_a.T)


# ---- LoRA, rsLoRA, DoRA ----------------------------------------------------------------
def _lora_quantity(config) -> str:
    scaling = "alpha/√r" if getattr(config, "use_rslora", False) else "alpha/r"
    line = f"||ΔW||_F, with ΔW = ({scaling})·B·A the low-rank update"
    if getattr(config, "use_dora", False):
        line += (" (DoRA: the direction update before the magnitude rescaling; magnitude change = "
                 "||m - ||W||_row|| / || ||W||_row ||)")
    return line + "; relative = ||ΔW||_F / ||W||_F"


def lora_scaling(config, path: str) -> tuple[int, float]:
    """(r, scaling) of the module at ``path`` as PEFT resolves them: rank_pattern and alpha_pattern
    keys match the path's end (``get_pattern_key``), then alpha/r, or alpha/√r with use_rslora."""
    r = _pattern_value(config.rank_pattern, path, config.r)
    alpha = _pattern_value(config.alpha_pattern, path, config.lora_alpha)
    return r, alpha / (math.sqrt(r) if config.use_rslora else r)


def _pattern_value(pattern: dict | None, path: str, default):
    """``pattern``'s value for the first key matching the end of ``path`` (PEFT's ``get_pattern_key``), else ``default``."""
    from peft.utils.other import get_pattern_key

    pattern = pattern or {}
    return pattern.get(get_pattern_key(pattern.keys(), path), default)


def _lora_effect(config, path: str, tensors: dict[str, torch.Tensor], model: torch.nn.Module) -> ModuleEffect:
    """Linear and conv: A [r, in...], B [out, r...]; embeddings: lora_embedding_A [r, vocab],
    lora_embedding_B [hidden, r] with ΔW = (B·A)ᵀ: the same norm and spectrum."""
    A = tensors.get("lora_A.weight", tensors.get("lora_embedding_A"))
    B = tensors.get("lora_B.weight", tensors.get("lora_embedding_B"))
    if A is None or B is None:
        raise AdapterError(f"{path} has only one of its two LoRA factors: re-save the adapter.")
    A = A.reshape(A.shape[0], -1)  # [r, in] (conv: [r, in*kh*kw])
    B = B.reshape(B.shape[0], -1)  # [out, r]
    r, scaling = lora_scaling(config, path)
    norm = abs(scaling) * low_rank_norm(B, A)
    weight = _base_weight(model, path)
    magnitude = tensors.get("lora_magnitude_vector")
    return ModuleEffect(
        layer=_layer_of(path), module=_short_name(path), path=path, norm=norm, relative=_relative(norm, weight),
        rank=A.shape[0], effective_rank=effective_rank(low_rank_singular_values(B, A)),
        magnitude_change=None if magnitude is None or weight is None
        else _magnitude_change(magnitude, _oriented(weight, config.fan_in_fan_out)),
    )


def _magnitude_change(magnitude: torch.Tensor, weight: torch.Tensor) -> float | None:
    """DoRA's learned magnitude m against the base's own row norms ||W[i, :]|| (PEFT's
    ``get_weight_norm`` without ΔW): 0 means DoRA kept every output's scale as the base had it."""
    base = torch.linalg.vector_norm(weight.flatten(1), dim=1, dtype=torch.float32).cpu().double()  # [out]
    m = magnitude.detach().flatten().cpu().double()  # [out]
    if m.shape != base.shape or not base.any():
        return None
    return float(torch.linalg.vector_norm(m - base) / torch.linalg.vector_norm(base))


# ---- IA3 -------------------------------------------------------------------------------
IA3_QUANTITY = ("||ΔW||_F, with ΔW = W·diag(l-1) (feed-forward modules: inputs scaled) or diag(l-1)·W "
                "(others: outputs scaled); relative = ||ΔW||_F / ||W||_F")


def _ia3_effect(config, path: str, tensors: dict[str, torch.Tensor], model: torch.nn.Module) -> ModuleEffect:
    """||W·diag(l-1)||² = Σ_j (l_j-1)²·||W[:, j]||² (columns), ||diag(l-1)·W||² = Σ_i (l_i-1)²·||W[i, :]||² (rows)."""
    weight = _base_weight(model, path)
    if weight is None:
        raise AdapterError(f"The base model has no module {path}, which this IA3 adapter scales: "
                           "attach an adapter trained on this base.")
    weight = _oriented(weight, config.fan_in_fan_out).flatten(1)  # [out, in]
    scale = tensors["ia3_l"].detach().flatten().cpu().double()  # [in] feed-forward, else [out]
    over = 0 if _is_feedforward(config, path, tensors["ia3_l"]) else 1  # columns: norms over dim 0 (out)
    lengths = torch.linalg.vector_norm(weight, dim=over, dtype=torch.float32).cpu().double()  # [in] or [out]
    norm = float(torch.sqrt((((scale - 1) * lengths) ** 2).sum()))
    return ModuleEffect(layer=_layer_of(path), module=_short_name(path), path=path, norm=norm,
                        relative=_relative(norm, weight), rank=None, effective_rank=None, magnitude_change=None)


def _is_feedforward(config, path: str, scale: torch.Tensor) -> bool:
    """PEFT's rule (``IA3Model._check_target_module_feedforward``); without feedforward_modules in the
    config, the saved vector's shape says it: [1, in] scales inputs, [out, 1] outputs."""
    from peft.tuners.ia3 import IA3Model

    if config.feedforward_modules is None:
        return scale.shape[0] == 1 and scale.dim() == 2
    return IA3Model._check_target_module_feedforward(config, path)


# ---- LoHa, LoKr ------------------------------------------------------------------------
def _lycoris_scaling(config, path: str) -> tuple[int, float]:
    """(r, alpha/r) with rank_pattern / alpha_pattern resolved as ``loha/model.py`` does."""
    r = _pattern_value(config.rank_pattern, path, config.r)
    return r, _pattern_value(config.alpha_pattern, path, config.alpha) / r


def _refuse_cp(path: str, tensors: dict[str, torch.Tensor], names: tuple[str, ...]) -> None:
    if any(name in tensors for name in names):
        raise AdapterError(f"{path} uses convolution (CP) factors, which have no weight view yet.")


LOHA_QUANTITY = "||ΔW||_F, with ΔW = (w1_a·w1_b)⊙(w2_a·w2_b)·alpha/r (elementwise product); relative = ||ΔW||_F / ||W||_F"


def _loha_effect(config, path: str, tensors: dict[str, torch.Tensor], model: torch.nn.Module) -> ModuleEffect:
    """(w1a·w1b)⊙(w2a·w2b) = P·Q with P = w1a ⊙row w2a [out, r1·r2] and Q = w1b ⊙col w2b [r1·r2, in]
    (row- and column-wise Khatri–Rao products): a low-rank update again, measured like LoRA's."""
    _refuse_cp(path, tensors, ("hada_t1", "hada_t2"))
    w1a, w1b, w2a, w2b = (tensors[k].double() for k in ("hada_w1_a", "hada_w1_b", "hada_w2_a", "hada_w2_b"))
    P = (w1a[:, :, None] * w2a[:, None, :]).flatten(1)  # [out, r1*r2]: P[i, (k,l)] = w1a[i,k]·w2a[i,l]
    Q = (w1b[:, None, :] * w2b[None, :, :]).flatten(0, 1)  # [r1*r2, in]: Q[(k,l), j] = w1b[k,j]·w2b[l,j]
    _, scale = _lycoris_scaling(config, path)
    norm = abs(scale) * low_rank_norm(P, Q)
    return ModuleEffect(
        layer=_layer_of(path), module=_short_name(path), path=path, norm=norm,
        relative=_relative(norm, _base_weight(model, path)), rank=w1a.shape[1],
        effective_rank=effective_rank(low_rank_singular_values(P, Q)), magnitude_change=None,
    )


LOKR_QUANTITY = "||ΔW||_F, with ΔW = (w1⊗w2)·alpha/r (Kronecker product); relative = ||ΔW||_F / ||W||_F"


def _lokr_effect(config, path: str, tensors: dict[str, torch.Tensor], model: torch.nn.Module) -> ModuleEffect:
    """||w1⊗w2||_F = ||w1||_F·||w2||_F and σ(w1⊗w2) = {σ_i(w1)·σ_j(w2)}: only the small factors are used."""
    _refuse_cp(path, tensors, ("lokr_t2",))
    w1 = _lokr_factor(tensors, "lokr_w1")  # [out_l, in_m]
    w2 = _lokr_factor(tensors, "lokr_w2")  # [out_k, in_n]
    _, scale = _lycoris_scaling(config, path)
    norm = abs(scale) * float(torch.linalg.matrix_norm(w1) * torch.linalg.matrix_norm(w2))
    sigma = torch.outer(torch.linalg.svdvals(w1), torch.linalg.svdvals(w2))
    decomposed = [tensors[k].shape[1] for k in ("lokr_w2_a", "lokr_w1_a") if k in tensors]
    return ModuleEffect(
        layer=_layer_of(path), module=_short_name(path), path=path, norm=norm,
        relative=_relative(norm, _base_weight(model, path)), rank=decomposed[0] if decomposed else None,
        effective_rank=effective_rank(sigma), magnitude_change=None,
    )


def _lokr_factor(tensors: dict[str, torch.Tensor], name: str) -> torch.Tensor:
    """A Kronecker factor, stored whole (``lokr_w1``) or as a product (``lokr_w1_a`` · ``lokr_w1_b``)."""
    if name in tensors:
        return tensors[name].double()
    return tensors[name + "_a"].double() @ tensors[name + "_b"].double()


# peft_type: (its saved tensor names, what `norm` means for a config, one module's measure)
_METHODS = {
    "LORA": (LORA_TENSORS, _lora_quantity, _lora_effect),
    "IA3": (IA3_TENSORS, lambda config: IA3_QUANTITY, _ia3_effect),
    "LOHA": (LOHA_TENSORS, lambda config: LOHA_QUANTITY, _loha_effect),
    "LOKR": (LOKR_TENSORS, lambda config: LOKR_QUANTITY, _lokr_effect),
}


# ---- prompt learning -------------------------------------------------------------------
def _prompt_effects(spec: AdapterSpec, model: torch.nn.Module) -> tuple[str, list[ModuleEffect]]:
    """One row per virtual token. Prompt and p-tuning tokens live in the input embedding space, so
    each is set against a real token's typical size; a prefix vector holds every layer's keys and
    values, which no embedding row compares with (relative None)."""
    vectors = spec.state_dict.get(PROMPT_TENSOR)
    if vectors is None:
        raise AdapterError(f"Adapter {spec.name!r} has no {PROMPT_TENSOR} tensor: re-save it with save_pretrained().")
    norms = torch.linalg.vector_norm(vectors.detach().cpu().double().flatten(1), dim=1)  # [virtual tokens]
    prefix = spec.peft_type == "PREFIX_TUNING"
    typical = None if prefix else _mean_embedding_norm(model)
    if prefix:
        quantity = "L2 norm of each virtual token's prefix vector (keys and values of every layer, layers·2·hidden long)"
    else:
        quantity = ("L2 norm of each virtual token's embedding; relative = that norm / the mean norm "
                    "of the base's token embeddings (above 1: larger than a typical real token)")
    effects = [
        ModuleEffect(layer=None, module=f"token {i}", path=f"{PROMPT_TENSOR}[{i}]", norm=float(norm),
                     relative=float(norm) / typical if typical else None, rank=None, effective_rank=None,
                     magnitude_change=None)
        for i, norm in enumerate(norms)
    ]
    return quantity, effects


def _mean_embedding_norm(model: torch.nn.Module) -> float | None:
    """Mean L2 norm of the input embedding's rows: how long a real token's vector typically is."""
    embeddings = model.get_input_embeddings() if hasattr(model, "get_input_embeddings") else None
    if embeddings is None:
        return None
    if hasattr(embeddings, "get_base_layer"):
        embeddings = embeddings.get_base_layer()
    weight = getattr(embeddings, "weight", None)
    if not isinstance(weight, torch.Tensor):
        return None
    return float(torch.linalg.vector_norm(weight.detach(), dim=1, dtype=torch.float32).mean())
