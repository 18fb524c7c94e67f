"""lm-evaluation-harness is an optional extra: say in one line how to get it when it is missing.

    >>> lm_eval = require_lm_eval()  # doctest: +SKIP
"""

from __future__ import annotations

import importlib

from adapters_ui.errors import BenchDependencyError

INSTALL = 'pip install "adapters-ui[bench]"'


def require_lm_eval():
    """The ``lm_eval`` module, or a BenchDependencyError with the install command."""
    try:
        return importlib.import_module("lm_eval")
    except ImportError as exc:
        raise BenchDependencyError(f"Benchmarks need lm-evaluation-harness, which is not installed ({exc.name or 'lm_eval'} "
                                   f"is missing): run `{INSTALL}`.") from None
