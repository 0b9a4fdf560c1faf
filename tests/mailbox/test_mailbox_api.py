"""The mailbox API: proof of work per check, no oracle, retention.

Each test runs on SQLite and on PostgreSQL (the `database_kind` fixture).
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from datetime import timedelta
from typing import TYPE_CHECKING, Any

from sqlalchemy import event, select

import crypto
from app import clock
from app.maintenance import purge
from app.models import Reply
from app.pow import proof_ok
from app.runtime import build_runtime
from tests.mailbox.support import (
    CODENAME,
    OTHER_CODENAME,
    Client,
    add_reply,
    check,
    keys_for,
    reply_content,
    solved,
)

if TYPE_CHECKING:
    from fastapi import FastAPI
    from fastapi.testclient import TestClient


def app_of(client: TestClient) -> FastAPI:
    app: FastAPI = client.app  # type: ignore[assignment]  # TestClient types it as any ASGI app
    return app


def add_received(
    client: TestClient,
    verifier: crypto.Identity,
    manifest: crypto.Manifest,
    keys: crypto.MailboxKeys,
    **times: Any,
) -> None:
    database_url = app_of(client).state.settings.database_url
    content = reply_content("received", "Мы получили ваше сообщение.")
    add_reply(database_url, verifier, manifest, keys, content, **times)


def test_a_check_needs_a_proof_of_work_cheaper_than_a_submission(make_client: Client) -> None:
    client = make_client(pow_difficulty=12, mailbox_pow_difficulty=6)
    challenge = client.post("/api/v1/mailbox/challenges").json()
    assert challenge["difficulty"] == 6
    assert client.post("/api/v1/challenges").json()["difficulty"] == 12

    token = crypto.b64e(b"\x07" * 32)
    missing = client.post("/api/v1/mailbox", json={"token": token})
    assert missing.status_code == 403
    assert missing.json()["error"]["code"] == "pow-required"
    assert missing.json()["error"]["detail"] == {"difficulty": 6}
    # A nonce that really misses: a fixed one meets 6 bits once in 64 challenges.
    miss = next(n for n in map(str, range(1000)) if not proof_ok(challenge["challenge"], n, 6))
    wrong = client.post(
        "/api/v1/mailbox",
        json={"token": token, "pow": {"challenge": challenge["challenge"], "nonce": miss}},
    )
    assert wrong.status_code == 403
    assert (
        client.post("/api/v1/mailbox", json={"token": token, "pow": solved(challenge)}).status_code
        == 200
    )


def test_the_mailbox_price_never_exceeds_the_submission_price(make_client: Client) -> None:
    client = make_client(pow_difficulty=5, mailbox_pow_difficulty=16)
    assert client.post("/api/v1/mailbox/challenges").json()["difficulty"] == 5
    free = make_client(pow_difficulty=0, mailbox_pow_difficulty=16)
    assert free.post("/api/v1/mailbox/challenges").json()["difficulty"] == 0
    answer = free.post("/api/v1/mailbox", json={"token": crypto.b64e(b"\x08" * 32)})
    assert answer.status_code == 200


def test_mailbox_and_submission_challenges_are_not_interchangeable(
    make_client: Client, genesis: dict[str, Any]
) -> None:
    # Same difficulty on both sides: only the separate MAC keys tell them apart.
    client = make_client(pow_difficulty=6, mailbox_pow_difficulty=6)
    mailbox_proof = solved(client.post("/api/v1/mailbox/challenges").json())
    submission = client.post(
        "/api/v1/submissions",
        json={
            "kind": "followup",
            "mailbox": "ab" * 32,
            "envelopes": [{"id": "form", "size": 5000}],
            "pow": mailbox_proof,
        },
    )
    assert submission.status_code == 403
    assert submission.json()["error"]["code"] == "pow-invalid"

    submission_proof = solved(client.post("/api/v1/challenges").json())
    answer = client.post(
        "/api/v1/mailbox", json={"token": crypto.b64e(b"\x09" * 32), "pow": submission_proof}
    )
    assert answer.status_code == 403
    assert answer.json()["error"]["code"] == "pow-invalid"


def test_each_challenge_buys_one_check(make_client: Client) -> None:
    client = make_client()
    proof = solved(client.post("/api/v1/mailbox/challenges").json())
    body = {"token": crypto.b64e(b"\x0a" * 32), "pow": proof}
    assert client.post("/api/v1/mailbox", json=body).status_code == 200
    again = client.post("/api/v1/mailbox", json=body)
    assert again.status_code == 403
    assert again.json()["error"]["code"] == "pow-reused"


def test_a_malformed_token_does_not_burn_the_challenge(make_client: Client) -> None:
    client = make_client()
    proof = solved(client.post("/api/v1/mailbox/challenges").json())
    bad = client.post("/api/v1/mailbox", json={"token": crypto.b64e(b"short"), "pow": proof})
    assert bad.status_code == 422
    good = client.post("/api/v1/mailbox", json={"token": crypto.b64e(b"\x0b" * 32), "pow": proof})
    assert good.status_code == 200


def test_replies_reach_only_their_own_mailbox(
    make_client: Client, demo_verifier: crypto.Identity, manifest: crypto.Manifest
) -> None:
    client = make_client()
    mine, theirs = keys_for(manifest), keys_for(manifest, OTHER_CODENAME)
    add_received(client, demo_verifier, manifest, mine)
    replies = check(client, mine).json()["replies"]
    assert len(replies) == 1
    opened = crypto.open_reply(
        crypto.b64d(replies[0]["envelope"]), mine.reply_secret, mine.reply_public
    )
    assert "Мы получили" in opened.decode()
    assert check(client, theirs).json() == {"replies": []}


@contextmanager
def recorded_statements(client: TestClient) -> Iterator[list[str]]:
    """The SQL text of every statement the app's engine runs meanwhile."""
    engine = app_of(client).state.runtime.engine
    seen: list[str] = []

    def record(_conn: Any, _cursor: Any, statement: str, *_args: Any) -> None:
        seen.append(statement)

    event.listen(engine, "before_cursor_execute", record)
    try:
        yield seen
    finally:
        event.remove(engine, "before_cursor_execute", record)


def test_no_oracle_a_never_used_codename_is_answered_like_one_without_replies(
    make_client: Client, demo_verifier: crypto.Identity, manifest: crypto.Manifest
) -> None:
    client = make_client()
    used, unused = keys_for(manifest), keys_for(manifest, OTHER_CODENAME)
    # `used` had a reply, read long ago and past retention: it has none now.
    long_ago = clock.hour() - timedelta(days=400)
    add_received(client, demo_verifier, manifest, used, created=long_ago, read_at=long_ago)

    with recorded_statements(client) as used_sql:
        first = check(client, used)
    with recorded_statements(client) as unused_sql:
        second = check(client, unused)

    assert first.status_code == second.status_code == 200
    assert first.content == second.content == b'{"replies":[]}'
    assert sorted(first.headers) == sorted(second.headers)
    # The same work on the database for both: no timing difference to measure.
    assert used_sql == unused_sql


def test_a_mailbox_with_replies_runs_the_same_statements_as_an_empty_one(
    make_client: Client, demo_verifier: crypto.Identity, manifest: crypto.Manifest
) -> None:
    client = make_client()
    full, empty = keys_for(manifest), keys_for(manifest, OTHER_CODENAME)
    add_received(client, demo_verifier, manifest, full)
    with recorded_statements(client) as full_sql:
        assert len(check(client, full).json()["replies"]) == 1
    with recorded_statements(client) as empty_sql:
        assert check(client, empty).json() == {"replies": []}
    assert full_sql == empty_sql


def test_the_first_read_starts_the_retention_clock(
    make_client: Client, demo_verifier: crypto.Identity, manifest: crypto.Manifest
) -> None:
    client = make_client()
    keys = keys_for(manifest)
    add_received(client, demo_verifier, manifest, keys)
    runtime = app_of(client).state.runtime

    def read_at() -> Any:
        with runtime.session_factory() as session:
            return session.scalar(select(Reply.read_at).where(Reply.mailbox == keys.mailbox_id))

    assert read_at() is None
    check(client, keys)
    first = read_at()
    assert first == clock.hour(first)  # rounded to the hour, like every stored time
    assert clock.now() - first < timedelta(hours=1)
    check(client, keys)
    assert read_at() == first  # reading again does not extend it


def test_expired_replies_are_not_served_even_before_purge_runs(
    make_client: Client, demo_verifier: crypto.Identity, manifest: crypto.Manifest
) -> None:
    client = make_client(reply_retention_days=30, unread_reply_retention_days=180)
    now = clock.hour()
    cases = {
        "read-recently": ({"read_at": now - timedelta(days=29)}, True),
        "read-long-ago": ({"read_at": now - timedelta(days=31)}, False),
        "unread-recent": ({"created": now - timedelta(days=179)}, True),
        "unread-ancient": ({"created": now - timedelta(days=181)}, False),
    }
    for name, (times, served) in cases.items():
        keys = keys_for(manifest, f"{CODENAME} {name}")
        add_received(client, demo_verifier, manifest, keys, **times)
        replies = check(client, keys).json()["replies"]
        assert len(replies) == (1 if served else 0), name


def test_purge_deletes_exactly_the_replies_the_mailbox_no_longer_serves(
    make_client: Client, demo_verifier: crypto.Identity, manifest: crypto.Manifest
) -> None:
    client = make_client(reply_retention_days=30, unread_reply_retention_days=180)
    now = clock.hour()
    kept = keys_for(manifest, f"{CODENAME} kept")
    gone = keys_for(manifest, f"{CODENAME} gone")
    add_received(client, demo_verifier, manifest, kept, read_at=now - timedelta(days=29))
    add_received(client, demo_verifier, manifest, kept, created=now - timedelta(days=100))
    add_received(client, demo_verifier, manifest, gone, read_at=now - timedelta(days=31))
    add_received(client, demo_verifier, manifest, gone, created=now - timedelta(days=181))

    runtime = build_runtime(app_of(client).state.settings)
    try:
        assert purge(runtime).replies == 2
        with runtime.session_factory() as session:
            left = session.scalars(select(Reply.mailbox)).all()
    finally:
        runtime.close()
    assert left == [kept.mailbox_id, kept.mailbox_id]
