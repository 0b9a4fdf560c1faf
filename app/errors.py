"""Domain errors. Services raise these; `app.main` turns them into HTTP answers.

Every error becomes `{"error": {"code", "message", "detail"}}` with the status
below. Messages are fixed strings: nothing a client sent is echoed back except
through `detail`, which holds only values the server chose (offsets, limits).
"""

from __future__ import annotations

from typing import Any, ClassVar


class IntakeError(Exception):
    """Base of every error the server reports to a client."""

    status: ClassVar[int] = 400
    code: ClassVar[str] = "bad-request"
    message: ClassVar[str] = "The request was refused."

    def __init__(self, message: str | None = None, **detail: Any) -> None:
        self.text = message or self.message
        self.detail = detail
        super().__init__(self.text)


# 400/422: the request is malformed or breaks a rule.
class InvalidRequest(IntakeError):
    status = 422
    code = "invalid-request"
    message = "The request body is not valid."


class JsonTooDeep(InvalidRequest):
    """Refused before parsing: the parser recurses once per level."""

    code = "json-too-deep"
    message = "The body nests arrays and objects too deeply."


class LimitExceeded(IntakeError):
    status = 422
    code = "limit-exceeded"
    message = "The submission exceeds a size or count limit."


class EnvelopeRejected(IntakeError):
    """An uploaded envelope is not well formed; its bytes were discarded."""

    status = 422
    code = "envelope-invalid"
    message = "The envelope is not well formed."


class ManifestUnknown(EnvelopeRejected):
    code = "manifest-unknown"
    message = "The envelope names a manifest this server does not hold."


class ManifestSuperseded(EnvelopeRejected):
    code = "manifest-superseded"
    message = "The envelope names a manifest that has been replaced; seal it again."


class RecipientsMismatch(EnvelopeRejected):
    code = "recipients-mismatch"
    message = "The envelope's recipients are not exactly the manifest's active verifiers."


class ManifestRejected(IntakeError):
    """A posted manifest does not verify; `code` carries the failure class."""

    status = 422
    code = "manifest-rejected"
    message = "The manifest does not verify."

    def __init__(self, reason: str, message: str | None = None) -> None:
        super().__init__(message or f"The manifest does not verify ({reason}).", reason=reason)
        self.reason = reason


class ManifestConflict(IntakeError):
    status = 409
    code = "manifest-conflict"
    message = "Another manifest with this version was accepted first."


class TrustRootMissing(IntakeError):
    status = 503
    code = "trust-root-missing"
    message = (
        "The server has no pinned trust root (INTAKE_TRUST_ROOT); "
        "it cannot accept a genesis manifest."
    )


class ServerBusy(IntakeError):
    """Every database connection is in use, or SQLite's write lock stayed
    taken past its wait: an overload, answered like one (503, Retry-After)
    rather than as a failure."""

    status = 503
    code = "server-busy"
    message = "The server is busy. Nothing was lost; try again in a moment."
    headers: ClassVar[dict[str, str]] = {"Retry-After": "2"}


class NoManifest(IntakeError):
    status = 503
    code = "no-manifest"
    message = "The server holds no key manifest yet."


# Upload protocol.
class NotFound(IntakeError):
    status = 404
    code = "not-found"
    message = "Not found."


class OffsetMismatch(IntakeError):
    status = 409
    code = "upload-offset-mismatch"
    message = "The offset does not match the bytes the server holds."

    def __init__(self, offset: int) -> None:
        super().__init__(offset=offset)
        self.offset = offset


class UploadBusy(IntakeError):
    status = 409
    code = "upload-busy"
    message = "Another upload to this envelope is in progress."


class UploadClosed(IntakeError):
    status = 409
    code = "upload-closed"
    message = "This submission or envelope is already complete."


class UploadTooLarge(IntakeError):
    status = 413
    code = "upload-too-large"
    message = "The body is larger than the envelope's declared size."


class SubmissionIncomplete(IntakeError):
    status = 409
    code = "submission-incomplete"
    message = "Not every envelope of this submission is complete."


class UnsupportedMediaType(IntakeError):
    status = 415
    code = "unsupported-media-type"
    message = "Upload bodies must be application/octet-stream."


class InsufficientStorage(IntakeError):
    status = 507
    code = "insufficient-storage"
    message = "The server is short of disk space; try again later."


# Abuse controls.
class RateLimited(IntakeError):
    status = 429
    code = "rate-limited"
    message = "Too many requests; try again shortly."


class PowRequired(IntakeError):
    status = 403
    code = "pow-required"
    message = "A proof of work is required."


class PowInvalid(IntakeError):
    status = 403
    code = "pow-invalid"
    message = "The proof of work is not valid or has expired."


class PowReused(IntakeError):
    status = 403
    code = "pow-reused"
    message = "This proof-of-work challenge was already used."


# Couriers.
class Unauthorized(IntakeError):
    status = 401
    code = "unauthorized"
    message = "The request signature is missing or does not verify."


class ReplayedRequest(Unauthorized):
    code = "replayed-request"
    message = "This request signature was already used."


class ReceiptRejected(IntakeError):
    status = 422
    code = "receipt-invalid"
    message = "A receipt does not verify; none were applied."


class ReplyRejected(IntakeError):
    status = 422
    code = "reply-invalid"
    message = "A reply does not verify; none were stored."


class RewrapRejected(IntakeError):
    status = 422
    code = "rewrap-invalid"
    message = "A rewrap is not acceptable; none were applied."
