"""Members opting out of earning points, and back in.

An opted-out member keeps every balance and may still redeem; only earning stops: orders are
recorded with no points (their breakdown says MEMBER_OPTED_OUT) and actions are refused. Setting
the state the member is already in changes nothing and writes no event; opting out again keeps
the first opt-out time.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any

from tortoise.backends.base.client import BaseDBAsyncClient

from app.db import fetch_one, in_transaction, utc_now
from app.domain.ids import encode_id
from app.domain.validation import Checker
from app.services.core.events import append_event
from app.services.core.idempotency import IdempotentRequest, run_once
from app.services.members.service import MemberRecord, get_member, require_member
from app.services.programs.service import ProgramScope

_OPERATION = "setMemberOptOut"


@dataclass(frozen=True)
class SetMemberOptOutInput:
    member_id: int
    opted_out: bool
    idempotency_key: str | None = None


async def set_member_opt_out(data: SetMemberOptOutInput, scope: ProgramScope) -> MemberRecord:
    check = Checker()
    if data.idempotency_key is not None:
        check.idempotency_key(data.idempotency_key)
    check.raise_if_any()
    member = await require_member(data.member_id, scope)
    now = utc_now()
    async with in_transaction() as conn:

        async def perform() -> None:
            await _set_opt_out(conn, member, data.opted_out, now)

        if data.idempotency_key is None:
            await perform()
        else:
            request = IdempotentRequest.for_member(
                member, key=data.idempotency_key, operation=_OPERATION, optedOut=data.opted_out
            )
            await run_once(
                conn,
                request,
                now=now,
                perform=perform,
                remember=lambda _: {"memberId": member.id},
                replay=_nothing_to_replay,
            )
    updated = await get_member(member.id, scope)
    assert updated is not None
    return updated


async def _nothing_to_replay(stored: dict[str, Any]) -> None:
    """A replay answers with the member as it is now, like the first answer did."""


async def _set_opt_out(
    conn: BaseDBAsyncClient, member: MemberRecord, opted_out: bool, now: datetime
) -> None:
    if opted_out:
        changed = await fetch_one(
            conn,
            "UPDATE members SET opted_out_at = ? WHERE id = ? AND opted_out_at IS NULL"
            " RETURNING id",
            (now, member.id),
        )
    else:
        changed = await fetch_one(
            conn,
            "UPDATE members SET opted_out_at = NULL WHERE id = ? AND opted_out_at IS NOT NULL"
            " RETURNING id",
            (member.id,),
        )
    if changed is not None:
        await append_event(
            conn,
            program_id=member.program_id,
            member_id=member.id,
            event_type="member.opted_out" if opted_out else "member.opted_in",
            payload={"memberId": encode_id("Member", member.id)},
            now=now,
        )
