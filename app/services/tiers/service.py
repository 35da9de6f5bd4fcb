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
import json
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from decimal import Decimal, InvalidOperation
from typing import Any
from zoneinfo import ZoneInfo

from tortoise.backends.base.client import BaseDBAsyncClient

from app.db import (
    as_datetime,
    as_optional_datetime,
    connection,
    execute,
    fetch_all,
    fetch_one,
    from_json,
    in_transaction,
    lock_until_commit,
    utc_now,
)
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
    Assignment,
    Contribution,
    DowngradePolicy,
    Standing,
    TierChangeReason,
    TierConfig,
    TierMetric,
    TierPeriod,
    assignment_end,
    discounted_cost,
    needed_for,
    rolling_needed_to_keep,
    standing,
)
from app.domain.validation import IDEMPOTENCY_KEY_MAX, Checker
from app.services.core import idempotency
from app.services.core.events import append_event
from app.services.ledger.service import Movement, post_movement
from app.services.programs.service import require_program
from app.services.rewards.gifts import GiveReward, give_reward, require_giftable_reward

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
    perks: tuple[str, ...] = ()


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
        perks=tuple(str(perk) for perk in (from_json(row["perks"]) or ())),
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
        " entry_points, entry_reward_id, perks FROM tiers"
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
        " entry_points, entry_reward_id, perks FROM tiers WHERE id = ? AND retired_at IS NULL",
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
        assignment=await _last_assignment(conn, program, member_id),
    )


@dataclass(frozen=True)
class AssignmentRecord:
    id: int
    tier_name: str
    rank: int
    assigned_at: datetime
    locked_until: datetime | None
    cleared_at: datetime | None
    reason: str

    @property
    def domain(self) -> Assignment:
        return Assignment(self.rank, self.assigned_at, self.locked_until, self.cleared_at)


async def _last_assignment_record(
    conn: BaseDBAsyncClient, program: TierProgram, member_id: int
) -> AssignmentRecord | None:
    """The member's latest manual assignment (each new one clears the one before), when its
    tier is still active: a retired tier holds nobody up."""
    row = await fetch_one(
        conn,
        "SELECT id, tier_id, assigned_at, locked_until, cleared_at, reason FROM tier_assignments"
        " WHERE member_id = ? ORDER BY id DESC LIMIT 1",
        (member_id,),
    )
    if row is None:
        return None
    for tier in program.tiers:
        if tier.id == int(row["tier_id"]):
            return AssignmentRecord(
                id=int(row["id"]),
                tier_name=tier.name,
                rank=tier.rank,
                assigned_at=as_datetime(row["assigned_at"]),
                locked_until=as_optional_datetime(row["locked_until"]),
                cleared_at=as_optional_datetime(row["cleared_at"]),
                reason=str(row["reason"]),
            )
    return None


async def _last_assignment(
    conn: BaseDBAsyncClient, program: TierProgram, member_id: int
) -> Assignment | None:
    record = await _last_assignment_record(conn, program, member_id)
    return None if record is None else record.domain


async def _active_plans(
    conn: BaseDBAsyncClient, member_id: int, now: datetime
) -> list[dict[str, Any]]:
    """The plans of the member's memberships active now (not ended, and not past `ends_at`:
    benefits stop on time even before the memberships job records the end)."""
    return await fetch_all(
        conn,
        "SELECT p.tier_id, p.earn_multiplier, p.perks, m.ends_at FROM memberships m"
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
    *,
    note: str | None = None,
) -> TierOutcome:
    """Bring the member's stored tier to what their history says now, in the caller's
    transaction; idempotent (a second call with nothing new changes nothing). `note`: the
    admin's reason of a MANUAL change, kept in the history and the event."""
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
    if reason is TierChangeReason.PERIOD_END and await _assignment_ended_at(
        conn, program, member_id, as_datetime(member["enrolled_at"]), now, stored
    ):
        reason = TierChangeReason.ASSIGNMENT_ENDED
    await execute(
        conn,
        "INSERT INTO tier_changes (program_id, member_id, from_tier, to_tier, reason, note, at)"
        " VALUES (?, ?, ?, ?, ?, ?, ?)",
        (program.program_id, member_id, from_name, to_name, reason.value, note, now),
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
            "note": note,
        },
        now=now,
    )
    if target is not None:
        await _grant_entry_reward(conn, program, member_id, target, now)
    return TierOutcome(changed=True, from_tier=from_name, to_tier=to_name)


async def _assignment_ended_at(
    conn: BaseDBAsyncClient,
    program: TierProgram,
    member_id: int,
    enrolled_at: datetime,
    now: datetime,
    stored: dict[str, Any] | None,
) -> bool:
    """Whether the review due now is the end of the member's manual assignment (the instant
    the job was asked to come back at)."""
    if stored is None or stored["review_at"] is None:
        return False
    assignment = await _last_assignment(conn, program, member_id)
    if assignment is None:
        return False
    end = assignment_end(
        program.config, assignment, zone=ZoneInfo(program.time_zone), enrolled_at=enrolled_at
    )
    return end is not None and end <= now and end == as_datetime(stored["review_at"])


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
    return MemberAttributes(
        tier=None if tier is None else tier.name,
        multiplier=await _multiplier_of(conn, tier, member_id, utc_now()),
    )


async def reward_terms_for_member(
    conn: BaseDBAsyncClient,
    *,
    program_id: int,
    member_id: int,
    required_tiers: Sequence[str],
    cost_points: int,
    now: datetime,
) -> TierRewardTerms:
    """The reward's cost after the member's tier discount (rounded up, at least 1), and whether
    the member may redeem it: a reward whose `requiredTiers` names tiers (createReward /
    updateReward) is for members holding one of them, by their stored tier (earned, granted by
    a paid membership or assigned by an admin)."""
    del now  # the stored tier is the tier now; kept in the signature for the redemption's time
    program = await tier_program(conn, program_id)
    tier = None if program is None else await _current_tier(conn, program, member_id)
    required = tuple(required_tiers)
    allowed = not required or (tier is not None and tier.name in required)
    discount = 0 if tier is None else tier.reward_discount_percent
    return TierRewardTerms(
        cost_points=discounted_cost(cost_points, discount),
        allowed=allowed,
        required_tiers=required,
    )


async def unknown_tier_names(
    conn: BaseDBAsyncClient, program_id: int, names: Sequence[str]
) -> list[str]:
    """The names that are not active tiers of the program (a reward may only require those)."""
    active = {
        str(row["name"])
        for row in await fetch_all(
            conn,
            "SELECT name FROM tiers WHERE program_id = ? AND retired_at IS NULL",
            (program_id,),
        )
    }
    return [name for name in names if name not in active]


async def member_multiplier(
    conn: BaseDBAsyncClient, program_id: int, member_id: int, now: datetime
) -> Decimal | None:
    """The member's earning multiplier now, in the caller's transaction: the higher of their
    tier's and their active paid memberships' (they do not compound). Applied to purchases (by
    the earning rules), actions and referral rewards; never to adjustments, tier or membership
    rewards."""
    program = await tier_program(conn, program_id)
    tier = None if program is None else await _current_tier(conn, program, member_id)
    return await _multiplier_of(conn, tier, member_id, now)


async def _multiplier_of(
    conn: BaseDBAsyncClient, tier: TierRecord | None, member_id: int, now: datetime
) -> Decimal | None:
    multipliers = [
        Decimal(str(plan["earn_multiplier"]))
        for plan in await _active_plans(conn, member_id, now)
        if plan["earn_multiplier"] is not None
    ]
    if tier is not None and tier.earn_multiplier is not None:
        multipliers.append(tier.earn_multiplier)
    return max(multipliers) if multipliers else None


def multiplied_points(points: int, multiplier: Decimal | None) -> int:
    """Points x the member's multiplier, rounded down (a multiplier has 2 decimals at most)."""
    if multiplier is None or points <= 0:
        return points
    return points * int(multiplier * 100) // 100


# --- manual assignment -----------------------------------------------------------------------

ASSIGNMENT_REASON_MAX = 500
_ASSIGN = "assignMemberTier"
_CLEAR = "clearMemberTierAssignment"


@dataclass(frozen=True)
class AssignTierInput:
    member_id: int
    tier_name: str
    reason: str
    idempotency_key: str
    locked_until: datetime | None = None


@dataclass(frozen=True)
class ClearAssignmentInput:
    member_id: int
    reason: str
    idempotency_key: str


@dataclass(frozen=True)
class AssignmentResult:
    member_id: int
    program_id: int
    assignment: AssignmentRecord
    replayed: bool


async def _program_member(member_id: int, scope: int | None) -> tuple[dict[str, Any], TierProgram]:
    conn = connection()
    member = await fetch_one(
        conn, "SELECT id, program_id, enrolled_at FROM members WHERE id = ?", (member_id,)
    )
    if member is None or (scope is not None and int(member["program_id"]) != scope):
        raise DomainError(ErrorCode.MEMBER_NOT_FOUND, "no such member", ["input", "memberId"])
    program = await tier_program(conn, int(member["program_id"]))
    if program is None:
        raise DomainError(
            ErrorCode.TIER_NOT_FOUND, "the member's program has no tiers", ["input", "memberId"]
        )
    return member, program


async def _assignment_by_id(
    conn: BaseDBAsyncClient, program: TierProgram, assignment_id: int
) -> AssignmentRecord:
    row = await fetch_one(
        conn,
        "SELECT a.id, a.tier_id, a.assigned_at, a.locked_until, a.cleared_at, a.reason, t.name,"
        " t.rank FROM tier_assignments a JOIN tiers t ON t.id = a.tier_id WHERE a.id = ?",
        (assignment_id,),
    )
    assert row is not None
    return AssignmentRecord(
        id=int(row["id"]),
        tier_name=str(row["name"]),
        rank=-1 if row["rank"] is None else int(row["rank"]),
        assigned_at=as_datetime(row["assigned_at"]),
        locked_until=as_optional_datetime(row["locked_until"]),
        cleared_at=as_optional_datetime(row["cleared_at"]),
        reason=str(row["reason"]),
    )


async def assign_member_tier(data: AssignTierInput, scope: int | None) -> AssignmentResult:
    """An admin sets the member's tier: a floor from now until `locked_until` (or, without a
    lock, as long as the downgrade policy keeps a tier reached now; app/domain/tiers.py). The
    member moves at once (history reason MANUAL with the admin's reason, a `tier.changed`
    event) and can still earn their way above it; the previous assignment, if any, ends.
    Assigning below what the member already holds without it is refused (TIER_BELOW_EARNED):
    an assignment never takes a tier away. Idempotent by `idempotency_key`."""
    check = Checker()
    tier_name = check.text(["input", "tierName"], data.tier_name, TIER_NAME_MAX)
    reason = check.text(["input", "reason"], data.reason, ASSIGNMENT_REASON_MAX)
    check.text(["input", "idempotencyKey"], data.idempotency_key, IDEMPOTENCY_KEY_MAX)
    if data.locked_until is not None and data.locked_until.utcoffset() is None:
        check.add(
            ErrorCode.INVALID_VALUE,
            "lockedUntil needs a time zone offset (e.g. 2030-03-01T00:00:00Z)",
            ["input", "lockedUntil"],
        )
    check.raise_if_any()
    assert tier_name is not None and reason is not None
    now = utc_now()
    member, program = await _program_member(data.member_id, scope)
    locked = _utc(data.locked_until)
    payload = {
        "memberId": data.member_id,
        "tierName": tier_name,
        "lockedUntil": None if locked is None else locked.isoformat(),
        "reason": reason,
    }
    scope_key = str(program.program_id)
    async with in_transaction() as conn:
        replayed = await _claim(
            conn, program, data.member_id, data.idempotency_key, _ASSIGN, payload, now
        )
        if replayed is not None:
            return replayed
        # After the claim: a replay answers what was done, even once the date has passed or
        # the tier was renamed. A refusal here rolls the claim back with everything else.
        if locked is not None and locked <= now:
            raise DomainError(
                ErrorCode.INVALID_VALUE,
                "lockedUntil must be in the future",
                ["input", "lockedUntil"],
            )
        tier = next((t for t in program.tiers if t.name == tier_name), None)
        if tier is None:
            raise DomainError(
                ErrorCode.TIER_NOT_FOUND, f"no active tier {tier_name!r}", ["input", "tierName"]
            )
        await _member(conn, data.member_id, lock=True)
        enrolled_at = as_datetime(member["enrolled_at"])
        history = await contributions(conn, program, data.member_id)
        floor_rank, floor_until = await _membership_floor(conn, program, data.member_id, now)
        without = standing(
            program.config,
            history,
            enrolled_at=enrolled_at,
            now=now,
            zone=ZoneInfo(program.time_zone),
            floor_rank=floor_rank,
            floor_until=floor_until,
        )
        if tier.rank < without.rank:
            raise DomainError(
                ErrorCode.TIER_BELOW_EARNED,
                f"the member holds {program.tiers[without.rank].name} without an assignment;"
                " an assignment is a floor and never takes a tier away",
                ["input", "tierName"],
            )
        await execute(
            conn,
            "UPDATE tier_assignments SET cleared_at = ?, clear_reason = ?"
            " WHERE member_id = ? AND cleared_at IS NULL",
            (now, "replaced by a new assignment", data.member_id),
        )
        row = await fetch_one(
            conn,
            "INSERT INTO tier_assignments (program_id, member_id, tier_id, locked_until, reason,"
            " assigned_at, cleared_at, clear_reason) VALUES (?, ?, ?, ?, ?, ?, NULL, NULL)"
            " RETURNING id",
            (program.program_id, data.member_id, tier.id, locked, reason, now),
        )
        assert row is not None
        assignment = await _assignment_by_id(conn, program, int(row["id"]))
        await evaluate_member(
            conn, program, data.member_id, TierChangeReason.MANUAL, now, note=reason
        )
        holds_until = assignment_end(
            program.config,
            assignment.domain,
            zone=ZoneInfo(program.time_zone),
            enrolled_at=enrolled_at,
        )
        await append_event(
            conn,
            program_id=program.program_id,
            member_id=data.member_id,
            event_type="tier.assigned",
            payload={
                "memberId": encode_id("Member", data.member_id),
                "tier": tier.name,
                "lockedUntil": payload["lockedUntil"],
                "holdsUntil": None if holds_until is None else holds_until.isoformat(),
                "reason": reason,
            },
            now=now,
        )
        await idempotency.store_response(
            conn,
            scope=scope_key,
            key=data.idempotency_key,
            response={"assignmentId": assignment.id},
        )
    return AssignmentResult(
        member_id=data.member_id,
        program_id=program.program_id,
        assignment=assignment,
        replayed=False,
    )


async def _claim(
    conn: BaseDBAsyncClient,
    program: TierProgram,
    member_id: int,
    key: str,
    operation: str,
    payload: dict[str, Any],
    now: datetime,
) -> AssignmentResult | None:
    """Claim the idempotency key of an assignment request; the stored result when it is a
    replay, None when the request is new."""
    stored = await idempotency.claim(
        conn,
        scope=str(program.program_id),
        key=key,
        operation=operation,
        fingerprint=idempotency.request_fingerprint(operation, payload),
        now=now,
    )
    if stored is None:
        return None
    return AssignmentResult(
        member_id=member_id,
        program_id=program.program_id,
        assignment=await _assignment_by_id(conn, program, int(stored["assignmentId"])),
        replayed=True,
    )


async def clear_member_tier_assignment(
    data: ClearAssignmentInput, scope: int | None
) -> AssignmentResult:
    """End the member's assignment in force now; the member falls (or stays) at once at what
    their history earns (history reason MANUAL with the admin's reason). Idempotent by key;
    TIER_ASSIGNMENT_NOT_FOUND when none is in force."""
    check = Checker()
    reason = check.text(["input", "reason"], data.reason, ASSIGNMENT_REASON_MAX)
    check.text(["input", "idempotencyKey"], data.idempotency_key, IDEMPOTENCY_KEY_MAX)
    check.raise_if_any()
    assert reason is not None
    member, program = await _program_member(data.member_id, scope)
    now = utc_now()
    payload = {"memberId": data.member_id, "reason": reason}
    scope_key = str(program.program_id)
    async with in_transaction() as conn:
        replayed = await _claim(
            conn, program, data.member_id, data.idempotency_key, _CLEAR, payload, now
        )
        if replayed is not None:
            return replayed
        await _member(conn, data.member_id, lock=True)
        current = await _last_assignment_record(conn, program, data.member_id)
        end = (
            None
            if current is None
            else assignment_end(
                program.config,
                current.domain,
                zone=ZoneInfo(program.time_zone),
                enrolled_at=as_datetime(member["enrolled_at"]),
            )
        )
        if current is None or current.cleared_at is not None or (end is not None and end <= now):
            raise DomainError(
                ErrorCode.TIER_ASSIGNMENT_NOT_FOUND,
                "the member has no tier assignment in force",
                ["input", "memberId"],
            )
        await execute(
            conn,
            "UPDATE tier_assignments SET cleared_at = ?, clear_reason = ? WHERE id = ?",
            (now, reason, current.id),
        )
        await evaluate_member(
            conn, program, data.member_id, TierChangeReason.MANUAL, now, note=reason
        )
        await append_event(
            conn,
            program_id=program.program_id,
            member_id=data.member_id,
            event_type="tier.assignment_cleared",
            payload={
                "memberId": encode_id("Member", data.member_id),
                "tier": current.tier_name,
                "reason": reason,
            },
            now=now,
        )
        await idempotency.store_response(
            conn, scope=scope_key, key=data.idempotency_key, response={"assignmentId": current.id}
        )
        cleared = await _assignment_by_id(conn, program, current.id)
    return AssignmentResult(
        member_id=data.member_id,
        program_id=program.program_id,
        assignment=cleared,
        replayed=False,
    )


# --- the member's view ------------------------------------------------------------------------


@dataclass(frozen=True)
class TierChangeRecord:
    from_tier: str | None
    to_tier: str | None
    reason: TierChangeReason
    at: datetime
    note: str | None = None


@dataclass(frozen=True)
class AssignmentInForce:
    tier_name: str
    assigned_at: datetime
    locked_until: datetime | None
    holds_until: datetime | None
    reason: str


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
    # What must still be counted, by `needed_to_keep_by`, for the member to keep the tier:
    # yearly periods, by the period's end (to hold it through the next period); rolling, by
    # the next instant the window's value would fall below it. None: time never takes it.
    needed_to_keep: int | None
    history: tuple[TierChangeRecord, ...]
    needed_to_keep_by: datetime | None = None
    assignment: AssignmentInForce | None = None
    # The tier's perks, then those of the member's active paid memberships (no repeats).
    perks: tuple[str, ...] = ()


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
    needed_to_keep: int | None = None
    needed_to_keep_by: datetime | None = None
    if tier is not None and program.downgrade is not DowngradePolicy.NEVER:
        if program.period in (TierPeriod.CALENDAR_YEAR, TierPeriod.ANNIVERSARY_YEAR):
            needed_to_keep = needed_for(thresholds, rank, result.value)
            needed_to_keep_by = result.period_end
        elif program.period is TierPeriod.ROLLING_12_MONTHS:
            history = await contributions(conn, program, member_id)
            needed_to_keep, needed_to_keep_by = rolling_needed_to_keep(
                program.config, history, now, rank
            )
    assignment: AssignmentInForce | None = None
    last = await _last_assignment_record(conn, program, member_id)
    if last is not None:
        end = assignment_end(
            program.config, last.domain, zone=ZoneInfo(program.time_zone), enrolled_at=enrolled_at
        )
        if last.cleared_at is None and (end is None or now < end):
            assignment = AssignmentInForce(
                tier_name=last.tier_name,
                assigned_at=last.assigned_at,
                locked_until=last.locked_until,
                holds_until=end,
                reason=last.reason,
            )
    perks = list(tier.perks) if tier is not None else []
    for plan in await _active_plans(conn, member_id, now):
        for perk in from_json(plan["perks"]) or ():
            if str(perk) not in perks:
                perks.append(str(perk))
    rows = await fetch_all(
        conn,
        "SELECT from_tier, to_tier, reason, note, at FROM tier_changes WHERE member_id = ?"
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
                note=row["note"],
            )
            for row in rows
        ),
        needed_to_keep_by=needed_to_keep_by,
        assignment=assignment,
        perks=tuple(perks),
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
    # Shown to storefronts ("Free shipping", "Early access"), in this order.
    perks: tuple[str, ...] = ()
    # The name the tier had: a rename keeps its history, holders, entry grants and the rewards
    # that require it (their `requiredTiers` follow the new name).
    renamed_from: str | None = None


PERK_MAX = 200
MAX_TIER_PERKS = 20


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
    check.text_list([*field, "perks"], tier.perks, PERK_MAX, MAX_TIER_PERKS)
    if tier.renamed_from is not None:
        check.text([*field, "renamedFrom"], tier.renamed_from, TIER_NAME_MAX)
    if tier.threshold == 0 and (tier.entry_points or tier.entry_reward_id is not None):
        # Everyone holds a free tier from enrolment without ever entering it.
        check.add(
            ErrorCode.INVALID_VALUE,
            "a tier with threshold 0 cannot have an entry reward",
            [*field, "entryPoints"],
        )
    return name


# Namespace of the PostgreSQL advisory lock of a program's tier configuration (two-key form,
# like reward_gifts'); the second key is the program id.
TIER_CONFIGURATION_LOCK_CLASS = 0x4C54


async def lock_tier_configuration(conn: BaseDBAsyncClient, program_id: int) -> None:
    """Take turns with every other change to which tiers the program has or which tiers its
    rewards require (configureTiers; createReward and updateReward with requiredTiers), so each
    checks the other's committed state: a tier cannot be retired while a reward that requires
    it is being saved. Taken before any row lock of the transaction. SQLite has one writer at a
    time: nothing to do."""
    await lock_until_commit(conn, TIER_CONFIGURATION_LOCK_CLASS, program_id)


async def _checked_changes(
    conn: BaseDBAsyncClient,
    program_id: int,
    data: ConfigureTiersInput,
    names: list[str],
    check: Checker,
) -> dict[str, str]:
    """The checks against the program's tiers and rewards as they are (under the tier
    configuration's lock); raises every error found, these and the caller's. The renames."""
    existing = {
        str(row["name"]): row["retired_at"] is None
        for row in await fetch_all(
            conn, "SELECT name, retired_at FROM tiers WHERE program_id = ?", (program_id,)
        )
    }
    renames: dict[str, str] = {}
    for index, tier in enumerate(data.tiers):
        if tier.renamed_from is None:
            continue
        old, new = tier.renamed_from.strip(), tier.name.strip()
        field = ["input", "tiers", str(index), "renamedFrom"]
        if not existing.get(old, False):
            check.add(ErrorCode.TIER_NOT_FOUND, f"no active tier {old!r} to rename", field)
        elif old in renames or old in names:
            check.add(ErrorCode.INVALID_VALUE, f"tier {old!r} is listed twice", field)
        elif new != old and new in existing:
            check.add(
                ErrorCode.INVALID_VALUE,
                f"the program already has (or had) a tier named {new!r}",
                ["input", "tiers", str(index), "name"],
            )
        else:
            renames[old] = new
    kept = set(names) | set(renames)
    retiring = {name for name, active in existing.items() if active and name not in kept}
    for requiring in await fetch_all(
        conn,
        "SELECT name, required_tiers FROM rewards WHERE program_id = ? AND retired_at IS NULL",
        (program_id,),
    ):
        needed = retiring & {str(name) for name in from_json(requiring["required_tiers"]) or ()}
        if needed:
            check.add(
                ErrorCode.TIER_IN_USE,
                f"reward {requiring['name']!r} requires tier {sorted(needed)[0]!r}: change its"
                " requiredTiers first (or rename the tier with renamedFrom)",
                ["input", "tiers"],
            )
    for index, tier in enumerate(data.tiers):
        if tier.entry_reward_id is None:
            continue
        try:
            await require_giftable_reward(
                conn,
                program_id,
                tier.entry_reward_id,
                ["input", "tiers", str(index), "entryRewardId"],
                utc_now(),
            )
        except DomainError as refused:
            check.add(refused.code, refused.message, refused.field or ["input", "tiers"])
    check.raise_if_any()
    return renames


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
    async with in_transaction() as conn:
        await lock_tier_configuration(conn, program.id)
        renames = await _checked_changes(conn, program.id, data, names, check)
        now = utc_now()
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
        for old, new in renames.items():
            await execute(
                conn,
                "UPDATE tiers SET name = ? WHERE program_id = ? AND name = ?",
                (new, program.id, old),
            )
        if renames:
            await _rename_required_tiers(conn, program.id, renames)
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
                json.dumps(list(dict.fromkeys(perk.strip() for perk in tier.perks))),
            )
            updated_tier = await fetch_one(
                conn,
                "UPDATE tiers SET rank = ?, threshold = ?, earn_multiplier = ?,"
                " reward_discount_percent = ?, entry_points = ?, entry_reward_id = ?, perks = ?,"
                " retired_at = NULL WHERE program_id = ? AND name = ? RETURNING id",
                (*values, program.id, tier.name.strip()),
            )
            if updated_tier is None:
                await execute(
                    conn,
                    "INSERT INTO tiers (program_id, name, rank, threshold, earn_multiplier,"
                    " reward_discount_percent, entry_points, entry_reward_id, perks, retired_at,"
                    " created_at) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, NULL, ?)",
                    (program.id, tier.name.strip(), *values, now),
                )
        # An assignment to a tier that leaves the configuration ends with it: were the tier
        # added back later, the old assignment must not hold its member up again.
        await execute(
            conn,
            "UPDATE tier_assignments SET cleared_at = ?, clear_reason = ?"
            " WHERE cleared_at IS NULL AND tier_id IN"
            " (SELECT id FROM tiers WHERE program_id = ? AND retired_at IS NOT NULL)",
            (now, "the tier was retired", program.id),
        )
        await append_event(
            conn,
            program_id=program.id,
            member_id=None,
            event_type="tiers.configured",
            payload={
                "tiers": [tier.name.strip() for tier in data.tiers],
                "renamed": renames,
            },
            now=now,
        )
    configured = await tier_program(connection(), program.id)
    assert configured is not None
    return configured


# --- the jobs' units of work ------------------------------------------------------------------


async def _rename_required_tiers(
    conn: BaseDBAsyncClient, program_id: int, renames: dict[str, str]
) -> None:
    """Rewards restricted to a renamed tier follow its new name (retired rewards too, so their
    history reads right)."""
    for reward in await fetch_all(
        conn, "SELECT id, required_tiers FROM rewards WHERE program_id = ?", (program_id,)
    ):
        names = [str(name) for name in from_json(reward["required_tiers"]) or ()]
        renamed = sorted(renames.get(name, name) for name in names)
        if renamed != sorted(names):
            await execute(
                conn,
                "UPDATE rewards SET required_tiers = ? WHERE id = ?",
                (json.dumps(renamed), reward["id"]),
            )


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
