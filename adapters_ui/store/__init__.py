"""Saved comparisons and blind reviews, in SQLite or PostgreSQL (SQLAlchemy + Alembic)."""

from adapters_ui.store.database import Database, DatabaseHolder

__all__ = ["Database", "DatabaseHolder"]
