"""Served-code integrity: admins sign the digests of every byte the applicant's
pages load, and `intake-admin check-site`, run from any outside machine with
only the trust root, notices a single changed byte.

The tampered server is a second real server running from a copy of the `app`
package (the real `app/static` is never touched), whose copy of a script is
changed by one byte while it runs, as an intruder on its disk would.
"""

from __future__ import annotations

import json
import subprocess
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.support.live_server import LiveServer

from .conftest import Organisation, serve
from .people import People, Person
from .support import (
    copy_app_package,
    publish,
    pythonpath_with,
    server_chain,
    sign_draft,
    write_chain,
)

TAMPERED = "/static/js/pow.js"


@pytest.fixture(scope="module")
def app_copy(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return copy_app_package(tmp_path_factory.mktemp("app-copy"))


@pytest.fixture(scope="module")
def copy_server(
    organisation: Organisation, app_copy: Path, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[LiveServer]:
    """A second server, same settings and chain, running the copied package."""
    path = pythonpath_with(app_copy)
    with serve(organisation, tmp_path_factory.mktemp("copy-server"), PYTHONPATH=path) as live:
        yield live


@pytest.fixture(scope="module")
def site_document(people: People, organisation: Organisation, server: LiveServer) -> Path:
    """a1 digests the live pages; a1 and a2 sign; a1 combines and checks it."""
    a1, a2 = people.admin("admin-a1"), people.admin("admin-a2")
    root = a1.receive(organisation.trust_root)
    draft = a1.home / "site.draft.json"
    drafted = a1.run(
        "intake-admin", "site-digest", "--server", server.url, "--trust-root", root, "--out", draft
    )
    for path in ("/", "/en/", TAMPERED, "/static/js/intake-page.js", "/static/vendor/"):
        assert f"  {path}" in drafted.stderr
    sigs = sign_draft(draft, [a1, a2], a1, "site")
    chain = write_chain(a1.home / "site-chain.json", server_chain(server.url))
    signed = a1.home / "site.json"
    a1.run("intake-admin", "combine", draft, *sigs, "--current", chain, "--out", signed)
    checked = a1.run("intake-admin", "verify", signed, "--chain", chain, "--trust-root", root)
    assert "OK: site document issued" in checked.stderr
    return signed


def check_site(person: Person, url: str, root: Path) -> subprocess.CompletedProcess[str]:
    return person.run("intake-admin", "check-site", url, "--trust-root", root, ok=False)


def test_check_site_passes_for_the_signed_pages_and_flags_a_one_byte_change(
    people: People,
    organisation: Organisation,
    server: LiveServer,
    copy_server: LiveServer,
    app_copy: Path,
    site_document: Path,
) -> None:
    # Anyone outside, with nothing but the trust root.
    outsider = people.verifiers["boris"]
    root = outsider.receive(organisation.trust_root)
    a1 = people.admin("admin-a1")
    publish(a1, server.url, site_document)
    publish(a1, copy_server.url, site_document)

    for url in (server.url, copy_server.url):
        passed = check_site(outsider, url, root)
        assert passed.returncode == 0, passed.stderr
        assert "OK: all" in passed.stderr

    script = app_copy / "app" / TAMPERED.lstrip("/")
    data = bytearray(script.read_bytes())
    data[len(data) // 2] ^= 0x20
    script.write_bytes(bytes(data))

    flagged = check_site(outsider, copy_server.url, root)
    assert flagged.returncode == 1
    changed = [line for line in flagged.stderr.splitlines() if line.startswith("CHANGED ")]
    assert [line.split(":")[0] for line in changed] == [f"CHANGED {TAMPERED}"]
    assert "differs from the site document the admins signed" in flagged.stderr
    # The untouched server still passes.
    assert check_site(outsider, server.url, root).returncode == 0


def test_site_document_signed_by_one_admin_is_refused(
    people: People, organisation: Organisation, server: LiveServer, site_document: Path
) -> None:
    a3 = people.admin("admin-a3")
    root = a3.receive(organisation.trust_root)
    draft = a3.home / "site-one.draft.json"
    a3.run(
        "intake-admin", "site-digest", "--server", server.url, "--trust-root", root, "--out", draft
    )
    [sig] = sign_draft(draft, [a3], a3, "site-one")
    envelope = json.loads(draft.read_text())
    envelope["signatures"] = [{k: json.loads(sig.read_text())[k] for k in ("keyid", "sig")}]
    lonely = a3.home / "site-one.json"
    lonely.write_text(json.dumps(envelope))

    refused = publish(a3, server.url, lonely, ok=False)

    assert refused.returncode == 1
    assert "The site document does not verify (threshold)" in refused.stderr
