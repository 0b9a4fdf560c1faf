"""Turning a courier bundle into case folders, one verified submission at a time.

Every case is assembled in a staging folder inside OUT and renamed into place
only once all of its envelopes opened and every attachment matched its digest:
a tampered or truncated envelope leaves nothing behind. Follow-ups are placed
last, so one can be threaded into a submission that comes later in the same
bundle or was decrypted on an earlier day.
"""

from __future__ import annotations

import contextlib
import fcntl
import hashlib
import hmac
import io
import os
import re
import shutil
import tempfile
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import IO, Any, BinaryIO, cast

import crypto
from crypto.formdef import default_form, validate_form

from . import casefiles
from .casefiles import HEX32, AttachmentRecord, CaseRecord, CaseWarning, ContentError, clip
from .common import describe_crypto_error, now_utc, short_kid
from .hostile import attachment_flags, safe_filename, visible
from .report import ReportContext, warning, write_report

# A form is a few kilobytes of JSON; anything far larger is refused before
# decryption rather than held in memory.
MAX_FORM_ENVELOPE = 32 * 2**20
_BLOCK = 1 << 20
STAGING_PREFIX = ".staging-"
# Exactly the names tempfile.mkdtemp gives our staging folders, nothing else.
_STAGING_NAME = re.compile(re.escape(STAGING_PREFIX) + r"[a-z0-9_]{8}")


class CaseFailure(Exception):
    """This submission cannot be turned into a case; nothing of it is written."""


@dataclass
class Outcome:
    sid: str
    kind: str
    status: str  # ok, warnings, failed, exists, orphan
    detail: str = ""
    attachments: int = 0
    flagged: int = 0
    warnings: list[str] = field(default_factory=list)  # in English, shown safe
    thread: str | None = None

    @property
    def failed(self) -> bool:
        return self.status == "failed"

    @property
    def opened(self) -> bool:
        """Newly opened by this run (not failed, not already there)."""
        return self.status in ("ok", "warnings", "orphan")


@dataclass
class _PendingFollowup:
    record: CaseRecord
    staged: Path
    outcome: Outcome


def recipient_warnings(
    header: crypto.EnvelopeHeader, manifests: dict[int, crypto.Manifest]
) -> list[CaseWarning]:
    """Differences between who an envelope was sealed to and who it should have been.

    Applicant envelopes go to exactly the active verifiers of the manifest they
    name; anything else suggests a tampered page or server (PROTOCOL.md).
    """
    ref = header.manifest
    manifest = manifests.get(ref.version)
    if manifest is None:
        return [warning("manifest-not-in-chain", version=ref.version)]
    if not hmac.compare_digest(manifest.digest, ref.digest):
        return [warning("manifest-digest-differs", version=ref.version)]
    expected = {v.kid for v in manifest.active_verifiers()}
    actual = set(header.recipient_kids)
    found: list[CaseWarning] = []
    strangers = sorted(actual - expected)
    missing = sorted(expected - actual)
    if strangers:
        keys = [short_kid(k) for k in strangers]
        found.append(warning("sealed-to-strangers", version=ref.version, keys=keys))
    if missing:
        keys = [short_kid(k) for k in missing]
        found.append(warning("not-sealed-to-verifiers", version=ref.version, keys=keys))
    return found


def _attachment_name(ref: casefiles.AttachmentRef) -> str:
    """How a warning names an attachment: the applicant's file name (hostile), else its id."""
    return clip(ref.name) if ref.name else ref.id


def _whole_envelope_digest(src: IO[bytes]) -> bytes:
    """Version-1 meaning of an attachment digest: H(32, envelope bytes)."""
    src.seek(0)
    hasher = hashlib.blake2b(digest_size=32)
    while block := src.read(_BLOCK):
        hasher.update(block)
    return hasher.digest()


def _size(src: IO[bytes]) -> int:
    src.seek(0, io.SEEK_END)
    size = src.tell()
    src.seek(0)
    return size


def _dedupe(items: Iterable[CaseWarning]) -> list[CaseWarning]:
    kept: dict[str, CaseWarning] = {}
    for item in items:
        kept.setdefault(item.text, item)
    return list(kept.values())


def _lock_folder(path: Path) -> int | None:
    """An open, exclusively flock-ed descriptor of the folder `path`, or None if
    another process holds it (or it is not a real folder). The kernel drops the
    lock when its holder exits, however it exits."""
    try:
        fd = os.open(path, os.O_RDONLY | os.O_DIRECTORY | os.O_NOFOLLOW)
    except OSError:
        return None
    try:
        fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except OSError:
        os.close(fd)
        return None
    return fd


def remove_stale_staging(out: Path) -> int:
    """Remove the staging folders an interrupted decrypt left in `out`; how many.

    They hold plaintext that never became a case. Only folders named exactly as
    we name them, owned by us and not locked by a decrypt still running.
    """
    removed = 0
    for entry in os.scandir(out):
        if not _STAGING_NAME.fullmatch(entry.name) or not entry.is_dir(follow_symlinks=False):
            continue
        if entry.stat(follow_symlinks=False).st_uid != os.getuid():
            continue
        fd = _lock_folder(Path(entry.path))
        if fd is None:
            continue
        try:
            shutil.rmtree(entry.path)
            removed += 1
        finally:
            os.close(fd)
    return removed


def _locked_staging(out: Path) -> tuple[Path, int]:
    """A new staging folder in `out`, locked so another run's cleanup leaves it be."""
    while True:
        path = Path(tempfile.mkdtemp(prefix=STAGING_PREFIX, dir=out))
        fd = _lock_folder(path)
        if fd is not None and os.path.samestat(os.fstat(fd), os.lstat(path)):
            return path, fd
        if fd is not None:  # removed by a concurrent cleanup before we locked it
            os.close(fd)


class Decryptor:
    """Opens submissions into OUT; one instance per `decrypt` run."""

    def __init__(
        self,
        keyring: crypto.Keyring,
        out: Path,
        manifests: Sequence[crypto.Manifest],
        on_warning: Callable[[str], None],
        report: ReportContext | None = None,
    ) -> None:
        self.keyring = keyring
        self.report = report or ReportContext()
        self.out = out
        self.manifests = {m.version: m for m in manifests}
        self.on_warning = on_warning
        self.outcomes: list[Outcome] = []
        self.unopened_recipients: set[str] = set()
        self._staging, self._staging_lock = _locked_staging(out)
        self._pending: list[_PendingFollowup] = []
        self._reply_index: dict[bytes, str] = {}
        self._forms: dict[int, dict[str, Any]] | None = None  # by manifest version; 0: ours

    # -- per submission --------------------------------------------------

    def add(self, meta: Any, envelopes: Sequence[tuple[str, IO[bytes]]]) -> Outcome:
        sid = meta.get("id") if isinstance(meta, dict) else None
        shown = (
            sid if isinstance(sid, str) and HEX32.fullmatch(sid) else visible(str(sid), limit=32)
        )
        kind = meta.get("kind") if isinstance(meta, dict) else None
        outcome = Outcome(
            sid=shown, kind=kind if kind in ("submission", "followup") else "?", status="ok"
        )
        self.outcomes.append(outcome)
        try:
            record, staged = self._stage(meta, envelopes)
        except CaseFailure as exc:
            outcome.status, outcome.detail = "failed", str(exc)
            return outcome
        outcome.attachments = len(record.attachments)
        outcome.flagged = sum(1 for a in record.attachments if a.flags)
        outcome.warnings = [w.text for w in record.warnings]
        for said in outcome.warnings:
            self.on_warning(f"{shown}: {said}")
        if record.kind == "followup":
            self._pending.append(_PendingFollowup(record, staged, outcome))
            return outcome
        self._place(record, staged, self.out / record.id, outcome)
        if record.content.reply_x25519 is not None and outcome.status != "failed":
            self._reply_index.setdefault(record.content.reply_x25519, record.id)
        return outcome

    def _stage(
        self, meta: Any, envelopes: Sequence[tuple[str, IO[bytes]]]
    ) -> tuple[CaseRecord, Path]:
        if not isinstance(meta, dict):
            raise CaseFailure("the submission's meta.json is not an object")
        sid, kind = meta.get("id"), meta.get("kind")
        if not isinstance(sid, str) or not HEX32.fullmatch(sid):
            raise CaseFailure("the submission id is not 32 lowercase hex digits")
        if kind not in ("submission", "followup"):
            raise CaseFailure("the submission kind is neither submission nor followup")
        by_id: dict[str, IO[bytes]] = {}
        for eid, src in envelopes:
            if eid in by_id:
                raise CaseFailure(f"envelope {visible(eid, limit=40)} appears twice")
            by_id[eid] = src
        form = by_id.get("form")
        if form is None:
            raise CaseFailure("the submission has no form envelope")
        staged = self._staging / sid
        try:
            staged.mkdir(mode=0o700)
        except FileExistsError:
            raise CaseFailure("the submission appears twice in the bundle") from None
        try:
            record = self._open_all(sid, kind, meta, form, by_id, staged)
            if kind == "submission":
                self._write(staged, record, self.out / sid)
        except BaseException:
            shutil.rmtree(staged, ignore_errors=True)
            raise
        return record, staged

    def _open(self, what: str, src: IO[bytes], dst: IO[bytes]) -> crypto.Opened:
        src.seek(0)
        try:
            return crypto.open_envelope(cast(BinaryIO, src), cast(BinaryIO, dst), self.keyring)
        except crypto.IntakeCryptoError as exc:
            raise self._failure(what, exc) from None

    def _open_to(self, what: str, src: IO[bytes], dest: Path) -> crypto.Opened:
        """Decrypt straight into `dest` inside the staging folder (no spool, no copy):
        it appears there, fsynced, only once the whole envelope verified."""
        src.seek(0)
        try:
            return crypto.open_to_path(cast(BinaryIO, src), dest, self.keyring)
        except crypto.IntakeCryptoError as exc:
            raise self._failure(what, exc) from None

    def _failure(self, what: str, exc: crypto.IntakeCryptoError) -> CaseFailure:
        """A failed open, in words, as this submission's failure."""
        if isinstance(exc, crypto.NoMatchingKey):
            self.unopened_recipients.update(exc.recipients)
            sealed_to = ", ".join(short_kid(k) for k in exc.recipients)
            return CaseFailure(f"{what}: no key in the keyring opens it (sealed to {sealed_to})")
        message, _hint = describe_crypto_error(exc)
        return CaseFailure(f"{what}: {message}")

    def _open_all(
        self,
        sid: str,
        kind: str,
        meta: dict[str, Any],
        form: IO[bytes],
        by_id: dict[str, IO[bytes]],
        staged: Path,
    ) -> CaseRecord:
        if _size(form) > MAX_FORM_ENVELOPE:
            raise CaseFailure("the form envelope is implausibly large; refused unopened")
        plain = io.BytesIO()
        opened = self._open("form", form, plain)
        header = opened.header
        if header.kind != kind:
            raise CaseFailure(
                f"the form envelope is a {visible(header.kind, limit=20)} "
                f"but the server filed it as a {kind}"
            )
        try:
            content = casefiles.parse_content(plain.getvalue())
        except ContentError as exc:
            raise CaseFailure(f"form: {exc}") from None
        finally:
            plain.seek(0)
            plain.truncate()
        warnings = [warning(code, **params) for code, params in content.notes]
        form_recipients = recipient_warnings(header, self.manifests)
        warnings += form_recipients
        envelopes = [self._envelope_record("form", opened)]
        records: list[AttachmentRecord] = []
        if content.attachments:
            (staged / "attachments").mkdir(mode=0o700)
        taken: set[str] = set()
        for ref in content.attachments:
            src = by_id.get(ref.id)
            if src is None:
                raise CaseFailure(
                    f"attachment {ref.id} named in the form is missing from the bundle"
                )
            name = safe_filename(ref.name, taken)
            dest = staged / "attachments" / name
            att = self._open_to(f"attachment {ref.id}", src, dest)
            if att.header.kind != "attachment":
                raise CaseFailure(f"attachment {ref.id} is not an attachment envelope")
            # v2 names an attachment by its payload digest (stable under
            # rewrap); v1 by the digest of the whole envelope.
            actual = att.payload_digest if header.v >= 2 else _whole_envelope_digest(src)
            if not hmac.compare_digest(actual, ref.digest):
                raise CaseFailure(
                    f"attachment {ref.id} does not match the digest in the form "
                    "(swapped, reused or altered)"
                )
            # An attachment sealed as oddly as the form adds nothing to the form's
            # warning; one sealed otherwise is named.
            warnings += [
                warning(w.code, **w.params, file=_attachment_name(ref))
                for w in recipient_warnings(att.header, self.manifests)
                if w.text not in {f.text for f in form_recipients}
            ]
            if ref.size is not None and ref.size != att.size:
                warnings.append(
                    warning(
                        "attachment-size",
                        file=_attachment_name(ref),
                        claimed=ref.size,
                        actual=att.size,
                    )
                )
            with dest.open("rb") as check:
                head = check.read(512)
            records.append(
                AttachmentRecord(
                    ref=ref,
                    file=f"attachments/{name}",
                    size=att.size,
                    payload_digest=att.payload_digest,
                    flags=attachment_flags(name, head),
                )
            )
            envelopes.append(self._envelope_record(ref.id, att))
        unnamed = sorted(set(by_id) - {"form"} - {r.id for r in content.attachments})
        if unnamed:
            warnings.append(warning("unnamed-envelopes", count=len(unnamed)))
        names = {ref.id: _attachment_name(ref) for ref in content.attachments}
        warnings += self._meta_mismatches(meta, envelopes, names)
        definition = self._form_definition(header.manifest.version, content)
        return CaseRecord(
            id=sid,
            kind=kind,
            received=visible(str(meta.get("received", "")), limit=40),
            decrypted=crypto.format_time(now_utc()),
            envelope_version=header.v,
            manifest_version=header.manifest.version,
            manifest_digest=header.manifest.digest,
            opened_by=opened.opened_by.kid,
            content=content,
            envelopes=envelopes,
            attachments=records,
            warnings=_dedupe(warnings),
            form_definition=definition,
            report_lang=self.report.lang,
        )

    def _form_definition(
        self, manifest_version: int, content: casefiles.Content
    ) -> dict[str, Any] | None:
        """The signed definition of the form the content names, to keep beside the
        case: from the verified manifest the envelope was sealed under, else another
        of the chain. None if it is the form this tool ships with (the report reads
        that one from the tool) or if no form carries that id and version (the
        report then shows field ids)."""
        if self._forms is None:
            self._forms = {}
            for version, manifest in self.manifests.items():
                form = manifest.data.get("form")
                try:
                    validate_form(form)
                except ValueError:
                    continue
                self._forms[version] = cast(dict[str, Any], form)
            self._forms[0] = default_form()
        wanted = (content.form_id, content.form_version)
        order = [manifest_version, *sorted(self._forms, reverse=True)]
        for version in order:
            form = self._forms.get(version)
            if form is not None and (form["id"], str(form["version"])) == wanted:
                # The shipped form is not copied into every case (one file and one
                # fsync less per case): the report finds it in the tool itself.
                return None if form == self._forms[0] else form
        return None

    def _write(self, staged: Path, record: CaseRecord, final: Path) -> None:
        """The case's files and its report, which names `final` (where it will live)."""
        casefiles.write_case_files(staged, record)
        write_report(staged, replace(self.report, case_path=final), fresh=True)

    @staticmethod
    def _envelope_record(eid: str, opened: crypto.Opened) -> dict[str, Any]:
        return {
            "id": eid,
            "kind": opened.header.kind,
            "v": opened.header.v,
            "payload_digest": crypto.b64e(opened.payload_digest),
            "size": opened.size,
            "recipients": list(opened.header.recipient_kids),
        }

    @staticmethod
    def _meta_mismatches(
        meta: dict[str, Any], envelopes: list[dict[str, Any]], names: dict[str, str]
    ) -> list[CaseWarning]:
        """The server's bookkeeping against what we opened (a hint of tampering, not proof).
        `names`: how warnings name each attachment, by envelope id."""
        listed = meta.get("envelopes")
        if not isinstance(listed, list):
            return []
        claimed = {e.get("id"): e.get("digest") for e in listed if isinstance(e, dict)}
        return [
            warning("form-digest-differs")
            if e["id"] == "form"
            else warning("attachment-digest-differs", file=names.get(e["id"], e["id"]))
            for e in envelopes
            if isinstance(claimed.get(e["id"]), str) and claimed[e["id"]] != e["payload_digest"]
        ]

    # -- placing ----------------------------------------------------------

    def _place(self, record: CaseRecord, staged: Path, target: Path, outcome: Outcome) -> None:
        if target.exists() or target.is_symlink():
            shutil.rmtree(staged, ignore_errors=True)
            outcome.status, outcome.detail = "exists", f"already in {target}; left unchanged"
            return
        os.rename(staged, target)
        outcome.status = "warnings" if record.warnings else "ok"
        outcome.detail = str(target)

    def finish(self) -> None:
        """Thread the follow-ups into their cases, then drop the staging folder."""
        try:
            if self._pending:
                self._index_existing_cases()
            for pending in self._pending:
                self._place_followup(pending)
        finally:
            self.abandon()

    def abandon(self) -> None:
        """Drop the staging folder (and whatever it still holds), then its lock."""
        shutil.rmtree(self._staging, ignore_errors=True)
        if self._staging_lock >= 0:
            os.close(self._staging_lock)
            self._staging_lock = -1

    def _index_existing_cases(self) -> None:
        for folder in sorted(self.out.iterdir()):
            if folder.name.startswith(".") or folder.is_symlink() or not folder.is_dir():
                continue
            doc = casefiles.read_case(folder)
            if doc is None or doc.get("kind") != "submission" or doc.get("id") != folder.name:
                continue
            reply = doc.get("reply")
            with contextlib.suppress(TypeError, KeyError, ValueError):
                key = crypto.b64d(reply["x25519"]) if isinstance(reply, dict) else b""
                if len(key) == 32:
                    self._reply_index.setdefault(key, folder.name)

    def _place_followup(self, pending: _PendingFollowup) -> None:
        record, outcome = pending.record, pending.outcome
        key = record.content.reply_x25519
        parent = self._reply_index.get(key) if key is not None else None
        try:
            if parent is None:
                orphan = warning("orphan-followup")
                record.warnings.append(orphan)
                outcome.warnings.append(orphan.text)
                self._write(pending.staged, record, self.out / record.id)
                self._place(record, pending.staged, self.out / record.id, outcome)
                if outcome.status != "exists":
                    outcome.status = "orphan"
                return
            record.thread = parent
            followups = self.out / parent / "followups"
            self._write(pending.staged, record, followups / record.id)
            followups.mkdir(mode=0o700, exist_ok=True)
            self._place(record, pending.staged, followups / record.id, outcome)
            outcome.thread = parent
            if outcome.status in ("ok", "warnings"):
                parent_doc = casefiles.read_case(self.out / parent)
                if parent_doc is not None:
                    listed = parent_doc.get("followups")
                    listed = listed if isinstance(listed, list) else []
                    parent_doc["followups"] = [*listed, record.id]
                    casefiles.replace_case_json(self.out / parent, parent_doc)
                    # The case's report now shows the follow-up in its conversation.
                    write_report(
                        self.out / parent, replace(self.report, case_path=self.out / parent)
                    )
        except OSError as exc:
            shutil.rmtree(pending.staged, ignore_errors=True)
            outcome.status, outcome.detail = (
                "failed",
                f"could not write the follow-up: {exc.strerror}",
            )
