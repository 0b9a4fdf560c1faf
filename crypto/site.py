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

This module also holds the pure parsing that finds what a page or a module
loads (stdlib ``html.parser`` and a regex), shared by the tool that drafts the
document and the tool that checks it. No network here.
"""

from __future__ import annotations

import hashlib
import json
import re
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
_FIELDS = frozenset({"type", "manifest_version", "issued", "files"})
# A path on the server's origin: printable ASCII, no fragment, no spaces.
_PATH_RE = re.compile(r"/[\x21-\x7e]*")


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

    @property
    def digest(self) -> bytes:
        """``H(32, payload)``: what detached signature files name."""
        return blake2b(32, self.payload)


def build_site_payload(
    *, manifest_version: int, issued: datetime, files: Mapping[str, bytes]
) -> bytes:
    """Canonical JSON payload of a site document (``ValueError`` if a reader would refuse it)."""
    data = {
        "type": SITE_PAYLOAD_TYPE,
        "manifest_version": manifest_version,
        "issued": format_time(issued),
        "files": {check_path(p): b64e(d) for p, d in files.items()},
    }
    payload = canonical_json(data)
    try:
        parse_site(dsse_sign(SITE_TYPE, payload, []))
    except InvalidSignature as exc:
        raise ValueError("these fields do not make a valid site document") from exc
    return payload


def parse_site(envelope: Mapping[str, Any]) -> SiteDocument:
    """Check a DSSE site document's structure (not its signatures).

    Unlike manifests, the payload has exactly the four fields: nothing
    unsigned-looking can ride along in a document about code.
    """
    payload_type, payload = dsse_payload(envelope)
    try:
        if payload_type != SITE_TYPE:
            raise ValueError("payloadType")
        data = load_json(payload)
        if not isinstance(data, dict) or set(data) != _FIELDS:
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
    except (ValueError, TypeError, KeyError) as exc:
        raise InvalidSignature("malformed") from exc
    return SiteDocument(payload, data, version, issued, files, dict(envelope))


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
            try:
                names = json.loads(vendor)
            except ValueError:
                names = {}
            if isinstance(names, dict):
                self.found.extend(VENDOR_PREFIX + str(name) for name in names)


def _static_paths(value: str) -> list[str]:
    """`/static/...` paths in an attribute value: the value itself, or any key
    or string inside it if it is JSON."""
    if value.startswith("/static/"):
        return [value]
    try:
        data = json.loads(value)
    except ValueError:
        return []
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
    "MAX_FILES",
    "SITE_PAYLOAD_TYPE",
    "SITE_TYPE",
    "VENDOR_PREFIX",
    "SiteDocument",
    "build_site_payload",
    "check_path",
    "file_digest",
    "module_references",
    "page_links",
    "page_references",
    "parse_site",
    "site_signers",
    "verify_site",
]
