"""Applicant mailboxes. The server holds only `mailbox id = hex(H(32, token))`;
the token arrives in a POST body (never a URL, which proxies log)."""

from __future__ import annotations

from typing import Any

from sqlalchemy import select, update
from sqlalchemy.orm import Session

import crypto
from app import clock
from app.errors import InvalidRequest
from app.models import Reply

TOKEN_BYTES = 32


def fetch(session: Session, token_b64: str) -> list[dict[str, Any]]:
    """The mailbox's replies, oldest first; an empty list for a mailbox that
    does not exist, so the answer does not say whether it does."""
    try:
        token = crypto.b64d(token_b64)
    except ValueError as exc:
        raise InvalidRequest("The token is not base64.") from exc
    if len(token) != TOKEN_BYTES:
        raise InvalidRequest("The token must be 32 bytes.")
    mailbox = crypto.mailbox_id_for_token(token)
    replies = list(
        session.scalars(select(Reply).where(Reply.mailbox == mailbox).order_by(Reply.id))
    )
    unread = [reply.id for reply in replies if reply.read_at is None]
    if unread:
        # Starts the retention clock (purge deletes read replies later).
        session.execute(update(Reply).where(Reply.id.in_(unread)).values(read_at=clock.hour()))
    return [
        {
            "envelope": crypto.b64e(reply.envelope),
            "kid": reply.kid,
            "sig": crypto.b64e(reply.sig),
            "sent": clock.rfc3339(reply.created),
        }
        for reply in replies
    ]
