"""Submissions no longer record a mailbox id (issue 14, item 5).

The id linked an applicant's submission, his follow-ups and his mailbox
reads, and the server never read it: the verifier takes the mailbox id from
inside the ciphertext. Only replies waiting to be fetched keep one.

The values are cleared before the column goes, and the table is rewritten,
so its data file holds no old row version: on PostgreSQL a dropped column
stays in the old tuples, and an UPDATE leaves them behind as dead ones, until
the table is rewritten (CLUSTER does it inside the migration's transaction,
which VACUUM FULL cannot). On SQLite batch mode copies the table, and
`secure_delete` zeroes the pages it frees instead of leaving the old rows in
them (Debian's SQLite is built with it on; others are not).

Revision ID: 0003
Revises: 0002
Create Date: 2026-12-04
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0003"
down_revision: str | None = "0002"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    if op.get_bind().dialect.name == "sqlite":
        op.execute("PRAGMA secure_delete = ON")
    op.execute("UPDATE submissions SET mailbox = NULL WHERE mailbox IS NOT NULL")
    with op.batch_alter_table("submissions") as batch_op:
        batch_op.drop_column("mailbox")
    if op.get_bind().dialect.name == "postgresql":
        op.execute("CLUSTER submissions USING pk_submissions")


def downgrade() -> None:
    # The ids are gone for good: the column comes back empty.
    with op.batch_alter_table("submissions") as batch_op:
        batch_op.add_column(sa.Column("mailbox", sa.String(length=64), nullable=True))
