"""Applicant mailboxes. The server holds only `mailbox id = hex(H(32, token))`;
the token arrives in a POST body (never a URL, which proxies log).

No oracle: a token that names no mailbox gets exactly what a mailbox with no
replies gets (the same status, the same body, the same queries), so asking
the server tells nobody whether a codename was ever used.
"""

from __future__ import annotations

import hashlib
import hmac
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import and_, or_, select, update
from sqlalchemy import delete as delete_statement
from sqlalchemy.orm import Session
from sqlalchemy.sql.elements import ColumnElement

import crypto
from app import clock
from app.db import rowcount
from app.errors import InvalidRequest
from app.models import Reply
from app.pow import ProofOfWork
from app.settings import Settings

TOKEN_BYTES = 32
REPLY_NAME_BYTES = 32
# At most this many replies named in one delete (a mailbox holds a handful).
MAX_DELETE_NAMES = 100
# Mailbox challenges are MACed under their own key, so a cheap mailbox
# challenge can never be redeemed where a submission's price is due.
_POW_LABEL = b"intake/pow/mailbox"


def mailbox_pow(settings: Settings) -> ProofOfWork:
    """The proof of work a mailbox check costs: `mailbox_pow_difficulty` bits,
    capped at the submissions' difficulty (0 there turns both off)."""
    key = hmac.new(settings.pow_key, _POW_LABEL, hashlib.sha256).digest()
    difficulty = min(settings.mailbox_pow_difficulty, settings.pow_difficulty)
    return ProofOfWork(key, difficulty, settings.pow_ttl_seconds)


def _fixed_bytes(value_b64: str, size: int, not_base64: str, wrong_size: str) -> bytes:
    """`size` bytes given as base64; `InvalidRequest` with the matching message otherwise."""
    try:
        raw = crypto.b64d(value_b64)
    except ValueError as exc:
        raise InvalidRequest(not_base64) from exc
    if len(raw) != size:
        raise InvalidRequest(wrong_size)
    return raw


def mailbox_for_token(token_b64: str) -> str:
    """The mailbox id a token names; `InvalidRequest` for a malformed token
    (a client bug, not a guess: every 32-byte token is a valid mailbox)."""
    token = _fixed_bytes(
        token_b64, TOKEN_BYTES, "The token is not base64.", "The token must be 32 bytes."
    )
    return crypto.mailbox_id_for_token(token)


def _expired(settings: Settings, now: datetime) -> ColumnElement[bool]:
    """Replies past retention: read more than `reply_retention_days` ago, or
    never read and older than `unread_reply_retention_days`. Both branches
    are spelt out (no bare NOT over a NULL comparison), so the negation in
    `_live` is exact under SQL's three-valued logic."""
    read_cutoff = now - timedelta(days=settings.reply_retention_days)
    unread_cutoff = now - timedelta(days=settings.unread_reply_retention_days)
    return or_(
        and_(Reply.read_at.is_not(None), Reply.read_at < read_cutoff),
        and_(Reply.read_at.is_(None), Reply.created < unread_cutoff),
    )


def _live(settings: Settings, now: datetime) -> ColumnElement[bool]:
    """Exactly the replies `_expired` does not name."""
    read_cutoff = now - timedelta(days=settings.reply_retention_days)
    unread_cutoff = now - timedelta(days=settings.unread_reply_retention_days)
    return or_(
        and_(Reply.read_at.is_not(None), Reply.read_at >= read_cutoff),
        and_(Reply.read_at.is_(None), Reply.created >= unread_cutoff),
    )


def fetch(
    session: Session, settings: Settings, mailbox: str, now: datetime | None = None
) -> list[dict[str, Any]]:
    """The mailbox's live replies, oldest first; an empty list for a mailbox
    that does not exist. Expired replies are never served, even before
    `intake purge` deletes them, so retention does not depend on a timer."""
    now = now or clock.now()
    replies = list(
        session.scalars(
            select(Reply).where(Reply.mailbox == mailbox, _live(settings, now)).order_by(Reply.id)
        )
    )
    # Always issued, whether or not anything is unread: the same statements
    # run for a mailbox that does not exist. Starts the retention clock.
    session.execute(
        update(Reply)
        .where(Reply.mailbox == mailbox, Reply.read_at.is_(None))
        .values(read_at=clock.hour(now))
        .execution_options(synchronize_session=False)
    )
    return [
        {
            "envelope": crypto.b64e(reply.envelope),
            "kid": reply.kid,
            "sig": crypto.b64e(reply.sig),
            "sent": clock.rfc3339(reply.created),
        }
        for reply in replies
    ]


def reply_names(names_b64: list[str]) -> frozenset[bytes]:
    """The replies a delete names, each as b64 of `H(32, envelope)` (what the
    verifier signed); `InvalidRequest` for one that is not 32 bytes of base64."""
    return frozenset(
        _fixed_bytes(
            name,
            REPLY_NAME_BYTES,
            "A reply name is not base64.",
            "A reply name is 32 bytes: H(32, envelope).",
        )
        for name in names_b64
    )


def delete(session: Session, mailbox: str, names: frozenset[bytes] | None) -> int:
    """Deletes the replies of `mailbox` named in `names` (every one if None);
    returns how many rows went.

    Only rows of the mailbox the token names are ever looked at, so nobody
    without the codename-derived token can delete another applicant's
    replies, whatever reply names he sends. The rows are deleted, not marked:
    replies live in their rows (no blob), so the ciphertext goes with them.
    """
    rows = session.execute(select(Reply.id, Reply.envelope).where(Reply.mailbox == mailbox)).all()
    doomed = [row.id for row in rows if names is None or crypto.blake2b(32, row.envelope) in names]
    if not doomed:
        return 0
    return rowcount(
        session.execute(
            delete_statement(Reply)
            .where(Reply.mailbox == mailbox, Reply.id.in_(doomed))
            .execution_options(synchronize_session=False)
        )
    )


def purge(session: Session, settings: Settings, now: datetime | None = None) -> int:
    """Deletes every reply past retention (`intake purge`); returns how many."""
    now = now or clock.now()
    return rowcount(session.execute(delete_statement(Reply).where(_expired(settings, now))))
