"""What an adapter changed in the base model's weights, as plain numbers per layer and module.

``adapters/weight_effects.py`` measures them on the loaded base (``weight_effects``); these records
are what the charts, the CLI and the exports read, with no torch.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass


@dataclass(frozen=True)
class ModuleEffect:
    """One module's weight update, summarised by a few numbers (None where the type has no such number)."""

    layer: int | None  # transformer block index from the module path (layers.N.), None outside blocks
    module: str  # short name for the heatmap column: "q_proj", "down_proj"; prompt learning: "token 0", ...
    path: str  # full module path in the base model: "model.layers.0.self_attn.q_proj"
    norm: float  # ||ΔW||_F (prompt learning: the token vector's L2 norm)
    relative: float | None  # norm / ||W||_F (prompt learning: / mean norm of a real token's embedding)
    rank: int | None  # the factor rank r (LoRA family, LoHa, decomposed LoKr)
    effective_rank: float | None  # exp(entropy of σ/Σσ) of ΔW: 1 when one direction dominates, r when all count
    magnitude_change: float | None  # DoRA: ||m - ||W||_row|| / || ||W||_row ||


@dataclass(frozen=True)
class WeightEffects:
    """Every module one adapter changes, in the model's order."""

    adapter: str
    peft_type: str
    quantity: str  # one line saying what `norm` means for this type
    modules: tuple[ModuleEffect, ...]

    def table(self) -> list[dict]:
        """One dict per module, for printing or ``pandas.DataFrame``."""
        return [asdict(m) for m in self.modules]
