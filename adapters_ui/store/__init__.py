"""Saved comparisons and blind reviews, in SQLite or PostgreSQL (SQLAlchemy + Alembic)."""

from .database import Database, DatabaseHolder

__all__ = ["Database", "DatabaseHolder"]
