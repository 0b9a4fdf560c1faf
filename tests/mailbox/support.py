"""Helpers for the mailbox tests: replies as a verifier writes them, and as a
compromised server might hold them."""

from __future__ import annotations

import json
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime
from typing import TYPE_CHECKING, Any

from sqlalchemy import create_engine, select
from sqlalchemy.orm import Session

import crypto
from app import clock
from app.models import Reply
from tests.support.pow import solved as solved

if TYPE_CHECKING:
    from fastapi.testclient import TestClient
    from httpx import Response

CODENAME = "backpack canal darkness ember factor grove harbor idiom jeep"
OTHER_CODENAME = "acclaim basin cedar dart echo falcon garnet hammock ideology"

# The `make_client` fixture: an in-process app, with `Settings` overrides.
Client = Callable[..., "TestClient"]


def keys_for(manifest: crypto.Manifest, codename: str = CODENAME) -> crypto.MailboxKeys:
    """The keys the applicant's phone derives from `codename`."""
    return crypto.derive_mailbox(codename, manifest.payload)


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


def add_reply(
    database_url: str,
    signer: crypto.Identity,
    manifest: crypto.Manifest,
    keys: crypto.MailboxKeys,
    content: bytes,
    **times: datetime | None,
) -> str:
    """Stores a reply signed by `signer` for `keys`' mailbox; returns its name,
    b64 H(32, envelope), as the page and the delete API name it."""
    envelope, kid, sig = signed_reply(signer, manifest, keys, content)
    store_reply(database_url, keys.mailbox_id, envelope, kid, sig, **times)
    return crypto.b64e(crypto.blake2b(32, envelope))


@dataclass
class Stored:
    """The demo organisation's replies, written straight into the test database
    and read back from it (not through the API)."""

    database_url: str
    verifier: crypto.Identity
    manifest: crypto.Manifest

    def keys(self, codename: str = CODENAME) -> crypto.MailboxKeys:
        return keys_for(self.manifest, codename)

    def waiting(self, codename: str, status: str, message: str) -> None:
        """A signed reply, stored for the mailbox `codename` opens."""
        content = reply_content(status, message)
        add_reply(self.database_url, self.verifier, self.manifest, self.keys(codename), content)

    def reply(self, keys: crypto.MailboxKeys, message: str) -> str:
        """Stores a signed reply; returns its name, b64 H(32, envelope)."""
        content = reply_content("needs-info", message)
        return add_reply(self.database_url, self.verifier, self.manifest, keys, content)

    def rows(self) -> list[tuple[str, str]]:
        """(mailbox, reply name) of every reply row."""
        engine = create_engine(self.database_url)
        try:
            with Session(engine) as session:
                found = session.execute(select(Reply.mailbox, Reply.envelope)).all()
                return sorted((m, crypto.b64e(crypto.blake2b(32, e))) for m, e in found)
        finally:
            engine.dispose()


def check(client: TestClient, keys: crypto.MailboxKeys) -> Response:
    """One mailbox check the way the page makes it: a challenge, solved, then the token."""
    challenge = client.post("/api/v1/mailbox/challenges").json()
    body = {"token": crypto.b64e(keys.token), "pow": solved(challenge)}
    response: Response = client.post("/api/v1/mailbox", json=body)
    return response
