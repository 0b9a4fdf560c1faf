"""The applicant's upload flow: create, resumable PUTs, validation, finalise."""

from __future__ import annotations

import io
import socket
import threading
from collections.abc import Callable
from typing import TYPE_CHECKING, Any
from urllib.parse import urlsplit

import httpx
import pytest
from server_helpers import (
    World,
    attachment_id,
    courier_get,
    create,
    live_server,
    put,
    read_bundle,
    seal,
    submit,
    upload,
)

import crypto
from app.main import create_app
from app.storage import upload_id
from app.submissions.service import Uploads

if TYPE_CHECKING:
    from fastapi.testclient import TestClient

pytestmark = pytest.mark.usefixtures("ready")


def _open(world: World, data: bytes) -> bytes:
    _opened, content = crypto.open_bytes(data, crypto.Keyring([world.verifiers[0]]))
    return content


@pytest.mark.parametrize("blob_backend", ["fs", "db"])
def test_submission_round_trips_byte_for_byte_to_the_courier_bundle(
    make_client: Callable[..., TestClient], world: World, genesis: dict[str, Any], blob_backend: str
) -> None:
    client = make_client(blob_backend=blob_backend)
    form = seal(genesis, b'{"answers": {"name": "test"}}')
    scan = seal(genesis, bytes(range(256)) * 3000, kind="attachment", chunk=4096)
    envelopes = {"form": form, attachment_id(1): scan}

    response = create(client, envelopes, mailbox="ab" * 32)
    assert response.status_code == 201
    sid = response.json()["id"]
    assert response.json()["upload"] == {"chunk": 1 << 20}
    assert len(sid) == 32
    # Upload in small, uneven pieces to exercise offsets.
    for eid, data in envelopes.items():
        upload(client, sid, eid, data, chunk=50_000)
        progress = client.get(f"/api/v1/submissions/{sid}/envelopes/{eid}").json()
        assert progress == {"offset": len(data), "size": len(data)}
    final = client.post(f"/api/v1/submissions/{sid}/finalise")
    assert final.status_code == 200
    assert final.json()["status"] == "complete"
    assert final.json()["received"].endswith(":00:00Z")  # rounded to the hour

    bundle = courier_get(client, world, "/api/v1/courier/bundle?limit=10")
    assert bundle.status_code == 200
    assert bundle.headers["content-type"] == "application/x-tar"
    chain, subs = read_bundle(bundle.content)
    assert [crypto.parse_manifest(m).version for m in chain] == [1]
    meta, got = subs[sid]
    assert got == envelopes  # byte-identical
    assert meta["kind"] == "submission"
    digests = {e["id"]: e["digest"] for e in meta["envelopes"]}
    assert digests["form"] == crypto.b64e(crypto.payload_digest(io.BytesIO(form)))
    assert _open(world, got[attachment_id(1)]) == bytes(range(256)) * 3000


def test_finalise_refuses_until_every_envelope_is_complete_and_is_idempotent(
    client: TestClient, genesis: dict[str, Any]
) -> None:
    form = seal(genesis, b"form")
    extra = seal(genesis, b"extra", kind="attachment")
    sid = create(client, {"form": form, attachment_id(2): extra}).json()["id"]
    upload(client, sid, "form", form)
    refused = client.post(f"/api/v1/submissions/{sid}/finalise")
    assert refused.status_code == 409
    assert refused.json()["error"]["code"] == "submission-incomplete"
    upload(client, sid, attachment_id(2), extra)
    first = client.post(f"/api/v1/submissions/{sid}/finalise")
    again = client.post(f"/api/v1/submissions/{sid}/finalise")
    assert first.status_code == again.status_code == 200
    assert first.json() == again.json()
    # A complete submission takes no more bytes.
    closed = put(client, sid, "form", 0, b"x")
    assert closed.status_code == 409
    assert closed.json()["error"]["code"] == "upload-closed"


def test_wrong_offset_is_refused_with_the_servers_offset(
    client: TestClient, genesis: dict[str, Any]
) -> None:
    form = seal(genesis, b"form")
    sid = create(client, {"form": form}).json()["id"]
    assert put(client, sid, "form", 0, form[:1000]).json() == {"offset": 1000}
    response = put(client, sid, "form", 500, form[500:1500])
    assert response.status_code == 409
    assert response.json()["error"] == {
        "code": "upload-offset-mismatch",
        "message": response.json()["error"]["message"],
        "detail": {"offset": 1000},
    }
    assert put(client, sid, "form", 1000, form[1000:]).json() == {"offset": len(form)}


def test_body_beyond_the_declared_size_is_refused(
    client: TestClient, genesis: dict[str, Any]
) -> None:
    form = seal(genesis, b"form")
    sid = create(client, {"form": form}).json()["id"]
    response = put(client, sid, "form", 0, form + b"more")
    assert response.status_code == 413
    assert response.json()["error"]["code"] == "upload-too-large"
    assert client.get(f"/api/v1/submissions/{sid}/envelopes/form").json()["offset"] == 0


def test_upload_must_be_octet_stream(client: TestClient, genesis: dict[str, Any]) -> None:
    form = seal(genesis, b"form")
    sid = create(client, {"form": form}).json()["id"]
    response = client.put(
        f"/api/v1/submissions/{sid}/envelopes/form?offset=0",
        content=form,
        headers={"Content-Type": "text/plain"},
    )
    assert response.status_code == 415
    assert response.json()["error"]["code"] == "unsupported-media-type"


def test_unknown_submission_or_envelope_is_not_found(client: TestClient) -> None:
    response = client.get(f"/api/v1/submissions/{'0' * 32}/envelopes/form")
    assert response.status_code == 404
    assert response.json()["error"]["code"] == "not-found"
    bad = client.get("/api/v1/submissions/NOTHEX/envelopes/form")
    assert bad.status_code == 422
    assert bad.json()["error"]["code"] == "invalid-request"


@pytest.mark.parametrize(
    ("body", "field"),
    [
        ({"envelopes": [{"id": attachment_id(1), "size": 10}]}, None),  # no form
        ({"envelopes": [{"id": "form", "size": 10}, {"id": "form", "size": 10}]}, None),
        ({"envelopes": [{"id": "FORM", "size": 10}]}, "envelopes"),
        ({"envelopes": [{"id": "form", "size": 0}]}, "envelopes"),
        ({"envelopes": [{"id": "form", "size": 10}], "mailbox": "xyz"}, "mailbox"),
        ({"envelopes": [{"id": "form", "size": 10}], "surprise": 1}, "surprise"),
    ],
)
def test_malformed_declarations_are_refused(
    client: TestClient, body: dict[str, Any], field: str | None
) -> None:
    response = client.post("/api/v1/submissions", json={"kind": "submission", **body})
    assert response.status_code == 422
    error = response.json()["error"]
    assert error["code"] == "invalid-request"
    if field is not None:
        assert any(field in map(str, e["loc"]) for e in error["detail"]["errors"])


def test_limits_on_count_and_size_are_enforced(
    make_client: Callable[..., TestClient], genesis: dict[str, Any]
) -> None:
    client = make_client(max_attachments=2, max_envelope_bytes=1000, max_submission_bytes=2500)

    def declare(sizes: list[int]) -> Any:
        envelopes = [{"id": "form", "size": sizes[0]}]
        envelopes += [{"id": attachment_id(n), "size": s} for n, s in enumerate(sizes[1:])]
        return client.post(
            "/api/v1/submissions", json={"kind": "submission", "envelopes": envelopes}
        )

    assert declare([1000, 1000]).status_code == 201
    too_many = declare([10, 10, 10, 10])
    assert too_many.status_code == 422
    assert too_many.json()["error"]["detail"] == {"max_attachments": 2}
    assert declare([1001]).json()["error"]["detail"] == {"max_envelope_bytes": 1000}
    assert declare([1000, 1000, 1000]).json()["error"]["detail"] == {"max_submission_bytes": 2500}


def _rejected(
    client: TestClient, data: bytes, code: str, eid: str = "form", kind: str = "submission"
) -> None:
    envelopes = {"form": data} if eid == "form" else {"form": b"x" * 5000, eid: data}
    sid = create(client, envelopes, kind=kind).json()["id"]
    response = put(client, sid, eid, 0, data)
    assert response.status_code == 422, response.text
    assert response.json()["error"]["code"] == code
    # The bytes are gone: the client may start again from 0.
    assert client.get(f"/api/v1/submissions/{sid}/envelopes/{eid}").json()["offset"] == 0
    assert client.post(f"/api/v1/submissions/{sid}/finalise").status_code == 409


def test_envelope_naming_an_unknown_manifest_version_is_refused(
    client: TestClient, world: World
) -> None:
    unknown = world.manifest(2)
    _rejected(client, seal(unknown, b"form"), "manifest-unknown")


def test_envelope_naming_a_forged_manifest_digest_is_refused(
    client: TestClient, world: World
) -> None:
    # Same version number, different content: the digest must match ours.
    forged = world.manifest(1, active=[world.verifiers[2]])
    _rejected(client, seal(forged, b"form"), "manifest-unknown")


def test_envelope_with_an_extra_or_missing_recipient_is_refused(
    client: TestClient, world: World, genesis: dict[str, Any]
) -> None:
    extra = [*world.verifiers[:2], world.verifiers[2]]
    _rejected(client, seal(genesis, b"form", recipients=extra), "recipients-mismatch")
    _rejected(client, seal(genesis, b"form", recipients=world.verifiers[:1]), "recipients-mismatch")


def test_envelope_of_the_wrong_kind_for_its_place_is_refused(
    client: TestClient, genesis: dict[str, Any]
) -> None:
    _rejected(client, seal(genesis, b"form", kind="attachment"), "envelope-invalid")
    _rejected(
        client, seal(genesis, b"form", kind="submission"), "envelope-invalid", eid=attachment_id(3)
    )
    _rejected(
        client, seal(genesis, b"form", kind="submission"), "envelope-invalid", kind="followup"
    )


def test_oversize_header_is_refused_as_soon_as_its_length_arrives(
    make_client: Callable[..., TestClient], genesis: dict[str, Any]
) -> None:
    client = make_client()
    hostile = b"INTAKEv1" + (65537).to_bytes(4, "big") + b"{" * 1000
    sid = create(client, {"form": hostile + b"\x00" * 100_000}).json()["id"]
    response = put(client, sid, "form", 0, hostile)  # only the start of it
    assert response.status_code == 422
    assert response.json()["error"]["code"] == "envelope-invalid"
    assert client.get(f"/api/v1/submissions/{sid}/envelopes/form").json()["offset"] == 0

    strict = make_client(max_header_bytes=256)  # the operator's own, lower bound
    envelope = seal(genesis, b"form")
    assert int.from_bytes(envelope[8:12], "big") > 256
    sid = create(strict, {"form": envelope}).json()["id"]
    response = put(strict, sid, "form", 0, envelope[:100])
    assert response.status_code == 422
    assert response.json()["error"]["code"] == "envelope-invalid"


def test_garbage_and_broken_framing_are_refused(
    client: TestClient, genesis: dict[str, Any]
) -> None:
    _rejected(client, b"NOTINTAKE" + b"\x00" * 5000, "envelope-invalid")
    good = seal(genesis, b"form")
    _rejected(client, good[:-1], "envelope-invalid")  # payload cut by one byte
    _rejected(client, good + b"\x00" * 17, "envelope-invalid")  # a chunk too many
    header_len = int.from_bytes(good[8:12], "big")
    mangled = good[:12] + b"[" + good[13 : 12 + header_len] + good[12 + header_len :]
    _rejected(client, mangled, "envelope-invalid")  # header JSON broken


def test_disk_guard_refuses_new_bytes_with_507_and_keeps_what_is_stored(
    make_client: Callable[..., TestClient], world: World, genesis: dict[str, Any]
) -> None:
    roomy = make_client()
    form = seal(genesis, b"x" * 20_000)
    sid = create(roomy, {"form": form}).json()["id"]
    assert put(roomy, sid, "form", 0, form[:5000]).json() == {"offset": 5000}

    full = make_client(min_free_bytes=2**62)  # same database and blob directory
    refused = put(full, sid, "form", 5000, form[5000:])
    assert refused.status_code == 507
    assert refused.json()["error"]["code"] == "insufficient-storage"
    assert create(full, {"form": form}).status_code == 507
    assert full.get(f"/api/v1/submissions/{sid}/envelopes/form").json()["offset"] == 5000

    # Space again: the upload resumes where it stopped and arrives intact.
    assert put(roomy, sid, "form", 5000, form[5000:]).json() == {"offset": len(form)}
    assert roomy.post(f"/api/v1/submissions/{sid}/finalise").status_code == 200
    _chain, subs = read_bundle(courier_get(roomy, world, "/api/v1/courier/bundle").content)
    assert subs[sid][1]["form"] == form


def _cut_put(base: str, path: str, declared: int, sent: bytes) -> None:
    """Sends headers promising `declared` bytes, then `sent`, then hangs up."""
    parts = urlsplit(base)
    with socket.create_connection((parts.hostname, parts.port)) as sock:
        head = (
            f"PUT {path} HTTP/1.1\r\nHost: {parts.netloc}\r\n"
            f"Content-Type: application/octet-stream\r\nContent-Length: {declared}\r\n\r\n"
        )
        sock.sendall(head.encode() + sent)
        # Let the server take in what was sent before the connection drops.
        sock.shutdown(socket.SHUT_WR)


@pytest.mark.parametrize("blob_backend", ["fs", "db"])
def test_upload_resumes_after_the_body_is_cut_mid_request(
    make_settings: Callable[..., Any], world: World, genesis: dict[str, Any], blob_backend: str
) -> None:
    app = create_app(make_settings(blob_backend=blob_backend))
    content = bytes(range(256)) * 4000
    form = seal(genesis, content)
    with live_server(app) as base, httpx.Client(base_url=base, timeout=10) as http:
        sid = create(http, {"form": form}).json()["id"]
        path = f"/api/v1/submissions/{sid}/envelopes/form"
        _cut_put(base, f"{path}?offset=0", len(form), form[:300_000])

        offset = -1
        for _ in range(600):  # the server notices the hang-up asynchronously (slow CI: 30 s)
            offset = http.get(path).json()["offset"]
            if offset == 300_000:
                break
            threading.Event().wait(0.05)
        assert offset == 300_000
        response = put(http, sid, "form", offset, form[offset:])
        for _ in range(100):
            if response.status_code != 409 or response.json()["error"]["code"] != "upload-busy":
                break
            threading.Event().wait(0.05)
            response = put(http, sid, "form", offset, form[offset:])
        assert response.json() == {"offset": len(form)}
        assert http.post(f"/api/v1/submissions/{sid}/finalise").status_code == 200
        bundle = courier_get(http, world, "/api/v1/courier/bundle")
        _chain, subs = read_bundle(bundle.content)
    assert subs[sid][1]["form"] == form
    assert _open(world, subs[sid][1]["form"]) == content


def test_concurrent_finalise_completes_once_and_never_early(
    make_settings: Callable[..., Any], world: World, genesis: dict[str, Any]
) -> None:
    app = create_app(make_settings())
    form = seal(genesis, b"form")
    last = seal(genesis, b"y" * 100_000, kind="attachment")
    with live_server(app) as base, httpx.Client(base_url=base, timeout=20) as http:
        sid = create(http, {"form": form, attachment_id(7): last}).json()["id"]
        upload(http, sid, "form", form)
        upload(http, sid, attachment_id(7), last[:-10])
        results: list[tuple[int, str]] = []
        lock = threading.Lock()
        start = threading.Barrier(9)

        def finalise() -> None:
            with httpx.Client(base_url=base, timeout=20) as own:
                start.wait()
                for _ in range(5):
                    response = own.post(f"/api/v1/submissions/{sid}/finalise")
                    body = response.json()
                    with lock:
                        results.append(
                            (response.status_code, body.get("status") or body["error"]["code"])
                        )

        def finish_upload() -> None:
            with httpx.Client(base_url=base, timeout=20) as own:
                start.wait()
                put(own, sid, attachment_id(7), len(last) - 10, last[-10:])

        threads = [threading.Thread(target=finalise) for _ in range(8)]
        threads.append(threading.Thread(target=finish_upload))
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join(30)
        assert set(results) <= {(200, "complete"), (409, "submission-incomplete")}
        final = http.post(f"/api/v1/submissions/{sid}/finalise")
        assert final.status_code == 200
        listing = courier_get(http, world, "/api/v1/courier/submissions").json()["submissions"]
    assert [s["id"] for s in listing] == [sid]


def test_same_envelope_in_two_submissions_is_stored_once_and_served_to_both(
    client: TestClient, world: World, genesis: dict[str, Any]
) -> None:
    shared = seal(genesis, b"same scan", kind="attachment")
    first = submit(client, {"form": seal(genesis, b"one"), attachment_id(1): shared})
    second = submit(client, {"form": seal(genesis, b"two"), attachment_id(1): shared})
    _chain, subs = read_bundle(courier_get(client, world, "/api/v1/courier/bundle").content)
    assert subs[first][1][attachment_id(1)] == subs[second][1][attachment_id(1)] == shared


def test_followup_is_accepted_with_a_followup_form(
    client: TestClient, world: World, genesis: dict[str, Any]
) -> None:
    form = seal(genesis, b'{"answers": {"message": "more"}}', kind="followup")
    sid = submit(client, {"form": form}, kind="followup", mailbox="cd" * 32)
    _chain, subs = read_bundle(courier_get(client, world, "/api/v1/courier/bundle").content)
    assert subs[sid][0]["kind"] == "followup"
    assert subs[sid][1]["form"] == form


def test_previous_manifest_is_accepted_only_during_the_grace_period(
    make_client: Callable[..., TestClient], world: World, genesis: dict[str, Any]
) -> None:
    client = make_client()
    sealed_before_rotation = seal(genesis, b"form")
    assert client.post("/api/v1/manifests", json=world.manifest(2)).status_code == 201
    submit(client, {"form": sealed_before_rotation})  # within the grace period

    strict = make_client(manifest_grace_hours=0)
    late = seal(genesis, b"late")
    sid = create(strict, {"form": late}).json()["id"]
    response = put(strict, sid, "form", 0, late)
    assert response.status_code == 422
    assert response.json()["error"]["code"] == "manifest-superseded"


def _race(
    base: str, jobs: list[Callable[[httpx.Client], tuple[int, str]]]
) -> list[tuple[int, str]]:
    """Runs every job in its own thread and connection, released together."""
    results: list[tuple[int, str]] = []
    lock = threading.Lock()
    start = threading.Barrier(len(jobs))

    def run(job: Callable[[httpx.Client], tuple[int, str]]) -> None:
        with httpx.Client(base_url=base, timeout=60) as own:
            start.wait()
            answer = job(own)
            with lock:
                results.append(answer)

    threads = [threading.Thread(target=run, args=(job,)) for job in jobs]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(120)
    assert len(results) == len(jobs), "a request never came back"
    return results


def _answer(response: httpx.Response) -> tuple[int, str]:
    body = response.json()
    return response.status_code, str(
        body.get("status") or body.get("offset") or body["error"]["code"]
    )


def _finalise_job(sid: str, tries: int = 1) -> Callable[[httpx.Client], tuple[int, str]]:
    """Finalises up to `tries` times (until complete); the first answer that
    is not 409 submission-incomplete, else that one."""

    def job(own: httpx.Client) -> tuple[int, str]:
        answer = (0, "")
        for _ in range(tries):
            answer = _answer(own.post(f"/api/v1/submissions/{sid}/finalise"))
            if answer != (409, "submission-incomplete"):
                break
        return answer

    return job


# Bounded stress: enough submissions and racers that the window between one
# finalise finding an envelope's bytes held and another moving them into the
# store is hit on a loaded 2-core machine, few enough to stay quick.
_RACED_SUBMISSIONS = 12
_FINALISERS = 6


@pytest.mark.parametrize("blob_backend", ["fs", "db"])
def test_concurrent_finalises_of_held_envelopes_all_answer_complete_never_500(
    make_settings: Callable[..., Any], world: World, genesis: dict[str, Any], blob_backend: str
) -> None:
    """Every byte held but never validated (the request that carried the
    last bytes died): several finalises race to validate and store the
    same envelopes, and every one gets the winner's answer."""
    app = create_app(make_settings(blob_backend=blob_backend))
    blobs = app.state.runtime.blobs
    sids = []
    with live_server(app) as base, httpx.Client(base_url=base, timeout=60) as http:
        for n in range(_RACED_SUBMISSIONS):
            # Several envelopes each: a finalise that falls behind another
            # reaches a later envelope after the other has stored it.
            envelopes = {"form": seal(genesis, b"form %d" % n)}
            for a in range(4):
                content = bytes([n, a]) * 50_000
                envelopes[attachment_id(n * 10 + a)] = seal(genesis, content, kind="attachment")
            sid = create(http, envelopes).json()["id"]
            for eid, data in envelopes.items():
                # As a killed server leaves them: the partial whole, the row not.
                with blobs.append(upload_id(sid, eid), 0) as appender:
                    appender.write(data)
            sids.append(sid)
        results = _race(base, [_finalise_job(sid) for sid in sids for _ in range(_FINALISERS)])
        assert results == [(200, "complete")] * len(results)
        listing = courier_get(http, world, "/api/v1/courier/submissions").json()["submissions"]
        assert not list(blobs.list_partials())  # while the app's engine is open
    assert sorted(s["id"] for s in listing) == sorted(sids)


@pytest.mark.parametrize("blob_backend", ["fs", "db"])
def test_a_request_that_lost_the_race_to_store_an_envelope_answers_the_winners_success(
    make_client: Callable[..., TestClient], genesis: dict[str, Any], blob_backend: str
) -> None:
    """The race above, its interleaving forced: two requests find the same
    envelope's bytes all held; one stores it (moving the partial away), then
    the other goes on to validate and store it too."""
    client = make_client(blob_backend=blob_backend)
    runtime = client.app.state.runtime
    form = seal(genesis, b"form")
    sid = create(client, {"form": form}).json()["id"]
    with runtime.blobs.append(upload_id(sid, "form"), 0) as appender:
        appender.write(form)
    # What the slower request saw: every byte held, the envelope not complete.
    seen = Uploads(runtime)._target(sid, "form")
    assert not seen.complete
    assert client.post(f"/api/v1/submissions/{sid}/finalise").json()["status"] == "complete"

    Uploads(runtime)._complete(seen)  # a finalise: returns as the winner did
    assert Uploads(runtime)._finish(seen, len(form), disconnected=False) == len(form)  # a PUT
    final = client.post(f"/api/v1/submissions/{sid}/finalise")
    assert final.json()["status"] == "complete"
    assert list(runtime.blobs.list_partials()) == []


@pytest.mark.parametrize("blob_backend", ["fs", "db"])
def test_last_put_racing_finalises_answers_success_never_500(
    make_settings: Callable[..., Any], world: World, genesis: dict[str, Any], blob_backend: str
) -> None:
    """The PUT of an envelope's last bytes races finalises that may validate
    and store the envelope first: the PUT still answers its offset, and each
    finalise answers complete or (before the bytes arrived) incomplete."""
    app = create_app(make_settings(blob_backend=blob_backend))
    jobs: list[Callable[[httpx.Client], tuple[int, str]]] = []
    with live_server(app) as base, httpx.Client(base_url=base, timeout=60) as http:
        sids = []
        for n in range(_RACED_SUBMISSIONS):
            form = seal(genesis, b"form %d" % n)
            last = seal(genesis, bytes([n]) * 300_000, kind="attachment")
            sid = create(http, {"form": form, attachment_id(n): last}).json()["id"]
            upload(http, sid, "form", form)
            upload(http, sid, attachment_id(n), last[:-10])
            sids.append(sid)

            def finish(own: httpx.Client, sid: str = sid, n: int = n, last: bytes = last) -> Any:
                return _answer(put(own, sid, attachment_id(n), len(last) - 10, last[-10:]))

            jobs.append(finish)
            jobs.extend(_finalise_job(sid, tries=20) for _ in range(_FINALISERS - 1))
        results = _race(base, jobs)
        puts = [answer for answer in results if answer[1].isdigit()]
        assert len(puts) == _RACED_SUBMISSIONS
        assert all(status == 200 for status, _ in puts), puts
        assert set(results) - set(puts) <= {(200, "complete"), (409, "submission-incomplete")}
        for sid in sids:
            final = http.post(f"/api/v1/submissions/{sid}/finalise")
            assert final.status_code == 200, final.text
        listing = courier_get(http, world, "/api/v1/courier/submissions").json()["submissions"]
    assert sorted(s["id"] for s in listing) == sorted(sids)
