"""Evaluating a member: their tier from their history, and the stored tier brought to it.

The rules are in app/domain/tiers.py. When the tier differs from the stored one this writes,
in the caller's transaction and with the member row locked first: the member's tier, a history
row, a `tier.changed` event and, on first entry to a tier, its entry reward.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime
from decimal import Decimal
from zoneinfo import ZoneInfo

from tortoise.backends.base.client import BaseDBAsyncClient

from app.domain.errors import DomainError, ErrorCode
from app.domain.ids import encode_id
from app.domain.ledger import Account, TransactionKind
from app.domain.rewards import RewardUnavailable
from app.domain.tiers import (
    NO_TIER,
    Assignment,
    Contribution,
    Standing,
    TierChangeReason,
    assignment_end,
    standing,
)
from app.services.core.events import append_event
from app.services.ledger.service import Movement, post_movement
from app.services.rewards.gifts import GiveReward, give_reward
from app.services.tiers import repository
from app.services.tiers.repository import (
    ActivePlan,
    AssignmentRecord,
    StoredTier,
    TierChangeRecord,
    TierMember,
    TierProgram,
    TierRecord,
)


@dataclass(frozen=True)
class TierOutcome:
    changed: bool
    from_tier: str | None
    to_tier: str | None


async def last_assignment(
    conn: BaseDBAsyncClient, program: TierProgram, member_id: int
) -> AssignmentRecord | None:
    """The member's latest manual assignment (each new one clears the one before), when its
    tier is still active: a retired tier holds nobody up."""
    return assignment_of_active_tier(program, await repository.last_assignment(conn, member_id))


def assignment_of_active_tier(
    program: TierProgram, record: AssignmentRecord | None
) -> AssignmentRecord | None:
    if record is None:
        return None
    tier = next((tier for tier in program.tiers if tier.id == record.tier_id), None)
    return (
        None if tier is None else dataclasses.replace(record, tier_name=tier.name, rank=tier.rank)
    )


def assignment_ends(
    program: TierProgram, assignment: Assignment, enrolled_at: datetime
) -> datetime | None:
    return assignment_end(
        program.config, assignment, zone=ZoneInfo(program.time_zone), enrolled_at=enrolled_at
    )


async def membership_floor(
    conn: BaseDBAsyncClient, program: TierProgram, member_id: int, now: datetime
) -> tuple[int, datetime | None]:
    """The highest tier the member's active memberships grant, and until when."""
    return floor_of_plans(program, await repository.active_plans(conn, member_id, now))


def floor_of_plans(
    program: TierProgram, plans: Iterable[ActivePlan]
) -> tuple[int, datetime | None]:
    """The highest tier of these active memberships' plans, and until when it holds."""
    rank_of = {tier.id: tier.rank for tier in program.tiers}
    floor_rank, floor_until = NO_TIER, None
    for plan in plans:
        if plan.tier_id is None or plan.tier_id not in rank_of:
            continue
        rank = rank_of[plan.tier_id]
        if rank > floor_rank or (
            rank == floor_rank and floor_until is not None and plan.ends_at > floor_until
        ):
            floor_rank, floor_until = rank, plan.ends_at
    return floor_rank, floor_until


async def compute_standing(
    conn: BaseDBAsyncClient,
    program: TierProgram,
    member_id: int,
    enrolled_at: datetime,
    now: datetime,
    *,
    with_assignment: bool = True,
) -> Standing:
    """The member's tier from scratch: their history under the configuration in force, with
    the floor of their active paid memberships and (unless left out) their assignment."""
    history = await repository.contributions(conn, program.metric, program.currency, member_id)
    plans = await repository.active_plans(conn, member_id, now)
    assignment = await last_assignment(conn, program, member_id) if with_assignment else None
    return standing_of(program, history, plans, assignment, enrolled_at=enrolled_at, now=now)


def standing_of(
    program: TierProgram,
    history: list[Contribution],
    plans: Iterable[ActivePlan],
    assignment: AssignmentRecord | None,
    *,
    enrolled_at: datetime,
    now: datetime,
) -> Standing:
    """`compute_standing` from what was read of the member (an assignment of an active tier)."""
    floor_rank, floor_until = floor_of_plans(program, plans)
    return standing(
        program.config,
        history,
        enrolled_at=enrolled_at,
        now=now,
        zone=ZoneInfo(program.time_zone),
        floor_rank=floor_rank,
        floor_until=floor_until,
        assignment=None if assignment is None else assignment.domain,
    )


def _implicit_tier(program: TierProgram) -> TierRecord | None:
    """What a member never evaluated holds: the tier a value of 0 reaches (a free base tier)."""
    return program.tiers[0] if program.tiers[0].threshold == 0 else None


def tier_of_stored(program: TierProgram, stored: StoredTier | None) -> TierRecord | None:
    """The tier a member's stored state holds (a member never evaluated: the implicit one)."""
    if stored is None:
        return _implicit_tier(program)
    return next((tier for tier in program.tiers if tier.id == stored.tier_id), None)


async def current_tier(
    conn: BaseDBAsyncClient, program: TierProgram, member_id: int
) -> TierRecord | None:
    """The tier the member holds as stored."""
    return tier_of_stored(program, await repository.stored_tier(conn, member_id))


async def stored_tier_name(
    conn: BaseDBAsyncClient, program: TierProgram, member_id: int
) -> str | None:
    """The tier the member holds as stored (for checks and the property test)."""
    stored = await repository.stored_tier(conn, member_id)
    if stored is None:
        implicit = _implicit_tier(program)
        return None if implicit is None else implicit.name
    return stored.name


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
    member = await repository.member(conn, member_id, lock=True)
    if member is None:
        raise DomainError(ErrorCode.MEMBER_NOT_FOUND, f"no member {member_id}")
    result = await compute_standing(conn, program, member_id, member.enrolled_at, now)
    stored = await repository.stored_tier(conn, member_id)
    target = None if result.rank == NO_TIER else program.tiers[result.rank]
    target_id = None if target is None else target.id
    if stored is None:
        current = _implicit_tier(program)
        current_id, from_name = (None, None) if current is None else (current.id, current.name)
    else:
        current_id, from_name = stored.tier_id, stored.name
    if current_id == target_id:
        if stored is None:
            # A free base tier is held since enrolment; no tier, since now.
            since = member.enrolled_at if target is not None else now
            await repository.insert_stored_tier(
                conn,
                program,
                member_id,
                target_id,
                since=since,
                review_at=result.review_at,
                now=now,
            )
        else:
            await repository.update_review(conn, program, member_id, result.review_at, now)
        return TierOutcome(changed=False, from_tier=from_name, to_tier=from_name)
    if stored is None:
        await repository.insert_stored_tier(
            conn, program, member_id, target_id, since=now, review_at=result.review_at, now=now
        )
    else:
        await repository.move_stored_tier(
            conn, program, member_id, target_id, result.review_at, now
        )
    if reason is TierChangeReason.PERIOD_END and await _assignment_ended(
        conn, program, member, now, stored
    ):
        reason = TierChangeReason.ASSIGNMENT_ENDED
    change = TierChangeRecord(
        from_tier=from_name,
        to_tier=None if target is None else target.name,
        reason=reason,
        at=now,
        note=note,
    )
    await _record_change(conn, program, member_id, change)
    if target is not None:
        await _grant_entry_reward(conn, program, member_id, target, now)
    return TierOutcome(changed=True, from_tier=change.from_tier, to_tier=change.to_tier)


async def _record_change(
    conn: BaseDBAsyncClient, program: TierProgram, member_id: int, change: TierChangeRecord
) -> None:
    await repository.insert_change(conn, program.program_id, member_id, change)
    await append_event(
        conn,
        program_id=program.program_id,
        member_id=member_id,
        event_type="tier.changed",
        payload={
            "memberId": encode_id("Member", member_id),
            "fromTier": change.from_tier,
            "toTier": change.to_tier,
            "direction": _direction(program, change),
            "reason": change.reason.value,
            "note": change.note,
        },
        now=change.at,
    )


def _direction(program: TierProgram, change: TierChangeRecord) -> str:
    """UP or DOWN, by the tiers' order now (a tier renamed or retired since ranks lowest)."""
    ranks = {tier.name: tier.rank for tier in program.tiers}

    def rank(name: str | None) -> int:
        return -1 if name is None else ranks.get(name, -1)

    return "UP" if rank(change.to_tier) > rank(change.from_tier) else "DOWN"


async def _assignment_ended(
    conn: BaseDBAsyncClient,
    program: TierProgram,
    member: TierMember,
    now: datetime,
    stored: StoredTier | None,
) -> bool:
    """Whether the review due now is the end of the member's manual assignment (the instant
    the job was asked to come back at)."""
    if stored is None or stored.review_at is None:
        return False
    assignment = await last_assignment(conn, program, member.id)
    if assignment is None:
        return False
    end = assignment_ends(program, assignment.domain, member.enrolled_at)
    return end is not None and end <= now and end == stored.review_at


async def _grant_entry_reward(
    conn: BaseDBAsyncClient, program: TierProgram, member_id: int, tier: TierRecord, now: datetime
) -> None:
    """The tier's entry reward, the first time ever the member enters it (a tier left and
    entered again gives nothing more)."""
    if tier.entry_points == 0 and tier.entry_reward_id is None:
        return
    grant_id = await repository.claim_entry_grant(conn, member_id, tier, now)
    if grant_id is None:
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
        await repository.record_entry_reward(
            conn,
            grant_id,
            redemption_id=None if isinstance(given, RewardUnavailable) else given.redemption_id,
            failure=given.value if isinstance(given, RewardUnavailable) else None,
        )


async def multiplier_of(
    conn: BaseDBAsyncClient, tier: TierRecord | None, member_id: int, now: datetime
) -> Decimal | None:
    """The higher of the tier's and the member's active paid memberships' earning multipliers
    (they do not compound)."""
    multipliers = [
        plan.earn_multiplier
        for plan in await repository.active_plans(conn, member_id, now)
        if plan.earn_multiplier is not None
    ]
    if tier is not None and tier.earn_multiplier is not None:
        multipliers.append(tier.earn_multiplier)
    return max(multipliers) if multipliers else None
