"""A member's rights over their data: a copy of all of it (an access request) and erasure.

Erasure removes the personal data and keeps the numbers: the member row stays with its
balances and ledger (the program's liability and every report stay right, and `verify-ledger`
stays clean), under a customer id that no longer names anyone. The profile is cleared, the
member stops earning, what a referral recorded of them as the friend is removed, and the
customer id and e-mail are taken out of the member's events and of the bodies kept in the
webhook log. The store's own systems are the store's business; `member.erased` tells them.
"""

from __future__ import annotations

import json
from datetime import datetime
from typing import Any

from tortoise.backends.base.client import BaseDBAsyncClient

from app.db import (
    connection,
    execute,
    fetch_all,
    from_json,
    in_transaction,
    utc_now,
)
from app.domain.ids import encode_id
from app.services.core.events import append_event
from app.services.members.profile import get_profile, locked_profile, replace_search_terms
from app.services.members.service import MemberRecord, get_member, require_member
from app.services.programs.service import ProgramScope

# Keys of event payloads and webhook bodies that name the person.
_PERSONAL_KEYS = frozenset({"customerId", "email", "name", "friendEmail"})
_BATCH = 500


def erased_customer_id(member_id: int) -> str:
    return f"erased:{encode_id('Member', member_id)}"


async def erase_member(member_id: int, scope: ProgramScope) -> MemberRecord:
    """Erase the member's personal data; erasing again changes nothing."""
    member = await require_member(member_id, scope)
    now = utc_now()
    async with in_transaction() as conn:
        if (await locked_profile(conn, member.id)).erased_at is None:
            await _erase(conn, member, now)
    erased = await get_member(member.id, scope)
    assert erased is not None
    return erased


async def _erase(conn: BaseDBAsyncClient, member: MemberRecord, now: datetime) -> None:
    await execute(
        conn,
        "UPDATE members SET customer_id = ?, email = NULL, email_lower = NULL, name = NULL,"
        " birthday = NULL, birthday_month_day = NULL, phone = NULL,"
        " locale = NULL, marketing_consent = ?, marketing_consent_at = NULL, tags = ?,"
        " attributes = ?, card_number = NULL, erased_at = ?,"
        " opted_out_at = COALESCE(opted_out_at, ?) WHERE id = ?",
        (erased_customer_id(member.id), False, "[]", "{}", now, now, member.id),
    )
    await replace_search_terms(conn, member.program_id, member.id, set())
    # The customer id on the member's orders, and on their orders as a guest, names them too.
    await execute(
        conn,
        "UPDATE orders SET customer_id = ? WHERE member_id = ?"
        " OR (program_id = ? AND customer_id = ? AND member_id IS NULL)",
        (erased_customer_id(member.id), member.id, member.program_id, member.customer_id),
    )
    await execute(
        conn,
        "UPDATE referrals SET friend_email = NULL, claim_email = NULL,"
        " friend_customer_id = NULL WHERE friend_id = ?",
        (member.id,),
    )
    await _scrub(conn, "outbox_events", "payload", member.id)
    await _scrub(conn, "webhook_deliveries", "body", member.id)
    await append_event(
        conn,
        program_id=member.program_id,
        member_id=member.id,
        event_type="member.erased",
        payload={"memberId": encode_id("Member", member.id)},
        now=now,
    )


async def _scrub(conn: BaseDBAsyncClient, table: str, column: str, member_id: int) -> None:
    """The member's rows of `table` without the keys that name them, anywhere in the JSON."""
    after = 0
    while True:
        rows = await fetch_all(
            conn,
            f"SELECT id, {column} AS doc FROM {table} WHERE member_id = ? AND id > ?"
            " ORDER BY id LIMIT ?",
            (member_id, after, _BATCH),
        )
        if not rows:
            return
        for row in rows:
            document = from_json(row["doc"])
            cleaned = _without_personal_keys(document)
            if cleaned != document:
                await execute(
                    conn,
                    f"UPDATE {table} SET {column} = ? WHERE id = ?",
                    (json.dumps(cleaned, separators=(",", ":")), int(row["id"])),
                )
        after = int(rows[-1]["id"])


def _without_personal_keys(value: Any) -> Any:
    if isinstance(value, dict):
        return {
            key: _without_personal_keys(item)
            for key, item in value.items()
            if key not in _PERSONAL_KEYS
        }
    if isinstance(value, list):
        return [_without_personal_keys(item) for item in value]
    return value


async def export_member_data(member_id: int, scope: ProgramScope) -> dict[str, Any]:
    """Everything Laurel holds of the member, as JSON: an answer to an access request."""
    member = await require_member(member_id, scope, ["memberId"])
    profile = await get_profile(member.id)
    return {
        "member": {
            "id": encode_id("Member", member.id),
            "customerId": member.customer_id,
            "enrolledAt": member.enrolled_at.isoformat(),
            "optedOutAt": None if member.opted_out_at is None else member.opted_out_at.isoformat(),
            "points": {
                "available": member.points_available,
                "pending": member.points_pending,
                "lifetimeEarned": member.lifetime_earned,
                "lifetimeRedeemed": member.lifetime_redeemed,
                "debt": member.points_debt,
            },
        },
        "profile": {
            "email": profile.email,
            "name": profile.name,
            "birthday": None if profile.birthday is None else profile.birthday.isoformat(),
            "phone": profile.phone,
            "locale": profile.locale,
            "marketingConsent": profile.marketing_consent,
            "marketingConsentAt": None
            if profile.marketing_consent_at is None
            else profile.marketing_consent_at.isoformat(),
            "tags": list(profile.tags),
            "attributes": profile.attributes,
            "cardNumber": profile.card_number,
            "erasedAt": None if profile.erased_at is None else profile.erased_at.isoformat(),
        },
        **{name: await _rows(statement, member.id) for name, statement in _EXPORTED.items()},
    }


_EXPORTED = {
    "activity": 'SELECT id, kind, points, description, order_ref AS "orderId",'
    ' created_at AS "createdAt" FROM ledger_transactions WHERE member_id = ? ORDER BY id',
    "orders": 'SELECT order_id AS "orderId", placed_at AS "placedAt", currency,'
    ' total_minor AS "totalMinor", refunded_minor AS "refundedMinor", status,'
    ' points_earned AS "pointsEarned" FROM orders WHERE member_id = ? ORDER BY id',
    "redemptions": 'SELECT r.name AS reward, d.points_spent AS "pointsSpent", d.status,'
    ' d.created_at AS "createdAt", d.used_at AS "usedAt" FROM redemptions d'
    " JOIN rewards r ON r.id = d.reward_id WHERE d.member_id = ? ORDER BY d.id",
    "tierChanges": 'SELECT from_tier AS "fromTier", to_tier AS "toTier", reason,'
    " at FROM tier_changes WHERE member_id = ? ORDER BY id",
}


async def _rows(statement: str, member_id: int) -> list[Any]:
    rows = await fetch_all(connection(), statement, (member_id,))
    return [
        {
            key: value.isoformat() if isinstance(value, datetime) else value
            for key, value in row.items()
        }
        for row in rows
    ]
