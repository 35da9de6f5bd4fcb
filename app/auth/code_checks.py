"""The rate limit on checking redemption codes, apart from the general limit of each key.

`validateRedemptionCode` and `markRedemptionUsed` tell whether a code exists, so each call is
one guess. A secret key may make `CODE_CHECK_LIMIT.burst` checks at once and
`CODE_CHECK_LIMIT.per_second` on average (README, "Redemption codes", has the arithmetic of
why guessing stays hopeless). Admin keys are not limited: they can list every code anyway.
Publishable keys cannot check codes at all.
"""

from __future__ import annotations

from app.auth.api_keys import KeyKind, Principal
from app.auth.rate_limit import Decision, RateLimit, RateLimiter

CODE_CHECK_LIMIT = RateLimit(per_second=10.0, burst=60)


def take_code_check(limiter: RateLimiter | None, principal: Principal) -> Decision | None:
    """Spend one code check of the caller's key; None when the key is not limited."""
    if limiter is None or principal.kind is KeyKind.ADMIN:
        return None
    return limiter.take(principal.key_id, CODE_CHECK_LIMIT)
