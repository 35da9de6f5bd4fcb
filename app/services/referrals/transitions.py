"""A referral's moves to HELD and REJECTED, and the events that announce every change.

Each event is `referral.<what>` for the referrer, with the referral's ids and state.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from tortoise.backends.base.client import BaseDBAsyncClient

from app.domain.ids import encode_id
from app.domain.referrals import HoldReason, ReferralState, RejectionReason
from app.services.core.events import append_event
from app.services.referrals import repository
from app.services.referrals.records import ReferralRecord


async def announce(
    conn: BaseDBAsyncClient, referral: ReferralRecord, event_type: str, now: datetime, **extra: Any
) -> None:
    friend_id = referral.friend_id
    friend = {} if friend_id is None else {"friendId": encode_id("Member", friend_id)}
    await append_event(
        conn,
        program_id=referral.program_id,
        member_id=referral.referrer_id,
        event_type=event_type,
        payload={
            "referralId": encode_id("Referral", referral.id),
            "referrerId": encode_id("Member", referral.referrer_id),
            **friend,
            "state": referral.state.value,
            **extra,
        },
        now=now,
    )


async def hold(
    conn: BaseDBAsyncClient, referral: ReferralRecord, reason: HoldReason, now: datetime
) -> ReferralRecord:
    held = await repository.update_referral(
        conn, referral.id, state=ReferralState.HELD, hold_reason=reason, held_at=now
    )
    await announce(conn, held, "referral.held", now, reason=reason.value)
    return held


async def reject(
    conn: BaseDBAsyncClient,
    referral_id: int,
    reason: RejectionReason,
    now: datetime,
    *,
    only_in: ReferralState | None = None,
    **review: Any,
) -> ReferralRecord | None:
    """Reject the referral if it is in `only_in` (any state if None); `review` is the note and
    moment of an admin's rejection."""
    rejected = await repository.update_referral_in(
        conn,
        referral_id,
        only_in,
        state=ReferralState.REJECTED,
        rejection_reason=reason,
        rejected_at=now,
        **review,
    )
    if rejected is not None:
        await announce(conn, rejected, "referral.rejected", now, reason=reason.value)
    return rejected
