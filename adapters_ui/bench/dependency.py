"""lm-evaluation-harness is an optional extra: say in one line how to get it when it is missing.

    >>> lm_eval = require_lm_eval()  # doctest: +SKIP
"""

from __future__ import annotations

import importlib
import importlib.util

from adapters_ui.errors import BenchDependencyError

INSTALL = 'pip install "adapters-ui[bench]"'


def require_lm_eval():
    """The ``lm_eval`` module, or a BenchDependencyError with the install command."""
    try:
        return importlib.import_module("lm_eval")
    except ImportError as exc:
        raise BenchDependencyError(f"Benchmarks need lm-evaluation-harness, which is not installed ({exc.name or 'lm_eval'} "
                                   f"is missing): run `{INSTALL}`.") from None


API_PACKAGES = ("aiohttp", "requests", "tenacity")  # lm-eval's [api] extra: what its local-completions model imports


def require_api_extra() -> None:
    """lm-eval's API models (the vLLM route) need its [api] extra: a BenchDependencyError naming what is missing."""
    missing = [name for name in API_PACKAGES if importlib.util.find_spec(name) is None]
    if missing:
        raise BenchDependencyError(f"Benchmarks on a server need lm-eval's API extra ({', '.join(missing)} missing): "
                                   f"run `{INSTALL}`.")
