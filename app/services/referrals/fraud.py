"""The fraud rules of a new referral: why it is refused at once, or held for review.

Refusals (`rejection`) are final and recorded as REJECTED referrals; holds (`hold_reason`) wait
for an admin. Signals (IP address, device, payment, shipping address) are compared as salted
hashes, never stored in clear.
"""

from __future__ import annotations

from datetime import datetime, timedelta

from tortoise.backends.base.client import BaseDBAsyncClient

from app.domain.referrals import (
    IP_WINDOW,
    MAX_CHAIN_DEPTH,
    SIGNAL_MAX,
    HoldReason,
    RejectionReason,
    SignalKind,
    Signals,
    limit_window,
    normalise_email,
    signal_hash,
)
from app.domain.validation import Checker
from app.services.referrals import repository
from app.services.referrals.records import (
    Friend,
    ReferralRecord,
    ReferralSettingsRecord,
    Referrer,
)

_SIGNAL_FIELDS = {
    "ip_address": "ipAddress",
    "device_id": "deviceId",
    "payment_fingerprint": "paymentFingerprint",
    "shipping_address_hash": "shippingAddressHash",
}


def check_signals(check: Checker, signals: Signals | None, field: list[str]) -> None:
    if signals is None:
        return
    for attribute, name in _SIGNAL_FIELDS.items():
        value = getattr(signals, attribute)
        if value is not None:
            check.text([*field, name], value, SIGNAL_MAX, required=False)


def signal_hashes(
    settings: ReferralSettingsRecord, signals: Signals | None
) -> list[tuple[SignalKind, str]]:
    if signals is None or not settings.signal_salt:
        return []
    return [
        (kind, signal_hash(settings.signal_salt, kind, value)) for kind, value in signals.items()
    ]


def ip_hash_of(hashes: list[tuple[SignalKind, str]]) -> str | None:
    return next((value_hash for kind, value_hash in hashes if kind is SignalKind.IP_ADDRESS), None)


def _is_self_referral(referrer: Referrer, friend: Friend) -> bool:
    if friend.member_id == referrer.id or (
        friend.customer_id is not None and friend.customer_id == referrer.customer_id
    ):
        return True
    return (
        friend.email is not None
        and referrer.email is not None
        and normalise_email(friend.email) == normalise_email(referrer.email)
    )


async def _closes_loop(conn: BaseDBAsyncClient, referrer: Referrer, friend_id: int) -> bool:
    """The friend referred the referrer, directly or further up the chain."""
    current: int | None = referrer.id
    for _ in range(MAX_CHAIN_DEPTH):
        current = await repository.referrer_of(conn, current) if current is not None else None
        if current is None:
            return False
        if current == friend_id:
            return True
    return False


async def rejection(
    conn: BaseDBAsyncClient,
    settings: ReferralSettingsRecord,
    referrer: Referrer,
    friend: Friend,
    now: datetime,
) -> RejectionReason | None:
    if _is_self_referral(referrer, friend):
        return RejectionReason.SELF_REFERRAL
    if friend.member_id is None:
        return None
    if await _closes_loop(conn, referrer, friend.member_id):
        return RejectionReason.REFERRAL_LOOP
    if friend.just_enrolled:
        return None
    if await repository.has_orders(conn, friend.member_id):
        return RejectionReason.FRIEND_HAD_ORDERS
    assert friend.enrolled_at is not None
    if friend.enrolled_at < now - timedelta(days=settings.attach_window_days):
        return RejectionReason.FRIEND_ALREADY_MEMBER
    return None


async def hold_reason(
    conn: BaseDBAsyncClient,
    settings: ReferralSettingsRecord,
    referral: ReferralRecord,
    friend_hashes: list[tuple[SignalKind, str]],
    ip_hash: str | None,
    now: datetime,
    *,
    at_creation: bool = True,
) -> HoldReason | None:
    """Why a referral should wait for review. The referrer's limit counts at creation only;
    a sign-up brings the friend's signals, and an IP address if the invitation had none."""
    if settings.referrer_limit > 0 and at_creation:
        start, end = limit_window(settings.referrer_limit_period, referral.created_at)
        made = await repository.claims_by_referrer(conn, referral, start, end)
        if made >= settings.referrer_limit:
            return HoldReason.REFERRER_LIMIT
    if settings.ip_weekly_threshold > 0 and ip_hash is not None:
        recent = await repository.referrals_from_ip(conn, referral, ip_hash, now - IP_WINDOW)
        if recent >= settings.ip_weekly_threshold:
            return HoldReason.IP_VELOCITY
    hashes = {value_hash for _, value_hash in friend_hashes}
    if referral.friend_id is not None:
        hashes |= await repository.signal_hashes_of(conn, referral.friend_id)
    if hashes and hashes & await repository.signal_hashes_of(conn, referral.referrer_id):
        return HoldReason.SHARED_SIGNAL
    return None
