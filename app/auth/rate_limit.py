"""Per-key rate limits: a token bucket per API key, in each server process.

A key may make `burst` requests at once and `per_second` on average. Each key kind has a
default; `laurel set-rate-limit` changes one key's. The buckets live in the process: with N
workers a key gets up to N times its rate, which bounds abuse without a shared store.
"""

from __future__ import annotations

import math
import time
from collections import OrderedDict
from dataclasses import dataclass

from app.auth.api_keys import KeyKind


@dataclass(frozen=True)
class RateLimit:
    per_second: float
    burst: int


DEFAULT_LIMITS = {
    KeyKind.ADMIN: RateLimit(per_second=50.0, burst=100),
    KeyKind.SECRET: RateLimit(per_second=200.0, burst=400),
    # Storefronts and apps: one key serves many shoppers' browsers.
    KeyKind.PUBLISHABLE: RateLimit(per_second=50.0, burst=100),
}


@dataclass(frozen=True)
class Decision:
    allowed: bool
    remaining: int
    limit: int
    # Seconds until one more request would be allowed (0 when allowed).
    retry_after: int


class RateLimiter:
    def __init__(self, max_keys: int = 10_000) -> None:
        self._max_keys = max_keys
        # key id -> (tokens, last refill, monotonic seconds)
        self._buckets: OrderedDict[int, tuple[float, float]] = OrderedDict()

    def take(self, key_id: int, limit: RateLimit, now: float | None = None) -> Decision:
        moment = time.monotonic() if now is None else now
        tokens, last = self._buckets.get(key_id, (float(limit.burst), moment))
        tokens = min(float(limit.burst), tokens + (moment - last) * limit.per_second)
        allowed = tokens >= 1.0
        if allowed:
            tokens -= 1.0
        self._buckets[key_id] = (tokens, moment)
        self._buckets.move_to_end(key_id)
        while len(self._buckets) > self._max_keys:
            self._buckets.popitem(last=False)
        retry_after = 0 if allowed else max(1, math.ceil((1.0 - tokens) / limit.per_second))
        return Decision(
            allowed=allowed, remaining=int(tokens), limit=limit.burst, retry_after=retry_after
        )
