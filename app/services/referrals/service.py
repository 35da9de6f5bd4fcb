"""Referrals: the use cases of settings, codes, recording, review, reads and numbers.

The rules are in app/domain/referrals.py; the package's seams:

- records.py: the rows as records; repository.py (referrals, settings, codes, signals),
  reward_repository.py and stats_repository.py: every statement on the tables;
- fraud.py: why a new referral is refused at once or held for review;
- transitions.py: the moves to HELD and REJECTED, and the events announcing every change;
- creation.py: a referral made by `enrollMember` with a code (the friend is the new member), by
  `recordReferral` (an invitation of a friend who is not a member yet, or the attachment of a
  member who enrolled within the program's attach window and has no orders), and an invitation
  a new member takes up (`on_member_enrolled`, the hook of `enroll_member`);
- payouts.py: rewards, points through the ledger (kind REFERRAL) and catalogue rewards, and the
  states they move a referral through; `settle_reward` for the `referrals` job;
- order_rewards.py: the hooks of the orders service (an order earns, a delivery restarts the
  return window, a full refund cancels what is still pending).

Suspicious referrals are HELD: nothing is paid until an admin approves (`review_referral`; then
every reward the referral earned meanwhile follows) or rejects them.
"""

from __future__ import annotations

import secrets
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, replace
from datetime import datetime
from typing import Any

from tortoise.backends.base.client import BaseDBAsyncClient

from app.db import connection, in_transaction, utc_now
from app.domain.errors import DomainError, ErrorCode
from app.domain.ids import encode_id
from app.domain.money import MAX_AMOUNT_MINOR
from app.domain.referrals import (
    CODE_INPUT_MAX,
    MAX_ATTACH_WINDOW_DAYS,
    MAX_IP_WEEKLY_THRESHOLD,
    MAX_REFERRER_LIMIT,
    MAX_REWARD_POINTS,
    MAX_REWARDED_ORDERS,
    URL_TEMPLATE_MAX,
    CatalogueRewardStatus,
    LimitPeriod,
    ReferralSide,
    ReferralState,
    ReferralTrigger,
    RejectionReason,
    RewardStatus,
    SideRule,
    Signals,
    normalise_code,
    valid_url_template,
)
from app.domain.validation import (
    EMAIL_MAX,
    EXTERNAL_ID_MAX,
    REASON_MAX,
    Checker,
)
from app.services.core.events import append_event
from app.services.core.idempotency import IdempotentRequest, run_once_by_id
from app.services.ledger.service import lock_member
from app.services.programs.service import ProgramRecord, ProgramScope, in_scope, require_program
from app.services.referrals import repository, reward_repository, stats_repository
from app.services.referrals.creation import create
from app.services.referrals.fraud import check_signals, signal_hashes
from app.services.referrals.payouts import catch_up
from app.services.referrals.records import (
    SOURCE_RECORDED,
    Friend,
    ReferralRecord,
    ReferralRewardRecord,
    ReferralSettingsRecord,
    Referrer,
    side_columns,
)
from app.services.referrals.transitions import announce, reject

_RECORD_OPERATION = "recordReferral"
_APPROVE_OPERATION = "approveReferral"
_REJECT_OPERATION = "rejectReferral"
TOP_ADVOCATES = 10


# --- settings ---------------------------------------------------------------------------------


# What an admin sets for one side is the rule itself, checked.
SideInput = SideRule


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


def _check_side(check: Checker, field: list[str], side: SideRule) -> None:
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


def _check_url_template(check: Checker, raw: str | None) -> str | None:
    if raw is None:
        return None
    template = raw.strip()
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
    return template


async def _check_catalogue_reward(
    check: Checker, field: list[str], program_id: int, rule: SideRule
) -> None:
    """A side's catalogue reward must be an active reward of the program."""
    if rule.reward_id is None:
        return
    reward = await repository.catalogue_reward(rule.reward_id)
    if reward is None or reward.program_id != program_id:
        check.add(
            ErrorCode.REWARD_NOT_FOUND, "no such reward in this program", [*field, "rewardId"]
        )
    elif not reward.active:
        check.add(ErrorCode.REWARD_INACTIVE, "the reward is not active", [*field, "rewardId"])


def _changed(data: UpdateReferralSettingsInput, template: str | None) -> dict[str, Any]:
    """The settings fields `data` sets (besides the sides' rules)."""
    given = {
        "enabled": data.enabled,
        "url_template": template,
        "referrer_limit": data.referrer_limit,
        "referrer_limit_period": data.referrer_limit_period,
        "ip_weekly_threshold": data.ip_weekly_threshold,
        "attach_window_days": data.attach_window_days,
    }
    return {name: value for name, value in given.items() if value is not None}


async def update_settings(data: UpdateReferralSettingsInput) -> ReferralSettingsRecord:
    check = Checker()
    template = _check_url_template(check, data.url_template)
    sides = ((ReferralSide.REFERRER, data.referrer), (ReferralSide.FRIEND, data.friend))
    rules = {side: rule for side, rule in sides if rule is not None}
    for side, rule in rules.items():
        _check_side(check, ["input", side.value.lower()], rule)
    for name, value, high in (
        ("referrerLimit", data.referrer_limit, MAX_REFERRER_LIMIT),
        ("ipWeeklyThreshold", data.ip_weekly_threshold, MAX_IP_WEEKLY_THRESHOLD),
        ("attachWindowDays", data.attach_window_days, MAX_ATTACH_WINDOW_DAYS),
    ):
        if value is not None:
            check.int_range(["input", name], value, 0, high, ErrorCode.INVALID_VALUE)
    check.raise_if_any()
    program = await require_program(data.program_slug, None)
    for side, rule in rules.items():
        await _check_catalogue_reward(check, ["input", side.value.lower()], program.id, rule)
    check.raise_if_any()
    now = utc_now()
    async with in_transaction() as conn:
        current = await repository.lock_settings(
            conn, program.id, salt=secrets.token_hex(16), now=now
        )
        merged = replace(
            current,
            **_changed(data, template),
            **{
                name: value
                for side, rule in rules.items()
                for name, value in side_columns(side, rule).items()
            },
        )
        saved = await repository.save_settings(conn, merged, now)
        await append_event(
            conn,
            program_id=program.id,
            member_id=None,
            event_type="referral_settings.updated",
            payload={"programId": encode_id("Program", program.id), "enabled": saved.enabled},
            now=now,
        )
    return saved


async def settings_of(program_id: int) -> ReferralSettingsRecord:
    return await repository.get_settings(connection(), program_id)


# --- codes ------------------------------------------------------------------------------------


async def resolve_code(program: ProgramRecord, raw: str, field: list[str]) -> Referrer:
    """The referrer behind a code of `program`; refuses malformed and unknown codes, and the
    codes of a program whose referrals are off or that is inactive. Writes nothing."""
    code = normalise_code(raw) if len(raw) <= CODE_INPUT_MAX else None
    if code is None:
        raise DomainError(ErrorCode.INVALID_VALUE, "this is not a referral code", field)
    settings = await repository.get_settings(connection(), program.id)
    if not (program.active and settings.enabled):
        raise DomainError(
            ErrorCode.REFERRALS_DISABLED, f"referrals are off in {program.slug!r}", field
        )
    referrer = await repository.referrer_with_code(program.id, code)
    if referrer is None:
        raise DomainError(ErrorCode.REFERRAL_CODE_NOT_FOUND, "no such referral code", field)
    return referrer


# --- recordReferral ---------------------------------------------------------------------------


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


async def _once(
    conn: BaseDBAsyncClient,
    request: IdempotentRequest,
    now: datetime,
    perform: Callable[[], Awaitable[ReferralRecord]],
) -> RecordedReferral:
    """`perform` once per idempotency key; a replay reads the referral as it is now."""
    outcome = await run_once_by_id(
        conn,
        request,
        now=now,
        perform=perform,
        remember_id_as="referralId",
        read=lambda referral_id: repository.get_referral(conn, referral_id),
    )
    return RecordedReferral(referral=outcome.value, replayed=outcome.replayed)


def _check_record_input(data: RecordReferralInput) -> tuple[str | None, str | None]:
    """The friend's customer id and email, checked (one of them is given)."""
    check = Checker()
    check.idempotency_key(data.idempotency_key)
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
    return customer_id, email


async def record_referral(data: RecordReferralInput, scope: ProgramScope) -> RecordedReferral:
    """The store attaches a referral: an invitation of a friend who is not a member yet, or a
    member who enrolled within the attach window without orders. Refusals by a fraud rule are
    recorded and returned as REJECTED referrals, not errors."""
    customer_id, email = _check_record_input(data)
    program = await require_program(data.program_slug, scope)
    referrer = await resolve_code(program, data.referral_code, ["input", "referralCode"])
    member = await repository.member_as_friend(program.id, customer_id=customer_id, email=email)
    friend = (
        Friend(None, customer_id, email, enrolled_at=None, just_enrolled=False)
        if member is None
        else replace(member, email=email or member.email)
    )
    request = IdempotentRequest.of(
        scope=str(program.id),
        key=data.idempotency_key,
        operation=_RECORD_OPERATION,
        payload={
            "code": referrer.code,
            "friendCustomerId": customer_id,
            "friendEmail": email,
            "friendSignals": _signals_json(data.friend_signals),
            "referrerSignals": _signals_json(data.referrer_signals),
        },
    )
    now = utc_now()
    async with in_transaction() as conn:

        async def perform() -> ReferralRecord:
            await lock_member(conn, referrer.id)
            settings = await repository.get_settings(conn, program.id)
            await repository.store_signals(
                conn, program.id, referrer.id, signal_hashes(settings, data.referrer_signals), now
            )
            return await create(
                conn,
                settings=settings,
                referrer=referrer,
                friend=friend,
                friend_signals=data.friend_signals,
                source=SOURCE_RECORDED,
                now=now,
            )

        return await _once(conn, request, now, perform)


# --- admin review -----------------------------------------------------------------------------


@dataclass(frozen=True)
class ReviewReferralInput:
    referral_id: int
    approve: bool
    idempotency_key: str | None = None
    note: str | None = None


async def _review(
    conn: BaseDBAsyncClient, referral_id: int, *, approve: bool, note: str | None, now: datetime
) -> ReferralRecord:
    referral = await repository.lock_referral(conn, referral_id)
    if referral.state is not ReferralState.HELD:
        raise DomainError(
            ErrorCode.REFERRAL_NOT_HELD,
            f"the referral is {referral.state.value}, not HELD",
            ["input", "id"],
        )
    if not approve:
        rejected = await reject(
            conn,
            referral.id,
            RejectionReason.REJECTED_BY_ADMIN,
            now,
            review_note=note,
            reviewed_at=now,
        )
        assert rejected is not None
        return rejected
    approved = await repository.update_referral(
        conn,
        referral.id,
        state=ReferralState.INVITED if referral.friend_id is None else ReferralState.SIGNED_UP,
        review_note=note,
        reviewed_at=now,
    )
    await announce(conn, approved, "referral.approved", now)
    if approved.friend_id is None:
        return approved
    return await catch_up(conn, approved, now)


async def review_referral(data: ReviewReferralInput) -> RecordedReferral:
    """Approve a held referral (it continues where it stands, and every reward it earned while
    held follows: sign-up rewards and the friend's orders so far) or reject it."""
    check = Checker()
    if data.approve or data.idempotency_key is not None:
        check.idempotency_key(data.idempotency_key)
    note = check.text(["input", "note"], data.note, REASON_MAX, required=False)
    check.raise_if_any()
    existing = await repository.get_referral(connection(), data.referral_id)
    if existing is None:
        raise DomainError(ErrorCode.REFERRAL_NOT_FOUND, "no such referral", ["input", "id"])
    now = utc_now()
    async with in_transaction() as conn:

        async def perform() -> ReferralRecord:
            # The friend, then the referrer, as a friend's order pays them (`apply_order`):
            # both before the referral row, which an erasure of the friend updates under the
            # friend's lock, and approving pays the friend.
            if existing.friend_id is not None:
                await lock_member(conn, existing.friend_id)
            await lock_member(conn, existing.referrer_id)
            return await _review(conn, existing.id, approve=data.approve, note=note, now=now)

        if data.idempotency_key is None:
            return RecordedReferral(referral=await perform(), replayed=False)
        request = IdempotentRequest.of(
            scope=str(existing.program_id),
            key=data.idempotency_key,
            operation=_APPROVE_OPERATION if data.approve else _REJECT_OPERATION,
            payload={"referralId": existing.id, "note": note},
        )
        return await _once(conn, request, now, perform)


# --- reads ------------------------------------------------------------------------------------


async def get_referral(referral_id: int, scope: ProgramScope) -> ReferralRecord | None:
    referral = await repository.get_referral(connection(), referral_id)
    if referral is None or not in_scope(referral.program_id, scope):
        return None
    return referral


async def list_referrals(
    program_id: int,
    *,
    referrer_id: int | None = None,
    state: ReferralState | None = None,
    before_id: int | None,
    limit: int,
) -> list[ReferralRecord]:
    """Newest first, by keyset on the id."""
    return await repository.list_referrals(
        program_id, referrer_id=referrer_id, state=state, before_id=before_id, limit=limit
    )


async def referral_of_friend(member_id: int) -> ReferralRecord | None:
    """The referral that counts for this member as a friend, else the last refused one."""
    return await repository.referral_of_friend(member_id)


async def rewards_of(referral_id: int) -> list[ReferralRewardRecord]:
    return await reward_repository.rewards_of(referral_id)


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
    window = stats_repository.Window(program_id, start, end)
    invitations = await stats_repository.count_claimed(window, "created_at")
    converted = await stats_repository.count_claimed(
        window, "created_at", " AND qualified_at IS NOT NULL"
    )
    points = {
        status: await stats_repository.reward_sum(window, "points", "status", status.value)
        for status in RewardStatus
    }
    return ReferralStats(
        invitations=invitations,
        sign_ups=await stats_repository.count_claimed(window, "signed_up_at"),
        qualified=await stats_repository.count_referrals(window, "qualified_at"),
        conversion_rate=converted / invitations if invitations else 0.0,
        points_paid=points[RewardStatus.PAID],
        points_pending=points[RewardStatus.PENDING],
        points_cancelled=points[RewardStatus.CANCELLED],
        money_paid_minor=await stats_repository.reward_sum(
            window, "reward_value_minor", "reward_status", CatalogueRewardStatus.GIVEN.value
        ),
        catalogue_rewards=await stats_repository.counts_by(
            window, "referral_rewards", "reward_status"
        ),
        held_by_reason=await stats_repository.counts_by(
            window, "referrals", "hold_reason", "held_at"
        ),
        rejected_by_reason=await stats_repository.counts_by(
            window, "referrals", "rejection_reason", "rejected_at"
        ),
        top_advocates=[
            Advocate(
                member_id=member_id,
                qualified=qualified,
                points=await stats_repository.referrer_points(window, member_id),
            )
            for member_id, qualified in await stats_repository.top_referrers(window, TOP_ADVOCATES)
        ],
    )
