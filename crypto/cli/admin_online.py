"""The admin tool's online side: what it asks a server, and how it checks the answers.

Everything a server says is hostile until verified against the pinned trust
root: the chain is walked from genesis, the site document's signatures are
checked under the latest manifest, the audit log's claims of who signed are
recomputed from the signatures themselves. Standard library HTTP only
(`transport`), so this runs from any outside machine.
"""

from __future__ import annotations

import datetime as dt
import hmac
import json
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import quote

import crypto
from crypto.site import (
    MAX_FILES,
    SITE_TYPE,
    build_site_payload,
    file_digest,
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
# Crawling the applicant's pages


@dataclass
class Crawl:
    """What the pages load, path by path, and the bytes served for each."""

    files: dict[str, bytes] = field(default_factory=dict)
    pages: list[str] = field(default_factory=list)
    skipped: list[tuple[str, str]] = field(default_factory=list)


def _is_html(answer: transport.Answer) -> bool:
    return answer.headers.get_content_type() == "text/html"


def _references(path: str, answer: transport.Answer) -> tuple[list[str], list[str]]:
    """(files, pages) a served page or script names."""
    if _is_html(answer):
        html = answer.body.decode("utf-8", errors="replace")
        return page_references(html, path), page_links(html, path)
    if path.split("?", 1)[0].endswith(_SCRIPT_SUFFIXES):
        return module_references(answer.body.decode("utf-8", errors="replace"), path), []
    return [], []


def crawl(server: str, pages: Iterable[str], files: Iterable[str]) -> Crawl:
    """Fetch each page (and every same-origin page it links to), then every file
    the pages and scripts load. A page that is missing is skipped and noted; a
    file a page loads that is missing is an error (the page is broken)."""
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
            try:
                answer = transport.request(origin, "GET", path)
            except ServerError as exc:
                result.skipped.append((path, exc.message))
                continue
            result.pages.append(path)
        else:
            path = file_queue.pop(0)
            if path in result.files:
                continue
            answer = transport.request(origin, "GET", path)
        result.files[path] = answer.body
        found, links = _references(path, answer)
        file_queue.extend(ref for ref in found if ref not in result.files)
        page_queue.extend(link for link in links if link not in seen_pages)
    return result


def site_draft(
    server: str, root: crypto.TrustRoot, pages: Sequence[str], files: Sequence[str]
) -> tuple[dict[str, Any], Crawl, crypto.Manifest]:
    """An unsigned site document for what `server` serves now."""
    _, manifests = fetch_chain(server, root)
    latest = manifests[-1]
    found = crawl(server, [*DEFAULT_PAGES, *pages], files)
    if not found.pages:
        raise ServerError("none of the pages could be fetched", "check the server URL")
    payload = build_site_payload(
        manifest_version=latest.version,
        issued=now_utc(),
        files={path: file_digest(body) for path, body in found.files.items()},
    )
    return crypto.dsse_sign(SITE_TYPE, payload, []), found, latest


# --------------------------------------------------------------------------
# check-site


@dataclass
class SiteCheck:
    manifest: crypto.Manifest
    issued: dt.datetime
    ok: list[str] = field(default_factory=list)
    changed: list[tuple[str, int, bytes, bytes]] = field(default_factory=list)
    missing: list[tuple[str, str]] = field(default_factory=list)
    uncovered: list[tuple[str, str]] = field(default_factory=list)

    @property
    def failed(self) -> bool:
        return bool(self.changed or self.missing or self.uncovered)


def check_site(server: str, root: crypto.TrustRoot) -> SiteCheck:
    """Fetch the chain and the signed site document, verify both, then fetch
    every listed file live and compare it, byte for byte, with its digest.

    Also reports any file a live page or script loads that the document does
    not list: an unsigned file would be an unchecked one.
    """
    _, manifests = fetch_chain(server, root)
    latest = manifests[-1]
    data = fetch_json(server, "/api/v1/site")
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
    origin = origin_of(server)
    report = SiteCheck(latest, doc.issued)
    for path, expected in sorted(doc.files.items()):
        try:
            answer = transport.request(origin, "GET", path)
        except ServerError as exc:
            report.missing.append((path, exc.message))
            continue
        actual = file_digest(answer.body)
        if not hmac.compare_digest(actual, expected):
            report.changed.append((path, len(answer.body), expected, actual))
            continue
        report.ok.append(path)
        found, _links = _references(path, answer)
        for ref in found:
            if ref not in doc.files:
                report.uncovered.append((ref, path))
    return report


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
