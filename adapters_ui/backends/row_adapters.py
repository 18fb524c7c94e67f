"""Every row of a batch with its own LoRA adapter (or none): one decode loop for all of them.

PEFT's own mixed batch (``generate(adapter_names=[...])``) rebuilds Python lists of row
indices in every LoRA layer at every step, copies each adapter's rows out and back with
fancy indexing, and refuses DoRA. Here the rows arrive grouped by adapter, so each group is
a contiguous slice (a view, no copy): per layer and step the work is the base layer plus, for
each adapter present, exactly the arithmetic PEFT does for that adapter alone:

    plain LoRA   result[rows] += lora_B(lora_A(x[rows])) * scaling
    DoRA         result[rows]  = PEFT's DoRA variant on x[rows] (weight norms computed once per call)

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
        # Per layer, what its forward adds: (rows, lora_A weight, lora_B weight, scaling, DoRA key or None).
        self._work: list[list[tuple]] = [[] for _ in self._layers]
        self._caching = None
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
                 key if key in layer.lora_variant else None)
                for key, rows in segments if key in layer.lora_A  # an adapter that does not touch this layer adds nothing
            ]

    def __enter__(self) -> "RowAdapters":
        from peft.helpers import DoraCaching

        self._caching = DoraCaching(True)  # eval mode: DoRA's weight norms are computed once, not per step
        self._caching.__enter__()
        for index, layer in enumerate(self._layers):
            layer.forward = self._forward_for(layer, index)  # an instance attribute shadows the class method
        return self

    def __exit__(self, *exc) -> None:
        for layer in self._layers:
            del layer.forward
        self._caching.__exit__(*exc)
        for module in self.host.modules():  # drop the cached norms: the next call may hold other weights
            if hasattr(module, "_dora_cache"):
                module._cache_clear()

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
                if dora is not None:  # PEFT's own DoRA code on these rows
                    result[rows] = layer.lora_variant[dora].forward(layer, active_adapter=dora, x=part,
                                                                     result=result[rows]).to(dtype)
                else:
                    delta = linear(linear(part, lora_a), lora_b) * scaling
                    result[rows] += delta if delta.dtype == dtype else delta.to(dtype)
            return result

        return forward
