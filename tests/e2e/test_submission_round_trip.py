"""One submission the whole way: real Chromium → server → courier → air-gapped verifier.

The canary is a unique string typed into the form. It must come out of
`intake-verifier` and must appear nowhere the server keeps anything: the
database (the SQLite file, or a dump of the PostgreSQL database), the blob
directory, the server's log.
"""

from __future__ import annotations

import re
import secrets
import shutil
import subprocess
from pathlib import Path

from playwright.sync_api import Browser

from tests.page import flow
from tests.support.live_server import LiveServer, run_cli

IPV4 = re.compile(rb"(?<![\d.])(?:\d{1,3}\.){3}\d{1,3}(?![\d.])")


def submit_story(chromium: Browser, server: LiveServer, story: str, contact: str) -> None:
    """Through the applicant's page as a person would: step by step, no codename."""
    context = chromium.new_context()
    page = context.new_page()
    flow.open_page(page, server)
    flow.fill(page, "#q-contact-address", contact)  # the contact step comes late
    flow.go_to(page, "story")
    page.fill("#q-story", story)
    flow.go_to(page, "reply")
    flow.decline_codename(page)
    flow.send(page, timeout=60_000)
    assert context.cookies() == []
    context.close()


def database_bytes(server: LiveServer, work: Path) -> bytes:
    """Everything the database holds, as bytes: the SQLite files, or a pg_dump."""
    if server.database_url.startswith("sqlite"):
        path = Path(server.database_url.split("///", 1)[1])
        return b"".join(p.read_bytes() for p in path.parent.glob(path.name + "*"))
    url = server.database_url.replace("postgresql+psycopg://", "postgresql://")
    dump = subprocess.run(
        [shutil.which("pg_dump") or "pg_dump", "--data-only", url],
        capture_output=True,
        check=True,
        timeout=120,
    )
    (work / "dump.sql").write_bytes(dump.stdout)
    return dump.stdout


def tree_bytes(folder: Path) -> bytes:
    return b"".join(p.read_bytes() for p in sorted(folder.rglob("*")) if p.is_file())


def test_canary_typed_in_browser_is_recovered_offline_and_never_stored_in_plaintext(
    chromium: Browser, server: LiveServer, demo_org: Path, tools_env: dict[str, str], tmp_path: Path
) -> None:
    canary = "canary-" + secrets.token_hex(12)
    submit_story(chromium, server, f"Я ушёл из части. {canary}", f"signal {canary[-6:]}")

    bundle = tmp_path / "bundle.tar"
    run_cli(
        [
            "intake-courier",
            "pull",
            "--server",
            server.url,
            "--key",
            str(demo_org / "courier" / "courier.key"),
            "--out",
            str(bundle),
        ],
        tools_env,
    )
    cases = tmp_path / "cases"
    run_cli(
        [
            "intake-verifier",
            "decrypt",
            str(bundle),
            "--keyring",
            str(demo_org / "keyring"),
            "--out",
            str(cases),
        ],
        tools_env,
    )

    answers = list(cases.glob("*/answers.txt"))
    assert len(answers) == 1
    text = answers[0].read_text(encoding="utf-8")
    assert canary in text
    assert "Я ушёл из части." in text

    needle = canary.encode()
    assert needle not in database_bytes(server, tmp_path)
    assert needle not in tree_bytes(server.blob_dir)
    assert needle not in bundle.read_bytes()
    log = server.log_path.read_bytes()
    assert needle not in log
    assert IPV4.findall(log) == [], "the server log holds an IP address"
