"""Helpers for the mailbox tests: replies as a verifier writes them, and as a
compromised server might hold them."""

from __future__ import annotations

import json
from datetime import datetime
from typing import Any

from sqlalchemy import create_engine
from sqlalchemy.orm import Session

import crypto
from app import clock
from app.models import Reply
from app.pow import solve

CODENAME = "backpack canal darkness ember factor grove harbor idiom jeep"
OTHER_CODENAME = "acclaim basin cedar dart echo falcon garnet hammock ideology"


def reply_content(
    status: str, message: str, lang: str | None = None, sent: str = "2026-11-20T09:30:00Z"
) -> bytes:
    doc: dict[str, Any] = {"status": status, "message": message, "sent": sent}
    if lang is not None:
        doc["lang"] = lang
    return json.dumps(doc, ensure_ascii=False).encode()


def signed_reply(
    signer: crypto.Identity,
    manifest: crypto.Manifest,
    keys: crypto.MailboxKeys,
    content: bytes,
) -> tuple[bytes, str, bytes]:
    """(envelope, kid, sig): a reply sealed to the mailbox's reply key, signed by `signer`."""
    envelope = crypto.seal_bytes(
        content, kind="reply", manifest=manifest.ref, recipients=[keys.reply_public]
    )
    kid, sig = crypto.sign_reply(signer, envelope)
    return envelope, kid, sig


def store_reply(
    database_url: str,
    mailbox: str,
    envelope: bytes,
    kid: str,
    sig: bytes,
    *,
    created: datetime | None = None,
    read_at: datetime | None = None,
) -> None:
    """Writes a reply straight into the server's database, as a compromised
    server (or one that skipped its checks) could: the browser must not
    trust anything the courier API would have refused."""
    engine = create_engine(database_url)
    try:
        with Session(engine) as session, session.begin():
            session.add(
                Reply(
                    mailbox=mailbox,
                    envelope=envelope,
                    kid=kid,
                    sig=sig,
                    created=created or clock.hour(),
                    read_at=read_at,
                )
            )
    finally:
        engine.dispose()


def solved(challenge: dict[str, Any]) -> dict[str, str]:
    """A proof of work for a challenge answer of the API."""
    return {
        "challenge": challenge["challenge"],
        "nonce": solve(challenge["challenge"], int(challenge["difficulty"])),
    }
