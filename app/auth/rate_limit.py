"""Rate limits: token buckets, a key's shared by every process, a shopper's in each process.

A bucket allows `burst` requests at once and `per_second` on average.

- An API key's bucket (`SharedBuckets`) lives in the database, so every worker and host draws
  from the same one: with `--workers N` a key gets its configured rate, not N times it. A
  process leases a few tokens at a time (one statement per lease, not per request) and spends
  them locally for up to a second. For a publishable key this bucket is the store's ceiling.
- Under a publishable key, each shopper has a bucket of their own (`RateLimiter`, in the
  process): by member token, else by client address (an IPv6 address by its /64), so one busy
  browser cannot use up the store's budget and a thousand quiet ones are not refused.

Each key kind has a default; `laurel set-rate-limit` changes one key's.
"""

from __future__ import annotations

import asyncio
import math
import time
from collections import OrderedDict
from collections.abc import Hashable
from dataclasses import dataclass

from app.auth.api_keys import KeyKind
from app.db import execute, fetch_one, in_transaction, is_postgres


@dataclass(frozen=True)
class RateLimit:
    per_second: float
    burst: int


DEFAULT_LIMITS = {
    KeyKind.ADMIN: RateLimit(per_second=50.0, burst=100),
    KeyKind.SECRET: RateLimit(per_second=200.0, burst=400),
    # Storefronts and apps: the store's ceiling, shared by all its shoppers' browsers; each
    # shopper also has SHOPPER_LIMIT of their own.
    KeyKind.PUBLISHABLE: RateLimit(per_second=500.0, burst=1000),
}
SHOPPER_LIMIT = RateLimit(per_second=10.0, burst=30)


@dataclass(frozen=True)
class Decision:
    allowed: bool
    remaining: int
    limit: int
    # Seconds until one more request would be allowed (0 when allowed).
    retry_after: int


class RateLimiter:
    """Buckets in this process, the least recently used forgotten past `max_keys`."""

    def __init__(self, max_keys: int = 10_000) -> None:
        self._max_keys = max_keys
        # bucket -> (tokens, last refill, monotonic seconds)
        self._buckets: OrderedDict[Hashable, tuple[float, float]] = OrderedDict()

    def take(self, key_id: Hashable, limit: RateLimit, now: float | None = None) -> Decision:
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


# How long a process may spend the tokens it leased before they lapse (what it did not spend
# is not given back: a bucket's rate holds across processes, at the cost of a few tokens).
LEASE_SECONDS = 1.0
# Empty buckets remembered per process (forgetting them only costs a database read).
MAX_EMPTY_REMEMBERED = 10_000


def lease_size(limit: RateLimit) -> int:
    """Tokens one lease takes: about a twentieth of a second's rate, and one while the bucket
    is small (a tiny burst must hold exactly)."""
    return max(1, min(limit.burst // 20, int(limit.per_second // 20)))


@dataclass
class _Lease:
    tokens: int
    until: float
    # Leased under this limit: a changed limit applies from the next request.
    limit: RateLimit


class SharedBuckets:
    """Token buckets in the database (`rate_limit_buckets`) that every process shares."""

    def __init__(self) -> None:
        self._leases: dict[str, _Lease] = {}
        # Buckets found empty, until their next token is due: a client over its limit is
        # refused from memory, not with a database write per request.
        self._empty_until: dict[str, float] = {}
        # One lease at a time per bucket: requests arriving together spend the same lease.
        self._leasing: dict[str, asyncio.Lock] = {}

    def _spend(self, bucket: str, limit: RateLimit) -> Decision | None:
        lease = self._leases.get(bucket)
        if lease is None or lease.tokens < 1 or lease.until <= time.monotonic():
            return None
        if lease.limit != limit:
            return None
        lease.tokens -= 1
        return Decision(allowed=True, remaining=lease.tokens, limit=limit.burst, retry_after=0)

    def _still_empty(self, bucket: str, limit: RateLimit) -> Decision | None:
        wait = self._empty_until.get(bucket, 0.0) - time.monotonic()
        if wait <= 0:
            return None
        return Decision(
            allowed=False, remaining=0, limit=limit.burst, retry_after=max(1, math.ceil(wait))
        )

    async def take(self, bucket: str, limit: RateLimit) -> Decision:
        spent = self._spend(bucket, limit) or self._still_empty(bucket, limit)
        if spent is not None:
            return spent
        async with self._leasing.setdefault(bucket, asyncio.Lock()):
            spent = self._spend(bucket, limit) or self._still_empty(bucket, limit)
            if spent is not None:
                return spent
            granted, left = await _lease_tokens(bucket, limit, lease_size(limit))
            if granted == 0:
                self._leases.pop(bucket, None)
                next_token = (1.0 - left) / limit.per_second
                self._empty_until[bucket] = time.monotonic() + next_token
                if len(self._empty_until) > MAX_EMPTY_REMEMBERED:
                    self._empty_until.clear()
                return Decision(
                    allowed=False,
                    remaining=0,
                    limit=limit.burst,
                    retry_after=max(1, math.ceil(next_token)),
                )
            self._leases[bucket] = _Lease(
                tokens=granted - 1, until=time.monotonic() + LEASE_SECONDS, limit=limit
            )
            return Decision(
                allowed=True, remaining=int(left) + granted - 1, limit=limit.burst, retry_after=0
            )


async def _lease_tokens(bucket: str, limit: RateLimit, wanted: int) -> tuple[int, float]:
    """Up to `wanted` whole tokens taken from the shared bucket, and what is left in it, in one
    short transaction (the row locked on PostgreSQL; SQLite's transactions write one at a time).
    A bucket starts full."""
    wall = time.time()
    async with in_transaction() as conn:
        await execute(
            conn,
            "INSERT INTO rate_limit_buckets (bucket, tokens, refilled_at) VALUES (?, ?, ?)"
            " ON CONFLICT (bucket) DO NOTHING",
            (bucket, float(limit.burst), wall),
        )
        lock = " FOR UPDATE" if is_postgres(conn) else ""
        row = await fetch_one(
            conn,
            f"SELECT tokens, refilled_at FROM rate_limit_buckets WHERE bucket = ?{lock}",
            (bucket,),
        )
        assert row is not None
        elapsed = max(0.0, wall - float(row["refilled_at"]))
        tokens = min(float(limit.burst), float(row["tokens"]) + elapsed * limit.per_second)
        granted = max(0, min(wanted, math.floor(tokens)))
        await execute(
            conn,
            "UPDATE rate_limit_buckets SET tokens = ?, refilled_at = ? WHERE bucket = ?",
            (tokens - granted, wall, bucket),
        )
    return granted, tokens - granted
