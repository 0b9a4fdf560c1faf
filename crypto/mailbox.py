"""The applicant's mailbox: reply keys and a token derived from a codename.

The codename carries >= 96 bits of entropy, so a fast keyed BLAKE2b is enough
(no password hash, which would be unbearable in a browser without
WebAssembly). Normalisation is fixed character by character in PROTOCOL.md
v2 because JavaScript and Python disagree on what "white space" is.
"""

from __future__ import annotations

import re
import unicodedata
from dataclasses import dataclass, field

from crypto import _sodium
from crypto.encoding import blake2b
from crypto.envelope import _open_with_x25519
from crypto.errors import InvalidEnvelope

_SALT_LABEL = b"intake/v1/mailbox-salt"
# PROTOCOL.md v2 step 4, exactly: not str.split()'s notion of white space.
_SPACE_RUN = re.compile(
    "[\u0009-\u000d\u0020\u0085\u00a0\u1680\u2000-\u200a\u2028\u2029\u202f\u205f\u3000]+"
)


@dataclass(frozen=True)
class MailboxKeys:
    reply_public: bytes
    reply_secret: bytes = field(repr=False)
    token: bytes = field(repr=False)
    mailbox_id: str


def normalise_codename(text: str) -> str:
    """NFKC, lower-case, ``ё`` -> ``е``, split on the listed spaces, join with one space."""
    if not isinstance(text, str):
        raise TypeError("codename must be a string")
    text = unicodedata.normalize("NFKC", text).lower().replace("\u0451", "\u0435")
    return " ".join(piece for piece in _SPACE_RUN.split(text) if piece)


def derive_mailbox(codename: str, genesis_payload: bytes) -> MailboxKeys:
    """Reply key pair, token and mailbox id for ``codename`` under this deployment.

    The salt binds the mailbox to the deployment's genesis manifest, so the
    same codename names unrelated mailboxes on different deployments.
    """
    normalised = normalise_codename(codename)
    if not normalised:
        raise ValueError("empty codename")
    salt = blake2b(32, _SALT_LABEL + blake2b(32, genesis_payload))
    seed = blake2b(64, normalised.encode("utf-8"), key=salt)
    public, secret = _sodium.box_seed_keypair(seed[:32])
    token = seed[32:]
    return MailboxKeys(
        reply_public=public,
        reply_secret=secret,
        token=token,
        mailbox_id=blake2b(32, token).hex(),
    )


def mailbox_id_for_token(token: bytes) -> str:
    """``hex(H(32, token))``: what the server stores and looks up."""
    if not isinstance(token, bytes) or len(token) != 32:
        raise ValueError("a mailbox token is 32 bytes")
    return blake2b(32, token).hex()


def open_reply(envelope_bytes: bytes, reply_secret: bytes, reply_public: bytes) -> bytes:
    """Open a reply envelope with the applicant's reply key; content only once verified.

    Refuses envelopes of any other kind (``malformed``): a reply key opens replies.
    """
    if len(reply_secret) != 32 or len(reply_public) != 32:
        raise ValueError("reply keys are 32 bytes")
    header, content = _open_with_x25519(envelope_bytes, reply_public, reply_secret)
    if header.kind != "reply":
        raise InvalidEnvelope("malformed")
    return content
