"""Database tables (SQLAlchemy 2, typed).

Privacy rules every table keeps: no IP address, no user agent, nothing a
client sent except ciphertext and the ids the protocol needs; times rounded to
the hour (`app.clock.hour`). Migrations in `migrations/` must match these
models exactly (`alembic check` is part of the tests).
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from sqlalchemy import (
    BigInteger,
    CheckConstraint,
    DateTime,
    ForeignKey,
    Index,
    Integer,
    LargeBinary,
    MetaData,
    String,
    Text,
    TypeDecorator,
)
from sqlalchemy.engine import Dialect
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column, relationship

# Named constraints make migrations reproducible on SQLite (batch mode must
# know the names to drop or recreate them) and PostgreSQL alike.
NAMING_CONVENTION = {
    "ix": "ix_%(column_0_label)s",
    "uq": "uq_%(table_name)s_%(column_0_name)s",
    "ck": "ck_%(table_name)s_%(constraint_name)s",
    "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
    "pk": "pk_%(table_name)s",
}


class UTCDateTime(TypeDecorator[datetime]):
    """Stores naive UTC, returns aware UTC, on every dialect alike."""

    impl = DateTime
    cache_ok = True

    def process_bind_param(self, value: datetime | None, dialect: Dialect) -> datetime | None:
        if value is None:
            return None
        if value.tzinfo is None:
            raise ValueError("naive datetime given to a UTC column")
        return value.astimezone(UTC).replace(tzinfo=None)

    def process_result_value(self, value: Any, dialect: Dialect) -> datetime | None:
        if value is None:
            return None
        if not isinstance(value, datetime):  # pragma: no cover - driver contract
            raise TypeError("expected a datetime from the database")
        return value.replace(tzinfo=UTC)


class Base(DeclarativeBase):
    metadata = MetaData(naming_convention=NAMING_CONVENTION)


class ManifestRow(Base):
    """An accepted key manifest; the rows ordered by version are the chain."""

    __tablename__ = "manifests"

    version: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=False)
    payload: Mapped[bytes] = mapped_column(LargeBinary)
    envelope: Mapped[str] = mapped_column(Text)  # the DSSE JSON as accepted
    digest: Mapped[str] = mapped_column(String(64))  # hex H(32, payload)
    accepted: Mapped[datetime] = mapped_column(UTCDateTime)


class SiteDocumentRow(Base):
    """A signed site document (digests of every file the applicant's pages
    load); the one with the newest `issued` is served. Older ones are kept,
    like manifests, for the audit log. Written by app.manifests.site."""

    __tablename__ = "site_documents"

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    issued: Mapped[datetime] = mapped_column(UTCDateTime, unique=True)
    manifest_version: Mapped[int] = mapped_column(Integer)
    envelope: Mapped[str] = mapped_column(Text)  # the DSSE JSON as accepted
    digest: Mapped[str] = mapped_column(String(64))  # hex H(32, payload)
    accepted: Mapped[datetime] = mapped_column(UTCDateTime)


class Submission(Base):
    __tablename__ = "submissions"
    __table_args__ = (
        CheckConstraint("state IN ('uploading', 'complete')", name="state"),
        CheckConstraint("kind IN ('submission', 'followup')", name="kind"),
        Index("ix_submissions_state_created", "state", "created"),
    )

    id: Mapped[str] = mapped_column(String(32), primary_key=True)  # 128 random bits, hex
    kind: Mapped[str] = mapped_column(String(16))
    # No mailbox id: it would link a submission, its follow-ups and the
    # mailbox reads, and the verifier finds it inside the ciphertext.
    state: Mapped[str] = mapped_column(String(16), default="uploading")
    created: Mapped[datetime] = mapped_column(UTCDateTime)
    completed: Mapped[datetime | None] = mapped_column(UTCDateTime, nullable=True)
    size: Mapped[int] = mapped_column(BigInteger)  # total declared bytes

    envelopes: Mapped[list[Envelope]] = relationship(
        back_populates="submission",
        cascade="all, delete-orphan",
        passive_deletes=True,
        order_by="Envelope.position",
    )


class Envelope(Base):
    """One envelope of a submission: `form` or a 32-hex attachment id."""

    __tablename__ = "envelopes"

    submission_id: Mapped[str] = mapped_column(
        String(32), ForeignKey("submissions.id", ondelete="CASCADE"), primary_key=True
    )
    eid: Mapped[str] = mapped_column(String(32), primary_key=True)
    position: Mapped[int] = mapped_column(Integer)  # order as declared; `form` first
    # Declared size while uploading; the stored size after a rewrap.
    size: Mapped[int] = mapped_column(BigInteger)
    received: Mapped[int] = mapped_column(BigInteger, default=0)
    # hex payload_digest (PROTOCOL.md v2), set once the envelope verified.
    digest: Mapped[str | None] = mapped_column(String(64), nullable=True, index=True)
    blob_key: Mapped[str | None] = mapped_column(String(160), nullable=True)

    submission: Mapped[Submission] = relationship(back_populates="envelopes")


class Receipt(Base):
    """A verifier's signed statement that it holds an envelope (by payload digest)."""

    __tablename__ = "receipts"

    digest: Mapped[str] = mapped_column(String(64), primary_key=True)
    kid: Mapped[str] = mapped_column(String(32), primary_key=True)
    sig: Mapped[bytes] = mapped_column(LargeBinary)
    created: Mapped[datetime] = mapped_column(UTCDateTime)


class Reply(Base):
    """A verifier's reply, waiting in an applicant's mailbox."""

    __tablename__ = "replies"

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    # hex(H(32, token)), from the verifier's reply file: the one place the
    # server keeps a mailbox id, for as long as the reply is kept.
    mailbox: Mapped[str] = mapped_column(String(64), index=True)
    envelope: Mapped[bytes] = mapped_column(LargeBinary)
    kid: Mapped[str] = mapped_column(String(32))
    sig: Mapped[bytes] = mapped_column(LargeBinary)
    created: Mapped[datetime] = mapped_column(UTCDateTime)
    read_at: Mapped[datetime | None] = mapped_column(UTCDateTime, nullable=True)


class SeenSignature(Base):
    """Courier request signatures already used: replay protection shared by
    every instance."""

    __tablename__ = "seen_signatures"

    sig_hash: Mapped[str] = mapped_column(String(64), primary_key=True)
    expires: Mapped[datetime] = mapped_column(UTCDateTime, index=True)


class SpentChallenge(Base):
    """Proof-of-work challenges already redeemed (single use)."""

    __tablename__ = "spent_challenges"

    id: Mapped[str] = mapped_column(String(32), primary_key=True)
    expires: Mapped[datetime] = mapped_column(UTCDateTime, index=True)


class BlobChunk(Base):
    """Blob bytes for the `db` blob backend, so several instances share them."""

    __tablename__ = "blob_chunks"

    key: Mapped[str] = mapped_column(String(160), primary_key=True)
    offset: Mapped[int] = mapped_column(BigInteger, primary_key=True, autoincrement=False)
    data: Mapped[bytes] = mapped_column(LargeBinary)
