"""What the resilience tests (and `python -m bench`) drive: a demo organisation,
a real `intake serve` process that can be killed and restarted, an uploading
client that resumes the way the applicant's page does, a courier that pulls
and a verifier that opens, and a plaintext canary scanner.

Nothing here stands in for a part of the system: the server is the real
process on a loopback port, the database a real SQLite file or PostgreSQL
database, the keys real key files made by `intake-admin demo`.
"""

from __future__ import annotations

import base64
import contextlib
import hashlib
import io
import json
import random
import secrets
import shutil
import subprocess
import threading
import time
from collections import Counter
from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, BinaryIO, cast

import httpx

import crypto
from harness.server_process import TRANSPORT_ERRORS as TRANSPORT_ERRORS
from harness.server_process import DemoOrg as DemoOrg
from harness.server_process import ServerProcess as ServerProcess
from harness.server_process import initialise_database as initialise_database
from harness.server_process import load_demo_org as load_demo_org
from harness.server_process import make_demo_org as make_demo_org

# -- submissions ----------------------------------------------------------------------


@dataclass
class Prepared:
    """One submission sealed and ready to upload, and what opening it must give."""

    envelopes: dict[str, bytes]  # eid -> envelope bytes, "form" first
    plaintext_sha256: dict[str, str]  # eid -> sha256 of the content sealed in it
    canary: str

    @property
    def size(self) -> int:
        return sum(len(data) for data in self.envelopes.values())


def new_canary() -> str:
    """A string that must never appear in anything the server stores or logs."""
    return "canary-" + secrets.token_hex(12)


def prepare_submission(
    org: DemoOrg,
    canary: str,
    attachment_sizes: Sequence[int] = (),
    rng: random.Random | None = None,
    chunk: int = 65536,
) -> Prepared:
    """A form (answers carrying `canary`) and attachments of these content sizes,
    each attachment starting with the canary too, sealed as the page seals them."""
    rng = rng or random.Random()
    envelopes: dict[str, bytes] = {}
    sums: dict[str, str] = {}
    refs = []
    attachments: dict[str, bytes] = {}
    for size in attachment_sizes:
        aid = secrets.token_hex(16)
        head = f"{canary} attachment {aid}\n".encode()
        body = head + rng.randbytes(max(0, size - len(head)))
        sealed = crypto.seal_bytes(
            body,
            kind="attachment",
            manifest=org.manifest.ref,
            recipients=org.recipients,
            chunk=chunk,
        )
        digest = crypto.payload_digest(io.BytesIO(sealed))
        attachments[aid] = sealed
        sums[aid] = hashlib.sha256(body).hexdigest()
        refs.append(
            {
                "id": aid,
                "name": f"scan-{aid[:6]}.bin",
                "type": "application/octet-stream",
                "size": len(body),
                "digest": crypto.b64e(digest),
            }
        )
    content = {
        "v": 2,
        "lang": "ru",
        "form": {"id": "basic-intake", "version": 1},
        "answers": {"story": f"Я ушёл из части. {canary}", "contact": f"signal {canary}"},
        "attachments": refs,
        "sent": crypto.format_time(datetime.now(UTC).replace(microsecond=0)),
    }
    form_plain = json.dumps(content, ensure_ascii=False).encode()
    envelopes["form"] = crypto.seal_bytes(
        form_plain,
        kind="submission",
        manifest=org.manifest.ref,
        recipients=org.recipients,
        chunk=chunk,
    )
    sums["form"] = hashlib.sha256(form_plain).hexdigest()
    envelopes.update(attachments)
    return Prepared(envelopes=envelopes, plaintext_sha256=sums, canary=canary)


def copy_sqlite(template: Path, folder: Path) -> str:
    """A copy of an initialised SQLite database (it has no WAL left open: its
    server is stopped); saves two CLI runs per test."""
    folder.mkdir(parents=True, exist_ok=True)
    target = folder / "intake.db"
    shutil.copyfile(template, target)
    wal = template.with_name(template.name + "-wal")
    if wal.exists():
        shutil.copyfile(wal, target.with_name(target.name + "-wal"))
    return f"sqlite:///{target}"


@contextlib.contextmanager
def running(server: ServerProcess) -> Iterator[ServerProcess]:
    server.start()
    try:
        yield server
    finally:
        server.stop()


# -- the uploading client ------------------------------------------------------------------


class Refused(Exception):
    """The server answered with an error the client does not retry."""

    def __init__(self, response: httpx.Response) -> None:
        self.status = response.status_code
        try:
            self.error = response.json().get("error", {})
        except ValueError:
            self.error = {}
        super().__init__(f"{self.status} {self.error.get('code', '')}: {response.text[:200]}")


@dataclass
class ClientStats:
    """What the clients saw, shared by every client of a run (thread-safe)."""

    statuses: Counter[int] = field(default_factory=Counter)
    codes: Counter[str] = field(default_factory=Counter)
    transport_errors: int = 0
    resumes: int = 0
    resumed_at_end: int = 0  # the server held every byte but had not completed the envelope
    abandoned_creates: int = 0
    lock: threading.Lock = field(default_factory=threading.Lock)

    def saw(self, response: httpx.Response) -> None:
        with self.lock:
            self.statuses[response.status_code] += 1
            if response.status_code >= 400:
                try:
                    code = response.json()["error"]["code"]
                except (ValueError, KeyError, TypeError):
                    code = f"http-{response.status_code}"
                self.codes[code] += 1

    def bump(self, name: str) -> None:
        with self.lock:
            setattr(self, name, getattr(self, name) + 1)


class ResumingClient:
    """Uploads submissions like the applicant's page: create (with a proof of
    work), PUT each envelope in pieces, and when the connection breaks wait,
    ask the server how much it holds (GET), PUT the rest, then finalise
    (idempotent, retried until answered). `submit` returns only once the
    server acknowledged the submission as complete."""

    def __init__(
        self,
        url: str,
        stats: ClientStats,
        *,
        piece: int = 256 * 1024,
        patience: float = 120,
        timeout: float = 30,
    ) -> None:
        self.http = httpx.Client(base_url=url, timeout=timeout)
        self.stats = stats
        self.piece = piece
        self.patience = patience

    def close(self) -> None:
        self.http.close()

    def __enter__(self) -> ResumingClient:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def _request(self, method: str, path: str, **kw: Any) -> httpx.Response:
        """One request; transport errors propagate, 429/503 are waited out."""
        while True:
            response = self.http.request(method, path, **kw)
            self.stats.saw(response)
            if response.status_code in (429, 503):
                retry = response.headers.get("retry-after", "1")
                time.sleep(min(5.0, float(retry) if retry.isdigit() else 1.0))
                continue
            return response

    def _until_answered(self, method: str, path: str, **kw: Any) -> httpx.Response:
        """Repeat a request that is safe to repeat until the server answers it."""
        deadline = time.monotonic() + self.patience
        delay = 0.05
        while True:
            try:
                return self._request(method, path, **kw)
            except TRANSPORT_ERRORS:
                self.stats.bump("transport_errors")
                if time.monotonic() > deadline:
                    raise
                time.sleep(delay)
                delay = min(delay * 2, 1.0)

    def create(self, prepared: Prepared) -> str:
        """Declare the submission. Not idempotent: a create whose answer was
        lost is abandoned (the server purges it later) and made again."""
        body: dict[str, Any] = {
            "kind": "submission",
            "mailbox": None,
            "envelopes": [
                {"id": eid, "size": len(data)} for eid, data in prepared.envelopes.items()
            ],
        }
        deadline = time.monotonic() + self.patience
        while True:
            challenge = self._until_answered("POST", "/api/v1/challenges")
            if challenge.status_code != 200:
                raise Refused(challenge)
            issued = challenge.json()
            from app.pow import solve  # the same proof the page's pow.js finds

            body["pow"] = {
                "challenge": issued["challenge"],
                "nonce": solve(issued["challenge"], issued["difficulty"]),
            }
            try:
                response = self._request("POST", "/api/v1/submissions", json=body)
            except TRANSPORT_ERRORS:
                self.stats.bump("transport_errors")
                self.stats.bump("abandoned_creates")
                if time.monotonic() > deadline:
                    raise
                continue
            if response.status_code != 201:
                raise Refused(response)
            return str(response.json()["id"])

    def upload(self, sid: str, eid: str, data: bytes, *, resume: bool = False) -> None:
        """PUT `data` in pieces from the start, or (`resume`) from wherever the
        server says it stands; after a broken connection, always the latter."""
        base = f"/api/v1/submissions/{sid}/envelopes/{eid}"
        offset = 0
        deadline = time.monotonic() + self.patience
        resumed = False
        if resume:
            offset, resumed = self._resume_point(base, len(data))
        while True:
            if offset >= len(data) and not resumed:
                return
            # A resumed upload whose bytes all arrived still needs one (empty)
            # PUT at the end: the server completes an envelope only in a PUT.
            piece = data[offset : offset + self.piece]
            try:
                response = self._request(
                    "PUT",
                    f"{base}?offset={offset}",
                    content=piece,
                    headers={"Content-Type": "application/octet-stream"},
                )
            except TRANSPORT_ERRORS:
                self.stats.bump("transport_errors")
                if time.monotonic() > deadline:
                    raise
                offset, resumed = self._resume_point(base, len(data))
                continue
            if response.status_code == 200:
                offset = int(response.json()["offset"])
                resumed = False
                if offset >= len(data):
                    return
                continue
            error = response.json().get("error", {}) if response.content else {}
            code = error.get("code")
            if code == "upload-offset-mismatch":
                offset = int(error["detail"]["offset"])
                resumed = offset >= len(data)
                continue
            if code == "upload-busy":  # the killed writer's lock is gone once it is
                time.sleep(0.1)
                continue
            if code == "upload-closed":
                return
            raise Refused(response)

    def _resume_point(self, base: str, size: int) -> tuple[int, bool]:
        response = self._until_answered("GET", base)
        if response.status_code != 200:
            raise Refused(response)
        self.stats.bump("resumes")
        offset = int(response.json()["offset"])
        if offset >= size:
            # Either complete (the PUT below answers at once) or every byte
            # arrived before the server died and it never validated them.
            self.stats.bump("resumed_at_end")
        return offset, True

    def finalise(self, sid: str) -> dict[str, Any]:
        response = self._until_answered("POST", f"/api/v1/submissions/{sid}/finalise")
        if response.status_code != 200:
            raise Refused(response)
        answer: dict[str, Any] = response.json()
        return answer

    def resume(self, sid: str, prepared: Prepared) -> None:
        """Finish a submission left off earlier (the page after a reload)."""
        for eid, data in prepared.envelopes.items():
            self.upload(sid, eid, data, resume=True)
        answer = self.finalise(sid)
        if answer.get("status") != "complete":
            raise AssertionError(f"finalise answered {answer}")

    def submit(self, prepared: Prepared) -> str:
        sid = self.create(prepared)
        for eid, data in prepared.envelopes.items():
            self.upload(sid, eid, data)
        answer = self.finalise(sid)
        if answer.get("status") != "complete":
            raise AssertionError(f"finalise answered {answer}")
        return sid


# -- courier and verifier ---------------------------------------------------------------------

_TS_LOCK = threading.Lock()
_LAST_TS = [0]


def _fresh_ts() -> int:
    """Strictly increasing request times (within the server's 300 s window),
    so two identical requests never carry one signature (a replay)."""
    with _TS_LOCK:
        now = int(time.time()) - 200
        _LAST_TS[0] = max(_LAST_TS[0] + 1, now)
        return _LAST_TS[0]


def courier_get(org: DemoOrg, url: str, target: str, timeout: float = 600) -> httpx.Response:
    headers = {"Authorization": crypto.sign_request(org.courier, "GET", target, b"", _fresh_ts())}
    return httpx.get(url + target, headers=headers, timeout=timeout)


def courier_post(org: DemoOrg, url: str, target: str, document: Any) -> httpx.Response:
    body = json.dumps(document).encode()
    headers = {
        "Authorization": crypto.sign_request(org.courier, "POST", target, body, _fresh_ts()),
        "Content-Type": "application/json",
    }
    return httpx.post(url + target, content=body, headers=headers, timeout=120)


def listed_ids(org: DemoOrg, url: str) -> set[str]:
    response = courier_get(org, url, "/api/v1/courier/submissions")
    if response.status_code != 200:
        raise AssertionError(f"courier listing refused: {response.status_code} {response.text}")
    return {item["id"] for item in response.json()["submissions"]}


@dataclass
class OpenedSubmission:
    sid: str
    plaintext_sha256: dict[str, str]
    form: dict[str, Any]


def open_bundle(org: DemoOrg, data: bytes) -> dict[str, OpenedSubmission]:
    """Open every envelope of a bundle with the verifier's key (crypto API):
    any envelope that does not open raises."""
    opened: dict[str, OpenedSubmission] = {}
    chain_seen = False
    for item in crypto.read_bundle(io.BytesIO(data)):
        if isinstance(item, crypto.ChainItem):
            crypto.verify_chain(item.chain, crypto.TrustRoot.parse(org.trust_root))
            chain_seen = True
            continue
        try:
            sums: dict[str, str] = {}
            form: dict[str, Any] = {}
            for eid, spool in item.envelopes:
                spool.seek(0)
                out = io.BytesIO()
                result = crypto.open_envelope(cast(BinaryIO, spool), out, org.keyring)
                plain = out.getvalue()
                sums[eid] = hashlib.sha256(plain).hexdigest()
                meta_digest = {e["id"]: e["digest"] for e in item.meta["envelopes"]}[eid]
                if crypto.b64e(result.payload_digest) != meta_digest:
                    raise AssertionError(f"{item.meta['id']}/{eid}: digest differs from meta")
                if eid == "form":
                    form = json.loads(plain)
            opened[item.meta["id"]] = OpenedSubmission(item.meta["id"], sums, form)
        finally:
            item.close()
    if not chain_seen:
        raise AssertionError("bundle without a chain")
    return opened


def pull_bundle(org: DemoOrg, url: str, limit: int = 500) -> bytes:
    response = courier_get(org, url, f"/api/v1/courier/bundle?limit={limit}")
    if response.status_code != 200:
        raise AssertionError(f"bundle refused: {response.status_code} {response.text[:500]}")
    return response.content


def check_acknowledged(
    org: DemoOrg, url: str, acknowledged: dict[str, Prepared]
) -> dict[str, OpenedSubmission]:
    """Every acknowledged submission is listed, and opens to exactly what was
    sealed; nothing else is listed (no half-stored submission is visible)."""
    if len(acknowledged) > 500:
        raise ValueError("more than one bundle's worth; pull in pages")
    listed = listed_ids(org, url)
    missing = set(acknowledged) - listed
    extra = listed - set(acknowledged)
    if missing or extra:
        raise AssertionError(
            "courier listing differs from the acknowledged set: "
            f"{len(missing)} acknowledged but not listed, "
            f"{len(extra)} listed but never acknowledged"
        )
    opened = open_bundle(org, pull_bundle(org, url))
    if set(opened) != set(acknowledged):
        raise AssertionError(
            f"bundle holds {len(opened)} submissions, {len(acknowledged)} were acknowledged"
        )
    for sid, prepared in acknowledged.items():
        if opened[sid].plaintext_sha256 != prepared.plaintext_sha256:
            raise AssertionError(f"{sid}: opened content differs from what was sealed")
        if prepared.canary not in opened[sid].form["answers"]["story"]:
            raise AssertionError(f"{sid}: the form lost its text")
    return opened


# -- what the server keeps, and the canary scan ------------------------------------------


def database_files(database_url: str, work: Path) -> list[Path]:
    """Files holding the database's content: the SQLite file and its WAL, or a
    `pg_dump` of the PostgreSQL database written into `work`."""
    if database_url.startswith("sqlite"):
        path = Path(database_url.split("///", 1)[1])
        return sorted(path.parent.glob(path.name + "*"))
    url = database_url.replace("postgresql+psycopg://", "postgresql://")
    dump = work / f"dump-{secrets.token_hex(4)}.sql"
    subprocess.run(
        [shutil.which("pg_dump") or "pg_dump", "--data-only", "--file", str(dump), url],
        check=True,
        timeout=300,
        capture_output=True,
    )
    return [dump]


def canary_forms(canary: str) -> list[bytes]:
    """The canary as it would sit in a file: raw, UTF-16, hex, and base64 at
    each of the three byte alignments (a plaintext leaked inside JSON)."""
    raw = canary.encode()
    forms = [raw, canary.encode("utf-16-le"), raw.hex().encode()]
    # After 0, 1 or 2 unknown bytes, base64 characters from this one on
    # depend on the canary's bytes alone.
    for shift, start in ((0, 0), (1, 2), (2, 3)):
        encoded = base64.b64encode(b"\0" * shift + raw)
        forms.append(encoded[start : start + (len(raw) * 4) // 3 - 4])
    return forms


def files_under(paths: Iterable[Path]) -> Iterator[Path]:
    for path in paths:
        if path.is_file():
            yield path
        elif path.is_dir():
            yield from sorted(p for p in path.rglob("*") if p.is_file())


def canary_hits(canaries: Iterable[str], paths: Iterable[Path]) -> list[tuple[Path, str]]:
    """(file, canary) for every file that holds a canary in any form."""
    needles = [(canary, form) for canary in canaries for form in canary_forms(canary)]
    hits: list[tuple[Path, str]] = []
    for path in files_under(paths):
        data = path.read_bytes()
        for canary, form in needles:
            if form in data:
                hits.append((path, canary))
                break
    return hits
