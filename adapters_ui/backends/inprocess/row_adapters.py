"""Every row of a batch with its own LoRA adapter (or none): one decode loop for all of them.

PEFT's own mixed batch (``generate(adapter_names=[...])``) rebuilds Python lists of row
indices in every LoRA layer at every step, copies each adapter's rows out and back with
fancy indexing, and refuses DoRA. Here the rows arrive grouped by adapter, so each group is
a contiguous slice (a view, no copy): per layer and step the work is the base layer plus, for
each adapter present, exactly the arithmetic PEFT does for that adapter alone:

    plain LoRA   result[rows] += lora_B(lora_A(x[rows])) * scaling
    DoRA         result[rows]  = result[rows] + (m - 1) * result[rows] + m * lora_B(lora_A(x[rows])) * scaling
                 with PEFT's magnitude scale m = magnitude / ||W + scaling * B A|| from PEFT's own
                 functions, computed once per call instead of in every layer at every step

Base rows get nothing added. ``use`` follows the decode loop: a prompt group being read,
or the rows left when finished ones leave.

    with RowAdapters(host, ["__base__", "v1", "v1", "v2"]) as rows:   # keys per row
        decode(model, ..., use_rows=rows.use)
"""

from __future__ import annotations

import itertools

import torch

BASE_ROW = "__base__"


def mixable(module) -> bool:
    """True for the LoRA layers this module drives: PEFT's dense ``lora.Linear`` (not embeddings,
    convolutions or quantised layers, which keep their own routes)."""
    from peft.tuners.lora.layer import Linear

    return type(module) is Linear


class RowAdapters:
    """Patches every LoRA ``Linear`` of ``host`` for the duration of a ``with`` block."""

    def __init__(self, host, keys: list[str]):
        self.host = host
        self.keys = list(keys)
        self._layers = [module for module in host.modules() if mixable(module)]
        # Per layer, what its forward adds: (rows, lora_A weight, lora_B weight, scaling, DoRA scales or None).
        self._work: list[list[tuple]] = [[] for _ in self._layers]
        self._dora: dict[tuple[int, str], tuple[torch.Tensor, torch.Tensor]] = {}
        self.use(list(range(len(keys))))

    def use(self, rows: list[int]) -> None:
        """The next forward pass holds ``rows`` (indices into the keys given), in this order."""
        segments, start = [], 0
        for key, group in itertools.groupby(self.keys[row] for row in rows):
            length = len(list(group))
            if key != BASE_ROW:
                segments.append((key, slice(start, start + length)))
            start += length
        for index, layer in enumerate(self._layers):  # looked up once here, not per layer per step
            self._work[index] = [
                (rows, layer.lora_A[key].weight, layer.lora_B[key].weight, layer.scaling[key],
                 self._dora_scales(index, layer, key) if key in layer.lora_variant else None)
                for key, rows in segments if key in layer.lora_A  # an adapter that does not touch this layer adds nothing
            ]

    def _dora_scales(self, index: int, layer, key: str) -> tuple[torch.Tensor, torch.Tensor]:
        """DoRA's (m, m - 1) for this layer, as PEFT's DoRA forward computes them at every call
        (the same functions, in the input's dtype), computed once."""
        if (index, key) not in self._dora:
            from peft.utils.integrations import dequantize_module_weight

            dora, dtype = layer.lora_magnitude_vector[key], layer.lora_A[key].weight.dtype
            lora_weight = dora.get_lora_weight(lora_A=layer.lora_A[key], lora_B=layer.lora_B[key], adapter_name=key)
            lora_weight = lora_weight.to(dtype)
            weight = dequantize_module_weight(layer.get_base_layer()).to(dtype)
            norm = dora.get_weight_norm(weight=weight, lora_weight=lora_weight.detach(), scaling=layer.scaling[key],
                                        adapter_name=key).detach()
            scale = (dora.weight / norm).view(1, -1)
            self._dora[(index, key)] = (scale, scale - 1)
        return self._dora[(index, key)]

    def __enter__(self) -> "RowAdapters":
        for index, layer in enumerate(self._layers):
            layer.forward = self._forward_for(layer, index)  # an instance attribute shadows the class method
        return self

    def __exit__(self, *exc) -> None:
        for layer in self._layers:
            del layer.forward

    def _forward_for(self, layer, index: int):
        work = self._work
        linear = torch.nn.functional.linear  # what lora_A / lora_B (bias-free nn.Linear) compute, minus the module call

        def forward(x: torch.Tensor, *args, **kwargs) -> torch.Tensor:
            result = layer.base_layer(x, *args, **kwargs)  # [rows, tokens, out]
            dtype = result.dtype
            for rows, lora_a, lora_b, scaling, dora in work[index]:
                part = x[rows]
                if part.dtype != lora_a.dtype:
                    part = part.to(lora_a.dtype)
                if dora is not None:  # PEFT's DoRA arithmetic, in PEFT's order
                    scale, scale_minus_one = dora
                    base = result[rows]
                    unbiased = base if layer.get_base_layer().bias is None else base - layer.get_base_layer().bias
                    lora = linear(linear(part, lora_a), lora_b)
                    result[rows] = (base + (scale_minus_one * unbiased + scale * lora * scaling)).to(dtype)
                else:
                    delta = linear(linear(part, lora_a), lora_b) * scaling
                    result[rows] += delta if delta.dtype == dtype else delta.to(dtype)
            return result

        return forward
