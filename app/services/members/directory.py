"""Finding members: one by what a channel knows of them (the store's customer id, an e-mail,
a phone number, a loyalty card a till scans), and the staff's list with filters.

Every lookup and filter is answered from an index that begins with the program: customer id
and card number are unique in a program, the e-mail is looked up lowercased (`email_lower`),
and the search finds a prefix of a `member_search_terms` row (each word of the name, the
e-mail, the customer id, the card number and the phone, lowercased), which a B-tree serves on
both databases (migration 0017 gives it the operator class or collation each needs). Pages are
keyset pages by member id.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from datetime import datetime
from enum import StrEnum
from typing import Any

from app.db import connection, is_postgres, quick_read
from app.domain.errors import DomainError, ErrorCode
from app.domain.member_profile import normalised_phone
from app.domain.orders import OrderChannel
from app.domain.validation import TEXT_MAX, Checker, is_lookup_text
from app.services.members.profile import SEARCH_TERM_MAX
from app.services.members.service import MEMBER_COLUMNS, MemberRecord, member_row


class LookupBy(StrEnum):
    CUSTOMER_ID = "CUSTOMER_ID"
    EMAIL = "EMAIL"
    PHONE = "PHONE"
    CARD_NUMBER = "CARD_NUMBER"


_LOOKUP_WHERE = {
    LookupBy.CUSTOMER_ID: "customer_id = ?",
    LookupBy.EMAIL: "email_lower = ?",
    LookupBy.PHONE: "phone = ?",
    LookupBy.CARD_NUMBER: "card_number = ?",
}
# A shared e-mail or phone (a family's) may belong to several members: a lookup shows them all.
LOOKUP_LIMIT = 20


async def look_up_members(program_id: int, by: LookupBy, value: str) -> list[MemberRecord]:
    """The members `value` names, oldest first; none for a value no member could have."""
    key = value.strip()
    if by is LookupBy.EMAIL:
        key = key.lower()
    elif by is LookupBy.PHONE:
        key = normalised_phone(key)
    if not key or not is_lookup_text(key):
        return []
    rows = await quick_read(
        f"SELECT {MEMBER_COLUMNS} FROM members WHERE program_id = ? AND {_LOOKUP_WHERE[by]}"
        " AND erased_at IS NULL ORDER BY id LIMIT ?",
        (program_id, key, LOOKUP_LIMIT),
    )
    return [member_row(row) for row in rows]


class MemberOrder(StrEnum):
    NEWEST_FIRST = "NEWEST_FIRST"
    OLDEST_FIRST = "OLDEST_FIRST"
    # By balance, then newest first among equals.
    MOST_POINTS = "MOST_POINTS"
    FEWEST_POINTS = "FEWEST_POINTS"
    # By points earned over the member's life (the program's best customers).
    MOST_EARNED = "MOST_EARNED"


# The column an order sorts by before the id, and whether it runs high to low.
SORT_COLUMN = {
    MemberOrder.MOST_POINTS: ("points_available", True),
    MemberOrder.FEWEST_POINTS: ("points_available", False),
    MemberOrder.MOST_EARNED: ("lifetime_earned", True),
}


@dataclass(frozen=True)
class MemberFilter:
    """Every condition given must hold. `search` matches the start of a customer id, a card
    number, a phone, an e-mail or any word of a name, whatever the case."""

    search: str | None = None
    tier: str | None = None
    # A segment's key: members in it as `segment_members` keeps them.
    segment: str | None = None
    tag: str | None = None
    points_at_least: int | None = None
    points_at_most: int | None = None
    enrolled_after: datetime | None = None
    enrolled_before: datetime | None = None
    # Members with an order placed at or after this; members who have ordered but not since.
    last_order_after: datetime | None = None
    last_order_before: datetime | None = None
    # Members with an order placed through this channel.
    channel: OrderChannel | None = None
    opted_out: bool | None = None
    include_erased: bool = False


def check_filter(member_filter: MemberFilter) -> None:
    check = Checker()
    check.text(["filter", "search"], member_filter.search, TEXT_MAX, required=False)
    check.text(["filter", "tier"], member_filter.tier, TEXT_MAX, required=False)
    check.text(["filter", "tag"], member_filter.tag, TEXT_MAX, required=False)
    check.text(["filter", "segment"], member_filter.segment, TEXT_MAX, required=False)
    for field, moment in (
        ("enrolledAfter", member_filter.enrolled_after),
        ("enrolledBefore", member_filter.enrolled_before),
        ("lastOrderAfter", member_filter.last_order_after),
        ("lastOrderBefore", member_filter.last_order_before),
    ):
        if moment is not None and moment.tzinfo is None:
            check.add(
                ErrorCode.INVALID_VALUE,
                f"{field} needs a time zone, e.g. 2026-11-20T10:00:00Z",
                ["filter", field],
            )
    check.raise_if_any()


def _escaped_prefix(text: str) -> str:
    return text.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_") + "%"


def _conditions(
    program_id: int, member_filter: MemberFilter, postgres: bool
) -> tuple[list[str], list[Any]]:
    where: list[str] = []
    params: list[Any] = []
    if not member_filter.include_erased:
        where.append("m.erased_at IS NULL")
    search = (member_filter.search or "").strip()
    if search:
        # One index: the terms hold every word searched (the profile keeps them). An OR of
        # several indexes made PostgreSQL walk every member (4.6 s), and a UNION of them sort
        # every match of a common prefix (179 ms among 1,000,000: scripts/bench-members).
        text = normalised_phone(search) if search.startswith("+") else search.lower()
        where.append(
            "m.id IN (SELECT member_id FROM member_search_terms"
            " WHERE program_id = ? AND term LIKE ? ESCAPE '\\')"
        )
        params += [program_id, _escaped_prefix(text[:SEARCH_TERM_MAX])]
    if member_filter.tier is not None:
        where.append(
            "EXISTS (SELECT 1 FROM member_tiers mt JOIN tiers t ON t.id = mt.tier_id"
            " WHERE mt.member_id = m.id AND t.name = ?)"
        )
        params.append(member_filter.tier.strip())
    if member_filter.segment is not None:
        where.append(
            "EXISTS (SELECT 1 FROM segment_members sm JOIN segments s ON s.id = sm.segment_id"
            " WHERE sm.member_id = m.id AND s.program_id = ? AND s.key = ?"
            " AND s.archived_at IS NULL)"
        )
        params += [program_id, member_filter.segment.strip()]
    if member_filter.tag is not None:
        # Tags are a JSON array of lowercase strings.
        tag = member_filter.tag.strip().lower()
        if postgres:
            where.append("m.tags @> CAST(? AS JSONB)")
            params.append(json.dumps([tag]))
        else:
            where.append("EXISTS (SELECT 1 FROM json_each(m.tags) WHERE json_each.value = ?)")
            params.append(tag)
    if member_filter.points_at_least is not None:
        where.append("m.points_available >= ?")
        params.append(member_filter.points_at_least)
    if member_filter.points_at_most is not None:
        where.append("m.points_available <= ?")
        params.append(member_filter.points_at_most)
    if member_filter.enrolled_after is not None:
        where.append("m.enrolled_at >= ?")
        params.append(member_filter.enrolled_after)
    if member_filter.enrolled_before is not None:
        where.append("m.enrolled_at < ?")
        params.append(member_filter.enrolled_before)
    if member_filter.last_order_after is not None:
        where.append(
            "EXISTS (SELECT 1 FROM orders o WHERE o.member_id = m.id AND o.placed_at >= ?)"
        )
        params.append(member_filter.last_order_after)
    if member_filter.last_order_before is not None:
        where.append(
            "EXISTS (SELECT 1 FROM orders o WHERE o.member_id = m.id)"
            " AND NOT EXISTS (SELECT 1 FROM orders o WHERE o.member_id = m.id"
            " AND o.placed_at >= ?)"
        )
        params.append(member_filter.last_order_before)
    if member_filter.channel is not None:
        where.append("EXISTS (SELECT 1 FROM orders o WHERE o.member_id = m.id AND o.channel = ?)")
        params.append(member_filter.channel.value)
    if member_filter.opted_out is not None:
        where.append(
            "m.opted_out_at IS NOT NULL" if member_filter.opted_out else "m.opted_out_at IS NULL"
        )
    return where, params


async def list_members(
    program_id: int,
    member_filter: MemberFilter,
    order: MemberOrder,
    *,
    after: int | tuple[int, int] | None,
    limit: int,
) -> list[MemberRecord]:
    """A page of members: `after` is the last member's id, or for a sort by a value the pair
    (value, id) of the last member seen."""
    where, params = _conditions(program_id, member_filter, is_postgres(connection()))
    sort = SORT_COLUMN.get(order)
    if sort is None:
        newest_first = order is MemberOrder.NEWEST_FIRST
        if after is not None:
            where.append("m.id < ?" if newest_first else "m.id > ?")
            params.append(after if isinstance(after, int) else after[1])
        ordering = f"m.id {'DESC' if newest_first else 'ASC'}"
    else:
        column, high_first = sort
        if after is not None:
            value, member_id = (0, after) if isinstance(after, int) else after
            # Ties on the value run newest first, whichever way the value runs.
            where.append(
                f"(m.{column} {'<' if high_first else '>'} ? OR (m.{column} = ? AND m.id < ?))"
            )
            params += [value, value, member_id]
        ordering = f"m.{column} {'DESC' if high_first else 'ASC'}, m.id DESC"
    columns = ", ".join(f"m.{column.strip()}" for column in MEMBER_COLUMNS.split(","))
    rows = await quick_read(
        f"SELECT {columns} FROM members m WHERE m.program_id = ?"
        + "".join(f" AND {condition}" for condition in where)
        + f" ORDER BY {ordering} LIMIT ?",
        (program_id, *params, limit),
    )
    return [member_row(row) for row in rows]


def require_one_lookup(values: dict[LookupBy, str | None]) -> tuple[LookupBy, str]:
    given = [(by, value) for by, value in values.items() if value is not None]
    if len(given) != 1:
        raise DomainError(
            ErrorCode.INVALID_VALUE,
            "give exactly one of customerId, email, phone and cardNumber",
            ["customerId"],
        )
    return given[0]
