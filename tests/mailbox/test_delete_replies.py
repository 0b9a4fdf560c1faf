"""Deleting replies: `POST /api/v1/mailbox/delete`, authorised by the mailbox
token and paid for with a mailbox proof, exactly as a check is.

The rows go from the database for real (checked there, not through the API),
and nothing without the codename-derived token deletes anyone's replies: not
a wrong token, not another mailbox's token naming this mailbox's replies.
Each test runs on SQLite and on PostgreSQL (the `database_kind` fixture).
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

import crypto
from tests.mailbox.support import OTHER_CODENAME, Client, Stored, check, solved

if TYPE_CHECKING:
    from fastapi.testclient import TestClient
    from httpx import Response


def delete(client: TestClient, token: bytes, **which: Any) -> Response:
    challenge = client.post("/api/v1/mailbox/challenges").json()
    body = {"token": crypto.b64e(token), "pow": solved(challenge), **which}
    response: Response = client.post("/api/v1/mailbox/delete", json=body)
    return response


def test_deleting_a_named_reply_removes_its_row_and_leaves_the_others(
    make_client: Client, stored: Stored
) -> None:
    client = make_client()
    mine, other = stored.keys(), stored.keys(OTHER_CODENAME)
    first = stored.reply(mine, "Первый ответ.")
    second = stored.reply(mine, "Второй ответ.")
    theirs = stored.reply(other, "Чужой ответ.")

    response = delete(client, mine.token, replies=[first])
    assert response.status_code == 200, response.text
    assert response.json() == {"deleted": 1}
    assert stored.rows() == sorted([(mine.mailbox_id, second), (other.mailbox_id, theirs)])
    # The mailbox no longer serves it.
    served = check(client, mine).json()["replies"]
    assert [crypto.b64e(crypto.blake2b(32, crypto.b64d(r["envelope"]))) for r in served] == [second]


def test_deleting_all_removes_every_row_of_that_mailbox_only(
    make_client: Client, stored: Stored
) -> None:
    client = make_client()
    mine, other = stored.keys(), stored.keys(OTHER_CODENAME)
    stored.reply(mine, "Первый ответ.")
    stored.reply(mine, "Второй ответ.")
    theirs = stored.reply(other, "Чужой ответ.")

    response = delete(client, mine.token, all=True)
    assert response.status_code == 200, response.text
    assert response.json() == {"deleted": 2}
    assert stored.rows() == [(other.mailbox_id, theirs)]


def test_a_wrong_token_deletes_nothing_even_naming_the_replies(
    make_client: Client, stored: Stored
) -> None:
    client = make_client()
    victim = stored.keys()
    name = stored.reply(victim, "Ответ.")
    before = stored.rows()

    # Someone who knows the reply (even its envelope, as a server copy would
    # show) and the mailbox id, but not the codename-derived token.
    attacker = stored.keys(OTHER_CODENAME)
    for which in ({"replies": [name]}, {"all": True}):
        response = delete(client, attacker.token, **which)
        assert response.status_code == 200, response.text
        assert response.json() == {"deleted": 0}
    # The mailbox id is public to the server; it is not the token.
    response = delete(client, bytes.fromhex(victim.mailbox_id), all=True)
    assert response.json() == {"deleted": 0}
    assert stored.rows() == before


def test_a_delete_needs_a_proof_and_a_clear_choice(make_client: Client, stored: Stored) -> None:
    client = make_client()
    keys = stored.keys()
    name = stored.reply(keys, "Ответ.")
    before = stored.rows()

    unpaid = client.post(
        "/api/v1/mailbox/delete", json={"token": crypto.b64e(keys.token), "all": True}
    )
    assert unpaid.status_code == 403
    assert unpaid.json()["error"]["code"] == "pow-required"
    # A submission's challenge buys no mailbox work.
    submission = client.post("/api/v1/challenges").json()
    wrong_kind = client.post(
        "/api/v1/mailbox/delete",
        json={"token": crypto.b64e(keys.token), "pow": solved(submission), "all": True},
    )
    assert wrong_kind.status_code == 403
    for which in ({}, {"replies": [name], "all": True}, {"replies": ["AAAA"]}):
        refused = delete(client, keys.token, **which)
        assert refused.status_code == 422, which
        assert refused.json()["error"]["code"] == "invalid-request"
    # A proof is spent once.
    challenge = client.post("/api/v1/mailbox/challenges").json()
    body = {"token": crypto.b64e(keys.token), "pow": solved(challenge), "replies": [name]}
    assert client.post("/api/v1/mailbox/delete", json=body).json() == {"deleted": 1}
    again = client.post("/api/v1/mailbox/delete", json=body)
    assert again.status_code == 403
    assert before != stored.rows() == []
