"""Proof of work for creating submissions and checking mailboxes (issues 5, 14).

A challenge is stateless: `v1.<id>.<expires>.<bits>.<mac>`, with
`mac = HMAC-SHA256(pow_secret, "intake/pow/v1|" id "." expires "." bits)`.
A proof is a nonce such that `sha256(challenge ":" nonce)` starts with `bits`
zero bits. Redeemed ids are stored (table `spent_challenges`) until the
challenge expires, so each challenge buys exactly one submission.

Issuing costs the server one MAC, so it is never rate limited: a flood of
challenge requests cannot shut honest clients out. What costs the server
something (a submission, a mailbox check) is gated by a solved proof, checked
before any shared rate-limit bucket is charged.

The price adapts to load: each doubling of the recent rate of redeemed proofs
above `target_per_minute` adds one bit, up to `max_difficulty`; the rate
decays with a half-life, so the price falls back once the load goes. Only
redeemed proofs count (each cost its sender the work): issued challenges are
free, so counting them would let anyone raise the price for everyone.
"""

from __future__ import annotations

import hashlib
import hmac
import math
import re
import secrets
import threading
import time
from dataclasses import dataclass
from datetime import UTC, datetime

from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from app.clock import hour_after
from app.errors import PowInvalid, PowRequired, PowReused, RateLimited
from app.models import SpentChallenge
from crypto.encoding import HEX32

_CHALLENGE = re.compile(rf"\Av1\.({HEX32})\.([0-9]{{1,12}})\.([0-9]{{1,2}})\.([0-9a-f]{{64}})\Z")
_NONCE = re.compile(r"\A[0-9A-Za-z_-]{1,64}\Z")

# A proof solved at up to this many bits below the current price is still
# taken: an honest client whose price rose while it worked is not turned
# away, yet proofs stockpiled while the server was quiet stop buying anything
# once the load has quadrupled past the target.
GRACE_BITS = 2


class PowStale(RateLimited):
    """The proof was solved at a price the load has since outgrown: a 429, so
    the page waits a moment and solves a fresh challenge at the new price."""

    code = "pow-stale"
    message = "The server is busy and asks more work; solve a new challenge."


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


class LoadMeter:
    """The recent rate of events, as an exponentially decaying count.

    In this process's memory only (like the rate limits): nothing about who
    sent what is kept, only how many arrived lately."""

    def __init__(self, half_life_seconds: float) -> None:
        self._decay = math.log(2) / half_life_seconds
        self._level = 0.0
        self._stamp = time.monotonic()
        self._lock = threading.Lock()

    def _decayed(self, now: float) -> float:
        return self._level * math.exp(-self._decay * max(0.0, now - self._stamp))

    def add(self, now: float | None = None) -> None:
        now = time.monotonic() if now is None else now
        with self._lock:
            self._level = self._decayed(now) + 1.0
            self._stamp = now

    def per_minute(self, now: float | None = None) -> float:
        """A steady rate of r per second settles at r / decay events held."""
        now = time.monotonic() if now is None else now
        with self._lock:
            return self._decayed(now) * self._decay * 60.0


class ProofOfWork:
    """Issues and redeems challenges; `difficulty` 0 turns proof of work off.

    With `max_difficulty` above `difficulty` and a `target_per_minute`, the
    price named to new challenges rises with the rate of redeemed proofs."""

    def __init__(
        self,
        key: bytes,
        difficulty: int,
        ttl_seconds: int,
        *,
        max_difficulty: int | None = None,
        target_per_minute: float = 0.0,
        half_life_seconds: float = 60.0,
    ) -> None:
        self._key = key
        self.base_difficulty = difficulty
        self.max_difficulty = max(
            difficulty, difficulty if max_difficulty is None else max_difficulty
        )
        self._target = target_per_minute
        self._ttl = ttl_seconds
        self.load = LoadMeter(half_life_seconds)

    def adaptive(
        self, *, max_difficulty: int, target_per_minute: float, half_life_seconds: float
    ) -> ProofOfWork:
        """The same challenges (key, base price, lifetime), priced by load."""
        return ProofOfWork(
            self._key,
            self.base_difficulty,
            self._ttl,
            max_difficulty=max_difficulty,
            target_per_minute=target_per_minute,
            half_life_seconds=half_life_seconds,
        )

    @property
    def difficulty(self) -> int:
        """The price named to a new challenge now."""
        base = self.base_difficulty
        if base <= 0 or self._target <= 0 or self.max_difficulty <= base:
            return base
        rate = self.load.per_minute()
        if rate <= self._target:
            return base
        return min(self.max_difficulty, base + math.ceil(math.log2(rate / self._target)))

    def _mac(self, cid: str, expires: int, bits: int) -> str:
        message = f"intake/pow/v1|{cid}.{expires}.{bits}".encode()
        return hmac.new(self._key, message, hashlib.sha256).hexdigest()

    def issue(self, now: float | None = None) -> Challenge:
        cid = secrets.token_hex(16)
        expires = int(now if now is not None else time.time()) + self._ttl
        bits = self.difficulty
        text = f"v1.{cid}.{expires}.{bits}.{self._mac(cid, expires, bits)}"
        return Challenge(challenge=text, difficulty=bits, expires=expires)

    def check(
        self, challenge: str | None, nonce: str | None, now: float | None = None
    ) -> tuple[str, int] | None:
        """Everything about a proof but whether it was spent: no database, a
        MAC and one hash. Returns (id, expires), or None when proof of work is
        off. Run before anything shared is touched, so junk costs nobody else."""
        if self.base_difficulty <= 0:
            return None
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
        if expires < current or not proof_ok(challenge, nonce, bits):
            raise PowInvalid()
        # A challenge issued below the configured price (before the operator
        # raised it) never buys anything; one the load has outgrown is stale.
        if bits < self.base_difficulty:
            raise PowInvalid()
        price = self.difficulty
        if bits < price - GRACE_BITS:
            raise PowStale(retry_after=1, difficulty=price)
        return cid, expires

    def redeem(
        self, session: Session, challenge: str | None, nonce: str | None, now: float | None = None
    ) -> None:
        """Checks a proof and marks its challenge spent (in `session`'s
        transaction, so a refused submission does not burn it)."""
        checked = self.check(challenge, nonce, now)
        if checked is None:
            return
        cid, expires = checked
        spent = SpentChallenge(id=cid, expires=hour_after(datetime.fromtimestamp(expires, UTC)))
        try:
            with session.begin_nested():
                session.add(spent)
        except IntegrityError as exc:
            raise PowReused() from exc
        self.load.add()
