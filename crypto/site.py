"""The signed site document: digests of every byte the applicant's pages load.

The manifest chain says *who* may read submissions; the page that encrypts to
them is code the server hands out. A server (or anything between it and the
applicant) that altered that code could encrypt to nobody, or send the
plaintext elsewhere. So the admins sign, offline and by the same threshold as
manifests, a DSSE document listing the SHA-256 of each page (each language),
each script, stylesheet, module and word list the pages load. Anyone holding
the pinned trust root can then fetch the live files from outside
(``intake-admin check-site``) and see any byte that differs.

SHA-256 rather than BLAKE2b, unlike the rest of the protocol: these digests
are meant to be checked by hand too (``curl -s URL | sha256sum``), by people
with nothing but standard tools. See /work/team/protocol-site.md.

Version 3 adds ``headers``: the exact security headers (CSP, framing,
referrer, cache policy ...) every listed response must carry. The bytes of a
page mean little if a server can loosen its Content-Security-Policy for
browsers only.

This module also holds the pure parsing that finds what a page or a module
loads (stdlib ``html.parser`` and a regex), and the header rules, shared by
the tool that drafts the document and the tool that checks it. No network here.
"""

from __future__ import annotations

import hashlib
import hmac
import json
import re
from collections import Counter
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from datetime import datetime
from html.parser import HTMLParser
from typing import Any
from urllib.parse import urljoin, urlsplit

from crypto.dsse import dsse_check_signers, dsse_payload, dsse_sign
from crypto.encoding import (
    b64d,
    b64e,
    blake2b,
    canonical_json,
    check_json_depth,
    format_time,
    is_int,
    load_json,
    parse_time,
)
from crypto.envelope import MAX_MANIFEST_VERSION
from crypto.errors import InvalidSignature
from crypto.manifest import Manifest

SITE_TYPE = "application/vnd.intake.site+json"
SITE_PAYLOAD_TYPE = "intake/site"
DIGEST_BYTES = 32  # SHA-256
MAX_FILES = 1024
MAX_PATH = 512
# Where sodium-loader.js fetches the vendored libsodium files it is given SRI
# values for (the page's `data-vendor-sri` names them, relative to this).
VENDOR_PREFIX = "/static/vendor/"
_FIELDS_V2 = frozenset({"type", "manifest_version", "issued", "files"})
_FIELDS_V3 = _FIELDS_V2 | {"headers"}
# A path on the server's origin: printable ASCII, no fragment, no spaces.
_PATH_RE = re.compile(r"/[\x21-\x7e]*")

# The response headers a site document covers (v3). Each changes what a page
# may do or where it may lead: a looser CSP lets an injected or rewritten
# script send the plaintext anywhere; framing, referrer, opener and
# permission policies guard the page against other sites; Cache-Control
# decides whether a page stays on a phone's disk; Onion-Location and Refresh
# can send the reader to another address; Link can make the browser load
# more; Set-Cookie can tag a returning applicant. A covered header the
# document does not list must be absent.
COVERED_HEADERS = frozenset(
    {
        "cache-control",
        "content-security-policy",
        "content-security-policy-report-only",
        "cross-origin-embedder-policy",
        "cross-origin-opener-policy",
        "cross-origin-resource-policy",
        "link",
        "onion-location",
        "permissions-policy",
        "referrer-policy",
        "refresh",
        "set-cookie",
        "strict-transport-security",
        "x-content-type-options",
        "x-frame-options",
    }
)
# Dropped on purpose by the onion site (deploy/caddy/Caddyfile): HSTS and
# Onion-Location mean nothing on an .onion address. A reader checking an
# .onion origin expects them absent there.
ONION_DROPPED = frozenset({"strict-transport-security", "onion-location"})
MAX_HEADER_RULES = 64
MAX_HEADER_VALUE = 4096
_HEADER_VALUE_RE = re.compile(r"[\x20-\x7e]*")


def file_digest(data: bytes) -> bytes:
    """The digest a site document lists for a file's bytes (SHA-256)."""
    return hashlib.sha256(data).digest()


def check_path(path: object) -> str:
    """A listed path: absolute on the origin, printable ASCII, no fragment, no
    dot segments (a reader fetches exactly this, so nothing may be ambiguous)."""
    if not isinstance(path, str) or len(path) > MAX_PATH or not _PATH_RE.fullmatch(path):
        raise ValueError("a path is '/' followed by printable ASCII")
    if "#" in path or path.startswith("//"):
        raise ValueError("no fragment and no network-path reference")
    segments = urlsplit(path).path.split("/")
    if any(segment in (".", "..") for segment in segments):
        raise ValueError("no dot segments")
    return path


@dataclass(frozen=True)
class SiteDocument:
    """A structurally valid site document (whether it is *trusted* is ``verify_site``'s job)."""

    payload: bytes
    data: dict[str, Any]
    manifest_version: int
    issued: datetime
    files: dict[str, bytes]
    envelope: dict[str, Any]
    # Path prefix -> {lower-case header name: exact value}; None for a v2
    # document, which does not cover headers at all.
    headers: dict[str, dict[str, str]] | None = None

    @property
    def version(self) -> int:
        """3 if the document covers the security headers, else 2."""
        return 2 if self.headers is None else 3

    def expected_headers(self, path: str, *, onion: bool = False) -> dict[str, str] | None:
        """The covered headers a response for ``path`` must carry (None: not covered)."""
        if self.headers is None:
            return None
        return expected_headers(self.headers, path, onion=onion)

    @property
    def digest(self) -> bytes:
        """``H(32, payload)``: what detached signature files name."""
        return blake2b(32, self.payload)


def build_site_payload(
    *,
    manifest_version: int,
    issued: datetime,
    files: Mapping[str, bytes],
    headers: Mapping[str, Mapping[str, str]] | None = None,
) -> bytes:
    """Canonical JSON payload of a site document (``ValueError`` if a reader would refuse it).

    With ``headers`` (path prefix -> covered header -> value) it is a version-3
    document; without, version 2 (kept only for tests of old documents).
    """
    data: dict[str, Any] = {
        "type": SITE_PAYLOAD_TYPE,
        "manifest_version": manifest_version,
        "issued": format_time(issued),
        "files": {check_path(p): b64e(d) for p, d in files.items()},
    }
    if headers is not None:
        data["headers"] = {prefix: dict(values) for prefix, values in headers.items()}
    payload = canonical_json(data)
    try:
        parse_site(dsse_sign(SITE_TYPE, payload, []))
    except InvalidSignature as exc:
        raise ValueError("these fields do not make a valid site document") from exc
    return payload


def parse_site(envelope: Mapping[str, Any]) -> SiteDocument:
    """Check a DSSE site document's structure (not its signatures).

    Unlike manifests, the payload has exactly the four fields of version 2 or
    the five of version 3 (``headers`` added): nothing unsigned-looking can
    ride along in a document about code.
    """
    payload_type, payload = dsse_payload(envelope)
    try:
        if payload_type != SITE_TYPE:
            raise ValueError("payloadType")
        data = load_json(payload)
        if not isinstance(data, dict) or set(data) not in (_FIELDS_V2, _FIELDS_V3):
            raise ValueError("fields")
        if data["type"] != SITE_PAYLOAD_TYPE:
            raise ValueError("type")
        version = data["manifest_version"]
        if not is_int(version) or not 1 <= version <= MAX_MANIFEST_VERSION:
            raise ValueError("manifest_version")
        issued = parse_time(data["issued"])
        raw_files = data["files"]
        if not isinstance(raw_files, dict) or not 1 <= len(raw_files) <= MAX_FILES:
            raise ValueError("files")
        files: dict[str, bytes] = {}
        for path, value in raw_files.items():
            digest = b64d(value)
            if len(digest) != DIGEST_BYTES:
                raise ValueError("digest size")
            files[check_path(path)] = digest
        headers = _parse_headers(data["headers"]) if "headers" in data else None
    except (ValueError, TypeError, KeyError) as exc:
        raise InvalidSignature("malformed") from exc
    return SiteDocument(payload, data, version, issued, files, dict(envelope), headers)


def _parse_headers(raw: object) -> dict[str, dict[str, str]]:
    """``headers`` of a v3 document: path prefix -> {covered name: value}.

    Strict, as the rest of the document: names lower-case and from
    ``COVERED_HEADERS`` only, values printable ASCII of bounded size, a rule
    for "/" so every path has one, at most ``MAX_HEADER_RULES`` prefixes.
    """
    if not isinstance(raw, dict) or not 1 <= len(raw) <= MAX_HEADER_RULES or "/" not in raw:
        raise ValueError("headers")
    rules: dict[str, dict[str, str]] = {}
    for prefix, values in raw.items():
        if not isinstance(values, dict):
            raise ValueError("header rule")
        rule: dict[str, str] = {}
        for name, value in values.items():
            if not isinstance(name, str) or name not in COVERED_HEADERS:
                raise ValueError("header name")
            if (
                not isinstance(value, str)
                or len(value) > MAX_HEADER_VALUE
                or not _HEADER_VALUE_RE.fullmatch(value)
            ):
                raise ValueError("header value")
            rule[name] = value
        rules[check_path(prefix)] = rule
    return rules


def expected_headers(
    rules: Mapping[str, Mapping[str, str]], path: str, *, onion: bool = False
) -> dict[str, str]:
    """The covered headers a response for ``path`` must carry: the rule of the
    longest prefix of ``path`` ("/" always matches). On an .onion origin
    ``ONION_DROPPED`` headers are expected absent."""
    prefix = max((p for p in rules if path.startswith(p)), key=len)
    rule = dict(rules[prefix])
    if onion:
        for name in ONION_DROPPED:
            rule.pop(name, None)
    return rule


def covered_headers(pairs: Iterable[tuple[str, str]]) -> dict[str, str]:
    """The covered headers among a response's raw (name, value) pairs, names
    lower-cased; a header sent twice is joined with ", " as HTTP combines it,
    so a second, looser copy shows as a different value."""
    found: dict[str, list[str]] = {}
    for name, value in pairs:
        key = name.strip().lower()
        if key in COVERED_HEADERS:
            found.setdefault(key, []).append(value.strip())
    return {name: ", ".join(values) for name, values in found.items()}


def header_rules(by_path: Mapping[str, Mapping[str, str]]) -> dict[str, dict[str, str]]:
    """The fewest prefix rules that give each path exactly its headers.

    "/" takes the headers of the page "/" (or of the first path); a directory
    such as "/static/" whose paths mostly carry other headers gets a rule of
    those; any path still not matched gets a rule of its own. ``ValueError`` if that
    needs more than ``MAX_HEADER_RULES`` rules (a server whose headers differ
    file by file is misconfigured).
    """
    if not by_path:
        raise ValueError("no responses to take the headers from")
    wanted = {path: dict(values) for path, values in by_path.items()}
    rules: dict[str, dict[str, str]] = {"/": wanted.get("/", next(iter(wanted.values())))}
    directories: dict[str, list[str]] = {}
    for path in wanted:
        head = path.split("/")[1] if path.count("/") > 1 else ""
        if head:
            directories.setdefault(f"/{head}/", []).append(path)
    for prefix, paths in sorted(directories.items()):
        # The headers most of the directory's paths carry (ties: the first path's).
        keys = [tuple(sorted(wanted[p].items())) for p in paths]
        counts = Counter(keys)
        best = max(counts, key=lambda key: (counts[key], key == keys[0]))
        shared = dict(best)
        if shared != rules["/"]:
            rules[prefix] = shared
    for path, values in sorted(wanted.items()):
        if expected_headers(rules, path) != values:
            rules[path] = values
    if len(rules) > MAX_HEADER_RULES:
        raise ValueError(f"the headers differ across more than {MAX_HEADER_RULES} paths")
    return rules


def header_differences(
    expected: Mapping[str, str], actual: Mapping[str, str]
) -> list[tuple[str, str | None, str | None]]:
    """(name, signed value or None, served value or None) for every covered
    header that is missing, different, or present without being signed."""
    out = []
    for name in sorted(set(expected) | set(actual)):
        want, got = expected.get(name), actual.get(name)
        if want is None or got is None or not _same_text(want, got):
            out.append((name, want, got))
    return out


def _same_text(a: str, b: str) -> bool:
    return hmac.compare_digest(a.encode("utf-8"), b.encode("utf-8"))


def verify_site(envelope: Mapping[str, Any], manifest: Manifest) -> SiteDocument:
    """Accept a site document under the trusted latest ``manifest``.

    It must name a manifest version no newer than ``manifest`` (a document for
    a chain the reader has not seen is refused) and carry valid signatures by
    at least ``manifest.threshold`` distinct admins of ``manifest``: after an
    admin rotation the new admins must sign the code again, so a rotated-out
    (perhaps compromised) admin set cannot vouch for new code.
    """
    doc = parse_site(envelope)
    if doc.manifest_version > manifest.version:
        raise InvalidSignature("malformed")
    valid, failed = dsse_check_signers(envelope, manifest.admin_keys)
    if len(valid) < manifest.threshold:
        raise InvalidSignature("bad-signature" if failed else "threshold")
    return doc


def site_signers(envelope: Mapping[str, Any], manifest: Manifest) -> set[str]:
    """Kids of ``manifest``'s admins whose signature on ``envelope`` verifies."""
    return dsse_check_signers(envelope, manifest.admin_keys)[0]


# --------------------------------------------------------------------------
# What a page or a module loads


# <link rel=...> values that make the browser fetch (and use) the target.
_FETCHING_RELS = frozenset({"stylesheet", "modulepreload", "preload", "icon", "manifest"})


class _References(HTMLParser):
    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.found: list[str] = []
        self.links: list[str] = []

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        values = {name: value or "" for name, value in attrs}
        if tag == "a" and values.get("href"):
            self.links.append(values["href"])
        for name, value in values.items():
            # Files a script fetches later (a word list, a module loaded on
            # demand) are named in data attributes, alone or inside JSON:
            # every /static/ path there is loaded too.
            if name.startswith("data-"):
                self.found.extend(_static_paths(value))
        if tag in ("script", "img", "source", "audio", "video", "iframe", "embed") and (
            values.get("src")
        ):
            self.found.append(values["src"])
        rels = set(values.get("rel", "").lower().split())
        if tag == "link" and _FETCHING_RELS & rels and values.get("href"):
            self.found.append(values["href"])
        if tag == "object" and values.get("data"):
            self.found.append(values["data"])
        vendor = values.get("data-vendor-sri")
        if vendor:
            # The loader fetches these itself; a page names them only here.
            names = _attribute_json(vendor)
            if isinstance(names, dict):
                self.found.extend(VENDOR_PREFIX + str(name) for name in names)


def _attribute_json(value: str) -> Any:
    """An attribute value parsed as JSON, or None when it is not JSON.

    Too deep a nesting is refused, not skipped: the page's own script reads the
    attribute with `JSON.parse`, which has no such limit, so skipping it would
    hide from the check whatever the browser loads from it (and parsing it
    recursively would crash the check)."""
    check_json_depth(value)
    try:
        return json.loads(value)
    except (ValueError, RecursionError):
        return None


def _static_paths(value: str) -> list[str]:
    """`/static/...` paths in an attribute value: the value itself, or any key
    or string inside it if it is JSON."""
    if value.startswith("/static/"):
        return [value]
    data = _attribute_json(value)
    found: list[str] = []
    stack: list[Any] = [data]
    while stack:
        item = stack.pop()
        if isinstance(item, dict):
            stack.extend(item.keys())
            stack.extend(item.values())
        elif isinstance(item, list):
            stack.extend(item)
        elif isinstance(item, str) and item.startswith("/static/"):
            found.append(item)
    return sorted(found)


def page_references(html: str, base: str) -> list[str]:
    """Same-origin paths a page loads (scripts, styles, modules, vendor files), in order.

    ``base`` is the page's own path; references are resolved against it.
    Other origins and ``data:`` URLs are left out (the pages' CSP forbids
    other origins; a data: URL is part of the page's own bytes).
    """
    parser = _References()
    parser.feed(html)
    parser.close()
    return _same_origin(parser.found, base)


def page_links(html: str, base: str) -> list[str]:
    """Same-origin pages a page links to (paths ending in "/", as every
    applicant page's URL does): how a crawl finds each page in each language."""
    parser = _References()
    parser.feed(html)
    parser.close()
    return [p for p in _same_origin(parser.links, base) if p.endswith("/")]


# Module specifiers and fetched paths in our own scripts: `import … from "./x.js"`,
# `import("./x.js")`, `export … from`, and string literals naming a static file.
_JS_STRING = re.compile(
    r"""["'`]((?:\.{1,2}/|/static/)[A-Za-z0-9_./-]+\.(?:m?js|css|json|txt|wasm|svg|png|woff2?))["'`]"""
)


def module_references(source: str, base: str) -> list[str]:
    """Same-origin paths a script names as literals (static and dynamic imports,
    fetched files), resolved against the script's own path ``base``."""
    return _same_origin((m.group(1) for m in _JS_STRING.finditer(source)), base)


def _same_origin(urls: Iterable[str], base: str) -> list[str]:
    origin = "http://origin.invalid"
    out: list[str] = []
    for url in urls:
        url = url.strip()
        if not url or url.startswith(("data:", "blob:", "#")):
            continue
        resolved = urlsplit(urljoin(origin + base, url))
        if f"{resolved.scheme}://{resolved.netloc}" != origin:
            continue
        path = resolved.path + (f"?{resolved.query}" if resolved.query else "")
        try:
            check_path(path)
        except ValueError:
            continue
        if path not in out:
            out.append(path)
    return out


__all__ = [
    "COVERED_HEADERS",
    "MAX_FILES",
    "ONION_DROPPED",
    "SITE_PAYLOAD_TYPE",
    "SITE_TYPE",
    "VENDOR_PREFIX",
    "SiteDocument",
    "build_site_payload",
    "check_path",
    "covered_headers",
    "expected_headers",
    "file_digest",
    "header_differences",
    "header_rules",
    "module_references",
    "page_links",
    "page_references",
    "parse_site",
    "site_signers",
    "verify_site",
]
