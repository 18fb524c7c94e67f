"""The tables: saved comparisons, blind reviews (their pairs, reviewers and votes), and evaluation jobs.

The schema's history lives in ``migrations/versions`` (Alembic); these classes are the
current shape and must match the newest migration (``test_store`` checks that).
Secrets (owner keys, review tokens) are stored only as SHA-256 hashes.
"""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import JSON, DateTime, ForeignKey, Integer, String, Text, UniqueConstraint
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column


class Base(DeclarativeBase):
    pass


class SavedRun(Base):
    """One finished comparison, frozen: the export document plus the adapters' fingerprints."""

    __tablename__ = "comparisons"

    id: Mapped[str] = mapped_column(String(32), primary_key=True)  # unguessable: the permalink
    owner_key_hash: Mapped[str] = mapped_column(String(64))
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), index=True)
    base_model: Mapped[str] = mapped_column(String(300))
    prompts: Mapped[int] = mapped_column(Integer)
    variants: Mapped[list] = mapped_column(JSON)
    document: Mapped[dict] = mapped_column(JSON)  # report.ReportData as a dict, plus "saved_adapters"


class Review(Base):
    """A blind A/B review of some variants of one saved comparison."""

    __tablename__ = "reviews"

    id: Mapped[str] = mapped_column(String(32), primary_key=True)  # for the owner and the CLI, never shown to reviewers
    comparison_id: Mapped[str] = mapped_column(ForeignKey("comparisons.id", ondelete="CASCADE"), index=True)
    title: Mapped[str] = mapped_column(String(200))
    variants: Mapped[list] = mapped_column(JSON)
    pairing: Mapped[str] = mapped_column(String(16))  # "all" | "vs_base"
    per_pair: Mapped[int] = mapped_column(Integer)  # judgements each pair needs
    seed: Mapped[int] = mapped_column(Integer)  # orders pairs and sides per reviewer
    reviewer_token_hash: Mapped[str] = mapped_column(String(64), unique=True)
    owner_token_hash: Mapped[str] = mapped_column(String(64), unique=True)
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))
    revoked_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True), nullable=True)
    evaluation_id: Mapped[str | None] = mapped_column(String(32), nullable=True, index=True)  # made from an evaluation


class ReviewItem(Base):
    """One prompt and one pair of variants: what a reviewer judges. ``public_id`` is all a reviewer sees of it."""

    __tablename__ = "review_items"

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    review_id: Mapped[str] = mapped_column(ForeignKey("reviews.id", ondelete="CASCADE"), index=True)
    public_id: Mapped[str] = mapped_column(String(32), unique=True)
    prompt_index: Mapped[int] = mapped_column(Integer)
    left: Mapped[str] = mapped_column(String(200))
    right: Mapped[str] = mapped_column(String(200))


class Reviewer(Base):
    """A person taking part, known by name within one review (or by their Hugging Face login)."""

    __tablename__ = "reviewers"
    __table_args__ = (UniqueConstraint("review_id", "name_key", name="uq_reviewer_name"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    review_id: Mapped[str] = mapped_column(ForeignKey("reviews.id", ondelete="CASCADE"), index=True)
    name: Mapped[str] = mapped_column(String(80))
    name_key: Mapped[str] = mapped_column(String(80))  # case-folded name: "Ada" and "ada" are one reviewer
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))


class Vote(Base):
    """One judgement (or a skip). Its id comes from the client, so a retried request counts once."""

    __tablename__ = "votes"
    __table_args__ = (UniqueConstraint("item_id", "reviewer_id", name="uq_vote_item_reviewer"),)

    id: Mapped[str] = mapped_column(String(64), primary_key=True)
    review_id: Mapped[str] = mapped_column(ForeignKey("reviews.id", ondelete="CASCADE"), index=True)
    item_id: Mapped[int] = mapped_column(ForeignKey("review_items.id", ondelete="CASCADE"))
    reviewer_id: Mapped[int] = mapped_column(ForeignKey("reviewers.id", ondelete="CASCADE"), index=True)
    choice: Mapped[str] = mapped_column(String(16))  # left | right | tie | both_bad | skip
    shown_first: Mapped[str] = mapped_column(String(8))  # which side was shown as A: left | right
    comment: Mapped[str] = mapped_column(Text, default="")
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))


class Evaluation(Base):
    """One evaluation job: an evaluation set run through some variants, with its settings. Its items
    and outputs are rows of their own, written a committed batch at a time, so a job survives a kill."""

    __tablename__ = "evaluations"

    id: Mapped[str] = mapped_column(String(32), primary_key=True)  # unguessable: the ?evaluation= permalink
    owner_key_hash: Mapped[str] = mapped_column(String(64))  # who may cancel it
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), index=True)
    updated_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))
    status: Mapped[str] = mapped_column(String(16), index=True)  # running | finished | cancelled | failed
    error: Mapped[str | None] = mapped_column(Text, nullable=True)
    base_model: Mapped[str] = mapped_column(String(300))
    set_name: Mapped[str] = mapped_column(String(300))
    set_sha256: Mapped[str] = mapped_column(String(64))
    items: Mapped[int] = mapped_column(Integer)
    variants: Mapped[list] = mapped_column(JSON)
    samples: Mapped[int] = mapped_column(Integer)
    batch_items: Mapped[int] = mapped_column(Integer)  # items per committed batch: fixed, so a resumed job batches alike
    settings: Mapped[dict] = mapped_column(JSON)  # GenerationSettings as a dict


class EvaluationItem(Base):
    """One item of an evaluation's set, as it was read (prompt or messages, reference, checks, metadata)."""

    __tablename__ = "evaluation_items"
    __table_args__ = (UniqueConstraint("evaluation_id", "item_id", name="uq_evaluation_item_id"),)

    evaluation_id: Mapped[str] = mapped_column(ForeignKey("evaluations.id", ondelete="CASCADE"), primary_key=True)
    position: Mapped[int] = mapped_column(Integer, primary_key=True)  # order in the set
    item_id: Mapped[str] = mapped_column(String(200))
    category: Mapped[str | None] = mapped_column(String(200), nullable=True)
    data: Mapped[dict] = mapped_column(JSON)  # prompt, messages, reference, tags, checks, metadata


class EvaluationOutput(Base):
    """One output of one item, variant and sample, with its scores. The key makes it exactly one."""

    __tablename__ = "evaluation_outputs"

    evaluation_id: Mapped[str] = mapped_column(ForeignKey("evaluations.id", ondelete="CASCADE"), primary_key=True)
    position: Mapped[int] = mapped_column(Integer, primary_key=True)
    variant: Mapped[str] = mapped_column(String(200), primary_key=True)
    sample: Mapped[int] = mapped_column(Integer, primary_key=True)
    output: Mapped[str] = mapped_column(Text)
    checks: Mapped[dict] = mapped_column(JSON)  # check name -> passed
    scores: Mapped[dict] = mapped_column(JSON)  # metric -> number (None: not measurable for this item)
