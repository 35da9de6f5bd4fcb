"""Referrals: the rules, without I/O.

A referral links a referrer (a member, by their code) and a friend (a new customer). Its state:

    INVITED    the store recorded the invitation; the friend is not a member yet
    SIGNED_UP  the friend is a member
    QUALIFIED  the friend met the referrer's trigger; the referrer's reward is pending through
               the return window of the friend's order
    REWARDED   the referrer's reward is final (a SIGNUP trigger gets here at once)
    HELD       a fraud signal or a limit: nothing is paid until an admin approves it
    REJECTED   with a reason; final

The referrer's and the friend's rewards each have a trigger: the friend's SIGNUP, the friend's
FIRST_ORDER whose value reaches a minimum, or EACH_ORDER reaching the minimum, up to a number of
orders. Order rewards wait pending until the order's return window (the program's pendingDays)
has passed, and a refunded order cancels what is still pending.

A side earns points, a reward from the program's catalogue, or both. A catalogue reward is given
when the side's reward becomes final (at once, or when its pending period ends): its cost in
points is credited and redeemed with the reward at once, so the member's balance is unchanged
and lifetime earned and redeemed both rise by the cost. A reward that cannot be given then (out
of stock, or no longer active) is recorded FAILED with the reason. The points are paid anyway.
"""

from __future__ import annotations

import hashlib
import re
import secrets
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from enum import StrEnum

from app.domain.rewards import RewardUnavailable


class ReferralState(StrEnum):
    INVITED = "INVITED"
    SIGNED_UP = "SIGNED_UP"
    QUALIFIED = "QUALIFIED"
    REWARDED = "REWARDED"
    HELD = "HELD"
    REJECTED = "REJECTED"


class ReferralTrigger(StrEnum):
    SIGNUP = "SIGNUP"
    FIRST_ORDER = "FIRST_ORDER"
    EACH_ORDER = "EACH_ORDER"


class ReferralSide(StrEnum):
    REFERRER = "REFERRER"
    FRIEND = "FRIEND"


class RejectionReason(StrEnum):
    SELF_REFERRAL = "SELF_REFERRAL"
    FRIEND_ALREADY_MEMBER = "FRIEND_ALREADY_MEMBER"
    FRIEND_HAD_ORDERS = "FRIEND_HAD_ORDERS"
    ALREADY_REFERRED = "ALREADY_REFERRED"
    REFERRAL_LOOP = "REFERRAL_LOOP"
    QUALIFYING_ORDER_REFUNDED = "QUALIFYING_ORDER_REFUNDED"
    REJECTED_BY_ADMIN = "REJECTED_BY_ADMIN"


class HoldReason(StrEnum):
    REFERRER_LIMIT = "REFERRER_LIMIT"
    SHARED_SIGNAL = "SHARED_SIGNAL"
    IP_VELOCITY = "IP_VELOCITY"


class RewardStatus(StrEnum):
    PENDING = "PENDING"
    PAID = "PAID"
    CANCELLED = "CANCELLED"


class CatalogueRewardStatus(StrEnum):
    # Waiting for the side's reward to become final.
    PENDING = "PENDING"
    # Redeemed for the member: a redemption with its code exists.
    GIVEN = "GIVEN"
    # Could not be given when it became due (see CatalogueFailure); the store makes it good.
    FAILED = "FAILED"
    # The qualifying order was refunded while the reward was pending.
    CANCELLED = "CANCELLED"


# Why a catalogue reward could not be given: the reasons of any reward given, not bought.
CatalogueFailure = RewardUnavailable


class SignalKind(StrEnum):
    IP_ADDRESS = "IP_ADDRESS"
    DEVICE_ID = "DEVICE_ID"
    PAYMENT_FINGERPRINT = "PAYMENT_FINGERPRINT"
    SHIPPING_ADDRESS_HASH = "SHIPPING_ADDRESS_HASH"


class LimitPeriod(StrEnum):
    DAY = "DAY"
    WEEK = "WEEK"
    MONTH = "MONTH"
    YEAR = "YEAR"


# States a referral can still change from (by an order, a refund or an admin).
OPEN_STATES = frozenset(
    {ReferralState.INVITED, ReferralState.SIGNED_UP, ReferralState.QUALIFIED, ReferralState.HELD}
)

# Crockford's base32 without I, L, O and U, as redemption codes: nothing to misread.
CODE_ALPHABET = "0123456789ABCDEFGHJKMNPQRSTVWXYZ"
CODE_LENGTH = 8
_CODE_PATTERN = re.compile(rf"^[{CODE_ALPHABET}]{{{CODE_LENGTH}}}$")
# What a person may type instead: Crockford's decoding of look-alikes.
_LOOK_ALIKES = str.maketrans({"O": "0", "I": "1", "L": "1"})
CODE_INPUT_MAX = 32
URL_TEMPLATE_MAX = 500
CODE_PLACEHOLDER = "{code}"
MAX_REWARD_POINTS = 1_000_000
MAX_REWARDED_ORDERS = 1000
MAX_REFERRER_LIMIT = 100_000
MAX_IP_WEEKLY_THRESHOLD = 100_000
MAX_ATTACH_WINDOW_DAYS = 365
SIGNAL_MAX = 500
# How far up a chain of referrals the loop check looks.
MAX_CHAIN_DEPTH = 100
IP_WINDOW = timedelta(days=7)
# Domains whose mailboxes ignore dots in the local part.
_DOTLESS_DOMAINS = frozenset({"gmail.com", "googlemail.com"})


def new_code() -> str:
    """8 random characters (40 bits): short enough to say aloud, unique per program."""
    return "".join(secrets.choice(CODE_ALPHABET) for _ in range(CODE_LENGTH))


def normalise_code(raw: str) -> str | None:
    """The code as stored, from what a person typed (case, spaces, dashes, look-alikes), or
    None when it cannot be a code."""
    cleaned = re.sub(r"[\s-]", "", raw).upper().translate(_LOOK_ALIKES)
    return cleaned if _CODE_PATTERN.match(cleaned) else None


def normalise_email(email: str) -> str:
    """One mailbox, one spelling: lower case, no `+tag`, and no dots where the provider
    ignores them (Gmail)."""
    local, _, domain = email.strip().lower().rpartition("@")
    if not local:
        return email.strip().lower()
    local = local.split("+", 1)[0]
    if domain == "googlemail.com":
        domain = "gmail.com"
    if domain in _DOTLESS_DOMAINS:
        local = local.replace(".", "")
    return f"{local}@{domain}"


def signal_hash(salt: str, kind: SignalKind, value: str) -> str:
    """A signal as stored: SHA-256 of the program's salt, the kind and the trimmed value
    (IP addresses and ids compare case-insensitively)."""
    text = f"{salt}:{kind.value}:{value.strip().lower()}"
    return hashlib.sha256(text.encode()).hexdigest()


def referral_link(template: str, code: str) -> str | None:
    return template.replace(CODE_PLACEHOLDER, code) if template else None


def valid_url_template(template: str) -> bool:
    return (
        CODE_PLACEHOLDER in template
        and template.startswith(("https://", "http://"))
        and not any(c.isspace() for c in template)
    )


def limit_window(period: LimitPeriod, moment: datetime) -> tuple[datetime, datetime]:
    """The calendar period in UTC (start inclusive, end exclusive) holding `moment`."""
    at = moment.astimezone(UTC)
    day = at.replace(hour=0, minute=0, second=0, microsecond=0)
    if period is LimitPeriod.DAY:
        return day, day + timedelta(days=1)
    if period is LimitPeriod.WEEK:
        start = day - timedelta(days=day.weekday())
        return start, start + timedelta(days=7)
    if period is LimitPeriod.MONTH:
        start = day.replace(day=1)
        end = (
            start.replace(year=start.year + 1, month=1)
            if start.month == 12
            else (start.replace(month=start.month + 1))
        )
        return start, end
    start = day.replace(month=1, day=1)
    return start, start.replace(year=start.year + 1)


@dataclass(frozen=True)
class SideRule:
    """What one side earns, and when."""

    points: int
    trigger: ReferralTrigger
    minimum_order_minor: int = 0
    # EACH_ORDER: how many of the friend's orders earn, at most.
    max_orders: int = 1
    # A reward of the program's catalogue given besides (or instead of) the points.
    reward_id: int | None = None

    @property
    def rewards(self) -> bool:
        return self.points > 0 or self.reward_id is not None

    def order_counts(self, value_minor: int, rewarded_orders: int) -> bool:
        """Whether an order of this value, after `rewarded_orders` rewarded ones, earns."""
        if not self.rewards or self.trigger is ReferralTrigger.SIGNUP:
            return False
        if value_minor < self.minimum_order_minor:
            return False
        limit = 1 if self.trigger is ReferralTrigger.FIRST_ORDER else self.max_orders
        return rewarded_orders < limit


@dataclass(frozen=True)
class Signals:
    """What the store may send about the device and payment behind a referral or sign-up."""

    ip_address: str | None = None
    device_id: str | None = None
    payment_fingerprint: str | None = None
    shipping_address_hash: str | None = None

    def items(self) -> list[tuple[SignalKind, str]]:
        given = (
            (SignalKind.IP_ADDRESS, self.ip_address),
            (SignalKind.DEVICE_ID, self.device_id),
            (SignalKind.PAYMENT_FINGERPRINT, self.payment_fingerprint),
            (SignalKind.SHIPPING_ADDRESS_HASH, self.shipping_address_hash),
        )
        return [(kind, value.strip()) for kind, value in given if value and value.strip()]
