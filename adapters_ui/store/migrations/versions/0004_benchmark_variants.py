"""A benchmark's own numbers per variant: lm-eval's results (metric ± stderr per task), beside the outputs.

Revision ID: 0004
Revises: 0003
"""

import sqlalchemy as sa
from alembic import op

revision = "0004"
down_revision = "0003"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "benchmark_variants",
        sa.Column("evaluation_id", sa.String(32), sa.ForeignKey("evaluations.id", ondelete="CASCADE"), primary_key=True),
        sa.Column("variant", sa.String(200), primary_key=True),
        sa.Column("results", sa.JSON, nullable=False),
        sa.Column("n_shot", sa.JSON, nullable=False),
        sa.Column("seconds", sa.Float, nullable=False),
        sa.Column("lm_eval_version", sa.String(40), nullable=False),
    )


def downgrade() -> None:
    op.drop_table("benchmark_variants")
