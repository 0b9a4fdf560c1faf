"""In-memory token buckets.

Deliberately not keyed by client address: the server never looks at one (Tor
users share exits, and an address is exactly what we must not keep). Buckets
are per route, globally, and per submission id for uploads; none is charged
before a request has shown it is not junk (see DEFAULT_RATES). They live only in
this process's memory and are never persisted or logged.
"""

from __future__ import annotations

import threading
import time
from collections import OrderedDict
from dataclasses import dataclass

from app.errors import RateLimited


@dataclass(frozen=True)
class Rate:
    per_minute: float
    burst: float


# Every bucket is charged only for a request that has already shown it is
# not junk, so that anonymous junk can never drain what honest people need:
# - "submissions.create" and "mailbox" after a valid, unspent proof of work
#   is redeemed (in the same transaction: a 429 does not burn the proof);
#   they cap what paid requests cost the database, and the proof-of-work
#   price rises with load well before they run dry (`app/pow`);
# - "upload.per-submission" per submission id, which only a paid declaration
#   makes and nobody can guess (a junk id fills only its own bucket);
# - "manifests.rejected" after a posted manifest or site document failed
#   verification: valid signed documents never touch a bucket, so a flood
#   cannot delay a revocation. It saves no work (the document was already
#   verified), only answers a prober 429 instead of the failure reason.
# Challenges have no bucket: issuing one costs a single MAC.
DEFAULT_RATES: dict[str, Rate] = {
    "submissions.create": Rate(per_minute=300, burst=60),
    "upload.per-submission": Rate(per_minute=600, burst=120),
    "mailbox": Rate(per_minute=600, burst=120),
    "manifests.rejected": Rate(per_minute=30, burst=10),
}

_MAX_KEYS = 50_000


class _Bucket:
    __slots__ = ("stamp", "tokens")

    def __init__(self, tokens: float, stamp: float) -> None:
        self.tokens = tokens
        self.stamp = stamp


class RateLimiter:
    """Token buckets by (rate name, key); `scale` 0 turns limiting off."""

    def __init__(self, rates: dict[str, Rate] | None = None, scale: float = 1.0) -> None:
        self._rates = dict(rates or DEFAULT_RATES)
        self._scale = scale
        self._buckets: OrderedDict[tuple[str, str], _Bucket] = OrderedDict()
        self._lock = threading.Lock()

    def hit(self, name: str, key: str = "*") -> None:
        """Takes one token or raises `RateLimited`."""
        if self._scale <= 0:
            return
        rate = self._rates[name]
        per_second = rate.per_minute * self._scale / 60.0
        burst = max(1.0, rate.burst * self._scale)
        now = time.monotonic()
        with self._lock:
            bucket = self._buckets.pop((name, key), None)
            if bucket is None:
                bucket = _Bucket(burst, now)
            bucket.tokens = min(burst, bucket.tokens + (now - bucket.stamp) * per_second)
            bucket.stamp = now
            self._buckets[(name, key)] = bucket  # most recently used last
            while len(self._buckets) > _MAX_KEYS:
                # Forgetting the oldest bucket only ever refills it: safe.
                self._buckets.popitem(last=False)
            if bucket.tokens < 1.0:
                raise RateLimited(retry_after=max(1, round((1.0 - bucket.tokens) / per_second)))
            bucket.tokens -= 1.0
