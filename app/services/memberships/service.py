"""Paid memberships: plans, and the subscription events the store reports (lifecycle rules in
app/domain/memberships.py).

Every event is one transaction that claims its idempotency key first (a replay returns the
stored result and writes nothing), then locks the member row (the lock order of every writer),
changes the membership, gives the welcome reward with `give_reward` on a first membership of the
plan, re-evaluates the member's tier (a plan's tier is a floor while it is active) and records an
outbox event. A member holds one live membership of a plan at most: the member lock serialises
two starts, and the partial unique index on live memberships backs it up.
"""

from __future__ import annotations

import json
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, replace
from datetime import datetime
from decimal import Decimal
from typing import Any

from tortoise.backends.base.client import BaseDBAsyncClient
from tortoise.exceptions import IntegrityError

from app.db import (
    connection,
    execute,
    fetch_all,
    fetch_one,
    in_transaction,
    utc_now,
)
from app.domain.errors import DomainError, ErrorCode
from app.domain.ids import encode_id
from app.domain.ledger import TransactionKind
from app.domain.memberships import (
    MAX_GRACE_DAYS,
    MAX_PERKS,
    MAX_TRIAL_DAYS,
    PERK_MAX,
    PLAN_CODE_MAX,
    BillingInterval,
    CancelMode,
    EndReason,
    MembershipStatus,
    end_reason,
    first_period,
    past_due_ends_at,
    renewed_period,
)
from app.domain.money import MAX_AMOUNT_MINOR, is_known_currency
from app.domain.rewards import RewardUnavailable
from app.domain.tiers import TIER_NAME_MAX, TierChangeReason, checked_earn_multiplier
from app.domain.validation import NAME_MAX, Checker
from app.models import MembershipPlan, Tier
from app.rows import RowMapper
from app.services.core.events import append_event
from app.services.core.idempotency import IdempotentRequest, run_once_by_id
from app.services.core.inserts import insert_returning
from app.services.ledger.service import lock_owner
from app.services.programs.service import ProgramScope, read_in_scope, require_program
from app.services.rewards.gifts import GiveReward, give_reward, require_giftable_reward
from app.services.tiers.service import on_member_activity as on_tier_activity


@dataclass(frozen=True)
class PlanRecord:
    id: int
    program_id: int
    code: str
    name: str
    fee_minor: int
    currency: str
    interval: BillingInterval
    trial_days: int
    grace_days: int
    tier_id: int | None
    tier_name: str | None
    earn_multiplier: Decimal | None
    perks: tuple[str, ...]
    welcome_reward_id: int | None
    active: bool


@dataclass(frozen=True)
class MembershipRecord:
    id: int
    program_id: int
    member_id: int
    plan_id: int
    status: MembershipStatus
    started_at: datetime
    current_period_start: datetime
    current_period_end: datetime
    cancel_at_period_end: bool
    ends_at: datetime
    ended_at: datetime | None
    end_reason: EndReason | None
    welcome_redemption_id: int | None


PLAN_COLUMNS = (
    "p.id, p.program_id, p.code, p.name, p.fee_minor, p.currency, p.interval, p.trial_days,"
    " p.grace_days, p.tier_id, t.name AS tier_name, p.earn_multiplier, p.perks,"
    " p.welcome_reward_id, p.active"
)
PLAN_FROM = " FROM membership_plans p LEFT JOIN tiers t ON t.id = p.tier_id"


plan_row = RowMapper(PlanRecord)
_PLAN_OWN_COLUMNS = [name for name in plan_row.column_names if name != "tier_name"]
membership_row = RowMapper(MembershipRecord)


# --- plans ------------------------------------------------------------------------------------


@dataclass(frozen=True)
class UpsertPlanInput:
    program_slug: str
    code: str
    name: str
    fee_minor: int
    currency: str
    interval: BillingInterval
    trial_days: int = 0
    grace_days: int = 0
    tier_name: str | None = None
    earn_multiplier: str | None = None
    perks: tuple[str, ...] = ()
    welcome_reward_id: int | None = None
    active: bool = True


async def upsert_plan(data: UpsertPlanInput) -> PlanRecord:
    """Create a plan, or change the one with this code (its members keep their membership and
    get the changed benefits)."""
    program = await require_program(data.program_slug, None)
    check = Checker()
    code = check.text(["input", "code"], data.code, PLAN_CODE_MAX)
    name = check.text(["input", "name"], data.name, NAME_MAX)
    if not 0 <= data.fee_minor <= MAX_AMOUNT_MINOR:
        check.add(ErrorCode.INVALID_AMOUNT, "feeMinor is out of range", ["input", "feeMinor"])
    currency = data.currency.strip().upper()
    if not is_known_currency(currency):
        check.add(
            ErrorCode.UNKNOWN_CURRENCY, f"unknown currency {currency!r}", ["input", "currency"]
        )
    if not 0 <= data.trial_days <= MAX_TRIAL_DAYS:
        check.add(
            ErrorCode.INVALID_VALUE,
            f"trialDays must be in [0, {MAX_TRIAL_DAYS}]",
            ["input", "trialDays"],
        )
    if not 0 <= data.grace_days <= MAX_GRACE_DAYS:
        check.add(
            ErrorCode.INVALID_VALUE,
            f"graceDays must be in [0, {MAX_GRACE_DAYS}]",
            ["input", "graceDays"],
        )
    multiplier = checked_earn_multiplier(check, data.earn_multiplier, ["input"])
    perks = check.text_list(["input", "perks"], data.perks, PERK_MAX, MAX_PERKS)
    conn = connection()
    tier_id = None
    problems_before = len(check.errors)
    tier_name = check.text(["input", "tierName"], data.tier_name, TIER_NAME_MAX, required=False)
    # A name no tier can have is not looked up (the model refuses it past the column's length).
    if tier_name is not None and len(check.errors) == problems_before:
        tiers = (
            await Tier.filter(program_id=program.id, name=tier_name, retired_at__isnull=True)
            .using_db(conn)
            .values("id")
        )
        tier_id = int(tiers[0]["id"]) if tiers else None
        if tier_id is None:
            check.add(ErrorCode.TIER_NOT_FOUND, "no such active tier", ["input", "tierName"])
    if data.welcome_reward_id is not None:
        try:
            await require_giftable_reward(
                conn, program.id, data.welcome_reward_id, ["input", "welcomeRewardId"], utc_now()
            )
        except DomainError as refused:
            check.add(refused.code, refused.message, refused.field or ["input", "welcomeRewardId"])
    check.raise_if_any()
    assert code is not None and name is not None
    now = utc_now()
    values = (
        name,
        data.fee_minor,
        currency,
        data.interval.value,
        data.trial_days,
        data.grace_days,
        tier_id,
        None if multiplier is None else f"{multiplier.quantize(Decimal('0.01')):f}",
        _perks_json(sorted(perks)),
        data.welcome_reward_id,
        data.active,
    )
    # One INSERT ... ON CONFLICT statement, kept as SQL rather than a read then a create or
    # an update: two first upserts of a code at once both succeed, the later one winning.
    await execute(
        connection(),
        "INSERT INTO membership_plans (name, fee_minor, currency, interval, trial_days,"
        " grace_days, tier_id, earn_multiplier, perks, welcome_reward_id, active,"
        " program_id, code, created_at, updated_at)"
        " VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)"
        " ON CONFLICT (program_id, code) DO UPDATE SET name = excluded.name,"
        " fee_minor = excluded.fee_minor, currency = excluded.currency,"
        " interval = excluded.interval, trial_days = excluded.trial_days,"
        " grace_days = excluded.grace_days, tier_id = excluded.tier_id,"
        " earn_multiplier = excluded.earn_multiplier, perks = excluded.perks,"
        " welcome_reward_id = excluded.welcome_reward_id, active = excluded.active,"
        " updated_at = excluded.updated_at",
        (*values, program.id, code, now, now),
    )
    plan = await _plan_by_code(connection(), program.id, code)
    assert plan is not None
    return plan


def _perks_json(perks: list[str]) -> str:
    return json.dumps(perks, separators=(",", ":"))


async def _plans(conn: BaseDBAsyncClient, **filters: Any) -> list[PlanRecord]:
    """Plans by `filters`, each with its tier's name (None for a plan that names no tier)."""
    rows = (
        await MembershipPlan.filter(**filters)
        .using_db(conn)
        .order_by("id")
        .values(*_PLAN_OWN_COLUMNS, tier_name="tier__name")
    )
    return plan_row.all(rows)


async def _plan_by_code(conn: BaseDBAsyncClient, program_id: int, code: str) -> PlanRecord | None:
    plans = await _plans(conn, program_id=program_id, code=code)
    return plans[0] if plans else None


async def get_plan(plan_id: int, scope: ProgramScope = None) -> PlanRecord | None:
    plans = await _plans(connection(), id=plan_id)
    if not plans or (scope is not None and plans[0].program_id != scope):
        return None
    return plans[0]


async def list_plans(program_id: int) -> list[PlanRecord]:
    return await _plans(connection(), program_id=program_id)


async def memberships_of(member_id: int) -> list[MembershipRecord]:
    rows = await fetch_all(
        connection(),
        f"SELECT {membership_row.columns} FROM memberships WHERE member_id = ? ORDER BY id DESC",
        (member_id,),
    )
    return membership_row.all(rows)


async def get_membership(membership_id: int, scope: ProgramScope = None) -> MembershipRecord | None:
    return await read_in_scope(connection(), membership_row, "memberships", membership_id, scope)


# --- subscription events ----------------------------------------------------------------------


@dataclass(frozen=True)
class MembershipEventInput:
    """Who and which plan; the operation decides what happened."""

    program_slug: str
    customer_id: str
    plan_code: str
    idempotency_key: str
    # cancel only
    mode: CancelMode = CancelMode.AT_PERIOD_END
    # start only: the store did not offer the trial (or the member declined it).
    skip_trial: bool = False


@dataclass(frozen=True)
class MembershipResult:
    membership: MembershipRecord
    replayed: bool


def _check(data: MembershipEventInput) -> None:
    check = Checker()
    check.text(["input", "customerId"], data.customer_id, 128)
    check.text(["input", "planCode"], data.plan_code, PLAN_CODE_MAX)
    check.idempotency_key(data.idempotency_key)
    check.raise_if_any()


async def _lock_member(conn: BaseDBAsyncClient, program_id: int, customer_id: str) -> int:
    row = await fetch_one(
        conn,
        "UPDATE members SET points_available = points_available"
        " WHERE program_id = ? AND customer_id = ? RETURNING id",
        (program_id, customer_id),
    )
    if row is None:
        raise DomainError(
            ErrorCode.MEMBER_NOT_FOUND, f"no member {customer_id!r}", ["input", "customerId"]
        )
    return int(row["id"])


async def _live(conn: BaseDBAsyncClient, member_id: int, plan_id: int) -> MembershipRecord | None:
    row = await fetch_one(
        conn,
        f"SELECT {membership_row.columns} FROM memberships WHERE member_id = ? AND plan_id = ?"
        " AND ended_at IS NULL",
        (member_id, plan_id),
    )
    return None if row is None else membership_row(row)


async def _event(
    conn: BaseDBAsyncClient,
    membership: MembershipRecord,
    plan: PlanRecord,
    kind: str,
    now: datetime,
) -> None:
    await append_event(
        conn,
        program_id=membership.program_id,
        member_id=membership.member_id,
        event_type=f"membership.{kind}",
        payload={
            "membershipId": encode_id("Membership", membership.id),
            "memberId": encode_id("Member", membership.member_id),
            "planCode": plan.code,
            "status": membership.status.value,
            "currentPeriodEnd": membership.current_period_end.isoformat(),
            "endsAt": membership.ends_at.isoformat(),
            **({"endReason": membership.end_reason.value} if membership.end_reason else {}),
        },
        now=now,
    )


MembershipChange = Callable[
    [BaseDBAsyncClient, int, int, PlanRecord, datetime], Awaitable[MembershipRecord]
]


async def _apply(
    operation: str,
    data: MembershipEventInput,
    scope: ProgramScope,
    change: MembershipChange,
) -> MembershipResult:
    """One subscription event: `change(conn, program_id, member_id, plan, now)` under the
    member's lock, once per idempotency key."""
    _check(data)
    program = await require_program(data.program_slug, scope)
    request = IdempotentRequest.of(
        scope=str(program.id),
        key=data.idempotency_key,
        operation=operation,
        payload={
            "customerId": data.customer_id.strip(),
            "planCode": data.plan_code.strip(),
            "mode": data.mode.value,
            "skipTrial": data.skip_trial,
        },
    )
    now = utc_now()
    async with in_transaction() as conn:

        async def perform() -> MembershipRecord:
            member_id = await _lock_member(conn, program.id, data.customer_id.strip())
            plan = await _plan_by_code(conn, program.id, data.plan_code.strip())
            if plan is None:
                raise DomainError(
                    ErrorCode.MEMBERSHIP_PLAN_NOT_FOUND,
                    f"no plan {data.plan_code!r}",
                    ["input", "planCode"],
                )
            membership = await change(conn, program.id, member_id, plan, now)
            await on_tier_activity(
                conn,
                program_id=program.id,
                member_id=member_id,
                reason=TierChangeReason.MEMBERSHIP,
                now=now,
            )
            return membership

        outcome = await run_once_by_id(
            conn,
            request,
            now=now,
            perform=perform,
            remember_id_as="membershipId",
            read=get_membership,
        )
    return MembershipResult(outcome.value, replayed=outcome.replayed)


async def start_membership(data: MembershipEventInput, scope: ProgramScope) -> MembershipResult:
    """The member subscribed: a trial (first membership of a plan with trial days, unless
    skipped) or a first paid period; the welcome reward on a first membership of the plan."""

    async def change(
        conn: BaseDBAsyncClient, program_id: int, member_id: int, plan: PlanRecord, now: datetime
    ) -> MembershipRecord:
        if not plan.active:
            raise DomainError(
                ErrorCode.MEMBERSHIP_PLAN_INACTIVE, "the plan is not sold", ["input", "planCode"]
            )
        if await _live(conn, member_id, plan.id) is not None:
            raise DomainError(
                ErrorCode.MEMBERSHIP_ALREADY_ACTIVE,
                "the member already holds this plan",
                ["input", "planCode"],
            )
        trial_days = 0 if data.skip_trial else plan.trial_days
        first = await fetch_one(
            conn,
            "INSERT INTO membership_firsts (member_id, plan_id, trial_days, created_at)"
            " VALUES (?, ?, ?, ?) ON CONFLICT (member_id, plan_id) DO NOTHING RETURNING id",
            (member_id, plan.id, trial_days, now),
        )
        status, period = first_period(
            now, plan.interval, trial_days if first is not None else 0, plan.grace_days
        )
        try:
            membership = await insert_returning(
                conn,
                "memberships",
                {
                    "program_id": program_id,
                    "member_id": member_id,
                    "plan_id": plan.id,
                    "status": status.value,
                    "started_at": now,
                    "current_period_start": period.start,
                    "current_period_end": period.end,
                    "cancel_at_period_end": False,
                    "ends_at": period.ends_at,
                    "ended_at": None,
                    "end_reason": None,
                    "welcome_redemption_id": None,
                    "created_at": now,
                    "updated_at": now,
                },
                membership_row,
            )
        except IntegrityError as exc:
            # The partial unique index of live memberships: another start won the race.
            raise DomainError(
                ErrorCode.MEMBERSHIP_ALREADY_ACTIVE,
                "the member already holds this plan",
                ["input", "planCode"],
            ) from exc
        if first is not None and plan.welcome_reward_id is not None:
            membership = await _give_welcome_reward(conn, membership, plan, now)
        await _event(conn, membership, plan, "started", now)
        return membership

    return await _apply("startMembership", data, scope, change)


async def _give_welcome_reward(
    conn: BaseDBAsyncClient, membership: MembershipRecord, plan: PlanRecord, now: datetime
) -> MembershipRecord:
    """The plan's welcome reward on a member's first membership of it."""
    assert plan.welcome_reward_id is not None
    given = await give_reward(
        conn,
        GiveReward(
            program_id=membership.program_id,
            member_id=membership.member_id,
            reward_id=plan.welcome_reward_id,
            kind=TransactionKind.MEMBERSHIP_REWARD,
            reason=f"{plan.name} welcome reward",
            event_details={"planCode": plan.code},
        ),
        now,
    )
    if not isinstance(given, RewardUnavailable):
        await execute(
            conn,
            "UPDATE memberships SET welcome_redemption_id = ? WHERE id = ?",
            (given.redemption_id, membership.id),
        )
        return _replace(membership, welcome_redemption_id=given.redemption_id)
    # The once-ever slot is used: the failure is kept, and told, so the store can make it good
    # by hand (as a tier entry reward's failure is).
    await execute(
        conn,
        "UPDATE memberships SET welcome_reward_failure = ? WHERE id = ?",
        (given.value, membership.id),
    )
    await append_event(
        conn,
        program_id=membership.program_id,
        member_id=membership.member_id,
        event_type="membership.welcome_reward_failed",
        payload={
            "membershipId": encode_id("Membership", membership.id),
            "memberId": encode_id("Member", membership.member_id),
            "planCode": plan.code,
            "rewardId": encode_id("Reward", plan.welcome_reward_id),
            "failure": given.value,
        },
        now=now,
    )
    return membership


def _replace(membership: MembershipRecord, **changes: Any) -> MembershipRecord:
    return replace(membership, **changes)


async def _require_live(
    conn: BaseDBAsyncClient, member_id: int, plan: PlanRecord
) -> MembershipRecord:
    live = await _live(conn, member_id, plan.id)
    if live is None:
        raise DomainError(
            ErrorCode.MEMBERSHIP_NOT_FOUND,
            "the member holds no membership of this plan",
            ["input", "planCode"],
        )
    return live


async def _update(
    conn: BaseDBAsyncClient, membership: MembershipRecord, now: datetime
) -> MembershipRecord:
    row = await fetch_one(
        conn,
        "UPDATE memberships SET status = ?, current_period_start = ?, current_period_end = ?,"
        " cancel_at_period_end = ?, ends_at = ?, ended_at = ?, end_reason = ?, updated_at = ?"
        f" WHERE id = ? RETURNING {membership_row.columns}",
        (
            membership.status.value,
            membership.current_period_start,
            membership.current_period_end,
            membership.cancel_at_period_end,
            membership.ends_at,
            membership.ended_at,
            None if membership.end_reason is None else membership.end_reason.value,
            now,
            membership.id,
        ),
    )
    assert row is not None
    return membership_row(row)


async def renew_membership(data: MembershipEventInput, scope: ProgramScope) -> MembershipResult:
    """A payment succeeded: the next period (a trial becomes paid; a cancellation is lifted)."""

    async def change(
        conn: BaseDBAsyncClient, program_id: int, member_id: int, plan: PlanRecord, now: datetime
    ) -> MembershipRecord:
        live = await _require_live(conn, member_id, plan)
        # A trial's first payment pays from the trial's end, like any renewal.
        period = renewed_period(live.current_period_end, now, plan.interval, plan.grace_days)
        membership = await _update(
            conn,
            _replace(
                live,
                status=MembershipStatus.ACTIVE,
                current_period_start=period.start,
                current_period_end=period.end,
                cancel_at_period_end=False,
                ends_at=period.ends_at,
            ),
            now,
        )
        await _event(conn, membership, plan, "renewed", now)
        return membership

    return await _apply("renewMembership", data, scope, change)


async def cancel_membership(data: MembershipEventInput, scope: ProgramScope) -> MembershipResult:
    """AT_PERIOD_END: benefits until the period paid for ends. NOW: ended at once."""

    async def change(
        conn: BaseDBAsyncClient, program_id: int, member_id: int, plan: PlanRecord, now: datetime
    ) -> MembershipRecord:
        live = await _require_live(conn, member_id, plan)
        if data.mode is CancelMode.NOW or live.current_period_end <= now:
            ended = _replace(
                live,
                status=MembershipStatus.ENDED,
                cancel_at_period_end=data.mode is CancelMode.AT_PERIOD_END,
                ends_at=now,
                ended_at=now,
                end_reason=EndReason.CANCELLED,
            )
            membership = await _update(conn, ended, now)
            await _event(conn, membership, plan, "ended", now)
            return membership
        membership = await _update(
            conn,
            _replace(live, cancel_at_period_end=True, ends_at=live.current_period_end),
            now,
        )
        await _event(conn, membership, plan, "cancelled", now)
        return membership

    return await _apply("cancelMembership", data, scope, change)


async def membership_payment_failed(
    data: MembershipEventInput, scope: ProgramScope
) -> MembershipResult:
    """A renewal payment failed: PAST_DUE, benefits kept through the plan's grace days."""

    async def change(
        conn: BaseDBAsyncClient, program_id: int, member_id: int, plan: PlanRecord, now: datetime
    ) -> MembershipRecord:
        live = await _require_live(conn, member_id, plan)
        ends_at = past_due_ends_at(live.current_period_end, now, plan.grace_days)
        if live.cancel_at_period_end:
            ends_at = min(ends_at, live.current_period_end)
        membership = await _update(
            conn, _replace(live, status=MembershipStatus.PAST_DUE, ends_at=ends_at), now
        )
        await _event(conn, membership, plan, "payment_failed", now)
        return membership

    return await _apply("membershipPaymentFailed", data, scope, change)


# --- the job's units of work ------------------------------------------------------------------


async def due_to_end(now: datetime, after_id: int, limit: int) -> list[int]:
    rows = await fetch_all(
        connection(),
        "SELECT id FROM memberships WHERE ended_at IS NULL AND ends_at <= ? AND id > ?"
        " ORDER BY id LIMIT ?",
        (now, after_id, limit),
    )
    return [int(row["id"]) for row in rows]


async def count_due_to_end(now: datetime) -> int:
    row = await fetch_one(
        connection(),
        "SELECT COUNT(*) AS n FROM memberships WHERE ended_at IS NULL AND ends_at <= ?",
        (now,),
    )
    return 0 if row is None else int(row["n"])


async def end_membership(membership_id: int, now: datetime) -> bool:
    """End a membership whose time is up, as of its `ends_at` (on time, whenever the job runs);
    False when it is not due any more (renewed meanwhile) or already ended."""
    async with in_transaction() as conn:
        if not await lock_owner(conn, "memberships", membership_id):
            return False
        row = await fetch_one(
            conn,
            f"SELECT {membership_row.columns} FROM memberships WHERE id = ? AND ended_at IS NULL"
            " AND ends_at <= ?",
            (membership_id, now),
        )
        if row is None:
            return False
        live = membership_row(row)
        membership = await _update(
            conn,
            _replace(
                live,
                status=MembershipStatus.ENDED,
                ended_at=live.ends_at,
                end_reason=end_reason(live.status, live.cancel_at_period_end),
            ),
            now,
        )
        plan = await get_plan(membership.plan_id)
        assert plan is not None
        await _event(conn, membership, plan, "ended", now)
        await on_tier_activity(
            conn,
            program_id=membership.program_id,
            member_id=membership.member_id,
            reason=TierChangeReason.MEMBERSHIP,
            now=now,
        )
    return True
