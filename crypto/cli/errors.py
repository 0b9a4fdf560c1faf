"""Expected failures of the tools, and the two lines they become at the edge.

Expected failures are `ToolError`s raised anywhere below the commands and
turned into two lines by `ToolGroup.invoke`:

    intake-verifier: error: <what went wrong>
    intake-verifier: hint: <what to try>

so a verifier never sees a traceback for a wrong passphrase or a damaged
bundle, and the message never carries key material.
"""

from __future__ import annotations

import errno
import sys
from typing import IO, Any

import click

import crypto
from crypto.encoding import is_kid

from .hostile import visible

# The name of an environment variable (named in hints), not a secret.
PASSPHRASE_ENV = "INTAKE_PASSPHRASE"  # noqa: S105  # nosec B105


class ToolError(Exception):
    """An expected failure: shown as one error line and an optional hint, exit 1."""

    def __init__(self, message: str, hint: str | None = None) -> None:
        super().__init__(message)
        self.message = message
        self.hint = hint


class InputError(ToolError):
    """A file or argument we were given is missing, unreadable or malformed."""


class KeyFileError(ToolError):
    """A key file does not open, is of the wrong kind, or cannot be written."""


class TrustError(ToolError):
    """A manifest chain, signature or trust root fails to verify."""


class ServerError(ToolError):
    """The server could not be reached or refused a request (online tools only)."""


class PartialFailure(ToolError):
    """Some items failed; the summary already listed them."""


SIGNATURE_REASONS = {
    "bad-signature": "a signature does not verify",
    "threshold": "too few distinct valid admin signatures",
    "rollback": "manifest versions do not increase",
    "untrusted-root": "the genesis manifest does not match the pinned trust root",
    "malformed": "a manifest or signed document is malformed",
}
_ENVELOPE_REASONS = {
    "malformed": "malformed (bad magic, lengths, JSON, fields or bounds)",
    "header-mac": "header authentication failed (tampered or corrupted header)",
    "payload": "payload authentication failed (tampered or corrupted content)",
    "truncated": "truncated (the stream ends early)",
    "trailing-data": "extra bytes after the end of the stream",
    "padding": "bad padding (tampered or corrupted content)",
}


def short_kid(kid: str) -> str:
    """The first two groups of a kid, enough to tell keys apart in a table."""
    return crypto.fingerprint(kid)[:9] + "…" if is_kid(kid) else visible(kid, limit=12)


def describe_crypto_error(exc: crypto.IntakeCryptoError) -> tuple[str, str | None]:
    """One line and a hint for a failure of the crypto package (no secrets in either)."""
    if isinstance(exc, crypto.WrongPassphrase):
        return (
            "the key file does not open with this passphrase",
            f"check the passphrase (or the {PASSPHRASE_ENV} variable)",
        )
    if isinstance(exc, crypto.InvalidKeyFile):
        return (
            "the key file is malformed or its cost parameters are out of bounds",
            "a weakened key file may have been tampered with; use a backup copy",
        )
    if isinstance(exc, crypto.NoMatchingKey):
        sealed_to = ", ".join(short_kid(k) for k in exc.recipients) or "nobody"
        return (
            "no key in the keyring opens this envelope",
            f"it was sealed to {sealed_to}; was that key retired, or is the keyring incomplete?",
        )
    if isinstance(exc, crypto.ManifestExpired):
        return (
            f"the newest manifest expired on {crypto.format_time(exc.expires)}",
            "ask the admins for a renewed manifest (intake-admin renew) and use the new chain",
        )
    if isinstance(exc, crypto.InvalidSignature):
        return (
            SIGNATURE_REASONS.get(exc.reason, f"verification failed ({exc.reason})"),
            "do not trust this file; get the chain again from a trusted source",
        )
    if isinstance(exc, crypto.UnsupportedCpu):
        return (
            "this envelope (version 4, sealed by a browser without WebAssembly) is "
            "AES-256-GCM, which needs a CPU with AES instructions (AES-NI or ARMv8 "
            "crypto); this laptop's CPU has none, so nothing was decrypted: open it "
            "on another laptop",
            "one whose CPU has AES-NI (x86) or the ARMv8 crypto extensions "
            "(on Linux, `grep -m1 -ow aes /proc/cpuinfo` prints aes); cases from "
            "browsers with WebAssembly (version 3) open here as before",
        )
    if isinstance(exc, crypto.InvalidEnvelope):
        return (
            "envelope " + _ENVELOPE_REASONS.get(exc.reason, exc.reason),
            "the bundle may be damaged or tampered with; pull it again",
        )
    return (f"crypto failure ({exc.reason})", None)


class ToolFailure(click.ClickException):
    """Carries a ToolError through Click so it prints in our two-line form."""

    def __init__(self, prog: str, message: str, hint: str | None) -> None:
        super().__init__(message)
        self.prog = prog
        self.hint = hint

    def show(self, file: IO[Any] | None = None) -> None:
        stream = file if file is not None else sys.stderr
        click.echo(f"{self.prog}: error: {visible(self.message)}", file=stream)
        if self.hint:
            click.echo(f"{self.prog}: hint: {visible(self.hint)}", file=stream)


class ToolUsageError(click.UsageError):
    """A mistake on the command line, in the same two-line form (exit 2, as Click does)."""

    def __init__(self, prog: str, original: click.UsageError) -> None:
        super().__init__(original.format_message(), original.ctx)
        self.prog = prog

    def show(self, file: IO[Any] | None = None) -> None:
        stream = file if file is not None else sys.stderr
        where = self.ctx.command_path if self.ctx is not None else self.prog
        click.echo(f"{self.prog}: error: {self.format_message()}", file=stream)
        click.echo(f"{self.prog}: hint: see '{where} --help'", file=stream)


class ToolGroup(click.Group):
    """A Click group whose expected failures print `prog: error:` / `prog: hint:`."""

    def __init__(self, *args: Any, prog: str, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.prog = prog

    def invoke(self, ctx: click.Context) -> Any:
        try:
            return super().invoke(ctx)
        except ToolUsageError:
            raise
        except click.UsageError as exc:
            raise ToolUsageError(self.prog, exc) from None
        except ToolError as exc:
            raise ToolFailure(self.prog, exc.message, exc.hint) from None
        except crypto.IntakeCryptoError as exc:
            message, hint = describe_crypto_error(exc)
            raise ToolFailure(self.prog, message, hint) from None
        except (FileNotFoundError, IsADirectoryError, NotADirectoryError, PermissionError) as exc:
            where = f"{exc.filename}: " if exc.filename else ""
            raise ToolFailure(
                self.prog, f"{where}{exc.strerror or exc}", "check the path and permissions"
            ) from None
        except OSError as exc:
            if exc.errno == errno.EPIPE:
                raise
            where = f"{exc.filename}: " if exc.filename else ""
            raise ToolFailure(
                self.prog,
                f"{where}{exc.strerror or exc}",
                "check the path, its permissions and the free space on that disk",
            ) from None
        except click.Abort:
            # Ctrl-C or Ctrl-D at a prompt: one form for every exit of the tool.
            raise ToolFailure(
                self.prog,
                "no passphrase or answer given",
                "type it at the prompt, or set INTAKE_PASSPHRASE for scripts",
            ) from None
