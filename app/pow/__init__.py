"""Proof of work for creating submissions (issue 5).

A challenge is stateless: `v1.<id>.<expires>.<bits>.<mac>`, with
`mac = HMAC-SHA256(pow_secret, "intake/pow/v1|" id "." expires "." bits)`.
A proof is a nonce such that `sha256(challenge ":" nonce)` starts with `bits`
zero bits. Redeemed ids are stored (table `spent_challenges`) until the
challenge expires, so each challenge buys exactly one submission.
"""

from __future__ import annotations

import hashlib
import hmac
import re
import secrets
import time
from dataclasses import dataclass
from datetime import UTC, datetime

from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from app.clock import hour_after
from app.errors import PowInvalid, PowRequired, PowReused
from app.models import SpentChallenge

_CHALLENGE = re.compile(r"\Av1\.([0-9a-f]{32})\.([0-9]{1,12})\.([0-9]{1,2})\.([0-9a-f]{64})\Z")
_NONCE = re.compile(r"\A[0-9A-Za-z_-]{1,64}\Z")


@dataclass(frozen=True)
class Challenge:
    challenge: str
    difficulty: int
    expires: int


def leading_zero_bits(digest: bytes) -> int:
    value = int.from_bytes(digest, "big")
    return len(digest) * 8 - value.bit_length()


def proof_ok(challenge: str, nonce: str, bits: int) -> bool:
    digest = hashlib.sha256(challenge.encode() + b":" + nonce.encode()).digest()
    return leading_zero_bits(digest) >= bits


def solve(challenge: str, bits: int) -> str:
    """Finds a nonce (for tests and tools; browsers do this in JavaScript)."""
    counter = 0
    while not proof_ok(challenge, str(counter), bits):
        counter += 1
    return str(counter)


class ProofOfWork:
    def __init__(self, key: bytes, difficulty: int, ttl_seconds: int) -> None:
        self._key = key
        self.difficulty = difficulty
        self._ttl = ttl_seconds

    def _mac(self, cid: str, expires: int, bits: int) -> str:
        message = f"intake/pow/v1|{cid}.{expires}.{bits}".encode()
        return hmac.new(self._key, message, hashlib.sha256).hexdigest()

    def issue(self, now: float | None = None) -> Challenge:
        cid = secrets.token_hex(16)
        expires = int(now if now is not None else time.time()) + self._ttl
        bits = self.difficulty
        text = f"v1.{cid}.{expires}.{bits}.{self._mac(cid, expires, bits)}"
        return Challenge(challenge=text, difficulty=bits, expires=expires)

    def redeem(
        self, session: Session, challenge: str | None, nonce: str | None, now: float | None = None
    ) -> None:
        """Checks a proof and marks its challenge spent (in `session`'s
        transaction, so a refused submission does not burn it)."""
        if self.difficulty <= 0:
            return
        if not challenge or not nonce:
            raise PowRequired(difficulty=self.difficulty)
        match = _CHALLENGE.match(challenge)
        if match is None or not _NONCE.match(nonce):
            raise PowInvalid()
        cid, expires_text, bits_text, mac = match.groups()
        expires, bits = int(expires_text), int(bits_text)
        # Constant-time: the MAC must not be guessable byte by byte.
        if not hmac.compare_digest(mac, self._mac(cid, expires, bits)):
            raise PowInvalid()
        current = now if now is not None else time.time()
        # A challenge issued at a lower difficulty (before the operator raised
        # it) no longer buys a submission.
        if expires < current or bits < self.difficulty:
            raise PowInvalid()
        if not proof_ok(challenge, nonce, bits):
            raise PowInvalid()
        spent = SpentChallenge(id=cid, expires=hour_after(datetime.fromtimestamp(expires, UTC)))
        try:
            with session.begin_nested():
                session.add(spent)
        except IntegrityError as exc:
            raise PowReused() from exc
