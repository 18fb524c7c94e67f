"""Generation backends: the narrow interface the session needs, and its implementations."""

from adapters_ui.backends.protocol import BATCH, MIXED, SINGLE, Backend, Batch, Plan
from adapters_ui.names import BASE

__all__ = ["BASE", "BATCH", "MIXED", "SINGLE", "Backend", "Batch", "Plan"]
