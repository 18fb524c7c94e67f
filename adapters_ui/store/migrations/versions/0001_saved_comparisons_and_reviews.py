"""Saved comparisons, blind reviews, review pairs, reviewers and votes.

Revision ID: 0001
Revises:
"""

import sqlalchemy as sa
from alembic import op

revision = "0001"
down_revision = None
branch_labels = None
depends_on = None

TZ = sa.DateTime(timezone=True)


def upgrade() -> None:
    op.create_table(
        "comparisons",
        sa.Column("id", sa.String(32), primary_key=True),
        sa.Column("owner_key_hash", sa.String(64), nullable=False),
        sa.Column("created_at", TZ, nullable=False),
        sa.Column("base_model", sa.String(300), nullable=False),
        sa.Column("prompts", sa.Integer, nullable=False),
        sa.Column("variants", sa.JSON, nullable=False),
        sa.Column("document", sa.JSON, nullable=False),
    )
    op.create_index("ix_comparisons_created_at", "comparisons", ["created_at"])
    op.create_table(
        "reviews",
        sa.Column("id", sa.String(32), primary_key=True),
        sa.Column("comparison_id", sa.String(32), sa.ForeignKey("comparisons.id", ondelete="CASCADE"), nullable=False),
        sa.Column("title", sa.String(200), nullable=False),
        sa.Column("variants", sa.JSON, nullable=False),
        sa.Column("pairing", sa.String(16), nullable=False),
        sa.Column("per_pair", sa.Integer, nullable=False),
        sa.Column("seed", sa.Integer, nullable=False),
        sa.Column("reviewer_token_hash", sa.String(64), nullable=False, unique=True),
        sa.Column("owner_token_hash", sa.String(64), nullable=False, unique=True),
        sa.Column("created_at", TZ, nullable=False),
        sa.Column("revoked_at", TZ, nullable=True),
    )
    op.create_index("ix_reviews_comparison_id", "reviews", ["comparison_id"])
    op.create_table(
        "review_items",
        sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
        sa.Column("review_id", sa.String(32), sa.ForeignKey("reviews.id", ondelete="CASCADE"), nullable=False),
        sa.Column("public_id", sa.String(32), nullable=False, unique=True),
        sa.Column("prompt_index", sa.Integer, nullable=False),
        sa.Column("left", sa.String(200), nullable=False),
        sa.Column("right", sa.String(200), nullable=False),
    )
    op.create_index("ix_review_items_review_id", "review_items", ["review_id"])
    op.create_table(
        "reviewers",
        sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
        sa.Column("review_id", sa.String(32), sa.ForeignKey("reviews.id", ondelete="CASCADE"), nullable=False),
        sa.Column("name", sa.String(80), nullable=False),
        sa.Column("name_key", sa.String(80), nullable=False),
        sa.Column("created_at", TZ, nullable=False),
        sa.UniqueConstraint("review_id", "name_key", name="uq_reviewer_name"),
    )
    op.create_index("ix_reviewers_review_id", "reviewers", ["review_id"])
    op.create_table(
        "votes",
        sa.Column("id", sa.String(64), primary_key=True),
        sa.Column("review_id", sa.String(32), sa.ForeignKey("reviews.id", ondelete="CASCADE"), nullable=False),
        sa.Column("item_id", sa.Integer, sa.ForeignKey("review_items.id", ondelete="CASCADE"), nullable=False),
        sa.Column("reviewer_id", sa.Integer, sa.ForeignKey("reviewers.id", ondelete="CASCADE"), nullable=False),
        sa.Column("choice", sa.String(16), nullable=False),
        sa.Column("shown_first", sa.String(8), nullable=False),
        sa.Column("comment", sa.Text, nullable=False),
        sa.Column("created_at", TZ, nullable=False),
        sa.UniqueConstraint("item_id", "reviewer_id", name="uq_vote_item_reviewer"),
    )
    op.create_index("ix_votes_review_id", "votes", ["review_id"])
    op.create_index("ix_votes_reviewer_id", "votes", ["reviewer_id"])


def downgrade() -> None:
    for table in ("votes", "reviewers", "review_items", "reviews", "comparisons"):
        op.drop_table(table)
