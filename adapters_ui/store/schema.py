"""The tables: saved comparisons, blind reviews (their pairs, reviewers and votes), evaluation jobs, and judge
model jobs with the cache of the judge's replies.

The schema's history lives in ``migrations/versions`` (Alembic); these classes are the
current shape and must match the newest migration (``test_store`` checks that).
Secrets (owner keys, review tokens) are stored only as SHA-256 hashes.
"""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import JSON, Boolean, DateTime, Float, ForeignKey, Index, Integer, String, Text, UniqueConstraint
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


class JudgeCacheEntry(Base):
    """One reply of a judge model, kept whole: the cache. The key is the SHA-256 of the judge model, the
    template's hash and the exact messages it read (question, both outputs in their shown order, reference,
    rubric), so asking again costs nothing and a restart loses nothing (store/judgements.reply_key)."""

    __tablename__ = "judge_replies"

    key: Mapped[str] = mapped_column(String(64), primary_key=True)
    judge_model: Mapped[str] = mapped_column(String(300))
    template_hash: Mapped[str] = mapped_column(String(64))
    text: Mapped[str] = mapped_column(Text)
    prompt_tokens: Mapped[int | None] = mapped_column(Integer, nullable=True)
    completion_tokens: Mapped[int | None] = mapped_column(Integer, nullable=True)
    seconds: Mapped[float] = mapped_column(Float)
    structured: Mapped[bool] = mapped_column(Boolean)  # constrained to a JSON schema (response_format)
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))


class Judging(Base):
    """One judge model job over a review's pairs or an evaluation's outputs, pairwise or on a rubric.
    Its results are rows of their own, written a committed batch at a time, so a job survives a kill."""

    __tablename__ = "judgings"
    __table_args__ = (Index("ix_judgings_target", "target_kind", "target_id"),)

    id: Mapped[str] = mapped_column(String(32), primary_key=True)
    owner_key_hash: Mapped[str] = mapped_column(String(64))  # who may cancel it
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), index=True)
    updated_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))
    status: Mapped[str] = mapped_column(String(16), index=True)  # running | finished | cancelled | failed
    error: Mapped[str | None] = mapped_column(Text, nullable=True)
    target_kind: Mapped[str] = mapped_column(String(16))  # review | evaluation
    target_id: Mapped[str] = mapped_column(String(32))  # no foreign key: it points at one of two tables
    mode: Mapped[str] = mapped_column(String(16))  # pairwise | rubric
    judge_model: Mapped[str] = mapped_column(String(300))
    judge_url: Mapped[str | None] = mapped_column(String(500), nullable=True)  # None: a model in process; never a key
    template: Mapped[dict] = mapped_column(JSON)  # name, kind, system, user, hash
    rubric: Mapped[str | None] = mapped_column(Text, nullable=True)
    settings: Mapped[dict] = mapped_column(JSON)
    total: Mapped[int] = mapped_column(Integer)  # units of work: pairs (pairwise) or outputs (rubric)


class JudgingResult(Base):
    """One unit of a judging's work: a pair judged in both orders, or one output graded. The key
    (judging, unit) makes it exactly one. Pairwise rows leave grade, feedback and key empty; rubric rows
    keep their variant in ``left`` and leave the pairwise columns empty (store/judgements says why)."""

    __tablename__ = "judging_results"

    judging_id: Mapped[str] = mapped_column(ForeignKey("judgings.id", ondelete="CASCADE"), primary_key=True)
    unit: Mapped[str] = mapped_column(String(500), primary_key=True)  # "p3:base|pirate" or "g3:pirate"
    prompt_index: Mapped[int] = mapped_column(Integer)
    left: Mapped[str] = mapped_column(String(200))  # pairwise: the pair's left variant; rubric: the graded variant
    right: Mapped[str | None] = mapped_column(String(200), nullable=True)
    left_first: Mapped[str | None] = mapped_column(String(16), nullable=True)  # first | second | tie | unparseable
    right_first: Mapped[str | None] = mapped_column(String(16), nullable=True)
    choice: Mapped[str | None] = mapped_column(String(16), nullable=True)  # left | right | tie | unparseable
    consistent: Mapped[bool | None] = mapped_column(Boolean, nullable=True)
    left_first_key: Mapped[str | None] = mapped_column(String(64), nullable=True)  # judge_replies keys
    right_first_key: Mapped[str | None] = mapped_column(String(64), nullable=True)
    grade: Mapped[int | None] = mapped_column(Integer, nullable=True)  # 1..5, None: unreadable
    feedback: Mapped[str | None] = mapped_column(Text, nullable=True)
    key: Mapped[str | None] = mapped_column(String(64), nullable=True)


class BenchmarkVariant(Base):
    """lm-eval's own numbers of one variant of a benchmark (an evaluation whose items are lm-eval docs),
    written in the same transaction as that variant's per-item outputs: a variant is there whole or not."""

    __tablename__ = "benchmark_variants"

    evaluation_id: Mapped[str] = mapped_column(ForeignKey("evaluations.id", ondelete="CASCADE"), primary_key=True)
    variant: Mapped[str] = mapped_column(String(200), primary_key=True)
    results: Mapped[dict] = mapped_column(JSON)  # task -> lm-eval's keys ("acc,none", "acc_stderr,none", ...)
    n_shot: Mapped[dict] = mapped_column(JSON)  # task -> few-shot examples per item
    seconds: Mapped[float] = mapped_column(Float)  # the variant's simple_evaluate, waits for visitors included
    lm_eval_version: Mapped[str] = mapped_column(String(40))
