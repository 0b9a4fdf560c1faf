"""Typed failures of the protocol core.

Every failed open or verification raises one of a few detail-free exceptions
carrying a *failure class* of PROTOCOL.md (``reason``), so the tools can say
why something failed without the message becoming an oracle. Misuse of the
API (wrong types, impossible arguments) raises ``TypeError`` / ``ValueError``
instead, never these.
"""

from __future__ import annotations

from datetime import datetime

ENVELOPE_REASONS = frozenset(
    {"malformed", "no-match", "header-mac", "payload", "truncated", "trailing-data", "padding"}
)
SIGNATURE_REASONS = frozenset(
    {"bad-signature", "threshold", "rollback", "untrusted-root", "malformed", "expired"}
)


class IntakeCryptoError(Exception):
    """Base of every protocol failure; ``reason`` is a PROTOCOL.md failure class."""

    allowed: frozenset[str] = frozenset()

    def __init__(self, reason: str) -> None:
        if self.allowed and reason not in self.allowed:
            raise ValueError(f"{type(self).__name__} cannot carry reason {reason!r}")
        # The message is the class only: no offsets, no key ids, no plaintext.
        super().__init__(reason)
        self.reason = reason


class InvalidEnvelope(IntakeCryptoError):
    """An envelope (or a bundle that carries envelopes) failed to parse or open."""

    allowed = ENVELOPE_REASONS


class NoMatchingKey(InvalidEnvelope):
    """No key of the keyring opens any ``sealed`` entry: callers branch on this to hint."""

    def __init__(self, recipients: list[str]) -> None:
        super().__init__("no-match")
        self.recipients = list(recipients)


class UnsupportedCpu(IntakeCryptoError):
    """This machine cannot open the envelope: not a fault of the envelope.

    Envelope version 4 (sealed by a browser without WebAssembly) is
    AES-256-GCM, which libsodium runs only on CPUs with AES instructions (AES-NI
    on x86, the ARMv8 crypto extensions on ARM). Raised after the header MAC
    verified and before any payload byte is decrypted; the envelope opens on a
    laptop whose CPU has them.
    """

    allowed = frozenset({"unsupported-cpu"})

    def __init__(self, reason: str = "unsupported-cpu") -> None:
        super().__init__(reason)


class InvalidSignature(IntakeCryptoError):
    """A DSSE document, manifest chain, reply, receipt or request did not verify."""

    allowed = SIGNATURE_REASONS


class ManifestExpired(InvalidSignature):
    """The latest manifest of a chain has expired: it is refused, not used."""

    def __init__(self, expires: datetime) -> None:
        super().__init__("expired")
        self.expires = expires


class WrongPassphrase(IntakeCryptoError):
    """A key file's box does not open under the passphrase given."""

    allowed = frozenset({"wrong-passphrase"})

    def __init__(self, reason: str = "wrong-passphrase") -> None:
        super().__init__(reason)


class InvalidKeyFile(IntakeCryptoError):
    """A key file is malformed or its KDF cost lies outside the v2 bounds."""

    allowed = frozenset({"malformed"})

    def __init__(self, reason: str = "malformed") -> None:
        super().__init__(reason)
