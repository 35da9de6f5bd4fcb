"""Manual adjustments by staff: goodwill credits and corrections, always with a reason.

The reason is the staff's own note: it is kept in the `points.adjusted` event and the audit
log, which only admin keys read. The member sees the adjustment's `description` in their
activity (a neutral default when staff give none)."""

from __future__ import annotations

from dataclasses import dataclass

from app.db import in_transaction, utc_now
from app.domain.errors import ErrorCode
from app.domain.ledger import Account, TransactionKind
from app.domain.money import MAX_POINTS_PER_MOVEMENT
from app.domain.validation import REASON_MAX, Checker
from app.services.core.idempotency import IdempotentRequest, run_once_keeping
from app.services.ledger.service import Movement, post_movement
from app.services.members.service import MemberRecord, require_member
from app.services.programs.service import ProgramScope

_OPERATION = "adjustPoints"
# What a member reads of an adjustment staff did not describe for them.
MEMBER_DESCRIPTION = "Points adjusted by the store"


@dataclass(frozen=True)
class AdjustPointsInput:
    member_id: int
    points: int
    reason: str
    idempotency_key: str
    description: str | None = None


@dataclass(frozen=True)
class Adjustment:
    member: MemberRecord
    transaction_id: int
    replayed: bool


async def adjust_points(data: AdjustPointsInput, scope: ProgramScope) -> Adjustment:
    check = Checker()
    reason = check.text(["input", "reason"], data.reason, REASON_MAX)
    description = (
        check.text(["input", "description"], data.description, REASON_MAX, required=False)
        or MEMBER_DESCRIPTION
    )
    check.idempotency_key(data.idempotency_key)
    if data.points == 0 or abs(data.points) > MAX_POINTS_PER_MOVEMENT:
        check.add(
            ErrorCode.INVALID_POINTS,
            f"points must be non-zero and at most {MAX_POINTS_PER_MOVEMENT} either way",
            ["input", "points"],
        )
    check.raise_if_any()
    assert reason is not None
    member = await require_member(data.member_id, scope)
    request = IdempotentRequest.for_member(
        member,
        key=data.idempotency_key,
        operation=_OPERATION,
        points=data.points,
        reason=reason,
        description=description,
    )
    now = utc_now()
    async with in_transaction() as conn:

        async def perform() -> int:
            posted = await post_movement(
                conn,
                Movement(
                    program_id=member.program_id,
                    member_id=member.id,
                    kind=TransactionKind.ADJUST,
                    points=data.points,
                    counter_account=Account.PROGRAM_ADJUSTED,
                    description=description,
                    event_details={"staffNote": reason},
                    shortfall_code=ErrorCode.BALANCE_WOULD_BE_NEGATIVE,
                    asked_by=("input", "points"),
                ),
                now,
            )
            return posted.transaction_id

        outcome = await run_once_keeping(
            conn, request, now=now, perform=perform, keep_as="transactionId"
        )
    refreshed = await require_member(member.id, scope)
    return Adjustment(member=refreshed, transaction_id=outcome.value, replayed=outcome.replayed)
