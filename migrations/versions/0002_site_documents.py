"""Signed site documents (served-code integrity, issue 7).

Revision ID: 0002
Revises: 0001
Create Date: 2026-11-23
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0002"
down_revision: str | None = "0001"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "site_documents",
        sa.Column("id", sa.Integer(), autoincrement=True, nullable=False),
        sa.Column("issued", sa.DateTime(), nullable=False),
        sa.Column("manifest_version", sa.Integer(), nullable=False),
        sa.Column("envelope", sa.Text(), nullable=False),
        sa.Column("digest", sa.String(length=64), nullable=False),
        sa.Column("accepted", sa.DateTime(), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_site_documents")),
        sa.UniqueConstraint("issued", name=op.f("uq_site_documents_issued")),
    )


def downgrade() -> None:
    op.drop_table("site_documents")
