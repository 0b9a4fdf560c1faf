"""Courier bundles are byte-exact and resumable: an ETag names the bundle, and
`Range` + `If-Range` send the rest of that same bundle, or the whole new one."""

from __future__ import annotations

import io
import re
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from typing import TYPE_CHECKING, Any

import pytest
import sqlalchemy as sa
from server_helpers import (
    World,
    attachment_id,
    courier_post,
    read_bundle,
    receipts,
    rewrap_to,
    rewraps,
    seal,
    signed,
    submit,
)
from sqlalchemy.orm import Session

import crypto
from app.courier.bundle import MAX_TAGS, Watermark, watermark_of
from app.models import Submission

if TYPE_CHECKING:
    from fastapi.testclient import TestClient

pytestmark = pytest.mark.usefixtures("ready")

BUNDLE = "/api/v1/courier/bundle"
ETAG = re.compile(r'"b1\.[0-9]+\.[0-9a-f]{32}\.(-|\*|([0-9a-f]{4})+)\.[0-9a-f]{32}"')


def _get(client: TestClient, world: World, target: str = BUNDLE, **headers: str) -> Any:
    return client.get(target, headers={**signed(world.courier, "GET", target), **headers})


def _resume(client: TestClient, world: World, start: int, etag: str, target: str = BUNDLE) -> Any:
    return _get(client, world, target, Range=f"bytes={start}-", **{"If-Range": etag})


def _submissions(client: TestClient, genesis: dict[str, Any], count: int) -> dict[str, list[bytes]]:
    held: dict[str, list[bytes]] = {}
    for n in range(count):
        form = seal(genesis, f"form {n}".encode())
        scan = seal(genesis, bytes([n]) * 150_000, kind="attachment", chunk=4096)
        held[submit(client, {"form": form, attachment_id(n): scan})] = [form, scan]
    return held


def _move_to_next_hour(database_url: str, sid: str) -> None:
    """As if the submission had been completed an hour after the others."""
    engine = sa.create_engine(database_url)
    try:
        with Session(engine) as session, session.begin():
            submission = session.get(Submission, sid)
            assert submission is not None and submission.completed is not None
            submission.completed = submission.completed + timedelta(hours=1)
    finally:
        engine.dispose()


def test_bundle_is_byte_for_byte_what_the_bundle_writer_writes(
    client: TestClient, world: World, genesis: dict[str, Any]
) -> None:
    _submissions(client, genesis, 2)

    response = _get(client, world)

    assert response.status_code == 200
    assert response.headers["content-type"] == "application/x-tar"
    assert response.headers["accept-ranges"] == "bytes"
    assert int(response.headers["content-length"]) == len(response.content)
    assert ETAG.fullmatch(response.headers["etag"])
    chain, subs = read_bundle(response.content)
    assert len(subs) == 2
    written = io.BytesIO()
    writer = crypto.BundleWriter(written)
    writer.add_chain(chain)
    for meta, envelopes in subs.values():
        writer.add_submission(
            meta, [(eid, len(data), io.BytesIO(data)) for eid, data in envelopes.items()]
        )
    writer.close()
    assert written.getvalue() == response.content


@pytest.mark.parametrize("blob_backend", ["fs", "db"])
def test_any_byte_range_of_a_bundle_is_served_under_its_etag(
    make_client: Callable[..., TestClient],
    world: World,
    genesis: dict[str, Any],
    blob_backend: str,
) -> None:
    client = make_client(blob_backend=blob_backend)
    _submissions(client, genesis, 2)
    full = _get(client, world)
    etag, data = full.headers["etag"], full.content

    for start in (0, 1, 511, 512, 4096, len(data) // 2, len(data) - 1):
        part = _resume(client, world, start, etag)
        assert part.status_code == 206, start
        assert part.headers["content-range"] == f"bytes {start}-{len(data) - 1}/{len(data)}"
        assert part.headers["etag"] == etag
        assert part.content == data[start:]
    closed = _get(client, world, Range="bytes=10-99", **{"If-Range": etag})
    assert closed.status_code == 206
    assert closed.content == data[10:100]
    # The same bundle again: same id, same bytes.
    again = _get(client, world)
    assert again.headers["etag"] == etag
    assert again.content == data


def test_resume_ignores_submissions_that_arrive_during_the_download(
    client: TestClient, world: World, genesis: dict[str, Any], database_url: str
) -> None:
    _submissions(client, genesis, 3)
    full = _get(client, world)
    etag, data = full.headers["etag"], full.content
    # One arrives in the same hour (its random id sorts anywhere among the
    # others), one an hour later.
    same_hour = _submissions(client, genesis, 1)
    later = _submissions(client, genesis, 1)
    _move_to_next_hour(database_url, next(iter(later)))

    part = _resume(client, world, 70_000, etag)

    assert part.status_code == 206
    assert part.content == data[70_000:]
    fresh = _get(client, world)
    assert fresh.status_code == 200 and fresh.headers["etag"] != etag
    _chain, subs = read_bundle(fresh.content)
    assert set(same_hour) | set(later) <= set(subs) and len(subs) == 5


def test_limited_bundle_resumes_while_older_ones_are_still_pending(
    client: TestClient, world: World, genesis: dict[str, Any]
) -> None:
    _submissions(client, genesis, 3)
    target = f"{BUNDLE}?limit=2"
    full = _get(client, world, target)
    _chain, subs = read_bundle(full.content)
    assert len(subs) == 2

    part = _resume(client, world, 1000, full.headers["etag"], target)

    assert part.status_code == 206
    assert part.content == full.content[1000:]


def test_a_changed_bundle_is_sent_whole_never_spliced(
    client: TestClient, world: World, genesis: dict[str, Any]
) -> None:
    held = _submissions(client, genesis, 2)
    full = _get(client, world)
    gone = next(iter(held))
    document = receipts(world.verifiers[0], held[gone])
    assert courier_post(client, world, "/api/v1/courier/receipts", document).json()["deleted"] == [
        gone
    ]

    answer = _resume(client, world, 5000, full.headers["etag"])

    assert answer.status_code == 200
    assert answer.headers["etag"] != full.headers["etag"]
    _chain, subs = read_bundle(answer.content)
    assert gone not in subs and len(subs) == 1
    # An id that is not ours, or a range without a validator, are plain requests.
    foreign = _get(client, world, Range="bytes=5000-", **{"If-Range": '"something-else"'})
    assert foreign.status_code == 200 and foreign.content == answer.content
    bare = _get(client, world, Range="bytes=5000-")
    assert bare.status_code == 206 and bare.content == answer.content[5000:]


def test_range_past_the_end_is_refused_with_the_length(
    client: TestClient, world: World, genesis: dict[str, Any]
) -> None:
    _submissions(client, genesis, 1)
    full = _get(client, world)
    length = len(full.content)

    answer = _resume(client, world, length, full.headers["etag"])

    assert answer.status_code == 416
    assert answer.headers["content-range"] == f"bytes */{length}"
    assert answer.json()["error"]["code"] == "range-not-satisfiable"
    # Forms we do not serve (several ranges, suffixes) get the whole bundle.
    for value in ("bytes=0-1,5-9", "bytes=-500", "items=0-"):
        whole = _get(client, world, Range=value)
        assert whole.status_code == 200 and whole.content == full.content, value


def test_empty_bundle_holds_only_the_chain(client: TestClient, world: World) -> None:
    answer = _get(client, world)

    assert answer.status_code == 200
    chain, subs = read_bundle(answer.content)
    assert len(chain) == 1 and subs == {}
    assert watermark_of(answer.headers["etag"]) is None


def test_bundle_id_names_its_submissions_compactly() -> None:
    hour = int(datetime(2026, 11, 22, 10, tzinfo=UTC).timestamp()) // 3600
    sids = sorted(f"{n:04x}" + "0" * 28 for n in range(1, 5))
    mark = Watermark.of([(hour - 1, "f" * 32), *[(hour, sid) for sid in sids]])
    assert mark is not None
    text = f'"b1.{mark.text()}.{"0" * 32}"'
    assert len(text) < 200
    assert watermark_of(text) == mark
    assert mark.holds(hour - 5, "e" * 32) is True
    assert all(mark.holds(hour, sid) for sid in sids)
    assert mark.holds(hour, "0000" + "1" * 28) is False  # same hour, not in the bundle
    assert mark.holds(hour, "9999" + "0" * 28) is None  # same hour, after the last one
    assert mark.holds(hour + 1, "0" * 32) is None  # past the bundle
    # Too many in the last hour for tags: the hour's ids up to the last one.
    many = sorted(f"{n:04x}" + "1" * 28 for n in range(MAX_TAGS + 2))
    crowded = Watermark.of([(hour, sid) for sid in many])
    assert crowded is not None and crowded.tags is None
    assert watermark_of(f'"b1.{crowded.text()}.{"0" * 32}"') == crowded
    assert crowded.holds(hour, many[0]) is True
    assert crowded.holds(hour, "f" * 32) is None


def test_rewrap_changes_the_bundle_id(
    make_client: Callable[..., TestClient], world: World, genesis: dict[str, Any]
) -> None:
    client = make_client()
    envelope = seal(genesis, b"rotate me" * 100, kind="attachment")
    submit(client, {"form": seal(genesis, b"f"), attachment_id(7): envelope})
    rotated = world.manifest(2, active=[world.verifiers[0], world.verifiers[2]])
    assert client.post("/api/v1/manifests", json=rotated).status_code == 201
    before = _get(client, world)
    document = rewraps(world.verifiers[0], *rewrap_to(world, envelope, rotated))
    assert courier_post(client, world, "/api/v1/courier/rewraps", document).json() == {
        "accepted": 1
    }

    after = _resume(client, world, 100, before.headers["etag"])

    assert after.status_code == 200
    assert after.headers["etag"] != before.headers["etag"]
    assert len(after.content) == len(before.content)  # same sizes: only the MAC tells
    assert after.content != before.content
