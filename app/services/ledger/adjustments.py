"""Manual adjustments by staff: goodwill credits and corrections, always with a reason."""

from __future__ import annotations

from dataclasses import dataclass

from app.db import in_transaction, utc_now
from app.domain.errors import ErrorCode
from app.domain.ledger import Account, TransactionKind
from app.domain.money import MAX_POINTS_PER_MOVEMENT
from app.domain.validation import IDEMPOTENCY_KEY_MAX, REASON_MAX, Checker
from app.services.core import idempotency
from app.services.ledger.service import Movement, post_movement
from app.services.members.service import MemberRecord, require_member
from app.services.programs.service import ProgramScope

_OPERATION = "adjustPoints"


@dataclass(frozen=True)
class AdjustPointsInput:
    member_id: int
    points: int
    reason: str
    idempotency_key: str


@dataclass(frozen=True)
class Adjustment:
    member: MemberRecord
    transaction_id: int
    replayed: bool


async def adjust_points(data: AdjustPointsInput, scope: ProgramScope) -> Adjustment:
    check = Checker()
    reason = check.text(["input", "reason"], data.reason, REASON_MAX)
    check.text(["input", "idempotencyKey"], data.idempotency_key, IDEMPOTENCY_KEY_MAX)
    if data.points == 0 or abs(data.points) > MAX_POINTS_PER_MOVEMENT:
        check.add(
            ErrorCode.INVALID_POINTS,
            f"points must be non-zero and at most {MAX_POINTS_PER_MOVEMENT} either way",
            ["input", "points"],
        )
    check.raise_if_any()
    assert reason is not None
    member = await require_member(data.member_id, scope)
    fingerprint = idempotency.request_fingerprint(
        _OPERATION, {"memberId": member.id, "points": data.points, "reason": reason}
    )
    now = utc_now()
    scope_key = str(member.program_id)
    async with in_transaction() as conn:
        stored = await idempotency.claim(
            conn,
            scope=scope_key,
            key=data.idempotency_key,
            operation=_OPERATION,
            fingerprint=fingerprint,
            now=now,
        )
        if stored is None:
            posted = await post_movement(
                conn,
                Movement(
                    program_id=member.program_id,
                    member_id=member.id,
                    kind=TransactionKind.ADJUST,
                    points=data.points,
                    counter_account=Account.PROGRAM_ADJUSTED,
                    description=reason,
                    shortfall_code=ErrorCode.BALANCE_WOULD_BE_NEGATIVE,
                ),
                now,
            )
            transaction_id = posted.transaction_id
            await idempotency.store_response(
                conn,
                scope=scope_key,
                key=data.idempotency_key,
                response={"transactionId": transaction_id},
            )
        else:
            transaction_id = int(stored["transactionId"])
    refreshed = await require_member(member.id, scope)
    return Adjustment(member=refreshed, transaction_id=transaction_id, replayed=stored is not None)
