"""Referrals: settings, codes, recording, fraud rules, rewards, reviews and numbers.

The rules are in app/domain/referrals.py. Here:

- A referral is created by `enrollMember` with a code (the friend is the new member) or by
  `recordReferral` (an invitation of a friend who is not a member yet, or the attachment of a
  member who enrolled within the program's attach window and has no orders). Both lock the
  referrer's member row first, so the per-referrer limit counts what committed before.
- Refusals are recorded as REJECTED referrals with their reason (they count in the numbers);
  only referrals that were not refused at once hold a claim on the friend (`claim_customer_id`,
  `claim_email`, unique per program), so of two concurrent referrals of one friend the
  database lets exactly one claim them and the other is rejected ALREADY_REFERRED.
- Suspicious referrals are HELD: nothing is paid until an admin approves (then every reward the
  referral earned meanwhile follows) or rejects them.
- Rewards are points through the ledger (kind REFERRAL), in the transaction of what triggered
  them: the friend's enrolment, or the friend's order in `record_order`. Order rewards are
  pending until the order's return window has passed; a full refund of the order cancels what
  is still pending; the `referrals` job makes them final and the referral REWARDED.
- A side's catalogue reward is given when its reward is final (`_give_catalogue_reward`): at
  once for a sign-up or an order past its window, else by `settle_reward`; never once a refund
  cancelled it. Out of stock or inactive then: recorded FAILED with the reason (event
  `referral.reward_failed`), the points are paid anyway and nothing retries it.
"""

from __future__ import annotations

import secrets
from dataclasses import dataclass, replace
from datetime import datetime, timedelta
from typing import Any

from tortoise.backends.base.client import BaseDBAsyncClient

from app.db import (
    as_datetime,
    as_optional_datetime,
    connection,
    fetch_all,
    fetch_one,
    in_transaction,
    utc_now,
)
from app.domain.errors import DomainError, ErrorCode
from app.domain.ids import encode_id
from app.domain.ledger import Account, TransactionKind
from app.domain.money import MAX_AMOUNT_MINOR, convert_minor, parse_exchange_rate
from app.domain.referrals import (
    CODE_INPUT_MAX,
    IP_WINDOW,
    MAX_ATTACH_WINDOW_DAYS,
    MAX_CHAIN_DEPTH,
    MAX_IP_WEEKLY_THRESHOLD,
    MAX_REFERRER_LIMIT,
    MAX_REWARD_POINTS,
    MAX_REWARDED_ORDERS,
    SIGNAL_MAX,
    URL_TEMPLATE_MAX,
    CatalogueFailure,
    CatalogueRewardStatus,
    HoldReason,
    LimitPeriod,
    ReferralSide,
    ReferralState,
    ReferralTrigger,
    RejectionReason,
    RewardStatus,
    SideRule,
    SignalKind,
    Signals,
    limit_window,
    new_code,
    normalise_code,
    normalise_email,
    referral_link,
    signal_hash,
    valid_url_template,
)
from app.domain.rewards import RewardUnavailable
from app.domain.tiers import TierChangeReason
from app.domain.validation import (
    EMAIL_MAX,
    EXTERNAL_ID_MAX,
    IDEMPOTENCY_KEY_MAX,
    REASON_MAX,
    Checker,
)
from app.services.core import idempotency
from app.services.core.events import append_event
from app.services.ledger.service import Movement, lock_member, mature_lot, post_movement
from app.services.programs.service import ProgramRecord, ProgramScope, in_scope, require_program
from app.services.rewards.gifts import GiveReward, give_reward
from app.services.tiers.service import member_multiplier, multiplied_points
from app.services.tiers.service import on_member_activity as on_tier_activity

_SETTINGS_COLUMNS = (
    "program_id, enabled, url_template, referrer_points, referrer_trigger,"
    " referrer_minimum_order_minor, referrer_max_orders, friend_points, friend_trigger,"
    " friend_minimum_order_minor, friend_max_orders, referrer_limit, referrer_limit_period,"
    " ip_weekly_threshold, attach_window_days, signal_salt, updated_at, referrer_reward_id,"
    " friend_reward_id"
)
_COLUMNS = (
    "id, program_id, referrer_id, friend_id, friend_customer_id, friend_email, state,"
    " rejection_reason, hold_reason, review_note, source, created_at, signed_up_at,"
    " qualified_at, rewarded_at, held_at, rejected_at, reviewed_at, ip_hash"
)
_REWARD_COLUMNS = (
    "id, referral_id, member_id, side, points, status, order_id, available_at, created_at,"
    " settled_at, reward_id, reward_status, reward_failure, reward_value_minor, redemption_id"
)
_CLAIMED = "(claim_customer_id IS NOT NULL OR claim_email IS NOT NULL)"
_NO_CURSOR = 2**63 - 1
_RECORD_OPERATION = "recordReferral"
_APPROVE_OPERATION = "approveReferral"
SOURCE_ENROLMENT = "ENROLMENT"
SOURCE_RECORDED = "RECORDED"
SIGNUP_REF = "signup"
TOP_ADVOCATES = 10
MAX_CODE_ATTEMPTS = 8


# --- records ----------------------------------------------------------------------------------


@dataclass(frozen=True)
class ReferralSettingsRecord:
    program_id: int
    enabled: bool
    url_template: str
    referrer: SideRule
    friend: SideRule
    referrer_limit: int
    referrer_limit_period: LimitPeriod
    ip_weekly_threshold: int
    attach_window_days: int
    signal_salt: str
    updated_at: datetime | None


def _default_settings(program_id: int) -> ReferralSettingsRecord:
    return ReferralSettingsRecord(
        program_id=program_id,
        enabled=False,
        url_template="",
        referrer=SideRule(points=0, trigger=ReferralTrigger.FIRST_ORDER),
        friend=SideRule(points=0, trigger=ReferralTrigger.SIGNUP),
        referrer_limit=0,
        referrer_limit_period=LimitPeriod.MONTH,
        ip_weekly_threshold=0,
        attach_window_days=7,
        signal_salt="",
        updated_at=None,
    )


def _optional_int(value: Any) -> int | None:
    return None if value is None else int(value)


def _settings(row: dict[str, Any]) -> ReferralSettingsRecord:
    return ReferralSettingsRecord(
        program_id=int(row["program_id"]),
        enabled=bool(row["enabled"]),
        url_template=row["url_template"],
        referrer=SideRule(
            points=int(row["referrer_points"]),
            trigger=ReferralTrigger(row["referrer_trigger"]),
            minimum_order_minor=int(row["referrer_minimum_order_minor"]),
            max_orders=int(row["referrer_max_orders"]),
            reward_id=_optional_int(row["referrer_reward_id"]),
        ),
        friend=SideRule(
            points=int(row["friend_points"]),
            trigger=ReferralTrigger(row["friend_trigger"]),
            minimum_order_minor=int(row["friend_minimum_order_minor"]),
            max_orders=int(row["friend_max_orders"]),
            reward_id=_optional_int(row["friend_reward_id"]),
        ),
        referrer_limit=int(row["referrer_limit"]),
        referrer_limit_period=LimitPeriod(row["referrer_limit_period"]),
        ip_weekly_threshold=int(row["ip_weekly_threshold"]),
        attach_window_days=int(row["attach_window_days"]),
        signal_salt=row["signal_salt"],
        updated_at=as_optional_datetime(row["updated_at"]),
    )


@dataclass(frozen=True)
class ReferralRecord:
    id: int
    program_id: int
    referrer_id: int
    friend_id: int | None
    friend_customer_id: str | None
    friend_email: str | None
    state: ReferralState
    rejection_reason: RejectionReason | None
    hold_reason: HoldReason | None
    review_note: str | None
    source: str
    created_at: datetime
    signed_up_at: datetime | None
    qualified_at: datetime | None
    rewarded_at: datetime | None
    held_at: datetime | None
    rejected_at: datetime | None
    reviewed_at: datetime | None
    ip_hash: str | None


def _referral(row: dict[str, Any]) -> ReferralRecord:
    return ReferralRecord(
        id=int(row["id"]),
        program_id=int(row["program_id"]),
        referrer_id=int(row["referrer_id"]),
        friend_id=None if row["friend_id"] is None else int(row["friend_id"]),
        friend_customer_id=row["friend_customer_id"],
        friend_email=row["friend_email"],
        state=ReferralState(row["state"]),
        rejection_reason=None
        if row["rejection_reason"] is None
        else RejectionReason(row["rejection_reason"]),
        hold_reason=None if row["hold_reason"] is None else HoldReason(row["hold_reason"]),
        review_note=row["review_note"],
        source=row["source"],
        created_at=as_datetime(row["created_at"]),
        signed_up_at=as_optional_datetime(row["signed_up_at"]),
        qualified_at=as_optional_datetime(row["qualified_at"]),
        rewarded_at=as_optional_datetime(row["rewarded_at"]),
        held_at=as_optional_datetime(row["held_at"]),
        rejected_at=as_optional_datetime(row["rejected_at"]),
        reviewed_at=as_optional_datetime(row["reviewed_at"]),
        ip_hash=row["ip_hash"],
    )


@dataclass(frozen=True)
class ReferralRewardRecord:
    id: int
    referral_id: int
    member_id: int
    side: ReferralSide
    points: int
    status: RewardStatus
    order_id: int | None
    available_at: datetime | None
    created_at: datetime
    settled_at: datetime | None
    # The catalogue reward of the side, if it has one, and what became of it.
    reward_id: int | None = None
    reward_status: CatalogueRewardStatus | None = None
    reward_failure: CatalogueFailure | None = None
    reward_value_minor: int | None = None
    redemption_id: int | None = None


def _reward(row: dict[str, Any]) -> ReferralRewardRecord:
    return ReferralRewardRecord(
        id=int(row["id"]),
        referral_id=int(row["referral_id"]),
        member_id=int(row["member_id"]),
        side=ReferralSide(row["side"]),
        points=int(row["points"]),
        status=RewardStatus(row["status"]),
        order_id=None if row["order_id"] is None else int(row["order_id"]),
        available_at=as_optional_datetime(row["available_at"]),
        created_at=as_datetime(row["created_at"]),
        settled_at=as_optional_datetime(row["settled_at"]),
        reward_id=_optional_int(row["reward_id"]),
        reward_status=None
        if row["reward_status"] is None
        else CatalogueRewardStatus(row["reward_status"]),
        reward_failure=None
        if row["reward_failure"] is None
        else CatalogueFailure(row["reward_failure"]),
        reward_value_minor=_optional_int(row["reward_value_minor"]),
        redemption_id=_optional_int(row["redemption_id"]),
    )


@dataclass(frozen=True)
class Referrer:
    """The member a code belongs to, as the fraud rules need them."""

    id: int
    program_id: int
    customer_id: str
    email: str | None
    code: str


# --- settings ---------------------------------------------------------------------------------


async def get_settings(conn: BaseDBAsyncClient, program_id: int) -> ReferralSettingsRecord:
    row = await fetch_one(
        conn,
        f"SELECT {_SETTINGS_COLUMNS} FROM referral_settings WHERE program_id = ?",
        (program_id,),
    )
    return _settings(row) if row else _default_settings(program_id)


@dataclass(frozen=True)
class SideInput:
    points: int
    trigger: ReferralTrigger
    minimum_order_minor: int = 0
    max_orders: int = 1
    # A Reward of the program's catalogue, active when set.
    reward_id: int | None = None


@dataclass(frozen=True)
class UpdateReferralSettingsInput:
    """Settings to change; None leaves one as it is."""

    program_slug: str
    enabled: bool | None = None
    url_template: str | None = None
    referrer: SideInput | None = None
    friend: SideInput | None = None
    referrer_limit: int | None = None
    referrer_limit_period: LimitPeriod | None = None
    ip_weekly_threshold: int | None = None
    attach_window_days: int | None = None


def _check_side(check: Checker, field: list[str], side: SideInput) -> SideRule:
    check.int_range([*field, "points"], side.points, 0, MAX_REWARD_POINTS, ErrorCode.INVALID_POINTS)
    check.int_range(
        [*field, "minimumOrderMinor"],
        side.minimum_order_minor,
        0,
        MAX_AMOUNT_MINOR,
        ErrorCode.INVALID_AMOUNT,
    )
    check.int_range(
        [*field, "maxOrders"], side.max_orders, 1, MAX_REWARDED_ORDERS, ErrorCode.INVALID_VALUE
    )
    if side.trigger is not ReferralTrigger.EACH_ORDER and side.max_orders != 1:
        check.add(ErrorCode.INVALID_VALUE, "maxOrders belongs to EACH_ORDER", [*field, "maxOrders"])
    if side.trigger is ReferralTrigger.SIGNUP and side.minimum_order_minor:
        check.add(
            ErrorCode.INVALID_VALUE,
            "minimumOrderMinor belongs to the order triggers",
            [*field, "minimumOrderMinor"],
        )
    return SideRule(
        points=side.points,
        trigger=side.trigger,
        minimum_order_minor=side.minimum_order_minor,
        max_orders=side.max_orders,
        reward_id=side.reward_id,
    )


async def _check_catalogue_reward(
    check: Checker, field: list[str], program_id: int, rule: SideRule | None
) -> None:
    """A side's catalogue reward must be an active reward of the program."""
    if rule is None or rule.reward_id is None:
        return
    row = await fetch_one(
        connection(), "SELECT program_id, active FROM rewards WHERE id = ?", (rule.reward_id,)
    )
    if row is None or int(row["program_id"]) != program_id:
        check.add(
            ErrorCode.REWARD_NOT_FOUND, "no such reward in this program", [*field, "rewardId"]
        )
    elif not row["active"]:
        check.add(ErrorCode.REWARD_INACTIVE, "the reward is not active", [*field, "rewardId"])


async def update_settings(data: UpdateReferralSettingsInput) -> ReferralSettingsRecord:
    check = Checker()
    template = None
    if data.url_template is not None:
        template = data.url_template.strip()
        if len(template) > URL_TEMPLATE_MAX:
            check.add(
                ErrorCode.TOO_LONG,
                f"urlTemplate is longer than {URL_TEMPLATE_MAX} characters",
                ["input", "urlTemplate"],
            )
        elif template and not valid_url_template(template):
            check.add(
                ErrorCode.INVALID_VALUE,
                "urlTemplate must be an http(s) URL containing {code}",
                ["input", "urlTemplate"],
            )
    referrer = (
        None if data.referrer is None else _check_side(check, ["input", "referrer"], data.referrer)
    )
    friend = None if data.friend is None else _check_side(check, ["input", "friend"], data.friend)
    for name, value, high in (
        ("referrerLimit", data.referrer_limit, MAX_REFERRER_LIMIT),
        ("ipWeeklyThreshold", data.ip_weekly_threshold, MAX_IP_WEEKLY_THRESHOLD),
        ("attachWindowDays", data.attach_window_days, MAX_ATTACH_WINDOW_DAYS),
    ):
        if value is not None:
            check.int_range(["input", name], value, 0, high, ErrorCode.INVALID_VALUE)
    check.raise_if_any()
    program = await require_program(data.program_slug, None)
    await _check_catalogue_reward(check, ["input", "referrer"], program.id, referrer)
    await _check_catalogue_reward(check, ["input", "friend"], program.id, friend)
    check.raise_if_any()
    now = utc_now()
    async with in_transaction() as conn:
        await fetch_one(
            conn,
            "INSERT INTO referral_settings (program_id, enabled, url_template, referrer_points,"
            " referrer_trigger, referrer_minimum_order_minor, referrer_max_orders, friend_points,"
            " friend_trigger, friend_minimum_order_minor, friend_max_orders, referrer_limit,"
            " referrer_limit_period, ip_weekly_threshold, attach_window_days, signal_salt,"
            " created_at, updated_at)"
            " VALUES (?, ?, '', 0, 'FIRST_ORDER', 0, 1, 0, 'SIGNUP', 0, 1, 0, 'MONTH', 0, 7, ?,"
            " ?, ?) ON CONFLICT (program_id) DO NOTHING RETURNING id",
            (program.id, False, secrets.token_hex(16), now, now),
        )
        locked = await fetch_one(
            conn,
            "UPDATE referral_settings SET enabled = enabled WHERE program_id = ?"
            f" RETURNING {_SETTINGS_COLUMNS}",
            (program.id,),
        )
        assert locked is not None
        current = _settings(locked)
        merged = replace(
            current,
            enabled=current.enabled if data.enabled is None else data.enabled,
            url_template=current.url_template if template is None else template,
            referrer=referrer or current.referrer,
            friend=friend or current.friend,
            referrer_limit=current.referrer_limit
            if data.referrer_limit is None
            else data.referrer_limit,
            referrer_limit_period=data.referrer_limit_period or current.referrer_limit_period,
            ip_weekly_threshold=current.ip_weekly_threshold
            if data.ip_weekly_threshold is None
            else data.ip_weekly_threshold,
            attach_window_days=current.attach_window_days
            if data.attach_window_days is None
            else data.attach_window_days,
        )
        row = await fetch_one(
            conn,
            "UPDATE referral_settings SET enabled = ?, url_template = ?, referrer_points = ?,"
            " referrer_trigger = ?, referrer_minimum_order_minor = ?, referrer_max_orders = ?,"
            " friend_points = ?, friend_trigger = ?, friend_minimum_order_minor = ?,"
            " friend_max_orders = ?, referrer_limit = ?, referrer_limit_period = ?,"
            " ip_weekly_threshold = ?, attach_window_days = ?, updated_at = ?,"
            " referrer_reward_id = ?, friend_reward_id = ?"
            f" WHERE program_id = ? RETURNING {_SETTINGS_COLUMNS}",
            (
                merged.enabled,
                merged.url_template,
                merged.referrer.points,
                merged.referrer.trigger.value,
                merged.referrer.minimum_order_minor,
                merged.referrer.max_orders,
                merged.friend.points,
                merged.friend.trigger.value,
                merged.friend.minimum_order_minor,
                merged.friend.max_orders,
                merged.referrer_limit,
                merged.referrer_limit_period.value,
                merged.ip_weekly_threshold,
                merged.attach_window_days,
                now,
                merged.referrer.reward_id,
                merged.friend.reward_id,
                program.id,
            ),
        )
        assert row is not None
        await append_event(
            conn,
            program_id=program.id,
            member_id=None,
            event_type="referral_settings.updated",
            payload={"programId": encode_id("Program", program.id), "enabled": merged.enabled},
            now=now,
        )
    return _settings(row)


async def settings_of(program_id: int) -> ReferralSettingsRecord:
    return await get_settings(connection(), program_id)


# --- codes ------------------------------------------------------------------------------------


async def _code_of(conn: BaseDBAsyncClient, member_id: int) -> str | None:
    row = await fetch_one(conn, "SELECT code FROM referral_codes WHERE member_id = ?", (member_id,))
    return None if row is None else str(row["code"])


async def ensure_code(
    conn: BaseDBAsyncClient, program_id: int, member_id: int, now: datetime
) -> str:
    """The member's code, made now if they have none. A new code that collides with another
    member's is drawn again; two requests making one member's code at once agree on one."""
    for _ in range(MAX_CODE_ATTEMPTS):
        existing = await _code_of(conn, member_id)
        if existing is not None:
            return existing
        made = await fetch_one(
            conn,
            "INSERT INTO referral_codes (program_id, member_id, code, created_at)"
            " VALUES (?, ?, ?, ?) ON CONFLICT DO NOTHING RETURNING code",
            (program_id, member_id, new_code(), now),
        )
        if made is not None:
            return str(made["code"])
    raise RuntimeError(f"no free referral code for member {member_id}")


@dataclass(frozen=True)
class MemberReferralInfo:
    code: str | None
    link: str | None


async def member_code(member_id: int, program_id: int) -> MemberReferralInfo:
    """A member's code and link; made on first read while the program's referrals are on."""
    conn = connection()
    settings = await get_settings(conn, program_id)
    code = await _code_of(conn, member_id)
    if code is None and settings.enabled:
        async with in_transaction() as tx:
            code = await ensure_code(tx, program_id, member_id, utc_now())
    if code is None:
        return MemberReferralInfo(code=None, link=None)
    link = referral_link(settings.url_template, code) if settings.enabled else None
    return MemberReferralInfo(code=code, link=link)


async def resolve_code(program: ProgramRecord, raw: str, field: list[str]) -> Referrer:
    """The referrer behind a code of `program`; refuses malformed and unknown codes, and the
    codes of a program whose referrals are off or that is inactive. Writes nothing."""
    code = normalise_code(raw) if len(raw) <= CODE_INPUT_MAX else None
    if code is None:
        raise DomainError(ErrorCode.INVALID_VALUE, "this is not a referral code", field)
    settings = await get_settings(connection(), program.id)
    if not (program.active and settings.enabled):
        raise DomainError(
            ErrorCode.REFERRALS_DISABLED, f"referrals are off in {program.slug!r}", field
        )
    row = await fetch_one(
        connection(),
        "SELECT m.id, m.program_id, m.customer_id, m.email FROM referral_codes c"
        " JOIN members m ON m.id = c.member_id WHERE c.program_id = ? AND c.code = ?",
        (program.id, code),
    )
    if row is None:
        raise DomainError(ErrorCode.REFERRAL_CODE_NOT_FOUND, "no such referral code", field)
    return Referrer(
        id=int(row["id"]),
        program_id=int(row["program_id"]),
        customer_id=row["customer_id"],
        email=row["email"],
        code=code,
    )


def check_signals(check: Checker, signals: Signals | None, field: list[str]) -> None:
    if signals is None:
        return
    names = {
        "ip_address": "ipAddress",
        "device_id": "deviceId",
        "payment_fingerprint": "paymentFingerprint",
        "shipping_address_hash": "shippingAddressHash",
    }
    for attribute, name in names.items():
        value = getattr(signals, attribute)
        if value is not None:
            check.text([*field, name], value, SIGNAL_MAX, required=False)


# --- creating referrals -----------------------------------------------------------------------


@dataclass(frozen=True)
class _Friend:
    member_id: int | None
    customer_id: str | None
    email: str | None
    enrolled_at: datetime | None
    # Enrolled by the very request that names the referrer.
    just_enrolled: bool


async def _store_signals(
    conn: BaseDBAsyncClient,
    settings: ReferralSettingsRecord,
    member_id: int,
    hashes: list[tuple[SignalKind, str]],
    now: datetime,
) -> None:
    for kind, value_hash in hashes:
        await fetch_one(
            conn,
            "INSERT INTO member_signals (program_id, member_id, kind, value_hash, created_at)"
            " VALUES (?, ?, ?, ?, ?) ON CONFLICT DO NOTHING RETURNING id",
            (settings.program_id, member_id, kind.value, value_hash, now),
        )


def _hashes(
    settings: ReferralSettingsRecord, signals: Signals | None
) -> list[tuple[SignalKind, str]]:
    if signals is None or not settings.signal_salt:
        return []
    return [
        (kind, signal_hash(settings.signal_salt, kind, value)) for kind, value in signals.items()
    ]


async def _referrer_of(conn: BaseDBAsyncClient, member_id: int) -> int | None:
    """Who referred this member (a referral that was not refused at once)."""
    row = await fetch_one(
        conn,
        f"SELECT referrer_id FROM referrals WHERE friend_id = ? AND {_CLAIMED}"
        " AND state <> ? ORDER BY id LIMIT 1",
        (member_id, ReferralState.REJECTED.value),
    )
    return None if row is None else int(row["referrer_id"])


async def _rejection(
    conn: BaseDBAsyncClient,
    settings: ReferralSettingsRecord,
    referrer: Referrer,
    friend: _Friend,
    now: datetime,
) -> RejectionReason | None:
    if friend.member_id == referrer.id or (
        friend.customer_id is not None and friend.customer_id == referrer.customer_id
    ):
        return RejectionReason.SELF_REFERRAL
    if (
        friend.email is not None
        and referrer.email is not None
        and normalise_email(friend.email) == normalise_email(referrer.email)
    ):
        return RejectionReason.SELF_REFERRAL
    if friend.member_id is None:
        return None
    # A chain that would loop back: the friend referred the referrer, directly or further up.
    current: int | None = referrer.id
    for _ in range(MAX_CHAIN_DEPTH):
        current = await _referrer_of(conn, current) if current is not None else None
        if current is None:
            break
        if current == friend.member_id:
            return RejectionReason.REFERRAL_LOOP
    if friend.just_enrolled:
        return None
    orders = await fetch_one(
        conn, "SELECT id FROM orders WHERE member_id = ? LIMIT 1", (friend.member_id,)
    )
    if orders is not None:
        return RejectionReason.FRIEND_HAD_ORDERS
    assert friend.enrolled_at is not None
    if friend.enrolled_at < now - timedelta(days=settings.attach_window_days):
        return RejectionReason.FRIEND_ALREADY_MEMBER
    return None


async def _insert_referral(
    conn: BaseDBAsyncClient,
    *,
    settings: ReferralSettingsRecord,
    referrer: Referrer,
    friend: _Friend,
    claimed: bool,
    state: ReferralState,
    rejection: RejectionReason | None,
    source: str,
    ip_hash: str | None,
    now: datetime,
) -> ReferralRecord | None:
    """The new referral; None when `claimed` and another referral holds the friend."""
    claim_email = normalise_email(friend.email) if friend.email else None
    row = await fetch_one(
        conn,
        "INSERT INTO referrals (program_id, referrer_id, friend_id, friend_customer_id,"
        " friend_email, claim_customer_id, claim_email, state, rejection_reason, source,"
        " ip_hash, created_at, signed_up_at, rejected_at)"
        " VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)"
        f" ON CONFLICT DO NOTHING RETURNING {_COLUMNS}",
        (
            settings.program_id,
            referrer.id,
            friend.member_id,
            friend.customer_id,
            friend.email,
            friend.customer_id if claimed else None,
            claim_email if claimed else None,
            state.value,
            None if rejection is None else rejection.value,
            source,
            ip_hash,
            now,
            now if friend.member_id is not None else None,
            now if rejection is not None else None,
        ),
    )
    return None if row is None else _referral(row)


def _event_payload(referral: ReferralRecord, **extra: Any) -> dict[str, Any]:
    return {
        "referralId": encode_id("Referral", referral.id),
        "referrerId": encode_id("Member", referral.referrer_id),
        **(
            {}
            if referral.friend_id is None
            else {"friendId": encode_id("Member", referral.friend_id)}
        ),
        "state": referral.state.value,
        **extra,
    }


async def _event(
    conn: BaseDBAsyncClient, referral: ReferralRecord, event_type: str, now: datetime, **extra: Any
) -> None:
    await append_event(
        conn,
        program_id=referral.program_id,
        member_id=referral.referrer_id,
        event_type=event_type,
        payload=_event_payload(referral, **extra),
        now=now,
    )


async def _hold_reason(
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
        counted = await fetch_one(
            conn,
            f"SELECT COUNT(*) AS n FROM referrals WHERE referrer_id = ? AND {_CLAIMED}"
            " AND created_at >= ? AND created_at < ? AND id <> ?",
            (referral.referrer_id, start, end, referral.id),
        )
        assert counted is not None
        if int(counted["n"]) >= settings.referrer_limit:
            return HoldReason.REFERRER_LIMIT
    if settings.ip_weekly_threshold > 0 and ip_hash is not None:
        counted = await fetch_one(
            conn,
            "SELECT COUNT(*) AS n FROM referrals WHERE program_id = ? AND ip_hash = ?"
            " AND created_at > ? AND id <> ?",
            (settings.program_id, ip_hash, now - IP_WINDOW, referral.id),
        )
        assert counted is not None
        if int(counted["n"]) >= settings.ip_weekly_threshold:
            return HoldReason.IP_VELOCITY
    hashes = {value_hash for _, value_hash in friend_hashes}
    if referral.friend_id is not None:
        stored = await fetch_all(
            conn, "SELECT value_hash FROM member_signals WHERE member_id = ?", (referral.friend_id,)
        )
        hashes |= {row["value_hash"] for row in stored}
    if hashes:
        referrer_hashes = await fetch_all(
            conn,
            "SELECT value_hash FROM member_signals WHERE member_id = ?",
            (referral.referrer_id,),
        )
        if hashes & {row["value_hash"] for row in referrer_hashes}:
            return HoldReason.SHARED_SIGNAL
    return None


async def _hold(
    conn: BaseDBAsyncClient, referral: ReferralRecord, reason: HoldReason, now: datetime
) -> ReferralRecord:
    row = await fetch_one(
        conn,
        "UPDATE referrals SET state = ?, hold_reason = ?, held_at = ? WHERE id = ?"
        f" RETURNING {_COLUMNS}",
        (ReferralState.HELD.value, reason.value, now, referral.id),
    )
    assert row is not None
    held = _referral(row)
    await _event(conn, held, "referral.held", now, reason=reason.value)
    return held


async def _create(
    conn: BaseDBAsyncClient,
    *,
    settings: ReferralSettingsRecord,
    referrer: Referrer,
    friend: _Friend,
    friend_signals: Signals | None,
    source: str,
    now: datetime,
) -> ReferralRecord:
    """Create a referral inside the caller's transaction (the referrer's row is locked):
    rejected, invited, held or signed up with its sign-up rewards paid."""
    friend_hashes = _hashes(settings, friend_signals)
    ip_hash = next((h for kind, h in friend_hashes if kind is SignalKind.IP_ADDRESS), None)
    if friend.member_id is not None:
        await _store_signals(conn, settings, friend.member_id, friend_hashes, now)
    rejection = await _rejection(conn, settings, referrer, friend, now)
    referral = None
    if rejection is None:
        referral = await _insert_referral(
            conn,
            settings=settings,
            referrer=referrer,
            friend=friend,
            claimed=True,
            state=ReferralState.INVITED if friend.member_id is None else ReferralState.SIGNED_UP,
            rejection=None,
            source=source,
            ip_hash=ip_hash,
            now=now,
        )
        if referral is None:
            rejection = RejectionReason.ALREADY_REFERRED
    if referral is None:
        assert rejection is not None
        rejected = await _insert_referral(
            conn,
            settings=settings,
            referrer=referrer,
            friend=friend,
            claimed=False,
            state=ReferralState.REJECTED,
            rejection=rejection,
            source=source,
            ip_hash=ip_hash,
            now=now,
        )
        assert rejected is not None
        await _event(conn, rejected, "referral.rejected", now, reason=rejection.value)
        return rejected
    await _event(conn, referral, "referral.created", now)
    hold = await _hold_reason(conn, settings, referral, friend_hashes, ip_hash, now)
    if hold is not None:
        return await _hold(conn, referral, hold, now)
    if referral.state is ReferralState.SIGNED_UP:
        await _event(conn, referral, "referral.signed_up", now)
        referral = await _after_signup(conn, settings, referral, now)
    return referral


# --- rewards ----------------------------------------------------------------------------------


async def _pay(
    conn: BaseDBAsyncClient,
    *,
    referral: ReferralRecord,
    side: ReferralSide,
    rule: SideRule,
    trigger_ref: str,
    order_pk: int | None,
    pending_until: datetime | None,
    description: str,
    now: datetime,
) -> bool:
    """Pay one side once per trigger: its points, and its catalogue reward once the reward is
    final (now, or when `settle_reward` ends the pending period). False when it was paid
    before or the member opted out."""
    member_id = referral.referrer_id if side is ReferralSide.REFERRER else referral.friend_id
    assert member_id is not None
    member = await fetch_one(conn, "SELECT opted_out_at FROM members WHERE id = ?", (member_id,))
    if member is None or member["opted_out_at"] is not None:
        return False
    status = RewardStatus.PENDING if pending_until is not None else RewardStatus.PAID
    # The member's tier (or paid membership) multiplier when the reward is earned, as on
    # purchases and actions; what the row records is what the ledger gets (and a reversal takes).
    points = multiplied_points(
        rule.points, await member_multiplier(conn, referral.program_id, member_id, now)
    )
    reward = await fetch_one(
        conn,
        "INSERT INTO referral_rewards (program_id, referral_id, member_id, side, trigger_ref,"
        " order_id, points, status, transaction_id, available_at, created_at, settled_at,"
        " reward_id, reward_status)"
        " VALUES (?, ?, ?, ?, ?, ?, ?, ?, NULL, ?, ?, ?, ?, ?) ON CONFLICT DO NOTHING"
        " RETURNING id",
        (
            referral.program_id,
            referral.id,
            member_id,
            side.value,
            trigger_ref,
            order_pk,
            points,
            status.value,
            pending_until,
            now,
            None if pending_until is not None else now,
            rule.reward_id,
            None if rule.reward_id is None else CatalogueRewardStatus.PENDING.value,
        ),
    )
    if reward is None:
        return False
    if points > 0:
        await _pay_points(
            conn,
            referral=referral,
            side=side,
            reward_pk=int(reward["id"]),
            member_id=member_id,
            points=points,
            pending_until=pending_until,
            description=description,
            now=now,
        )
    if rule.reward_id is not None and pending_until is None:
        await _give_catalogue_reward(conn, int(reward["id"]), now)
    return True


async def _pay_points(
    conn: BaseDBAsyncClient,
    *,
    referral: ReferralRecord,
    side: ReferralSide,
    reward_pk: int,
    member_id: int,
    points: int,
    pending_until: datetime | None,
    description: str,
    now: datetime,
) -> None:
    posted = await post_movement(
        conn,
        Movement(
            program_id=referral.program_id,
            member_id=member_id,
            kind=TransactionKind.REFERRAL,
            points=points,
            counter_account=Account.PROGRAM_ISSUED,
            member_account=Account.MEMBER_PENDING
            if pending_until is not None
            else Account.MEMBER_AVAILABLE,
            pending_until=pending_until,
            description=description,
            event_details={
                "referralId": encode_id("Referral", referral.id),
                "side": side.value,
            },
        ),
        now,
    )
    await fetch_one(
        conn,
        "UPDATE referral_rewards SET transaction_id = ? WHERE id = ? RETURNING id",
        (posted.transaction_id, reward_pk),
    )


async def _give_catalogue_reward(conn: BaseDBAsyncClient, reward_pk: int, now: datetime) -> bool:
    """Give the PENDING catalogue reward of a referral reward, in the caller's transaction
    (`give_reward`). Out of stock or inactive: FAILED with the reason, nothing moves. True when
    it was given.
    """
    claimed = await fetch_one(
        conn,
        "SELECT rr.program_id, rr.referral_id, rr.member_id, rr.side, rr.reward_id"
        " FROM referral_rewards rr WHERE rr.id = ? AND rr.reward_status = ?",
        (reward_pk, CatalogueRewardStatus.PENDING.value),
    )
    if claimed is None or claimed["reward_id"] is None:
        return False
    member_id = int(claimed["member_id"])
    program_id = int(claimed["program_id"])
    referral_gid = encode_id("Referral", int(claimed["referral_id"]))
    given = await give_reward(
        conn,
        GiveReward(
            program_id=program_id,
            member_id=member_id,
            reward_id=int(claimed["reward_id"]),
            kind=TransactionKind.REFERRAL,
            reason="Referral reward",
            event_details={"referralId": referral_gid, "side": claimed["side"]},
        ),
        now,
    )
    if isinstance(given, RewardUnavailable):
        await fetch_one(
            conn,
            "UPDATE referral_rewards SET reward_status = ?, reward_failure = ? WHERE id = ?"
            " RETURNING id",
            (CatalogueRewardStatus.FAILED.value, given.value, reward_pk),
        )
        await append_event(
            conn,
            program_id=program_id,
            member_id=member_id,
            event_type="referral.reward_failed",
            payload={
                "referralId": referral_gid,
                "memberId": encode_id("Member", member_id),
                "side": claimed["side"],
                "rewardId": encode_id("Reward", int(claimed["reward_id"])),
                "reason": given.value,
            },
            now=now,
        )
        return False
    await fetch_one(
        conn,
        "UPDATE referral_rewards SET reward_status = ?, reward_failure = NULL,"
        " reward_value_minor = ?, redemption_id = ? WHERE id = ? RETURNING id",
        (
            CatalogueRewardStatus.GIVEN.value,
            given.value_minor,
            given.redemption_id,
            reward_pk,
        ),
    )
    return True


async def _set_state(
    conn: BaseDBAsyncClient,
    referral: ReferralRecord,
    state: ReferralState,
    now: datetime,
    *,
    qualified: bool = False,
) -> ReferralRecord:
    row = await fetch_one(
        conn,
        f"UPDATE referrals SET state = ?, qualified_at = ?, rewarded_at = ? WHERE id = ?"
        f" RETURNING {_COLUMNS}",
        (
            state.value,
            now if qualified else referral.qualified_at,
            now if state is ReferralState.REWARDED else referral.rewarded_at,
            referral.id,
        ),
    )
    assert row is not None
    updated = _referral(row)
    if qualified:
        await _event(conn, updated, "referral.qualified", now)
    if state is ReferralState.REWARDED:
        await _event(conn, updated, "referral.rewarded", now)
        # A successful referral counts for the referrer's tier (REFERRALS metric).
        await on_tier_activity(
            conn,
            program_id=updated.program_id,
            member_id=updated.referrer_id,
            reason=TierChangeReason.REFERRAL,
            now=now,
        )
    return updated


async def _after_signup(
    conn: BaseDBAsyncClient,
    settings: ReferralSettingsRecord,
    referral: ReferralRecord,
    now: datetime,
) -> ReferralRecord:
    """Sign-up rewards of a SIGNED_UP referral; a SIGNUP trigger of the referrer completes it."""
    if settings.friend.rewards and settings.friend.trigger is ReferralTrigger.SIGNUP:
        await _pay(
            conn,
            referral=referral,
            side=ReferralSide.FRIEND,
            rule=settings.friend,
            trigger_ref=SIGNUP_REF,
            order_pk=None,
            pending_until=None,
            description="Welcome reward for joining through a referral",
            now=now,
        )
    if settings.referrer.rewards and settings.referrer.trigger is ReferralTrigger.SIGNUP:
        await _pay(
            conn,
            referral=referral,
            side=ReferralSide.REFERRER,
            rule=settings.referrer,
            trigger_ref=SIGNUP_REF,
            order_pk=None,
            pending_until=None,
            description="Referral reward: a friend joined",
            now=now,
        )
        referral = await _set_state(conn, referral, ReferralState.REWARDED, now, qualified=True)
    return referral


@dataclass(frozen=True)
class _OrderFacts:
    pk: int
    value_minor: int
    placed_at: datetime


async def _rewarded_orders(conn: BaseDBAsyncClient, referral_id: int, side: ReferralSide) -> int:
    counted = await fetch_one(
        conn,
        "SELECT COUNT(*) AS n FROM referral_rewards WHERE referral_id = ? AND side = ?"
        " AND order_id IS NOT NULL",
        (referral_id, side.value),
    )
    assert counted is not None
    return int(counted["n"])


async def _apply_order(
    conn: BaseDBAsyncClient,
    settings: ReferralSettingsRecord,
    referral: ReferralRecord,
    order: _OrderFacts,
    pending_days: int,
    now: datetime,
) -> ReferralRecord:
    """Rewards one order of the friend earns each side; the referrer's first makes the
    referral QUALIFIED (REWARDED at once when the order's return window is already over).
    Every rewarded order uses up a slot, also when a refund cancels it later."""
    # Both members before anything else: giving the friend a stocked reward takes the
    # program's reward lock (`reward_gifts.lock_reward_rows`), after which no other member
    # row may be locked, or this waits on the referrer while the referrer's own order waits
    # on that lock.
    await lock_member(conn, referral.referrer_id)
    until = order.placed_at + timedelta(days=pending_days)
    pending_until = until if until > now else None
    for side, rule, description in (
        (ReferralSide.FRIEND, settings.friend, "Referral reward for your order"),
        (ReferralSide.REFERRER, settings.referrer, "Referral reward: a friend's order"),
    ):
        if not rule.order_counts(
            order.value_minor, await _rewarded_orders(conn, referral.id, side)
        ):
            continue
        paid = await _pay(
            conn,
            referral=referral,
            side=side,
            rule=rule,
            trigger_ref=f"order:{order.pk}",
            order_pk=order.pk,
            pending_until=pending_until,
            description=description,
            now=now,
        )
        if paid and side is ReferralSide.REFERRER and referral.state is ReferralState.SIGNED_UP:
            referral = await _set_state(
                conn,
                referral,
                ReferralState.QUALIFIED if pending_until else ReferralState.REWARDED,
                now,
                qualified=True,
            )
    return referral


async def on_order_recorded(
    conn: BaseDBAsyncClient,
    *,
    program: ProgramRecord,
    member_id: int,
    order_pk: int,
    total_minor: int,
    currency: str,
    exchange_rate: str | None,
    placed_at: datetime,
    now: datetime,
) -> None:
    """The hook of `record_order`, in its transaction: rewards the friend's order earns.
    One indexed read when the member was not referred."""
    row = await fetch_one(
        conn,
        f"SELECT {_COLUMNS} FROM referrals WHERE friend_id = ? AND state IN (?, ?, ?)"
        " ORDER BY id LIMIT 1",
        (
            member_id,
            ReferralState.SIGNED_UP.value,
            ReferralState.QUALIFIED.value,
            ReferralState.REWARDED.value,
        ),
    )
    if row is None:
        return
    rate = None if exchange_rate is None else parse_exchange_rate(exchange_rate)
    value = (
        total_minor
        if rate is None or currency == program.currency
        else convert_minor(total_minor, currency, program.currency, rate)
    )
    await _apply_order(
        conn,
        await get_settings(conn, program.id),
        _referral(row),
        _OrderFacts(pk=order_pk, value_minor=value, placed_at=placed_at),
        program.pending_days,
        now,
    )


async def on_order_fulfilled(
    conn: BaseDBAsyncClient, *, order_pk: int, pending_until: datetime
) -> None:
    """The hook of `report_order_progress`: delivery restarts the return window of the
    referral rewards of the order too (never earlier than they were due)."""
    rows = await fetch_all(
        conn,
        "SELECT id, transaction_id FROM referral_rewards WHERE order_id = ? AND status = ?"
        " AND available_at < ?",
        (order_pk, RewardStatus.PENDING.value, pending_until),
    )
    for reward in rows:
        await fetch_one(
            conn,
            "UPDATE referral_rewards SET available_at = ? WHERE id = ? RETURNING id",
            (pending_until, reward["id"]),
        )
        await fetch_one(
            conn,
            "UPDATE point_lots SET pending_until = ? WHERE transaction_id = ?"
            " AND pending_until IS NOT NULL RETURNING id",
            (pending_until, reward["transaction_id"]),
        )


async def on_order_refunded(
    conn: BaseDBAsyncClient, *, order_pk: int, fully_refunded: bool, now: datetime
) -> None:
    """The hook of `refund_order`, in its transaction: a fully refunded (or cancelled) order
    cancels the referral rewards it earned that are still pending; a referral whose referrer
    reward is thereby gone is REJECTED (QUALIFYING_ORDER_REFUNDED). Final rewards stay."""
    if not fully_refunded:
        return
    rows = await fetch_all(
        conn,
        "SELECT id, referral_id, member_id, transaction_id, available_at FROM referral_rewards"
        " WHERE order_id = ? AND status = ? ORDER BY id",
        (order_pk, RewardStatus.PENDING.value),
    )
    touched: set[int] = set()
    for reward in rows:
        # The member, then the reward row, then the lot: the order settling takes them in.
        await lock_member(conn, int(reward["member_id"]))
        still_pending = await fetch_one(
            conn,
            "UPDATE referral_rewards SET status = status WHERE id = ? AND status = ? RETURNING id",
            (reward["id"], RewardStatus.PENDING.value),
        )
        if still_pending is None:
            continue
        lot = None
        if reward["transaction_id"] is not None:
            # The lot's row lock keeps the maturing job off it until we are done.
            lot = await fetch_one(
                conn,
                "UPDATE point_lots SET remaining = remaining WHERE transaction_id = ?"
                " AND pending_until IS NOT NULL RETURNING id, program_id, remaining",
                (reward["transaction_id"],),
            )
            if lot is None:
                # Matured already: the reward is final.
                await settle_reward(conn, int(reward["id"]), now)
                continue
        elif as_datetime(reward["available_at"]) <= now:
            # A catalogue reward alone whose pending period is over: final.
            await settle_reward(conn, int(reward["id"]), now)
            continue
        cancelled = await fetch_one(
            conn,
            "UPDATE referral_rewards SET status = ?, settled_at = ?,"
            " reward_status = CASE WHEN reward_status = ? THEN ? ELSE reward_status END"
            " WHERE id = ? AND status = ? RETURNING id",
            (
                RewardStatus.CANCELLED.value,
                now,
                CatalogueRewardStatus.PENDING.value,
                CatalogueRewardStatus.CANCELLED.value,
                reward["id"],
                RewardStatus.PENDING.value,
            ),
        )
        if cancelled is None:
            continue
        if lot is not None and int(lot["remaining"]) > 0:
            await post_movement(
                conn,
                Movement(
                    program_id=int(lot["program_id"]),
                    member_id=int(reward["member_id"]),
                    kind=TransactionKind.REFUND,
                    points=-int(lot["remaining"]),
                    counter_account=Account.PROGRAM_ISSUED,
                    member_account=Account.MEMBER_PENDING,
                    lot_id=int(lot["id"]),
                    description="Referral reward cancelled: the order was refunded",
                    event_details={"referralId": encode_id("Referral", int(reward["referral_id"]))},
                ),
                now,
            )
        touched.add(int(reward["referral_id"]))
    for referral_id in sorted(touched):
        left = await fetch_one(
            conn,
            "SELECT COUNT(*) AS n FROM referral_rewards WHERE referral_id = ? AND side = ?"
            " AND status <> ?",
            (referral_id, ReferralSide.REFERRER.value, RewardStatus.CANCELLED.value),
        )
        assert left is not None
        if int(left["n"]) > 0:
            continue
        row = await fetch_one(
            conn,
            "UPDATE referrals SET state = ?, rejection_reason = ?, rejected_at = ?"
            f" WHERE id = ? AND state = ? RETURNING {_COLUMNS}",
            (
                ReferralState.REJECTED.value,
                RejectionReason.QUALIFYING_ORDER_REFUNDED.value,
                now,
                referral_id,
                ReferralState.QUALIFIED.value,
            ),
        )
        if row is not None:
            await _event(
                conn,
                _referral(row),
                "referral.rejected",
                now,
                reason=RejectionReason.QUALIFYING_ORDER_REFUNDED.value,
            )


async def settle_reward(conn: BaseDBAsyncClient, reward_id: int, now: datetime) -> bool:
    """Make a due pending reward final (maturing its points if the maturing job has not yet,
    and giving its catalogue reward); the referrer's makes its referral REWARDED. False when it
    was settled (or cancelled) already."""
    # Locks in one order everywhere: the member, then the reward row, then the lot (maturing
    # and refunds take the member before the lot too), so settling cannot deadlock with them.
    owner = await fetch_one(
        conn, "SELECT member_id FROM referral_rewards WHERE id = ?", (reward_id,)
    )
    if owner is None:
        return False
    await lock_member(conn, int(owner["member_id"]))
    claimed = await fetch_one(
        conn,
        "UPDATE referral_rewards SET status = ?, settled_at = ? WHERE id = ? AND status = ?"
        " AND available_at <= ? RETURNING referral_id, side, transaction_id",
        (RewardStatus.PAID.value, now, reward_id, RewardStatus.PENDING.value, now),
    )
    if claimed is None:
        return False
    if claimed["transaction_id"] is not None:
        lot = await fetch_one(
            conn,
            "SELECT id FROM point_lots WHERE transaction_id = ? AND pending_until IS NOT NULL",
            (claimed["transaction_id"],),
        )
        if lot is not None:
            await mature_lot(conn, int(lot["id"]), now)
    await _give_catalogue_reward(conn, reward_id, now)
    if claimed["side"] == ReferralSide.REFERRER.value:
        row = await fetch_one(
            conn,
            f"SELECT {_COLUMNS} FROM referrals WHERE id = ? AND state = ?",
            (claimed["referral_id"], ReferralState.QUALIFIED.value),
        )
        if row is not None:
            await _set_state(conn, _referral(row), ReferralState.REWARDED, now)
    return True


# --- enrolment and recordReferral -------------------------------------------------------------


async def on_member_enrolled(
    conn: BaseDBAsyncClient,
    *,
    program: ProgramRecord,
    member_id: int,
    customer_id: str,
    email: str | None,
    referrer: Referrer | None,
    signals: Signals | None,
    now: datetime,
) -> bool:
    """The hook of `enroll_member`, in its transaction: the member's code, their signals, an
    invitation waiting for them, and the referral of the code they came with. True when points
    moved."""
    settings = await get_settings(conn, program.id)
    if settings.enabled:
        await ensure_code(conn, program.id, member_id, now)
    hashes = _hashes(settings, signals)
    await _store_signals(conn, settings, member_id, hashes, now)
    moved = False
    invitation = await fetch_one(
        conn,
        f"SELECT {_COLUMNS} FROM referrals WHERE program_id = ? AND friend_id IS NULL"
        " AND state IN (?, ?) AND (claim_customer_id = ? OR claim_email = ?)"
        " ORDER BY id LIMIT 1",
        (
            program.id,
            ReferralState.INVITED.value,
            ReferralState.HELD.value,
            customer_id,
            normalise_email(email) if email else None,
        ),
    )
    if invitation is not None:
        invited = _referral(invitation)
        await lock_member(conn, invited.referrer_id)
        row = await fetch_one(
            conn,
            "UPDATE referrals SET friend_id = ?, signed_up_at = ?,"
            " state = CASE WHEN state = ? THEN ? ELSE state END,"
            " ip_hash = COALESCE(ip_hash, ?) WHERE id = ?"
            f" RETURNING {_COLUMNS}",
            (
                member_id,
                now,
                ReferralState.INVITED.value,
                ReferralState.SIGNED_UP.value,
                next((h for kind, h in hashes if kind is SignalKind.IP_ADDRESS), None),
                invited.id,
            ),
        )
        assert row is not None
        signed_up = _referral(row)
        if signed_up.state is ReferralState.SIGNED_UP:
            await _event(conn, signed_up, "referral.signed_up", now)
            new_ip = None
            if invited.ip_hash is None:
                new_ip = signed_up.ip_hash
            hold = await _hold_reason(
                conn, settings, signed_up, hashes, new_ip, now, at_creation=False
            )
            if hold is not None:
                await _hold(conn, signed_up, hold, now)
            else:
                await _after_signup(conn, settings, signed_up, now)
                moved = True
        if referrer is not None and referrer.id == invited.referrer_id:
            # The code of the one who invited them: the invitation is that referral.
            return moved
    if referrer is not None:
        await lock_member(conn, referrer.id)
        await _create(
            conn,
            settings=settings,
            referrer=referrer,
            friend=_Friend(
                member_id=member_id,
                customer_id=customer_id,
                email=email,
                enrolled_at=now,
                just_enrolled=True,
            ),
            friend_signals=signals,
            source=SOURCE_ENROLMENT,
            now=now,
        )
        moved = True
    return moved


@dataclass(frozen=True)
class RecordReferralInput:
    program_slug: str
    referral_code: str
    idempotency_key: str
    friend_customer_id: str | None = None
    friend_email: str | None = None
    friend_signals: Signals | None = None
    referrer_signals: Signals | None = None


@dataclass(frozen=True)
class RecordedReferral:
    referral: ReferralRecord
    replayed: bool


def _signals_json(signals: Signals | None) -> list[list[str]]:
    return [] if signals is None else [[kind.value, value] for kind, value in signals.items()]


async def record_referral(data: RecordReferralInput, scope: ProgramScope) -> RecordedReferral:
    """The store attaches a referral: an invitation of a friend who is not a member yet, or a
    member who enrolled within the attach window without orders. Refusals by a fraud rule are
    recorded and returned as REJECTED referrals, not errors."""
    check = Checker()
    check.text(["input", "idempotencyKey"], data.idempotency_key, IDEMPOTENCY_KEY_MAX)
    check.text(["input", "referralCode"], data.referral_code, CODE_INPUT_MAX)
    customer_id = check.text(
        ["input", "friendCustomerId"], data.friend_customer_id, EXTERNAL_ID_MAX, required=False
    )
    email = check.text(["input", "friendEmail"], data.friend_email, EMAIL_MAX, required=False)
    if email is not None and ("@" not in email or email.startswith("@") or " " in email):
        check.add(
            ErrorCode.INVALID_VALUE, "friendEmail is not an email address", ["input", "friendEmail"]
        )
    if customer_id is None and email is None:
        check.add(
            ErrorCode.REQUIRED,
            "give friendCustomerId or friendEmail",
            ["input", "friendCustomerId"],
        )
    check_signals(check, data.friend_signals, ["input", "friendSignals"])
    check_signals(check, data.referrer_signals, ["input", "referrerSignals"])
    check.raise_if_any()
    program = await require_program(data.program_slug, scope)
    referrer = await resolve_code(program, data.referral_code, ["input", "referralCode"])
    if customer_id is not None:
        member = await fetch_one(
            connection(),
            "SELECT id, customer_id, email, enrolled_at FROM members"
            " WHERE program_id = ? AND customer_id = ?",
            (program.id, customer_id),
        )
    else:
        member = await fetch_one(
            connection(),
            "SELECT id, customer_id, email, enrolled_at FROM members"
            " WHERE program_id = ? AND LOWER(email) = ? ORDER BY id LIMIT 1",
            (program.id, (email or "").lower()),
        )
    friend = _Friend(
        member_id=None if member is None else int(member["id"]),
        customer_id=customer_id if member is None else member["customer_id"],
        email=email if member is None or email else member["email"],
        enrolled_at=None if member is None else as_datetime(member["enrolled_at"]),
        just_enrolled=False,
    )
    fingerprint = idempotency.request_fingerprint(
        _RECORD_OPERATION,
        {
            "code": referrer.code,
            "friendCustomerId": customer_id,
            "friendEmail": email,
            "friendSignals": _signals_json(data.friend_signals),
            "referrerSignals": _signals_json(data.referrer_signals),
        },
    )
    now = utc_now()
    scope_key = str(program.id)
    async with in_transaction() as conn:
        stored = await idempotency.claim(
            conn,
            scope=scope_key,
            key=data.idempotency_key,
            operation=_RECORD_OPERATION,
            fingerprint=fingerprint,
            now=now,
        )
        if stored is not None:
            replayed = await _get(conn, int(stored["referralId"]), None)
            assert replayed is not None
            return RecordedReferral(referral=replayed, replayed=True)
        await lock_member(conn, referrer.id)
        settings = await get_settings(conn, program.id)
        await _store_signals(
            conn, settings, referrer.id, _hashes(settings, data.referrer_signals), now
        )
        referral = await _create(
            conn,
            settings=settings,
            referrer=referrer,
            friend=friend,
            friend_signals=data.friend_signals,
            source=SOURCE_RECORDED,
            now=now,
        )
        await idempotency.store_response(
            conn, scope=scope_key, key=data.idempotency_key, response={"referralId": referral.id}
        )
    return RecordedReferral(referral=referral, replayed=False)


# --- admin review -----------------------------------------------------------------------------


@dataclass(frozen=True)
class ReviewReferralInput:
    referral_id: int
    approve: bool
    idempotency_key: str | None = None
    note: str | None = None


async def review_referral(data: ReviewReferralInput) -> RecordedReferral:
    """Approve a held referral (it continues where it stands, and every reward it earned while
    held follows: sign-up rewards and the friend's orders so far) or reject it."""
    check = Checker()
    if data.approve or data.idempotency_key is not None:
        check.text(["input", "idempotencyKey"], data.idempotency_key, IDEMPOTENCY_KEY_MAX)
    note = check.text(["input", "note"], data.note, REASON_MAX, required=False)
    check.raise_if_any()
    existing = await _get(connection(), data.referral_id, None)
    if existing is None:
        raise DomainError(ErrorCode.REFERRAL_NOT_FOUND, "no such referral", ["input", "id"])
    operation = _APPROVE_OPERATION if data.approve else "rejectReferral"
    fingerprint = idempotency.request_fingerprint(
        operation, {"referralId": existing.id, "note": note}
    )
    now = utc_now()
    scope_key = str(existing.program_id)
    async with in_transaction() as conn:
        if data.idempotency_key is not None:
            stored = await idempotency.claim(
                conn,
                scope=scope_key,
                key=data.idempotency_key,
                operation=operation,
                fingerprint=fingerprint,
                now=now,
            )
            if stored is not None:
                replayed = await _get(conn, existing.id, None)
                assert replayed is not None
                return RecordedReferral(referral=replayed, replayed=True)
        await lock_member(conn, existing.referrer_id)
        locked = await fetch_one(
            conn,
            f"UPDATE referrals SET state = state WHERE id = ? RETURNING {_COLUMNS}",
            (existing.id,),
        )
        assert locked is not None
        referral = _referral(locked)
        if referral.state is not ReferralState.HELD:
            raise DomainError(
                ErrorCode.REFERRAL_NOT_HELD,
                f"the referral is {referral.state.value}, not HELD",
                ["input", "id"],
            )
        if data.approve:
            state = ReferralState.INVITED if referral.friend_id is None else ReferralState.SIGNED_UP
            row = await fetch_one(
                conn,
                "UPDATE referrals SET state = ?, review_note = ?, reviewed_at = ? WHERE id = ?"
                f" RETURNING {_COLUMNS}",
                (state.value, note, now, referral.id),
            )
            assert row is not None
            referral = _referral(row)
            await _event(conn, referral, "referral.approved", now)
            if referral.friend_id is not None:
                referral = await _catch_up(conn, referral, now)
        else:
            row = await fetch_one(
                conn,
                "UPDATE referrals SET state = ?, rejection_reason = ?, rejected_at = ?,"
                f" review_note = ?, reviewed_at = ? WHERE id = ? RETURNING {_COLUMNS}",
                (
                    ReferralState.REJECTED.value,
                    RejectionReason.REJECTED_BY_ADMIN.value,
                    now,
                    note,
                    now,
                    referral.id,
                ),
            )
            assert row is not None
            referral = _referral(row)
            await _event(
                conn,
                referral,
                "referral.rejected",
                now,
                reason=RejectionReason.REJECTED_BY_ADMIN.value,
            )
        if data.idempotency_key is not None:
            await idempotency.store_response(
                conn,
                scope=scope_key,
                key=data.idempotency_key,
                response={"referralId": referral.id},
            )
    return RecordedReferral(referral=referral, replayed=False)


async def _catch_up(
    conn: BaseDBAsyncClient, referral: ReferralRecord, now: datetime
) -> ReferralRecord:
    """An approved referral earns what it would have: sign-up rewards, then the friend's
    orders that are not refunded, oldest first."""
    program = await fetch_one(
        conn, "SELECT currency, pending_days FROM programs WHERE id = ?", (referral.program_id,)
    )
    assert program is not None
    settings = await get_settings(conn, referral.program_id)
    referral = await _after_signup(conn, settings, referral, now)
    orders = await fetch_all(
        conn,
        "SELECT id, total_minor, currency, exchange_rate, placed_at FROM orders"
        " WHERE member_id = ? AND status NOT IN ('REFUNDED', 'CANCELLED') ORDER BY placed_at, id",
        (referral.friend_id,),
    )
    for order in orders:
        rate = (
            None if order["exchange_rate"] is None else parse_exchange_rate(order["exchange_rate"])
        )
        value = int(order["total_minor"])
        if rate is not None and order["currency"] != program["currency"]:
            value = convert_minor(value, order["currency"], program["currency"], rate)
        referral = await _apply_order(
            conn,
            settings,
            referral,
            _OrderFacts(
                pk=int(order["id"]), value_minor=value, placed_at=as_datetime(order["placed_at"])
            ),
            int(program["pending_days"]),
            now,
        )
    return referral


# --- reads ------------------------------------------------------------------------------------


async def _get(
    conn: BaseDBAsyncClient, referral_id: int, scope: ProgramScope
) -> ReferralRecord | None:
    row = await fetch_one(conn, f"SELECT {_COLUMNS} FROM referrals WHERE id = ?", (referral_id,))
    if row is None or not in_scope(int(row["program_id"]), scope):
        return None
    return _referral(row)


async def get_referral(referral_id: int, scope: ProgramScope) -> ReferralRecord | None:
    return await _get(connection(), referral_id, scope)


async def list_referrals(
    program_id: int,
    *,
    referrer_id: int | None = None,
    state: ReferralState | None = None,
    before_id: int | None,
    limit: int,
) -> list[ReferralRecord]:
    """Newest first, by keyset on the id."""
    where = "program_id = ? AND id < ?"
    params: list[Any] = [program_id, before_id if before_id is not None else _NO_CURSOR]
    if referrer_id is not None:
        where += " AND referrer_id = ?"
        params.append(referrer_id)
    if state is not None:
        where += " AND state = ?"
        params.append(state.value)
    rows = await fetch_all(
        connection(),
        f"SELECT {_COLUMNS} FROM referrals WHERE {where} ORDER BY id DESC LIMIT ?",
        (*params, limit),
    )
    return [_referral(row) for row in rows]


async def referral_of_friend(member_id: int) -> ReferralRecord | None:
    """The referral that counts for this member as a friend, else the last refused one."""
    row = await fetch_one(
        connection(),
        f"SELECT {_COLUMNS} FROM referrals WHERE friend_id = ?"
        f" ORDER BY CASE WHEN {_CLAIMED} THEN 0 ELSE 1 END, id DESC LIMIT 1",
        (member_id,),
    )
    return None if row is None else _referral(row)


async def rewards_of(referral_id: int) -> list[ReferralRewardRecord]:
    rows = await fetch_all(
        connection(),
        f"SELECT {_REWARD_COLUMNS} FROM referral_rewards WHERE referral_id = ? ORDER BY id",
        (referral_id,),
    )
    return [_reward(row) for row in rows]


# --- numbers ----------------------------------------------------------------------------------


@dataclass(frozen=True)
class Advocate:
    member_id: int
    qualified: int
    points: int


@dataclass(frozen=True)
class ReferralStats:
    invitations: int
    sign_ups: int
    qualified: int
    conversion_rate: float
    points_paid: int
    points_pending: int
    points_cancelled: int
    # The face value of the catalogue rewards given (program currency, minor units).
    money_paid_minor: int
    catalogue_rewards: dict[str, int]
    held_by_reason: dict[str, int]
    rejected_by_reason: dict[str, int]
    top_advocates: list[Advocate]


async def _count(statement: str, params: tuple[Any, ...]) -> int:
    row = await fetch_one(connection(), statement, params)
    assert row is not None
    return int(row["n"] or 0)


async def _by_reason(
    column: str, at: str, program_id: int, start: datetime, end: datetime
) -> dict[str, int]:
    rows = await fetch_all(
        connection(),
        f"SELECT {column} AS reason, COUNT(*) AS n FROM referrals WHERE program_id = ?"
        f" AND {at} >= ? AND {at} < ? AND {column} IS NOT NULL GROUP BY {column}",
        (program_id, start, end),
    )
    return {str(row["reason"]): int(row["n"]) for row in rows}


async def referral_stats(program_id: int, start: datetime, end: datetime) -> ReferralStats:
    """A program's referral numbers for [start, end): each figure counts what happened in it.

    invitations: referrals made (not refused at once); sign-ups, qualified: referrals whose
    friend signed up / met the referrer's trigger then; conversion rate: the share of the
    period's invitations that have qualified by now; points: referral rewards given in the
    period by status; money: the face value (`value_minor`, in the program's currency, when it
    was given) of the catalogue rewards given among them, and their count by catalogue status;
    held and rejected: by reason, when it happened; top advocates: most
    qualified referrals in the period, with the referral points they earned in it.
    """
    window = (program_id, start, end)
    invitations = await _count(
        f"SELECT COUNT(*) AS n FROM referrals WHERE program_id = ? AND created_at >= ?"
        f" AND created_at < ? AND {_CLAIMED}",
        window,
    )
    converted = await _count(
        f"SELECT COUNT(*) AS n FROM referrals WHERE program_id = ? AND created_at >= ?"
        f" AND created_at < ? AND {_CLAIMED} AND qualified_at IS NOT NULL",
        window,
    )
    sign_ups = await _count(
        "SELECT COUNT(*) AS n FROM referrals WHERE program_id = ? AND signed_up_at >= ?"
        f" AND signed_up_at < ? AND {_CLAIMED}",
        window,
    )
    qualified = await _count(
        "SELECT COUNT(*) AS n FROM referrals WHERE program_id = ? AND qualified_at >= ?"
        " AND qualified_at < ?",
        window,
    )
    points = {
        status: await _count(
            "SELECT SUM(points) AS n FROM referral_rewards WHERE program_id = ?"
            " AND created_at >= ? AND created_at < ? AND status = ?",
            (*window, status.value),
        )
        for status in RewardStatus
    }
    money_paid = await _count(
        "SELECT SUM(reward_value_minor) AS n FROM referral_rewards WHERE program_id = ?"
        " AND created_at >= ? AND created_at < ? AND reward_status = ?",
        (*window, CatalogueRewardStatus.GIVEN.value),
    )
    catalogue = await fetch_all(
        connection(),
        "SELECT reward_status AS status, COUNT(*) AS n FROM referral_rewards"
        " WHERE program_id = ? AND created_at >= ? AND created_at < ?"
        " AND reward_status IS NOT NULL GROUP BY reward_status",
        window,
    )
    advocates = await fetch_all(
        connection(),
        "SELECT referrer_id, COUNT(*) AS n FROM referrals WHERE program_id = ?"
        " AND qualified_at >= ? AND qualified_at < ? GROUP BY referrer_id"
        " ORDER BY COUNT(*) DESC, referrer_id LIMIT ?",
        (*window, TOP_ADVOCATES),
    )
    top = [
        Advocate(
            member_id=int(row["referrer_id"]),
            qualified=int(row["n"]),
            points=await _count(
                "SELECT SUM(points) AS n FROM referral_rewards WHERE member_id = ? AND side = ?"
                " AND status <> ? AND created_at >= ? AND created_at < ?",
                (
                    row["referrer_id"],
                    ReferralSide.REFERRER.value,
                    RewardStatus.CANCELLED.value,
                    start,
                    end,
                ),
            ),
        )
        for row in advocates
    ]
    return ReferralStats(
        invitations=invitations,
        sign_ups=sign_ups,
        qualified=qualified,
        conversion_rate=converted / invitations if invitations else 0.0,
        points_paid=points[RewardStatus.PAID],
        points_pending=points[RewardStatus.PENDING],
        points_cancelled=points[RewardStatus.CANCELLED],
        money_paid_minor=money_paid,
        catalogue_rewards={str(row["status"]): int(row["n"]) for row in catalogue},
        held_by_reason=await _by_reason("hold_reason", "held_at", *window),
        rejected_by_reason=await _by_reason("rejection_reason", "rejected_at", *window),
        top_advocates=top,
    )
