"""What the applicant's browser sends a live server, done over plain HTTP:
the courier tests need submissions on a real server to pull."""

from __future__ import annotations

import json
import urllib.request
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from tests.support.live_server import LiveServer, live_server

from .support import Org, Submission


@contextmanager
def org_server(org: Org, folder: Path) -> Iterator[LiveServer]:
    """A live server on SQLite in `folder`, trusting `org`'s root, its genesis
    manifest read from `folder`/genesis.json; no proof of work to pay."""
    with live_server(
        database_url=f"sqlite:///{folder / 'intake.db'}",
        blob_dir=folder / "blobs",
        log_path=folder / "server.log",
        trust_root=json.dumps(org.root.to_json()),
        genesis=folder / "genesis.json",
        INTAKE_POW_DIFFICULTY="0",
    ) as live:
        yield live


def http_json(url: str, method: str = "GET", body: Any = None) -> Any:
    data = json.dumps(body).encode() if body is not None else None
    request = urllib.request.Request(  # noqa: S310 -- a loopback test URL
        url, data=data, method=method, headers={"Content-Type": "application/json"}
    )
    with urllib.request.urlopen(request, timeout=30) as response:  # noqa: S310 -- loopback
        return json.loads(response.read())


def upload(server: LiveServer, sub: Submission, mailbox: str | None = None) -> None:
    """Declare, upload each envelope, finalise."""
    created = http_json(
        f"{server.url}/api/v1/submissions",
        "POST",
        {
            "kind": sub.kind,
            "mailbox": mailbox,
            "envelopes": [{"id": eid, "size": len(data)} for eid, data in sub.envelopes],
        },
    )
    sid = created["id"]
    for eid, data in sub.envelopes:
        request = urllib.request.Request(  # noqa: S310 -- a loopback test URL
            f"{server.url}/api/v1/submissions/{sid}/envelopes/{eid}?offset=0",
            data=data,
            method="PUT",
            headers={"Content-Type": "application/octet-stream"},
        )
        with urllib.request.urlopen(request, timeout=30):  # noqa: S310 -- loopback
            pass
    http_json(f"{server.url}/api/v1/submissions/{sid}/finalise", "POST", {})
