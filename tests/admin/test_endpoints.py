"""The server side of the admins' documents, in process on SQLite and PostgreSQL:
the audit log, site documents, expiry status and the revocation report.

Keys are made in memory here (no key files): these tests are about what the
server accepts, stores and reports, not about the ceremony.
"""

from __future__ import annotations

import datetime as dt
import time
import warnings
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest

import crypto
from app.main import create_app
from app.maintenance import status as server_status
from app.migrate import upgrade
from app.runtime import build_runtime
from app.settings import Settings
from crypto.site import SITE_TYPE, build_site_payload, file_digest
from tests.support.app_clients import unthrottled_settings
from tests.support.databases import fresh_database, postgres_unavailable_reason

with warnings.catch_warnings():
    # Starlette's TestClient asks for `httpx2`; the pinned httpx works the same.
    warnings.filterwarnings("ignore", message="Using `httpx` with `starlette.testclient`")
    from fastapi.testclient import TestClient

ORG = {"name": "Test org", "contact": "test@example.invalid"}


def now() -> dt.datetime:
    return dt.datetime.now(dt.UTC).replace(microsecond=0)


@dataclass
class Org:
    """Admins, verifiers and a courier in memory, and the chain they sign."""

    admins: list[crypto.Identity]
    verifiers: list[crypto.Identity]
    courier: crypto.Identity
    chain: list[dict[str, Any]] = field(default_factory=list)

    @classmethod
    def create(cls) -> Org:
        return cls(
            admins=[crypto.generate_identity("admin", f"admin-{n}") for n in range(3)],
            verifiers=[crypto.generate_identity("verifier", f"v-{n}") for n in range(2)],
            courier=crypto.generate_identity("courier", "courier"),
        )

    def trust_root(self) -> str:
        root = crypto.TrustRoot(2, frozenset(a.sign_kid for a in self.admins))
        return crypto.canonical_json(root.to_json()).decode()

    def next(
        self,
        *,
        admins: Sequence[crypto.Identity] | None = None,
        signers: Sequence[crypto.Identity] | None = None,
        active: Sequence[crypto.Identity] | None = None,
        expires_in: dt.timedelta = dt.timedelta(days=365),
    ) -> dict[str, Any]:
        """The next manifest, with admin set `admins` (default: unchanged), signed by
        `signers` (default: the first two of that set)."""
        if admins is not None:
            self.admins = list(admins)
        payload = crypto.build_manifest_payload(
            version=len(self.chain) + 1,
            issued=now(),
            expires=now() + expires_in,
            org=ORG,
            threshold=2,
            admins=[a.public() for a in self.admins],
            verifiers=[
                crypto.VerifierEntry.from_public(v.public())
                for v in (active if active is not None else self.verifiers[:1])
            ],
            couriers=[self.courier.public()],
        )
        envelope = crypto.dsse_sign(crypto.MANIFEST_TYPE, payload, list(signers or self.admins[:2]))
        self.chain.append(envelope)
        return envelope


def site_envelope(
    signers: Sequence[crypto.Identity], *, manifest_version: int = 1, issued: dt.datetime
) -> dict[str, Any]:
    payload = build_site_payload(
        manifest_version=manifest_version,
        issued=issued,
        files={"/": file_digest(b"<html>"), "/static/js/x.js": file_digest(b"x")},
    )
    return crypto.dsse_sign(SITE_TYPE, payload, list(signers))


@pytest.fixture(params=["sqlite", "postgresql"])
def database_url(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[str]:
    if request.param == "postgresql":
        reason = postgres_unavailable_reason()
        if reason:
            pytest.skip(reason)
    with fresh_database(str(request.param), tmp_path) as url:
        yield url


@pytest.fixture
def org() -> Org:
    return Org.create()


@pytest.fixture
def settings(database_url: str, tmp_path: Path, org: Org) -> Settings:
    settings = unthrottled_settings(
        database_url=database_url,
        blob_dir=tmp_path / "blobs",
        trust_root=org.trust_root(),
        pow_secret="p" * 64,
    )
    upgrade(settings)
    return settings


@pytest.fixture
def client(settings: Settings) -> Iterator[TestClient]:
    with TestClient(create_app(settings)) as test_client:
        yield test_client


def post(client: TestClient, envelope: dict[str, Any]) -> Any:
    response = client.post("/api/v1/manifests", json=envelope)
    assert response.status_code == 201, response.text
    return response


def test_audit_log_names_who_signed_each_version_including_both_sets_of_a_rotation(
    client: TestClient, org: Org
) -> None:
    a0, a1, a2 = org.admins
    post(client, org.next(signers=[a0, a2]))
    newcomers = [crypto.generate_identity("admin", f"new-{n}") for n in range(2)]
    post(client, org.next(admins=[a2, *newcomers], signers=[a0, a1, *newcomers]))

    log = client.get("/api/v1/manifests/audit").json()

    assert [entry["version"] for entry in log["manifests"]] == [1, 2]
    assert log["manifests"][0]["signed_by"] == sorted([a0.sign_kid, a2.sign_kid])
    assert log["manifests"][1]["signed_by"] == sorted(
        [a0.sign_kid, a1.sign_kid, *(n.sign_kid for n in newcomers)]
    )
    assert log["chain"] == org.chain
    assert log["manifests"][1]["digest"] == crypto.b64e(crypto.parse_manifest(org.chain[1]).digest)


def test_site_document_is_stored_only_when_signed_by_current_admins_and_newer(
    client: TestClient, org: Org
) -> None:
    post(client, org.next())
    assert client.get("/api/v1/site").json()["error"]["code"] == "no-site-document"
    first = site_envelope(org.admins[:2], issued=now() - dt.timedelta(minutes=5))

    one = client.post("/api/v1/site", json=site_envelope(org.admins[:1], issued=now()))
    future = client.post(
        "/api/v1/site", json=site_envelope(org.admins[:2], manifest_version=2, issued=now())
    )
    stored = client.post("/api/v1/site", json=first)
    again = client.post("/api/v1/site", json=first)

    assert one.status_code == 422 and one.json()["error"]["detail"]["reason"] == "threshold"
    assert future.status_code == 422 and future.json()["error"]["detail"]["reason"] == "malformed"
    assert stored.status_code == 201 and stored.json()["files"] == 2
    assert again.status_code == 409 and again.json()["error"]["code"] == "site-stale"
    assert client.get("/api/v1/site").json() == {"site": first}
    newer = site_envelope(org.admins[1:], issued=now())
    assert client.post("/api/v1/site", json=newer).status_code == 201
    assert client.get("/api/v1/site").json() == {"site": newer}
    assert len(client.get("/api/v1/manifests/audit").json()["site_documents"]) == 2


def test_after_an_admin_rotation_the_site_document_must_be_signed_again(
    client: TestClient, org: Org
) -> None:
    post(client, org.next())
    old_admins = list(org.admins)
    assert (
        client.post(
            "/api/v1/site", json=site_envelope(old_admins[:2], issued=now() - dt.timedelta(1))
        ).status_code
        == 201
    )
    newcomers = [crypto.generate_identity("admin", f"new-{n}") for n in range(2)]
    post(client, org.next(admins=newcomers, signers=[*old_admins[:2], *newcomers]))

    status = client.get("/api/v1/status").json()
    by_old = client.post("/api/v1/site", json=site_envelope(old_admins[:2], issued=now()))
    by_new = client.post("/api/v1/site", json=site_envelope(newcomers, issued=now()))

    assert status["site"]["valid_for_current_manifest"] is False
    assert by_old.status_code == 422 and by_old.json()["error"]["detail"]["reason"] == "threshold"
    assert by_new.status_code == 201
    assert client.get("/api/v1/status").json()["site"]["valid_for_current_manifest"] is True


def test_status_warns_when_the_latest_manifest_expires_within_14_days(
    client: TestClient, org: Org, settings: Settings
) -> None:
    assert client.get("/api/v1/status").json() == {"manifest": None, "site": None}
    # A fresh 30-day manifest (v3) is not "expiring soon": the reminder means renew now.
    post(client, org.next(expires_in=dt.timedelta(days=30)))
    assert client.get("/api/v1/status").json()["manifest"]["expiring_soon"] is False

    post(client, org.next(expires_in=dt.timedelta(days=10, hours=1)))
    manifest = client.get("/api/v1/status").json()["manifest"]
    runtime = build_runtime(settings)
    try:
        info = server_status(runtime)
    finally:
        runtime.close()

    assert manifest["version"] == 2 and manifest["expiring_soon"] is True
    assert manifest["expires_in_days"] == 10 and manifest["expired"] is False
    assert info["manifest"]["expiring_soon"] is True
    assert "manifest version 2 expires" in info["warnings"][0]


def _upload(client: TestClient, manifest: crypto.Manifest) -> str:
    sealed = crypto.seal_bytes(
        b'{"v":2}',
        kind="submission",
        manifest=manifest.ref,
        recipients=[v.x25519 for v in manifest.active_verifiers()],
    )
    created = client.post(
        "/api/v1/submissions",
        json={
            "kind": "submission",
            "mailbox": None,
            "envelopes": [{"id": "form", "size": len(sealed)}],
        },
    )
    assert created.status_code == 201, created.text
    sid: str = created.json()["id"]
    put = client.put(
        f"/api/v1/submissions/{sid}/envelopes/form?offset=0",
        content=sealed,
        headers={"Content-Type": "application/octet-stream"},
    )
    assert put.status_code == 200, put.text
    assert client.post(f"/api/v1/submissions/{sid}/finalise").status_code == 200
    return sid


def _as_courier(client: TestClient, org: Org, target: str) -> Any:
    auth = crypto.sign_request(org.courier, "GET", target, b"", int(time.time()))
    return client.get(target, headers={"Authorization": auth})


def test_recipients_report_lists_submissions_sealed_to_a_key_for_couriers_only(
    client: TestClient, org: Org
) -> None:
    first, second = org.verifiers
    post(client, org.next(active=[first]))
    old = _upload(client, crypto.parse_manifest(org.chain[-1]))
    post(client, org.next(active=[second]))
    new = _upload(client, crypto.parse_manifest(org.chain[-1]))

    anonymous = client.get("/api/v1/courier/recipients")
    everything = _as_courier(client, org, "/api/v1/courier/recipients").json()
    for_first = _as_courier(client, org, f"/api/v1/courier/recipients?kid={first.kid}").json()
    bad_kid = _as_courier(client, org, "/api/v1/courier/recipients?kid=nothex")

    assert anonymous.status_code == 401
    # Times are kept to the hour only, so both arrived "at once": compare by id.
    assert {s["id"]: s["envelopes"] for s in everything["submissions"]} == {
        old: [{"id": "form", "manifest": 1, "recipients": [first.kid]}],
        new: [{"id": "form", "manifest": 2, "recipients": [second.kid]}],
    }
    assert [s["id"] for s in for_first["submissions"]] == [old]
    assert bad_kid.status_code == 422
