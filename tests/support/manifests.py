"""Manifests no tool would draft, built by hand for the tests that need one."""

from __future__ import annotations

from datetime import datetime

import crypto


def redated_payload(
    manifest: crypto.Manifest, *, version: int, issued: datetime, expires: datetime
) -> bytes:
    """The payload of `manifest` (the same organisation, keys and form) under
    another version and dates, ready to be signed."""
    return crypto.build_manifest_payload(
        version=version,
        issued=issued,
        expires=expires,
        org=manifest.data["org"],
        threshold=manifest.threshold,
        admins=manifest.admins,
        verifiers=manifest.verifiers,
        couriers=manifest.couriers,
        extra={"form": manifest.data["form"]},
    )
