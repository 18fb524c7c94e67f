"""Generation backends: the narrow interface the session needs, and its implementations."""

from .protocol import BASE, BATCH, MIXED, SINGLE, Backend, Batch, Plan

__all__ = ["BASE", "BATCH", "MIXED", "SINGLE", "Backend", "Batch", "Plan"]
