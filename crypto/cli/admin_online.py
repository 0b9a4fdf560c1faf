"""The admin tool's online side: what it asks a server, and how it checks the answers.

Everything a server says is hostile until verified against the pinned trust
root: the chain is walked from genesis, the site document's signatures are
checked under the latest manifest, the audit log's claims of who signed are
recomputed from the signatures themselves. Standard library HTTP
(`transport`), so this runs from any outside machine; `check-site` loads the
pages in real Chromium (`browser_fetch`, imported only when used).
"""

from __future__ import annotations

import datetime as dt
import hmac
import json
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from urllib.parse import quote, urlsplit

import crypto
from crypto.encoding import MAX_JSON_DEPTH, JSONTooDeep
from crypto.site import (
    MAX_FILES,
    SITE_TYPE,
    SiteDocument,
    build_site_payload,
    covered_headers,
    file_digest,
    header_differences,
    header_rules,
    module_references,
    page_links,
    page_references,
    parse_site,
    site_signers,
    verify_site,
)

from . import transport
from .common import (
    InputError,
    ServerError,
    TrustError,
    now_utc,
    verify_chain_or_fail,
)
from .hostile import visible

# Pages every deployment serves; the crawl adds every page they link to.
DEFAULT_PAGES = ("/", "/en/", "/mailbox/", "/en/mailbox/")
_SCRIPT_SUFFIXES = (".js", ".mjs")


def origin_of(server: str) -> str:
    """Site paths are absolute on the server's origin (pages load `/static/...`)."""
    return transport.split_server(server)[0]


def fetch_json(server: str, path: str) -> Any:
    answer = transport.request(server, "GET", path, headers={"Accept": "application/json"})
    data = transport.json_answer(answer)
    if data is None:
        raise ServerError(f"{visible(server, limit=100)}{path} did not answer JSON", None)
    return data


def fetch_chain(server: str, root: crypto.TrustRoot) -> tuple[list[dict[str, Any]], list[Any]]:
    """The server's chain, verified from the pinned root: (raw links, manifests)."""
    data = fetch_json(server, "/api/v1/manifests")
    chain = data.get("chain") if isinstance(data, dict) else None
    if not isinstance(chain, list) or not chain:
        raise TrustError("the server serves no manifest chain", "has genesis been imported?")
    return chain, verify_chain_or_fail(chain, root)


# --------------------------------------------------------------------------
# Crawling the applicant's pages (site-digest, and check-site --http)


@dataclass
class Crawl:
    """What the pages load, path by path: the bytes and the covered headers served."""

    files: dict[str, bytes] = field(default_factory=dict)
    headers: dict[str, dict[str, str]] = field(default_factory=dict)
    pages: list[str] = field(default_factory=list)
    skipped: list[tuple[str, str]] = field(default_factory=list)
    observations: list[transport.Observation] = field(default_factory=list)
    # (path named by a page or script, the page or script naming it)
    references: list[tuple[str, str]] = field(default_factory=list)


def _content_type(observation: transport.Observation) -> str:
    for name, value in observation.headers:
        if name.lower() == "content-type":
            return value.split(";", 1)[0].strip().lower()
    return ""


def _references(observation: transport.Observation) -> tuple[list[str], list[str]]:
    """(files, pages) a served page or script names."""
    path, body = observation.url, observation.body or b""
    if _content_type(observation) == "text/html":
        html = body.decode("utf-8", errors="replace")
        return page_references(html, path), page_links(html, path)
    if path.split("?", 1)[0].endswith(_SCRIPT_SUFFIXES):
        return module_references(body.decode("utf-8", errors="replace"), path), []
    return [], []


def load_kind(path: str) -> str:
    """How a browser would request `path` (which headers it sends)."""
    bare = path.split("?", 1)[0]
    if bare.endswith("/"):
        return "document"
    if bare.endswith(_SCRIPT_SUFFIXES):
        return "script"
    if bare.endswith(".css"):
        return "style"
    return "fetch"


def crawl(
    server: str, pages: Iterable[str], files: Iterable[str], *, proxy: str | None = None
) -> Crawl:
    """Fetch each page (and every same-origin page it links to), then every file
    the pages and scripts load, with a browser's headers. A page that is missing
    is skipped and noted; a file a page loads that is missing is an error (the
    page is broken)."""
    origin = origin_of(server)
    result = Crawl()
    page_queue = list(dict.fromkeys(pages))
    file_queue = list(dict.fromkeys(files))
    seen_pages: set[str] = set()
    while page_queue or file_queue:
        if len(result.files) > MAX_FILES:
            raise InputError(f"the pages load more than {MAX_FILES} files", None)
        if page_queue:
            path = page_queue.pop(0)
            if path in seen_pages:
                continue
            seen_pages.add(path)
            answer = transport.browser_get(origin, path, "document", proxy=proxy)
            if answer.status != 200:
                result.skipped.append((path, f"HTTP {answer.status}"))
                continue
            result.pages.append(path)
        else:
            path = file_queue.pop(0)
            if path in result.files:
                continue
            answer = transport.browser_get(origin, path, load_kind(path), proxy=proxy)
            if answer.status != 200:
                raise ServerError(
                    f"{visible(path, limit=120)}, which the pages load, answered "
                    f"HTTP {answer.status}",
                    "the pages are broken: fix the deployment first",
                )
        result.observations.append(answer)
        result.files[path] = answer.body or b""
        result.headers[path] = covered_headers(answer.headers)
        try:
            found, links = _references(answer)
        except JSONTooDeep:
            raise ServerError(
                f"{visible(path, limit=120)} nests JSON in an attribute deeper than "
                f"{MAX_JSON_DEPTH} levels, so what it loads cannot be read",
                "a page of ours never does this: treat the server as tampered with",
            ) from None
        result.references.extend((ref, path) for ref in found)
        file_queue.extend(ref for ref in found if ref not in result.files)
        page_queue.extend(link for link in links if link not in seen_pages)
    return result


def site_draft(
    server: str, root: crypto.TrustRoot, pages: Sequence[str], files: Sequence[str]
) -> tuple[dict[str, Any], Crawl, crypto.Manifest]:
    """An unsigned (version-3) site document for what `server` serves now:
    every file's digest and the security headers each response carries."""
    _, manifests = fetch_chain(server, root)
    latest = manifests[-1]
    found = crawl(server, [*DEFAULT_PAGES, *pages], files)
    if not found.pages:
        raise ServerError("none of the pages could be fetched", "check the server URL")
    try:
        rules = header_rules(found.headers)
    except ValueError as exc:
        raise ServerError(f"the server's security headers cannot be signed: {exc}", None) from None
    payload = build_site_payload(
        manifest_version=latest.version,
        issued=now_utc(),
        files={path: file_digest(body) for path, body in found.files.items()},
        headers=rules,
    )
    return crypto.dsse_sign(SITE_TYPE, payload, []), found, latest


# --------------------------------------------------------------------------
# check-site


@dataclass(frozen=True)
class HeaderProblem:
    path: str
    name: str
    expected: str | None  # None: must be absent
    actual: str | None  # None: not sent


@dataclass
class SiteCheck:
    server: str
    mode: str  # browser | http
    proxy: str | None
    manifest: crypto.Manifest
    doc: SiteDocument
    user_agent: str = ""
    ok: list[str] = field(default_factory=list)
    changed: list[tuple[str, int, bytes, bytes]] = field(default_factory=list)
    missing: list[tuple[str, str]] = field(default_factory=list)
    uncovered: list[tuple[str, str]] = field(default_factory=list)
    headers: list[HeaderProblem] = field(default_factory=list)
    api: list[str] = field(default_factory=list)
    loads: dict[str, int] = field(default_factory=dict)
    seen: dict[str, bytes] = field(default_factory=dict)
    allow_unsigned_headers: bool = False

    @property
    def issued(self) -> dt.datetime:
        return self.doc.issued

    @property
    def headers_not_covered(self) -> bool:
        """A version-2 document: the headers were never signed, so not checked."""
        return self.doc.headers is None

    @property
    def failed(self) -> bool:
        return bool(
            self.changed
            or self.missing
            or self.uncovered
            or self.headers
            or (self.headers_not_covered and not self.allow_unsigned_headers)
        )

    def problems(self) -> int:
        return (
            len(self.changed)
            + len(self.missing)
            + len(self.uncovered)
            + len(self.headers)
            + int(self.headers_not_covered and not self.allow_unsigned_headers)
        )

    def to_json(self) -> dict[str, Any]:
        """The machine-readable report (`--json`): compare runs from several vantage points."""
        changed = {path for path, *_ in self.changed}
        missing = {path for path, _ in self.missing}
        files = {}
        for path, signed in sorted(self.doc.files.items()):
            status = "changed" if path in changed else "missing" if path in missing else "ok"
            seen = self.seen.get(path)
            files[path] = {
                "status": status,
                "signed": signed.hex(),
                "sha256": seen.hex() if seen is not None else None,
                "loads": self.loads.get(path, 0),
            }
        return {
            "type": "intake/check-site-report",
            "server": self.server,
            "mode": self.mode,
            "proxy": transport.show_proxy(self.proxy),
            "user_agent": self.user_agent,
            "checked": crypto.format_time(now_utc()),
            "ok": not self.failed,
            "site_document": {
                "issued": crypto.format_time(self.doc.issued),
                "manifest_version": self.doc.manifest_version,
                "digest": crypto.b64e(self.doc.digest),
                "version": self.doc.version,
                "headers_signed": self.doc.headers is not None,
            },
            "manifest_version": self.manifest.version,
            "files": files,
            "missing": [{"path": p, "why": why} for p, why in self.missing],
            "unlisted": [{"url": url, "loaded_by": by} for url, by in self.uncovered],
            "headers": [
                {"path": h.path, "name": h.name, "expected": h.expected, "actual": h.actual}
                for h in self.headers
            ],
            "headers_not_covered": self.headers_not_covered,
            "api": sorted(set(self.api)),
        }


def _browser_fetch_headers() -> dict[str, str]:
    # The chain and the site document are fetched as a page's own fetch()
    # would be: a tool's User-Agent would tell the server a check is running.
    return transport.browser_headers("fetch")


def trusted_site(
    server: str, root: crypto.TrustRoot, *, proxy: str | None = None
) -> tuple[SiteDocument, crypto.Manifest]:
    """The chain from the pinned root, and the site document its latest admins signed."""
    answer = transport.request(
        server, "GET", "/api/v1/manifests", headers=_browser_fetch_headers(), proxy=proxy
    )
    data = transport.json_answer(answer)
    chain = data.get("chain") if isinstance(data, dict) else None
    if not isinstance(chain, list) or not chain:
        raise TrustError("the server serves no manifest chain", "has genesis been imported?")
    latest = verify_chain_or_fail(chain, root)[-1]
    answer = transport.request(
        server, "GET", "/api/v1/site", headers=_browser_fetch_headers(), proxy=proxy
    )
    data = transport.json_answer(answer)
    envelope = data.get("site") if isinstance(data, dict) else None
    if not isinstance(envelope, dict):
        raise TrustError("the server serves no site document", "the admins have not signed one")
    try:
        doc = verify_site(envelope, latest)
    except crypto.IntakeCryptoError as exc:
        raise TrustError(
            f"the site document is not signed by the admins of manifest version "
            f"{latest.version}: {exc.reason}",
            "after an admin rotation the new admins must sign the site document again",
        ) from None
    return doc, latest


def _is_page(path: str) -> bool:
    return path.split("?", 1)[0].endswith("/")


def _observe_in_browser(
    server: str, root: crypto.TrustRoot, proxy: str | None, chromium: Path | None
) -> tuple[SiteDocument, crypto.Manifest, list[transport.Observation], str]:
    """Load every page in Chromium *before* asking for the site document (so
    the pages are seen before anything says a check is running), then every
    page the document lists that was not reached, then every listed file the
    pages did not load by themselves."""
    from .browser_fetch import CHROMIUM, ChromiumFetcher

    origin = origin_of(server)
    with ChromiumFetcher(origin, proxy=proxy, executable=chromium or CHROMIUM) as eyes:
        queue, visited = list(DEFAULT_PAGES), set[str]()

        def visit_all() -> None:
            while queue:
                path = queue.pop(0)
                if path in visited:
                    continue
                if len(visited) >= MAX_FILES:
                    raise InputError(f"the pages link to more than {MAX_FILES} pages", None)
                visited.add(path)
                queue.extend(eyes.visit(path))

        visit_all()
        doc, latest = trusted_site(server, root, proxy=proxy)
        queue.extend(path for path in sorted(doc.files) if _is_page(path))
        visit_all()
        loaded = {o.url for o in eyes.observations if o.same_origin and o.status == 200}
        eyes.load_listed([p for p in sorted(doc.files) if p not in loaded and not _is_page(p)])
        return doc, latest, eyes.observations, eyes.user_agent


def _observe_over_http(
    server: str, root: crypto.TrustRoot, proxy: str | None
) -> tuple[SiteDocument, crypto.Manifest, list[transport.Observation], list[tuple[str, str]]]:
    """The standard-library fallback: the same pages and files, fetched one by
    one with a browser's headers; references found in pages and scripts
    stand in for what a browser would have loaded."""
    origin = origin_of(server)
    found = crawl(server, DEFAULT_PAGES, [], proxy=proxy)
    doc, latest = trusted_site(server, root, proxy=proxy)
    observations = list(found.observations)
    fetched = {o.url for o in observations}
    for path in sorted(doc.files):
        if path not in fetched:
            observations.append(transport.browser_get(origin, path, load_kind(path), proxy=proxy))
    return doc, latest, observations, found.references


def check_site(
    server: str,
    root: crypto.TrustRoot,
    *,
    browser: bool = True,
    proxy: str | None = None,
    chromium: Path | None = None,
    allow_unsigned_headers: bool = False,
) -> SiteCheck:
    """Load the applicant's pages as a browser does and compare every response
    with the site document the pinned root's admins signed: each body's
    SHA-256 (in constant time) and each covered security header.

    Fails on any listed file that differs or never loads, anything loaded
    that is not listed (an unsigned file is an unchecked one), any header
    that is missing, different or unsigned, and (unless allowed) a version-2
    document that does not cover headers at all.
    """
    if proxy is not None:
        proxy = transport.check_proxy(proxy)
    origin = origin_of(server)
    references: list[tuple[str, str]] = []
    user_agent = transport.BROWSER_USER_AGENT
    if browser:
        doc, latest, observations, user_agent = _observe_in_browser(server, root, proxy, chromium)
    else:
        doc, latest, observations, references = _observe_over_http(server, root, proxy)
    report = SiteCheck(
        origin,
        "browser" if browser else "http",
        proxy,
        latest,
        doc,
        user_agent=user_agent,
        allow_unsigned_headers=allow_unsigned_headers,
    )
    compare(report, observations, references)
    return report


def compare(
    report: SiteCheck,
    observations: Sequence[transport.Observation],
    references: Sequence[tuple[str, str]] = (),
) -> None:
    """Fill `report` from what was received."""
    doc = report.doc
    onion = (urlsplit(report.server).hostname or "").endswith(".onion")
    bad: set[str] = set()
    changed: set[tuple[str, bytes]] = set()
    header_seen: set[HeaderProblem] = set()
    unlisted: set[str] = set()
    for seen in observations:
        path = seen.url
        if not seen.same_origin:
            if path not in unlisted:
                unlisted.add(path)
                report.uncovered.append((path, f"a {seen.kind or 'request'} to another origin"))
            continue
        if path.startswith("/api/"):
            # Signed data the page verifies itself (the chain, from the trust
            # root inside the checked page); it changes with every manifest.
            report.api.append(path)
            continue
        expected = doc.files.get(path)
        if expected is None:
            if path not in unlisted:
                unlisted.add(path)
                report.uncovered.append((path, f"the browser ({seen.kind or 'load'})"))
            continue
        if seen.status != 200 or seen.body is None:
            if path not in bad:
                report.missing.append((path, f"answered HTTP {seen.status}"))
            bad.add(path)
            continue
        report.loads[path] = report.loads.get(path, 0) + 1
        actual = file_digest(seen.body)
        report.seen[path] = actual
        if not hmac.compare_digest(actual, expected):
            if (path, actual) not in changed:
                changed.add((path, actual))
                report.changed.append((path, len(seen.body), expected, actual))
            bad.add(path)
        wanted = doc.expected_headers(path, onion=onion)
        if wanted is not None:
            for name, want, got in header_differences(wanted, covered_headers(seen.headers)):
                problem = HeaderProblem(path, name, want, got)
                if problem not in header_seen:
                    header_seen.add(problem)
                    report.headers.append(problem)
                bad.add(path)
    for ref, by in references:
        if ref not in doc.files and ref not in unlisted:
            unlisted.add(ref)
            report.uncovered.append((ref, by))
    for path in sorted(doc.files):
        if report.loads.get(path, 0) == 0 and path not in bad:
            report.missing.append((path, "never loaded"))
            bad.add(path)
    report.ok = [path for path in sorted(doc.files) if path not in bad]


# --------------------------------------------------------------------------
# audit


@dataclass
class AuditLine:
    manifest: crypto.Manifest
    accepted: str
    signers: list[str]
    previous: crypto.Manifest | None


@dataclass
class SiteAuditLine:
    issued: str
    manifest_version: int
    accepted: str
    signers: list[str]
    valid_now: bool


def _signers(manifest: crypto.Manifest, previous: crypto.Manifest | None) -> list[str]:
    keys = dict(manifest.admin_keys)
    if previous is not None:
        keys.update(previous.admin_keys)
    return sorted(crypto.dsse_check_signers(manifest.envelope, keys)[0])


def _claim(entry: Any, key: str) -> Any:
    if not isinstance(entry, Mapping) or key not in entry:
        raise TrustError(f"the server's audit log has an entry without {key!r}", None)
    return entry[key]


def audit(server: str, root: crypto.TrustRoot) -> tuple[list[AuditLine], list[SiteAuditLine]]:
    """The server's audit log, each claim checked against the signatures.

    Who signed each version is recomputed here from the chain (verified from
    the pinned root); a log that claims other signers, skips a version or
    names another digest is refused. Only `accepted` (the hour the server
    took it) rests on the server's word.
    """
    data = fetch_json(server, "/api/v1/manifests/audit")
    if not isinstance(data, dict):
        raise TrustError("the server's audit log is malformed", None)
    chain = data.get("chain")
    if not isinstance(chain, list) or not chain:
        raise TrustError("the server's audit log holds no chain", None)
    manifests = verify_chain_or_fail(chain, root)
    entries = data.get("manifests")
    if not isinstance(entries, list) or len(entries) != len(manifests):
        raise TrustError("the audit log does not list every manifest of the chain", None)
    lines: list[AuditLine] = []
    previous: crypto.Manifest | None = None
    for manifest, entry in zip(manifests, entries, strict=True):
        signers = _signers(manifest, previous)
        if (
            _claim(entry, "version") != manifest.version
            or _claim(entry, "digest") != crypto.b64e(manifest.digest)
            or _claim(entry, "signed_by") != signers
        ):
            raise TrustError(
                f"the audit log disagrees with the signed chain at version {manifest.version}",
                "do not trust this server's log; compare the chain with the admins",
            )
        accepted = _claim(entry, "accepted")
        lines.append(AuditLine(manifest, str(accepted), signers, previous))
        previous = manifest
    latest = manifests[-1]
    every_admin: dict[str, bytes] = {}
    for manifest in manifests:
        every_admin.update(manifest.admin_keys)
    sites: list[SiteAuditLine] = []
    raw_sites = data.get("site_documents")
    for entry in raw_sites if isinstance(raw_sites, list) else []:
        envelope = _claim(entry, "envelope")
        try:
            signers = sorted(crypto.dsse_check_signers(envelope, every_admin)[0])
            doc = parse_site(envelope)
        except crypto.IntakeCryptoError:
            raise TrustError("the audit log holds a malformed site document", None) from None
        if _claim(entry, "signed_by") != signers:
            raise TrustError(
                f"the audit log misstates who signed the site document of "
                f"{crypto.format_time(doc.issued)}",
                "do not trust this server's log",
            )
        valid_now = len(site_signers(envelope, latest)) >= latest.threshold
        sites.append(
            SiteAuditLine(
                crypto.format_time(doc.issued),
                doc.manifest_version,
                str(_claim(entry, "accepted")),
                signers,
                valid_now,
            )
        )
    return lines, sites


# --------------------------------------------------------------------------
# revocation report


@dataclass
class KidReport:
    kid: str
    status: str  # active | retired | revoked
    label: str
    submissions: list[dict[str, Any]] = field(default_factory=list)


def _labels(manifests: Sequence[crypto.Manifest]) -> dict[str, str]:
    """A verifier's label by kid, from any manifest of the chain (a revoked
    key is named by the manifests that listed it)."""
    labels: dict[str, str] = {}
    for manifest in manifests:
        for verifier in manifest.verifiers:
            labels[verifier.kid] = verifier.label
    return labels


def revocation_report(
    server: str,
    root: crypto.TrustRoot,
    courier: crypto.Identity,
    kids: Sequence[str],
) -> tuple[crypto.Manifest, list[KidReport]]:
    """Which held submissions are sealed to each of `kids` (default: every key
    that is no longer an active verifier), from the envelope headers the server
    reads for a signed courier request."""
    _, manifests = fetch_chain(server, root)
    latest = manifests[-1]
    path = "/api/v1/courier/recipients"
    if len(kids) == 1:
        path += "?kid=" + quote(kids[0], safe="")
    data = transport.json_answer(transport.request(server, "GET", path, signer=courier))
    submissions = data.get("submissions") if isinstance(data, dict) else None
    if not isinstance(submissions, list):
        raise ServerError("the server's recipients report is malformed", None)
    status = {v.kid: v.status for v in latest.verifiers}
    labels = _labels(manifests)
    by_kid: dict[str, KidReport] = {}

    def report_for(kid: str) -> KidReport:
        if kid not in by_kid:
            by_kid[kid] = KidReport(kid, status.get(kid, "revoked"), labels.get(kid, ""))
        return by_kid[kid]

    for kid in kids:
        report_for(kid)
    for submission in submissions:
        if not isinstance(submission, dict):
            continue
        sealed_to: set[str] = set()
        unreadable = False
        for envelope in submission.get("envelopes") or []:
            recipients = envelope.get("recipients") if isinstance(envelope, dict) else None
            if recipients is None:
                unreadable = True
                continue
            sealed_to.update(str(k) for k in recipients if isinstance(k, str))
        wanted = set(kids) if kids else {k for k in sealed_to if status.get(k) != "active"}
        for kid in sorted(wanted):
            if kid in sealed_to or unreadable:
                report_for(kid).submissions.append(submission)
    return latest, sorted(by_kid.values(), key=lambda r: (r.status, r.kid))


def report_json(reports: Sequence[KidReport]) -> str:
    return json.dumps(
        {
            "type": "intake/revocation-report",
            "kids": {
                r.kid: {
                    "status": r.status,
                    "label": r.label,
                    "submissions": [str(s.get("id")) for s in r.submissions],
                }
                for r in reports
            },
        },
        indent=2,
    )
