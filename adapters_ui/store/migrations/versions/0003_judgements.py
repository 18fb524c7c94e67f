"""Judge model jobs (judgings), one row per unit of their work, and the cache of the judge's replies.

Revision ID: 0003
Revises: 0002
"""

import sqlalchemy as sa
from alembic import op

revision = "0003"
down_revision = "0002"
branch_labels = None
depends_on = None

TZ = sa.DateTime(timezone=True)


def upgrade() -> None:
    op.create_table(
        "judge_replies",
        sa.Column("key", sa.String(64), primary_key=True),
        sa.Column("judge_model", sa.String(300), nullable=False),
        sa.Column("template_hash", sa.String(64), nullable=False),
        sa.Column("text", sa.Text, nullable=False),
        sa.Column("prompt_tokens", sa.Integer, nullable=True),
        sa.Column("completion_tokens", sa.Integer, nullable=True),
        sa.Column("seconds", sa.Float, nullable=False),
        sa.Column("structured", sa.Boolean, nullable=False),
        sa.Column("created_at", TZ, nullable=False),
    )
    op.create_table(
        "judgings",
        sa.Column("id", sa.String(32), primary_key=True),
        sa.Column("owner_key_hash", sa.String(64), nullable=False),
        sa.Column("created_at", TZ, nullable=False),
        sa.Column("updated_at", TZ, nullable=False),
        sa.Column("status", sa.String(16), nullable=False),
        sa.Column("error", sa.Text, nullable=True),
        sa.Column("target_kind", sa.String(16), nullable=False),
        sa.Column("target_id", sa.String(32), nullable=False),
        sa.Column("mode", sa.String(16), nullable=False),
        sa.Column("judge_model", sa.String(300), nullable=False),
        sa.Column("judge_url", sa.String(500), nullable=True),
        sa.Column("template", sa.JSON, nullable=False),
        sa.Column("rubric", sa.Text, nullable=True),
        sa.Column("settings", sa.JSON, nullable=False),
        sa.Column("total", sa.Integer, nullable=False),
    )
    op.create_index("ix_judgings_created_at", "judgings", ["created_at"])
    op.create_index("ix_judgings_status", "judgings", ["status"])
    op.create_index("ix_judgings_target", "judgings", ["target_kind", "target_id"])
    op.create_table(
        "judging_results",
        sa.Column("judging_id", sa.String(32), sa.ForeignKey("judgings.id", ondelete="CASCADE"), primary_key=True),
        sa.Column("unit", sa.String(500), primary_key=True),
        sa.Column("prompt_index", sa.Integer, nullable=False),
        sa.Column("left", sa.String(200), nullable=False),
        sa.Column("right", sa.String(200), nullable=True),
        sa.Column("left_first", sa.String(16), nullable=True),
        sa.Column("right_first", sa.String(16), nullable=True),
        sa.Column("choice", sa.String(16), nullable=True),
        sa.Column("consistent", sa.Boolean, nullable=True),
        sa.Column("left_first_key", sa.String(64), nullable=True),
        sa.Column("right_first_key", sa.String(64), nullable=True),
        sa.Column("grade", sa.Integer, nullable=True),
        sa.Column("feedback", sa.Text, nullable=True),
        sa.Column("key", sa.String(64), nullable=True),
    )


def downgrade() -> None:
    op.drop_table("judging_results")
    op.drop_index("ix_judgings_target", "judgings")
    op.drop_index("ix_judgings_status", "judgings")
    op.drop_index("ix_judgings_created_at", "judgings")
    op.drop_table("judgings")
    op.drop_table("judge_replies")
