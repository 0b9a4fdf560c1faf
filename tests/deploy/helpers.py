"""Builders for the deployment tests.

Applicants' submissions are sealed with the crypto API to the demo
organisation's manifest (exactly what the browser does) and uploaded over HTTP
to real `intake serve` processes. The verifier's side is the real tools:
`intake-courier pull` and `intake-verifier decrypt` with the demo key files.
"""

from __future__ import annotations

import hashlib
import io
import json
import secrets
import shutil
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path

import httpx
import pytest
from pydantic import SecretStr

import crypto
from app.manifests import service as manifests
from app.migrate import upgrade
from app.runtime import build_runtime
from app.settings import Settings
from tests.support.demo import DEMO_PASSPHRASE  # noqa: F401 -- re-exported for the deploy tests
from tests.support.live_server import (  # noqa: F401 -- re-exported for the deploy tests
    BIN,
    free_port,
    run_cli,
    serve,
    server_env,
    stop,
    wait_for,
)

REPO = Path(__file__).resolve().parents[2]
DEPLOY = REPO / "deploy"


def require_tool(name: str) -> str:
    """The tool's path. Missing is a failure, not a skip: it installs with
    deploy/install-test-tools.sh, which `make test` runs."""
    found = shutil.which(name) or shutil.which(name, path="/usr/sbin:/sbin")
    if found is None:
        pytest.fail(f"{name} is missing: run deploy/install-test-tools.sh (as root)")
    return found


@dataclass(frozen=True)
class Org:
    """The demo organisation `intake-admin demo` writes (real keys, real signatures)."""

    folder: Path

    @property
    def genesis(self) -> Path:
        return self.folder / "manifest-1.json"

    @property
    def trust_root(self) -> str:
        return (self.folder / "trust-root.json").read_text()

    @property
    def manifest(self) -> crypto.Manifest:
        return crypto.parse_manifest(json.loads(self.genesis.read_text()))

    @property
    def courier_key(self) -> Path:
        return self.folder / "courier" / "courier.key"

    @property
    def keyring(self) -> Path:
        return self.folder / "keyring"


@dataclass(frozen=True)
class Sealed:
    """One applicant's submission: the envelopes to upload and what they hold."""

    canary: str
    envelopes: dict[str, bytes]  # "form" first, then attachments by id
    attachment_sha256: frozenset[str]


def seal_submission(org: Org, canary: str, attachment_sizes: Sequence[int] = ()) -> Sealed:
    """Seals a form (its answers carry `canary`) and attachments of the given
    sizes to the manifest's active verifiers, as the applicant's page does."""
    manifest = org.manifest
    recipients = [verifier.x25519 for verifier in manifest.active_verifiers()]
    attachments: dict[str, bytes] = {}
    refs = []
    digests = set()
    for number, size in enumerate(attachment_sizes):
        content = secrets.token_bytes(size)
        envelope = crypto.seal_bytes(
            content, kind="attachment", manifest=manifest.ref, recipients=recipients
        )
        eid = secrets.token_hex(16)
        attachments[eid] = envelope
        digests.add(hashlib.sha256(content).hexdigest())
        refs.append(
            {
                "id": eid,
                "name": f"scan-{number}.bin",
                "type": "application/octet-stream",
                "size": size,
                "digest": crypto.b64e(crypto.payload_digest(io.BytesIO(envelope))),
            }
        )
    form = {
        "v": 2,
        "lang": "ru",
        "form": {"id": "deserter-intake", "version": 1},
        "answers": {"story": f"Я ушёл из части. {canary}"},
        "attachments": refs,
        "sent": crypto.format_time(crypto.parse_time("2026-11-22T10:00:00Z")),
    }
    sealed_form = crypto.seal_bytes(
        json.dumps(form, ensure_ascii=False).encode(),
        kind="submission",
        manifest=manifest.ref,
        recipients=recipients,
    )
    return Sealed(canary, {"form": sealed_form, **attachments}, frozenset(digests))


@dataclass
class Uploader:
    """The upload protocol over HTTP, spreading requests over several
    instances: chunk n of every envelope goes to instance n mod len(urls)."""

    urls: Sequence[str]
    chunk: int = 256 * 1024
    requests_per_instance: dict[str, int] = field(default_factory=dict)

    def __post_init__(self) -> None:
        self._clients = {url: httpx.Client(base_url=url, timeout=60) for url in self.urls}

    def close(self) -> None:
        for client in self._clients.values():
            client.close()

    def _client(self, index: int) -> httpx.Client:
        url = self.urls[index % len(self.urls)]
        self.requests_per_instance[url] = self.requests_per_instance.get(url, 0) + 1
        return self._clients[url]

    def submit(self, sealed: Sealed) -> str:
        """Declare, upload every envelope chunk by chunk, finalise; the id."""
        step = 0
        declared = {
            "kind": "submission",
            "mailbox": None,
            "envelopes": [{"id": eid, "size": len(data)} for eid, data in sealed.envelopes.items()],
        }
        created = self._client(step).post("/api/v1/submissions", json=declared)
        assert created.status_code == 201, created.text
        sid: str = created.json()["id"]
        for eid, data in sealed.envelopes.items():
            offset = 0
            while offset < len(data):
                step += 1
                client = self._client(step)
                target = f"/api/v1/submissions/{sid}/envelopes/{eid}"
                # The instance about to take this chunk knows how much the
                # other one stored: the upload state is shared, not local.
                progress = client.get(target)
                assert progress.status_code == 200, progress.text
                assert progress.json()["offset"] == offset, (progress.json(), offset)
                piece = data[offset : offset + self.chunk]
                response = client.put(
                    f"{target}?offset={offset}",
                    content=piece,
                    headers={"Content-Type": "application/octet-stream"},
                )
                assert response.status_code == 200, response.text
                offset = response.json()["offset"]
        step += 1
        final = self._client(step).post(f"/api/v1/submissions/{sid}/finalise")
        assert final.status_code == 200, final.text
        return sid


def prepare_database(org: Org, database_url: str, blob_dir: Path, **extra: str) -> dict[str, str]:
    """Migrates a fresh database and accepts the genesis manifest (what
    `intake migrate` and `intake manifests import` do, in this process to
    save two interpreter starts); returns the server's environment, with
    proof of work and rate limits off: these tests load the server."""
    env = server_env(
        database_url,
        blob_dir,
        org.trust_root,
        INTAKE_POW_DIFFICULTY="0",
        INTAKE_RATE_LIMIT_SCALE="0",
        INTAKE_MIN_FREE_BYTES="0",
        **extra,
    )
    settings = Settings(
        database_url=database_url,
        blob_dir=blob_dir,
        environment="test",
        pow_secret=SecretStr(env["INTAKE_POW_SECRET"]),
        trust_root=org.trust_root,
    )
    upgrade(settings)
    runtime = build_runtime(settings)
    try:
        with runtime.session_factory() as session, session.begin():
            manifests.accept(
                session, settings, runtime.manifests, json.loads(org.genesis.read_text())
            )
    finally:
        runtime.close()
    return env


@dataclass(frozen=True)
class Case:
    sid: str
    answers: str
    attachment_sha256: frozenset[str]


def pull_and_decrypt(org: Org, url: str, work: Path, tools_env: dict[str, str]) -> dict[str, Case]:
    """What a courier and a verifier do: fetch every complete submission,
    open it on the (here, not air-gapped) verifier's side. Cases by id."""
    work.mkdir(parents=True, exist_ok=True)
    bundle = work / "bundle.tar"
    cases = work / "cases"
    run_cli(
        [
            "intake-courier",
            "pull",
            "--server",
            url,
            "--key",
            str(org.courier_key),
            "--out",
            str(bundle),
            "--limit",
            "500",
        ],
        tools_env,
    )
    run_cli(
        [
            "intake-verifier",
            "decrypt",
            str(bundle),
            "--keyring",
            str(org.keyring),
            "--out",
            str(cases),
        ],
        tools_env,
    )
    opened: dict[str, Case] = {}
    for answers in sorted(cases.glob("*/answers.txt")):
        folder = answers.parent
        attachments = frozenset(
            hashlib.sha256(path.read_bytes()).hexdigest()
            for path in (folder / "attachments").glob("*")
            if path.is_file()
        )
        opened[folder.name] = Case(folder.name, answers.read_text(encoding="utf-8"), attachments)
    return opened
