"""Errors of the manifests domain beyond app.errors: site documents.

Like every `IntakeError`, `app.main` turns them into the one JSON error shape.
"""

from __future__ import annotations

from app.errors import IntakeError


class SiteRejected(IntakeError):
    """A posted site document does not verify; `reason` is the failure class."""

    status = 422
    code = "site-rejected"
    message = "The site document does not verify."

    def __init__(self, reason: str) -> None:
        super().__init__(f"The site document does not verify ({reason}).", reason=reason)
        self.reason = reason


class SiteStale(IntakeError):
    """Anyone may post a signed document (there are no credentials), so an old
    one re-posted must not replace a newer one."""

    status = 409
    code = "site-stale"
    message = "A site document issued at the same time or later is already held."


class NoSiteDocument(IntakeError):
    status = 404
    code = "no-site-document"
    message = "The server holds no signed site document yet."
