"""Static files and pages go out gzip- or brotli-compressed when the client accepts it.

The decoded bytes are the file's own (so the pages' SRI values hold for every
coding), every answer says `Vary: Accept-Encoding`, the security headers and
`no-store` are those of a plain answer, and an API answer is never compressed
(BREACH: SECURITY.md). SQLite only: no query depends on the database.
"""

from __future__ import annotations

import gzip
import warnings
from collections.abc import Iterator
from pathlib import Path

import brotli
import httpx
import pytest
from pydantic import SecretStr
from starlette.applications import Starlette
from starlette.routing import Mount

from app.compression import PREFERENCE, choose
from app.main import create_app
from app.migrate import upgrade
from app.pages.assets import PAGE_ASSETS, STATIC_DIR, build_asset_index, sri
from app.security import security_headers
from app.settings import Settings
from app.static_files import CompressedStaticFiles, VariantCache

with warnings.catch_warnings():
    warnings.filterwarnings("ignore", message="Using `httpx` with `starlette.testclient`")
    from fastapi.testclient import TestClient

DECODE = {"gzip": gzip.decompress, "br": brotli.decompress}


@pytest.fixture(scope="module")
def settings(tmp_path_factory: pytest.TempPathFactory) -> Settings:
    folder = tmp_path_factory.mktemp("compression")
    made = Settings(
        database_url=f"sqlite:///{folder / 'intake.db'}",
        blob_dir=folder / "blobs",
        environment="test",
        pow_secret=SecretStr("a" * 64),
        https=True,
        onion_location="http://" + "a" * 56 + ".onion",
    )
    upgrade(made)
    return made


@pytest.fixture(scope="module")
def client(settings: Settings) -> Iterator[TestClient]:
    with TestClient(create_app(settings)) as made:
        yield made


def fetch(
    client: httpx.Client, path: str, accept: str | None, method: str = "GET", **headers: str
) -> tuple[httpx.Response, bytes]:
    """The answer and its body exactly as sent (not decoded); no Accept-Encoding if None."""
    sent = {name.replace("_", "-"): value for name, value in headers.items()}
    request = client.build_request(method, path, headers=sent)
    del request.headers["accept-encoding"]
    if accept is not None:
        request.headers["accept-encoding"] = accept
    response = client.send(request, stream=True)
    try:
        raw = b"".join(response.iter_raw())
    finally:
        response.close()
    return response, raw


def vary(response: httpx.Response) -> set[str]:
    return {v.strip().lower() for v in response.headers.get("vary", "").split(",")}


def assert_hardened(response: httpx.Response, settings: Settings) -> None:
    for name, value in security_headers(settings):
        assert response.headers.get_list(name.decode()) == [value.decode()], name
    assert response.headers["cache-control"] == "no-store"


@pytest.mark.parametrize("coding", ["gzip", "br"])
def test_every_page_asset_is_sent_compressed_and_decodes_to_the_bytes_its_sri_names(
    client: TestClient, settings: Settings, coding: str
) -> None:
    index = build_asset_index()
    for name in PAGE_ASSETS:
        response, raw = fetch(client, f"/static/{name}", coding)
        assert response.status_code == 200, name
        assert response.headers["content-encoding"] == coding, name
        assert int(response.headers["content-length"]) == len(raw), name
        assert "accept-encoding" in vary(response), name
        decoded = DECODE[coding](raw)
        assert decoded == (STATIC_DIR / name).read_bytes(), name
        assert sri(decoded) == index.sri(name), name
        assert len(raw) < len(decoded), name
        assert_hardened(response, settings)


@pytest.mark.parametrize(
    "accept",
    [None, "identity", "zstd", "gzip;q=0, br;q=0", "*;q=0, identity"],
    ids=["none", "identity", "only-unknown", "refused", "star-refused"],
)
def test_the_plain_file_when_no_coding_we_have_is_accepted(
    client: TestClient, settings: Settings, accept: str | None
) -> None:
    response, raw = fetch(client, "/static/vendor/libsodium.mjs", accept)
    assert response.status_code == 200
    assert "content-encoding" not in response.headers
    assert raw == (STATIC_DIR / "vendor/libsodium.mjs").read_bytes()
    # A cache in between must not hand this plain copy to a browser that wants gzip.
    assert "accept-encoding" in vary(response)
    assert_hardened(response, settings)


def test_br_goes_to_a_client_that_accepts_both_as_it_is_the_smaller(
    client: TestClient,
) -> None:
    # Chromium's header (which intake-admin site-digest copies when it can read br).
    response, _ = fetch(client, "/static/js/intake-page.js", "gzip, deflate, br, zstd")
    assert response.headers["content-encoding"] == PREFERENCE[0] == "br"
    # q-values come first: a client that prefers gzip gets gzip.
    response, _ = fetch(client, "/static/js/intake-page.js", "gzip, br;q=0.5")
    assert response.headers["content-encoding"] == "gzip"
    # What the admin tools send without the brotli package.
    response, _ = fetch(client, "/static/js/intake-page.js", "gzip, deflate")
    assert response.headers["content-encoding"] == "gzip"


def test_choose_follows_q_values_then_the_servers_order() -> None:
    assert choose(None) is None
    assert choose("") is None
    assert choose("br") == "br"
    assert choose("BR;Q=0.9, gzip;q=0.8") == "br"
    assert choose("*") == "br"
    assert choose("*, br;q=0") == "gzip"
    assert choose("gzip;q=garbage") is None
    assert choose("br", available=["gzip"]) is None


def test_head_announces_the_compressed_length_and_sends_no_body(client: TestClient) -> None:
    got, body = fetch(client, "/static/js/intake-crypto.js", "br")
    head, nothing = fetch(client, "/static/js/intake-crypto.js", "br", method="HEAD")
    assert head.status_code == 200
    assert nothing == b""
    for name in ("content-encoding", "content-length", "content-type", "etag", "vary"):
        assert head.headers[name] == got.headers[name], name
    assert int(head.headers["content-length"]) == len(body)


def test_a_range_request_gets_a_range_of_the_plain_file(client: TestClient) -> None:
    response, raw = fetch(client, "/static/vendor/libsodium.js", "gzip, br", range="bytes=100-199")
    assert response.status_code == 206
    assert "content-encoding" not in response.headers
    assert raw == (STATIC_DIR / "vendor/libsodium.js").read_bytes()[100:200]


def test_each_coding_has_its_own_etag_and_revalidates_against_it(client: TestClient) -> None:
    path = "/static/css/intake.css"
    etags = {coding: fetch(client, path, coding)[0].headers["etag"] for coding in ("gzip", "br")}
    etags["plain"] = fetch(client, path, None)[0].headers["etag"]
    assert len(set(etags.values())) == 3
    unchanged, _ = fetch(client, path, "gzip", if_none_match=etags["gzip"])
    assert unchanged.status_code == 304
    changed, _ = fetch(client, path, "br", if_none_match=etags["gzip"])
    assert changed.status_code == 200
    assert changed.headers["content-encoding"] == "br"


def test_the_compressed_copies_are_not_files_of_their_own(client: TestClient) -> None:
    for path in ("/static/vendor/libsodium.mjs.br", "/static/vendor/libsodium.mjs.gz"):
        response, _ = fetch(client, path, None)
        assert response.status_code == 404, path


def test_a_precompressed_copy_that_does_not_match_its_file_is_never_sent(tmp_path: Path) -> None:
    source = b"export const answer = 42;\n" * 200
    (tmp_path / "a.js").write_bytes(source)
    # Left from an older vendor run: valid gzip and brotli, of other bytes.
    (tmp_path / "a.js.gz").write_bytes(gzip.compress(b"alert('old');\n" * 200))
    (tmp_path / "a.js.br").write_bytes(b"not brotli at all")
    static = CompressedStaticFiles(directory=tmp_path, cache=VariantCache())
    with TestClient(Starlette(routes=[Mount("/s", static)])) as web:
        for coding in ("gzip", "br"):
            response, raw = fetch(web, "/s/a.js", coding)
            assert response.headers["content-encoding"] == coding
            assert DECODE[coding](raw) == source
        # A file changed on disk is compressed again, not served from memory.
        (tmp_path / "a.js").write_bytes(source + b"// more\n")
        response, raw = fetch(web, "/s/a.js", "gzip")
        assert gzip.decompress(raw) == source + b"// more\n"


@pytest.mark.parametrize("path", ["/", "/en/", "/mailbox/", "/en/mailbox/"])
def test_pages_are_compressed_to_the_same_bytes(
    client: TestClient, settings: Settings, path: str
) -> None:
    plain, page = fetch(client, path, None)
    assert plain.status_code == 200
    assert "content-encoding" not in plain.headers
    assert "accept-encoding" in vary(plain)
    for coding in ("gzip", "br"):
        response, raw = fetch(client, path, coding)
        assert response.headers["content-encoding"] == coding
        assert int(response.headers["content-length"]) == len(raw)
        assert DECODE[coding](raw) == page
        assert_hardened(response, settings)


def test_api_answers_are_never_compressed(client: TestClient) -> None:
    # (The public manifest chain is the one exception: test_public_chain_compressed.py.)
    for path in ("/api/openapi.json", "/api/v1/nothing-here", "/api/v1/status"):
        response, _ = fetch(client, path, "gzip, deflate, br, zstd")
        assert "content-encoding" not in response.headers, path
