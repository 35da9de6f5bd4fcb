"""Tiers: the configuration, a member's tier kept equal to what their history says, and what a
tier gives (earning multiplier, reward discount and access, entry reward).

The rules are in app/domain/tiers.py. This module reads a member's qualifying history (ledger,
orders, referrals), asks the domain for the tier, and when it differs from the stored one writes,
in the caller's transaction and with the member row locked first: the member's tier, a history
row, a `tier.changed` event and, on first entry to a tier, its entry reward.

Hooks call `on_member_activity` in their own transaction (orders, refunds, referral success);
the `tiers` job reviews members whose tier can change with time (period ends, grace ends,
activity leaving a rolling window) and the `tiers-recalculate` job brings everyone to a changed
configuration. Until that job has finished, a member's stored tier may be under the old rules;
any activity of theirs re-evaluates them under the new ones at once.
"""

from __future__ import annotations

import itertools
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from decimal import Decimal, InvalidOperation
from typing import Any
from zoneinfo import ZoneInfo

from tortoise.backends.base.client import BaseDBAsyncClient
from tortoise.transactions import in_transaction

from app.db import as_datetime, connection, execute, fetch_all, fetch_one, utc_now
from app.domain.earning import MemberAttributes
from app.domain.errors import DomainError, ErrorCode
from app.domain.ids import encode_id
from app.domain.ledger import Account, TransactionKind
from app.domain.money import MAX_POINTS_PER_MOVEMENT, convert_minor, parse_exchange_rate
from app.domain.rewards import RewardUnavailable
from app.domain.tiers import (
    MAX_GRACE_DAYS,
    MAX_REWARD_DISCOUNT_PERCENT,
    MAX_TIER_MULTIPLIER,
    MAX_TIERS,
    NO_TIER,
    TIER_NAME_MAX,
    Contribution,
    DowngradePolicy,
    Standing,
    TierChangeReason,
    TierConfig,
    TierMetric,
    TierPeriod,
    discounted_cost,
    needed_for,
    standing,
)
from app.domain.validation import Checker
from app.services.events import append_event
from app.services.ledger import Movement, post_movement
from app.services.programs import require_program
from app.services.reward_gifts import GiveReward, give_reward

# Far above any real metric (points, minor units, orders), and within a 64-bit integer.
MAX_THRESHOLD = 10**15

# Kinds whose points never qualify for a tier: a tier's own rewards must not feed it, and a
# punch card's reward was paid for by purchases that already earned.
NON_QUALIFYING_KINDS = (
    TransactionKind.TIER_REWARD.value,
    TransactionKind.MEMBERSHIP_REWARD.value,
    TransactionKind.PUNCH_CARD.value,
)


@dataclass(frozen=True)
class TierRecord:
    id: int
    name: str
    rank: int
    threshold: int
    earn_multiplier: Decimal | None
    reward_discount_percent: int
    entry_points: int
    entry_reward_id: int | None


@dataclass(frozen=True)
class TierProgram:
    """A program's tier configuration, with the state of the recalculation it needs."""

    program_id: int
    metric: TierMetric
    period: TierPeriod
    downgrade: DowngradePolicy
    grace_days: int
    tiers: tuple[TierRecord, ...]
    version: int
    recalculated_version: int
    time_zone: str
    currency: str
    updated_at: datetime

    @property
    def config(self) -> TierConfig:
        return TierConfig(
            metric=self.metric,
            period=self.period,
            downgrade=self.downgrade,
            grace_days=self.grace_days,
            thresholds=tuple(tier.threshold for tier in self.tiers),
        )

    @property
    def recalculation_pending(self) -> bool:
        return self.recalculated_version < self.version


@dataclass(frozen=True)
class TierRewardTerms:
    """What a reward costs this member, and whether their tier may redeem it."""

    cost_points: int
    allowed: bool
    required_tiers: tuple[str, ...]


# --- reading the configuration ----------------------------------------------------------------


def _tier(row: dict[str, Any]) -> TierRecord:
    return TierRecord(
        id=int(row["id"]),
        name=str(row["name"]),
        rank=int(row["rank"]),
        threshold=int(row["threshold"]),
        earn_multiplier=None if row["earn_multiplier"] is None else Decimal(row["earn_multiplier"]),
        reward_discount_percent=int(row["reward_discount_percent"]),
        entry_points=int(row["entry_points"]),
        entry_reward_id=None if row["entry_reward_id"] is None else int(row["entry_reward_id"]),
    )


async def tier_program(conn: BaseDBAsyncClient, program_id: int) -> TierProgram | None:
    """The program's tiers, or None when it has none."""
    settings = await fetch_one(
        conn,
        "SELECT s.metric, s.period, s.downgrade, s.grace_days, s.version, s.recalculated_version,"
        " s.updated_at, p.time_zone, p.currency FROM tier_settings s"
        " JOIN programs p ON p.id = s.program_id WHERE s.program_id = ?",
        (program_id,),
    )
    if settings is None:
        return None
    rows = await fetch_all(
        conn,
        "SELECT id, name, rank, threshold, earn_multiplier, reward_discount_percent,"
        " entry_points, entry_reward_id FROM tiers"
        " WHERE program_id = ? AND retired_at IS NULL ORDER BY rank",
        (program_id,),
    )
    if not rows:
        return None
    return TierProgram(
        program_id=program_id,
        metric=TierMetric(settings["metric"]),
        period=TierPeriod(settings["period"]),
        downgrade=DowngradePolicy(settings["downgrade"]),
        grace_days=int(settings["grace_days"]),
        tiers=tuple(_tier(row) for row in rows),
        version=int(settings["version"]),
        recalculated_version=int(settings["recalculated_version"]),
        time_zone=str(settings["time_zone"]),
        currency=str(settings["currency"]),
        updated_at=as_datetime(settings["updated_at"]),
    )


async def get_tier(tier_id: int, scope: int | None) -> TierRecord | None:
    """An active tier by id, within the caller's program (None: any program)."""
    row = await fetch_one(
        connection(),
        "SELECT id, program_id, name, rank, threshold, earn_multiplier, reward_discount_percent,"
        " entry_points, entry_reward_id FROM tiers WHERE id = ? AND retired_at IS NULL",
        (tier_id,),
    )
    if row is None or (scope is not None and int(row["program_id"]) != scope):
        return None
    return _tier(row)


async def tier_program_of(program_id: int) -> TierProgram | None:
    return await tier_program(connection(), program_id)


# --- a member's history -----------------------------------------------------------------------


async def contributions(
    conn: BaseDBAsyncClient, program: TierProgram, member_id: int
) -> list[Contribution]:
    """Everything in the member's history that counts for the program's metric, dated."""
    if program.metric is TierMetric.POINTS_EARNED:
        placeholders = ", ".join("?" for _ in NON_QUALIFYING_KINDS)
        rows = await fetch_all(
            conn,
            "SELECT e.amount, t.created_at, o.placed_at FROM ledger_entries e"
            " JOIN ledger_transactions t ON t.id = e.transaction_id"
            " LEFT JOIN orders o ON o.program_id = t.program_id AND o.order_id = t.order_ref"
            f" WHERE e.member_id = ? AND e.account = ? AND t.kind NOT IN ({placeholders})",
            (member_id, Account.PROGRAM_ISSUED.value, *NON_QUALIFYING_KINDS),
        )
        return [
            Contribution(
                at=as_datetime(
                    row["placed_at"] if row["placed_at"] is not None else row["created_at"]
                ),
                value=-int(row["amount"]),
            )
            for row in rows
        ]
    if program.metric is TierMetric.REFERRALS:
        rows = await fetch_all(
            conn,
            "SELECT rewarded_at FROM referrals WHERE referrer_id = ? AND state = 'REWARDED'"
            " AND rewarded_at IS NOT NULL",
            (member_id,),
        )
        return [Contribution(at=as_datetime(row["rewarded_at"]), value=1) for row in rows]
    rows = await fetch_all(
        conn,
        "SELECT total_minor, refunded_minor, currency, exchange_rate, status, placed_at"
        " FROM orders WHERE member_id = ?",
        (member_id,),
    )
    result = []
    for row in rows:
        gone = row["status"] in ("REFUNDED", "CANCELLED")
        if program.metric is TierMetric.ORDERS:
            result.append(Contribution(at=as_datetime(row["placed_at"]), value=0 if gone else 1))
            continue
        spent = 0 if gone else int(row["total_minor"]) - int(row["refunded_minor"])
        rate = (
            None if row["exchange_rate"] is None else parse_exchange_rate(str(row["exchange_rate"]))
        )
        if row["currency"] != program.currency and rate is not None:
            spent = convert_minor(spent, str(row["currency"]), program.currency, rate)
        result.append(Contribution(at=as_datetime(row["placed_at"]), value=spent))
    return result


async def _member(conn: BaseDBAsyncClient, member_id: int, *, lock: bool) -> dict[str, Any] | None:
    if lock:
        # The member row first, as every writer of a member does (see services/ledger.py).
        return await fetch_one(
            conn,
            "UPDATE members SET points_available = points_available WHERE id = ?"
            " RETURNING id, program_id, enrolled_at",
            (member_id,),
        )
    return await fetch_one(
        conn, "SELECT id, program_id, enrolled_at FROM members WHERE id = ?", (member_id,)
    )


async def compute_standing(
    conn: BaseDBAsyncClient,
    program: TierProgram,
    member_id: int,
    enrolled_at: datetime,
    now: datetime,
) -> Standing:
    """The member's tier from scratch: their history under the configuration in force, with
    the floor of their active paid memberships."""
    history = await contributions(conn, program, member_id)
    floor_rank, floor_until = await _membership_floor(conn, program, member_id, now)
    return standing(
        program.config,
        history,
        enrolled_at=enrolled_at,
        now=now,
        zone=ZoneInfo(program.time_zone),
        floor_rank=floor_rank,
        floor_until=floor_until,
    )


async def _active_plans(
    conn: BaseDBAsyncClient, member_id: int, now: datetime
) -> list[dict[str, Any]]:
    """The plans of the member's memberships active now (not ended, and not past `ends_at`:
    benefits stop on time even before the memberships job records the end)."""
    return await fetch_all(
        conn,
        "SELECT p.tier_id, p.earn_multiplier, m.ends_at FROM memberships m"
        " JOIN membership_plans p ON p.id = m.plan_id"
        " WHERE m.member_id = ? AND m.ended_at IS NULL AND m.ends_at > ?",
        (member_id, now),
    )


async def _membership_floor(
    conn: BaseDBAsyncClient, program: TierProgram, member_id: int, now: datetime
) -> tuple[int, datetime | None]:
    """The highest tier the member's active memberships grant, and until when."""
    rank_of = {tier.id: tier.rank for tier in program.tiers}
    floor_rank, floor_until = NO_TIER, None
    for plan in await _active_plans(conn, member_id, now):
        if plan["tier_id"] is None or int(plan["tier_id"]) not in rank_of:
            continue
        rank = rank_of[int(plan["tier_id"])]
        until = as_datetime(plan["ends_at"])
        if rank > floor_rank or (
            rank == floor_rank and floor_until is not None and until > floor_until
        ):
            floor_rank, floor_until = rank, until
    return floor_rank, floor_until


async def _stored(conn: BaseDBAsyncClient, member_id: int) -> dict[str, Any] | None:
    return await fetch_one(
        conn,
        "SELECT m.tier_id, m.since, m.review_at, m.config_version, t.name, t.rank"
        " FROM member_tiers m LEFT JOIN tiers t ON t.id = m.tier_id WHERE m.member_id = ?",
        (member_id,),
    )


def _utc(moment: datetime | None) -> datetime | None:
    """Stored instants are UTC: SQLite compares them as text."""
    return None if moment is None else moment.astimezone(UTC)


def _implicit_rank(program: TierProgram) -> int:
    """What a member never evaluated holds: the tier a value of 0 reaches (a free base tier)."""
    return 0 if program.tiers[0].threshold == 0 else NO_TIER


async def stored_tier_name(
    conn: BaseDBAsyncClient, program: TierProgram, member_id: int
) -> str | None:
    """The tier the member holds as stored (for checks and the property test)."""
    stored = await _stored(conn, member_id)
    if stored is None:
        rank = _implicit_rank(program)
        return None if rank == NO_TIER else program.tiers[rank].name
    return None if stored["name"] is None else str(stored["name"])


# --- evaluating a member ----------------------------------------------------------------------


@dataclass(frozen=True)
class TierOutcome:
    changed: bool
    from_tier: str | None
    to_tier: str | None


async def evaluate_member(
    conn: BaseDBAsyncClient,
    program: TierProgram,
    member_id: int,
    reason: TierChangeReason,
    now: datetime,
) -> TierOutcome:
    """Bring the member's stored tier to what their history says now, in the caller's
    transaction; idempotent (a second call with nothing new changes nothing)."""
    member = await _member(conn, member_id, lock=True)
    if member is None:
        raise DomainError(ErrorCode.MEMBER_NOT_FOUND, f"no member {member_id}")
    result = await compute_standing(
        conn, program, member_id, as_datetime(member["enrolled_at"]), now
    )
    stored = await _stored(conn, member_id)
    target = None if result.rank == NO_TIER else program.tiers[result.rank]
    target_id = None if target is None else target.id
    if stored is None:
        implicit = _implicit_rank(program)
        current = None if implicit == NO_TIER else program.tiers[implicit]
        current_id = None if current is None else current.id
        from_name = None if current is None else current.name
    else:
        current_id = None if stored["tier_id"] is None else int(stored["tier_id"])
        from_name = None if stored["name"] is None else str(stored["name"])
    if current_id == target_id:
        if stored is None:
            # A free base tier is held since enrolment; no tier, since now.
            since = as_datetime(member["enrolled_at"]) if target is not None else now
            await _insert_state(conn, program, member_id, target, result, now, since=since)
        else:
            await execute(
                conn,
                "UPDATE member_tiers SET review_at = ?, config_version = ?, updated_at = ?"
                " WHERE member_id = ?",
                (_utc(result.review_at), program.version, now, member_id),
            )
        return TierOutcome(changed=False, from_tier=from_name, to_tier=from_name)
    if stored is None:
        await _insert_state(conn, program, member_id, target, result, now, since=now)
    else:
        await execute(
            conn,
            "UPDATE member_tiers SET tier_id = ?, since = ?, review_at = ?, config_version = ?,"
            " updated_at = ? WHERE member_id = ?",
            (target_id, now, _utc(result.review_at), program.version, now, member_id),
        )
    to_name = None if target is None else target.name
    await execute(
        conn,
        "INSERT INTO tier_changes (program_id, member_id, from_tier, to_tier, reason, at)"
        " VALUES (?, ?, ?, ?, ?, ?)",
        (program.program_id, member_id, from_name, to_name, reason.value, now),
    )
    await append_event(
        conn,
        program_id=program.program_id,
        member_id=member_id,
        event_type="tier.changed",
        payload={
            "memberId": encode_id("Member", member_id),
            "fromTier": from_name,
            "toTier": to_name,
            "reason": reason.value,
        },
        now=now,
    )
    if target is not None:
        await _grant_entry_reward(conn, program, member_id, target, now)
    return TierOutcome(changed=True, from_tier=from_name, to_tier=to_name)


async def _insert_state(
    conn: BaseDBAsyncClient,
    program: TierProgram,
    member_id: int,
    target: TierRecord | None,
    result: Standing,
    now: datetime,
    *,
    since: datetime,
) -> None:
    await execute(
        conn,
        "INSERT INTO member_tiers (member_id, program_id, tier_id, since, review_at,"
        " config_version, updated_at) VALUES (?, ?, ?, ?, ?, ?, ?)",
        (
            member_id,
            program.program_id,
            None if target is None else target.id,
            since,
            _utc(result.review_at),
            program.version,
            now,
        ),
    )


async def _grant_entry_reward(
    conn: BaseDBAsyncClient, program: TierProgram, member_id: int, tier: TierRecord, now: datetime
) -> None:
    """The tier's entry reward, the first time ever the member enters it (the unique index on
    (member, tier) decides, so a tier left and entered again gives nothing more)."""
    if tier.entry_points == 0 and tier.entry_reward_id is None:
        return
    claimed = await fetch_one(
        conn,
        "INSERT INTO tier_entry_grants (member_id, tier_id, points, redemption_id, reward_failure,"
        " granted_at) VALUES (?, ?, ?, NULL, NULL, ?)"
        " ON CONFLICT (member_id, tier_id) DO NOTHING RETURNING id",
        (member_id, tier.id, tier.entry_points, now),
    )
    if claimed is None:
        return
    details = {"tier": tier.name}
    if tier.entry_points > 0:
        await post_movement(
            conn,
            Movement(
                program_id=program.program_id,
                member_id=member_id,
                kind=TransactionKind.TIER_REWARD,
                points=tier.entry_points,
                counter_account=Account.PROGRAM_ISSUED,
                description=f"Welcome to {tier.name}",
                event_details=details,
            ),
            now,
        )
    if tier.entry_reward_id is not None:
        given = await give_reward(
            conn,
            GiveReward(
                program_id=program.program_id,
                member_id=member_id,
                reward_id=tier.entry_reward_id,
                kind=TransactionKind.TIER_REWARD,
                reason=f"{tier.name} entry reward",
                event_details=details,
            ),
            now,
        )
        if isinstance(given, RewardUnavailable):
            await execute(
                conn,
                "UPDATE tier_entry_grants SET reward_failure = ? WHERE id = ?",
                (given.value, claimed["id"]),
            )
        else:
            await execute(
                conn,
                "UPDATE tier_entry_grants SET redemption_id = ? WHERE id = ?",
                (given.redemption_id, claimed["id"]),
            )


async def on_member_activity(
    conn: BaseDBAsyncClient,
    *,
    program_id: int,
    member_id: int,
    reason: TierChangeReason,
    now: datetime,
) -> None:
    """The hook of orders, refunds and referrals, in their transaction: re-evaluate the member
    when the program has tiers (one read and nothing else when it has none)."""
    program = await tier_program(conn, program_id)
    if program is None:
        return
    await evaluate_member(conn, program, member_id, reason, now)


# --- what a tier gives ------------------------------------------------------------------------


async def _current_tier(
    conn: BaseDBAsyncClient, program: TierProgram, member_id: int
) -> TierRecord | None:
    stored = await _stored(conn, member_id)
    if stored is None:
        rank = _implicit_rank(program)
        return None if rank == NO_TIER else program.tiers[rank]
    for tier in program.tiers:
        if stored["tier_id"] is not None and tier.id == int(stored["tier_id"]):
            return tier
    return None


async def member_attributes(program_id: int, member_id: int) -> MemberAttributes:
    """What purchase earning needs of the member: their tier's name (tier-restricted rules) and
    the highest earning multiplier of their tier and active paid memberships (they do not
    compound)."""
    conn = connection()
    program = await tier_program(conn, program_id)
    tier = None if program is None else await _current_tier(conn, program, member_id)
    multipliers = [
        Decimal(str(plan["earn_multiplier"]))
        for plan in await _active_plans(conn, member_id, utc_now())
        if plan["earn_multiplier"] is not None
    ]
    if tier is not None and tier.earn_multiplier is not None:
        multipliers.append(tier.earn_multiplier)
    return MemberAttributes(
        tier=None if tier is None else tier.name,
        multiplier=max(multipliers) if multipliers else None,
    )


async def reward_terms_for_member(
    conn: BaseDBAsyncClient,
    *,
    program_id: int,
    member_id: int,
    reward_id: int,
    cost_points: int,
    now: datetime,
) -> TierRewardTerms:
    """The reward's cost after the member's tier discount (rounded up, at least 1), and whether
    the member's tier may redeem it (a reward restricted to tiers: only members in one)."""
    del now  # the stored tier is the tier now; kept in the signature for the redemption's time
    restricted = await fetch_all(
        conn,
        "SELECT t.id, t.name FROM tier_reward_access a JOIN tiers t ON t.id = a.tier_id"
        " WHERE a.reward_id = ? AND t.retired_at IS NULL ORDER BY t.rank",
        (reward_id,),
    )
    program = await tier_program(conn, program_id)
    tier = None if program is None else await _current_tier(conn, program, member_id)
    required = tuple(str(row["name"]) for row in restricted)
    allowed = not restricted or (tier is not None and tier.id in {int(r["id"]) for r in restricted})
    discount = 0 if tier is None else tier.reward_discount_percent
    return TierRewardTerms(
        cost_points=discounted_cost(cost_points, discount),
        allowed=allowed,
        required_tiers=required,
    )


# --- the member's view ------------------------------------------------------------------------


@dataclass(frozen=True)
class TierChangeRecord:
    from_tier: str | None
    to_tier: str | None
    reason: TierChangeReason
    at: datetime


@dataclass(frozen=True)
class TierStatus:
    program: TierProgram
    tier: TierRecord | None
    since: datetime | None
    holds_until: datetime | None
    value: int
    period_start: datetime | None
    period_end: datetime | None
    next_tier: TierRecord | None
    needed_for_next: int | None
    # What the current period must still count for the member to keep the tier next period.
    needed_to_keep: int | None
    history: tuple[TierChangeRecord, ...]


async def tier_status(program_id: int, member_id: int) -> TierStatus | None:
    """Where the member stands, computed now from their history; None when the program has no
    tiers. The stored tier is what is shown (the jobs and hooks keep it equal to the history)."""
    conn = connection()
    program = await tier_program(conn, program_id)
    if program is None:
        return None
    member = await _member(conn, member_id, lock=False)
    if member is None:
        return None
    now = utc_now()
    enrolled_at = as_datetime(member["enrolled_at"])
    result = await compute_standing(conn, program, member_id, enrolled_at, now)
    tier = await _current_tier(conn, program, member_id)
    stored = await _stored(conn, member_id)
    since: datetime | None = enrolled_at if stored is None else as_datetime(stored["since"])
    if tier is None:
        since = None
    rank = NO_TIER if tier is None else tier.rank
    next_tier = program.tiers[rank + 1] if rank + 1 < len(program.tiers) else None
    thresholds = program.config.thresholds
    needed_to_keep = None
    if (
        tier is not None
        and program.downgrade is not DowngradePolicy.NEVER
        and program.period in (TierPeriod.CALENDAR_YEAR, TierPeriod.ANNIVERSARY_YEAR)
    ):
        needed_to_keep = needed_for(thresholds, rank, result.value)
    rows = await fetch_all(
        conn,
        "SELECT from_tier, to_tier, reason, at FROM tier_changes WHERE member_id = ?"
        " ORDER BY id DESC LIMIT 50",
        (member_id,),
    )
    return TierStatus(
        program=program,
        tier=tier,
        since=since,
        holds_until=result.holds_until if tier is not None else None,
        value=result.value,
        period_start=result.period_start,
        period_end=result.period_end,
        next_tier=next_tier,
        needed_for_next=None
        if next_tier is None
        else needed_for(thresholds, rank + 1, result.value),
        needed_to_keep=needed_to_keep,
        history=tuple(
            TierChangeRecord(
                from_tier=row["from_tier"],
                to_tier=row["to_tier"],
                reason=TierChangeReason(row["reason"]),
                at=as_datetime(row["at"]),
            )
            for row in rows
        ),
    )


# --- configuration ----------------------------------------------------------------------------


@dataclass(frozen=True)
class TierInput:
    name: str
    threshold: int
    # Decimal text such as "1.5".
    earn_multiplier: str | None = None
    reward_discount_percent: int = 0
    entry_points: int = 0
    entry_reward_id: int | None = None


@dataclass(frozen=True)
class ConfigureTiersInput:
    program_slug: str
    metric: TierMetric
    period: TierPeriod
    downgrade: DowngradePolicy
    tiers: tuple[TierInput, ...]
    grace_days: int = 0


def _multiplier(text: str | None) -> Decimal | None:
    if text is None:
        return None
    try:
        return Decimal(text.strip())
    except InvalidOperation:
        return Decimal("NaN")


def _check_tier(check: Checker, field: list[str], tier: TierInput) -> str | None:
    name = check.text([*field, "name"], tier.name, TIER_NAME_MAX)
    if not 0 <= tier.threshold <= MAX_THRESHOLD:
        check.add(
            ErrorCode.INVALID_VALUE,
            f"threshold must be in [0, {MAX_THRESHOLD}]",
            [*field, "threshold"],
        )
    multiplier = _multiplier(tier.earn_multiplier)
    if multiplier is not None and (
        not multiplier.is_finite()
        or not Decimal(1) < multiplier <= MAX_TIER_MULTIPLIER
        or multiplier != multiplier.quantize(Decimal("0.01"))
    ):
        check.add(
            ErrorCode.INVALID_VALUE,
            f"earnMultiplier must be in (1, {MAX_TIER_MULTIPLIER}] with at most 2 decimals",
            [*field, "earnMultiplier"],
        )
    if not 0 <= tier.reward_discount_percent <= MAX_REWARD_DISCOUNT_PERCENT:
        check.add(
            ErrorCode.INVALID_VALUE,
            f"rewardDiscountPercent must be in [0, {MAX_REWARD_DISCOUNT_PERCENT}]",
            [*field, "rewardDiscountPercent"],
        )
    if not 0 <= tier.entry_points <= MAX_POINTS_PER_MOVEMENT:
        check.add(
            ErrorCode.INVALID_POINTS,
            f"entryPoints must be in [0, {MAX_POINTS_PER_MOVEMENT}]",
            [*field, "entryPoints"],
        )
    if tier.threshold == 0 and (tier.entry_points or tier.entry_reward_id is not None):
        # Everyone holds a free tier from enrolment without ever entering it.
        check.add(
            ErrorCode.INVALID_VALUE,
            "a tier with threshold 0 cannot have an entry reward",
            [*field, "entryPoints"],
        )
    return name


async def configure_tiers(data: ConfigureTiersInput) -> TierProgram:
    """Replace a program's tier configuration. Tiers are matched by name: a kept name keeps its
    history, entry grants and reward access; a dropped one is retired. Members are not moved
    here: the configuration's version rises and `tiers-recalculate` moves them."""
    program = await require_program(data.program_slug, None)
    check = Checker()
    if not 1 <= len(data.tiers) <= MAX_TIERS:
        check.add(ErrorCode.TOO_MANY, f"give 1 to {MAX_TIERS} tiers", ["input", "tiers"])
    names: list[str] = []
    for index, tier in enumerate(data.tiers):
        name = _check_tier(check, ["input", "tiers", str(index)], tier)
        if name is not None:
            if name in names:
                check.add(
                    ErrorCode.INVALID_VALUE,
                    f"tier {name!r} is named twice",
                    ["input", "tiers", str(index), "name"],
                )
            names.append(name)
    thresholds = [tier.threshold for tier in data.tiers]
    if any(b <= a for a, b in itertools.pairwise(thresholds)):
        check.add(
            ErrorCode.INVALID_VALUE,
            "tiers are listed lowest first, with strictly rising thresholds",
            ["input", "tiers"],
        )
    if not 0 <= data.grace_days <= MAX_GRACE_DAYS:
        check.add(
            ErrorCode.INVALID_VALUE,
            f"graceDays must be in [0, {MAX_GRACE_DAYS}]",
            ["input", "graceDays"],
        )
    if data.grace_days and data.downgrade is not DowngradePolicy.GRACE_PERIOD:
        check.add(
            ErrorCode.INVALID_VALUE,
            "graceDays is for the GRACE_PERIOD policy",
            ["input", "graceDays"],
        )
    if data.period is TierPeriod.ROLLING_12_MONTHS and data.downgrade is DowngradePolicy.ONE_LEVEL:
        check.add(
            ErrorCode.INVALID_VALUE,
            "ONE_LEVEL needs period ends; ROLLING_12_MONTHS has none",
            ["input", "downgrade"],
        )
    conn = connection()
    for index, tier in enumerate(data.tiers):
        if tier.entry_reward_id is None:
            continue
        reward = await fetch_one(
            conn,
            "SELECT id FROM rewards WHERE id = ? AND program_id = ?",
            (tier.entry_reward_id, program.id),
        )
        if reward is None:
            check.add(
                ErrorCode.REWARD_NOT_FOUND,
                "no such reward in this program",
                ["input", "tiers", str(index), "entryRewardId"],
            )
    check.raise_if_any()
    now = utc_now()
    async with in_transaction() as conn:
        updated = await fetch_one(
            conn,
            "UPDATE tier_settings SET metric = ?, period = ?, downgrade = ?, grace_days = ?,"
            " version = version + 1, recalculation_cursor = NULL, updated_at = ?"
            " WHERE program_id = ? RETURNING id",
            (
                data.metric.value,
                data.period.value,
                data.downgrade.value,
                data.grace_days,
                now,
                program.id,
            ),
        )
        if updated is None:
            await execute(
                conn,
                "INSERT INTO tier_settings (program_id, metric, period, downgrade, grace_days,"
                " version, recalculated_version, recalculation_cursor, updated_at)"
                " VALUES (?, ?, ?, ?, ?, 1, 0, NULL, ?)",
                (
                    program.id,
                    data.metric.value,
                    data.period.value,
                    data.downgrade.value,
                    data.grace_days,
                    now,
                ),
            )
        # Free the ranks first: (program, rank) is not unique, but a clean slate keeps it simple.
        await execute(
            conn,
            "UPDATE tiers SET rank = NULL, retired_at = COALESCE(retired_at, ?)"
            " WHERE program_id = ?",
            (now, program.id),
        )
        for rank, tier in enumerate(data.tiers):
            values = (
                rank,
                tier.threshold,
                None
                if tier.earn_multiplier is None
                else f"{Decimal(tier.earn_multiplier.strip()).quantize(Decimal('0.01')):f}",
                tier.reward_discount_percent,
                tier.entry_points,
                tier.entry_reward_id,
            )
            kept = await fetch_one(
                conn,
                "UPDATE tiers SET rank = ?, threshold = ?, earn_multiplier = ?,"
                " reward_discount_percent = ?, entry_points = ?, entry_reward_id = ?,"
                " retired_at = NULL WHERE program_id = ? AND name = ? RETURNING id",
                (*values, program.id, tier.name.strip()),
            )
            if kept is None:
                await execute(
                    conn,
                    "INSERT INTO tiers (program_id, name, rank, threshold, earn_multiplier,"
                    " reward_discount_percent, entry_points, entry_reward_id, retired_at,"
                    " created_at) VALUES (?, ?, ?, ?, ?, ?, ?, ?, NULL, ?)",
                    (program.id, tier.name.strip(), *values, now),
                )
        await append_event(
            conn,
            program_id=program.id,
            member_id=None,
            event_type="tiers.configured",
            payload={"tiers": [tier.name.strip() for tier in data.tiers]},
            now=now,
        )
    configured = await tier_program(connection(), program.id)
    assert configured is not None
    return configured


async def set_reward_tiers(reward_id: int, tier_names: Sequence[str]) -> tuple[str, ...]:
    """Restrict a reward to members of these tiers (none: everyone); returns the names kept."""
    conn = connection()
    reward = await fetch_one(conn, "SELECT id, program_id FROM rewards WHERE id = ?", (reward_id,))
    if reward is None:
        raise DomainError(ErrorCode.REWARD_NOT_FOUND, "no such reward", ["input", "rewardId"])
    wanted = sorted({name.strip() for name in tier_names})
    tiers = {
        str(row["name"]): int(row["id"])
        for row in await fetch_all(
            conn,
            "SELECT id, name FROM tiers WHERE program_id = ? AND retired_at IS NULL",
            (reward["program_id"],),
        )
    }
    check = Checker()
    for name in wanted:
        if name not in tiers:
            check.add(ErrorCode.TIER_NOT_FOUND, f"no active tier {name!r}", ["input", "tierNames"])
    check.raise_if_any()
    async with in_transaction() as conn:
        await execute(conn, "DELETE FROM tier_reward_access WHERE reward_id = ?", (reward_id,))
        for name in wanted:
            await execute(
                conn,
                "INSERT INTO tier_reward_access (reward_id, tier_id) VALUES (?, ?)",
                (reward_id, tiers[name]),
            )
    return tuple(wanted)


async def reward_tier_names(reward_id: int) -> tuple[str, ...]:
    rows = await fetch_all(
        connection(),
        "SELECT t.name FROM tier_reward_access a JOIN tiers t ON t.id = a.tier_id"
        " WHERE a.reward_id = ? AND t.retired_at IS NULL ORDER BY t.rank",
        (reward_id,),
    )
    return tuple(str(row["name"]) for row in rows)


# --- the jobs' units of work ------------------------------------------------------------------


async def review_member(
    program_id: int, member_id: int, reason: TierChangeReason, now: datetime
) -> bool:
    """One member re-evaluated in a transaction of its own; True when the tier changed."""
    async with in_transaction() as conn:
        program = await tier_program(conn, program_id)
        if program is None:
            return False
        outcome = await evaluate_member(conn, program, member_id, reason, now)
    return outcome.changed


async def due_for_review(now: datetime, after_member_id: int, limit: int) -> list[tuple[int, int]]:
    rows = await fetch_all(
        connection(),
        "SELECT program_id, member_id FROM member_tiers WHERE review_at IS NOT NULL"
        " AND review_at <= ? AND member_id > ? ORDER BY member_id LIMIT ?",
        (now, after_member_id, limit),
    )
    return [(int(row["program_id"]), int(row["member_id"])) for row in rows]


async def count_due_for_review(now: datetime) -> int:
    row = await fetch_one(
        connection(),
        "SELECT COUNT(*) AS n FROM member_tiers WHERE review_at IS NOT NULL AND review_at <= ?",
        (now,),
    )
    return 0 if row is None else int(row["n"])


async def programs_to_recalculate() -> list[tuple[int, int, int | None]]:
    """(program id, version, cursor) of every program whose members are not all recalculated."""
    rows = await fetch_all(
        connection(),
        "SELECT program_id, version, recalculation_cursor FROM tier_settings"
        " WHERE recalculated_version < version ORDER BY program_id",
    )
    return [
        (
            int(row["program_id"]),
            int(row["version"]),
            None if row["recalculation_cursor"] is None else int(row["recalculation_cursor"]),
        )
        for row in rows
    ]


async def members_after(program_id: int, after_member_id: int, limit: int) -> list[int]:
    rows = await fetch_all(
        connection(),
        "SELECT id FROM members WHERE program_id = ? AND id > ? ORDER BY id LIMIT ?",
        (program_id, after_member_id, limit),
    )
    return [int(row["id"]) for row in rows]


async def count_members(program_id: int, after_member_id: int) -> int:
    row = await fetch_one(
        connection(),
        "SELECT COUNT(*) AS n FROM members WHERE program_id = ? AND id > ?",
        (program_id, after_member_id),
    )
    return 0 if row is None else int(row["n"])


async def save_recalculation_cursor(
    program_id: int, version: int, member_id: int | None, *, done: bool
) -> None:
    """The recalculation's progress, kept only while the configuration is still `version` (a
    newer change restarts it from the first member)."""
    async with in_transaction() as conn:
        await execute(
            conn,
            "UPDATE tier_settings SET recalculation_cursor = ?,"
            " recalculated_version = CASE WHEN ? THEN ? ELSE recalculated_version END"
            " WHERE program_id = ? AND version = ?",
            (None if done else member_id, done, version, program_id, version),
        )
