"""Initial schema: every table of app.models.

Revision ID: 0001
Revises:
Create Date: 2026-11-22
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0001"
down_revision: str | None = None
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "blob_chunks",
        sa.Column("key", sa.String(length=160), nullable=False),
        sa.Column("offset", sa.BigInteger(), autoincrement=False, nullable=False),
        sa.Column("data", sa.LargeBinary(), nullable=False),
        sa.PrimaryKeyConstraint("key", "offset", name=op.f("pk_blob_chunks")),
    )
    op.create_table(
        "manifests",
        sa.Column("version", sa.Integer(), autoincrement=False, nullable=False),
        sa.Column("payload", sa.LargeBinary(), nullable=False),
        sa.Column("envelope", sa.Text(), nullable=False),
        sa.Column("digest", sa.String(length=64), nullable=False),
        sa.Column("accepted", sa.DateTime(), nullable=False),
        sa.PrimaryKeyConstraint("version", name=op.f("pk_manifests")),
    )
    op.create_table(
        "receipts",
        sa.Column("digest", sa.String(length=64), nullable=False),
        sa.Column("kid", sa.String(length=32), nullable=False),
        sa.Column("sig", sa.LargeBinary(), nullable=False),
        sa.Column("created", sa.DateTime(), nullable=False),
        sa.PrimaryKeyConstraint("digest", "kid", name=op.f("pk_receipts")),
    )
    op.create_table(
        "replies",
        sa.Column("id", sa.Integer(), autoincrement=True, nullable=False),
        sa.Column("mailbox", sa.String(length=64), nullable=False),
        sa.Column("envelope", sa.LargeBinary(), nullable=False),
        sa.Column("kid", sa.String(length=32), nullable=False),
        sa.Column("sig", sa.LargeBinary(), nullable=False),
        sa.Column("created", sa.DateTime(), nullable=False),
        sa.Column("read_at", sa.DateTime(), nullable=True),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_replies")),
    )
    op.create_index(op.f("ix_replies_mailbox"), "replies", ["mailbox"], unique=False)
    op.create_table(
        "seen_signatures",
        sa.Column("sig_hash", sa.String(length=64), nullable=False),
        sa.Column("expires", sa.DateTime(), nullable=False),
        sa.PrimaryKeyConstraint("sig_hash", name=op.f("pk_seen_signatures")),
    )
    op.create_index(
        op.f("ix_seen_signatures_expires"), "seen_signatures", ["expires"], unique=False
    )
    op.create_table(
        "spent_challenges",
        sa.Column("id", sa.String(length=32), nullable=False),
        sa.Column("expires", sa.DateTime(), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_spent_challenges")),
    )
    op.create_index(
        op.f("ix_spent_challenges_expires"), "spent_challenges", ["expires"], unique=False
    )
    op.create_table(
        "submissions",
        sa.Column("id", sa.String(length=32), nullable=False),
        sa.Column("kind", sa.String(length=16), nullable=False),
        sa.Column("mailbox", sa.String(length=64), nullable=True),
        sa.Column("state", sa.String(length=16), nullable=False),
        sa.Column("created", sa.DateTime(), nullable=False),
        sa.Column("completed", sa.DateTime(), nullable=True),
        sa.Column("size", sa.BigInteger(), nullable=False),
        sa.CheckConstraint("kind IN ('submission', 'followup')", name=op.f("ck_submissions_kind")),
        sa.CheckConstraint("state IN ('uploading', 'complete')", name=op.f("ck_submissions_state")),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_submissions")),
    )
    op.create_index(
        "ix_submissions_state_created", "submissions", ["state", "created"], unique=False
    )
    op.create_table(
        "envelopes",
        sa.Column("submission_id", sa.String(length=32), nullable=False),
        sa.Column("eid", sa.String(length=32), nullable=False),
        sa.Column("position", sa.Integer(), nullable=False),
        sa.Column("size", sa.BigInteger(), nullable=False),
        sa.Column("received", sa.BigInteger(), nullable=False),
        sa.Column("digest", sa.String(length=64), nullable=True),
        sa.Column("blob_key", sa.String(length=160), nullable=True),
        sa.ForeignKeyConstraint(
            ["submission_id"],
            ["submissions.id"],
            name=op.f("fk_envelopes_submission_id_submissions"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("submission_id", "eid", name=op.f("pk_envelopes")),
    )
    op.create_index(op.f("ix_envelopes_digest"), "envelopes", ["digest"], unique=False)


def downgrade() -> None:
    op.drop_index(op.f("ix_envelopes_digest"), table_name="envelopes")
    op.drop_table("envelopes")
    op.drop_index("ix_submissions_state_created", table_name="submissions")
    op.drop_table("submissions")
    op.drop_index(op.f("ix_spent_challenges_expires"), table_name="spent_challenges")
    op.drop_table("spent_challenges")
    op.drop_index(op.f("ix_seen_signatures_expires"), table_name="seen_signatures")
    op.drop_table("seen_signatures")
    op.drop_index(op.f("ix_replies_mailbox"), table_name="replies")
    op.drop_table("replies")
    op.drop_table("receipts")
    op.drop_table("manifests")
    op.drop_table("blob_chunks")
