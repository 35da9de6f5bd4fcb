"""The events a referral's changes append to the outbox, all in one shape."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from tortoise.backends.base.client import BaseDBAsyncClient

from app.domain.ids import encode_id
from app.services.core.events import append_event
from app.services.referrals.records import ReferralRecord


async def announce(
    conn: BaseDBAsyncClient, referral: ReferralRecord, event_type: str, now: datetime, **extra: Any
) -> None:
    """Append `referral.<what>` for the referrer, with the referral's ids and state."""
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
