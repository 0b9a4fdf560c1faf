"""Version 3 of the site document: the signed security headers, parsed strictly.

Pure tests of crypto/site.py (no server): what a reader refuses, how header
rules are drawn from a live server's answers, and how a response is compared.
"""

from __future__ import annotations

import json
from datetime import UTC, datetime
from typing import Any

import pytest

import crypto
from crypto.encoding import JSONTooDeep
from crypto.site import (
    SITE_TYPE,
    build_site_payload,
    covered_headers,
    expected_headers,
    header_differences,
    header_rules,
    page_references,
    parse_site,
)

CSP = "default-src 'none'; script-src 'self'"
PAGE = {"content-security-policy": CSP, "cache-control": "no-store", "x-frame-options": "DENY"}
STATIC = {**PAGE, "cache-control": "no-cache"}
FILES = {"/": b"\x01" * 32, "/en/": b"\x02" * 32, "/static/js/a.js": b"\x03" * 32}


def envelope(headers: Any, **extra: Any) -> dict[str, Any]:
    data = {
        "type": "intake/site",
        "manifest_version": 1,
        "issued": "2026-11-22T10:00:00Z",
        "files": {path: crypto.b64e(digest) for path, digest in FILES.items()},
        "headers": headers,
        **extra,
    }
    payload = json.dumps(data, sort_keys=True, separators=(",", ":")).encode()
    return crypto.dsse_sign(SITE_TYPE, payload, [])


def test_a_version_3_document_round_trips_its_header_rules() -> None:
    rules = {"/": PAGE, "/static/": STATIC}
    payload = build_site_payload(
        manifest_version=1, issued=datetime(2026, 11, 22, tzinfo=UTC), files=FILES, headers=rules
    )
    doc = parse_site(crypto.dsse_sign(SITE_TYPE, payload, []))
    assert doc.version == 3
    assert doc.expected_headers("/en/") == PAGE
    assert doc.expected_headers("/static/js/a.js") == STATIC


def test_a_version_2_document_has_no_headers_to_check() -> None:
    payload = build_site_payload(
        manifest_version=1, issued=datetime(2026, 11, 22, tzinfo=UTC), files=FILES
    )
    doc = parse_site(crypto.dsse_sign(SITE_TYPE, payload, []))
    assert doc.version == 2
    assert doc.expected_headers("/") is None


@pytest.mark.parametrize(
    "headers",
    [
        {"/static/": STATIC},  # no rule for "/"
        {"/": {"Content-Security-Policy": CSP}},  # not lower-case
        {"/": {"x-unknown-header": "1"}},  # not a covered header
        {"/": {"content-security-policy": "a\nb"}},  # not printable
        {"/": {"content-security-policy": "x" * 4097}},  # too long
        {"/": {"content-security-policy": 1}},
        {"/": ["content-security-policy"]},
        {"relative/": PAGE, "/": PAGE},  # not a path
        {f"/p{i}/": PAGE for i in range(64)} | {"/": PAGE},  # too many rules
        [],
    ],
)
def test_malformed_header_rules_are_refused(headers: Any) -> None:
    with pytest.raises(crypto.InvalidSignature):
        parse_site(envelope(headers))


def test_an_unknown_top_level_key_is_refused() -> None:
    with pytest.raises(crypto.InvalidSignature):
        parse_site(envelope({"/": PAGE}, extra="x"))


def test_header_rules_are_the_fewest_prefixes_that_give_each_path_its_headers() -> None:
    odd = {**STATIC, "x-frame-options": "SAMEORIGIN"}
    by_path = {
        "/": PAGE,
        "/en/": PAGE,
        "/mailbox/": PAGE,
        "/static/js/a.js": STATIC,
        "/static/css/b.css": STATIC,
        "/static/vendor/c.mjs": odd,
    }
    rules = header_rules(by_path)
    assert rules == {"/": PAGE, "/static/vendor/c.mjs": odd, "/static/": STATIC}
    for path, headers in by_path.items():
        assert expected_headers(rules, path) == headers
    # Once static files carry the pages' headers, one rule covers all.
    assert header_rules(dict.fromkeys(by_path, PAGE)) == {"/": PAGE}


def test_a_response_is_compared_header_by_header() -> None:
    served = covered_headers(
        [
            ("Content-Security-Policy", CSP),
            ("content-security-policy", "default-src *"),  # a second, looser copy
            ("Cache-Control", "no-store"),
            ("Onion-Location", "http://elsewhere.onion/"),  # never signed
            ("Date", "Fri, 04 Dec 2026 13:28:36 GMT"),  # not covered
        ]
    )
    assert header_differences(PAGE, served) == [
        ("content-security-policy", CSP, f"{CSP}, default-src *"),
        ("onion-location", None, "http://elsewhere.onion/"),
        ("x-frame-options", "DENY", None),
    ]


def test_an_onion_origin_expects_no_hsts_and_no_onion_location() -> None:
    public = {**PAGE, "strict-transport-security": "max-age=1", "onion-location": "http://x.onion/"}
    assert expected_headers({"/": public}, "/", onion=True) == PAGE
    assert expected_headers({"/": public}, "/") == public


def test_a_page_nesting_json_too_deep_in_an_attribute_is_refused_not_skipped() -> None:
    # Skipping it would hide whatever the page's JSON.parse finds in it from the
    # check; parsing it recursively used to crash the check (RecursionError).
    hostile = '<div data-files="' + "[" * 5000 + "]" * 5000 + '"></div>'
    with pytest.raises(JSONTooDeep):
        page_references(hostile, "/")
    honest = "<div data-files='[\"/static/wordlists/ru.txt\"]'></div>"
    assert page_references(honest, "/") == ["/static/wordlists/ru.txt"]
