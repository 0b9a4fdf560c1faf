"""intake-courier against real HTTP servers: the project's server, and a static file server.

The round trip drives the real `intake serve` process (SQLite), exactly as a
courier and a verifier would: upload as a browser, pull, decrypt, receipt,
push, reply, and the applicant's mailbox fetch.
"""

from __future__ import annotations

import http.server
import json
import re
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

import crypto
from harness.loopback import serving

from .applicant import http_json, org_server, upload
from .support import (
    CODENAME,
    Attachment,
    Org,
    assert_clean_failure,
    make_submission,
    reply_to_case,
    run,
    write_bundle,
)


def test_pull_decrypt_receipt_reply_round_trip_with_the_real_server(
    org: Org,
    courier_org: tuple[list[dict[str, Any]], Path],
    courier_key: tuple[Path, crypto.Identity],
    tmp_path: Path,
) -> None:
    chain, keyring = courier_org
    key = courier_key[0]
    manifest = crypto.parse_manifest(chain[0])
    mailbox = crypto.derive_mailbox(CODENAME, manifest.payload)
    sub = make_submission(
        manifest,
        mailbox=mailbox,
        attachments=[Attachment("scan.pdf", b"%PDF-1.4 " + b"s" * 100_000)],
    )
    with org_server(org, tmp_path) as server:
        upload(server, sub, mailbox.mailbox_id)
        bundle = tmp_path / "bundle.tar"

        pulled = run("courier", ["pull", "--server", server.url, "--key", key, "--out", bundle])
        assert pulled.exit_code == 0, pulled.output
        assert "1 submission(s)" in pulled.stderr
        assert not list(tmp_path.glob("bundle.tar.part*"))

        cases = tmp_path / "cases"
        opened = run("verifier", ["decrypt", bundle, "--keyring", keyring, "--out", cases])
        assert opened.exit_code == 0, opened.output
        [case] = [p for p in cases.iterdir() if p.is_dir()]
        assert (case / "attachments" / "scan.pdf").stat().st_size == 100_009

        receipts = tmp_path / "receipts.json"
        assert (
            run(
                "verifier", ["receipts", "--keyring", keyring, "--cases", cases, "--out", receipts]
            ).exit_code
            == 0
        )
        pushed = run("courier", ["push", receipts, "--server", server.url, "--key", key])
        assert pushed.exit_code == 0, pushed.output
        assert "accepted: 2" in pushed.stderr

        replies = tmp_path / "replies.json"
        assert reply_to_case(case, keyring, replies, "Получили.").exit_code == 0
        sent = run("courier", ["push", replies, "--server", server.url, "--key", key])
        assert sent.exit_code == 0, sent.output
        assert "accepted: 1" in sent.stderr

        box = http_json(
            f"{server.url}/api/v1/mailbox", "POST", {"token": crypto.b64e(mailbox.token)}
        )
        [reply] = box["replies"]
        envelope = crypto.b64d(reply["envelope"])
        crypto.verify_reply(envelope, reply["kid"], crypto.b64d(reply["sig"]), manifest)
        content = json.loads(
            crypto.open_reply(envelope, mailbox.reply_secret, mailbox.reply_public)
        )
        assert content["message"] == "Получили."


def test_push_refuses_a_file_of_unknown_type_before_using_the_key(tmp_path: Path) -> None:
    odd = tmp_path / "odd.json"
    odd.write_text(json.dumps({"type": "something/else"}))

    result = run(
        "courier", ["push", odd, "--server", "http://127.0.0.1:9", "--key", tmp_path / "none.key"]
    )

    lines = assert_clean_failure(result, "intake-courier")
    assert "not a receipts, replies or rewraps file" in lines[0]


def test_push_to_an_unreachable_server_is_a_clear_error(
    courier_key: tuple[Path, crypto.Identity], tmp_path: Path
) -> None:
    receipts = tmp_path / "receipts.json"
    receipts.write_text(json.dumps({"type": "intake/receipts", "receipts": []}))

    result = run(
        "courier", ["push", receipts, "--server", "http://127.0.0.1:9", "--key", courier_key[0]]
    )

    lines = assert_clean_failure(result, "intake-courier")
    assert "cannot reach http://127.0.0.1:9" in lines[0]


# --------------------------------------------------------------------------
# Resuming: a static file server with Range and ETag (as Caddy serves files)


class _RangeServer(http.server.ThreadingHTTPServer):
    payload: bytes
    etag: str
    cut_first_at: int | None
    requests: list[dict[str, str]]


class _RangeHandler(http.server.BaseHTTPRequestHandler):
    server: _RangeServer

    def log_message(self, format: str, *args: Any) -> None:
        pass

    def do_GET(self) -> None:
        headers = {k: v for k, v in self.headers.items()}
        self.server.requests.append(headers)
        data, start = self.server.payload, 0
        match = re.fullmatch(r"bytes=(\d+)-", headers.get("Range", ""))
        if match and headers.get("If-Range") == self.server.etag:
            start = int(match.group(1))
            self.send_response(206)
            self.send_header("Content-Range", f"bytes {start}-{len(data) - 1}/{len(data)}")
        else:
            self.send_response(200)
        self.send_header("ETag", self.server.etag)
        self.send_header("Content-Length", str(len(data) - start))
        self.end_headers()
        cut = self.server.cut_first_at
        if cut is not None:
            self.server.cut_first_at = None
            self.wfile.write(data[start:cut])
            self.wfile.flush()
            self.connection.shutdown(2)  # the line drops mid-download
            return
        self.wfile.write(data[start:])


@pytest.fixture
def range_server(org: Org, tmp_path: Path) -> Iterator[_RangeServer]:
    subs = [make_submission(org.manifest, attachments=[Attachment("b.bin", b"\x07" * 300_000)])]
    bundle = write_bundle(tmp_path / "served.tar", org.chain, subs)
    server = _RangeServer(("127.0.0.1", 0), _RangeHandler)
    server.payload = bundle.read_bytes()
    server.etag = '"bundle-1"'
    server.cut_first_at = 200_000
    server.requests = []
    with serving(server):
        yield server


def test_interrupted_pull_resumes_with_a_range_request(
    range_server: _RangeServer, courier_key: tuple[Path, crypto.Identity], tmp_path: Path
) -> None:
    url = f"http://127.0.0.1:{range_server.server_address[1]}"
    out = tmp_path / "bundle.tar"
    args = ["pull", "--server", url, "--key", courier_key[0], "--out", out]

    first = run("courier", args)
    lines = assert_clean_failure(first, "intake-courier")
    assert "interrupted after 200000 bytes" in lines[0] and "resume" in lines[1]
    assert not out.exists() and (tmp_path / "bundle.tar.part").stat().st_size == 200_000

    second = run("courier", args)

    assert second.exit_code == 0, second.output
    assert out.read_bytes() == range_server.payload
    assert range_server.requests[1]["Range"] == "bytes=200000-"
    assert range_server.requests[1]["If-Range"] == '"bundle-1"'
    assert range_server.requests[1]["Authorization"].startswith("Intake-Sig kid=")
    assert not list(tmp_path.glob("bundle.tar.part*"))
