"""Evaluation jobs: their settings, their set's items and one row per output; a review may come from one.

Revision ID: 0002
Revises: 0001
"""

import sqlalchemy as sa
from alembic import op

revision = "0002"
down_revision = "0001"
branch_labels = None
depends_on = None

TZ = sa.DateTime(timezone=True)


def upgrade() -> None:
    op.create_table(
        "evaluations",
        sa.Column("id", sa.String(32), primary_key=True),
        sa.Column("owner_key_hash", sa.String(64), nullable=False),
        sa.Column("created_at", TZ, nullable=False),
        sa.Column("updated_at", TZ, nullable=False),
        sa.Column("status", sa.String(16), nullable=False),
        sa.Column("error", sa.Text, nullable=True),
        sa.Column("base_model", sa.String(300), nullable=False),
        sa.Column("set_name", sa.String(300), nullable=False),
        sa.Column("set_sha256", sa.String(64), nullable=False),
        sa.Column("items", sa.Integer, nullable=False),
        sa.Column("variants", sa.JSON, nullable=False),
        sa.Column("samples", sa.Integer, nullable=False),
        sa.Column("batch_items", sa.Integer, nullable=False),
        sa.Column("settings", sa.JSON, nullable=False),
    )
    op.create_index("ix_evaluations_created_at", "evaluations", ["created_at"])
    op.create_index("ix_evaluations_status", "evaluations", ["status"])
    op.create_table(
        "evaluation_items",
        sa.Column("evaluation_id", sa.String(32), sa.ForeignKey("evaluations.id", ondelete="CASCADE"), primary_key=True),
        sa.Column("position", sa.Integer, primary_key=True),
        sa.Column("item_id", sa.String(200), nullable=False),
        sa.Column("category", sa.String(200), nullable=True),
        sa.Column("data", sa.JSON, nullable=False),
        sa.UniqueConstraint("evaluation_id", "item_id", name="uq_evaluation_item_id"),
    )
    op.create_table(
        "evaluation_outputs",
        sa.Column("evaluation_id", sa.String(32), sa.ForeignKey("evaluations.id", ondelete="CASCADE"), primary_key=True),
        sa.Column("position", sa.Integer, primary_key=True),
        sa.Column("variant", sa.String(200), primary_key=True),
        sa.Column("sample", sa.Integer, primary_key=True),
        sa.Column("output", sa.Text, nullable=False),
        sa.Column("checks", sa.JSON, nullable=False),
        sa.Column("scores", sa.JSON, nullable=False),
    )
    with op.batch_alter_table("reviews") as batch:
        batch.add_column(sa.Column("evaluation_id", sa.String(32), nullable=True))
        batch.create_index("ix_reviews_evaluation_id", ["evaluation_id"])


def downgrade() -> None:
    with op.batch_alter_table("reviews") as batch:
        batch.drop_index("ix_reviews_evaluation_id")
        batch.drop_column("evaluation_id")
    op.drop_table("evaluation_outputs")
    op.drop_table("evaluation_items")
    op.drop_index("ix_evaluations_status", "evaluations")
    op.drop_index("ix_evaluations_created_at", "evaluations")
    op.drop_table("evaluations")
