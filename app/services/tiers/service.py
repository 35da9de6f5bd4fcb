"""Tiers: the configuration, a member's tier kept equal to what their history says, and what a
tier gives (earning multiplier, reward discount and access, entry reward).

The rules are in app/domain/tiers.py; evaluating a member in app/services/tiers/evaluation.py;
the configuration in app/services/tiers/configuration.py; rows in
app/services/tiers/repository.py. This module holds the use cases the API, the jobs and other
capabilities call.

Hooks call `on_member_activity` in their own transaction (orders, refunds, referral success);
the `tiers` job reviews members whose tier can change with time (period ends, grace ends,
activity leaving a rolling window) and the `tiers-recalculate` job brings everyone to a changed
configuration. Until that job has finished, a member's stored tier may be under the old rules;
any activity of theirs re-evaluates them under the new ones at once.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Iterable, Sequence
from dataclasses import dataclass
from datetime import datetime
from decimal import Decimal
from typing import Any

from tortoise.backends.base.client import BaseDBAsyncClient

from app.db import connection, in_transaction, utc_now
from app.domain.earning import MemberAttributes
from app.domain.errors import DomainError, ErrorCode
from app.domain.ids import encode_id
from app.domain.tiers import (
    NO_TIER,
    TIER_NAME_MAX,
    Contribution,
    DowngradePolicy,
    Standing,
    TierChangeReason,
    TierPeriod,
    discounted_cost,
    needed_for,
    rolling_needed_to_keep,
)
from app.domain.validation import Checker
from app.services.core.events import append_event
from app.services.core.idempotency import IdempotentRequest, run_once_by_id
from app.services.tiers import repository
from app.services.tiers.evaluation import (
    assignment_ends,
    assignment_of_active_tier,
    compute_standing,
    current_tier,
    evaluate_member,
    last_assignment,
    multiplier_of,
    standing_of,
    tier_of_stored,
)
from app.services.tiers.repository import (
    ActivePlan,
    AssignmentRecord,
    StoredTier,
    TierChangeRecord,
    TierMember,
    TierProgram,
    TierRecord,
    utc,
)


@dataclass(frozen=True)
class TierRewardTerms:
    """What a reward costs this member, and whether their tier may redeem it."""

    cost_points: int
    allowed: bool
    required_tiers: tuple[str, ...]


# --- reading the configuration ----------------------------------------------------------------


async def get_tier(tier_id: int, scope: int | None) -> TierRecord | None:
    """An active tier by id, within the caller's program (None: any program)."""
    found = await repository.active_tier(connection(), tier_id)
    if found is None or (scope is not None and found[0] != scope):
        return None
    return found[1]


async def tier_program_of(program_id: int) -> TierProgram | None:
    return await repository.tier_program(connection(), program_id)


# --- evaluating a member ----------------------------------------------------------------------


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
    program = await repository.tier_program(conn, program_id)
    if program is None:
        return
    await evaluate_member(conn, program, member_id, reason, now)


# --- what a tier gives ------------------------------------------------------------------------


async def member_tier(
    conn: BaseDBAsyncClient, program_id: int, member_id: int
) -> TierRecord | None:
    """The member's stored tier now (earned, granted or assigned); None without tiers."""
    program = await repository.tier_program(conn, program_id)
    return None if program is None else await current_tier(conn, program, member_id)


async def member_attributes(program_id: int, member_id: int) -> MemberAttributes:
    """What purchase earning needs of the member: their tier's name (tier-restricted rules) and
    the highest earning multiplier of their tier and active paid memberships (they do not
    compound)."""
    conn = connection()
    tier = await member_tier(conn, program_id, member_id)
    return MemberAttributes(
        tier=None if tier is None else tier.name,
        multiplier=await multiplier_of(conn, tier, member_id, utc_now()),
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
    tier = await member_tier(conn, program_id, member_id)
    return reward_terms_under(tier, required_tiers, cost_points)


def reward_terms_under(
    tier: TierRecord | None, required_tiers: Sequence[str], cost_points: int
) -> TierRewardTerms:
    """`reward_terms_for_member` once the member's tier is known: a list of rewards reads the
    tier once for all of them."""
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
    active = await repository.tier_names(conn, program_id)
    return [name for name in names if not active.get(name, False)]


async def member_multiplier(
    conn: BaseDBAsyncClient, program_id: int, member_id: int, now: datetime
) -> Decimal | None:
    """The member's earning multiplier now, in the caller's transaction: the higher of their
    tier's and their active paid memberships' (they do not compound). Applied to purchases (by
    the earning rules), actions and referral rewards; never to adjustments, tier or membership
    rewards."""
    tier = await member_tier(conn, program_id, member_id)
    return await multiplier_of(conn, tier, member_id, now)


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


async def _program_member(member_id: int, scope: int | None) -> tuple[TierMember, TierProgram]:
    conn = connection()
    member = await repository.member(conn, member_id, lock=False)
    if member is None or (scope is not None and member.program_id != scope):
        raise DomainError(ErrorCode.MEMBER_NOT_FOUND, "no such member", ["input", "memberId"])
    program = await repository.tier_program(conn, member.program_id)
    if program is None:
        raise DomainError(
            ErrorCode.TIER_NOT_FOUND, "the member's program has no tiers", ["input", "memberId"]
        )
    return member, program


async def _assignment_request(
    program: TierProgram,
    member_id: int,
    request: IdempotentRequest,
    now: datetime,
    perform: Callable[[BaseDBAsyncClient], Awaitable[AssignmentRecord]],
) -> AssignmentResult:
    """`perform` once per idempotency key, in a transaction; a replay answers the assignment
    the first request made or ended (as it is now)."""
    async with in_transaction() as conn:
        outcome = await run_once_by_id(
            conn,
            request,
            now=now,
            perform=lambda: perform(conn),
            remember_id_as="assignmentId",
            read=lambda assignment_id: repository.assignment(conn, assignment_id),
        )
    return AssignmentResult(
        member_id=member_id,
        program_id=program.program_id,
        assignment=outcome.value,
        replayed=outcome.replayed,
    )


def _request(
    program: TierProgram, key: str, operation: str, payload: dict[str, Any]
) -> IdempotentRequest:
    return IdempotentRequest.of(
        scope=str(program.program_id), key=key, operation=operation, payload=payload
    )


async def _assignment_event(
    conn: BaseDBAsyncClient,
    program: TierProgram,
    member_id: int,
    event_type: str,
    now: datetime,
    **details: Any,
) -> None:
    await append_event(
        conn,
        program_id=program.program_id,
        member_id=member_id,
        event_type=event_type,
        payload={"memberId": encode_id("Member", member_id), **details},
        now=now,
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
    check.idempotency_key(data.idempotency_key)
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
    locked = utc(data.locked_until)
    payload = {
        "memberId": data.member_id,
        "tierName": tier_name,
        "lockedUntil": None if locked is None else locked.isoformat(),
        "reason": reason,
    }

    async def assign(conn: BaseDBAsyncClient) -> AssignmentRecord:
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
        await repository.member(conn, member.id, lock=True)
        without = await compute_standing(
            conn, program, member.id, member.enrolled_at, now, with_assignment=False
        )
        if tier.rank < without.rank:
            raise DomainError(
                ErrorCode.TIER_BELOW_EARNED,
                f"the member holds {program.tiers[without.rank].name} without an assignment;"
                " an assignment is a floor and never takes a tier away",
                ["input", "tierName"],
            )
        assignment = await repository.assignment(
            conn,
            await repository.insert_assignment(
                conn,
                program_id=program.program_id,
                member_id=member.id,
                tier_id=tier.id,
                locked_until=locked,
                reason=reason,
                now=now,
            ),
        )
        await evaluate_member(conn, program, member.id, TierChangeReason.MANUAL, now, note=reason)
        holds_until = assignment_ends(program, assignment.domain, member.enrolled_at)
        await _assignment_event(
            conn,
            program,
            member.id,
            "tier.assigned",
            now,
            tier=tier.name,
            lockedUntil=payload["lockedUntil"],
            holdsUntil=None if holds_until is None else holds_until.isoformat(),
            reason=reason,
        )
        return assignment

    request = _request(program, data.idempotency_key, _ASSIGN, payload)
    return await _assignment_request(program, member.id, request, now, assign)


async def clear_member_tier_assignment(
    data: ClearAssignmentInput, scope: int | None
) -> AssignmentResult:
    """End the member's assignment in force now; the member falls (or stays) at once at what
    their history earns (history reason MANUAL with the admin's reason). Idempotent by key;
    TIER_ASSIGNMENT_NOT_FOUND when none is in force."""
    check = Checker()
    reason = check.text(["input", "reason"], data.reason, ASSIGNMENT_REASON_MAX)
    check.idempotency_key(data.idempotency_key)
    check.raise_if_any()
    assert reason is not None
    member, program = await _program_member(data.member_id, scope)
    now = utc_now()

    async def clear(conn: BaseDBAsyncClient) -> AssignmentRecord:
        await repository.member(conn, member.id, lock=True)
        current = await _assignment_in_force(conn, program, member, now)
        if current is None:
            raise DomainError(
                ErrorCode.TIER_ASSIGNMENT_NOT_FOUND,
                "the member has no tier assignment in force",
                ["input", "memberId"],
            )
        await repository.clear_assignment(conn, current.id, reason, now)
        await evaluate_member(conn, program, member.id, TierChangeReason.MANUAL, now, note=reason)
        await _assignment_event(
            conn,
            program,
            member.id,
            "tier.assignment_cleared",
            now,
            tier=current.tier_name,
            reason=reason,
        )
        return await repository.assignment(conn, current.id)

    request = _request(
        program, data.idempotency_key, _CLEAR, {"memberId": data.member_id, "reason": reason}
    )
    return await _assignment_request(program, member.id, request, now, clear)


async def _assignment_in_force(
    conn: BaseDBAsyncClient, program: TierProgram, member: TierMember, now: datetime
) -> AssignmentRecord | None:
    """The member's last assignment while it holds: not cleared, and not past its end."""
    return _holding(program, member, await last_assignment(conn, program, member.id), now)


def _holding(
    program: TierProgram, member: TierMember, last: AssignmentRecord | None, now: datetime
) -> AssignmentRecord | None:
    if last is None or last.cleared_at is not None:
        return None
    end = assignment_ends(program, last.domain, member.enrolled_at)
    return last if end is None or now < end else None


# --- the member's view ------------------------------------------------------------------------


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


def _needed_to_keep(
    program: TierProgram,
    history: list[Contribution],
    tier: TierRecord | None,
    result: Standing,
    now: datetime,
) -> tuple[int | None, datetime | None]:
    if tier is None or program.downgrade is DowngradePolicy.NEVER:
        return None, None
    if program.period in (TierPeriod.CALENDAR_YEAR, TierPeriod.ANNIVERSARY_YEAR):
        return needed_for(program.config.thresholds, tier.rank, result.value), result.period_end
    if program.period is not TierPeriod.ROLLING_12_MONTHS:
        return None, None
    return rolling_needed_to_keep(program.config, history, now, tier.rank)


def _shown_assignment(
    program: TierProgram, member: TierMember, last: AssignmentRecord | None, now: datetime
) -> AssignmentInForce | None:
    current = _holding(program, member, last, now)
    if current is None:
        return None
    return AssignmentInForce(
        tier_name=current.tier_name,
        assigned_at=current.assigned_at,
        locked_until=current.locked_until,
        holds_until=assignment_ends(program, current.domain, member.enrolled_at),
        reason=current.reason,
    )


def _perks(tier: TierRecord | None, plans: Iterable[ActivePlan]) -> tuple[str, ...]:
    perks = list(tier.perks) if tier is not None else []
    for plan in plans:
        for perk in plan.perks:
            if perk not in perks:
                perks.append(perk)
    return tuple(perks)


async def tier_status(program_id: int, member_id: int) -> TierStatus | None:
    """Where the member stands, computed now from their history; None when the program has no
    tiers. The stored tier is what is shown (the jobs and hooks keep it equal to the history)."""
    return (await tier_statuses(program_id, [member_id])).get(member_id)


async def tier_statuses(program_id: int, member_ids: Sequence[int]) -> dict[int, TierStatus]:
    """`tier_status` of many members of one program, by member id (those found): each kind of
    row read once for all of them, so a page of members costs what one member does."""
    conn = connection()
    program = await repository.tier_program(conn, program_id)
    if program is None:
        return {}
    members = await repository.members_of(conn, member_ids)
    found = list(members)
    if not found:
        return {}
    now = utc_now()
    histories = await repository.contributions_of(conn, program.metric, program.currency, found)
    plans = await repository.active_plans_of(conn, found, now)
    assignments = await repository.last_assignments_of(conn, found)
    stored = await repository.stored_tiers_of(conn, found)
    changes = await repository.recent_changes_of(conn, found)
    return {
        member_id: _status_of(
            program,
            member,
            histories.get(member_id, []),
            plans.get(member_id, []),
            assignment_of_active_tier(program, assignments.get(member_id)),
            stored.get(member_id),
            changes.get(member_id, []),
            now,
        )
        for member_id, member in members.items()
    }


async def tier_statuses_by_member(
    keys: Sequence[tuple[int, int]],
) -> dict[tuple[int, int], TierStatus]:
    """`tier_status` by (program, member): one `tier_statuses` per program among the keys (the
    `tier_status` loader; a page of members is of one program)."""
    by_program: dict[int, list[int]] = {}
    for program_id, member_id in keys:
        by_program.setdefault(program_id, []).append(member_id)
    found: dict[tuple[int, int], TierStatus] = {}
    for program_id, member_ids in by_program.items():
        for member_id, status in (await tier_statuses(program_id, member_ids)).items():
            found[program_id, member_id] = status
    return found


def _status_of(
    program: TierProgram,
    member: TierMember,
    history: list[Contribution],
    plans: list[ActivePlan],
    last: AssignmentRecord | None,
    stored: StoredTier | None,
    changes: list[TierChangeRecord],
    now: datetime,
) -> TierStatus:
    result = standing_of(program, history, plans, last, enrolled_at=member.enrolled_at, now=now)
    tier = tier_of_stored(program, stored)
    if program.recalculation_pending and (tier is None or tier.rank != result.rank):
        # The configuration changed and this member is not recalculated yet (the server does
        # it in the background, `tiers-recalculate`): answer what the new configuration makes
        # of their history, not the tier the old one gave them.
        tier = None if result.rank == NO_TIER else program.tiers[result.rank]
        provisional_since: datetime | None = program.updated_at
    else:
        provisional_since = None
    rank = NO_TIER if tier is None else tier.rank
    next_tier = program.tiers[rank + 1] if rank + 1 < len(program.tiers) else None
    needed_to_keep, needed_to_keep_by = _needed_to_keep(program, history, tier, result, now)
    return TierStatus(
        program=program,
        tier=tier,
        since=None
        if tier is None
        else provisional_since or (member.enrolled_at if stored is None else stored.since),
        holds_until=result.holds_until if tier is not None else None,
        value=result.value,
        period_start=result.period_start,
        period_end=result.period_end,
        next_tier=next_tier,
        needed_for_next=None
        if next_tier is None
        else needed_for(program.config.thresholds, rank + 1, result.value),
        needed_to_keep=needed_to_keep,
        history=tuple(changes),
        needed_to_keep_by=needed_to_keep_by,
        assignment=_shown_assignment(program, member, last, now),
        perks=_perks(tier, plans),
    )


# --- the jobs' units of work ------------------------------------------------------------------


async def review_member(
    program_id: int, member_id: int, reason: TierChangeReason, now: datetime
) -> bool:
    """One member re-evaluated in a transaction of its own; True when the tier changed."""
    async with in_transaction() as conn:
        program = await repository.tier_program(conn, program_id)
        if program is None:
            return False
        outcome = await evaluate_member(conn, program, member_id, reason, now)
    return outcome.changed


async def due_for_review(now: datetime, after_member_id: int, limit: int) -> list[tuple[int, int]]:
    return await repository.due_for_review(connection(), now, after_member_id, limit)


async def count_due_for_review(now: datetime) -> int:
    return await repository.count_due_for_review(connection(), now)


async def programs_to_recalculate() -> list[tuple[int, int, int | None]]:
    """(program id, version, cursor) of every program whose members are not all recalculated."""
    return await repository.programs_to_recalculate(connection())


async def members_after(program_id: int, after_member_id: int, limit: int) -> list[int]:
    return await repository.members_after(connection(), program_id, after_member_id, limit)


async def count_members(program_id: int, after_member_id: int) -> int:
    return await repository.count_members(connection(), program_id, after_member_id)


async def save_recalculation_cursor(
    program_id: int, version: int, member_id: int | None, *, done: bool
) -> None:
    """The recalculation's progress, kept only while the configuration is still `version` (a
    newer change restarts it from the first member)."""
    async with in_transaction() as conn:
        await repository.save_recalculation_cursor(conn, program_id, version, member_id, done=done)
